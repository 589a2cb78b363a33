//! The `otlp` exporter: OTLP over gRPC.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aiotel_api::{Payload, PipelineError, Signal};
use bytes::{Buf, BufMut, Bytes};
use futures::future::BoxFuture;
use http::uri::PathAndQuery;
use prost::Message;
use serde::Deserialize;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

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
            timeout: Duration::from_secs(5),
            retry_on_failure: RetrySettings::default(),
            sending_queue: QueueSettings::default(),
            balancer_name: None,
            wait_for_ready: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    Gzip,
    Zstd,
    None,
    #[serde(rename = "")]
    Empty,
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

fn uri(cfg: &OtlpGrpcConfig) -> Result<String, String> {
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
            path: PathAndQuery::from_static(match signal {
                Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
                Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            }),
            headers: Arc::new(headers),
            compression: match self.compression {
                Compression::Gzip => Some(CompressionEncoding::Gzip),
                Compression::Zstd => Some(CompressionEncoding::Zstd),
                Compression::None | Compression::Empty => None,
            },
            timeout: self.timeout,
        };
        Ok(super::spawn(id, signal, svc, &self.sending_queue, &self.retry_on_failure, ctx))
    }
}

#[derive(Clone)]
struct OtlpGrpc {
    channel: Channel,
    path: PathAndQuery,
    headers: Arc<tonic::metadata::MetadataMap>,
    compression: Option<CompressionEncoding>,
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
            let body = to_protobuf(&payload);
            let mut grpc = tonic::client::Grpc::new(this.channel);
            if let Some(c) = this.compression {
                grpc = grpc.send_compressed(c);
            }
            grpc = grpc.accept_compressed(CompressionEncoding::Gzip);
            grpc.ready().await.map_err(|e| PipelineError::unavailable(format!("backend not reachable: {e}")))?;
            let mut req = tonic::Request::new(body);
            *req.metadata_mut() = (*this.headers).clone();
            req.set_timeout(this.timeout);
            let resp = grpc.unary(req, this.path, RawCodec).await.map_err(|s| crate::status::from_grpc(&s))?;
            Ok(rejected_items(resp.into_inner()))
        })
    }
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
