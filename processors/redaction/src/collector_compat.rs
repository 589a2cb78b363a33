//! The Collector redaction processor's key and value rules and its summary
//! attributes, with the same meaning and the same attribute names.

use std::borrow::Cow;
use std::collections::HashSet;

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, KeyValue};
use regex::{Regex, RegexSet};

use crate::config::{RedactionConfig, Summary};
use crate::hash::{collector_mask, HashFunction};

pub const REDACTED_KEYS: &str = "redaction.redacted.keys";
pub const REDACTED_COUNT: &str = "redaction.redacted.count";
pub const MASKED_KEYS: &str = "redaction.masked.keys";
pub const MASKED_COUNT: &str = "redaction.masked.count";
pub const ALLOWED_KEYS: &str = "redaction.allowed.keys";
pub const ALLOWED_COUNT: &str = "redaction.allowed.count";
pub const IGNORED_COUNT: &str = "redaction.ignored.count";
pub const BODY_REDACTED_KEYS: &str = "redaction.body.redacted.keys";
pub const BODY_REDACTED_COUNT: &str = "redaction.body.redacted.count";
pub const BODY_MASKED_KEYS: &str = "redaction.body.masked.keys";
pub const BODY_MASKED_COUNT: &str = "redaction.body.masked.count";
pub const BODY_ALLOWED_KEYS: &str = "redaction.body.allowed.keys";
pub const BODY_ALLOWED_COUNT: &str = "redaction.body.allowed.count";
pub const BODY_IGNORED_COUNT: &str = "redaction.body.ignored.count";

/// The summary attributes themselves are always allowed, so data passing a
/// second redaction processor keeps them (and they accumulate).
const SUMMARY_KEYS: [&str; 14] = [
    REDACTED_KEYS,
    REDACTED_COUNT,
    MASKED_KEYS,
    MASKED_COUNT,
    ALLOWED_KEYS,
    ALLOWED_COUNT,
    IGNORED_COUNT,
    BODY_REDACTED_KEYS,
    BODY_REDACTED_COUNT,
    BODY_MASKED_KEYS,
    BODY_MASKED_COUNT,
    BODY_ALLOWED_KEYS,
    BODY_ALLOWED_COUNT,
    BODY_IGNORED_COUNT,
];

pub(crate) struct KeyRules {
    allow_all: bool,
    allowed: HashSet<String>,
    ignored: HashSet<String>,
    ignored_patterns: Option<RegexSet>,
    blocked_keys: Option<RegexSet>,
    blocked_values: Vec<Regex>,
    allowed_values: Option<RegexSet>,
    hash: HashFunction,
    key: Vec<u8>,
    pub summary: Summary,
    pub redact_all_types: bool,
    /// Matches a whole value, for keys matching `blocked_key_patterns`.
    mask_all: Regex,
    /// No key rule and no value rule but the detectors applies: every key
    /// is kept and every value goes to the detectors as it is.
    pub values_only: bool,
}

fn set(list: &[String], field: &str) -> Result<Option<RegexSet>, String> {
    if list.is_empty() {
        return Ok(None);
    }
    RegexSet::new(list).map(Some).map_err(|e| format!("{field}: {e}"))
}

impl KeyRules {
    pub fn new(cfg: &RedactionConfig) -> Result<KeyRules, String> {
        let mut allowed: HashSet<String> = cfg.allowed_keys.iter().cloned().collect();
        allowed.extend(SUMMARY_KEYS.iter().map(|k| k.to_string()));
        let blocked_values = cfg
            .blocked_values
            .iter()
            .enumerate()
            .map(|(i, r)| Regex::new(r).map_err(|e| format!("blocked_values::{i}: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(KeyRules {
            allow_all: cfg.allow_all_keys,
            allowed,
            ignored: cfg.ignored_keys.iter().cloned().collect(),
            ignored_patterns: set(&cfg.ignored_key_patterns, "ignored_key_patterns")?,
            blocked_keys: set(&cfg.blocked_key_patterns, "blocked_key_patterns")?,
            blocked_values,
            allowed_values: set(&cfg.allowed_values, "allowed_values")?,
            hash: cfg.hash_fn(),
            key: cfg.key().unwrap_or_default().as_bytes().to_vec(),
            summary: cfg.summary_level(),
            redact_all_types: cfg.redact_all_types,
            mask_all: Regex::new(".*").expect("static"),
            values_only: cfg.allow_all_keys
                && cfg.ignored_keys.is_empty()
                && cfg.ignored_key_patterns.is_empty()
                && cfg.blocked_key_patterns.is_empty()
                && cfg.blocked_values.is_empty()
                && cfg.allowed_values.is_empty()
                && !cfg.redact_all_types,
        })
    }

    #[inline]
    pub fn is_ignored(&self, k: &str) -> bool {
        (!self.ignored.is_empty() && self.ignored.contains(k))
            || self.ignored_patterns.as_ref().is_some_and(|s| s.is_match(k))
    }

    /// Without `allow_all_keys`, keys not in `allowed_keys` are removed.
    pub fn should_redact(&self, k: &str) -> bool {
        !self.allow_all && !self.allowed.contains(k)
    }

    pub fn should_mask_key(&self, k: &str) -> bool {
        self.blocked_keys.as_ref().is_some_and(|s| s.is_match(k))
    }

    pub fn allow_value(&self, v: &str) -> bool {
        self.allowed_values.as_ref().is_some_and(|s| s.is_match(v))
    }

    /// The whole value, masked or hashed (a blocked key).
    pub fn mask_whole(&self, v: &str) -> String {
        self.mask_all.replace_all(v, |c: &regex::Captures| collector_mask(self.hash, &self.key, &c[0])).into_owned()
    }

    /// Applies every `blocked_values` regex in turn, as the Collector does.
    #[inline]
    pub fn mask_blocked<'a>(&self, v: &'a str) -> Cow<'a, str> {
        if self.blocked_values.is_empty() {
            return Cow::Borrowed(v);
        }
        let mut cur = Cow::Borrowed(v);
        for re in &self.blocked_values {
            if re.is_match(&cur) {
                let next = re.replace_all(&cur, |c: &regex::Captures| collector_mask(self.hash, &self.key, &c[0]));
                cur = Cow::Owned(next.into_owned());
            }
        }
        cur
    }
}

/// The Collector's `AsString` of a scalar value, for `redact_all_types`
/// and for log bodies.
pub(crate) fn as_string(v: &Value) -> Option<Cow<'_, str>> {
    Some(match v {
        Value::StringValue(s) => Cow::Borrowed(s.as_str()),
        Value::IntValue(i) => Cow::Owned(i.to_string()),
        Value::DoubleValue(d) => Cow::Owned(d.to_string()),
        Value::BoolValue(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        _ => return None,
    })
}

/// Keys touched while processing one attribute map (or one log body).
/// Names are kept only at `debug`, and nothing at all when `silent`.
pub(crate) struct Touched {
    level: Summary,
    redacted: Vec<String>,
    masked: Vec<String>,
    allowed: Vec<String>,
    ignored: Vec<String>,
}

impl Touched {
    pub fn new(level: Summary) -> Touched {
        Touched { level, redacted: Vec::new(), masked: Vec::new(), allowed: Vec::new(), ignored: Vec::new() }
    }

    fn note(level: Summary, list: &mut Vec<String>, key: impl FnOnce() -> String) {
        match level {
            Summary::Silent => {}
            Summary::Info => list.push(String::new()),
            Summary::Debug => list.push(key()),
        }
    }

    pub fn redact(&mut self, key: impl FnOnce() -> String) {
        Self::note(self.level, &mut self.redacted, key)
    }
    pub fn mask(&mut self, key: impl FnOnce() -> String) {
        Self::note(self.level, &mut self.masked, key)
    }
    pub fn allow(&mut self, key: impl FnOnce() -> String) {
        Self::note(self.level, &mut self.allowed, key)
    }
    pub fn ignore(&mut self, key: impl FnOnce() -> String) {
        Self::note(self.level, &mut self.ignored, key)
    }

    fn is_empty(&self) -> bool {
        self.redacted.is_empty() && self.masked.is_empty() && self.allowed.is_empty() && self.ignored.is_empty()
    }

    /// Writes the summary attributes the way the Collector's `addMetaAttrs`
    /// does: key lists sorted and merged with any existing list, counts added
    /// to any existing count.
    pub fn write(self, attrs: &mut Vec<KeyValue>, body: bool) {
        let summary = self.level;
        if summary == Summary::Silent || self.is_empty() {
            return;
        }
        let names = if body {
            [
                (BODY_REDACTED_KEYS, BODY_REDACTED_COUNT),
                (BODY_MASKED_KEYS, BODY_MASKED_COUNT),
                (BODY_ALLOWED_KEYS, BODY_ALLOWED_COUNT),
                ("", BODY_IGNORED_COUNT),
            ]
        } else {
            [
                (REDACTED_KEYS, REDACTED_COUNT),
                (MASKED_KEYS, MASKED_COUNT),
                (ALLOWED_KEYS, ALLOWED_COUNT),
                ("", IGNORED_COUNT),
            ]
        };
        let lists = [self.redacted, self.masked, self.allowed, self.ignored];
        for (mut keys, (keys_attr, count_attr)) in lists.into_iter().zip(names) {
            if keys.is_empty() {
                continue;
            }
            let mut count = keys.len() as i64;
            if summary == Summary::Debug && !keys_attr.is_empty() {
                if let Some(Value::StringValue(prev)) = get(attrs, keys_attr) {
                    if !prev.is_empty() {
                        keys.extend(prev.split(',').map(str::to_string));
                    }
                }
                keys.sort();
                put(attrs, keys_attr, Value::StringValue(keys.join(",")));
            }
            if let Some(Value::IntValue(prev)) = get(attrs, count_attr) {
                count += prev;
            }
            put(attrs, count_attr, Value::IntValue(count));
        }
    }
}

fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()).and_then(|v| v.value.as_ref())
}

fn put(attrs: &mut Vec<KeyValue>, key: &str, v: Value) {
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = Some(AnyValue { value: Some(v) }),
        None => attrs.push(KeyValue {
            key: key.to_string(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }),
    }
}
