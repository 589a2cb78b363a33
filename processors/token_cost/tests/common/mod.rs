//! Building spans and log records, and reading attributes back.

#![allow(dead_code)]

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, KeyValue};
use aiotel_api::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use aiotel_api::otlp::resource::v1::Resource;
use aiotel_api::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};
use aiotel_api::Payload;

/// An attribute value as instrumentations send them.
#[derive(Clone, Copy, Debug)]
pub enum V {
    I(i64),
    D(f64),
    S(&'static str),
}

pub const M: f64 = 1_000_000.0;

pub fn attrs(list: &[(&str, V)]) -> Vec<KeyValue> {
    list.iter()
        .map(|(k, v)| KeyValue {
            key: k.to_string(),
            value: Some(AnyValue {
                value: Some(match *v {
                    V::I(i) => Value::IntValue(i),
                    V::D(d) => Value::DoubleValue(d),
                    V::S(s) => Value::StringValue(s.into()),
                }),
            }),
            ..Default::default()
        })
        .collect()
}

pub fn traces(resource: &[(&str, V)], spans: &[&[(&str, V)]]) -> Payload {
    Payload::Traces(vec![ResourceSpans {
        resource: Some(Resource { attributes: attrs(resource), ..Default::default() }),
        scope_spans: vec![ScopeSpans {
            spans: spans
                .iter()
                .map(|a| Span { name: "chat".into(), attributes: attrs(a), ..Default::default() })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }])
}

pub fn logs(resource: &[(&str, V)], records: &[&[(&str, V)]]) -> Payload {
    Payload::Logs(vec![ResourceLogs {
        resource: Some(Resource { attributes: attrs(resource), ..Default::default() }),
        scope_logs: vec![ScopeLogs {
            log_records: records.iter().map(|a| LogRecord { attributes: attrs(a), ..Default::default() }).collect(),
            ..Default::default()
        }],
        ..Default::default()
    }])
}

/// The attributes of item `i` (span or log record) of a one-resource payload.
pub fn item(p: &Payload, i: usize) -> &[KeyValue] {
    match p {
        Payload::Traces(r) => &r[0].scope_spans[0].spans[i].attributes,
        Payload::Logs(r) => &r[0].scope_logs[0].log_records[i].attributes,
        Payload::Metrics(_) => panic!("no items"),
    }
}

pub fn value<'a>(a: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    let mut found = a.iter().filter(|kv| kv.key == key);
    let v = found.next()?;
    assert!(found.next().is_none(), "{key} appears twice");
    v.value.as_ref()?.value.as_ref()
}

pub fn f64_of(a: &[KeyValue], key: &str) -> Option<f64> {
    match value(a, key)? {
        Value::DoubleValue(d) => Some(*d),
        other => panic!("{key} is {other:?}, not a double"),
    }
}

pub fn str_of<'a>(a: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match value(a, key)? {
        Value::StringValue(s) => Some(s),
        other => panic!("{key} is {other:?}, not a string"),
    }
}

pub fn bool_of(a: &[KeyValue], key: &str) -> Option<bool> {
    match value(a, key)? {
        Value::BoolValue(b) => Some(*b),
        other => panic!("{key} is {other:?}, not a bool"),
    }
}

pub fn close(got: f64, want: f64) -> bool {
    (got - want).abs() < 1e-9
}
