//! Price tables: the YAML file format, model lookup and what a call costs.
//!
//! ```yaml
//! currency: USD
//! models:
//!   gpt-4o: {input: 2.50, output: 10.00, cache_read: 1.25, source: "provider price page", as_of: 2026-11-01}
//!   gemini-2.5-pro:
//!     input: 1.25
//!     output: 10.00
//!     cache_read: 0.125
//!     long_context: {above_input_tokens: 200000, input: 2.50, output: 15.00, cache_read: 0.25}
//! aliases:
//!   - {match: '^my-gateway/(gpt-4o).*$', model: gpt-4o}
//! ```
//! Rates are per million tokens.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;

use crate::model_match::normalise;
use crate::usage::Usage;

/// The embedded table, `prices/default.yaml`.
pub const DEFAULT_PRICES_YAML: &str = include_str!("../prices/default.yaml");

const PER_TOKENS: f64 = 1_000_000.0;

/// Rates in the table's currency per million tokens. A missing cache rate
/// falls back to `input`, a missing reasoning rate to `output`; an explicit
/// 0 stays 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub input: f64,
    pub output: f64,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
    pub reasoning: Option<f64>,
}

impl Rates {
    pub fn cache_read(&self) -> f64 {
        self.cache_read.unwrap_or(self.input)
    }
    pub fn cache_write(&self) -> f64 {
        self.cache_write.unwrap_or(self.input)
    }
    pub fn reasoning(&self) -> f64 {
        self.reasoning.unwrap_or(self.output)
    }
}

/// A tier for long prompts: when a request's input exceeds
/// `above_input_tokens`, every rate of that request is the tier's (not
/// marginal pricing).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LongContext {
    pub above_input_tokens: u64,
    pub rates: Rates,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelPrice {
    pub rates: Rates,
    pub long_context: Option<LongContext>,
    /// Where the price came from, and when it was last checked there.
    pub source: Option<String>,
    pub as_of: Option<String>,
}

/// What one call cost, split by token class. `input` is uncached input
/// only; `output` excludes reasoning.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    pub total: f64,
    pub input: f64,
    pub cache_read: f64,
    pub cache_write: f64,
    pub output: f64,
    pub reasoning: f64,
    /// The long-context tier's rates were used.
    pub long_context: bool,
}

impl ModelPrice {
    /// The rates for a request with `input_tokens` of input (cache included).
    pub fn rates_for(&self, input_tokens: u64) -> (&Rates, bool) {
        match &self.long_context {
            Some(t) if input_tokens > t.above_input_tokens => (&t.rates, true),
            _ => (&self.rates, false),
        }
    }

    /// Each token class times its own rate. `u` must be normalised: cache
    /// reads and writes inside `input`, reasoning inside `output`.
    pub fn cost(&self, u: &Usage) -> Cost {
        let (r, long_context) = self.rates_for(u.input);
        let price = |tokens: u64, rate: f64| tokens as f64 * rate / PER_TOKENS;
        let input = price(u.uncached_input(), r.input);
        let cache_read = price(u.cache_read, r.cache_read());
        let cache_write = price(u.cache_write, r.cache_write());
        let output = price(u.non_reasoning_output(), r.output);
        let reasoning = price(u.reasoning, r.reasoning());
        Cost {
            total: input + cache_read + cache_write + output + reasoning,
            input,
            cache_read,
            cache_write,
            output,
            reasoning,
            long_context,
        }
    }
}

/// How a model id found its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Exact,
    Normalised,
    Alias,
}

#[derive(Debug, Clone, Copy)]
pub struct PriceMatch<'a> {
    /// The entry's name in the table: written as `gen_ai.cost.pricing_model`.
    pub model: &'a str,
    pub price: &'a ModelPrice,
    pub kind: MatchKind,
}

#[derive(Debug, Clone)]
struct Alias {
    re: Regex,
    /// The entry to use; may refer to captures (`$1`, `${name}`). Without
    /// it, the capture named `model`, else capture 1, names the entry.
    model: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PriceTable {
    currency: String,
    models: HashMap<String, ModelPrice>,
    /// Normalised id → entry name, for the second matching step.
    by_family: HashMap<String, String>,
    aliases: Vec<Alias>,
}

impl PriceTable {
    /// The table compiled into aiotel (`prices/default.yaml`).
    pub fn embedded() -> PriceTable {
        static TABLE: OnceLock<PriceTable> = OnceLock::new();
        TABLE
            .get_or_init(|| {
                PriceTable::from_yaml(DEFAULT_PRICES_YAML).unwrap_or_else(|e| panic!("prices/default.yaml: {e}"))
            })
            .clone()
    }

    /// Parses and checks a price file.
    pub fn from_yaml(s: &str) -> Result<PriceTable, String> {
        let raw: RawFile = serde_yaml_ng::from_str(s).map_err(|e| e.to_string())?;
        let currency = raw.currency.trim().to_string();
        if currency.is_empty() {
            return Err("currency must not be empty".into());
        }
        let mut models = HashMap::with_capacity(raw.models.len());
        for (name, m) in raw.models {
            if name.trim().is_empty() {
                return Err("models: an entry has an empty name".into());
            }
            let price = m.check().map_err(|e| format!("models.{name}.{e}"))?;
            models.insert(name, price);
        }
        let mut aliases = Vec::with_capacity(raw.aliases.len());
        for (i, a) in raw.aliases.into_iter().enumerate() {
            let re = Regex::new(&a.pattern).map_err(|e| format!("aliases[{i}].match: {e}"))?;
            if a.model.is_none() && re.captures_len() < 2 {
                return Err(format!("aliases[{i}]: without `model`, `match` needs a capture group naming the model"));
            }
            aliases.push(Alias { re, model: a.model });
        }
        let mut t = PriceTable { currency, models, by_family: HashMap::new(), aliases };
        t.index();
        Ok(t)
    }

    /// This table with `over`'s entries replacing or adding to its own,
    /// entry by entry; `over`'s aliases are tried first.
    pub fn overlay(mut self, over: PriceTable) -> Result<PriceTable, String> {
        if over.currency != self.currency {
            return Err(format!(
                "currency {} differs from the embedded table's {}; set include_default_prices: false",
                over.currency, self.currency
            ));
        }
        self.models.extend(over.models);
        let mut aliases = over.aliases;
        aliases.append(&mut self.aliases);
        self.aliases = aliases;
        self.index();
        Ok(self)
    }

    /// Aliases with a fixed `model` must name an entry: catches typos at load.
    pub fn check_aliases(&self) -> Result<(), String> {
        for a in &self.aliases {
            if let Some(m) = a.model.as_deref().filter(|m| !m.contains('$')) {
                if self.resolve(m).is_none() {
                    return Err(format!("alias `{}` names model `{m}`, which has no price", a.re.as_str()));
                }
            }
        }
        Ok(())
    }

    fn index(&mut self) {
        let mut names: Vec<&String> = self.models.keys().collect();
        names.sort();
        let mut by_family: HashMap<String, String> = HashMap::with_capacity(names.len());
        for name in names {
            let fam = normalise(name).into_owned();
            // An entry named exactly as the family wins; otherwise the first by name.
            let own = fam == *name;
            match by_family.entry(fam) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(name.clone());
                }
                std::collections::hash_map::Entry::Occupied(mut o) if own => {
                    o.insert(name.clone());
                }
                _ => {}
            }
        }
        self.by_family = by_family;
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }

    pub fn len(&self) -> usize {
        self.models.len()
    }

    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    pub fn has_aliases(&self) -> bool {
        !self.aliases.is_empty()
    }

    /// The entry named exactly `name`.
    pub fn get(&self, name: &str) -> Option<&ModelPrice> {
        self.models.get(name)
    }

    pub fn models(&self) -> impl Iterator<Item = (&str, &ModelPrice)> {
        self.models.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Finds the price of a model id: exact name, then normalised form
    /// (see [`crate::normalise_model`]), then the aliases in order (matched
    /// against the id as it arrived).
    pub fn lookup(&self, id: &str) -> Option<PriceMatch<'_>> {
        if let Some((model, price)) = self.models.get_key_value(id) {
            return Some(PriceMatch { model, price, kind: MatchKind::Exact });
        }
        if let Some((model, price)) = self.family(id) {
            return Some(PriceMatch { model, price, kind: MatchKind::Normalised });
        }
        self.aliases.iter().find_map(|a| {
            let caps = a.re.captures(id)?;
            let target: Cow<str> = match &a.model {
                Some(m) if m.contains('$') => {
                    let mut t = String::new();
                    caps.expand(m, &mut t);
                    Cow::Owned(t)
                }
                Some(m) => Cow::Borrowed(m),
                None => Cow::Borrowed(caps.name("model").or_else(|| caps.get(1))?.as_str()),
            };
            let (model, price) = self.resolve(&target)?;
            Some(PriceMatch { model, price, kind: MatchKind::Alias })
        })
    }

    fn family(&self, id: &str) -> Option<(&str, &ModelPrice)> {
        let name = self.by_family.get(normalise(id).as_ref())?;
        self.models.get_key_value(name.as_str()).map(|(k, v)| (k.as_str(), v))
    }

    fn resolve(&self, id: &str) -> Option<(&str, &ModelPrice)> {
        match self.models.get_key_value(id) {
            Some((k, v)) => Some((k.as_str(), v)),
            None => self.family(id),
        }
    }
}

fn usd() -> String {
    "USD".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default = "usd")]
    currency: String,
    #[serde(default)]
    models: BTreeMap<String, RawModel>,
    #[serde(default)]
    aliases: Vec<RawAlias>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    input: f64,
    output: f64,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    reasoning: Option<f64>,
    long_context: Option<RawTier>,
    source: Option<String>,
    as_of: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    above_input_tokens: u64,
    input: f64,
    output: f64,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    reasoning: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlias {
    #[serde(rename = "match")]
    pattern: String,
    model: Option<String>,
}

fn rates(input: f64, output: f64, cr: Option<f64>, cw: Option<f64>, rs: Option<f64>) -> Result<Rates, String> {
    for (field, v) in
        [("input", Some(input)), ("output", Some(output)), ("cache_read", cr), ("cache_write", cw), ("reasoning", rs)]
    {
        if let Some(v) = v {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("{field}: {v} is not a price (a number >= 0 per million tokens)"));
            }
        }
    }
    Ok(Rates { input, output, cache_read: cr, cache_write: cw, reasoning: rs })
}

impl RawModel {
    fn check(self) -> Result<ModelPrice, String> {
        let base = rates(self.input, self.output, self.cache_read, self.cache_write, self.reasoning)?;
        let long_context = match self.long_context {
            None => None,
            Some(t) => {
                if t.above_input_tokens == 0 {
                    return Err("long_context.above_input_tokens: must be > 0".into());
                }
                let r = rates(t.input, t.output, t.cache_read, t.cache_write, t.reasoning)
                    .map_err(|e| format!("long_context.{e}"))?;
                Some(LongContext { above_input_tokens: t.above_input_tokens, rates: r })
            }
        };
        Ok(ModelPrice { rates: base, long_context, source: self.source, as_of: self.as_of })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
currency: USD
models:
  gpt-4o: {input: 2.50, output: 10.00, cache_read: 1.25, source: "provider price page", as_of: 2026-11-01}
  gemini-2.5-pro:
    input: 1.25
    output: 10.00
    cache_read: 0.125
    long_context: {above_input_tokens: 200000, input: 2.50, output: 15.00, cache_read: 0.25}
aliases:
  - {match: '^my-gateway/(gpt-4o).*$', model: gpt-4o}
  - {match: '^corp-(?P<model>gemini-[0-9.]+-pro)$'}
"#;

    #[test]
    fn parses_the_documented_format() {
        let t = PriceTable::from_yaml(SAMPLE).unwrap();
        assert_eq!(t.currency(), "USD");
        let p = t.get("gpt-4o").unwrap();
        assert_eq!(p.as_of.as_deref(), Some("2026-11-01"));
        assert_eq!(p.source.as_deref(), Some("provider price page"));
        assert_eq!(p.rates.cache_write(), 2.50, "missing cache write rate falls back to input");
        assert_eq!(p.rates.reasoning(), 10.00, "missing reasoning rate falls back to output");
        let g = t.get("gemini-2.5-pro").unwrap();
        assert_eq!(g.rates_for(200_000).0.input, 1.25);
        assert_eq!(g.rates_for(200_001).0.input, 2.50);
    }

    #[test]
    fn lookup_order_exact_normalised_alias() {
        let t = PriceTable::from_yaml(SAMPLE).unwrap();
        assert_eq!(t.lookup("gpt-4o").unwrap().kind, MatchKind::Exact);
        let m = t.lookup("openai/gpt-4o-2024-08-06").unwrap();
        assert_eq!((m.model, m.kind), ("gpt-4o", MatchKind::Normalised));
        let m = t.lookup("my-gateway/gpt-4o-eu").unwrap();
        assert_eq!((m.model, m.kind), ("gpt-4o", MatchKind::Alias));
        let m = t.lookup("corp-gemini-2.5-pro").unwrap();
        assert_eq!((m.model, m.kind), ("gemini-2.5-pro", MatchKind::Alias));
        assert!(t.lookup("llama-unknown").is_none());
    }

    #[test]
    fn explicit_zero_is_kept() {
        let t = PriceTable::from_yaml("models: {m: {input: 1, output: 2, cache_write: 0}}").unwrap();
        assert_eq!(t.get("m").unwrap().rates.cache_write(), 0.0);
    }

    #[test]
    fn rejects_bad_files() {
        for (yaml, want) in [
            ("models: {m: {input: 1}}", "missing field `output`"),
            ("models: {m: {input: 1, output: 2, cached: 1}}", "unknown field `cached`"),
            ("models: {m: {input: -1, output: 2}}", "models.m.input"),
            ("models: {m: {input: 1, output: 2, long_context: {above_input_tokens: 0, input: 1, output: 2}}}", "above"),
            ("aliases: [{match: '('}]", "aliases[0].match"),
            ("aliases: [{match: 'x'}]", "capture group"),
            ("currency: ''", "currency"),
            ("models: [1, 2]", "models"),
        ] {
            let err = PriceTable::from_yaml(yaml).unwrap_err();
            assert!(err.contains(want), "{yaml}: {err}");
        }
    }

    #[test]
    fn overlay_replaces_entry_by_entry() {
        let base = PriceTable::embedded();
        let n = base.len();
        let user =
            PriceTable::from_yaml("models: {gpt-4o: {input: 9, output: 9}, my-model: {input: 1, output: 1}}").unwrap();
        let t = base.overlay(user).unwrap();
        assert_eq!(t.len(), n + 1);
        assert_eq!(t.get("gpt-4o").unwrap().rates.input, 9.0);
        assert!(t.get("gpt-4o").unwrap().rates.cache_read.is_none(), "the entry is replaced whole");
        assert_eq!(t.get("gpt-4o-mini").unwrap().rates.input, 0.15);
        let eur = PriceTable::from_yaml("currency: EUR").unwrap();
        assert!(PriceTable::embedded().overlay(eur).unwrap_err().contains("EUR"));
    }

    #[test]
    fn embedded_table_is_sound() {
        let t = PriceTable::embedded();
        t.check_aliases().unwrap();
        for (name, p) in t.models() {
            assert!(p.source.is_some() && p.as_of.is_some(), "{name} needs source and as_of");
        }
        // The reference values (genai-conventions.md section 4).
        let r = |m: &str| t.get(m).unwrap().rates;
        assert_eq!((r("gpt-4o").input, r("gpt-4o").cache_read(), r("gpt-4o").output), (2.50, 1.25, 10.00));
        assert_eq!(r("claude-sonnet-4-5").cache_write(), 3.75);
        assert_eq!(r("deepseek-chat").cache_write, Some(0.0));
        let g = t.get("gemini-2.5-pro").unwrap().long_context.unwrap();
        assert_eq!((g.above_input_tokens, g.rates.input, g.rates.output), (200_000, 2.50, 15.00));
    }
}
