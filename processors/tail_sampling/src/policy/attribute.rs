//! `string_attribute`, `numeric_attribute` and `boolean_attribute`: per-value
//! matchers, run on resource and span attributes at ingest.

use std::collections::{HashMap, HashSet};

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue};
use regex::RegexSet;

use crate::config::{BooleanAttributeConfig, NumericAttributeConfig, StringAttributeConfig};

const DEFAULT_REGEX_CACHE: usize = 128;

pub(crate) enum AttrMatch {
    Str(StrMatcher),
    /// Inclusive bounds; a missing bound is `i64::MIN` / `i64::MAX`.
    Num {
        min: i64,
        max: i64,
    },
    Bool(bool),
}

pub(crate) enum StrMatcher {
    Exact(HashSet<String>),
    Regex { set: RegexSet, memo: HashMap<String, bool>, cap: usize },
}

impl AttrMatch {
    pub fn string(c: &StringAttributeConfig) -> Self {
        if c.enabled_regex_matching {
            // Validation rejected bad patterns; an empty set never matches.
            let set = RegexSet::new(&c.values).unwrap_or_else(|_| RegexSet::empty());
            let cap = if c.cache_max_size == 0 { DEFAULT_REGEX_CACHE } else { c.cache_max_size };
            AttrMatch::Str(StrMatcher::Regex { set, memo: HashMap::new(), cap })
        } else {
            // The Collector ignores empty values: an empty string never matches.
            AttrMatch::Str(StrMatcher::Exact(c.values.iter().filter(|v| !v.is_empty()).cloned().collect()))
        }
    }

    pub fn numeric(c: &NumericAttributeConfig) -> Self {
        AttrMatch::Num { min: c.min_value.unwrap_or(i64::MIN), max: c.max_value.unwrap_or(i64::MAX) }
    }

    pub fn boolean(c: &BooleanAttributeConfig) -> Self {
        AttrMatch::Bool(c.value)
    }

    /// Whether one attribute value matches. Only values of the policy's own
    /// type count (the Collector's `Int()`/`Bool()` would read others as 0/false).
    pub fn matches(&mut self, v: Option<&AnyValue>, on_span: bool) -> bool {
        let Some(v) = v.and_then(|v| v.value.as_ref()) else { return false };
        match (self, v) {
            (AttrMatch::Str(m), Value::StringValue(s)) => {
                // As the Collector: empty span values are skipped, resource ones are not.
                if on_span && s.is_empty() {
                    return false;
                }
                m.matches(s)
            }
            (AttrMatch::Num { min, max }, Value::IntValue(i)) => *min <= *i && *i <= *max,
            (AttrMatch::Bool(want), Value::BoolValue(b)) => want == b,
            _ => false,
        }
    }
}

impl StrMatcher {
    fn matches(&mut self, s: &str) -> bool {
        match self {
            StrMatcher::Exact(set) => set.contains(s),
            StrMatcher::Regex { set, memo, cap } => {
                if let Some(&hit) = memo.get(s) {
                    return hit;
                }
                let hit = set.is_match(s);
                // A bounded memo, as the Collector's LRU: cleared when full.
                if memo.len() >= *cap {
                    memo.clear();
                }
                memo.insert(s.to_owned(), hit);
                hit
            }
        }
    }
}
