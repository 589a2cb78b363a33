use aiotel_api::{Ack, AckReceiver, Batch, Payload, PipelineError};

use crate::pipeline::Fanout;
use crate::telemetry::ComponentCounters;

/// Items a receiver refused itself because they were malformed: reported
/// to the client as an OTLP partial success.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Rejected {
    pub count: u64,
    pub message: String,
}

/// Hands decoded data to the pipelines and waits until they accept it.
pub async fn ingest(out: &Fanout, counters: &ComponentCounters, payload: Payload) -> Result<Rejected, PipelineError> {
    submit(out, counters, payload, false).await.answer().await
}

/// Data handed to the pipelines whose answer is still to come.
pub struct Submitted<'a> {
    rejected: Rejected,
    n: u64,
    done: Option<AckReceiver>,
    counters: &'a ComponentCounters,
}

/// Hands decoded data to the pipelines. With `wait_for_room`, a full
/// pipeline queue makes this wait instead of refusing: the backpressure of
/// a receiver that pulls (Kafka), which has nobody to tell to retry.
pub async fn submit<'a>(
    out: &Fanout,
    counters: &'a ComponentCounters,
    mut payload: Payload,
    wait_for_room: bool,
) -> Submitted<'a> {
    let rejected = strip_invalid(&mut payload);
    let n = payload.item_count() as u64;
    counters.refused.inc_by(rejected.count);
    if n == 0 {
        return Submitted { rejected, n, done: None, counters };
    }
    let (ack, done) = Ack::new();
    out.consume(Batch::new(payload, vec![ack]), wait_for_room).await;
    Submitted { rejected, n, done: Some(done), counters }
}

impl Submitted<'_> {
    /// Waits until every stage has settled the data (see `acknowledgements`).
    pub async fn answer(self) -> Result<Rejected, PipelineError> {
        let Some(done) = self.done else { return Ok(self.rejected) };
        let n = self.n;
        match done.await {
            Ok(Ok(())) => {
                self.counters.accepted.inc_by(n);
                Ok(self.rejected)
            }
            Ok(Err(e)) => {
                self.counters.refused.inc_by(n);
                Err(e)
            }
            Err(_) => {
                self.counters.refused.inc_by(n);
                Err(PipelineError::unavailable("pipeline stopped before answering"))
            }
        }
    }
}

/// Removes spans and log records whose ids have the wrong length, as the
/// OTLP spec requires, and empty containers left behind.
fn strip_invalid(p: &mut Payload) -> Rejected {
    let mut count = 0u64;
    match p {
        Payload::Traces(rs) => {
            for r in rs.iter_mut() {
                for s in r.scope_spans.iter_mut() {
                    let before = s.spans.len();
                    s.spans.retain(|sp| {
                        sp.trace_id.len() == 16
                            && sp.span_id.len() == 8
                            && (sp.parent_span_id.is_empty() || sp.parent_span_id.len() == 8)
                    });
                    count += (before - s.spans.len()) as u64;
                }
                r.scope_spans.retain(|s| !s.spans.is_empty());
            }
            rs.retain(|r| !r.scope_spans.is_empty());
        }
        Payload::Logs(rl) => {
            for r in rl.iter_mut() {
                for s in r.scope_logs.iter_mut() {
                    let before = s.log_records.len();
                    s.log_records.retain(|l| {
                        (l.trace_id.is_empty() || l.trace_id.len() == 16)
                            && (l.span_id.is_empty() || l.span_id.len() == 8)
                    });
                    count += (before - s.log_records.len()) as u64;
                }
                r.scope_logs.retain(|s| !s.log_records.is_empty());
            }
            rl.retain(|r| !r.scope_logs.is_empty());
        }
        Payload::Metrics(rm) => {
            for r in rm.iter_mut() {
                r.scope_metrics.retain(|s| !s.metrics.is_empty());
            }
            rm.retain(|r| !r.scope_metrics.is_empty());
        }
    }
    let message =
        if count > 0 { format!("{count} item(s) had a trace or span id of the wrong length") } else { String::new() };
    Rejected { count, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiotel_api::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};

    #[test]
    fn strips_spans_with_bad_ids() {
        let good = Span { trace_id: vec![1; 16], span_id: vec![2; 8], ..Default::default() };
        let bad = Span { trace_id: vec![1; 3], span_id: vec![2; 8], ..Default::default() };
        let mut p = Payload::Traces(vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans: vec![good, bad], ..Default::default() }],
            ..Default::default()
        }]);
        assert_eq!(strip_invalid(&mut p).count, 1);
        assert_eq!(p.item_count(), 1);
    }
}
