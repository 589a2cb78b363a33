//! The Collector's final decision rule, and the output of kept traces.
//!
//! Policies are asked in config order. Any `drop` vetoes, then any inverted
//! "not sample" vetoes; otherwise a "sample" keeps the trace, and an inverted
//! "sample" keeps it only if no policy said "not sample". The first policy
//! (in config order) that kept it is credited in `sampling.policy`.

use std::collections::HashMap;

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, KeyValue};
use aiotel_api::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};
use aiotel_api::Payload;

use crate::intern::Groups;
use crate::policy::{Ctx, Decision, Policy};
use crate::stats::PolicyStats;

pub(crate) const POLICY_ATTRIBUTE: &str = "sampling.policy";

pub(crate) struct TopPolicy {
    pub policy: Policy,
    pub stats: PolicyStats,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Kept, credited to this policy.
    Keep(u16),
    NotSampled,
}

pub(crate) fn verdict(policies: &mut [TopPolicy], cx: &Ctx, sample_on_first_match: bool) -> Verdict {
    let (mut sampled, mut inv_sampled) = (None, None);
    let (mut not_sampled, mut inv_not, mut dropped) = (false, false, false);
    for (i, p) in policies.iter_mut().enumerate() {
        let d = p.policy.evaluate(cx);
        p.stats.count(d);
        match d {
            Decision::Sampled => sampled = sampled.or(Some(i as u16)),
            Decision::InvertSampled => inv_sampled = inv_sampled.or(Some(i as u16)),
            Decision::NotSampled => not_sampled = true,
            Decision::InvertNotSampled => inv_not = true,
            Decision::Dropped => dropped = true,
        }
        if dropped || (sample_on_first_match && d == Decision::Sampled) {
            break;
        }
    }
    let keep = if dropped || inv_not {
        None
    } else if sampled.is_some() {
        sampled
    } else if !not_sampled {
        inv_sampled
    } else {
        None
    };
    match keep {
        Some(i) => {
            policies[i as usize].stats.kept += 1;
            Verdict::Keep(i)
        }
        None => Verdict::NotSampled,
    }
}

/// Sets `sampling.policy`, replacing a value an upstream sampler left.
pub(crate) fn tag(span: &mut Span, policy: &str) {
    let v = Some(AnyValue { value: Some(Value::StringValue(policy.to_owned())) });
    match span.attributes.iter_mut().find(|kv| kv.key == POLICY_ATTRIBUTE) {
        Some(kv) => kv.value = v,
        None => span.attributes.push(KeyValue { key: POLICY_ATTRIBUTE.to_owned(), value: v, ..Default::default() }),
    }
}

/// Collects kept spans into one payload, one `ResourceSpans` per header.
#[derive(Default)]
pub(crate) struct OutBuilder {
    out: Vec<ResourceSpans>,
    by_group: HashMap<u32, usize>,
}

impl OutBuilder {
    pub fn add(&mut self, groups: &Groups, group: u32, span: Span) {
        let out = &mut self.out;
        let i = *self.by_group.entry(group).or_insert_with(|| {
            let h = groups.decode(group);
            out.push(ResourceSpans {
                resource: h.resource,
                scope_spans: vec![ScopeSpans { scope: h.scope, spans: Vec::new(), schema_url: h.scope_schema_url }],
                schema_url: h.resource_schema_url,
            });
            out.len() - 1
        });
        self.out[i].scope_spans[0].spans.push(span);
    }

    pub fn take(&mut self) -> Option<Payload> {
        self.by_group.clear();
        (!self.out.is_empty()).then(|| Payload::Traces(std::mem::take(&mut self.out)))
    }
}
