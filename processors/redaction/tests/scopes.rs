//! Every place attributes live is redacted: resource, scope, span, span
//! event and span link attributes; log attributes and bodies (string,
//! kvlist, array, recursively); metric data points of all five types and
//! their exemplars; values nested in kvlist and array attributes.

mod common;

use aiotel_api::otlp::common::v1::{any_value::Value, InstrumentationScope, KeyValue};
use aiotel_api::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use aiotel_api::otlp::metrics::v1::{
    exponential_histogram_data_point::Buckets, metric::Data, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use aiotel_api::otlp::resource::v1::Resource;
use aiotel_api::otlp::trace::v1::{span::Event, span::Link, ResourceSpans, ScopeSpans, Span};
use aiotel_api::{Ack, Batch, Payload, Processor};
use common::*;

const EMAIL: &str = "jane.doe@example.com";

fn pii() -> Vec<KeyValue> {
    vec![s("note", &format!("mail {EMAIL} please")), s("service.name", "checkout")]
}

fn assert_clean(attrs: &[KeyValue], place: &str) {
    assert_eq!(get_str(attrs, "note"), Some("mail <EMAIL> please"), "{place}");
    assert_eq!(get_str(attrs, "service.name"), Some("checkout"), "{place}");
}

fn resource() -> Option<Resource> {
    Some(Resource { attributes: pii(), ..Default::default() })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope { name: "lib".into(), attributes: pii(), ..Default::default() })
}

#[test]
fn trace_scopes() {
    let p = processor("allow_all_keys: true");
    let mut payload = Payload::Traces(vec![ResourceSpans {
        resource: resource(),
        scope_spans: vec![ScopeSpans {
            scope: scope(),
            spans: vec![Span {
                name: "chat gpt-4o".into(),
                attributes: pii(),
                events: vec![Event { name: "gen_ai.user.message".into(), attributes: pii(), ..Default::default() }],
                links: vec![Link { attributes: pii(), ..Default::default() }],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }]);
    p.redact(&mut payload);
    let Payload::Traces(t) = &payload else { unreachable!() };
    assert_clean(&t[0].resource.as_ref().unwrap().attributes, "resource");
    let ss = &t[0].scope_spans[0];
    assert_clean(&ss.scope.as_ref().unwrap().attributes, "scope");
    let sp = &ss.spans[0];
    assert_clean(&sp.attributes, "span");
    assert_clean(&sp.events[0].attributes, "event");
    assert_clean(&sp.links[0].attributes, "link");
    assert_eq!(sp.name, "chat gpt-4o");
}

#[test]
fn log_scopes_and_bodies() {
    let p = processor("allow_all_keys: true");
    let rec = |body| LogRecord { attributes: pii(), body: Some(body), ..Default::default() };
    let mut payload = Payload::Logs(vec![ResourceLogs {
        resource: resource(),
        scope_logs: vec![ScopeLogs {
            scope: scope(),
            log_records: vec![
                rec(sv(&format!("user {EMAIL} logged in"))),
                rec(kvlist(vec![
                    s("msg", &format!("from {EMAIL}")),
                    kv("ctx", kvlist(vec![s("to", EMAIL), kv("list", array(vec![sv(EMAIL), sv("ok")]))])),
                ])),
                rec(array(vec![sv(EMAIL), array(vec![sv(&format!("cc {EMAIL}"))])])),
            ],
            ..Default::default()
        }],
        ..Default::default()
    }]);
    p.redact(&mut payload);
    let Payload::Logs(l) = &payload else { unreachable!() };
    assert_clean(&l[0].resource.as_ref().unwrap().attributes, "resource");
    let sl = &l[0].scope_logs[0];
    assert_clean(&sl.scope.as_ref().unwrap().attributes, "scope");
    for lr in &sl.log_records {
        assert_clean(&lr.attributes, "log attributes");
    }
    let dbg = format!("{:?}", sl.log_records);
    assert!(!dbg.contains(EMAIL), "{dbg}");

    let body = |i: usize| sl.log_records[i].body.as_ref().unwrap().value.as_ref().unwrap();
    assert_eq!(body(0), &Value::StringValue("user <EMAIL> logged in".into()));
    let Value::KvlistValue(m) = body(1) else { panic!() };
    assert_eq!(get_str(&m.values, "msg"), Some("from <EMAIL>"));
    let Some(Value::KvlistValue(ctx)) = get(&m.values, "ctx") else { panic!() };
    assert_eq!(get_str(&ctx.values, "to"), Some("<EMAIL>"));
    let Value::ArrayValue(a) = body(2) else { panic!() };
    assert_eq!(a.values[0].value, Some(Value::StringValue("<EMAIL>".into())));
}

#[test]
fn body_summary_uses_collector_key_paths() {
    let p = processor("{allow_all_keys: true, summary: debug}");
    let mut payload = Payload::Logs(vec![ResourceLogs {
        scope_logs: vec![ScopeLogs {
            log_records: vec![LogRecord {
                body: Some(kvlist(vec![
                    s("msg", EMAIL),
                    kv("ctx", kvlist(vec![kv("list", array(vec![sv("ok"), sv(EMAIL)]))])),
                ])),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }]);
    p.redact(&mut payload);
    let Payload::Logs(l) = &payload else { unreachable!() };
    let a = &l[0].scope_logs[0].log_records[0].attributes;
    assert_eq!(get_str(a, "redaction.body.masked.keys"), Some("ctx.list.[1],msg"));
    assert_eq!(get_int(a, "redaction.body.masked.count"), Some(2));
}

fn exemplar() -> Vec<Exemplar> {
    vec![Exemplar { filtered_attributes: pii(), ..Default::default() }]
}

#[test]
fn metric_points_of_every_type() {
    let p = processor("allow_all_keys: true");
    let metric = |data| Metric { name: "m".into(), data: Some(data), ..Default::default() };
    let number = || NumberDataPoint { attributes: pii(), exemplars: exemplar(), ..Default::default() };
    let mut payload = Payload::Metrics(vec![ResourceMetrics {
        resource: resource(),
        scope_metrics: vec![ScopeMetrics {
            scope: scope(),
            metrics: vec![
                metric(Data::Gauge(Gauge { data_points: vec![number()] })),
                metric(Data::Sum(Sum { data_points: vec![number()], ..Default::default() })),
                metric(Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        attributes: pii(),
                        exemplars: exemplar(),
                        ..Default::default()
                    }],
                    ..Default::default()
                })),
                metric(Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![ExponentialHistogramDataPoint {
                        attributes: pii(),
                        exemplars: exemplar(),
                        positive: Some(Buckets::default()),
                        ..Default::default()
                    }],
                    ..Default::default()
                })),
                metric(Data::Summary(Summary {
                    data_points: vec![SummaryDataPoint { attributes: pii(), ..Default::default() }],
                })),
            ],
            ..Default::default()
        }],
        ..Default::default()
    }]);
    p.redact(&mut payload);
    let Payload::Metrics(m) = &payload else { unreachable!() };
    assert_clean(&m[0].resource.as_ref().unwrap().attributes, "resource");
    let sm = &m[0].scope_metrics[0];
    assert_clean(&sm.scope.as_ref().unwrap().attributes, "scope");
    let mut points = 0;
    for metric in &sm.metrics {
        match metric.data.as_ref().unwrap() {
            Data::Gauge(g) => g.data_points.iter().for_each(|d| {
                assert_clean(&d.attributes, "gauge");
                assert_clean(&d.exemplars[0].filtered_attributes, "gauge exemplar");
                points += 1;
            }),
            Data::Sum(g) => g.data_points.iter().for_each(|d| {
                assert_clean(&d.attributes, "sum");
                assert_clean(&d.exemplars[0].filtered_attributes, "sum exemplar");
                points += 1;
            }),
            Data::Histogram(g) => g.data_points.iter().for_each(|d| {
                assert_clean(&d.attributes, "histogram");
                assert_clean(&d.exemplars[0].filtered_attributes, "histogram exemplar");
                points += 1;
            }),
            Data::ExponentialHistogram(g) => g.data_points.iter().for_each(|d| {
                assert_clean(&d.attributes, "exponential histogram");
                assert_clean(&d.exemplars[0].filtered_attributes, "exponential histogram exemplar");
                points += 1;
            }),
            Data::Summary(g) => g.data_points.iter().for_each(|d| {
                assert_clean(&d.attributes, "summary");
                points += 1;
            }),
        }
    }
    assert_eq!(points, 5);
}

#[test]
fn nested_attribute_values() {
    let p = processor("{allow_all_keys: true, summary: debug}");
    let mut attrs = vec![kv(
        "llm.input_messages",
        array(vec![
            kvlist(vec![s("role", "user"), s("content", &format!("I am {EMAIL}"))]),
            sv("card 4111 1111 1111 1111"),
        ]),
    )];
    let mut payload = Payload::Traces(vec![ResourceSpans {
        scope_spans: vec![ScopeSpans {
            spans: vec![Span { attributes: std::mem::take(&mut attrs), ..Default::default() }],
            ..Default::default()
        }],
        ..Default::default()
    }]);
    p.redact(&mut payload);
    let Payload::Traces(t) = &payload else { unreachable!() };
    let a = &t[0].scope_spans[0].spans[0].attributes;
    let Some(Value::ArrayValue(arr)) = get(a, "llm.input_messages") else { panic!() };
    let Some(Value::KvlistValue(msg)) = &arr.values[0].value else { panic!() };
    assert_eq!(get_str(&msg.values, "content"), Some("I am <EMAIL>"));
    assert_eq!(get_str(&msg.values, "role"), Some("user"));
    assert_eq!(arr.values[1].value, Some(Value::StringValue("card <CREDIT_CARD>".into())));
    assert_eq!(get_str(a, "redaction.masked.keys"), Some("llm.input_messages"));
}

#[test]
fn processor_trait_redacts_then_passes_on() {
    let mut p = processor("allow_all_keys: true");
    let payload = Payload::Traces(vec![ResourceSpans { resource: resource(), ..Default::default() }]);
    let (ack, _rx) = Ack::new();
    let mut out = Vec::new();
    p.process(Batch::new(payload, vec![ack]), &mut out);
    assert_eq!(out.len(), 1);
    let Payload::Traces(t) = &out[0].payload else { unreachable!() };
    assert_clean(&t[0].resource.as_ref().unwrap().attributes, "resource");
    out.pop().unwrap().ok();
}
