//! `composite`: sub-policies in order, each with a spans-per-second share.

use super::{Ctx, Decision, Policy};
use crate::config::{CompositeConfig, PolicyConfig};

pub(crate) struct Composite {
    max_total: i64,
    subs: Vec<Sub>,
    second: u64,
    total: i64,
}

struct Sub {
    policy: Policy,
    allocated: i64,
    spent: i64,
}

impl Composite {
    pub fn new(c: &CompositeConfig, mut compile: impl FnMut(&PolicyConfig) -> Policy) -> Self {
        let n = c.composite_sub_policy.len().max(1);
        let equal = c.max_total_spans_per_second as f64 / n as f64;
        // `policy_order` first, then the rest in config order.
        let mut order: Vec<&PolicyConfig> =
            c.policy_order.iter().filter_map(|n| c.composite_sub_policy.iter().find(|p| &p.name == n)).collect();
        for p in &c.composite_sub_policy {
            if !order.iter().any(|q| q.name == p.name) {
                order.push(p);
            }
        }
        let subs = order
            .into_iter()
            .map(|p| {
                // Unlisted or <= 0 percent: an equal share (the Collector since #49857).
                let pct = c.rate_allocation.iter().find(|r| r.policy == p.name).map_or(0, |r| r.percent);
                let allocated =
                    if pct > 0 { pct as f64 / 100.0 * c.max_total_spans_per_second as f64 } else { equal } as i64;
                Sub { policy: compile(p), allocated, spent: 0 }
            })
            .collect();
        Composite { max_total: c.max_total_spans_per_second, subs, second: u64::MAX, total: 0 }
    }

    /// The first sub-policy that samples decides; over its share (or the
    /// total), the trace is not sampled and later sub-policies are not asked,
    /// as in the Collector. Unlike the Collector, the total cap counts all
    /// sub-policies together rather than each one alone.
    pub fn evaluate(&mut self, cx: &Ctx) -> Decision {
        if cx.second != self.second {
            self.second = cx.second;
            self.total = 0;
            self.subs.iter_mut().for_each(|s| s.spent = 0);
        }
        let spans = cx.trace.spans as i64;
        for sub in &mut self.subs {
            if matches!(sub.policy.evaluate(cx), Decision::Sampled | Decision::InvertSampled) {
                if sub.spent + spans <= sub.allocated && self.total + spans <= self.max_total {
                    sub.spent += spans;
                    self.total += spans;
                    return Decision::Sampled;
                }
                return Decision::NotSampled;
            }
        }
        Decision::NotSampled
    }
}
