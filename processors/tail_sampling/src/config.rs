//! Settings, with the Collector's `tail_sampling` key names.
//!
//! Every policy, at any depth, is one [`PolicyConfig`]: a `name`, a `type`
//! and one section named after the type. Sections for other types are
//! accepted and ignored, as the Collector does. Which types may nest where
//! is checked by [`TailSamplingConfig::validate`].

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TailSamplingConfig {
    /// Wait after a trace's first span before deciding it.
    #[serde(with = "humantime_serde")]
    pub decision_wait: Duration,
    /// Most traces pending a decision; the oldest is decided early past it.
    pub num_traces: u64,
    /// Sizes the trace table up front (`x decision_wait`, at most `num_traces`).
    pub expected_new_traces_per_sec: u64,
    pub decision_cache: DecisionCacheConfig,
    /// Stop evaluating at the first policy that samples (a later `drop` is skipped).
    pub sample_on_first_match: bool,
    /// On shutdown, drop pending traces instead of deciding on what arrived.
    pub drop_pending_traces_on_shutdown: bool,
    pub policies: Vec<PolicyConfig>,
    /// aiotel: memory budget of the buffer (span bytes plus per-trace
    /// bookkeeping). Past it the oldest traces are decided early.
    pub max_buffer_bytes: u64,
    /// aiotel: a trace bigger than this is decided at once; 0 = `max_buffer_bytes / 8`.
    pub max_trace_bytes: u64,
}

/// 256 MiB: ~200k GenAI traces of a few spans.
pub const DEFAULT_MAX_BUFFER_BYTES: u64 = 256 << 20;

impl Default for TailSamplingConfig {
    fn default() -> Self {
        Self {
            decision_wait: Duration::from_secs(30),
            num_traces: 50_000,
            expected_new_traces_per_sec: 0,
            decision_cache: DecisionCacheConfig::default(),
            sample_on_first_match: false,
            drop_pending_traces_on_shutdown: false,
            policies: Vec::new(),
            max_buffer_bytes: DEFAULT_MAX_BUFFER_BYTES,
            max_trace_bytes: 0,
        }
    }
}

impl TailSamplingConfig {
    /// The per-trace cap in effect.
    pub fn effective_max_trace_bytes(&self) -> u64 {
        if self.max_trace_bytes == 0 {
            (self.max_buffer_bytes / 8).max(1)
        } else {
            self.max_trace_bytes
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionCacheConfig {
    /// Trace ids remembered as sampled (LRU); 0 = off.
    pub sampled_cache_size: usize,
    /// Trace ids remembered as not sampled (LRU); 0 = off.
    pub non_sampled_cache_size: usize,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub latency: Option<LatencyConfig>,
    pub status_code: Option<StatusCodeConfig>,
    pub probabilistic: Option<ProbabilisticConfig>,
    pub string_attribute: Option<StringAttributeConfig>,
    pub numeric_attribute: Option<NumericAttributeConfig>,
    pub boolean_attribute: Option<BooleanAttributeConfig>,
    pub span_count: Option<SpanCountConfig>,
    pub rate_limiting: Option<RateLimitingConfig>,
    pub bytes_limiting: Option<BytesLimitingConfig>,
    pub trace_state: Option<TraceStateConfig>,
    pub and: Option<AndConfig>,
    pub drop: Option<DropConfig>,
    pub composite: Option<CompositeConfig>,
    pub genai_cost: Option<GenaiCostConfig>,
    pub genai_tokens: Option<GenaiTokensConfig>,
    pub genai_error: Option<GenaiErrorConfig>,
    pub genai_evaluation: Option<GenaiEvaluationConfig>,
    pub genai_loop: Option<GenaiLoopConfig>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LatencyConfig {
    /// Lower bound, ms: inclusive alone, exclusive with an upper bound (as the Collector).
    pub threshold_ms: i64,
    /// Upper bound, ms, inclusive; 0 = none.
    pub upper_threshold_ms: i64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StatusCodeConfig {
    /// `OK`, `ERROR`, `UNSET`.
    pub status_codes: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProbabilisticConfig {
    /// Empty = the Collector's default salt, so both pick the same traces.
    pub hash_salt: String,
    pub sampling_percentage: f64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StringAttributeConfig {
    pub key: String,
    pub values: Vec<String>,
    /// Values are regular expressions (unanchored, as Go's `MatchString`).
    pub enabled_regex_matching: bool,
    /// Memoised regex results; 0 = 128.
    pub cache_max_size: usize,
    pub invert_match: bool,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NumericAttributeConfig {
    pub key: String,
    /// Inclusive; unset = no lower bound.
    pub min_value: Option<i64>,
    /// Inclusive; unset = no upper bound.
    pub max_value: Option<i64>,
    pub invert_match: bool,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BooleanAttributeConfig {
    pub key: String,
    pub value: bool,
    pub invert_match: bool,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SpanCountConfig {
    pub min_spans: i32,
    /// 0 = no upper bound.
    pub max_spans: i32,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitingConfig {
    pub spans_per_second: i64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BytesLimitingConfig {
    pub bytes_per_second: i64,
    /// 0 = twice `bytes_per_second`.
    pub burst_capacity: i64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TraceStateConfig {
    pub key: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AndConfig {
    pub and_sub_policy: Vec<PolicyConfig>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DropConfig {
    pub drop_sub_policy: Vec<PolicyConfig>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CompositeConfig {
    pub max_total_spans_per_second: i64,
    /// Evaluation order by name; sub-policies not listed follow in config order.
    pub policy_order: Vec<String>,
    pub composite_sub_policy: Vec<PolicyConfig>,
    pub rate_allocation: Vec<RateAllocationConfig>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateAllocationConfig {
    pub policy: String,
    /// Share of `max_total_spans_per_second`; unlisted or <= 0 = an equal share.
    pub percent: i64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GenaiCostConfig {
    /// Sample when the trace's summed `gen_ai.cost.total` / `llm.cost.total` reaches this.
    pub min_cost: f64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GenaiTokensConfig {
    /// Sample when the trace's input + output tokens reach this.
    pub min_tokens: u64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GenaiErrorConfig {
    /// `error.type` values (or substrings of an exception event's
    /// `exception.type`); empty = any LLM error.
    pub error_types: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GenaiEvaluationConfig {
    /// `gen_ai.evaluation.name` to look for.
    pub name: String,
    /// Inclusive bounds on `gen_ai.evaluation.score.value`.
    pub min_score: Option<f64>,
    pub max_score: Option<f64>,
    /// Accepted `gen_ai.evaluation.score.label` values; empty = any.
    pub label: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GenaiLoopConfig {
    /// Sample when the trace holds more LLM calls than this.
    pub max_llm_calls: Option<u32>,
    /// Sample when one tool is called more often than this.
    pub max_same_tool_calls: Option<u32>,
}
