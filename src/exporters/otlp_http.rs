//! The `otlphttp` exporter: OTLP over HTTP, protobuf or JSON.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aiotel_api::{Payload, PipelineError, Signal};
use futures::future::BoxFuture;
use prost::Message;
use serde::Deserialize;

use super::compression::{Compression, CompressionParams, Compressor};
use super::encode::{to_json, to_protobuf, ExportResponse};
use super::tls::ClientTls;
use super::{ExporterHandle, QueueSettings, RetrySettings};
use crate::components::{parse_block, ComponentId, ExporterConfig, Factory, Kind, Parsed, Stability};
use crate::config::yaml::Value;
use crate::service::ServiceCtx;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpHttpConfig {
    /// Base URL; `/v1/traces` etc. are appended.
    pub endpoint: String,
    pub traces_endpoint: Option<String>,
    pub metrics_endpoint: Option<String>,
    pub logs_endpoint: Option<String>,
    pub encoding: Encoding,
    pub tls: ClientTls,
    pub headers: BTreeMap<String, String>,
    pub compression: Compression,
    pub compression_params: CompressionParams,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    pub retry_on_failure: RetrySettings,
    pub sending_queue: QueueSettings,
}

impl Default for OtlpHttpConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            traces_endpoint: None,
            metrics_endpoint: None,
            logs_endpoint: None,
            encoding: Encoding::Proto,
            tls: ClientTls::default(),
            headers: BTreeMap::new(),
            compression: Compression::Gzip,
            compression_params: CompressionParams::default(),
            timeout: Duration::from_secs(30),
            retry_on_failure: RetrySettings::default(),
            sending_queue: QueueSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Proto,
    Json,
}

pub fn factory() -> Factory {
    Factory { kind: Kind::Exporter, ty: "otlphttp", stability: Stability::Beta, signals: &Signal::ALL, parse }
}

fn parse(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: OtlpHttpConfig = parse_block(raw)?;
    let mut errs = cfg.tls.validate();
    if cfg.endpoint.is_empty()
        && [&cfg.traces_endpoint, &cfg.metrics_endpoint, &cfg.logs_endpoint].iter().all(|e| e.is_none())
    {
        errs.push(("endpoint".into(), "missing".into()));
    }
    for s in Signal::ALL {
        if let Some(u) = cfg.url(s) {
            if reqwest::Url::parse(&u).is_err() {
                errs.push((format!("{s}_endpoint"), format!("invalid URL {u:?}")));
            }
        }
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
    if errs.is_empty() {
        Ok(Parsed::Exporter(Arc::new(cfg)))
    } else {
        Err(errs)
    }
}

impl OtlpHttpConfig {
    fn url(&self, s: Signal) -> Option<String> {
        let explicit = match s {
            Signal::Traces => &self.traces_endpoint,
            Signal::Metrics => &self.metrics_endpoint,
            Signal::Logs => &self.logs_endpoint,
        };
        explicit.clone().or_else(|| {
            (!self.endpoint.is_empty()).then(|| format!("{}/v1/{}", self.endpoint.trim_end_matches('/'), s.as_str()))
        })
    }
}

impl ExporterConfig for OtlpHttpConfig {
    fn build(&self, id: &ComponentId, signal: Signal, ctx: &ServiceCtx) -> Result<ExporterHandle, String> {
        let url = self.url(signal).ok_or("no endpoint for this signal")?;
        let client = self.tls.http_client(self.timeout, &self.headers)?;
        let compression = self.compression.codec(self.compression_params.level);
        let svc = OtlpHttp { client, url: Arc::from(url), encoding: self.encoding, compression };
        super::spawn(id, signal, svc, &self.sending_queue, &self.retry_on_failure, ctx)
    }
}

#[derive(Clone)]
struct OtlpHttp {
    client: reqwest::Client,
    url: Arc<str>,
    encoding: Encoding,
    compression: Option<(&'static str, Compressor)>,
}

impl tower::Service<Arc<Payload>> for OtlpHttp {
    type Response = u64;
    type Error = PipelineError;
    type Future = BoxFuture<'static, Result<u64, PipelineError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, payload: Arc<Payload>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let (ctype, body) = match this.encoding {
                Encoding::Proto => ("application/x-protobuf", to_protobuf(&payload).to_vec()),
                Encoding::Json => {
                    let mut v = Vec::new();
                    to_json(&payload, &mut v).map_err(|e| PipelineError::permanent(e.to_string()))?;
                    ("application/json", v)
                }
            };
            let mut req = this.client.post(&*this.url).header("content-type", ctype);
            let body = match this.compression {
                Some((name, c)) => {
                    req = req.header("content-encoding", name);
                    let mut out = Vec::with_capacity(body.len() / 2);
                    c.compress(&body, &mut out).map_err(|e| PipelineError::permanent(e.to_string()))?;
                    out
                }
                None => body,
            };
            let resp = req
                .body(body)
                .send()
                .await
                .map_err(|e| PipelineError::unavailable(format!("backend not reachable: {e}")))?;
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let is_json =
                resp.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            let bytes = resp.bytes().await.unwrap_or_default();
            if !status.is_success() {
                return Err(crate::status::from_http(status, retry_after, &String::from_utf8_lossy(&bytes)));
            }
            let parsed = if is_json {
                serde_json::from_slice::<serde_json::Value>(&bytes).ok().map(|v| {
                    let p = &v["partialSuccess"];
                    let n = p["rejectedSpans"]
                        .as_i64()
                        .or(p["rejectedDataPoints"].as_i64())
                        .or(p["rejectedLogRecords"].as_i64())
                        .or_else(|| {
                            ["rejectedSpans", "rejectedDataPoints", "rejectedLogRecords"]
                                .iter()
                                .find_map(|k| p[k].as_str().and_then(|s| s.parse().ok()))
                        })
                        .unwrap_or(0);
                    ExportResponse {
                        partial_success: Some(super::encode::PartialSuccess {
                            rejected: n,
                            error_message: p["errorMessage"].as_str().unwrap_or_default().into(),
                        }),
                    }
                })
            } else {
                ExportResponse::decode(bytes).ok()
            };
            Ok(parsed.map(super::encode::rejected_items).unwrap_or(0))
        })
    }
}
