use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::PipelineError;

/// One outstanding part of a request that a receiver is waiting on.
///
/// Batching merges acks, splitting and fan-out clone them. The receiver's
/// [`AckReceiver`] resolves once every clone has been settled; the worst
/// outcome wins. An ack dropped without being settled counts as a failure,
/// so data can never vanish silently.
///
/// A *durable* ack belongs to a pipeline configured with
/// `acknowledgements: durable`: an in-memory queue or a buffering processor
/// must not settle it when it takes the data, only once the data has been
/// delivered or written to a persistent queue.
pub struct Ack {
    shared: Arc<Shared>,
    settled: bool,
    durable: bool,
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
        (Ack { shared, settled: false, durable: false }, rx)
    }

    /// Whether only delivery or a write to disk may settle this ack.
    pub fn is_durable(&self) -> bool {
        self.durable
    }

    /// Marks the ack durable; its clones inherit that.
    pub fn set_durable(&mut self) {
        self.durable = true;
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
        Ack { shared: self.shared.clone(), settled: false, durable: self.durable }
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

    #[test]
    fn only_non_durable_acks_are_settleable_and_clones_inherit_durability() {
        use crate::{Batch, Payload};
        let (mut d, mut drx) = Ack::new();
        d.set_durable();
        let (p, mut prx) = Ack::new();
        let mut b = Batch::new(Payload::Traces(Vec::new()), vec![d.clone(), p]);
        d.ok();
        let settle = b.take_settleable_acks();
        assert_eq!((settle.len(), b.acks.len()), (1, 1));
        assert!(b.acks[0].is_durable() && !settle[0].is_durable());
        settle.into_iter().for_each(Ack::ok);
        assert!(prx.try_recv().unwrap().is_ok());
        assert!(drx.try_recv().is_err(), "the durable ack still waits");
        b.ok();
        assert!(drx.try_recv().unwrap().is_ok());
    }
}
