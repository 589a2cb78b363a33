//! Finding token usage, model and provider in any GenAI dialect (OTel
//! current and deprecated, OpenInference, OpenLLMetry legacy), and
//! normalising the counts to one model so no token is counted twice.
//!
//! One pass over an item's attributes records the handful of keys of
//! interest by position; nothing is allocated.

use std::borrow::Cow;

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, KeyValue};

/// Token counts in one model: `cache_read` and `cache_write` are parts of
/// `input`; `reasoning` is part of `output`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub output: u64,
    pub reasoning: u64,
}

impl Usage {
    /// Input = uncached + cache read + cache write.
    pub fn uncached_input(&self) -> u64 {
        self.input.saturating_sub(self.cache_read).saturating_sub(self.cache_write)
    }
    pub fn non_reasoning_output(&self) -> u64 {
        self.output.saturating_sub(self.reasoning)
    }
    pub fn is_zero(&self) -> bool {
        self.input == 0 && self.output == 0
    }
}

/// The attribute keys read, one slot each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    ProviderName,
    GenAiSystem,
    LlmProvider,
    LlmSystem,
    RequestModel,
    OiRequestModel,
    ResponseModel,
    OiModelName,
    OiResponseModel,
    InputTokens,
    PromptTokens,
    OiPrompt,
    OutputTokens,
    CompletionTokens,
    OiCompletion,
    CacheRead,
    OiCacheRead,
    FlatCacheRead,
    CacheWrite,
    OiCacheWrite,
    FlatCacheWrite,
    Reasoning,
    OiReasoning,
    LlmReasoning,
    FlatReasoning,
    OiTotal,
    LlmTotal,
    GenAiTotal,
    BilledInput,
    FlatBilledInput,
    BilledOutput,
    FlatBilledOutput,
    Operation,
    OiSpanKind,
    TraceloopSpanKind,
    ServiceName,
    EnvironmentName,
    Environment,
    // What this processor writes, found so a second pass replaces it.
    CostTotal,
    CostInput,
    CostCacheRead,
    CostCacheWrite,
    CostOutput,
    CostReasoning,
    CostCurrency,
    CostPricingModel,
    CostUnpriced,
    LlmCostTotal,
    LlmCostPrompt,
    LlmCostCompletion,
}

pub(crate) const N_KEYS: usize = Key::LlmCostCompletion as usize + 1;

fn key_of(k: &str) -> Option<Key> {
    use Key::*;
    Some(match k {
        "gen_ai.provider.name" => ProviderName,
        "gen_ai.system" => GenAiSystem,
        "llm.provider" => LlmProvider,
        "llm.system" => LlmSystem,
        "gen_ai.request.model" => RequestModel,
        "llm.request.model_name" => OiRequestModel,
        "gen_ai.response.model" => ResponseModel,
        "llm.model_name" => OiModelName,
        "llm.response.model_name" => OiResponseModel,
        "gen_ai.usage.input_tokens" => InputTokens,
        "gen_ai.usage.prompt_tokens" => PromptTokens,
        "llm.token_count.prompt" => OiPrompt,
        "gen_ai.usage.output_tokens" => OutputTokens,
        "gen_ai.usage.completion_tokens" => CompletionTokens,
        "llm.token_count.completion" => OiCompletion,
        "gen_ai.usage.cache_read.input_tokens" => CacheRead,
        "llm.token_count.prompt_details.cache_read" => OiCacheRead,
        "gen_ai.usage.cache_read_input_tokens" => FlatCacheRead,
        "gen_ai.usage.cache_creation.input_tokens" => CacheWrite,
        "llm.token_count.prompt_details.cache_write" => OiCacheWrite,
        "gen_ai.usage.cache_creation_input_tokens" => FlatCacheWrite,
        "gen_ai.usage.reasoning.output_tokens" => Reasoning,
        "llm.token_count.completion_details.reasoning" => OiReasoning,
        "llm.usage.reasoning_tokens" => LlmReasoning,
        "gen_ai.usage.reasoning_tokens" => FlatReasoning,
        "llm.token_count.total" => OiTotal,
        "llm.usage.total_tokens" => LlmTotal,
        "gen_ai.usage.total_tokens" => GenAiTotal,
        // No convention names billed counts yet; these follow the OTel style.
        "gen_ai.usage.billed.input_tokens" => BilledInput,
        "gen_ai.usage.billed_input_tokens" => FlatBilledInput,
        "gen_ai.usage.billed.output_tokens" => BilledOutput,
        "gen_ai.usage.billed_output_tokens" => FlatBilledOutput,
        "gen_ai.operation.name" => Operation,
        "openinference.span.kind" => OiSpanKind,
        "traceloop.span.kind" => TraceloopSpanKind,
        "service.name" => ServiceName,
        "deployment.environment.name" => EnvironmentName,
        "deployment.environment" => Environment,
        "gen_ai.cost.total" => CostTotal,
        "gen_ai.cost.input" => CostInput,
        "gen_ai.cost.cache_read" => CostCacheRead,
        "gen_ai.cost.cache_write" => CostCacheWrite,
        "gen_ai.cost.output" => CostOutput,
        "gen_ai.cost.reasoning" => CostReasoning,
        "gen_ai.cost.currency" => CostCurrency,
        "gen_ai.cost.pricing_model" => CostPricingModel,
        "gen_ai.cost.unpriced" => CostUnpriced,
        "llm.cost.total" => LlmCostTotal,
        "llm.cost.prompt" => LlmCostPrompt,
        "llm.cost.completion" => LlmCostCompletion,
        _ => return None,
    })
}

use Key::*;
const PROVIDER: &[Key] = &[ProviderName, GenAiSystem, LlmProvider, LlmSystem];
/// Response model first (the one that answered), then the request model.
const MODEL: &[Key] = &[ResponseModel, RequestModel, OiModelName, OiResponseModel, OiRequestModel];
const INPUT: &[Key] = &[InputTokens, PromptTokens, OiPrompt];
const OUTPUT: &[Key] = &[OutputTokens, CompletionTokens, OiCompletion];
const CACHE_READ: &[Key] = &[CacheRead, OiCacheRead, FlatCacheRead];
const CACHE_WRITE: &[Key] = &[CacheWrite, OiCacheWrite, FlatCacheWrite];
const REASONING: &[Key] = &[Reasoning, OiReasoning, LlmReasoning, FlatReasoning];
const TOTAL: &[Key] = &[OiTotal, LlmTotal, GenAiTotal];
const BILLED_INPUT: &[Key] = &[BilledInput, FlatBilledInput];
const BILLED_OUTPUT: &[Key] = &[BilledOutput, FlatBilledOutput];
const ALL_COUNTS: [&[Key]; 8] = [INPUT, OUTPUT, CACHE_READ, CACHE_WRITE, REASONING, TOTAL, BILLED_INPUT, BILLED_OUTPUT];

/// Marks a key absent in [`Scan`]'s positions.
pub(crate) const ABSENT: u32 = u32::MAX;

/// The keys of interest found in one attribute list, by position.
pub(crate) struct Scan<'a> {
    attrs: &'a [KeyValue],
    at: [u32; N_KEYS],
    pub tenant: Option<&'a AnyValue>,
}

impl<'a> Scan<'a> {
    pub fn new(attrs: &'a [KeyValue], tenant_key: &str) -> Scan<'a> {
        let mut s = Scan { attrs, at: [ABSENT; N_KEYS], tenant: None };
        for (i, kv) in attrs.iter().enumerate() {
            let k = kv.key.as_str();
            if k == tenant_key {
                s.tenant = Some(kv.value.as_ref().unwrap_or(&EMPTY));
            }
            // Cheap filter: every key of interest starts with one of these letters.
            if !matches!(k.as_bytes().first(), Some(b'g' | b'l' | b'o' | b't' | b's' | b'd')) {
                continue;
            }
            if let Some(key) = key_of(k) {
                // The first occurrence wins; keys must be unique anyway.
                let slot = &mut s.at[key as usize];
                if *slot == ABSENT {
                    *slot = i as u32;
                }
            }
        }
        s
    }

    pub fn empty() -> Scan<'static> {
        Scan { attrs: &[], at: [ABSENT; N_KEYS], tenant: None }
    }

    /// Where each key is, [`ABSENT`] if it is not.
    pub fn positions(&self) -> [u32; N_KEYS] {
        self.at
    }

    pub fn get(&self, k: Key) -> Option<&'a AnyValue> {
        let i = self.at[k as usize];
        (i != ABSENT).then(|| self.attrs[i as usize].value.as_ref().unwrap_or(&EMPTY))
    }

    pub fn text(&self, k: Key) -> Option<&'a str> {
        self.get(k).and_then(text)
    }

    fn first_text(&self, keys: &[Key]) -> Option<&'a str> {
        keys.iter().find_map(|&k| self.text(k))
    }

    fn first_count(&self, keys: &[Key]) -> Option<(u64, Key)> {
        keys.iter().find_map(|&k| self.get(k).and_then(count).map(|n| (n, k)))
    }

    /// The provider as written, from any dialect.
    pub fn provider(&self) -> Option<&'a str> {
        self.first_text(PROVIDER)
    }

    /// The model to price: response model, then request model, any dialect.
    pub fn model(&self) -> Option<&'a str> {
        self.first_text(MODEL)
    }

    pub fn has_usage(&self) -> bool {
        ALL_COUNTS.iter().any(|keys| self.first_count(keys).is_some())
    }

    /// Agent, workflow and chain spans repeat the usage of the LLM calls
    /// beneath them; pricing them too would count those tokens twice.
    pub fn is_aggregate(&self) -> bool {
        let op = self.text(Operation).is_some_and(|o| matches!(o, "invoke_agent" | "create_agent" | "invoke_workflow"));
        let oi =
            self.text(OiSpanKind).is_some_and(|k| k.eq_ignore_ascii_case("chain") || k.eq_ignore_ascii_case("agent"));
        let tl = self.text(TraceloopSpanKind).is_some_and(|k| matches!(k, "workflow" | "agent" | "task"));
        op || oi || tl
    }

    /// Counts as reported, plus what tells whether input excludes cache.
    pub fn raw_usage(&self, provider: Option<&str>, model: Option<&str>) -> RawUsage {
        let input = self.first_count(INPUT);
        let cache_read = self.first_count(CACHE_READ);
        let cache_write = self.first_count(CACHE_WRITE);
        // Anthropic's raw API field names under gen_ai.usage.*, rather than
        // the OTel spec's dotted names that are defined as part of input.
        let flat_cache = matches!(cache_read, Some((_, FlatCacheRead)) | None)
            && matches!(cache_write, Some((_, FlatCacheWrite)) | None)
            && (cache_read.is_some() || cache_write.is_some());
        let gen_ai_input = matches!(input, Some((_, InputTokens | PromptTokens)));
        RawUsage {
            input: input.map(|c| c.0),
            output: self.first_count(OUTPUT).map(|c| c.0),
            cache_read: cache_read.map_or(0, |c| c.0),
            cache_write: cache_write.map_or(0, |c| c.0),
            reasoning: self.first_count(REASONING).map_or(0, |c| c.0),
            total: self.first_count(TOTAL).map(|c| c.0),
            billed_input: self.first_count(BILLED_INPUT).map(|c| c.0),
            billed_output: self.first_count(BILLED_OUTPUT).map(|c| c.0),
            anthropic_raw_style: flat_cache && gen_ai_input && anthropic_family(provider, model),
        }
    }
}

static EMPTY: AnyValue = AnyValue { value: None };

/// Usage as an item reports it, before normalisation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RawUsage {
    pub input: Option<u64>,
    pub output: Option<u64>,
    pub cache_read: u64,
    pub cache_write: u64,
    pub reasoning: u64,
    pub total: Option<u64>,
    pub billed_input: Option<u64>,
    pub billed_output: Option<u64>,
    /// Anthropic model, flat `gen_ai.usage.cache_*_input_tokens` keys and
    /// `gen_ai.usage.*` input: the shape of Anthropic's raw API usage.
    pub anthropic_raw_style: bool,
}

impl RawUsage {
    /// One model: total input with cache read and write inside it, output
    /// with reasoning inside it.
    ///
    /// Does input include the cache? The OTel spec and OpenInference say
    /// yes; Anthropic's raw API says no. Decided in this order:
    /// 1. input < cache read + cache write: it cannot include them, so no.
    /// 2. A total is reported (`llm.usage.total_tokens` and friends): the
    ///    sum that adds up to it decides. OpenLLMetry's Anthropic spans use
    ///    the flat cache names yet include cache in input, and their total
    ///    (= input + output) tells them apart from raw-API spans.
    /// 3. Otherwise the raw-API shape (`anthropic_raw_style`) means no.
    /// 4. Otherwise yes, as the spec defines it.
    ///
    /// Reasoning is likewise inside output unless it is larger than output
    /// or the total shows it was reported beside it (Gemini's thoughts).
    /// Missing input is total − output. Billed counts, when present,
    /// replace the used ones.
    pub fn normalise(&self) -> Usage {
        let (cr, cw, rs) = (self.cache_read, self.cache_write, self.reasoning);
        let o = self.output.unwrap_or(0);
        let cache = cr.saturating_add(cw);
        let i = match (self.input, self.total) {
            (Some(i), _) => i,
            (None, Some(t)) => t.saturating_sub(o),
            (None, None) => 0,
        };
        let sum = |parts: &[u64]| parts.iter().fold(0u64, |a, &b| a.saturating_add(b));
        let input_excludes_cache = cache > 0
            && (i < cache
                || match self.total.filter(|_| self.input.is_some()) {
                    Some(t) if t == sum(&[i, o]) || t == sum(&[i, o, rs]) => false,
                    Some(t) if t == sum(&[i, cache, o]) || t == sum(&[i, cache, o, rs]) => true,
                    _ => self.anthropic_raw_style,
                });
        let input = if input_excludes_cache { i.saturating_add(cache) } else { i };
        let output_excludes_reasoning = rs > 0 && (rs > o || self.total == Some(sum(&[input, o, rs])));
        let output = if output_excludes_reasoning { o.saturating_add(rs) } else { o };
        let mut u = Usage { input, cache_read: cr, cache_write: cw, output, reasoning: rs };
        if let Some(b) = self.billed_input {
            u.input = b;
            u.cache_read = cr.min(b);
            u.cache_write = cw.min(b - u.cache_read);
        }
        if let Some(b) = self.billed_output {
            u.output = b;
            u.reasoning = rs.min(b);
        }
        u
    }
}

/// Anthropic models, called directly or through Bedrock or Vertex AI.
fn anthropic_family(provider: Option<&str>, model: Option<&str>) -> bool {
    let claude = model.is_some_and(|m| m.as_bytes().windows(6).any(|w| w.eq_ignore_ascii_case(b"claude")));
    match provider {
        Some("anthropic") => true,
        Some("aws.bedrock" | "gcp.vertex_ai") | None => claude,
        _ => false,
    }
}

/// A token count from an int, a double or a string-encoded number.
pub(crate) fn count(v: &AnyValue) -> Option<u64> {
    let from_f64 = |d: f64| (d.is_finite() && d >= 0.0).then(|| d.round() as u64);
    match v.value.as_ref()? {
        Value::IntValue(i) => u64::try_from(*i).ok(),
        Value::DoubleValue(d) => from_f64(*d),
        Value::StringValue(s) => {
            let s = trim(s);
            s.parse::<u64>().ok().or_else(|| s.parse::<f64>().ok().and_then(from_f64))
        }
        _ => None,
    }
}

fn text(v: &AnyValue) -> Option<&str> {
    match v.value.as_ref()? {
        Value::StringValue(s) => Some(trim(s)).filter(|t| !t.is_empty()),
        _ => None,
    }
}

/// `str::trim`, without decoding characters when both ends are printable
/// ASCII, as model and provider names are.
#[inline]
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// `gen_ai.provider.name` for a provider written in any dialect (the
/// deprecated `gen_ai.system` values, OpenInference's `llm.provider` and
/// `llm.system`, OpenLLMetry's capitalised names).
pub fn normalise_provider(p: &str) -> Cow<'static, str> {
    let lower: Cow<str> =
        if p.bytes().any(|b| b.is_ascii_uppercase()) { Cow::Owned(p.to_ascii_lowercase()) } else { Cow::Borrowed(p) };
    Cow::Borrowed(match lower.as_ref() {
        "openai" => "openai",
        "anthropic" => "anthropic",
        "aws.bedrock" | "aws" | "bedrock" | "aws_bedrock" | "amazon_bedrock" => "aws.bedrock",
        "gcp.vertex_ai" | "vertex_ai" | "vertexai" | "google_vertexai" => "gcp.vertex_ai",
        "gcp.gemini" | "gemini" | "google_genai" => "gcp.gemini",
        "gcp.gen_ai" | "google" => "gcp.gen_ai",
        "azure.ai.openai" | "az.ai.openai" | "azure" | "azure_openai" => "azure.ai.openai",
        "azure.ai.inference" | "az.ai.inference" => "azure.ai.inference",
        "deepseek" => "deepseek",
        "mistral_ai" | "mistralai" | "mistral" => "mistral_ai",
        "cohere" => "cohere",
        "groq" => "groq",
        "perplexity" => "perplexity",
        "x_ai" | "xai" => "x_ai",
        "ibm.watsonx.ai" | "watsonx" => "ibm.watsonx.ai",
        _ => return Cow::Owned(lower.into_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(input: u64, cr: u64, cw: u64, output: u64, rs: u64) -> RawUsage {
        RawUsage {
            input: Some(input),
            output: Some(output),
            cache_read: cr,
            cache_write: cw,
            reasoning: rs,
            ..Default::default()
        }
    }

    #[test]
    fn otel_input_includes_cache() {
        let u = raw(1000, 300, 100, 50, 0).normalise();
        assert_eq!((u.input, u.uncached_input()), (1000, 600));
    }

    #[test]
    fn anthropic_input_excluding_cache_is_detected() {
        // Impossible under the spec: 100 input with 300 read from cache.
        assert_eq!(raw(100, 300, 0, 50, 0).normalise().input, 400);
        // Raw-API shape: trusted without a total.
        let r = RawUsage { anthropic_raw_style: true, ..raw(1000, 300, 100, 50, 0) };
        assert_eq!(r.normalise().input, 1400);
        // A total that includes cache beside input also says so.
        assert_eq!(RawUsage { total: Some(1450), ..raw(1000, 300, 100, 50, 0) }.normalise().input, 1400);
        // OpenLLMetry: same flat keys, but total = input + output, so input includes cache.
        let r = RawUsage { anthropic_raw_style: true, total: Some(1050), ..raw(1000, 300, 100, 50, 0) };
        assert_eq!(r.normalise().input, 1000);
    }

    #[test]
    fn reasoning_inside_output_unless_shown_otherwise() {
        assert_eq!(raw(10, 0, 0, 500, 200).normalise().output, 500);
        assert_eq!(raw(10, 0, 0, 100, 200).normalise().output, 300);
        assert_eq!(RawUsage { total: Some(710), ..raw(10, 0, 0, 500, 200) }.normalise().output, 700);
    }

    #[test]
    fn billed_counts_win_and_missing_input_comes_from_total() {
        let r = RawUsage { billed_input: Some(80), billed_output: Some(40), ..raw(100, 50, 0, 60, 10) };
        assert_eq!(r.normalise(), Usage { input: 80, cache_read: 50, cache_write: 0, output: 40, reasoning: 10 });
        let r = RawUsage { input: None, total: Some(1500), ..raw(0, 0, 0, 500, 0) };
        assert_eq!(r.normalise().input, 1000);
    }

    #[test]
    fn counts_from_any_value_type() {
        let v = |x: Value| AnyValue { value: Some(x) };
        assert_eq!(count(&v(Value::IntValue(12))), Some(12));
        assert_eq!(count(&v(Value::DoubleValue(12.0))), Some(12));
        assert_eq!(count(&v(Value::StringValue(" 12 ".into()))), Some(12));
        assert_eq!(count(&v(Value::StringValue("12.0".into()))), Some(12));
        assert_eq!(count(&v(Value::IntValue(-1))), None);
        assert_eq!(count(&v(Value::StringValue("many".into()))), None);
        assert_eq!(count(&v(Value::BoolValue(true))), None);
    }

    #[test]
    fn providers_normalised() {
        for (p, want) in [
            ("Anthropic", "anthropic"),
            ("az.ai.openai", "azure.ai.openai"),
            ("mistralai", "mistral_ai"),
            ("vertex_ai", "gcp.vertex_ai"),
            ("aws.bedrock", "aws.bedrock"),
            ("SomeHost", "somehost"),
        ] {
            assert_eq!(normalise_provider(p), want);
        }
    }
}
