//! The `otlp` exporter: OTLP over gRPC.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aiotel_api::{Payload, PipelineError, Signal};
use bytes::{Buf, BufMut, Bytes};
use futures::future::BoxFuture;
use prost::Message;
use serde::Deserialize;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::compression::{Compression, CompressionParams, Compressor};
use super::encode::{rejected_items, to_protobuf, ExportResponse};
use super::tls::ClientTls;
use super::{ExporterHandle, QueueSettings, RetrySettings};
use crate::components::{parse_block, ComponentId, ExporterConfig, Factory, Kind, Parsed, Stability};
use crate::config::yaml::Value;
use crate::service::ServiceCtx;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpGrpcConfig {
    pub endpoint: String,
    pub tls: ClientTls,
    pub headers: BTreeMap<String, String>,
    pub compression: Compression,
    pub compression_params: CompressionParams,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    pub retry_on_failure: RetrySettings,
    pub sending_queue: QueueSettings,
    /// Accepted for Collector configs; tonic balances per channel on its own.
    pub balancer_name: Option<String>,
    pub wait_for_ready: bool,
}

impl Default for OtlpGrpcConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            tls: ClientTls::default(),
            headers: BTreeMap::new(),
            compression: Compression::Gzip,
            compression_params: CompressionParams::default(),
            timeout: Duration::from_secs(5),
            retry_on_failure: RetrySettings::default(),
            sending_queue: QueueSettings::default(),
            balancer_name: None,
            wait_for_ready: false,
        }
    }
}

pub fn factory() -> Factory {
    Factory { kind: Kind::Exporter, ty: "otlp", stability: Stability::Beta, signals: &Signal::ALL, parse }
}

fn parse(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: OtlpGrpcConfig = parse_block(raw)?;
    let mut errs = cfg.tls.validate();
    if cfg.endpoint.is_empty() {
        errs.push(("endpoint".into(), "missing".into()));
    } else if let Err(e) = uri(&cfg) {
        errs.push(("endpoint".into(), e));
    }
    if let Err(e) = cfg.compression.check_level(cfg.compression_params.level) {
        errs.push(("compression_params::level".into(), e));
    }
    if let Err(e) = cfg.retry_on_failure.validate() {
        errs.push(("retry_on_failure".into(), e));
    }
    if let Err(e) = cfg.sending_queue.validate() {
        errs.push(("sending_queue".into(), e));
    }
    for k in cfg.headers.keys() {
        if tonic::metadata::MetadataKey::<tonic::metadata::Ascii>::from_bytes(k.to_lowercase().as_bytes()).is_err() {
            errs.push((format!("headers::{k}"), "not a valid gRPC metadata key".into()));
        }
    }
    if errs.is_empty() {
        Ok(Parsed::Exporter(Arc::new(cfg)))
    } else {
        Err(errs)
    }
}

pub(super) fn uri(cfg: &OtlpGrpcConfig) -> Result<String, String> {
    let e = &cfg.endpoint;
    let full = if e.contains("://") {
        e.clone()
    } else if cfg.tls.insecure {
        format!("http://{e}")
    } else {
        format!("https://{e}")
    };
    full.parse::<http::Uri>().map_err(|err| format!("invalid endpoint {e:?}: {err}"))?;
    Ok(full)
}

impl ExporterConfig for OtlpGrpcConfig {
    fn build(&self, id: &ComponentId, signal: Signal, ctx: &ServiceCtx) -> Result<ExporterHandle, String> {
        let svc = self.service(signal)?;
        super::spawn(id, signal, svc, &self.sending_queue, &self.retry_on_failure, ctx)
    }
}

impl OtlpGrpcConfig {
    /// The bare export service, without a queue: the `loadbalancing` exporter runs one per backend.
    pub(super) fn service(&self, signal: Signal) -> Result<OtlpGrpc, String> {
        let uri = uri(self)?;
        let mut ep = Endpoint::from_shared(uri.clone()).map_err(|e| e.to_string())?.timeout(self.timeout);
        if uri.starts_with("https://") {
            let mut tls = ClientTlsConfig::new().with_enabled_roots();
            if let Some(ca) = ClientTls::read(&self.tls.ca_file)? {
                tls = tls.ca_certificate(Certificate::from_pem(ca));
            }
            if let (Some(c), Some(k)) = (ClientTls::read(&self.tls.cert_file)?, ClientTls::read(&self.tls.key_file)?) {
                tls = tls.identity(Identity::from_pem(c, k));
            }
            if let Some(name) = &self.tls.server_name_override {
                tls = tls.domain_name(name.clone());
            }
            ep = ep.tls_config(tls).map_err(|e| e.to_string())?;
        }
        let channel = ep.connect_lazy();
        let mut headers = tonic::metadata::MetadataMap::new();
        for (k, v) in &self.headers {
            let key =
                tonic::metadata::MetadataKey::from_bytes(k.to_lowercase().as_bytes()).map_err(|e| e.to_string())?;
            headers.insert(key, v.parse().map_err(|_| format!("header {k} has an invalid value"))?);
        }
        let svc = OtlpGrpc {
            channel,
            path: match signal {
                Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
                Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            },
            headers: Arc::new(headers.into_headers()),
            compression: self.compression.codec(self.compression_params.level),
            timeout: self.timeout,
        };
        Ok(svc)
    }
}

#[derive(Clone)]
pub(super) struct OtlpGrpc {
    channel: Channel,
    path: &'static str,
    headers: Arc<http::HeaderMap>,
    compression: Option<(&'static str, Compressor)>,
    timeout: Duration,
}

impl tower::Service<Arc<Payload>> for OtlpGrpc {
    type Response = u64;
    type Error = PipelineError;
    type Future = BoxFuture<'static, Result<u64, PipelineError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, payload: Arc<Payload>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let body = frame(&to_protobuf(&payload), this.compression.map(|c| c.1))
                .map_err(|e| PipelineError::permanent(format!("cannot compress: {e}")))?;
            let resp = tokio::time::timeout(
                this.timeout,
                unary(this.channel, this.path, &this.headers, this.compression, this.timeout, body),
            )
            .await
            .map_err(|_| PipelineError::unavailable(format!("export timed out after {:?}", this.timeout)))??;
            Ok(rejected_items(resp))
        })
    }
}

/// One gRPC message frame: the compressed flag, the length, the bytes.
/// Compressing here, not in tonic, lets the level be chosen.
fn frame(msg: &[u8], compressor: Option<Compressor>) -> std::io::Result<Bytes> {
    let mut out = Vec::with_capacity(5 + msg.len() / 2);
    out.extend_from_slice(&[0; 5]);
    match compressor {
        Some(c) => {
            c.compress(msg, &mut out)?;
            out[0] = 1;
        }
        None => out.extend_from_slice(msg),
    }
    let len = (out.len() - 5) as u32;
    out[1..5].copy_from_slice(&len.to_be_bytes());
    Ok(Bytes::from(out))
}

/// A unary gRPC call over tonic's channel, with a pre-framed body.
async fn unary(
    mut channel: Channel,
    path: &'static str,
    headers: &http::HeaderMap,
    compression: Option<(&'static str, Compressor)>,
    timeout: Duration,
    body: Bytes,
) -> Result<ExportResponse, PipelineError> {
    use http_body_util::BodyExt;
    use tower::{Service, ServiceExt};
    let mut req = http::Request::builder()
        .method(http::Method::POST)
        .uri(path)
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header(http::header::TE, "trailers")
        .header("grpc-accept-encoding", "gzip,zstd")
        .header("grpc-timeout", format!("{}m", timeout.as_millis().max(1)));
    if let Some((name, _)) = compression {
        req = req.header("grpc-encoding", name);
    }
    let mut req = req
        .body(tonic::body::Body::new(http_body_util::Full::new(body)))
        .map_err(|e| PipelineError::permanent(e.to_string()))?;
    req.headers_mut().extend(headers.iter().map(|(k, v)| (k.clone(), v.clone())));
    let unreachable = |e: &dyn std::fmt::Display| PipelineError::unavailable(format!("backend not reachable: {e}"));
    let resp = channel.ready().await.map_err(|e| unreachable(&e))?.call(req).await.map_err(|e| unreachable(&e))?;
    let (parts, body) = resp.into_parts();
    if let Some(status) = tonic::Status::from_header_map(&parts.headers) {
        if status.code() != tonic::Code::Ok {
            return Err(crate::status::from_grpc(&status));
        }
    }
    if parts.status != http::StatusCode::OK {
        return Err(crate::status::from_http(parts.status, None, "not a gRPC response"));
    }
    let collected = body.collect().await.map_err(|e| PipelineError::unavailable(format!("response failed: {e}")))?;
    if let Some(status) = collected.trailers().and_then(tonic::Status::from_header_map) {
        if status.code() != tonic::Code::Ok {
            return Err(crate::status::from_grpc(&status));
        }
    }
    let data = collected.to_bytes();
    if data.len() < 5 {
        return Ok(ExportResponse::default());
    }
    let msg = &data[5..];
    let decoded = if data[0] == 1 {
        let mut out = Vec::new();
        let res = match parts.headers.get("grpc-encoding").map(|v| v.as_bytes()) {
            Some(b"zstd") => zstd::stream::copy_decode(msg, &mut out),
            _ => std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(msg), &mut out).map(|_| ()),
        };
        res.map_err(|e| PipelineError::permanent(format!("bad compressed response: {e}")))?;
        ExportResponse::decode(&out[..])
    } else {
        ExportResponse::decode(msg)
    };
    // The data was accepted; an unreadable answer only loses the partial-success detail.
    Ok(decoded.unwrap_or_default())
}

/// Sends pre-encoded request bytes; decodes the common response shape.
#[derive(Clone, Copy)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportResponse;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = ExportResponse;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        let bytes = src.copy_to_bytes(src.remaining());
        ExportResponse::decode(bytes).map(Some).map_err(|e| tonic::Status::internal(e.to_string()))
    }
}
