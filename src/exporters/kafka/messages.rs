//! Turns one payload into Kafka messages: one per trace when keyed by trace
//! id, and halved until each fits `max_message_bytes`.

use std::collections::HashMap;

use aiotel_api::otlp::trace::v1::{ResourceSpans, ScopeSpans};
use aiotel_api::Payload;

use super::config::Encoding;
use crate::exporters::encode::{to_json, to_protobuf};

/// One Kafka message: its key and encoded value.
#[derive(Debug)]
pub struct Message {
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub items: usize,
}

/// What a payload became: the messages to send, and the items that cannot
/// fit in any message (a single span or record over the limit).
#[derive(Debug, Default)]
pub struct Split {
    pub messages: Vec<Message>,
    pub oversized: u64,
}

pub fn build(payload: &Payload, by_trace: bool, encoding: Encoding, max_bytes: usize) -> Result<Split, String> {
    let mut out = Split::default();
    match payload {
        Payload::Traces(rs) if by_trace => {
            for (trace_id, part) in split_by_trace(rs) {
                // The Collector keys by the hex trace id, so its consumers and partitioners agree.
                let key = Some(hex::encode(&trace_id).into_bytes());
                fit(Payload::Traces(part), key, encoding, max_bytes, &mut out)?;
            }
        }
        p => {
            // Most batches fit as they are: encode from the shared payload, copy only to split.
            let value = encode(p, encoding)?;
            let items = p.item_count();
            if value.len() <= max_bytes {
                if items > 0 {
                    out.messages.push(Message { key: None, value, items });
                }
            } else {
                fit(p.clone(), None, encoding, max_bytes, &mut out)?;
            }
        }
    }
    Ok(out)
}

/// Encodes `p`, halving it until every part fits.
fn fit(mut p: Payload, key: Option<Vec<u8>>, enc: Encoding, max: usize, out: &mut Split) -> Result<(), String> {
    let items = p.item_count();
    if items == 0 {
        return Ok(());
    }
    let value = encode(&p, enc)?;
    if value.len() <= max {
        out.messages.push(Message { key, value, items });
        return Ok(());
    }
    if items == 1 {
        out.oversized += 1;
        return Ok(());
    }
    let head = p.split_front(items / 2);
    if p.item_count() == items {
        // Nothing could be split off (one metric with many points): it cannot be sent whole.
        out.oversized += items as u64;
        return Ok(());
    }
    fit(head, key.clone(), enc, max, out)?;
    fit(p, key, enc, max, out)
}

pub fn encode(p: &Payload, enc: Encoding) -> Result<Vec<u8>, String> {
    match enc {
        Encoding::OtlpProto => Ok(to_protobuf(p).to_vec()),
        Encoding::OtlpJson => {
            let mut v = Vec::new();
            to_json(p, &mut v).map_err(|e| format!("cannot encode OTLP/JSON: {e}"))?;
            Ok(v)
        }
    }
}

/// Groups spans by trace id, keeping each span's resource and scope.
/// Traces come out in order of first appearance.
fn split_by_trace(rs: &[ResourceSpans]) -> Vec<(Vec<u8>, Vec<ResourceSpans>)> {
    let mut order: Vec<(Vec<u8>, Vec<ResourceSpans>)> = Vec::new();
    let mut index: HashMap<&[u8], usize> = HashMap::new();
    // For each trace, the resource its last entry came from, so spans of
    // one resource and trace share one ResourceSpans.
    let mut last_resource: Vec<usize> = Vec::new();
    for (ri, r) in rs.iter().enumerate() {
        for s in &r.scope_spans {
            let mut scope_entry: HashMap<usize, usize> = HashMap::new();
            for span in &s.spans {
                let t = *index.entry(&span.trace_id).or_insert_with(|| {
                    order.push((span.trace_id.clone(), Vec::new()));
                    last_resource.push(usize::MAX);
                    order.len() - 1
                });
                let list = &mut order[t].1;
                if last_resource[t] != ri {
                    last_resource[t] = ri;
                    list.push(ResourceSpans {
                        resource: r.resource.clone(),
                        scope_spans: Vec::new(),
                        schema_url: r.schema_url.clone(),
                    });
                }
                let res = list.last_mut().expect("pushed above");
                let si = *scope_entry.entry(t).or_insert_with(|| {
                    // Not `s.clone()`: that would copy every span of the scope once per trace.
                    res.scope_spans.push(ScopeSpans {
                        scope: s.scope.clone(),
                        spans: Vec::new(),
                        schema_url: s.schema_url.clone(),
                    });
                    res.scope_spans.len() - 1
                });
                res.scope_spans[si].spans.push(span.clone());
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiotel_api::otlp::common::v1::{any_value, AnyValue, KeyValue};
    use aiotel_api::otlp::resource::v1::Resource;
    use aiotel_api::otlp::trace::v1::Span;

    fn span(trace: u8, id: u8, attr_bytes: usize) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            name: format!("s{id}"),
            attributes: vec![KeyValue {
                key: "pad".into(),
                value: Some(AnyValue { value: Some(any_value::Value::StringValue("x".repeat(attr_bytes))) }),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn resource(name: &str, spans: Vec<Span>) -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue { value: Some(any_value::Value::StringValue(name.into())) }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            schema_url: String::new(),
        }
    }

    #[test]
    fn one_message_per_trace_keyed_by_hex_id() {
        let p = Payload::Traces(vec![
            resource("a", vec![span(1, 1, 0), span(2, 2, 0), span(1, 3, 0)]),
            resource("b", vec![span(2, 4, 0)]),
        ]);
        let s = build(&p, true, Encoding::OtlpProto, 1 << 20).unwrap();
        assert_eq!(s.messages.len(), 2);
        assert_eq!(s.messages[0].key.as_deref(), Some("01".repeat(16).as_bytes()));
        assert_eq!(s.messages[0].items, 2);
        assert_eq!(s.messages[1].items, 2);
        // Trace 2 keeps both of its resources.
        use prost::Message as _;
        let back = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
            &s.messages[1].value[..],
        )
        .unwrap()
        .resource_spans;
        assert_eq!(back.len(), 2);
        assert!(back.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans).all(|sp| sp.trace_id == vec![2; 16]));
    }

    #[test]
    fn oversized_batches_are_split_and_single_spans_counted() {
        let spans: Vec<Span> = (0..10).map(|i| span(1, i, 300)).collect();
        let p = Payload::Traces(vec![resource("a", spans)]);
        let s = build(&p, false, Encoding::OtlpJson, 1000).unwrap();
        assert!(s.messages.len() >= 4, "{}", s.messages.len());
        assert!(s.messages.iter().all(|m| m.value.len() <= 1000));
        assert_eq!(s.messages.iter().map(|m| m.items).sum::<usize>(), 10);
        assert_eq!(s.oversized, 0);

        let p = Payload::Traces(vec![resource("a", vec![span(1, 1, 10), span(1, 2, 5000)])]);
        let s = build(&p, true, Encoding::OtlpProto, 1000).unwrap();
        assert_eq!(s.messages.iter().map(|m| m.items).sum::<usize>(), 1);
        assert_eq!(s.oversized, 1);
    }
}
