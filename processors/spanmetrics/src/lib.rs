//! The `spanmetrics` connector: the Collector's R.E.D. metrics (`calls`,
//! `duration`, `events`) from spans, plus the OTel GenAI metrics (token
//! usage, operation duration, time to first token, time per output token,
//! cost, evaluations) from LLM spans of any dialect.
//!
//! It consumes trace batches (acking them at once) and emits one metrics
//! batch per `metrics_flush_interval`. State is bounded: resources by
//! `resource_metrics_cache_size`, series per metric by the cardinality limit
//! (new series past it share one `otel.metric.overflow=true` series).

mod aggregate;
mod config;
mod dims;
mod emit;
mod genai;
mod histogram;
mod plan;
mod series;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aiotel_api::{Batch, Payload, Processor};

pub use config::{
    Dimension, DurationUnit, EventsConfig, ExemplarsConfig, ExplicitConfig, ExponentialConfig, GenAiConfig,
    GenAiDimension, GenAiHistograms, HistogramConfig, SpanMetricsConfig, DEFAULT_BUCKETS_MS,
    DEFAULT_GENAI_CARDINALITY_LIMIT,
};
pub use emit::{GENAI_SCOPE, OVERFLOW_KEY, SCOPE};
pub use genai::{EVALUATION_EVENT, FIRST_TOKEN_EVENTS};

use aggregate::{Durations, State};
use emit::Times;
use plan::Plan;

pub struct SpanMetricsConnector {
    plan: Plan,
    state: State,
    interval: Duration,
    next_flush: Instant,
    /// Unix nanos of the previous flush (or of creation): where delta points start.
    last_flush: u64,
}

/// Sizes and counters of the connector, for self-metrics and tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub spans: u64,
    /// Spans recognised as GenAI operations.
    pub genai_spans: u64,
    /// Resources with state now.
    pub resources: usize,
    /// Resources dropped to stay within `resource_metrics_cache_size`.
    pub resources_evicted: u64,
    /// Batches of a signal other than traces (a wiring mistake), acked and ignored.
    pub ignored_batches: u64,
    /// Cost measurements in a currency past the per-resource cap.
    pub dropped_currencies: u64,
    /// One entry per metric name, summed over resources.
    pub metrics: Vec<MetricStats>,
    /// Estimated heap bytes held by all aggregation state.
    pub state_bytes: usize,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricStats {
    pub name: String,
    /// Series held, overflow series included.
    pub series: usize,
    /// How many of them are overflow series (at most one per resource).
    pub overflow_series: usize,
    /// Measurements recorded into overflow series.
    pub overflowed: u64,
    pub bytes: usize,
}

impl Stats {
    pub fn metric(&self, name: &str) -> Option<&MetricStats> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// Series held over all metrics.
    pub fn series(&self) -> usize {
        self.metrics.iter().map(|m| m.series).sum()
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

impl SpanMetricsConnector {
    pub fn new(cfg: &SpanMetricsConfig) -> Result<Self, String> {
        cfg.validate().map_err(|e| e.join("; "))?;
        Ok(Self {
            plan: Plan::new(cfg),
            state: State::new(),
            interval: cfg.metrics_flush_interval,
            next_flush: Instant::now() + cfg.metrics_flush_interval,
            last_flush: unix_nanos(),
        })
    }

    pub fn stats(&self) -> Stats {
        let mut metrics: Vec<MetricStats> = Vec::new();
        let mut add = |name: String, len: usize, overflow: bool, overflowed: u64, bytes: usize| {
            let i = match metrics.iter().position(|m| m.name == name) {
                Some(i) => i,
                None => {
                    metrics.push(MetricStats { name, ..Default::default() });
                    metrics.len() - 1
                }
            };
            let m = &mut metrics[i];
            m.series += len;
            m.overflow_series += usize::from(overflow);
            m.overflowed += overflowed;
            m.bytes += bytes;
        };
        let p = &self.plan;
        let mut total = self.state.index_bytes();
        for r in &self.state.resources {
            total += r.attrs.capacity() * std::mem::size_of::<aiotel_api::otlp::common::v1::KeyValue>()
                + r.attrs.iter().map(|a| a.key.capacity() + 32).sum::<usize>();
            let mut sum = |name: String, s: &series::Store<_>, bytes: usize| {
                total += bytes;
                add(name, s.len(), s.overflow.is_some(), s.overflowed, bytes);
            };
            sum(p.metric_name("calls"), &r.calls, r.calls.heap_bytes(|_| 0));
            if p.events {
                sum(p.metric_name("events"), &r.events, r.events.heap_bytes(|_| 0));
            }
            match &r.duration {
                Durations::Explicit(s) => {
                    let b = s.heap_bytes(|h| h.heap_bytes());
                    total += b;
                    add(p.metric_name("duration"), s.len(), s.overflow.is_some(), s.overflowed, b);
                }
                Durations::Exponential(s) => {
                    let b = s.heap_bytes(|h| h.heap_bytes());
                    total += b;
                    add(p.metric_name("duration"), s.len(), s.overflow.is_some(), s.overflowed, b);
                }
                Durations::Off => {}
            }
            if let Some(g) = &r.genai {
                total += std::mem::size_of::<aggregate::GenAiState>();
                for (name, s) in g.histograms() {
                    let b = s.heap_bytes(|h| h.heap_bytes());
                    total += b;
                    add(name.into(), s.len(), s.overflow.is_some(), s.overflowed, b);
                }
                let b = g.eval_results.heap_bytes(|_| 0);
                total += b;
                let s = &g.eval_results;
                add("gen_ai.evaluation.results".into(), s.len(), s.overflow.is_some(), s.overflowed, b);
                for (_, s) in &g.cost {
                    let b = s.heap_bytes(|_| 0);
                    total += b;
                    add("gen_ai.client.cost".into(), s.len(), s.overflow.is_some(), s.overflowed, b);
                }
            }
        }
        let c = &self.state.counters;
        Stats {
            spans: c.spans,
            genai_spans: c.genai_spans,
            resources: self.state.resources.len(),
            resources_evicted: c.resources_evicted,
            ignored_batches: c.ignored_batches,
            dropped_currencies: c.dropped_currencies,
            metrics,
            state_bytes: total,
        }
    }

    /// Aggregates at an explicit time (unix nanos); `process` uses the clock.
    #[doc(hidden)]
    pub fn process_at(&mut self, batch: Batch, now: u64) {
        let Batch { payload, acks } = batch;
        // Consumed here: the spans go no further, so their requests are settled now.
        acks.into_iter().for_each(aiotel_api::Ack::ok);
        match &payload {
            Payload::Traces(rs) => self.aggregate_at(rs, now),
            _ => self.state.counters.ignored_batches += 1,
        }
    }

    /// Aggregates borrowed spans at `now` (unix nanos): `process` without taking the batch.
    #[doc(hidden)]
    pub fn aggregate_at(&mut self, traces: &[aiotel_api::otlp::trace::v1::ResourceSpans], now: u64) {
        self.state.aggregate(&self.plan, traces, now);
    }

    /// Emits the metrics as of `now` (unix nanos); `on_deadline` and `flush` use the clock.
    #[doc(hidden)]
    pub fn flush_at(&mut self, now: u64, out: &mut Vec<Batch>) {
        let p = &self.plan;
        if p.metrics_expiration > 0 {
            self.state.expire_resources(now.saturating_sub(p.metrics_expiration));
        }
        if p.series_expiration > 0 {
            let cutoff = now.saturating_sub(p.series_expiration);
            self.state.resources.iter_mut().for_each(|r| r.expire(cutoff));
        }
        let t = Times { now, delta_start: p.delta.then_some(self.last_flush), temporality: emit::temporality(p.delta) };
        let rms: Vec<_> = self.state.resources.iter().filter_map(|r| emit::resource_metrics(p, r, t)).collect();
        if p.delta {
            self.state.clear();
        } else if p.exemplars.is_some() {
            self.state.resources.iter_mut().for_each(|r| r.clear_exemplars());
        }
        self.last_flush = now;
        if !rms.is_empty() {
            out.push(Batch::new(Payload::Metrics(rms), vec![]));
        }
    }
}

impl Processor for SpanMetricsConnector {
    fn process(&mut self, batch: Batch, _out: &mut Vec<Batch>) {
        self.process_at(batch, unix_nanos());
    }

    fn observes(&self) -> bool {
        true
    }

    fn observe(&mut self, payload: &Payload) {
        match payload {
            Payload::Traces(rs) => self.aggregate_at(rs, unix_nanos()),
            _ => self.state.counters.ignored_batches += 1,
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        Some(self.next_flush)
    }

    fn on_deadline(&mut self, now: Instant, out: &mut Vec<Batch>) {
        if now < self.next_flush {
            return;
        }
        self.flush_at(unix_nanos(), out);
        // Keep the cadence; if we fell behind, restart it from now.
        self.next_flush += self.interval;
        if self.next_flush <= now {
            self.next_flush = now + self.interval;
        }
    }

    fn flush(&mut self, out: &mut Vec<Batch>) {
        self.flush_at(unix_nanos(), out);
    }
}
