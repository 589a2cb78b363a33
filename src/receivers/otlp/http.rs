//! OTLP over HTTP: protobuf and JSON bodies, gzip and zstd, bounded sizes.

use std::io::Read;
use std::sync::Arc;

use aiotel_api::{Payload, Signal};
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Limited};
use opentelemetry_proto::tonic::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest, trace::v1::ExportTraceServiceRequest,
};
use prost::Message;

use super::Handler;
use crate::exporters::encode::{ExportResponse, PartialSuccess};

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Proto,
    Json,
}

pub struct HttpState {
    pub handler: Arc<Handler>,
    pub max_body: usize,
}

pub fn router(state: Arc<HttpState>, paths: &[(Signal, &str)]) -> axum::Router {
    let mut r = axum::Router::new();
    for (signal, path) in paths {
        let signal = *signal;
        r = r.route(
            path,
            axum::routing::post(move |State(s): State<Arc<HttpState>>, headers: HeaderMap, body: Body| async move {
                export(s, signal, headers, body).await
            }),
        );
    }
    r.with_state(state)
}

async fn export(s: Arc<HttpState>, signal: Signal, headers: HeaderMap, body: Body) -> Response {
    let ctype = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let format = match ctype.split(';').next().unwrap_or("").trim().to_ascii_lowercase().as_str() {
        "application/x-protobuf" | "application/protobuf" => Format::Proto,
        "application/json" => Format::Json,
        other => {
            return error(
                Format::Json,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                &format!("unsupported content type {other:?}; use application/x-protobuf or application/json"),
            )
        }
    };
    let raw = match Limited::new(body, s.max_body).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return error(format, StatusCode::PAYLOAD_TOO_LARGE, None, &format!("body exceeds {} bytes", s.max_body))
        }
        Err(e) => return error(format, StatusCode::BAD_REQUEST, None, &format!("cannot read body: {e}")),
    };
    let encoding = headers.get(http::header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("");
    let body = match decompress(encoding, raw, s.max_body) {
        Ok(b) => b,
        Err((code, msg)) => return error(format, code, None, &msg),
    };
    let payload = match decode(signal, format, &body) {
        Ok(p) => p,
        Err(msg) => return error(format, StatusCode::BAD_REQUEST, None, &msg),
    };
    match s.handler.ingest("http", payload).await {
        Ok(r) => {
            let resp = ExportResponse {
                partial_success: (r.count > 0)
                    .then_some(PartialSuccess { rejected: r.count as i64, error_message: r.message }),
            };
            success(format, signal, resp)
        }
        Err(e) => {
            let (code, retry_after) = crate::status::to_http(&e);
            error(format, code, retry_after, &e.message)
        }
    }
}

/// Decompresses with a hard output limit, so a small bomb cannot grow in memory.
fn decompress(encoding: &str, raw: Bytes, limit: usize) -> Result<Bytes, (StatusCode, String)> {
    let reader: Box<dyn Read> = match encoding.trim().to_ascii_lowercase().as_str() {
        "" | "identity" => return Ok(raw),
        "gzip" => Box::new(flate2::read::MultiGzDecoder::new(&raw[..])),
        "zstd" => Box::new(
            zstd::stream::read::Decoder::new(&raw[..])
                .map_err(|e| (StatusCode::BAD_REQUEST, format!("bad zstd: {e}")))?,
        ),
        "deflate" => Box::new(flate2::read::ZlibDecoder::new(&raw[..])),
        other => return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("unsupported content encoding {other:?}"))),
    };
    let mut out = Vec::with_capacity((raw.len() * 4).min(limit));
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("cannot decompress body ({encoding}): {e}")))?;
    if out.len() > limit {
        return Err((StatusCode::PAYLOAD_TOO_LARGE, format!("decompressed body exceeds {limit} bytes")));
    }
    Ok(Bytes::from(out))
}

fn decode(signal: Signal, format: Format, body: &[u8]) -> Result<Payload, String> {
    match format {
        Format::Proto => super::grpc::decode(signal, body).map_err(|e| format!("malformed OTLP protobuf: {e}")),
        Format::Json => {
            let r = match signal {
                Signal::Traces => {
                    serde_json::from_slice::<ExportTraceServiceRequest>(body).map(|r| Payload::Traces(r.resource_spans))
                }
                Signal::Metrics => serde_json::from_slice::<ExportMetricsServiceRequest>(body)
                    .map(|r| Payload::Metrics(r.resource_metrics)),
                Signal::Logs => {
                    serde_json::from_slice::<ExportLogsServiceRequest>(body).map(|r| Payload::Logs(r.resource_logs))
                }
            };
            r.map_err(|e| format!("malformed OTLP JSON: {e}"))
        }
    }
}

fn success(format: Format, signal: Signal, r: ExportResponse) -> Response {
    match format {
        Format::Proto => ([(http::header::CONTENT_TYPE, "application/x-protobuf")], r.encode_to_vec()).into_response(),
        Format::Json => {
            let body = match r.partial_success {
                Some(p) => {
                    let key = match signal {
                        Signal::Traces => "rejectedSpans",
                        Signal::Metrics => "rejectedDataPoints",
                        Signal::Logs => "rejectedLogRecords",
                    };
                    serde_json::json!({"partialSuccess": {key: p.rejected.to_string(), "errorMessage": p.error_message}})
                }
                None => serde_json::json!({}),
            };
            ([(http::header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
        }
    }
}

/// google.rpc.Status, the body OTLP/HTTP errors carry.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn error(format: Format, code: StatusCode, retry_after: Option<u64>, msg: &str) -> Response {
    let grpc_code = match code {
        StatusCode::TOO_MANY_REQUESTS => tonic::Code::ResourceExhausted,
        StatusCode::SERVICE_UNAVAILABLE => tonic::Code::Unavailable,
        _ => tonic::Code::InvalidArgument,
    } as i32;
    let mut resp = match format {
        Format::Proto => (
            code,
            [(http::header::CONTENT_TYPE, "application/x-protobuf")],
            RpcStatus { code: grpc_code, message: msg.to_string() }.encode_to_vec(),
        )
            .into_response(),
        Format::Json => (
            code,
            [(http::header::CONTENT_TYPE, "application/json")],
            serde_json::json!({"code": grpc_code, "message": msg}).to_string(),
        )
            .into_response(),
    };
    if let Some(secs) = retry_after {
        resp.headers_mut().insert(http::header::RETRY_AFTER, secs.into());
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_bomb_is_stopped_at_the_limit() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 50 << 20]).unwrap();
        let bomb = Bytes::from(enc.finish().unwrap());
        assert!(bomb.len() < 100_000);
        let err = decompress("gzip", bomb, 1 << 20).unwrap_err();
        assert_eq!(err.0, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
