//! Per-resource state and the per-span aggregation.

use std::hash::BuildHasher;

use aiotel_api::otlp::common::v1::{any_value::Value, KeyValue};
use aiotel_api::otlp::trace::v1::{ResourceSpans, Span};
use hashbrown::HashMap;

use crate::dims::{span_kind_id, status_id, KeyBuf, Slot, FROM_EVENT, FROM_RESOURCE, FROM_SPAN, S_INPUT, S_OUTPUT};
use crate::genai::{evaluations, GenAiSlots};
use crate::histogram::{Explicit, Exponential};
use crate::plan::{Buckets, GenAiPlan, Plan};
use crate::series::{KeyHasher, Series, Store};

/// At most this many currencies get a cost metric per resource; more are counted as dropped.
pub(crate) const MAX_CURRENCIES: usize = 8;

pub(crate) enum Durations {
    Explicit(Store<Explicit>),
    Exponential(Store<Exponential>),
    Off,
}

pub(crate) struct GenAiState {
    pub token_usage: Store<Explicit>,
    pub op_duration: Store<Explicit>,
    pub ttft: Store<Explicit>,
    pub tpot: Store<Explicit>,
    pub eval_score: Store<Explicit>,
    pub eval_results: Store<u64>,
    pub cost: Vec<(Box<str>, Store<f64>)>,
}

impl GenAiState {
    fn new(limit: usize) -> Self {
        Self {
            token_usage: Store::new(limit),
            op_duration: Store::new(limit),
            ttft: Store::new(limit),
            tpot: Store::new(limit),
            eval_score: Store::new(limit),
            eval_results: Store::new(limit),
            cost: Vec::new(),
        }
    }

    pub fn histograms(&self) -> [(&'static str, &Store<Explicit>); 5] {
        [
            ("gen_ai.client.token.usage", &self.token_usage),
            ("gen_ai.client.operation.duration", &self.op_duration),
            ("gen_ai.server.time_to_first_token", &self.ttft),
            ("gen_ai.server.time_per_output_token", &self.tpot),
            ("gen_ai.evaluation.score", &self.eval_score),
        ]
    }

    fn expire(&mut self, cutoff: u64) {
        for s in [&mut self.token_usage, &mut self.op_duration, &mut self.ttft, &mut self.tpot, &mut self.eval_score] {
            s.expire(cutoff);
        }
        self.eval_results.expire(cutoff);
        self.cost.iter_mut().for_each(|(_, s)| s.expire(cutoff));
        self.cost.retain(|(_, s)| !s.is_empty());
    }

    fn clear_exemplars(&mut self) {
        for s in [&mut self.token_usage, &mut self.op_duration, &mut self.ttft, &mut self.tpot, &mut self.eval_score] {
            s.clear_exemplars();
        }
        self.eval_results.clear_exemplars();
        self.cost.iter_mut().for_each(|(_, s)| s.clear_exemplars());
    }
}

pub(crate) struct ResourceState {
    id: Box<[u8]>,
    pub attrs: Vec<KeyValue>,
    pub last_seen: u64,
    pub calls: Store<u64>,
    pub duration: Durations,
    pub events: Store<u64>,
    pub genai: Option<Box<GenAiState>>,
}

impl ResourceState {
    pub fn expire(&mut self, cutoff: u64) {
        self.calls.expire(cutoff);
        self.events.expire(cutoff);
        match &mut self.duration {
            Durations::Explicit(s) => s.expire(cutoff),
            Durations::Exponential(s) => s.expire(cutoff),
            Durations::Off => {}
        }
        if let Some(g) = &mut self.genai {
            g.expire(cutoff);
        }
    }

    pub fn clear_exemplars(&mut self) {
        self.calls.clear_exemplars();
        self.events.clear_exemplars();
        match &mut self.duration {
            Durations::Explicit(s) => s.clear_exemplars(),
            Durations::Exponential(s) => s.clear_exemplars(),
            Durations::Off => {}
        }
        if let Some(g) = &mut self.genai {
            g.clear_exemplars();
        }
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub spans: u64,
    pub genai_spans: u64,
    pub resources_evicted: u64,
    pub ignored_batches: u64,
    pub dropped_currencies: u64,
}

pub(crate) struct State {
    pub resources: Vec<ResourceState>,
    index: HashMap<Box<[u8]>, u32, KeyHasher>,
    key: KeyBuf,
    hasher: KeyHasher,
    pub counters: Counters,
}

impl State {
    pub fn new() -> Self {
        Self {
            resources: Vec::new(),
            index: HashMap::default(),
            key: KeyBuf::default(),
            hasher: KeyHasher::default(),
            counters: Counters::default(),
        }
    }

    /// Forgets everything (delta temporality, after a flush).
    pub fn clear(&mut self) {
        self.resources.clear();
        self.index.clear();
    }

    /// Drops resources not seen since `cutoff`.
    pub fn expire_resources(&mut self, cutoff: u64) {
        let mut i = 0;
        while i < self.resources.len() {
            if self.resources[i].last_seen < cutoff {
                self.remove_resource(i);
            } else {
                i += 1;
            }
        }
    }

    fn remove_resource(&mut self, i: usize) {
        let gone = self.resources.swap_remove(i);
        self.index.remove(&gone.id);
        if let Some(moved) = self.resources.get(i) {
            *self.index.get_mut(&moved.id).expect("indexed") = i as u32;
        }
    }

    pub fn index_bytes(&self) -> usize {
        self.index.capacity() * (std::mem::size_of::<(Box<[u8]>, u32)>() + 1)
            + self.resources.capacity() * std::mem::size_of::<ResourceState>()
            + self.key.buf.capacity()
    }

    /// The state of the resource with these attributes, created (and the least
    /// recently seen one dropped past the cap) if new.
    fn resource(&mut self, plan: &Plan, attrs: &[KeyValue], now: u64) -> usize {
        let mut ident: Vec<&KeyValue> = if plan.resource_key.is_empty() {
            attrs.iter().collect()
        } else {
            attrs.iter().filter(|a| plan.resource_key.binary_search(&a.key).is_ok()).collect()
        };
        ident.sort_by(|a, b| a.key.cmp(&b.key));
        self.key.clear();
        for a in ident {
            self.key.str(&a.key);
            match &a.value {
                Some(v) => self.key.value(v),
                None => self.key.absent(),
            }
        }
        if let Some(&i) = self.index.get(&self.key.buf[..]) {
            self.resources[i as usize].last_seen = now;
            return i as usize;
        }
        if self.resources.len() >= plan.max_resources {
            let lru = (0..self.resources.len()).min_by_key(|&i| self.resources[i].last_seen).unwrap_or(0);
            self.remove_resource(lru);
            self.counters.resources_evicted += 1;
        }
        let id: Box<[u8]> = self.key.buf.as_slice().into();
        self.index.insert(id.clone(), self.resources.len() as u32);
        self.resources.push(ResourceState {
            id,
            attrs: attrs.to_vec(),
            last_seen: now,
            calls: Store::new(plan.limit),
            duration: match &plan.histogram {
                Some(Buckets::Explicit(_)) => Durations::Explicit(Store::new(plan.limit)),
                Some(Buckets::Exponential(_)) => Durations::Exponential(Store::new(plan.limit)),
                None => Durations::Off,
            },
            events: Store::new(plan.limit),
            genai: None,
        });
        self.resources.len() - 1
    }

    pub fn aggregate(&mut self, plan: &Plan, batch: &[ResourceSpans], now: u64) {
        let mut res_slots = vec![Slot::default(); plan.table.slots];
        let mut slots = res_slots.clone();
        for rs in batch {
            let rattrs = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            res_slots.fill(Slot::default());
            plan.table.fill(rattrs, FROM_RESOURCE, &mut res_slots);
            // The Collector derives R.E.D. metrics only for resources that name their service.
            let service = rattrs.iter().find(|a| a.key == "service.name").and_then(|a| match &a.value {
                Some(v) => match &v.value {
                    Some(Value::StringValue(s)) => Some(s.as_str()),
                    _ => None,
                },
                None => None,
            });
            let ri = self.resource(plan, rattrs, now);
            let Self { resources, key, hasher, counters, .. } = self;
            let res = &mut resources[ri];
            for ss in &rs.scope_spans {
                let scope = ss.scope.as_ref().filter(|s| !s.name.is_empty() && plan.include_scope.contains(&s.name));
                let scope = scope.map(|s| (s.name.as_str(), s.version.as_str()));
                for span in &ss.spans {
                    counters.spans += 1;
                    slots.copy_from_slice(&res_slots);
                    plan.table.fill(&span.attributes, FROM_SPAN, &mut slots);
                    let mut ctx =
                        Ctx { key, hasher, sealed: (0, 0), span, slots: &slots, now, exemplars: plan.exemplars };
                    if let Some(service) = service {
                        red(plan, res, &mut ctx, service, scope);
                    }
                    if let Some(g) = &plan.genai {
                        genai(g, res, &mut ctx, counters);
                    }
                }
            }
        }
    }
}

/// What recording one span needs besides the plan and the resource.
struct Ctx<'a, 'b> {
    key: &'a mut KeyBuf,
    hasher: &'a KeyHasher,
    /// Length and hash of the key prefix shared by the next lookups: only
    /// the short metric-specific rest is hashed per lookup.
    sealed: (usize, u64),
    span: &'b Span,
    slots: &'a [Slot<'b>],
    now: u64,
    exemplars: Option<usize>,
}

impl Ctx<'_, '_> {
    /// Marks the key so far as the prefix of the next lookups. A store must
    /// always be looked up with the same prefix split, so equal keys hash equal.
    fn seal(&mut self) {
        self.sealed = (self.key.len(), self.hasher.hash_one(&self.key.buf));
    }

    fn series<'s, A>(&self, store: &'s mut Store<A>, init: impl FnOnce() -> A) -> (&'s mut Series<A>, bool) {
        let (n, prefix) = self.sealed;
        let hash = prefix.rotate_left(23) ^ self.hasher.hash_one(&self.key.buf[n..]);
        store.get_or_insert(hash, &self.key.buf, self.now, init)
    }

    fn exemplar<A>(&self, s: &mut Series<A>, overflow: bool, value: f64) {
        if let (Some(max), false) = (self.exemplars, overflow) {
            s.exemplar(max, &self.span.trace_id, &self.span.span_id, value);
        }
    }

    fn observe(&mut self, store: &mut Store<Explicit>, bounds: &[f64], v: f64) {
        let (s, overflow) = self.series(store, || Explicit::new(bounds));
        s.agg.observe(bounds, v);
        self.exemplar(s, overflow, v);
    }

    fn scope(&mut self, scope: Option<(&str, &str)>) {
        match scope {
            Some((name, version)) => {
                self.key.str(name);
                if version.is_empty() {
                    self.key.absent();
                } else {
                    self.key.str(version);
                }
            }
            None => {
                self.key.absent();
                self.key.absent();
            }
        }
    }
}

/// The Collector's calls, duration and events.
fn red(plan: &Plan, res: &mut ResourceState, cx: &mut Ctx, service: &str, scope: Option<(&str, &str)>) {
    let span = cx.span;
    let duration = span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano) as f64 / plan.unit_nanos;
    let code = span.status.as_ref().map_or(0, |s| s.code);
    cx.key.clear();
    let [no_service, no_name, no_kind, no_status] = plan.excluded;
    if !no_service {
        cx.key.str(service);
    }
    if !no_name {
        cx.key.str(&span.name);
    }
    if !no_kind {
        cx.key.static_str(span_kind_id(span.kind));
    }
    if !no_status {
        cx.key.static_str(status_id(code));
    }
    for d in &plan.dims {
        d.write(cx.slots, cx.key);
    }
    let base = cx.key.len();
    cx.seal();

    for d in &plan.calls_dims {
        d.write(cx.slots, cx.key);
    }
    cx.scope(scope);
    let (s, overflow) = cx.series(&mut res.calls, || 0);
    s.agg += 1;
    cx.exemplar(s, overflow, duration);

    if !matches!(res.duration, Durations::Off) {
        cx.key.truncate(base);
        for d in &plan.duration_dims {
            d.write(cx.slots, cx.key);
        }
        cx.scope(scope);
        match (&mut res.duration, &plan.histogram) {
            (Durations::Explicit(store), Some(Buckets::Explicit(bounds))) => cx.observe(store, bounds, duration),
            (Durations::Exponential(store), Some(Buckets::Exponential(max))) => {
                let (s, overflow) = cx.series(store, Exponential::default);
                s.agg.observe(duration, *max);
                cx.exemplar(s, overflow, duration);
            }
            _ => {}
        }
    }

    if plan.events {
        for event in &span.events {
            cx.key.truncate(base);
            for (d, name) in &plan.event_dims {
                // A span attribute wins, then the event's, then the resource's.
                let slot = cx.slots[d.slot as usize];
                let from_event = || event.attributes.iter().find(|a| a.key == *name).and_then(|a| a.value.as_ref());
                let v = match slot.val {
                    Some(v) if slot.prio < FROM_EVENT => Some(v),
                    _ => from_event().or(slot.val),
                };
                cx.key.value_or(v, d.default.as_deref());
            }
            cx.scope(scope);
            let (s, overflow) = cx.series(&mut res.events, || 0);
            s.agg += 1;
            cx.exemplar(s, overflow, duration);
        }
    }
}

/// The OTel GenAI metrics of one span, and its evaluation events.
fn genai(g: &GenAiPlan, res: &mut ResourceState, cx: &mut Ctx, counters: &mut crate::aggregate::Counters) {
    let span = cx.span;
    let r = g.slots.read(span, cx.slots);
    let has_evals = span.events.iter().any(|e| e.name == crate::genai::EVALUATION_EVENT);
    if !r.is_genai && !has_evals {
        return;
    }
    let state = res.genai.get_or_insert_with(|| Box::new(GenAiState::new(g.limit)));
    cx.key.clear();
    g.slots.write_common(span, cx.slots, cx.key);
    let common = cx.key.len();
    cx.seal();

    if r.is_genai {
        counters.genai_spans += 1;
        cx.key.truncate(common);
        match r.error {
            Some(e) => GenAiSlots::write_error(e, cx.key),
            None => cx.key.absent(),
        }
        cx.observe(&mut state.op_duration, &g.duration_bounds, r.duration_s);
    }
    if r.is_genai && r.counts_usage {
        for (tokens, kind) in [(r.input_tokens, S_INPUT), (r.output_tokens, S_OUTPUT)] {
            if let Some(n) = tokens {
                cx.key.truncate(common);
                cx.key.static_str(kind);
                cx.observe(&mut state.token_usage, &g.token_bounds, n);
            }
        }
        // Streaming timings describe successful responses only.
        if let (Some(ttft), None) = (r.ttft_s, r.error) {
            cx.key.truncate(common);
            cx.observe(&mut state.ttft, &g.ttft_bounds, ttft);
            if let Some(out) = r.output_tokens.filter(|n| *n > 1.0) {
                if r.duration_s >= ttft {
                    cx.observe(&mut state.tpot, &g.tpot_bounds, (r.duration_s - ttft) / (out - 1.0));
                }
            }
        }
        if let Some(cost) = r.cost {
            let currency = r.currency.filter(|c| !c.is_empty()).unwrap_or("USD");
            let at = match state.cost.iter().position(|(c, _)| &**c == currency) {
                Some(i) => Some(i),
                None if state.cost.len() < MAX_CURRENCIES => {
                    state.cost.push((currency.into(), Store::new(g.limit)));
                    Some(state.cost.len() - 1)
                }
                None => None,
            };
            match at {
                Some(i) => {
                    cx.key.truncate(common);
                    let (s, overflow) = cx.series(&mut state.cost[i].1, || 0.0);
                    s.agg += cost;
                    cx.exemplar(s, overflow, cost);
                }
                None => counters.dropped_currencies += 1,
            }
        }
    }
    for ev in evaluations(span) {
        cx.key.truncate(common);
        cx.key.value_or(ev.name, None);
        let with_name = cx.key.len();
        cx.key.value_or(ev.label, None);
        let (s, _) = cx.series(&mut state.eval_results, || 0);
        s.agg += 1;
        if let Some(score) = ev.score {
            cx.key.truncate(with_name);
            cx.observe(&mut state.eval_score, &g.score_bounds, score);
        }
    }
}
