//! The `batch` processor, with the Collector's settings.
//!
//! Unlike the Collector's, it keeps every request's ack with the data, so an
//! export failure travels back to the client instead of being swallowed.

use std::time::{Duration, Instant};

use aiotel_api::{Batch, Processor};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Send once this many items are buffered.
    pub send_batch_size: usize,
    /// Split anything larger than this; 0 means no limit.
    pub send_batch_max_size: usize,
    /// Send whatever is buffered after this long, even if small.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Send as soon as the pipeline has nothing more waiting. Clients wait for
    /// their data to leave the batch (so failures reach them); this keeps that
    /// wait short when load is light, while heavy load still fills batches.
    pub flush_when_idle: bool,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            send_batch_size: 8192,
            send_batch_max_size: 0,
            timeout: Duration::from_millis(200),
            flush_when_idle: true,
        }
    }
}

impl BatchConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.send_batch_max_size != 0 && self.send_batch_max_size < self.send_batch_size {
            return Err("send_batch_max_size must be greater than or equal to send_batch_size".into());
        }
        Ok(())
    }
}

pub struct BatchProcessor {
    cfg: BatchConfig,
    pending: Option<Batch>,
    pending_items: usize,
    deadline: Option<Instant>,
}

impl BatchProcessor {
    pub fn new(cfg: BatchConfig) -> Self {
        Self { cfg, pending: None, pending_items: 0, deadline: None }
    }

    fn emit(&mut self, out: &mut Vec<Batch>) {
        self.deadline = None;
        self.pending_items = 0;
        let Some(mut batch) = self.pending.take() else { return };
        let max = self.cfg.send_batch_max_size;
        if max > 0 {
            while batch.payload.item_count() > max {
                let head = batch.payload.split_front(max);
                out.push(Batch::new(head, batch.acks.clone()));
            }
        }
        if !batch.payload.is_empty() {
            out.push(batch);
        } else {
            // Everything went out in the split parts, which hold clones of these acks.
            batch.ok();
        }
    }
}

impl Processor for BatchProcessor {
    fn process(&mut self, batch: Batch, out: &mut Vec<Batch>) {
        let n = batch.payload.item_count();
        match self.pending.as_mut() {
            None => {
                self.pending = Some(batch);
                self.deadline = Some(Instant::now() + self.cfg.timeout);
            }
            Some(p) => {
                let Batch { payload, acks } = batch;
                if let Err(other) = p.payload.append(payload) {
                    // A pipeline carries one signal; a mismatch is a wiring bug, not data loss.
                    out.push(Batch::new(other, acks));
                    return;
                }
                p.acks.extend(acks);
            }
        }
        self.pending_items += n;
        if self.pending_items >= self.cfg.send_batch_size {
            self.emit(out);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.deadline
    }

    fn on_deadline(&mut self, now: Instant, out: &mut Vec<Batch>) {
        if self.deadline.is_some_and(|d| d <= now) {
            self.emit(out);
        }
    }

    fn on_idle(&mut self, out: &mut Vec<Batch>) {
        if self.cfg.flush_when_idle {
            self.emit(out);
        }
    }

    fn flush(&mut self, out: &mut Vec<Batch>) {
        self.emit(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiotel_api::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use aiotel_api::{Ack, Payload};

    fn spans(n: usize) -> (Batch, aiotel_api::AckReceiver) {
        let (ack, rx) = Ack::new();
        let p = Payload::Traces(vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans: vec![Span::default(); n], ..Default::default() }],
            ..Default::default()
        }]);
        (Batch::new(p, vec![ack]), rx)
    }

    #[test]
    fn sends_at_size_and_splits_at_max() {
        let mut b =
            BatchProcessor::new(BatchConfig { send_batch_size: 10, send_batch_max_size: 10, ..Default::default() });
        let mut out = Vec::new();
        let (a, _ra) = spans(6);
        b.process(a, &mut out);
        assert!(out.is_empty());
        let (c, mut rc) = spans(9);
        b.process(c, &mut out);
        assert_eq!(out.iter().map(|b| b.payload.item_count()).collect::<Vec<_>>(), vec![10, 5]);
        assert!(b.next_deadline().is_none());
        // The second request is settled only when both parts are.
        let mut parts = out.drain(..);
        parts.next().unwrap().ok();
        assert!(rc.try_recv().is_err());
        parts.next().unwrap().ok();
        assert!(rc.try_recv().unwrap().is_ok());
    }

    #[test]
    fn idle_flush_is_optional() {
        let mut out = Vec::new();
        let mut eager = BatchProcessor::new(BatchConfig::default());
        eager.process(spans(3).0, &mut out);
        eager.on_idle(&mut out);
        assert_eq!(out.len(), 1);
        out.clear();
        let mut patient = BatchProcessor::new(BatchConfig { flush_when_idle: false, ..Default::default() });
        patient.process(spans(3).0, &mut out);
        patient.on_idle(&mut out);
        assert!(out.is_empty());
        assert!(patient.next_deadline().is_some());
    }

    #[test]
    fn failure_reaches_every_merged_request() {
        let mut b = BatchProcessor::new(BatchConfig::default());
        let mut out = Vec::new();
        let (a, mut ra) = spans(1);
        let (c, mut rc) = spans(1);
        b.process(a, &mut out);
        b.process(c, &mut out);
        b.on_deadline(Instant::now() + Duration::from_secs(1), &mut out);
        assert_eq!(out.len(), 1);
        out.pop().unwrap().fail(&aiotel_api::PipelineError::unavailable("backend down"));
        assert!(ra.try_recv().unwrap().unwrap_err().is_retryable());
        assert!(rc.try_recv().unwrap().is_err());
    }
}
