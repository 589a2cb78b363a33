//! Decodes one Kafka message into a payload of the signal its topic carries.

use aiotel_api::{Payload, Signal};
use opentelemetry_proto::tonic::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest, trace::v1::ExportTraceServiceRequest,
};
use prost::Message;

use super::config::Encoding;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("malformed OTLP protobuf: {0}")]
    Proto(#[from] prost::DecodeError),
    #[error("malformed OTLP JSON: {0}")]
    Json(#[from] serde_json::Error),
}

pub fn decode(signal: Signal, encoding: Encoding, bytes: &[u8]) -> Result<Payload, DecodeError> {
    Ok(match (encoding, signal) {
        (Encoding::OtlpProto, Signal::Traces) => {
            Payload::Traces(ExportTraceServiceRequest::decode(bytes)?.resource_spans)
        }
        (Encoding::OtlpProto, Signal::Metrics) => {
            Payload::Metrics(ExportMetricsServiceRequest::decode(bytes)?.resource_metrics)
        }
        (Encoding::OtlpProto, Signal::Logs) => Payload::Logs(ExportLogsServiceRequest::decode(bytes)?.resource_logs),
        (Encoding::OtlpJson, Signal::Traces) => {
            Payload::Traces(serde_json::from_slice::<ExportTraceServiceRequest>(bytes)?.resource_spans)
        }
        (Encoding::OtlpJson, Signal::Metrics) => {
            Payload::Metrics(serde_json::from_slice::<ExportMetricsServiceRequest>(bytes)?.resource_metrics)
        }
        (Encoding::OtlpJson, Signal::Logs) => {
            Payload::Logs(serde_json::from_slice::<ExportLogsServiceRequest>(bytes)?.resource_logs)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporters::kafka::encode;
    use aiotel_api::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn payload() -> Payload {
        Payload::Traces(vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    name: "x".into(),
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }])
    }

    #[test]
    fn round_trips_what_the_exporter_writes() {
        for enc in [Encoding::OtlpProto, Encoding::OtlpJson] {
            let bytes = encode(&payload(), enc).unwrap();
            assert_eq!(decode(Signal::Traces, enc, &bytes).unwrap(), payload());
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(
            decode(Signal::Traces, Encoding::OtlpProto, b"\xff\xff\xff garbage"),
            Err(DecodeError::Proto(_))
        ));
        assert!(matches!(decode(Signal::Logs, Encoding::OtlpJson, b"{not json"), Err(DecodeError::Json(_))));
    }
}
