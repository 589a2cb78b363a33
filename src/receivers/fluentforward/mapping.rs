//! A Fluent record as an OTLP log record, as the Collector maps it: the tag
//! in `fluent.tag`, the `log` (Fluent Bit) or `message` (Fluentd) field as
//! the body, every other field as a typed attribute.

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, KeyValue};
use aiotel_api::otlp::logs::v1::LogRecord;

use super::msgpack::{ReadError, Reader};

pub const TAG_KEY: &str = "fluent.tag";
/// Prefix of the attributes that carry Fluent Bit metadata with no OTLP field of its own.
pub const METADATA_PREFIX: &str = "fluent.metadata.";

fn text(s: impl Into<String>) -> Option<AnyValue> {
    Some(AnyValue { value: Some(Value::StringValue(s.into())) })
}

/// Reads a record map. The first of `log` or `message` becomes the body; if
/// a record has both, the second stays an attribute, so nothing is lost.
pub fn record_to_log(r: &mut Reader, tag: &str) -> Result<LogRecord, ReadError> {
    let n = r.map_len()?;
    let mut attributes = Vec::with_capacity(n.min(r.remaining() / 2) + 1);
    attributes.push(KeyValue { key: TAG_KEY.to_string(), value: text(tag), ..Default::default() });
    let mut body = None;
    for _ in 0..n {
        let key = r.key()?;
        let value = r.any()?;
        if body.is_none() && (key == "log" || key == "message") {
            body = Some(value);
        } else {
            attributes.push(KeyValue { key, value: Some(value), ..Default::default() });
        }
    }
    Ok(LogRecord { body, attributes, ..Default::default() })
}

/// Applies Fluent Bit's per-record metadata map. Its `otlp` group (what
/// Fluent Bit's OpenTelemetry input keeps of an OTLP record) fills the
/// matching OTLP fields; any other key becomes a `fluent.metadata.*` attribute.
pub fn apply_metadata(r: &mut Reader, rec: &mut LogRecord) -> Result<(), ReadError> {
    let Some(Value::KvlistValue(map)) = r.any()?.value else { return Ok(()) };
    for kv in map.values {
        match (kv.key.as_str(), kv.value.and_then(|v| v.value)) {
            ("otlp", Some(Value::KvlistValue(otlp))) => {
                for f in otlp.values {
                    apply_otlp_field(rec, f);
                }
            }
            (_, value) => rec.attributes.push(KeyValue {
                key: format!("{METADATA_PREFIX}{}", kv.key),
                value: Some(AnyValue { value }),
                ..Default::default()
            }),
        }
    }
    Ok(())
}

fn apply_otlp_field(rec: &mut LogRecord, f: KeyValue) {
    let v = f.value.clone().and_then(|v| v.value);
    let done = match (f.key.as_str(), v) {
        ("severity_number", Some(Value::IntValue(n))) => i32::try_from(n).map(|n| rec.severity_number = n).is_ok(),
        ("severity_text", Some(Value::StringValue(s))) => {
            rec.severity_text = s;
            true
        }
        ("trace_id", Some(v)) => id(v, 16).map(|b| rec.trace_id = b).is_some(),
        ("span_id", Some(v)) => id(v, 8).map(|b| rec.span_id = b).is_some(),
        ("trace_flags", Some(Value::IntValue(n))) => u32::try_from(n).map(|n| rec.flags = n).is_ok(),
        ("attributes", Some(Value::KvlistValue(attrs))) => {
            rec.attributes.extend(attrs.values);
            true
        }
        _ => false,
    };
    if !done {
        rec.attributes.push(KeyValue {
            key: format!("{METADATA_PREFIX}otlp.{}", f.key),
            value: f.value,
            ..Default::default()
        });
    }
}

/// A trace or span id sent as raw bytes or as hex text.
fn id(v: Value, len: usize) -> Option<Vec<u8>> {
    let b = match v {
        Value::BytesValue(b) => b,
        Value::StringValue(s) if s.len() == 2 * len => hex::decode(s).ok()?,
        Value::StringValue(s) if s.len() == len => s.into_bytes(),
        _ => return None,
    };
    (b.len() == len).then_some(b)
}
