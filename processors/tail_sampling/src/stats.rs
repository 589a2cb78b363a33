//! Counters for self-metrics and tests.

use crate::policy::Decision;

/// A snapshot of the sampler. Traces are counted once each:
/// `traces_sampled + traces_dropped + traces_buffered == traces_received`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Traces that entered the buffer (a trace whose decision was forgotten
    /// and whose spans keep coming counts again).
    pub traces_received: u64,
    pub traces_buffered: u64,
    pub spans_buffered: u64,
    /// What the budget is checked against: span records, per-trace
    /// bookkeeping and the shared resource/scope headers.
    pub bytes_buffered: u64,
    /// Decided and kept.
    pub traces_sampled: u64,
    /// Decided and not kept (including `drop` policies and shutdown drops).
    pub traces_dropped: u64,
    /// Decided before `decision_wait` because `num_traces` or
    /// `max_buffer_bytes` was reached (oldest first).
    pub evicted_early: u64,
    /// Decided at once because the trace outgrew `max_trace_bytes`.
    pub decided_over_trace_cap: u64,
    /// Spans whose trace was already decided, passed on or dropped by the
    /// remembered decision.
    pub late_spans_sampled: u64,
    pub late_spans_dropped: u64,
    pub spans_received: u64,
    pub spans_sampled: u64,
    pub spans_dropped: u64,
    /// Top-level policies, in config order.
    pub policies: Vec<PolicyStats>,
}

/// How often one top-level policy voted each way.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyStats {
    pub name: String,
    pub sampled: u64,
    pub not_sampled: u64,
    pub inverted_sampled: u64,
    pub inverted_not_sampled: u64,
    pub dropped: u64,
    /// Traces kept and credited to this policy (`sampling.policy`).
    pub kept: u64,
}

impl PolicyStats {
    pub(crate) fn count(&mut self, d: Decision) {
        *match d {
            Decision::Sampled => &mut self.sampled,
            Decision::NotSampled => &mut self.not_sampled,
            Decision::InvertSampled => &mut self.inverted_sampled,
            Decision::InvertNotSampled => &mut self.inverted_not_sampled,
            Decision::Dropped => &mut self.dropped,
        } += 1;
    }
}
