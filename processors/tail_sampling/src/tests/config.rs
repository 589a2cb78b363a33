//! Config shapes and validation messages.

use std::time::Duration;

use super::util::*;
use crate::{TailSampler, TailSamplingConfig};

/// The Collector README example (minus `ottl_condition`), plus aiotel's keys.
const FULL: &str = r#"
decision_wait: 10s
num_traces: 100
expected_new_traces_per_sec: 10
decision_cache: {sampled_cache_size: 100000, non_sampled_cache_size: 100000}
max_buffer_bytes: 67108864
max_trace_bytes: 1048576
policies:
  [
    {name: test-policy-1, type: always_sample},
    {name: test-policy-2, type: latency, latency: {threshold_ms: 5000, upper_threshold_ms: 10000}},
    {name: test-policy-3, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50, max_value: 100}},
    {name: test-policy-4, type: probabilistic, probabilistic: {sampling_percentage: 10}},
    {name: test-policy-5, type: status_code, status_code: {status_codes: [ERROR, UNSET]}},
    {name: test-policy-6, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}},
    {name: test-policy-7, type: string_attribute, string_attribute: {key: key2, values: [value1, val*], enabled_regex_matching: true, cache_max_size: 10}},
    {name: test-policy-8, type: rate_limiting, rate_limiting: {spans_per_second: 35}},
    {name: test-policy-9, type: bytes_limiting, bytes_limiting: {bytes_per_second: 1024000, burst_capacity: 2048000}},
    {name: test-policy-10, type: span_count, span_count: {min_spans: 2, max_spans: 20}},
    {name: test-policy-11, type: trace_state, trace_state: { key: key3, values: [value1, value2] }},
    {name: test-policy-12, type: boolean_attribute, boolean_attribute: {key: key4, value: true}},
    {name: and-policy-1, type: and, and: {and_sub_policy: [
        {name: test-and-policy-1, type: numeric_attribute, numeric_attribute: { key: key1, min_value: 50, max_value: 100 }},
        {name: test-and-policy-2, type: string_attribute, string_attribute: { key: key2, values: [ value1, value2 ] }}]}},
    {name: drop-policy-1, type: drop, drop: {drop_sub_policy: [
        {name: test-drop-policy-1, type: string_attribute, string_attribute: {key: url.path, values: [\/health, \/metrics], enabled_regex_matching: true}}]}},
    {name: composite-policy-1, type: composite, composite: {
        max_total_spans_per_second: 1000,
        policy_order: [test-composite-policy-1, test-composite-policy-2, test-composite-policy-3],
        composite_sub_policy: [
          {name: test-composite-policy-1, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50}},
          {name: test-composite-policy-2, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}},
          {name: test-composite-policy-3, type: always_sample}],
        rate_allocation: [{policy: test-composite-policy-1, percent: 50}, {policy: test-composite-policy-2, percent: 25}]}},
    {name: big-spenders, type: genai_cost, genai_cost: {min_cost: 1.0}},
    {name: token-hogs, type: genai_tokens, genai_tokens: {min_tokens: 100000}},
    {name: llm-errors, type: genai_error, genai_error: {error_types: [rate_limit_exceeded]}},
    {name: hallucinations, type: genai_evaluation, genai_evaluation: {name: hallucination, min_score: 0.5}},
    {name: runaway-agents, type: genai_loop, genai_loop: {max_llm_calls: 25, max_same_tool_calls: 10}},
  ]
"#;

#[test]
fn collector_example_parses_validates_and_builds() {
    let c = config(FULL);
    assert_eq!(c.decision_wait, Duration::from_secs(10));
    assert_eq!(c.num_traces, 100);
    assert_eq!(c.decision_cache.non_sampled_cache_size, 100_000);
    assert_eq!(c.policies.len(), 20);
    assert_eq!(c.policies[13].drop.as_ref().unwrap().drop_sub_policy[0].name, "test-drop-policy-1");
    assert_eq!(c.policies[2].numeric_attribute.as_ref().unwrap().max_value, Some(100));
    c.validate().unwrap();
    TailSampler::new(&c).unwrap();
}

#[test]
fn defaults_match_the_collector() {
    let c: TailSamplingConfig = config("policies: [{name: a, type: always_sample}]");
    assert_eq!(c.decision_wait, Duration::from_secs(30));
    assert_eq!(c.num_traces, 50_000);
    assert_eq!(c.expected_new_traces_per_sec, 0);
    assert_eq!((c.decision_cache.sampled_cache_size, c.decision_cache.non_sampled_cache_size), (0, 0));
    assert_eq!(c.max_buffer_bytes, 256 << 20);
    assert_eq!(c.effective_max_trace_bytes(), 32 << 20);
}

#[test]
fn unknown_keys_are_rejected() {
    for bad in [
        "decision_wiat: 1s\npolicies: []",
        "policies: [{name: a, type: latency, latency: {threshold: 5}}]",
        "policies: [{name: a, type: and, and: {and_sub_policy: [{name: b, type: always_sample, bogus: 1}]}}]",
        "policies: [{name: a, type: genai_cost, genai_cost: {max_cost: 1}}]",
    ] {
        assert!(serde_yaml_ng::from_str::<TailSamplingConfig>(bad).is_err(), "{bad}");
    }
}

#[test]
fn validation_messages_name_the_key_path() {
    let c = config(
        r#"
decision_wait: 0s
max_trace_bytes: 999999999999
policies:
  - {name: a, type: always_sample}
  - {name: a, type: status_code, status_code: {status_codes: [BROKEN]}}
  - {name: c, type: latency, latency: {threshold_ms: 0}}
  - {name: d, type: nope}
  - {name: e, type: numeric_attribute, numeric_attribute: {key: k}}
  - {name: f, type: and, and: {and_sub_policy: [{name: g, type: composite, composite: {}}]}}
  - {name: h, type: string_attribute, string_attribute: {key: k, values: ['(' ], enabled_regex_matching: true}}
  - {name: i, type: composite, composite: {max_total_spans_per_second: 10, policy_order: [zz],
       composite_sub_policy: [{name: j, type: always_sample}], rate_allocation: [{policy: yy, percent: 10}]}}
  - {name: k, type: genai_loop, genai_loop: {}}
  - {name: l, type: probabilistic, probabilistic: {sampling_percentage: 101}}
  - {name: m, type: latency}
"#,
    );
    let errs = c.validate().unwrap_err();
    for want in [
        "decision_wait: must be > 0",
        "max_trace_bytes: must be <= max_buffer_bytes",
        "policies::1::name: duplicate policy name \"a\"",
        "policies::1::status_code::status_codes::0: unknown status code \"BROKEN\"",
        "policies::2::latency::threshold_ms: must be > 0",
        "policies::3::type: unknown policy type \"nope\"",
        "policies::4::numeric_attribute: at least one of min_value or max_value must be set",
        "policies::5::and::and_sub_policy::0::type: composite is not allowed here",
        "policies::6::string_attribute::values::0: invalid regular expression",
        "policies::7::composite::policy_order::0: no sub-policy named \"zz\"",
        "policies::7::composite::rate_allocation::0::policy: no sub-policy named \"yy\"",
        "policies::8::genai_loop: at least one of",
        "policies::9::probabilistic::sampling_percentage: must be between 0 and 100",
        "policies::10::latency: required for type latency",
    ] {
        assert!(errs.iter().any(|e| e.starts_with(want)), "missing {want:?} in {errs:#?}");
    }
    assert_eq!(errs.len(), 14, "{errs:#?}");
    let msg = TailSampler::new(&c).err().unwrap();
    assert!(msg.contains("policies::3::type"), "{msg}");
}

#[test]
fn empty_policies_are_an_error() {
    let errs = config("decision_wait: 1s").validate().unwrap_err();
    assert_eq!(errs, vec!["policies: at least one policy is required".to_string()]);
}
