//! [`TailSampler`]: the processor the pipeline runs.

use std::time::{Duration, Instant};

use prost::Message;

use aiotel_api::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};
use aiotel_api::{Ack, Batch, Payload, Processor};

use crate::buffer::Buffer;
use crate::cache::{Cached, DecisionCache};
use crate::config::TailSamplingConfig;
use crate::decide::{tag, verdict, OutBuilder, TopPolicy, Verdict};
use crate::ingest::Ingest;
use crate::intern::encode_header;
use crate::policy::{Ctx, Policy, Predicates};
use crate::stats::{PolicyStats, Stats};
use crate::trace_state::{record_len, trace_id, SpanDelta, TraceId};

/// Why a trace is decided now.
#[derive(Clone, Copy, PartialEq)]
enum Why {
    Due,
    Evicted,
    OverCap,
    Shutdown,
}

pub struct TailSampler {
    wait: Duration,
    num_traces: usize,
    max_buffer: usize,
    max_trace: usize,
    sample_on_first_match: bool,
    drop_on_shutdown: bool,
    clock: Box<dyn Fn() -> Instant + Send>,
    /// Second 0 of the per-second rate limits.
    epoch: Instant,
    ingest: Ingest,
    policies: Vec<TopPolicy>,
    cache: DecisionCache,
    buffer: Buffer,
    out: OutBuilder,
    stats: Stats,
    /// Scratch for one run of spans: record lengths and ingest results.
    lens: Vec<(usize, usize)>,
    deltas: Vec<SpanDelta>,
    /// Durable acks of the batch being ingested, cloned onto each trace it touches.
    held: Vec<Ack>,
    /// Durable acks of the spans in `out`, sent on with them.
    out_acks: Vec<Ack>,
}

impl TailSampler {
    pub fn new(cfg: &TailSamplingConfig) -> Result<Self, String> {
        Self::with_clock(cfg, Box::new(Instant::now))
    }

    /// As [`TailSampler::new`], reading time from `clock` (tests drive it by hand).
    pub fn with_clock(cfg: &TailSamplingConfig, clock: Box<dyn Fn() -> Instant + Send>) -> Result<Self, String> {
        cfg.validate().map_err(|e| e.join("; "))?;
        let mut preds = Predicates::default();
        let policies = cfg
            .policies
            .iter()
            .map(|p| TopPolicy {
                policy: Policy::compile(p, &mut preds),
                stats: PolicyStats { name: p.name.clone(), ..Default::default() },
            })
            .collect();
        let num_traces = usize::try_from(cfg.num_traces).unwrap_or(usize::MAX);
        let expected = cfg.expected_new_traces_per_sec.saturating_mul(cfg.decision_wait.as_secs().max(1));
        let epoch = clock();
        Ok(TailSampler {
            wait: cfg.decision_wait,
            num_traces,
            max_buffer: usize::try_from(cfg.max_buffer_bytes).unwrap_or(usize::MAX),
            max_trace: usize::try_from(cfg.effective_max_trace_bytes()).unwrap_or(usize::MAX),
            sample_on_first_match: cfg.sample_on_first_match,
            drop_on_shutdown: cfg.drop_pending_traces_on_shutdown,
            clock,
            epoch,
            ingest: Ingest::new(preds),
            policies,
            cache: DecisionCache::new(&cfg.decision_cache, num_traces),
            buffer: Buffer::with_capacity((expected as usize).min(num_traces)),
            out: OutBuilder::default(),
            stats: Stats::default(),
            lens: Vec::new(),
            deltas: Vec::new(),
            held: Vec::new(),
            out_acks: Vec::new(),
        })
    }

    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.traces_buffered = self.buffer.len() as u64;
        s.spans_buffered = self.buffer.spans();
        s.bytes_buffered = self.buffer.bytes() as u64;
        s.policies = self.policies.iter().map(|p| p.stats.clone()).collect();
        s
    }

    fn ingest(&mut self, resource_spans: Vec<ResourceSpans>, now: Instant) {
        let deadline = now + self.wait;
        for rs in resource_spans {
            let ResourceSpans { resource, scope_spans, schema_url } = rs;
            let res_bits = resource.as_ref().map_or(0, |r| self.ingest.resource_bits(&r.attributes));
            let res_bytes = resource.as_ref().map(|r| r.encode_to_vec());
            for ss in scope_spans {
                let ScopeSpans { scope, mut spans, schema_url: scope_url } = ss;
                if spans.is_empty() {
                    continue;
                }
                // Pinned while this scope's spans go in, even if every trace using it is decided meanwhile.
                let header = encode_header(res_bytes.as_deref(), &schema_url, scope.as_ref(), &scope_url);
                let group = self.buffer.groups.intern(header);
                // Spans of one trace usually come together: one lookup and one allocation per run.
                let mut i = 0;
                while i < spans.len() {
                    let j =
                        i + spans[i..].iter().position(|s| s.trace_id != spans[i].trace_id).unwrap_or(spans.len() - i);
                    self.ingest_run(&mut spans[i..j], group, res_bits, now, deadline);
                    i = j;
                }
                self.buffer.groups.release(group);
            }
        }
    }

    fn ingest_run(&mut self, run: &mut [Span], group: u32, res_bits: u128, now: Instant, deadline: Instant) {
        self.stats.spans_received += run.len() as u64;
        let id = trace_id(&run[0].trace_id);
        if !self.buffer.contains(&id) {
            if let Some(c) = self.cache.get(&id) {
                for span in run {
                    self.late_span(std::mem::take(span), group, c);
                }
                return;
            }
            while self.buffer.len() >= self.num_traces {
                self.evict_oldest(now);
            }
            self.stats.traces_received += 1;
        }
        self.lens.clear();
        self.lens.extend(run.iter().map(|s| record_len(group, s)));
        self.deltas.clear();
        for s in run.iter() {
            self.deltas.push(self.ingest.span(s, res_bits));
        }
        let size = self.buffer.push_run(id, group, run, &self.lens, &self.deltas, &self.held, deadline);
        if size > self.max_trace {
            self.decide(id, now, Why::OverCap);
        }
        while self.buffer.bytes() > self.max_buffer && self.buffer.len() > 0 {
            self.evict_oldest(now);
        }
    }

    fn late_span(&mut self, mut span: Span, group: u32, c: Cached) {
        match c {
            Cached::Sampled(policy) => {
                if let Some(p) = policy.and_then(|i| self.policies.get(i as usize)) {
                    tag(&mut span, &p.stats.name);
                }
                self.out.add(&self.buffer.groups, group, span);
                self.out_acks.extend(self.held.iter().cloned());
                self.stats.late_spans_sampled += 1;
            }
            Cached::NotSampled => self.stats.late_spans_dropped += 1,
        }
    }

    fn evict_oldest(&mut self, now: Instant) {
        if let Some(id) = self.buffer.pop_oldest() {
            self.decide(id, now, Why::Evicted);
        }
    }

    /// Decides one pending trace on what has arrived, releases its spans and
    /// remembers the decision for late spans.
    fn decide(&mut self, id: TraceId, now: Instant, why: Why) {
        let Some(mut trace) = self.buffer.remove(&id) else { return };
        let v = if why == Why::Shutdown && self.drop_on_shutdown {
            Verdict::NotSampled
        } else {
            let second = now.saturating_duration_since(self.epoch).as_secs();
            verdict(&mut self.policies, &Ctx { id: &id, trace: &trace, now, second }, self.sample_on_first_match)
        };
        let keep = match v {
            Verdict::Keep(i) => Some(i),
            Verdict::NotSampled => None,
        };
        for (group, bytes) in trace.records() {
            if let Some(i) = keep {
                // The buffer holds only spans encoded by `TraceState::push`.
                if let Ok(mut span) = Span::decode(bytes) {
                    tag(&mut span, &self.policies[i as usize].stats.name);
                    self.out.add(&self.buffer.groups, group, span);
                }
            }
            self.buffer.groups.release(group);
        }
        let s = &mut self.stats;
        match why {
            Why::Evicted => s.evicted_early += 1,
            Why::OverCap => s.decided_over_trace_cap += 1,
            Why::Due | Why::Shutdown => {}
        }
        let acks = std::mem::take(&mut trace.acks);
        if keep.is_some() {
            self.out_acks.extend(acks);
        } else {
            acks.into_iter().for_each(Ack::ok);
        }
        let s = &mut self.stats;
        if keep.is_some() {
            s.traces_sampled += 1;
            s.spans_sampled += trace.spans as u64;
        } else {
            s.traces_dropped += 1;
            s.spans_dropped += trace.spans as u64;
        }
        self.cache.put(id, keep.map_or(Cached::NotSampled, |i| Cached::Sampled(Some(i))));
    }

    /// Hands kept spans on; header ids freed during this call become reusable.
    fn emit(&mut self, out: &mut Vec<Batch>) {
        let acks = std::mem::take(&mut self.out_acks);
        match self.out.take() {
            Some(p) => out.push(Batch::new(p, acks)),
            None => acks.into_iter().for_each(Ack::ok),
        }
        self.buffer.groups.recycle();
        self.buffer.trim();
    }
}

impl Processor for TailSampler {
    fn stats(&self) -> Vec<(&'static str, u64)> {
        let s = TailSampler::stats(self);
        vec![
            ("traces_received", s.traces_received),
            ("traces_buffered", s.traces_buffered),
            ("spans_buffered", s.spans_buffered),
            ("bytes_buffered", s.bytes_buffered),
            ("traces_sampled", s.traces_sampled),
            ("traces_dropped", s.traces_dropped),
            ("traces_evicted_early", s.evicted_early),
            ("traces_decided_over_trace_cap", s.decided_over_trace_cap),
            ("late_spans_sampled", s.late_spans_sampled),
            ("late_spans_dropped", s.late_spans_dropped),
            ("spans_received", s.spans_received),
            ("spans_sampled", s.spans_sampled),
            ("spans_dropped", s.spans_dropped),
        ]
    }

    fn process(&mut self, mut batch: Batch, out: &mut Vec<Batch>) {
        let Payload::Traces(rs) = &mut batch.payload else {
            // Only traces are sampled; anything else passes through untouched.
            out.push(batch);
            return;
        };
        let rs = std::mem::take(rs);
        let now = (self.clock)();
        // The buffer owns the data now (a trace that did not fit was decided
        // early rather than refused): only durable acks wait for the decision.
        batch.take_settleable_acks().into_iter().for_each(Ack::ok);
        self.held = batch.acks;
        self.ingest(rs, now);
        std::mem::take(&mut self.held).into_iter().for_each(Ack::ok);
        self.emit(out);
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.buffer.next_deadline()
    }

    fn on_deadline(&mut self, now: Instant, out: &mut Vec<Batch>) {
        while let Some(id) = self.buffer.pop_due(now) {
            self.decide(id, now, Why::Due);
        }
        self.emit(out);
    }

    fn flush(&mut self, out: &mut Vec<Batch>) {
        let now = (self.clock)();
        while let Some(id) = self.buffer.pop_oldest() {
            self.decide(id, now, Why::Shutdown);
        }
        self.emit(out);
    }
}

#[cfg(test)]
impl TailSampler {
    /// Resource/scope headers still stored.
    pub(crate) fn header_count(&self) -> usize {
        self.buffer.groups.len()
    }
}
