use aiotel_api::{Batch, PipelineError, Signal};

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

    pub async fn consume(&self, mut batch: Batch) {
        let acks = if self.ack_on_enqueue { std::mem::take(&mut batch.acks) } else { Vec::new() };
        let sent = match self.on_full {
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

/// Several consumers of one stream; each gets its own copy only when there is more than one.
#[derive(Clone, Default)]
pub struct Fanout(pub Vec<Consumer>);

impl Fanout {
    pub async fn consume(&self, batch: Batch) {
        let Some((last, rest)) = self.0.split_last() else {
            batch.fail(&PipelineError::permanent("no consumer for this signal"));
            return;
        };
        for c in rest {
            c.consume(batch.fork()).await;
        }
        last.consume(batch).await;
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
