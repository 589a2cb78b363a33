//! OTLP over gRPC. One tonic service per signal, with a codec that decodes
//! straight into a [`Payload`] and answers malformed input with INVALID_ARGUMENT.

use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use aiotel_api::{Payload, Signal};
use bytes::Buf;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest, trace::v1::ExportTraceServiceRequest,
};
use prost::Message;
use tonic::body::Body;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings, EncodeBuf, Encoder};
use tonic::server::{NamedService, UnaryService};

use super::Handler;
use crate::exporters::encode::{ExportResponse, PartialSuccess};

pub trait SignalKind: Send + Sync + 'static {
    const SIGNAL: Signal;
    const NAME: &'static str;
}
pub struct Traces;
pub struct Metrics;
pub struct Logs;
impl SignalKind for Traces {
    const SIGNAL: Signal = Signal::Traces;
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}
impl SignalKind for Metrics {
    const SIGNAL: Signal = Signal::Metrics;
    const NAME: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
}
impl SignalKind for Logs {
    const SIGNAL: Signal = Signal::Logs;
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
}

pub struct OtlpService<K> {
    handler: Arc<Handler>,
    max_decode: usize,
    _k: PhantomData<K>,
}

impl<K> Clone for OtlpService<K> {
    fn clone(&self) -> Self {
        Self { handler: self.handler.clone(), max_decode: self.max_decode, _k: PhantomData }
    }
}

impl<K: SignalKind> OtlpService<K> {
    pub fn new(handler: Arc<Handler>, max_decode: usize) -> Self {
        Self { handler, max_decode, _k: PhantomData }
    }
}

impl<K: SignalKind> NamedService for OtlpService<K> {
    const NAME: &'static str = K::NAME;
}

impl<K: SignalKind> tower::Service<http::Request<Body>> for OtlpService<K> {
    type Response = http::Response<Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            if !req.uri().path().ends_with("/Export") {
                return Ok(tonic::Status::unimplemented("only Export is served").into_http());
            }
            let mut enc = EnabledCompressionEncodings::default();
            enc.enable(CompressionEncoding::Gzip);
            enc.enable(CompressionEncoding::Zstd);
            let mut grpc = tonic::server::Grpc::new(PayloadCodec(K::SIGNAL))
                .apply_compression_config(enc, EnabledCompressionEncodings::default())
                .apply_max_message_size_config(Some(this.max_decode), None);
            let mut resp = grpc.unary(Export(this.handler.clone()), req).await;
            // tonic answers an oversized message with OUT_OF_RANGE, which OTLP
            // clients retry forever; RESOURCE_EXHAUSTED without RetryInfo is final.
            let headers = resp.headers_mut();
            if headers.get("grpc-status").is_some_and(|v| v == "11") {
                headers.insert("grpc-status", http::HeaderValue::from_static("8"));
            }
            Ok(resp)
        })
    }
}

struct Export(Arc<Handler>);

impl UnaryService<Payload> for Export {
    type Response = ExportResponse;
    type Future = BoxFuture<'static, Result<tonic::Response<ExportResponse>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<Payload>) -> Self::Future {
        let h = self.0.clone();
        Box::pin(async move {
            let payload = request.into_inner();
            match h.ingest("grpc", payload).await {
                Ok(r) if r.count > 0 => Ok(tonic::Response::new(ExportResponse {
                    partial_success: Some(PartialSuccess { rejected: r.count as i64, error_message: r.message }),
                })),
                Ok(_) => Ok(tonic::Response::new(ExportResponse::default())),
                Err(e) => Err(crate::status::to_grpc(&e)),
            }
        })
    }
}

#[derive(Clone, Copy)]
struct PayloadCodec(Signal);

impl Codec for PayloadCodec {
    type Encode = ExportResponse;
    type Decode = Payload;
    type Encoder = PayloadCodec;
    type Decoder = PayloadCodec;
    fn encoder(&mut self) -> Self::Encoder {
        *self
    }
    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}

impl Encoder for PayloadCodec {
    type Item = ExportResponse;
    type Error = tonic::Status;
    fn encode(&mut self, item: ExportResponse, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        item.encode(dst).map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl Decoder for PayloadCodec {
    type Item = Payload;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Payload>, Self::Error> {
        decode(self.0, src)
            .map(Some)
            .map_err(|e| tonic::Status::invalid_argument(format!("malformed OTLP protobuf: {e}")))
    }
}

/// Decodes an OTLP protobuf export request of `signal`.
pub fn decode(signal: Signal, buf: impl Buf) -> Result<Payload, prost::DecodeError> {
    Ok(match signal {
        Signal::Traces => Payload::Traces(ExportTraceServiceRequest::decode(buf)?.resource_spans),
        Signal::Metrics => Payload::Metrics(ExportMetricsServiceRequest::decode(buf)?.resource_metrics),
        Signal::Logs => Payload::Logs(ExportLogsServiceRequest::decode(buf)?.resource_logs),
    })
}
