//! The text scan: runs every enabled detector over a string, resolves
//! overlaps and renders placeholders. Everything is compiled once in
//! [`Scanner::new`]; a value without a match allocates nothing.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexSet};

use crate::config::{Action, RedactionConfig};
use crate::detectors::{email, network, numeric, secrets::Secrets, trigger, Builtin};
use crate::hash::Tokenizer;

/// Placeholder for a value over `max_value_bytes`.
pub const TOO_LARGE: &str = "<REDACTED:TOO_LARGE>";

/// What one rule (a built-in detector, dictionary or pattern) does.
struct Rule {
    tag: String,
    action: Action,
    norm: Norm,
}

/// How a match is normalised before hashing, so that formatting does not
/// change the token: `John@X.com` and `john@x.com` hash the same.
#[derive(Clone, Copy)]
enum Norm {
    Raw,
    Lower,
    /// Letters and digits only, uppercased (cards, phones, IBANs).
    Alnum,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub start: usize,
    pub end: usize,
    rule: u16,
}

/// The result of redacting one value.
#[derive(Debug, PartialEq)]
pub(crate) enum Redacted<'a> {
    Unchanged,
    Changed(Cow<'a, str>),
    /// An action `drop` matched: remove the attribute.
    Drop,
}

pub(crate) struct Scanner {
    rules: Vec<Rule>,
    /// Rule index of each built-in, when enabled.
    builtin: [Option<u16>; Builtin::ALL.len()],
    secrets: Option<Secrets>,
    email: bool,
    ipv6: bool,
    numeric: numeric::Want,
    dict: Option<(AhoCorasick, Vec<u16>)>,
    patterns: Option<(RegexSet, Vec<(Regex, u16)>)>,
    tokens: Option<Tokenizer>,
    max_value_bytes: usize,
    /// Values shorter than this are checked for a trigger byte before any
    /// detector runs; see [`Scanner::cannot_match`].
    quick_below: usize,
}

impl Scanner {
    /// `dictionaries` holds each dictionary's words, already read from files.
    pub fn new(cfg: &RedactionConfig, dictionaries: &[Vec<String>]) -> Result<Scanner, String> {
        let mut rules = Vec::new();
        let mut builtin = [None; Builtin::ALL.len()];
        for (i, b) in Builtin::ALL.into_iter().enumerate() {
            let d = cfg.detector(b);
            if d.enabled {
                let norm = match b {
                    Builtin::Email => Norm::Lower,
                    Builtin::Phone | Builtin::CreditCard | Builtin::Iban | Builtin::UsSsn => Norm::Alnum,
                    _ => Norm::Raw,
                };
                builtin[i] = Some(rules.len() as u16);
                rules.push(Rule { tag: b.tag().to_string(), action: d.action, norm });
            }
        }
        let on = |b: Builtin| builtin[b as usize].is_some();
        let secrets = Secrets::new(|b| b.is_secret() && on(b));
        let numeric = numeric::Want {
            card: on(Builtin::CreditCard),
            ssn: on(Builtin::UsSsn),
            phone: on(Builtin::Phone),
            ip: on(Builtin::IpAddress),
            iban: on(Builtin::Iban),
        };

        let mut words: Vec<&str> = Vec::new();
        let mut word_rule = Vec::new();
        for (d, list) in cfg.dictionaries.iter().zip(dictionaries) {
            let r = rules.len() as u16;
            rules.push(Rule { tag: d.name.to_ascii_uppercase(), action: d.action, norm: Norm::Lower });
            for w in list.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
                words.push(w);
                word_rule.push(r);
            }
        }
        let dict = if words.is_empty() {
            None
        } else {
            let ac = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&words)
                .map_err(|e| format!("dictionaries: {e}"))?;
            Some((ac, word_rule))
        };

        let patterns = if cfg.patterns.is_empty() {
            None
        } else {
            let set = RegexSet::new(cfg.patterns.iter().map(|p| &p.regex)).map_err(|e| format!("patterns: {e}"))?;
            let mut list = Vec::new();
            for (i, p) in cfg.patterns.iter().enumerate() {
                let re = Regex::new(&p.regex).map_err(|e| format!("patterns::{i}::regex: {e}"))?;
                list.push((re, rules.len() as u16));
                rules.push(Rule { tag: p.name.to_ascii_uppercase(), action: p.action, norm: Norm::Raw });
            }
            Some((set, list))
        };

        let custom = dict.is_some() || patterns.is_some();
        let quick_below = match (&secrets, custom) {
            (_, true) => 0,
            (Some(sec), false) => sec.min_len(),
            (None, false) => QUICK_MAX,
        };
        Ok(Scanner {
            quick_below,
            email: on(Builtin::Email),
            ipv6: on(Builtin::IpAddress),
            rules,
            builtin,
            secrets,
            numeric,
            dict,
            patterns,
            tokens: cfg.key().map(|k| Tokenizer::new(k.as_bytes())),
            max_value_bytes: cfg.max_value_bytes,
        })
    }

    /// Dictionaries or custom patterns are configured.
    pub fn has_custom(&self) -> bool {
        self.dict.is_some() || self.patterns.is_some()
    }

    /// Redacts one string value: oversized values whole, JSON text inside
    /// its strings, anything else as plain text.
    pub fn redact_value<'a>(&self, s: &'a str) -> Redacted<'a> {
        if s.len() > self.max_value_bytes {
            return Redacted::Changed(Cow::Borrowed(TOO_LARGE));
        }
        let first = s.bytes().find(|b| !b.is_ascii_whitespace());
        if matches!(first, Some(b'{' | b'[')) {
            if let Some(r) = crate::json::redact(self, s) {
                return r;
            }
        }
        self.redact_plain(s)
    }

    /// Redacts `s` as plain text.
    pub fn redact_plain<'a>(&self, s: &'a str) -> Redacted<'a> {
        let mut hits = Vec::new();
        self.find(s, &mut hits);
        if hits.is_empty() {
            return Redacted::Unchanged;
        }
        match self.whole(&hits) {
            Some(r) => r,
            None => {
                let mut out = String::with_capacity(s.len());
                self.render(s, &hits, &mut out);
                Redacted::Changed(Cow::Owned(out))
            }
        }
    }

    /// Every match in `s`, sorted and without overlaps.
    #[inline]
    pub(crate) fn find(&self, s: &str, hits: &mut Vec<Hit>) {
        // Checked where the value is: most values are short and end here.
        if !self.cannot_match(s.as_bytes()) {
            self.find_all(s, hits);
        }
    }

    fn find_all(&self, s: &str, hits: &mut Vec<Hit>) {
        let b = s.as_bytes();
        let rule_of = |k: Builtin| self.builtin[k as usize].expect("only enabled detectors report");
        let mut push = |start: usize, end: usize, k: Builtin| hits.push(Hit { start, end, rule: rule_of(k) });
        if let Some(sec) = &self.secrets {
            sec.scan(s, &mut push);
        }
        // Emails, IPv6 and the numeric entities from one pass over their
        // trigger bytes; each keeps its own place, as separate passes would.
        // A number or word the numeric check read whole holds no `@` or `:`,
        // so the search goes on after it.
        if self.email || self.ipv6 || self.numeric.any() {
            let (mut email_from, mut ipv6_from) = (0, 0);
            trigger::for_each(b, |p| match b[p] {
                b'@' => {
                    if self.email && p >= email_from {
                        if let Some((st, en)) = email::at(s, p) {
                            push(st, en, Builtin::Email);
                            email_from = en;
                        }
                    }
                    p + 1
                }
                b':' => {
                    if self.ipv6 && p >= ipv6_from {
                        match network::ipv6_at(b, p) {
                            Ok((st, en)) => {
                                push(st, en, Builtin::IpAddress);
                                ipv6_from = en;
                            }
                            Err(r) => ipv6_from = r,
                        }
                    }
                    p + 1
                }
                _ if self.numeric.any() => numeric::at(b, p, &self.numeric, &mut push),
                _ => p + 1,
            });
        }
        if let Some((ac, rule)) = &self.dict {
            for m in ac.find_overlapping_iter(s) {
                if word_boundary(s, m.start(), m.end()) {
                    hits.push(Hit { start: m.start(), end: m.end(), rule: rule[m.pattern().as_usize()] });
                }
            }
        }
        if let Some((set, list)) = &self.patterns {
            for i in set.matches(s).iter() {
                let (re, rule) = &list[i];
                for m in re.find_iter(s).filter(|m| !m.is_empty()) {
                    hits.push(Hit { start: m.start(), end: m.end(), rule: *rule });
                }
            }
        }
        resolve_overlaps(hits);
    }

    /// Short values are mostly names, ids and JSON keys. Every built-in
    /// detector but the secrets needs an `@`, a `:` or a digit, and every
    /// secret is longer than `quick_below`, so one pass over the bytes
    /// rules most of them out without starting the detectors.
    #[inline]
    fn cannot_match(&self, b: &[u8]) -> bool {
        b.len() < self.quick_below && !trigger::any(b)
    }

    /// A `drop` or `redact_value` match decides the fate of the whole value.
    pub(crate) fn whole<'a>(&self, hits: &[Hit]) -> Option<Redacted<'a>> {
        let mut whole = None;
        for h in hits {
            let r = &self.rules[h.rule as usize];
            match r.action {
                Action::Drop => return Some(Redacted::Drop),
                Action::RedactValue if whole.is_none() => whole = Some(format!("<{}>", r.tag)),
                _ => {}
            }
        }
        whole.map(|w| Redacted::Changed(Cow::Owned(w)))
    }

    /// Appends `s` with every hit replaced by its placeholder or token.
    pub(crate) fn render(&self, s: &str, hits: &[Hit], out: &mut String) {
        let mut last = 0;
        for h in hits {
            out.push_str(&s[last..h.start]);
            let r = &self.rules[h.rule as usize];
            match (r.action, &self.tokens) {
                (Action::Hash, Some(t)) => {
                    let m = &s[h.start..h.end];
                    match r.norm {
                        Norm::Raw => t.token(&r.tag, m.as_bytes(), out),
                        Norm::Lower => t.token(&r.tag, m.to_lowercase().as_bytes(), out),
                        Norm::Alnum => {
                            let n: Vec<u8> =
                                m.bytes().filter(u8::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect();
                            t.token(&r.tag, &n, out)
                        }
                    }
                }
                _ => {
                    out.push('<');
                    out.push_str(&r.tag);
                    out.push('>');
                }
            }
            last = h.end;
        }
        out.push_str(&s[last..]);
    }
}

/// Without secret detectors, the longest value given the trigger-byte check.
const QUICK_MAX: usize = 256;

/// Keeps the earliest-starting (then longest) of overlapping hits.
fn resolve_overlaps(hits: &mut Vec<Hit>) {
    if hits.len() < 2 {
        return;
    }
    hits.sort_unstable_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
    let mut end = 0;
    hits.retain(|h| {
        if h.start < end {
            return false;
        }
        end = h.end;
        true
    });
}

/// Dictionary words match whole words only (Unicode-aware at the edges).
fn word_boundary(s: &str, start: usize, end: usize) -> bool {
    if !s.is_char_boundary(start) || !s.is_char_boundary(end) {
        return false;
    }
    let before = s[..start].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
    let after = s[end..].chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_');
    !before && !after
}
