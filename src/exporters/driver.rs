use std::sync::Arc;

use aiotel_api::{Ack, Batch, Payload, PipelineError, Signal};
use tokio_util::sync::CancellationToken;
use tower::{Service, ServiceExt};

use super::retry::Backoff;
use super::{ExporterHandle, QueueSettings, RetrySettings, RunningExporter};
use crate::components::ComponentId;
use crate::pipeline::{Consumer, OnFull};
use crate::service::ServiceCtx;
use crate::telemetry::ComponentCounters;

/// Starts the generic exporter loop over `svc`. The service answers with
/// the number of items the backend rejected (OTLP partial success).
pub fn spawn<S>(
    id: &ComponentId,
    signal: Signal,
    svc: S,
    queue: &QueueSettings,
    retry: &RetrySettings,
    ctx: &ServiceCtx,
) -> Result<ExporterHandle, String>
where
    S: Service<Arc<Payload>, Response = u64, Error = PipelineError> + Clone + Send + 'static,
    S::Future: Send,
{
    if let Some(settings) = queue.persistent_settings(ctx)? {
        return super::persistent::spawn(id, signal, svc, queue, &settings, retry, ctx);
    }
    let (cap, workers) = if queue.enabled { (queue.queue_size, queue.num_consumers) } else { (1, 1) };
    let (tx, rx) = async_channel::bounded::<Batch>(cap);
    let counters = ctx.metrics.exporter(&id.to_string(), signal);
    let probe = rx.clone().downgrade();
    ctx.metrics.queue(
        "exporter",
        &id.to_string(),
        signal,
        cap,
        Arc::new(move || probe.upgrade().map(|r| r.len()).unwrap_or(0)),
    );
    let on_full = if queue.enabled && !queue.block_on_overflow { OnFull::Refuse } else { OnFull::Block };
    let consumer = Consumer::new(tx, on_full, queue.enabled, counters.clone());
    let give_up = CancellationToken::new();
    let name = id.to_string();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let w = Worker {
                id: name.clone(),
                rx: rx.clone(),
                svc: svc.clone(),
                retry: retry.clone(),
                counters: counters.clone(),
                give_up: give_up.clone(),
            };
            tokio::spawn(w.run())
        })
        .collect();
    let done = tokio::spawn(async move {
        for t in tasks {
            let _ = t.await;
        }
    });
    Ok(ExporterHandle { consumer, running: RunningExporter { id: name, signal, done, give_up } })
}

struct Worker<S> {
    id: String,
    rx: async_channel::Receiver<Batch>,
    svc: S,
    retry: RetrySettings,
    counters: ComponentCounters,
    give_up: CancellationToken,
}

pub(super) enum Failure {
    GaveUp,
    Failed(PipelineError),
}

/// Counts how an export of `n` items ended and answers the acks of its data.
pub(super) fn settle(id: &str, counters: &ComponentCounters, n: u64, acks: Vec<Ack>, outcome: Result<u64, Failure>) {
    let err = match outcome {
        Ok(rejected) => {
            count_sent(counters, n, rejected);
            acks.into_iter().for_each(Ack::ok);
            return;
        }
        Err(Failure::GaveUp) => {
            counters.dropped.inc_by(n);
            counters.undelivered.inc_by(n);
            tracing::warn!(exporter = %id, items = n, "shutdown deadline passed; data not delivered");
            PipelineError::shutting_down()
        }
        Err(Failure::Failed(e)) => count_failed(id, counters, n, e),
    };
    acks.into_iter().for_each(|a| a.fail(err.clone()));
}

/// `rejected` of the `n` items were refused by the backend (partial success).
pub(super) fn count_sent(counters: &ComponentCounters, n: u64, rejected: u64) {
    counters.sent.inc_by(n.saturating_sub(rejected));
    counters.send_failed.inc_by(rejected.min(n));
}

/// Counts and logs a permanent failure; returns the error for the acks.
pub(super) fn count_failed(id: &str, counters: &ComponentCounters, n: u64, e: PipelineError) -> PipelineError {
    counters.send_failed.inc_by(n);
    tracing::error!(exporter = %id, items = n, error = %e, "export failed; data dropped");
    e
}

impl<S> Worker<S>
where
    S: Service<Arc<Payload>, Response = u64, Error = PipelineError> + Send,
    S::Future: Send,
{
    async fn run(mut self) {
        while let Ok(batch) = self.rx.recv().await {
            let n = batch.payload.item_count() as u64;
            let Batch { payload, acks } = batch;
            let outcome =
                if self.give_up.is_cancelled() { Err(Failure::GaveUp) } else { self.export(Arc::new(payload)).await };
            settle(&self.id, &self.counters, n, acks, outcome);
        }
    }

    async fn export(&mut self, payload: Arc<Payload>) -> Result<u64, Failure> {
        export(&self.id, &mut self.svc, &self.retry, &self.give_up, payload).await
    }
}

/// One export of `payload`, retried as `retry` says until it succeeds,
/// fails for good, or `give_up` is cancelled.
pub(super) async fn export<S>(
    id: &str,
    svc: &mut S,
    retry: &RetrySettings,
    give_up: &CancellationToken,
    payload: Arc<Payload>,
) -> Result<u64, Failure>
where
    S: Service<Arc<Payload>, Response = u64, Error = PipelineError> + Send,
    S::Future: Send,
{
    match export_until_removed(id, svc, retry, give_up, None, payload).await {
        Outcome::Done(r) => r,
        // Only an export given a removal can be handed back.
        Outcome::Removed => Err(Failure::GaveUp),
    }
}

/// How an export that can be handed back ended.
pub(super) enum Outcome {
    /// Delivered (with the items the backend rejected), failed for good, or
    /// given up at the shutdown deadline: settled where it is.
    Done(Result<u64, Failure>),
    /// The backend was removed: the batch belongs to another one.
    Removed,
}

/// Tells an export that its backend was removed (`token`), and how long an
/// attempt in flight may still finish then (`grace`).
pub(super) struct Removal<'a> {
    pub token: &'a CancellationToken,
    pub grace: std::time::Duration,
}

/// [`export`], which a [`Removal`] also stops: between attempts at once, an
/// attempt in flight after the grace. A backend being scaled down usually
/// still answers, and cancelling a request it already took would deliver
/// the data twice; one that hangs is abandoned when the grace ends (if it
/// did process the request, the data arrives twice: at-least-once).
pub(super) async fn export_until_removed<S>(
    id: &str,
    svc: &mut S,
    retry: &RetrySettings,
    give_up: &CancellationToken,
    removal: Option<Removal<'_>>,
    payload: Arc<Payload>,
) -> Outcome
where
    S: Service<Arc<Payload>, Response = u64, Error = PipelineError> + Send,
    S::Future: Send,
{
    let removal = removal.as_ref();
    let removed = || removal.is_some_and(|r| r.token.is_cancelled());
    let on_removal = |grace: bool| async move {
        match removal {
            Some(r) => {
                r.token.cancelled().await;
                if grace {
                    tokio::time::sleep(r.grace).await;
                }
            }
            None => std::future::pending().await,
        }
    };
    let started = std::time::Instant::now();
    let mut backoff = Backoff::new(retry);
    loop {
        if give_up.is_cancelled() {
            return Outcome::Done(Err(Failure::GaveUp));
        }
        if removed() {
            return Outcome::Removed;
        }
        let attempt = async {
            let svc = svc.ready().await?;
            svc.call(payload.clone()).await
        };
        let err = tokio::select! {
            r = attempt => match r {
                Ok(rejected) => return Outcome::Done(Ok(rejected)),
                Err(e) => e,
            },
            _ = on_removal(true) => {
                tracing::info!(exporter = %id, "backend removed with an export in flight; abandoning it");
                return Outcome::Removed;
            }
            _ = give_up.cancelled() => return Outcome::Done(Err(Failure::GaveUp)),
        };
        if !retry.enabled || !err.is_retryable() {
            return Outcome::Done(Err(Failure::Failed(err)));
        }
        // Another backend may take what this one cannot, whatever the retry budget says.
        if removed() {
            return Outcome::Removed;
        }
        let wait = backoff.next_wait(err.retry_after);
        let max = retry.max_elapsed_time;
        if !max.is_zero() && started.elapsed() + wait > max {
            return Outcome::Done(Err(Failure::Failed(err)));
        }
        tracing::info!(exporter = %id, error = %err, ?wait, "export failed; will retry");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = on_removal(false) => return Outcome::Removed,
            _ = give_up.cancelled() => return Outcome::Done(Err(Failure::GaveUp)),
        }
    }
}
