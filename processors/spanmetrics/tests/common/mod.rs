//! Span builders and metric readers shared by the tests and the bench.
#![allow(dead_code)]

use std::collections::BTreeMap;

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, InstrumentationScope, KeyValue};
use aiotel_api::otlp::metrics::v1::{metric::Data, number_data_point, Metric, ResourceMetrics};
use aiotel_api::otlp::resource::v1::Resource;
use aiotel_api::otlp::trace::v1::{span::Event, ResourceSpans, ScopeSpans, Span, Status};
use aiotel_api::{Ack, AckReceiver, Batch, Payload, Processor};
use aiotel_spanmetrics::SpanMetricsConnector;

/// A fixed epoch for scripted spans: 2026-01-01T00:00:00Z.
pub const T0: u64 = 1_767_225_600_000_000_000;
pub const MS: u64 = 1_000_000;

pub fn val(v: Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(v) })
}
pub fn s(k: &str, v: &str) -> KeyValue {
    KeyValue { key: k.into(), value: val(Value::StringValue(v.into())), ..Default::default() }
}
pub fn i(k: &str, v: i64) -> KeyValue {
    KeyValue { key: k.into(), value: val(Value::IntValue(v)), ..Default::default() }
}
pub fn d(k: &str, v: f64) -> KeyValue {
    KeyValue { key: k.into(), value: val(Value::DoubleValue(v)), ..Default::default() }
}

pub const KIND_INTERNAL: i32 = 1;
pub const KIND_SERVER: i32 = 2;
pub const KIND_CLIENT: i32 = 3;
pub const OK: i32 = 1;
pub const ERROR: i32 = 2;

/// A span starting at `T0 + start_ms` and lasting `dur_ms`.
pub fn span(name: &str, kind: i32, status: i32, start_ms: u64, dur_ms: u64, attrs: Vec<KeyValue>) -> Span {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Span {
        trace_id: [&[0xab; 8][..], &id.to_be_bytes()].concat(),
        span_id: id.to_be_bytes().to_vec(),
        name: name.into(),
        kind,
        start_time_unix_nano: T0 + start_ms * MS,
        end_time_unix_nano: T0 + (start_ms + dur_ms) * MS,
        attributes: attrs,
        status: Some(Status { code: status, message: String::new() }),
        ..Default::default()
    }
}

pub fn event(name: &str, at_ns: u64, attrs: Vec<KeyValue>) -> Event {
    Event { name: name.into(), time_unix_nano: at_ns, attributes: attrs, ..Default::default() }
}

pub fn resource(attrs: Vec<KeyValue>, scope: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource { attributes: attrs, ..Default::default() }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope { name: scope.into(), version: "1.0".into(), ..Default::default() }),
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub fn batch(rs: Vec<ResourceSpans>) -> (Batch, AckReceiver) {
    let (ack, rx) = Ack::new();
    (Batch::new(Payload::Traces(rs), vec![ack]), rx)
}

/// Feeds spans through `process`, checking that the request is acked at once.
pub fn feed(c: &mut SpanMetricsConnector, rs: Vec<ResourceSpans>) {
    let (b, mut rx) = batch(rs);
    let mut out = Vec::new();
    c.process(b, &mut out);
    assert!(out.is_empty(), "a connector passes no spans on");
    assert!(rx.try_recv().expect("acked at once").is_ok());
}

/// The metrics of one flush (the final one, as on shutdown).
pub fn flush(c: &mut SpanMetricsConnector) -> Vec<ResourceMetrics> {
    let mut out = Vec::new();
    c.flush(&mut out);
    assert!(out.len() <= 1);
    out.into_iter()
        .flat_map(|b| {
            assert!(b.acks.is_empty(), "emitted metrics carry no acks");
            match b.payload {
                Payload::Metrics(m) => m,
                other => panic!("expected metrics, got {:?}", other.signal()),
            }
        })
        .collect()
}

pub fn text(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        other => format!("{other:?}"),
    }
}

pub type Attrs = BTreeMap<String, String>;

pub fn attrs(kvs: &[KeyValue]) -> Attrs {
    kvs.iter().map(|kv| (kv.key.clone(), text(&kv.value))).collect()
}

/// Attribute maps from `k=v` pairs.
pub fn am(pairs: &[(&str, &str)]) -> Attrs {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Every metric named `name`, with the resource attributes it came under.
pub fn metrics<'a>(rms: &'a [ResourceMetrics], name: &str) -> Vec<(Attrs, &'a Metric)> {
    rms.iter()
        .flat_map(|rm| {
            let r = attrs(&rm.resource.as_ref().unwrap().attributes);
            rm.scope_metrics.iter().flat_map(|sm| &sm.metrics).map(move |m| (r.clone(), m))
        })
        .filter(|(_, m)| m.name == name)
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistPoint {
    pub resource: Attrs,
    pub attrs: Attrs,
    pub count: u64,
    pub sum: f64,
    pub buckets: Vec<u64>,
    pub bounds: Vec<f64>,
    pub exemplars: usize,
}

pub fn hist_points(rms: &[ResourceMetrics], name: &str) -> Vec<HistPoint> {
    metrics(rms, name)
        .into_iter()
        .flat_map(|(r, m)| match m.data.as_ref().unwrap() {
            Data::Histogram(h) => h
                .data_points
                .iter()
                .map(|p| HistPoint {
                    resource: r.clone(),
                    attrs: attrs(&p.attributes),
                    count: p.count,
                    sum: p.sum.unwrap(),
                    buckets: p.bucket_counts.clone(),
                    bounds: p.explicit_bounds.clone(),
                    exemplars: p.exemplars.len(),
                })
                .collect::<Vec<_>>(),
            other => panic!("{name} is not a histogram: {other:?}"),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct SumPoint {
    pub resource: Attrs,
    pub attrs: Attrs,
    pub value: f64,
    pub unit: String,
}

pub fn sum_points(rms: &[ResourceMetrics], name: &str) -> Vec<SumPoint> {
    metrics(rms, name)
        .into_iter()
        .flat_map(|(r, m)| match m.data.as_ref().unwrap() {
            Data::Sum(s) => {
                assert!(s.is_monotonic, "{name} must be monotonic");
                s.data_points
                    .iter()
                    .map(|p| SumPoint {
                        resource: r.clone(),
                        attrs: attrs(&p.attributes),
                        value: match p.value.unwrap() {
                            number_data_point::Value::AsInt(i) => i as f64,
                            number_data_point::Value::AsDouble(d) => d,
                        },
                        unit: m.unit.clone(),
                    })
                    .collect::<Vec<_>>()
            }
            other => panic!("{name} is not a sum: {other:?}"),
        })
        .collect()
}

/// Bucket counts from `(index, count)` pairs.
pub fn buckets(n: usize, set: &[(usize, u64)]) -> Vec<u64> {
    let mut v = vec![0; n];
    for &(i, c) in set {
        v[i] += c;
    }
    v
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}
