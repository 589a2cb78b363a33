//! Flush timing, temporality, expiration and the resource cap.

mod common;

use std::time::{Duration, Instant};

use common::*;

use aiotel_api::otlp::metrics::v1::{metric::Data, number_data_point, ResourceMetrics};
use aiotel_api::{Ack, Batch, Payload, Processor};
use aiotel_spanmetrics::{SpanMetricsConfig, SpanMetricsConnector};

fn cfg(yaml: &str) -> SpanMetricsConfig {
    serde_yaml_ng::from_str(yaml).unwrap()
}

fn svc(name: &str, n: usize) -> Vec<aiotel_api::otlp::trace::v1::ResourceSpans> {
    let spans = (0..n).map(|_| span("op", KIND_SERVER, 0, 0, 1, vec![s("gen_ai.operation.name", "chat")])).collect();
    vec![resource(vec![s("service.name", name)], "x", spans)]
}

fn at(c: &mut SpanMetricsConnector, rs: Vec<aiotel_api::otlp::trace::v1::ResourceSpans>, now: u64) {
    c.process_at(batch(rs).0, now);
}

fn flush_at(c: &mut SpanMetricsConnector, now: u64) -> Vec<ResourceMetrics> {
    let mut out = Vec::new();
    c.flush_at(now, &mut out);
    out.into_iter()
        .flat_map(|b| match b.payload {
            Payload::Metrics(m) => m,
            _ => unreachable!(),
        })
        .collect()
}

/// (service, calls value, start, time) of every calls point.
fn calls(rms: &[ResourceMetrics]) -> Vec<(String, i64, u64, u64)> {
    let mut v: Vec<_> = metrics(rms, "traces.span.metrics.calls")
        .into_iter()
        .flat_map(|(r, m)| {
            let Some(Data::Sum(s)) = &m.data else { panic!() };
            s.data_points
                .iter()
                .map(|p| {
                    let Some(number_data_point::Value::AsInt(n)) = p.value else { panic!() };
                    (r["service.name"].clone(), n, p.start_time_unix_nano, p.time_unix_nano)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    v.sort();
    v
}

const S: u64 = 1_000_000_000;

#[test]
fn flushes_on_the_interval_with_no_acks() {
    let mut c = SpanMetricsConnector::new(&cfg("metrics_flush_interval: 100ms\n")).unwrap();
    let first = c.next_deadline().unwrap();
    assert!(first <= Instant::now() + Duration::from_millis(100));
    feed(&mut c, svc("a", 3));
    let mut out = Vec::new();
    c.on_deadline(first - Duration::from_millis(50), &mut out);
    assert!(out.is_empty(), "not due yet");
    c.on_deadline(first, &mut out);
    assert_eq!(out.len(), 1);
    assert!(out[0].acks.is_empty());
    assert_eq!(out[0].payload.signal(), aiotel_api::Signal::Metrics);
    assert_eq!(c.next_deadline().unwrap(), first + Duration::from_millis(100));
    // Far behind: the next deadline restarts from now.
    let late = first + Duration::from_secs(10);
    c.on_deadline(late, &mut out);
    assert_eq!(c.next_deadline().unwrap(), late + Duration::from_millis(100));
}

#[test]
fn other_signals_are_acked_and_ignored() {
    let mut c = SpanMetricsConnector::new(&SpanMetricsConfig::default()).unwrap();
    let (ack, mut rx) = Ack::new();
    let mut out = Vec::new();
    c.process(Batch::new(Payload::Logs(vec![]), vec![ack]), &mut out);
    assert!(rx.try_recv().unwrap().is_ok());
    assert_eq!(c.stats().ignored_batches, 1);
    c.flush(&mut out);
    assert!(out.is_empty(), "nothing to emit");
}

#[test]
fn cumulative_keeps_start_times_and_delta_resets() {
    let mut c = SpanMetricsConnector::new(&SpanMetricsConfig::default()).unwrap();
    at(&mut c, svc("a", 2), T0 + S);
    assert_eq!(calls(&flush_at(&mut c, T0 + 10 * S)), [("a".into(), 2, T0 + S, T0 + 10 * S)]);
    at(&mut c, svc("a", 1), T0 + 11 * S);
    assert_eq!(calls(&flush_at(&mut c, T0 + 20 * S)), [("a".into(), 3, T0 + S, T0 + 20 * S)]);

    let mut d = SpanMetricsConnector::new(&cfg("aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA\n")).unwrap();
    d.flush_at(T0, &mut Vec::new());
    at(&mut d, svc("a", 2), T0 + S);
    let first = flush_at(&mut d, T0 + 10 * S);
    assert_eq!(calls(&first), [("a".into(), 2, T0, T0 + 10 * S)]);
    let Some(Data::Sum(sum)) = &metrics(&first, "traces.span.metrics.calls")[0].1.data else { panic!() };
    assert_eq!(sum.aggregation_temporality, 1, "delta");
    at(&mut d, svc("a", 1), T0 + 11 * S);
    // Points follow on: each starts where the previous flush ended.
    assert_eq!(calls(&flush_at(&mut d, T0 + 20 * S)), [("a".into(), 1, T0 + 10 * S, T0 + 20 * S)]);
    assert!(flush_at(&mut d, T0 + 30 * S).is_empty(), "nothing new, nothing sent");
    assert_eq!(d.stats().series(), 0, "delta state is dropped after each flush");
}

#[test]
fn metrics_and_series_expire() {
    let mut c = SpanMetricsConnector::new(&cfg("metrics_expiration: 5m\n")).unwrap();
    at(&mut c, svc("old", 1), T0);
    at(&mut c, svc("new", 1), T0 + 200 * S);
    let names: Vec<String> = calls(&flush_at(&mut c, T0 + 301 * S)).into_iter().map(|p| p.0).collect();
    assert_eq!(names, ["new"]);
    assert_eq!(c.stats().resources, 1);

    let mut c = SpanMetricsConnector::new(&cfg("series_expiration: 1m\ngenai:\n  enabled: false\n")).unwrap();
    let sp =
        |name: &str| vec![resource(vec![s("service.name", "a")], "x", vec![span(name, KIND_SERVER, 0, 0, 1, vec![])])];
    at(&mut c, sp("stale"), T0);
    at(&mut c, sp("fresh"), T0 + 50 * S);
    let rms = flush_at(&mut c, T0 + 61 * S);
    let names: Vec<String> =
        sum_points(&rms, "traces.span.metrics.calls").into_iter().map(|p| p.attrs["span.name"].clone()).collect();
    assert_eq!(names, ["fresh"]);
    assert_eq!(c.stats().metric("traces.span.metrics.duration").unwrap().series, 1);
}

#[test]
fn resource_cap_drops_the_least_recently_seen() {
    let mut c = SpanMetricsConnector::new(&cfg("resource_metrics_cache_size: 2\n")).unwrap();
    at(&mut c, svc("a", 1), T0);
    at(&mut c, svc("b", 1), T0 + S);
    at(&mut c, svc("a", 1), T0 + 2 * S);
    at(&mut c, svc("c", 1), T0 + 3 * S);
    let names: Vec<String> = calls(&flush_at(&mut c, T0 + 4 * S)).into_iter().map(|p| p.0).collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(c.stats().resources_evicted, 1);
}

#[test]
fn exemplars_are_capped_and_cleared_after_a_flush() {
    let mut c = SpanMetricsConnector::new(&cfg("exemplars:\n  enabled: true\n  max_per_data_point: 2\n")).unwrap();
    at(&mut c, svc("a", 5), T0);
    let first = hist_points(&flush_at(&mut c, T0 + S), "traces.span.metrics.duration");
    assert_eq!(first[0].exemplars, 2);
    let tokens = hist_points(&flush_at(&mut c, T0 + 2 * S), "traces.span.metrics.duration");
    assert_eq!((tokens[0].count, tokens[0].exemplars), (5, 0));
}
