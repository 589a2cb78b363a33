use std::sync::{Arc, Mutex};

use aiotel_api::{Batch, PipelineError, Processor, Signal};

use crate::telemetry::ComponentCounters;

/// What to do when the queue in front of a consumer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFull {
    /// Refuse at once with a retryable error, so the client backs off.
    Refuse,
    /// Wait for room: backpressure travels upstream.
    Block,
}

/// The sending side of a bounded queue in front of a stage.
#[derive(Clone)]
pub struct Consumer {
    tx: async_channel::Sender<Batch>,
    on_full: OnFull,
    /// Settle acks once queued: the queue owns the data from then on.
    ack_on_enqueue: bool,
    counters: ComponentCounters,
}

impl Consumer {
    pub fn new(
        tx: async_channel::Sender<Batch>,
        on_full: OnFull,
        ack_on_enqueue: bool,
        counters: ComponentCounters,
    ) -> Self {
        Self { tx, on_full, ack_on_enqueue, counters }
    }

    pub fn same_queue(&self, other: &Consumer) -> bool {
        self.tx.same_channel(&other.tx)
    }

    pub async fn consume(&self, batch: Batch) {
        self.consume_as(batch, self.on_full).await
    }

    async fn consume_as(&self, mut batch: Batch, on_full: OnFull) {
        let acks = if self.ack_on_enqueue { batch.take_settleable_acks() } else { Vec::new() };
        let sent = match on_full {
            OnFull::Refuse => self.tx.try_send(batch).map_err(|e| match e {
                async_channel::TrySendError::Full(b) => (b, PipelineError::unavailable("queue is full, retry later")),
                async_channel::TrySendError::Closed(b) => (b, PipelineError::shutting_down()),
            }),
            OnFull::Block => self.tx.send(batch).await.map_err(|e| (e.0, PipelineError::shutting_down())),
        };
        match sent {
            Ok(()) => acks.into_iter().for_each(|a| a.ok()),
            Err((mut b, err)) => {
                self.counters.enqueue_failed.inc_by(b.payload.item_count() as u64);
                b.acks.extend(acks);
                b.fail(&err);
            }
        }
    }
}

/// A processor that reads a stream in place (a read-only connector such as
/// `spanmetrics`), run inline by the pipeline that feeds it.
#[derive(Clone)]
pub struct Observer {
    pub processor: Arc<Mutex<Box<dyn Processor>>>,
    /// Held, never sent on: the connector's task ends once every feeding pipeline has.
    pub keep_open: async_channel::Sender<Batch>,
}

/// Several consumers of one stream; each gets its own copy only when there
/// is more than one. Observers read it first, without a copy.
#[derive(Clone, Default)]
pub struct Fanout(pub Vec<Consumer>, pub Vec<Observer>);

impl Fanout {
    /// Hands `batch` to every consumer; `wait_for_room` makes a consumer
    /// that would refuse when full wait instead.
    pub async fn consume(&self, batch: Batch, wait_for_room: bool) {
        for o in &self.1 {
            if let Ok(mut p) = o.processor.lock() {
                p.observe(&batch.payload);
            }
        }
        let Some((last, rest)) = self.0.split_last() else {
            if self.1.is_empty() {
                batch.fail(&PipelineError::permanent("no consumer for this signal"));
            } else {
                batch.ok();
            }
            return;
        };
        let on_full = |c: &Consumer| if wait_for_room { OnFull::Block } else { c.on_full };
        for c in rest {
            c.consume_as(batch.fork(), on_full(c)).await;
        }
        last.consume_as(batch, on_full(last)).await;
    }
}

/// A receiver's outputs, one fan-out per signal it feeds.
#[derive(Clone, Default)]
pub struct Consumers {
    pub traces: Option<Fanout>,
    pub metrics: Option<Fanout>,
    pub logs: Option<Fanout>,
}

impl Consumers {
    pub fn get(&self, s: Signal) -> Option<&Fanout> {
        match s {
            Signal::Traces => self.traces.as_ref(),
            Signal::Metrics => self.metrics.as_ref(),
            Signal::Logs => self.logs.as_ref(),
        }
    }

    pub fn slot(&mut self, s: Signal) -> &mut Option<Fanout> {
        match s {
            Signal::Traces => &mut self.traces,
            Signal::Metrics => &mut self.metrics,
            Signal::Logs => &mut self.logs,
        }
    }
}

/// Lets a connector's own task drive the timers of a processor that pipelines observe.
pub struct Shared(pub Arc<Mutex<Box<dyn Processor>>>);

impl Processor for Shared {
    fn process(&mut self, batch: Batch, out: &mut Vec<Batch>) {
        match self.0.lock() {
            Ok(mut p) => p.process(batch, out),
            Err(_) => batch.fail(&PipelineError::permanent("connector state poisoned")),
        }
    }
    fn next_deadline(&self) -> Option<std::time::Instant> {
        self.0.lock().ok().and_then(|p| p.next_deadline())
    }
    fn on_deadline(&mut self, now: std::time::Instant, out: &mut Vec<Batch>) {
        if let Ok(mut p) = self.0.lock() {
            p.on_deadline(now, out);
        }
    }
    fn stats(&self) -> Vec<(&'static str, u64)> {
        self.0.lock().map(|p| p.stats()).unwrap_or_default()
    }
    fn flush(&mut self, out: &mut Vec<Batch>) {
        if let Ok(mut p) = self.0.lock() {
            p.flush(out);
        }
    }
}
