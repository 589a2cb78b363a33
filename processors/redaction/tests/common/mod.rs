//! Shared helpers for the integration tests: building payloads and
//! processors, reading attributes back.
#![allow(dead_code)]

pub mod gen;

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use aiotel_redaction::{RedactionConfig, RedactionProcessor};

/// A processor from the YAML of its settings.
pub fn processor(yaml: &str) -> RedactionProcessor {
    let cfg: RedactionConfig = serde_yaml_ng::from_str(yaml).expect("config parses");
    RedactionProcessor::new(&cfg, &fixtures()).expect("config is valid")
}

pub fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn av(v: Value) -> AnyValue {
    AnyValue { value: Some(v) }
}

pub fn sv(s: &str) -> AnyValue {
    av(Value::StringValue(s.into()))
}

pub fn kv(k: &str, v: AnyValue) -> KeyValue {
    KeyValue { key: k.into(), value: Some(v), ..Default::default() }
}

pub fn s(k: &str, v: &str) -> KeyValue {
    kv(k, sv(v))
}

pub fn i(k: &str, v: i64) -> KeyValue {
    kv(k, av(Value::IntValue(v)))
}

pub fn kvlist(items: Vec<KeyValue>) -> AnyValue {
    av(Value::KvlistValue(KeyValueList { values: items }))
}

pub fn array(items: Vec<AnyValue>) -> AnyValue {
    av(Value::ArrayValue(ArrayValue { values: items }))
}

pub fn get<'a>(attrs: &'a [KeyValue], k: &str) -> Option<&'a Value> {
    attrs.iter().find(|a| a.key == k).and_then(|a| a.value.as_ref()).and_then(|v| v.value.as_ref())
}

pub fn get_str<'a>(attrs: &'a [KeyValue], k: &str) -> Option<&'a str> {
    match get(attrs, k) {
        Some(Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

pub fn get_int(attrs: &[KeyValue], k: &str) -> Option<i64> {
    match get(attrs, k) {
        Some(Value::IntValue(n)) => Some(*n),
        _ => None,
    }
}

pub fn keys(attrs: &[KeyValue]) -> Vec<&str> {
    let mut k: Vec<&str> = attrs.iter().map(|a| a.key.as_str()).collect();
    k.sort();
    k
}
