//! Decisions remembered after a trace's spans are released, so late spans
//! follow the decision already made (the Collector's `decision_cache`).
//!
//! With both sizes 0 the Collector still remembers decided traces while they
//! sit in its `num_traces` ring; aiotel mirrors that with one shared cache of
//! `num_traces` ids. Each entry costs about 60 bytes.

use std::collections::{HashMap, VecDeque};

use crate::config::DecisionCacheConfig;
use crate::trace_state::TraceId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cached {
    /// Kept; the index of the policy that kept it, if any.
    Sampled(Option<u16>),
    NotSampled,
}

/// An LRU set with lazy deletion: the order queue may hold stale entries,
/// recognised by their generation and compacted when the queue doubles.
struct Lru {
    cap: usize,
    map: HashMap<TraceId, (u32, Cached), foldhash::fast::RandomState>,
    order: VecDeque<(TraceId, u32)>,
    gen: u32,
}

impl Lru {
    fn new(cap: usize) -> Self {
        Lru { cap, map: HashMap::default(), order: VecDeque::new(), gen: 0 }
    }

    fn touch(&mut self, id: TraceId) -> u32 {
        self.gen = self.gen.wrapping_add(1);
        self.order.push_back((id, self.gen));
        if self.order.len() > 2 * self.cap + 16 {
            let map = &self.map;
            self.order.retain(|(id, g)| map.get(id).is_some_and(|(cur, _)| cur == g));
        }
        self.gen
    }

    fn get(&mut self, id: &TraceId) -> Option<Cached> {
        let v = self.map.get(id)?.1;
        let g = self.touch(*id);
        if let Some(e) = self.map.get_mut(id) {
            e.0 = g;
        }
        Some(v)
    }

    fn put(&mut self, id: TraceId, v: Cached) {
        let g = self.touch(id);
        self.map.insert(id, (g, v));
        while self.map.len() > self.cap {
            let Some((old, g)) = self.order.pop_front() else { break };
            if self.map.get(&old).is_some_and(|(cur, _)| *cur == g) {
                self.map.remove(&old);
            }
        }
    }
}

pub(crate) struct DecisionCache {
    sampled: Option<Lru>,
    not_sampled: Option<Lru>,
    /// Both decisions share `sampled` (the implicit cache).
    shared: bool,
}

impl DecisionCache {
    pub fn new(c: &DecisionCacheConfig, num_traces: usize) -> Self {
        if c.sampled_cache_size == 0 && c.non_sampled_cache_size == 0 {
            return DecisionCache { sampled: Some(Lru::new(num_traces.max(1))), not_sampled: None, shared: true };
        }
        let lru = |n: usize| (n > 0).then(|| Lru::new(n));
        DecisionCache { sampled: lru(c.sampled_cache_size), not_sampled: lru(c.non_sampled_cache_size), shared: false }
    }

    pub fn get(&mut self, id: &TraceId) -> Option<Cached> {
        if let Some(v) = self.sampled.as_mut().and_then(|l| l.get(id)) {
            return Some(v);
        }
        self.not_sampled.as_mut().and_then(|l| l.get(id))
    }

    pub fn put(&mut self, id: TraceId, v: Cached) {
        let lru = match v {
            Cached::Sampled(_) => self.sampled.as_mut(),
            Cached::NotSampled if self.shared => self.sampled.as_mut(),
            Cached::NotSampled => self.not_sampled.as_mut(),
        };
        if let Some(l) = lru {
            l.put(id, v);
        }
    }
}
