//! `status_code`, `trace_state` and `trace_flags`: predicates on span fields.

use std::collections::HashSet;

use aiotel_api::otlp::trace::v1::Span;

use crate::config::{StatusCodeConfig, TraceStateConfig};

/// A bit per OTLP status code (0 unset, 1 ok, 2 error).
pub(crate) fn status_mask(c: &StatusCodeConfig) -> u8 {
    c.status_codes.iter().fold(0, |m, s| {
        m | match s.as_str() {
            "UNSET" => 1,
            "OK" => 2,
            "ERROR" => 4,
            _ => 0,
        }
    })
}

pub(crate) fn status_code(span: &Span) -> i32 {
    span.status.as_ref().map_or(0, |s| s.code)
}

pub(crate) fn status_matches(mask: u8, span: &Span) -> bool {
    let code = status_code(span);
    (0..3).contains(&code) && mask & (1 << code) != 0
}

pub(crate) fn trace_flags_sampled(span: &Span) -> bool {
    // The low byte of `flags` is the W3C trace-flags byte; bit 0 is "sampled".
    span.flags & 0x01 != 0
}

pub(crate) struct TraceStateMatch {
    key: String,
    values: HashSet<String>,
}

impl TraceStateMatch {
    pub fn new(c: &TraceStateConfig) -> Self {
        // As the Collector: a `key=value` member is at most 256 characters.
        let values = c.values.iter().filter(|v| !v.is_empty() && c.key.len() + v.len() < 256).cloned().collect();
        TraceStateMatch { key: c.key.clone(), values }
    }

    /// Looks `key` up in a W3C `tracestate` header (`k1=v1,k2=v2`).
    pub fn matches(&self, trace_state: &str) -> bool {
        if trace_state.is_empty() {
            return false;
        }
        trace_state
            .split(',')
            .filter_map(|m| m.trim().split_once('='))
            .find(|(k, _)| *k == self.key)
            .is_some_and(|(_, v)| self.values.contains(v))
    }
}
