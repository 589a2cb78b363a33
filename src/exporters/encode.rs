//! Encodes payloads as OTLP export requests without copying them.

use aiotel_api::Payload;
use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;

/// The protobuf bytes of the export request for `p`. Every OTLP export
/// request holds its resources in field 1, so one loop serves all signals.
/// Each resource's length is computed once, for both the buffer size and its
/// length prefix; prost's own `message::encode` would walk the tree again.
pub fn to_protobuf(p: &Payload) -> Bytes {
    fn encode<M: Message>(items: &[M]) -> Bytes {
        let lens: Vec<usize> = items.iter().map(Message::encoded_len).collect();
        let total: usize = lens.iter().map(|&l| 1 + prost::length_delimiter_len(l) + l).sum();
        let mut buf = BytesMut::with_capacity(total);
        for (m, &len) in items.iter().zip(&lens) {
            prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut buf);
            prost::encoding::encode_varint(len as u64, &mut buf);
            m.encode_raw(&mut buf);
        }
        buf.freeze()
    }
    match p {
        Payload::Traces(v) => encode(v),
        Payload::Metrics(v) => encode(v),
        Payload::Logs(v) => encode(v),
    }
}

/// The OTLP/JSON of the export request for `p`, on one line.
pub fn to_json(p: &Payload, out: &mut Vec<u8>) -> serde_json::Result<()> {
    let key: &[u8] = match p {
        Payload::Traces(_) => b"{\"resourceSpans\":",
        Payload::Metrics(_) => b"{\"resourceMetrics\":",
        Payload::Logs(_) => b"{\"resourceLogs\":",
    };
    out.put_slice(key);
    match p {
        Payload::Traces(v) => serde_json::to_writer(&mut *out, v)?,
        Payload::Metrics(v) => serde_json::to_writer(&mut *out, v)?,
        Payload::Logs(v) => serde_json::to_writer(&mut *out, v)?,
    }
    out.put_u8(b'}');
    Ok(())
}

/// The part of every OTLP export response that matters to an exporter.
#[derive(Clone, PartialEq, Message)]
pub struct ExportResponse {
    #[prost(message, optional, tag = "1")]
    pub partial_success: Option<PartialSuccess>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PartialSuccess {
    #[prost(int64, tag = "1")]
    pub rejected: i64,
    #[prost(string, tag = "2")]
    pub error_message: String,
}

/// Items the backend rejected, from an OTLP partial success.
pub fn rejected_items(r: ExportResponse) -> u64 {
    match r.partial_success {
        Some(p) if p.rejected > 0 => {
            tracing::warn!(rejected = p.rejected, message = %p.error_message, "backend rejected part of an export");
            p.rejected as u64
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    #[test]
    fn protobuf_matches_the_request_message() {
        let rs = vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span { name: "x".into(), trace_id: vec![1; 16], ..Default::default() }],
                ..Default::default()
            }],
            ..Default::default()
        }];
        let want = ExportTraceServiceRequest { resource_spans: rs.clone() }.encode_to_vec();
        assert_eq!(to_protobuf(&Payload::Traces(rs.clone())).to_vec(), want);
        let mut json = Vec::new();
        to_json(&Payload::Traces(rs.clone()), &mut json).unwrap();
        let back: ExportTraceServiceRequest = serde_json::from_slice(&json).unwrap();
        assert_eq!(back.resource_spans, rs);
    }
}
