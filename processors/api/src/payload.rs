use opentelemetry_proto::tonic::{
    logs::v1::ResourceLogs, metrics::v1::metric::Data, metrics::v1::ResourceMetrics, trace::v1::ResourceSpans,
};

use crate::Ack;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }

    /// The item noun used in self-metric names, as the Collector names them.
    pub fn item_noun(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Metrics => "metric_points",
            Signal::Logs => "log_records",
        }
    }

    pub fn parse(s: &str) -> Option<Signal> {
        Some(match s {
            "traces" => Signal::Traces,
            "metrics" => Signal::Metrics,
            "logs" => Signal::Logs,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// OTLP data of one signal, kept in its decoded protobuf form.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Traces(Vec<ResourceSpans>),
    Metrics(Vec<ResourceMetrics>),
    Logs(Vec<ResourceLogs>),
}

impl Payload {
    pub fn empty(signal: Signal) -> Payload {
        match signal {
            Signal::Traces => Payload::Traces(Vec::new()),
            Signal::Metrics => Payload::Metrics(Vec::new()),
            Signal::Logs => Payload::Logs(Vec::new()),
        }
    }

    pub fn signal(&self) -> Signal {
        match self {
            Payload::Traces(_) => Signal::Traces,
            Payload::Metrics(_) => Signal::Metrics,
            Payload::Logs(_) => Signal::Logs,
        }
    }

    /// Spans, metric data points or log records: the unit every count uses.
    pub fn item_count(&self) -> usize {
        match self {
            Payload::Traces(rs) => rs.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum(),
            Payload::Logs(rl) => rl.iter().flat_map(|r| &r.scope_logs).map(|s| s.log_records.len()).sum(),
            Payload::Metrics(rm) => rm
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(|m| data_points(m.data.as_ref()))
                .sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Payload::Traces(v) => v.is_empty(),
            Payload::Metrics(v) => v.is_empty(),
            Payload::Logs(v) => v.is_empty(),
        }
    }

    /// Appends `other`, which must be of the same signal; returns it back otherwise.
    pub fn append(&mut self, other: Payload) -> Result<(), Payload> {
        match (self, other) {
            (Payload::Traces(a), Payload::Traces(mut b)) => a.append(&mut b),
            (Payload::Metrics(a), Payload::Metrics(mut b)) => a.append(&mut b),
            (Payload::Logs(a), Payload::Logs(mut b)) => a.append(&mut b),
            (_, other) => return Err(other),
        }
        Ok(())
    }

    /// Splits off a payload holding at most `max_items` items from the front.
    /// Resource and scope are copied into both halves where a split crosses them.
    pub fn split_front(&mut self, max_items: usize) -> Payload {
        match self {
            Payload::Traces(rs) => {
                Payload::Traces(split_nested(rs, max_items, |r| &mut r.scope_spans, |s| &mut s.spans, |_| 1))
            }
            Payload::Logs(rl) => {
                Payload::Logs(split_nested(rl, max_items, |r| &mut r.scope_logs, |s| &mut s.log_records, |_| 1))
            }
            Payload::Metrics(rm) => Payload::Metrics(split_nested(
                rm,
                max_items,
                |r| &mut r.scope_metrics,
                |s| &mut s.metrics,
                |m| data_points(m.data.as_ref()).max(1),
            )),
        }
    }

    /// Encoded protobuf size of the export request this payload forms.
    pub fn encoded_len(&self) -> usize {
        use prost::Message;
        // Each resource is field 1 of the request: one tag byte, a length, the message.
        let field = |len: usize| 1 + prost::length_delimiter_len(len) + len;
        match self {
            Payload::Traces(v) => v.iter().map(|r| field(r.encoded_len())).sum(),
            Payload::Metrics(v) => v.iter().map(|r| field(r.encoded_len())).sum(),
            Payload::Logs(v) => v.iter().map(|r| field(r.encoded_len())).sum(),
        }
    }
}

fn data_points(d: Option<&Data>) -> usize {
    match d {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

/// Moves up to `max` items (weighted by `weight`) from the front of a
/// resource → scope → item tree into a new tree. Metrics are not split
/// below one metric, so a metric with many points may exceed `max`.
fn split_nested<R: Clone, S: Clone, I>(
    resources: &mut Vec<R>,
    max: usize,
    scopes_of: impl Fn(&mut R) -> &mut Vec<S>,
    items_of: impl Fn(&mut S) -> &mut Vec<I>,
    weight: impl Fn(&I) -> usize,
) -> Vec<R> {
    let mut out = Vec::new();
    let mut budget = max;
    while budget > 0 && !resources.is_empty() {
        let first = &mut resources[0];
        let total: usize = scopes_of(first).iter_mut().map(|s| items_of(s).iter().map(&weight).sum::<usize>()).sum();
        if total <= budget {
            budget -= total;
            out.push(resources.remove(0));
            continue;
        }
        // Take part of this resource.
        let mut taken = first.clone();
        scopes_of(&mut taken).clear();
        let scopes = scopes_of(first);
        while budget > 0 && !scopes.is_empty() {
            let s = &mut scopes[0];
            let st: usize = items_of(s).iter().map(&weight).sum();
            if st <= budget {
                budget -= st;
                scopes_of(&mut taken).push(scopes.remove(0));
                continue;
            }
            let items = items_of(s);
            let mut n = 0;
            let mut w = 0;
            while n < items.len() && w + weight(&items[n]) <= budget {
                w += weight(&items[n]);
                n += 1;
            }
            if n == 0 && scopes_of(&mut taken).is_empty() {
                n = 1; // always make progress
            }
            let rest = items.split_off(n);
            let head = std::mem::replace(items, rest);
            let mut part = s.clone();
            *items_of(&mut part) = head;

            scopes_of(&mut taken).push(part);
            budget = 0;
        }
        out.push(taken);
    }
    out
}

/// Data moving through a pipeline, with the acks of every request it came from.
#[derive(Debug)]
pub struct Batch {
    pub payload: Payload,
    pub acks: Vec<Ack>,
}

impl Batch {
    pub fn new(payload: Payload, acks: Vec<Ack>) -> Batch {
        Batch { payload, acks }
    }

    /// A copy for another consumer: the acks are cloned, so the request is
    /// settled only when both copies are.
    pub fn fork(&self) -> Batch {
        Batch { payload: self.payload.clone(), acks: self.acks.clone() }
    }

    pub fn ok(self) {
        self.acks.into_iter().for_each(Ack::ok);
    }

    /// Removes and returns the acks that a stage may settle once it owns the
    /// data (all but the durable ones, which wait for delivery or disk).
    pub fn take_settleable_acks(&mut self) -> Vec<Ack> {
        if self.acks.iter().all(|a| !a.is_durable()) {
            return std::mem::take(&mut self.acks);
        }
        let (durable, rest) = std::mem::take(&mut self.acks).into_iter().partition(Ack::is_durable);
        self.acks = durable;
        rest
    }

    pub fn fail(self, err: &crate::PipelineError) {
        self.acks.into_iter().for_each(|a| a.fail(err.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Span};

    fn traces(shape: &[&[usize]]) -> Payload {
        Payload::Traces(
            shape
                .iter()
                .map(|scopes| ResourceSpans {
                    scope_spans: scopes
                        .iter()
                        .map(|&n| ScopeSpans { spans: (0..n).map(|_| Span::default()).collect(), ..Default::default() })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
        )
    }

    #[test]
    fn split_front_keeps_every_item_once() {
        let mut p = traces(&[&[3, 4], &[5]]);
        let a = p.split_front(5);
        assert_eq!(a.item_count(), 5);
        assert_eq!(p.item_count(), 7);
        let b = p.split_front(100);
        assert_eq!(b.item_count(), 7);
        assert!(p.is_empty());
    }
}
