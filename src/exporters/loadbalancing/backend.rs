//! One backend: an `otlp` client behind its own bounded queue and workers.

use std::sync::Arc;
use std::time::Duration;

use aiotel_api::{Batch, PipelineError, Signal};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::super::driver::settle;
use super::super::driver::{export_until_removed, Outcome, Removal};
use super::super::otlp_grpc::OtlpGrpc;
use super::super::{QueueSettings, RetrySettings, RunningExporter};
use super::config::LoadBalancingConfig;
use crate::components::ComponentId;
use crate::pipeline::Consumer;
use crate::service::ServiceCtx;
use crate::telemetry::ComponentCounters;

/// What every backend of one exporter shares with its router.
#[derive(Clone)]
pub struct Links {
    /// Cancelled at the shutdown deadline.
    pub give_up: CancellationToken,
    /// Where a removed backend hands its batches back.
    pub reroute: async_channel::Sender<Batch>,
    /// How long an export in flight may finish once its backend is removed.
    pub grace: Duration,
}

pub enum Backend {
    /// In memory: on removal its queue is handed back to the router.
    Memory {
        tx: async_channel::Sender<Batch>,
        queue: QueueSettings,
        /// Cancelled when the backend leaves the resolver (or at the shutdown deadline).
        removed: CancellationToken,
        tasks: Vec<JoinHandle<()>>,
    },
    /// On disk through the persistent driver: the log keeps what is unsent.
    Persistent { consumer: Consumer, running: RunningExporter },
}

impl Backend {
    pub fn start(
        cfg: &LoadBalancingConfig,
        lb_id: &str,
        endpoint: &str,
        signal: Signal,
        ctx: &ServiceCtx,
        links: &Links,
    ) -> Result<Backend, String> {
        let give_up = &links.give_up;
        let svc = cfg.backend(endpoint).service(signal)?;
        let queue = cfg.queue();
        let retry = cfg.retry();
        let name = format!("{lb_id}/{endpoint}");
        if queue.persistent_settings(ctx)?.is_some() {
            // The persistent driver names its directory after the id.
            let id = ComponentId { ty: "loadbalancing".into(), name: Some(name.replace([':', '/'], "_")) };
            let h = super::super::spawn(&id, signal, svc, &queue, &retry, ctx)?;
            let consumer = h.consumer.clone();
            let running = h.detach();
            // The shutdown deadline reaches the inner driver too.
            let (outer, inner) = (give_up.clone(), running.give_up.clone());
            tokio::spawn(async move {
                tokio::select! {
                    _ = outer.cancelled() => inner.cancel(),
                    _ = inner.cancelled() => {}
                }
            });
            return Ok(Backend::Persistent { consumer, running });
        }
        let (cap, workers) = if queue.enabled { (queue.queue_size, queue.num_consumers) } else { (1, 1) };
        let (tx, rx) = async_channel::bounded::<Batch>(cap);
        let removed = give_up.child_token();
        let counters = ctx.metrics.exporter(lb_id, signal);
        let tasks = (0..workers)
            .map(|_| {
                let w = Worker {
                    id: name.clone(),
                    rx: rx.clone(),
                    svc: svc.clone(),
                    retry: retry.clone(),
                    counters: counters.clone(),
                    give_up: give_up.clone(),
                    removed: removed.clone(),
                    grace: links.grace,
                    reroute: links.reroute.clone(),
                };
                tokio::spawn(w.run())
            })
            .collect();
        Ok(Backend::Memory { tx, queue, removed, tasks })
    }

    /// Queues `batch`. New data is refused when the queue is full (unless
    /// `block_on_overflow`); re-routed data, already acknowledged, waits.
    pub async fn send(&self, mut batch: Batch, rerouted: bool, counters: &ComponentCounters) {
        match self {
            Backend::Persistent { consumer, .. } => consumer.consume(batch).await,
            Backend::Memory { tx, queue, .. } => {
                let ack_now = queue.enabled;
                let acks = if ack_now { batch.take_settleable_acks() } else { Vec::new() };
                let res = if rerouted || queue.block_on_overflow || !queue.enabled {
                    tx.send(batch).await.map_err(|e| (e.0, PipelineError::shutting_down()))
                } else {
                    tx.try_send(batch).map_err(|e| match e {
                        async_channel::TrySendError::Full(b) => {
                            (b, PipelineError::unavailable("queue is full, retry later"))
                        }
                        async_channel::TrySendError::Closed(b) => (b, PipelineError::shutting_down()),
                    })
                };
                match res {
                    Ok(()) => acks.into_iter().for_each(|a| a.ok()),
                    Err((mut b, err)) => {
                        let n = b.payload.item_count() as u64;
                        if rerouted {
                            counters.dropped.inc_by(n);
                        } else {
                            counters.enqueue_failed.inc_by(n);
                        }
                        b.acks.extend(acks);
                        b.fail(&err);
                    }
                }
            }
        }
    }

    /// Stops taking data; the tasks finish once the queue is drained.
    pub fn close(self) -> Vec<JoinHandle<()>> {
        match self {
            Backend::Memory { tasks, .. } => tasks,
            Backend::Persistent { running, .. } => vec![running.done],
        }
    }

    pub fn is_persistent(&self) -> bool {
        matches!(self, Backend::Persistent { .. })
    }

    /// The backend left the resolver: its workers hand every queued or
    /// retrying batch back to the router.
    pub fn remove(self) -> Vec<JoinHandle<()>> {
        if let Backend::Memory { removed, .. } = &self {
            removed.cancel();
        }
        self.close()
    }
}

struct Worker {
    id: String,
    rx: async_channel::Receiver<Batch>,
    svc: OtlpGrpc,
    retry: RetrySettings,
    counters: ComponentCounters,
    give_up: CancellationToken,
    removed: CancellationToken,
    /// How long an export in flight may finish once the backend is removed.
    grace: Duration,
    reroute: async_channel::Sender<Batch>,
}

impl Worker {
    async fn run(mut self) {
        while let Ok(batch) = self.rx.recv().await {
            let n = batch.payload.item_count() as u64;
            if self.removed.is_cancelled() && !self.give_up.is_cancelled() {
                self.hand_back(batch).await;
                continue;
            }
            let Batch { payload, acks } = batch;
            let payload = Arc::new(payload);
            let outcome = export_until_removed(
                &self.id,
                &mut self.svc,
                &self.retry,
                &self.give_up,
                Some(Removal { token: &self.removed, grace: self.grace }),
                payload.clone(),
            )
            .await;
            match outcome {
                Outcome::Done(o) => settle(&self.id, &self.counters, n, acks, o),
                Outcome::Removed => {
                    let payload = Arc::try_unwrap(payload).unwrap_or_else(|p| (*p).clone());
                    self.hand_back(Batch::new(payload, acks)).await;
                }
            }
        }
    }

    async fn hand_back(&self, batch: Batch) {
        let n = batch.payload.item_count() as u64;
        tracing::debug!(exporter = %self.id, items = n, "re-routing a batch of a removed backend");
        if let Err(e) = self.reroute.send(batch).await {
            self.counters.dropped.inc_by(n);
            self.counters.undelivered.inc_by(n);
            e.0.fail(&PipelineError::shutting_down());
        }
    }
}
