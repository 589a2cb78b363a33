//! Config checks. Each message starts with the key path it is about, e.g.
//! `policies::2::latency::threshold_ms: must be > 0`.

use std::collections::HashSet;

use crate::config::{PolicyConfig, TailSamplingConfig};
use crate::policy::MAX_PREDICATES;

/// Where a policy sits decides which types it may have.
#[derive(Clone, Copy, PartialEq)]
enum Level {
    Top,
    /// Under `and` or `drop`: leaf policies only.
    AndSub,
    /// Under `composite`: leaves and `and`.
    CompositeSub,
}

pub(crate) const KINDS: &[&str] = &[
    "always_sample",
    "latency",
    "status_code",
    "probabilistic",
    "string_attribute",
    "numeric_attribute",
    "boolean_attribute",
    "span_count",
    "rate_limiting",
    "bytes_limiting",
    "trace_state",
    "trace_flags",
    "and",
    "drop",
    "composite",
    "genai_cost",
    "genai_tokens",
    "genai_error",
    "genai_evaluation",
    "genai_loop",
];

impl TailSamplingConfig {
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut e = Vec::new();
        if self.decision_wait.is_zero() {
            e.push("decision_wait: must be > 0".to_string());
        }
        if self.num_traces == 0 {
            e.push("num_traces: must be > 0".to_string());
        }
        if self.max_buffer_bytes == 0 {
            e.push("max_buffer_bytes: must be > 0".to_string());
        }
        if self.max_trace_bytes > self.max_buffer_bytes {
            e.push("max_trace_bytes: must be <= max_buffer_bytes".to_string());
        }
        if self.policies.is_empty() {
            e.push("policies: at least one policy is required".to_string());
        }
        check_list(&self.policies, "policies", Level::Top, &mut e);
        let preds: usize = self.policies.iter().map(predicate_count).sum();
        if preds > MAX_PREDICATES {
            e.push(format!(
                "policies: {preds} attribute/status/trace_state/GenAI-event policies configured, at most {MAX_PREDICATES} supported"
            ));
        }
        if e.is_empty() {
            Ok(())
        } else {
            Err(e)
        }
    }
}

fn check_list(list: &[PolicyConfig], path: &str, level: Level, e: &mut Vec<String>) {
    let mut names = HashSet::new();
    for (i, p) in list.iter().enumerate() {
        let at = format!("{path}::{i}");
        if p.name.is_empty() {
            e.push(format!("{at}::name: must not be empty"));
        } else if !names.insert(p.name.as_str()) {
            e.push(format!("{at}::name: duplicate policy name {:?}", p.name));
        }
        check_policy(p, &at, level, e);
    }
}

/// Leaves that take a bit in each trace's match set (see `policy::Predicates`).
pub(crate) fn predicate_count(p: &PolicyConfig) -> usize {
    match p.kind.as_str() {
        "status_code" | "string_attribute" | "numeric_attribute" | "boolean_attribute" | "trace_state"
        | "trace_flags" | "genai_error" | "genai_evaluation" => 1,
        "and" => p.and.iter().flat_map(|a| &a.and_sub_policy).map(predicate_count).sum(),
        "drop" => p.drop.iter().flat_map(|a| &a.drop_sub_policy).map(predicate_count).sum(),
        "composite" => p.composite.iter().flat_map(|a| &a.composite_sub_policy).map(predicate_count).sum(),
        _ => 0,
    }
}

fn check_policy(p: &PolicyConfig, at: &str, level: Level, e: &mut Vec<String>) {
    let kind = p.kind.as_str();
    if kind.is_empty() {
        e.push(format!("{at}::type: must be set"));
        return;
    }
    if !KINDS.contains(&kind) {
        e.push(format!("{at}::type: unknown policy type {kind:?}"));
        return;
    }
    let nested_ok = match level {
        Level::Top => true,
        Level::AndSub => !matches!(kind, "and" | "drop" | "composite"),
        Level::CompositeSub => !matches!(kind, "drop" | "composite"),
    };
    if !nested_ok {
        e.push(format!("{at}::type: {kind} is not allowed here"));
        return;
    }
    // The section named after the type; absent means the Collector's zero values,
    // which is only meaningful for a few types.
    macro_rules! section {
        ($f:ident) => {
            match &p.$f {
                Some(s) => s,
                None => {
                    e.push(format!("{at}::{}: required for type {kind}", stringify!($f)));
                    return;
                }
            }
        };
    }
    match kind {
        "always_sample" | "trace_flags" => {}
        "latency" => {
            let c = section!(latency);
            let s = format!("{at}::latency");
            if c.threshold_ms < 0 {
                e.push(format!("{s}::threshold_ms: must be >= 0"));
            } else if c.threshold_ms == 0 && c.upper_threshold_ms == 0 {
                e.push(format!("{s}::threshold_ms: must be > 0 (or set upper_threshold_ms)"));
            }
            if c.upper_threshold_ms < 0 || (c.upper_threshold_ms != 0 && c.upper_threshold_ms <= c.threshold_ms) {
                e.push(format!("{s}::upper_threshold_ms: must be 0 (none) or > threshold_ms"));
            }
        }
        "status_code" => {
            let c = section!(status_code);
            if c.status_codes.is_empty() {
                e.push(format!("{at}::status_code::status_codes: expected at least one status code"));
            }
            for (j, code) in c.status_codes.iter().enumerate() {
                if !matches!(code.as_str(), "OK" | "ERROR" | "UNSET") {
                    e.push(format!(
                        "{at}::status_code::status_codes::{j}: unknown status code {code:?}, supported: OK, ERROR, UNSET"
                    ));
                }
            }
        }
        "probabilistic" => {
            let c = section!(probabilistic);
            if !(0.0..=100.0).contains(&c.sampling_percentage) {
                e.push(format!("{at}::probabilistic::sampling_percentage: must be between 0 and 100"));
            }
        }
        "string_attribute" => {
            let c = section!(string_attribute);
            let s = format!("{at}::string_attribute");
            if c.key.is_empty() {
                e.push(format!("{s}::key: must not be empty"));
            }
            if c.values.is_empty() {
                e.push(format!("{s}::values: expected at least one value"));
            }
            if c.enabled_regex_matching {
                for (j, v) in c.values.iter().enumerate() {
                    if let Err(err) = regex::Regex::new(v) {
                        e.push(format!("{s}::values::{j}: invalid regular expression: {err}"));
                    }
                }
            }
        }
        "numeric_attribute" => {
            let c = section!(numeric_attribute);
            let s = format!("{at}::numeric_attribute");
            if c.key.is_empty() {
                e.push(format!("{s}::key: must not be empty"));
            }
            match (c.min_value, c.max_value) {
                (None, None) => e.push(format!("{s}: at least one of min_value or max_value must be set")),
                (Some(lo), Some(hi)) if lo > hi => e.push(format!("{s}::max_value: must be >= min_value")),
                _ => {}
            }
        }
        "boolean_attribute" => {
            if section!(boolean_attribute).key.is_empty() {
                e.push(format!("{at}::boolean_attribute::key: must not be empty"));
            }
        }
        "span_count" => {
            let c = section!(span_count);
            if c.min_spans < 0 {
                e.push(format!("{at}::span_count::min_spans: must be >= 0"));
            }
            if c.max_spans != 0 && c.max_spans < c.min_spans {
                e.push(format!("{at}::span_count::max_spans: must be 0 (none) or >= min_spans"));
            }
        }
        "rate_limiting" => {
            if section!(rate_limiting).spans_per_second <= 0 {
                e.push(format!("{at}::rate_limiting::spans_per_second: must be > 0"));
            }
        }
        "bytes_limiting" => {
            let c = section!(bytes_limiting);
            if c.bytes_per_second <= 0 {
                e.push(format!("{at}::bytes_limiting::bytes_per_second: must be > 0"));
            }
            if c.burst_capacity < 0 {
                e.push(format!("{at}::bytes_limiting::burst_capacity: must be >= 0 (0 = 2 x bytes_per_second)"));
            }
        }
        "trace_state" => {
            let c = section!(trace_state);
            if c.key.is_empty() {
                e.push(format!("{at}::trace_state::key: must not be empty"));
            }
            if c.values.is_empty() {
                e.push(format!("{at}::trace_state::values: expected at least one value"));
            }
        }
        "and" => {
            let c = section!(and);
            let s = format!("{at}::and::and_sub_policy");
            if c.and_sub_policy.is_empty() {
                e.push(format!("{s}: expected at least one sub-policy"));
            }
            check_list(&c.and_sub_policy, &s, Level::AndSub, e);
        }
        "drop" => {
            let c = section!(drop);
            let s = format!("{at}::drop::drop_sub_policy");
            if c.drop_sub_policy.is_empty() {
                e.push(format!("{s}: expected at least one sub-policy"));
            }
            check_list(&c.drop_sub_policy, &s, Level::AndSub, e);
        }
        "composite" => {
            let c = section!(composite);
            let s = format!("{at}::composite");
            if c.max_total_spans_per_second <= 0 {
                e.push(format!("{s}::max_total_spans_per_second: must be > 0"));
            }
            if c.composite_sub_policy.is_empty() {
                e.push(format!("{s}::composite_sub_policy: expected at least one sub-policy"));
            }
            check_list(&c.composite_sub_policy, &format!("{s}::composite_sub_policy"), Level::CompositeSub, e);
            let names: HashSet<&str> = c.composite_sub_policy.iter().map(|p| p.name.as_str()).collect();
            for (j, n) in c.policy_order.iter().enumerate() {
                if !names.contains(n.as_str()) {
                    e.push(format!("{s}::policy_order::{j}: no sub-policy named {n:?}"));
                }
            }
            // Percents are not range-checked: the Collector accepts any value
            // (<= 0 means an equal share) and the total cap still applies.
            for (j, r) in c.rate_allocation.iter().enumerate() {
                if !names.contains(r.policy.as_str()) {
                    e.push(format!("{s}::rate_allocation::{j}::policy: no sub-policy named {:?}", r.policy));
                }
            }
        }
        "genai_cost" => {
            let c = section!(genai_cost);
            if !(c.min_cost > 0.0 && c.min_cost.is_finite()) {
                e.push(format!("{at}::genai_cost::min_cost: must be > 0"));
            }
        }
        "genai_tokens" => {
            if section!(genai_tokens).min_tokens == 0 {
                e.push(format!("{at}::genai_tokens::min_tokens: must be > 0"));
            }
        }
        "genai_error" => {
            let c = section!(genai_error);
            for (j, t) in c.error_types.iter().enumerate() {
                if t.is_empty() {
                    e.push(format!("{at}::genai_error::error_types::{j}: must not be empty"));
                }
            }
        }
        "genai_evaluation" => {
            let c = section!(genai_evaluation);
            let s = format!("{at}::genai_evaluation");
            if c.name.is_empty() {
                e.push(format!("{s}::name: must not be empty"));
            }
            if let (Some(lo), Some(hi)) = (c.min_score, c.max_score) {
                if lo > hi {
                    e.push(format!("{s}::max_score: must be >= min_score"));
                }
            }
            for (f, v) in [("min_score", c.min_score), ("max_score", c.max_score)] {
                if v.is_some_and(|v| !v.is_finite()) {
                    e.push(format!("{s}::{f}: must be a finite number"));
                }
            }
        }
        "genai_loop" => {
            let c = section!(genai_loop);
            if c.max_llm_calls.is_none() && c.max_same_tool_calls.is_none() {
                e.push(format!("{at}::genai_loop: at least one of max_llm_calls or max_same_tool_calls must be set"));
            }
        }
        _ => unreachable!("checked against KINDS"),
    }
}
