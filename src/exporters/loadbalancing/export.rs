//! One export to one backend, retried as `retry_on_failure` says, that
//! stops when the backend leaves the resolver so the batch can go to the
//! new owner.
//!
//! Between attempts it stops at once. An attempt in flight gets a short
//! grace first: a backend that is being scaled down usually still answers,
//! and cancelling a request it has already taken would deliver the data
//! twice. A backend that hangs (stopped, partitioned) is abandoned when the
//! grace ends; if it did process the request, the data arrives twice
//! (at-least-once).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aiotel_api::{Payload, PipelineError};
use tokio_util::sync::CancellationToken;
use tower::{Service, ServiceExt};

use super::super::driver::Failure;
use super::super::retry::Backoff;
use super::super::RetrySettings;

/// How long an attempt in flight may still finish after its backend was removed.
pub const REMOVAL_GRACE: Duration = Duration::from_secs(2);

pub enum Outcome {
    /// Delivered (with the items the backend rejected), failed for good, or
    /// given up at the shutdown deadline: settled where it is.
    Done(Result<u64, Failure>),
    /// The backend left the resolver: the batch belongs to the new owner.
    Removed,
}

pub async fn export<S>(
    id: &str,
    svc: &mut S,
    retry: &RetrySettings,
    removed: &CancellationToken,
    give_up: &CancellationToken,
    grace: Duration,
    payload: Arc<Payload>,
) -> Outcome
where
    S: Service<Arc<Payload>, Response = u64, Error = PipelineError> + Send,
    S::Future: Send,
{
    let started = Instant::now();
    let mut backoff = Backoff::new(retry);
    loop {
        if give_up.is_cancelled() {
            return Outcome::Done(Err(Failure::GaveUp));
        }
        if removed.is_cancelled() {
            return Outcome::Removed;
        }
        let attempt = async {
            let svc = svc.ready().await?;
            svc.call(payload.clone()).await
        };
        let abandon = async {
            removed.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        let err = tokio::select! {
            r = attempt => match r {
                Ok(rejected) => return Outcome::Done(Ok(rejected)),
                Err(e) => e,
            },
            _ = abandon => {
                tracing::info!(exporter = %id, ?grace, "backend removed with an export in flight; abandoning it");
                return Outcome::Removed;
            }
            _ = give_up.cancelled() => return Outcome::Done(Err(Failure::GaveUp)),
        };
        if !retry.enabled || !err.is_retryable() {
            return Outcome::Done(Err(Failure::Failed(err)));
        }
        // Another backend may take what this one cannot, whatever the retry budget says.
        if removed.is_cancelled() {
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
            _ = removed.cancelled() => return Outcome::Removed,
            _ = give_up.cancelled() => return Outcome::Done(Err(Failure::GaveUp)),
        }
    }
}
