//! The `tail_sampling` processor: the Collector's policies and config keys,
//! plus GenAI policies, on a buffer with a byte budget.
//!
//! # How it works
//! Spans are grouped by trace id as they arrive. Each trace is decided
//! `decision_wait` after its first span; kept traces go on with
//! `sampling.policy` set to the first policy (in config order) that kept
//! them. Decisions are remembered (`decision_cache`) so late spans follow
//! them. The decision rule is the Collector's: any `drop` or inverted
//! "not sample" vetoes, otherwise any "sample" keeps the trace.
//!
//! Policies: `always_sample`, `latency`, `status_code`, `probabilistic`
//! (the Collector's FNV-1a hash, so both keep the same traces),
//! `string_attribute`, `numeric_attribute`, `boolean_attribute`,
//! `span_count`, `rate_limiting`, `bytes_limiting`, `trace_state`,
//! `trace_flags`, `and`, `drop`, `composite`; and aiotel's `genai_cost`,
//! `genai_tokens`, `genai_error`, `genai_evaluation`, `genai_loop`.
//!
//! # Memory
//! The Collector keeps every buffered span decoded. Here a span is kept as
//! its protobuf encoding in one byte vector per trace, behind a 2–3 byte
//! record header (header id, length); resource and scope are stored once
//! per distinct header and shared. Every policy's per-span test runs at
//! ingest and folds into a small per-trace aggregate (a match bit per
//! predicate, time bounds, span count, tokens, cost, LLM calls, tool
//! counts), so spans are decoded only when their trace is kept.
//!
//! Per buffered span this costs its encoded size, plus a 2–3 byte record
//! header, plus its share of the trace's fixed bookkeeping
//! (`buffer::TRACE_OVERHEAD`, ~240 bytes: map slot and age-queue entry at
//! average table fill) and of the shared headers; a trace's spans are
//! stored in one exactly sized allocation per batch (1.25x steps past
//! 4 KiB). Measured on 5-span GenAI traces (~300 B encoded per span):
//! `bytes_buffered` says 1.18x the encoded size (test
//! `memory::bytes_per_buffered_span_vs_encoded_size`); the allocator sees
//! 1.19x, ~1.21x with malloc's per-allocation overhead (bench
//! `throughput`), against 2.8x for the same spans held decoded.
//!
//! The budget: `max_buffer_bytes` (default 256 MiB) bounds all of the
//! above; `num_traces` bounds the trace count. Past either, the oldest
//! pending trace is decided early on what it has (`Stats::evicted_early`),
//! never dropped uncounted. A trace past `max_trace_bytes` (default
//! `max_buffer_bytes / 8`) is decided at once, so one huge trace cannot
//! starve the rest; its later spans follow that decision. The decision
//! cache is not in the budget: about 60 bytes per remembered id.
//!
//! # Differences from the Collector
//! - Attribute policies compare values of their own type only (the Collector
//!   reads a string as integer 0, for example).
//! - `composite` honours `policy_order`, and `max_total_spans_per_second`
//!   caps all sub-policies together.
//! - `bytes_limiting` charges the trace's encoded span bytes (without the
//!   resource and scope, which are shared).
//! - Late spans of kept traces get `sampling.policy` too.
//! - Not implemented: `ottl_condition`, `not`, policy extensions, and
//!   `block_on_overflow` (aiotel evicts with an early decision instead).

mod buffer;
mod cache;
mod config;
mod decide;
mod ingest;
mod intern;
mod policy;
mod sampler;
mod stats;
mod trace_state;
mod validate;

#[cfg(test)]
mod tests;

pub use config::*;
pub use sampler::TailSampler;
pub use stats::{PolicyStats, Stats};
