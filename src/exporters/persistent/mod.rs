//! The persistent sending queue: any exporter's batches go through a
//! write-ahead log on disk before the consumers send them, so what was
//! accepted survives a crash and is sent again after the restart.

mod ack_log;
mod config;
mod record;
pub mod wal;

use std::sync::{Arc, Mutex};

use aiotel_api::{Batch, Payload, PipelineError, Signal};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::Service;

pub use config::{FullPolicy, PersistentSettings};
use wal::{RecordId, Wal, WalError, WalOptions};

use super::driver::{count_failed, count_sent, export, Failure};
use super::{ExporterHandle, QueueSettings, RetrySettings, RunningExporter};
use crate::components::ComponentId;
use crate::pipeline::{Consumer, OnFull};
use crate::service::ServiceCtx;
use crate::telemetry::ComponentCounters;

struct Shared {
    wal: Mutex<Wal>,
    /// One permit per appended record; closed once the pipelines have finished.
    ready: Semaphore,
}

impl Shared {
    fn wal(&self) -> std::sync::MutexGuard<'_, Wal> {
        // A panic elsewhere must not stop the queue: the WAL's state is updated last.
        self.wal.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Like the in-memory driver, but batches are acknowledged to the pipeline
/// once they are in the log, and consumers read from the log.
pub fn spawn<S>(
    id: &ComponentId,
    signal: Signal,
    svc: S,
    queue: &QueueSettings,
    settings: &PersistentSettings,
    retry: &RetrySettings,
    ctx: &ServiceCtx,
) -> Result<ExporterHandle, String>
where
    S: Service<Arc<Payload>, Response = u64, Error = PipelineError> + Clone + Send + 'static,
    S::Future: Send,
{
    let name = id.to_string();
    let dir = settings.directory.join(format!("{}_{signal}", name.replace('/', "_")));
    let opts = WalOptions::new(settings.max_bytes(), settings.full_policy, settings.fsync_interval.is_zero());
    let (wal, report) = Wal::open(&dir, opts).map_err(|e| format!("persistent queue: {e}"))?;
    let counters = ctx.metrics.exporter(&name, signal);
    if report.corrupt > 0 {
        tracing::warn!(exporter = %name, corrupt = report.corrupt, bytes = report.truncated_bytes,
            "persistent queue: corrupt records skipped on start");
        ctx.metrics.queue_event(&name, signal, "corrupt_records").inc_by(report.corrupt);
    }
    if report.records > 0 {
        tracing::info!(exporter = %name, records = report.records, items = report.items,
            already_delivered = report.acked_items,
            "persistent queue: replaying what was not acknowledged before the last stop");
        ctx.metrics.queue_event(&name, signal, "replayed_items").inc_by(report.items);
    }
    if report.acked_items > 0 {
        ctx.metrics.queue_event(&name, signal, "skipped_delivered_items").inc_by(report.acked_items);
    }
    let shared = Arc::new(Shared { ready: Semaphore::new(wal.unread() as usize), wal: Mutex::new(wal) });
    let probe = Arc::downgrade(&shared);
    ctx.metrics.queue(
        "exporter",
        &name,
        signal,
        queue.queue_size,
        Arc::new(move || probe.upgrade().map(|s| s.wal().unread() as usize).unwrap_or(0)),
    );
    // A small in-memory hand-off in front of the log; the pipeline's ack
    // waits until the batch is written, so nothing acknowledged is only in memory.
    let (tx, rx) = async_channel::bounded::<Batch>(queue.num_consumers.max(1));
    let consumer = Consumer::new(tx, OnFull::Block, false, counters.clone());
    let give_up = CancellationToken::new();
    let writer = tokio::spawn(write_loop(name.clone(), rx, shared.clone(), counters.clone()));
    let stop_sync = CancellationToken::new();
    let syncer = tokio::spawn(sync_loop(shared.clone(), settings.fsync_interval, stop_sync.clone()));
    let workers: Vec<_> = (0..queue.num_consumers)
        .map(|_| {
            let w = Worker {
                id: name.clone(),
                signal,
                shared: shared.clone(),
                svc: svc.clone(),
                retry: retry.clone(),
                counters: counters.clone(),
                give_up: give_up.clone(),
                corrupt: ctx.metrics.queue_event(&name, signal, "corrupt_records"),
            };
            tokio::spawn(w.run())
        })
        .collect();
    let done = tokio::spawn(async move {
        let _ = writer.await;
        for w in workers {
            let _ = w.await;
        }
        stop_sync.cancel();
        let _ = syncer.await;
    });
    Ok(ExporterHandle { consumer, running: RunningExporter { id: name, signal, done, give_up } })
}

async fn write_loop(id: String, rx: async_channel::Receiver<Batch>, shared: Arc<Shared>, counters: ComponentCounters) {
    while let Ok(batch) = rx.recv().await {
        let items = batch.payload.item_count();
        let data = super::encode::to_protobuf(&batch.payload);
        let res = shared.wal().append(&data, items as u32);
        match res {
            Ok(dropped) => {
                if dropped.records > 0 {
                    counters.dropped.inc_by(dropped.items);
                    tracing::warn!(exporter = %id, items = dropped.items, "persistent queue full; oldest data dropped");
                }
                shared.ready.add_permits(1);
                batch.ok();
            }
            Err(e) => {
                counters.enqueue_failed.inc_by(items as u64);
                let err = match e {
                    WalError::TooLarge(_) => PipelineError::permanent(e.to_string()),
                    WalError::Full { .. } => PipelineError::unavailable(e.to_string()),
                    _ => {
                        tracing::error!(exporter = %id, error = %e, "persistent queue: write failed");
                        PipelineError::unavailable(e.to_string())
                    }
                };
                batch.fail(&err);
            }
        }
    }
    // Pipelines are done: consumers drain what is left, then stop.
    shared.ready.close();
    if let Err(e) = shared.wal().sync() {
        tracing::error!(exporter = %id, error = %e, "persistent queue: final fsync failed");
    }
}

async fn sync_loop(shared: Arc<Shared>, every: std::time::Duration, stop: CancellationToken) {
    if every.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        let s = shared.clone();
        // fsync may take a while on a busy disk; keep it off the runtime's threads.
        let res = tokio::task::spawn_blocking(move || s.wal().sync()).await;
        if let Ok(Err(e)) = res {
            tracing::error!(error = %e, "persistent queue: fsync failed");
        }
    }
    let _ = shared.wal().sync();
}

struct Worker<S> {
    id: String,
    signal: Signal,
    shared: Arc<Shared>,
    svc: S,
    retry: RetrySettings,
    counters: ComponentCounters,
    give_up: CancellationToken,
    corrupt: prometheus_client::metrics::counter::Counter,
}

impl<S> Worker<S>
where
    S: Service<Arc<Payload>, Response = u64, Error = PipelineError> + Send,
    S::Future: Send,
{
    async fn run(mut self) {
        loop {
            let closed = match self.shared.ready.acquire().await {
                Ok(p) => {
                    p.forget();
                    false
                }
                Err(_) => true,
            };
            if self.give_up.is_cancelled() {
                break;
            }
            let next = self.shared.wal().next_record();
            let rec = match next {
                Ok(Some(r)) => r,
                Ok(None) if closed => break,
                // Its permit's record was dropped to make room.
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(exporter = %self.id, error = %e, "persistent queue: skipping corrupt data");
                    self.corrupt.inc();
                    continue;
                }
            };
            let payload = match record::decode(self.signal, &rec.data) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(exporter = %self.id, error = %e, "persistent queue: undecodable record skipped");
                    self.corrupt.inc();
                    self.ack(rec.id);
                    continue;
                }
            };
            let n = rec.items as u64;
            match export(&self.id, &mut self.svc, &self.retry, &self.give_up, Arc::new(payload)).await {
                Ok(rejected) => count_sent(&self.counters, n, rejected),
                Err(Failure::Failed(e)) => {
                    count_failed(&self.id, &self.counters, n, e);
                }
                // Not acknowledged: it stays in the log for the next start.
                Err(Failure::GaveUp) => {
                    tracing::warn!(exporter = %self.id, items = n, "shutdown deadline passed; data kept on disk");
                    break;
                }
            }
            self.ack(rec.id);
        }
    }

    fn ack(&self, rec: RecordId) {
        if let Err(e) = self.shared.wal().ack(rec) {
            tracing::error!(exporter = %self.id, error = %e, "persistent queue: cannot record a delivery");
        }
    }
}

#[cfg(test)]
mod tests;
