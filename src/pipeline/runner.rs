use std::sync::Arc;

use aiotel_api::{Batch, Processor};
use tokio::time::Instant;

use super::Fanout;
use crate::telemetry::SelfMetrics;

/// Where a pipeline publishes its processors' own counters.
pub struct StatsSink {
    pub metrics: Arc<SelfMetrics>,
    pub pipeline: String,
    pub processor_ids: Vec<String>,
}

impl StatsSink {
    fn publish(&self, processors: &[Box<dyn Processor>]) {
        for (p, id) in processors.iter().zip(&self.processor_ids) {
            let stats = p.stats();
            if !stats.is_empty() {
                self.metrics.processor_stats(id, &self.pipeline, &stats);
            }
        }
    }
}

/// Runs one pipeline: takes batches from its input queue, passes them
/// through its processors in order and hands the results to its exporters.
/// Returns once the input is closed and everything held has been flushed.
pub async fn run(
    input: async_channel::Receiver<Batch>,
    mut processors: Vec<Box<dyn Processor>>,
    out: Fanout,
    stats: StatsSink,
    durable: bool,
) {
    const PUBLISH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
    let mut published = std::time::Instant::now();
    loop {
        let deadline = processors.iter().filter_map(|p| p.next_deadline()).min();
        // About to wait with nothing scheduled, or a second has passed: publish,
        // so counters are fresh while idle without a timer on the hot path.
        if deadline.is_none() || published.elapsed() >= PUBLISH_EVERY {
            stats.publish(&processors);
            published = std::time::Instant::now();
        }
        // No timer at all on the hot path unless a processor holds data.
        let batch = match deadline {
            Some(d) => tokio::select! {
                b = input.recv() => b.ok(),
                _ = tokio::time::sleep_until(Instant::from_std(d)) => {
                    let now = std::time::Instant::now();
                    fire(&mut processors, &out, |p, buf| p.on_deadline(now, buf)).await;
                    continue;
                }
            },
            None => input.recv().await.ok(),
        };
        let Some(mut b) = batch else { break };
        if durable {
            b.acks.iter_mut().for_each(aiotel_api::Ack::set_durable);
        }
        dispatch(&mut processors, vec![b], &out).await;
        if input.is_empty() {
            fire(&mut processors, &out, |p, buf| p.on_idle(buf)).await;
        }
    }
    // Drain upstream-first: each processor's held data flows through the rest.
    fire(&mut processors, &out, |p, buf| p.flush(buf)).await;
    stats.publish(&processors);
}

/// Calls `event` on each processor in order, passing what it releases through the ones after it.
async fn fire(
    processors: &mut [Box<dyn Processor>],
    out: &Fanout,
    mut event: impl FnMut(&mut dyn Processor, &mut Vec<Batch>),
) {
    for i in 0..processors.len() {
        let mut ready = Vec::new();
        event(processors[i].as_mut(), &mut ready);
        if !ready.is_empty() {
            dispatch(&mut processors[i + 1..], ready, out).await;
        }
    }
}

async fn dispatch(processors: &mut [Box<dyn Processor>], mut batches: Vec<Batch>, out: &Fanout) {
    let mut next = Vec::new();
    for p in processors.iter_mut() {
        for b in batches.drain(..) {
            p.process(b, &mut next);
        }
        std::mem::swap(&mut batches, &mut next);
        if batches.is_empty() {
            return;
        }
    }
    for b in batches {
        if b.payload.is_empty() {
            b.ok();
        } else {
            out.consume(b, false).await;
        }
    }
}
