//! Policies, compiled from config into two parts:
//!
//! * [`Pred`]s: per-span (and per-resource) tests run once at ingest. Each
//!   owns one bit; a trace's `bits` say which ones any of its spans passed.
//! * [`Policy`]: the decision tree, evaluated once per trace from its bits
//!   and aggregates, so buffered spans are never decoded to decide.

mod attribute;
mod composite;
pub(crate) mod genai;
mod probabilistic;
mod rate;
pub(crate) mod span_fields;

use std::time::Instant;

pub(crate) use attribute::AttrMatch;
use composite::Composite;
use genai::{ErrorMatch, EvalMatch};
use probabilistic::Probabilistic;
#[cfg(test)]
pub(crate) use probabilistic::{fnv1a64, threshold};
use rate::{RateLimiting, TokenBucket};
use span_fields::TraceStateMatch;

use crate::config::PolicyConfig;
use crate::trace_state::{TraceId, TraceState};

/// Bits in a trace's match set.
pub(crate) const MAX_PREDICATES: usize = 128;

/// A policy's vote, as the Collector's `samplingpolicy.Decision`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    NotSampled,
    Sampled,
    /// `invert_match` and the value was absent: sample unless another policy said no.
    InvertSampled,
    /// `invert_match` and the value was present: veto.
    InvertNotSampled,
    /// A `drop` policy matched: veto.
    Dropped,
}

/// What a policy sees of one trace.
pub(crate) struct Ctx<'a> {
    pub id: &'a TraceId,
    pub trace: &'a TraceState,
    pub now: Instant,
    /// Whole seconds on the sampler's clock, for the per-second limits.
    pub second: u64,
}

/// A per-span test folded into the trace's bits at ingest.
pub(crate) enum Pred {
    /// Resource and span attributes with this key.
    Attr {
        key: String,
        m: AttrMatch,
    },
    /// Bit mask of status codes.
    Status(u8),
    TraceState(TraceStateMatch),
    TraceFlags,
    GenaiError(ErrorMatch),
    GenaiEval(EvalMatch),
}

#[derive(Default)]
pub(crate) struct Predicates {
    pub list: Vec<Pred>,
    /// Some policy reads GenAI attributes (tokens, cost, LLM calls, tools).
    pub genai: bool,
    /// Some `genai_loop` limits calls per tool, so tools are counted.
    pub tools: bool,
}

impl Predicates {
    fn add(&mut self, p: Pred) -> u8 {
        self.list.push(p);
        (self.list.len() - 1) as u8
    }
}

pub(crate) enum Policy {
    Always,
    /// Whole ms; `hi` 0 = no upper bound.
    Latency {
        lo: i64,
        hi: i64,
    },
    /// A predicate bit; `invert` gives the Collector's inverted decisions.
    Match {
        bit: u8,
        invert: bool,
    },
    Probabilistic(Probabilistic),
    SpanCount {
        min: i64,
        max: i64,
    },
    RateLimiting(RateLimiting),
    BytesLimiting(TokenBucket),
    And(Vec<Policy>),
    Drop(Vec<Policy>),
    Composite(Box<Composite>),
    GenaiCost(f64),
    GenaiTokens(u64),
    GenaiLoop {
        llm: Option<u32>,
        tool: Option<u32>,
    },
}

impl Policy {
    /// Compiles a validated policy, registering its predicates.
    pub fn compile(c: &PolicyConfig, preds: &mut Predicates) -> Policy {
        let bit = |preds: &mut Predicates, p: Pred, invert: bool| Policy::Match { bit: preds.add(p), invert };
        if c.kind.starts_with("genai_") {
            preds.genai = true;
        }
        match c.kind.as_str() {
            "latency" => {
                let l = c.latency.clone().unwrap_or_default();
                Policy::Latency { lo: l.threshold_ms, hi: l.upper_threshold_ms }
            }
            "status_code" => {
                bit(preds, Pred::Status(span_fields::status_mask(&c.status_code.clone().unwrap_or_default())), false)
            }
            "probabilistic" => {
                let p = c.probabilistic.clone().unwrap_or_default();
                Policy::Probabilistic(Probabilistic::new(&p.hash_salt, p.sampling_percentage))
            }
            "string_attribute" => {
                let s = c.string_attribute.clone().unwrap_or_default();
                bit(preds, Pred::Attr { key: s.key.clone(), m: AttrMatch::string(&s) }, s.invert_match)
            }
            "numeric_attribute" => {
                let n = c.numeric_attribute.clone().unwrap_or_default();
                bit(preds, Pred::Attr { key: n.key.clone(), m: AttrMatch::numeric(&n) }, n.invert_match)
            }
            "boolean_attribute" => {
                let b = c.boolean_attribute.clone().unwrap_or_default();
                bit(preds, Pred::Attr { key: b.key.clone(), m: AttrMatch::boolean(&b) }, b.invert_match)
            }
            "span_count" => {
                let s = c.span_count.clone().unwrap_or_default();
                Policy::SpanCount { min: s.min_spans as i64, max: s.max_spans as i64 }
            }
            "rate_limiting" => {
                Policy::RateLimiting(RateLimiting::new(c.rate_limiting.clone().unwrap_or_default().spans_per_second))
            }
            "bytes_limiting" => {
                let b = c.bytes_limiting.clone().unwrap_or_default();
                Policy::BytesLimiting(TokenBucket::new(b.bytes_per_second, b.burst_capacity))
            }
            "trace_state" => {
                bit(preds, Pred::TraceState(TraceStateMatch::new(&c.trace_state.clone().unwrap_or_default())), false)
            }
            "trace_flags" => bit(preds, Pred::TraceFlags, false),
            "and" => {
                Policy::And(c.and.iter().flat_map(|a| &a.and_sub_policy).map(|p| Policy::compile(p, preds)).collect())
            }
            "drop" => Policy::Drop(
                c.drop.iter().flat_map(|a| &a.drop_sub_policy).map(|p| Policy::compile(p, preds)).collect(),
            ),
            "composite" => Policy::Composite(Box::new(Composite::new(&c.composite.clone().unwrap_or_default(), |p| {
                Policy::compile(p, preds)
            }))),
            "genai_cost" => Policy::GenaiCost(c.genai_cost.clone().unwrap_or_default().min_cost),
            "genai_tokens" => Policy::GenaiTokens(c.genai_tokens.clone().unwrap_or_default().min_tokens),
            "genai_error" => {
                bit(preds, Pred::GenaiError(ErrorMatch::new(&c.genai_error.clone().unwrap_or_default())), false)
            }
            "genai_evaluation" => {
                bit(preds, Pred::GenaiEval(EvalMatch::new(&c.genai_evaluation.clone().unwrap_or_default())), false)
            }
            "genai_loop" => {
                let l = c.genai_loop.clone().unwrap_or_default();
                preds.tools |= l.max_same_tool_calls.is_some();
                Policy::GenaiLoop { llm: l.max_llm_calls, tool: l.max_same_tool_calls }
            }
            // "always_sample"; validation rejected anything unknown.
            _ => Policy::Always,
        }
    }

    pub fn evaluate(&mut self, cx: &Ctx) -> Decision {
        use Decision::*;
        let t = cx.trace;
        let yes = |b: bool| if b { Sampled } else { NotSampled };
        match self {
            Policy::Always => Sampled,
            Policy::Latency { lo, hi } => {
                let ms = t.duration_ms();
                // As the Collector: `>= lo` alone, `lo < ms <= hi` with an upper bound.
                yes(if *hi == 0 { ms >= *lo } else { *lo < ms && ms <= *hi })
            }
            Policy::Match { bit, invert } => {
                let hit = t.bits() & (1u128 << *bit) != 0;
                match (*invert, hit) {
                    (false, h) => yes(h),
                    (true, true) => InvertNotSampled,
                    (true, false) => InvertSampled,
                }
            }
            Policy::Probabilistic(p) => yes(p.sampled(cx.id)),
            Policy::SpanCount { min, max } => {
                let n = t.spans as i64;
                yes(n >= *min && (*max == 0 || n <= *max))
            }
            Policy::RateLimiting(r) => yes(r.admit(t.spans as i64, cx.second)),
            Policy::BytesLimiting(b) => yes(b.allow(t.encoded_bytes() as u64, cx.now)),
            // Every sub-policy is asked in order until one says no, as the Collector.
            Policy::And(subs) => yes(subs.iter_mut().all(|s| !matches!(s.evaluate(cx), NotSampled | InvertNotSampled))),
            Policy::Drop(subs) => {
                if subs.iter_mut().all(|s| !matches!(s.evaluate(cx), NotSampled | InvertNotSampled)) {
                    Dropped
                } else {
                    NotSampled
                }
            }
            Policy::Composite(c) => c.evaluate(cx),
            Policy::GenaiCost(min) => yes(t.cost >= *min),
            Policy::GenaiTokens(min) => yes(t.tokens >= *min),
            Policy::GenaiLoop { llm, tool } => {
                yes(llm.is_some_and(|m| t.llm_calls > m) || tool.is_some_and(|m| t.max_tool_calls() > m))
            }
        }
    }
}
