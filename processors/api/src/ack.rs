use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::PipelineError;

/// One outstanding part of a request that a receiver is waiting on.
///
/// Batching merges acks, splitting and fan-out clone them. The receiver's
/// [`AckReceiver`] resolves once every clone has been settled; the worst
/// outcome wins. An ack dropped without being settled counts as a failure,
/// so data can never vanish silently.
pub struct Ack {
    shared: Arc<Shared>,
    settled: bool,
}

struct Shared {
    outcome: Mutex<Option<PipelineError>>,
    tx: Mutex<Option<oneshot::Sender<Result<(), PipelineError>>>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let outcome = self.outcome.get_mut().map(|o| o.take()).unwrap_or(None);
        if let Some(tx) = self.tx.get_mut().ok().and_then(|t| t.take()) {
            let _ = tx.send(match outcome {
                Some(e) => Err(e),
                None => Ok(()),
            });
        }
    }
}

/// Resolves when all parts of a request have been settled.
pub type AckReceiver = oneshot::Receiver<Result<(), PipelineError>>;

impl Ack {
    pub fn new() -> (Ack, AckReceiver) {
        let (tx, rx) = oneshot::channel();
        let shared = Arc::new(Shared { outcome: Mutex::new(None), tx: Mutex::new(Some(tx)) });
        (Ack { shared, settled: false }, rx)
    }

    /// The data has been delivered, or handed to a queue that owns it now.
    pub fn ok(mut self) {
        self.settled = true;
    }

    pub fn fail(mut self, err: PipelineError) {
        self.settled = true;
        self.record(err);
    }

    fn record(&self, err: PipelineError) {
        if let Ok(mut o) = self.shared.outcome.lock() {
            *o = Some(match o.take() {
                Some(prev) => prev.worse(err),
                None => err,
            });
        }
    }
}

impl Clone for Ack {
    fn clone(&self) -> Self {
        Ack { shared: self.shared.clone(), settled: false }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if !self.settled {
            self.record(PipelineError::unavailable("data was dropped inside the pipeline"));
        }
    }
}

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ack")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_ok_after_all_clones_settle() {
        let (a, mut rx) = Ack::new();
        let b = a.clone();
        a.ok();
        assert!(rx.try_recv().is_err(), "must wait for the clone");
        b.ok();
        assert!(rx.try_recv().unwrap().is_ok());
    }

    #[test]
    fn worst_outcome_wins_and_drop_is_failure() {
        let (a, mut rx) = Ack::new();
        let b = a.clone();
        let c = a.clone();
        a.ok();
        drop(b);
        c.fail(PipelineError::permanent("bad"));
        let err = rx.try_recv().unwrap().unwrap_err();
        assert!(!err.is_retryable());
    }
}
