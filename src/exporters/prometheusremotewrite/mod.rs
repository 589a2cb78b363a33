//! The `prometheusremotewrite` exporter: Prometheus remote write 1.0
//! (snappy-compressed protobuf `WriteRequest`s) through the generic driver,
//! so it has the bounded sending queue (`remote_write_queue`) and retries.
//!
//! Unlike the Collector, which drops delta sums and histograms, it adds
//! them up into cumulative series in memory (a restart starts them from
//! zero, which `rate` reads as a reset). Non-monotonic delta sums and
//! exponential histograms have no cumulative Prometheus form: they are
//! refused as a permanent failure, counted in `send_failed` and logged.

mod config;
mod convert;
mod proto;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aiotel_api::{Payload, PipelineError, Signal};
use futures::future::BoxFuture;
use prost::Message;

pub use config::RemoteWriteConfig;

use super::prometheus::{now_ns, translate, Store};
use super::ExporterHandle;
use crate::components::{parse_block, ComponentId, ExporterConfig, Factory, Kind, Parsed, Stability};
use crate::config::yaml::Value;
use crate::service::ServiceCtx;

pub fn factory() -> Factory {
    Factory {
        kind: Kind::Exporter,
        ty: "prometheusremotewrite",
        stability: Stability::Beta,
        signals: &[Signal::Metrics],
        parse,
    }
}

fn parse(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: RemoteWriteConfig = parse_block(raw)?;
    let errs = cfg.validate();
    if errs.is_empty() {
        Ok(Parsed::Exporter(Arc::new(cfg)))
    } else {
        Err(errs)
    }
}

/// How long a delta series' running total is kept without updates.
const DELTA_STATE_TTL: Duration = Duration::from_secs(15 * 60);

impl ExporterConfig for RemoteWriteConfig {
    fn build(&self, id: &ComponentId, signal: Signal, ctx: &ServiceCtx) -> Result<ExporterHandle, String> {
        let client = self.tls.http_client(self.timeout, &self.headers)?;
        let svc = RemoteWrite {
            client,
            url: Arc::from(self.endpoint.as_str()),
            opts: Arc::new(self.options()),
            max_bytes: self.max_batch_size_bytes,
            deltas: Arc::new(Mutex::new((Store::new(DELTA_STATE_TTL), Instant::now()))),
            id: Arc::from(id.to_string().as_str()),
        };
        super::spawn(id, signal, svc, &self.queue(), &self.retry_on_failure, ctx)
    }
}

#[derive(Clone)]
struct RemoteWrite {
    client: reqwest::Client,
    url: Arc<str>,
    opts: Arc<translate::Options>,
    max_bytes: usize,
    /// Running totals of delta series, and when they were last swept.
    deltas: Arc<Mutex<(Store, Instant)>>,
    id: Arc<str>,
}

/// Remote write's answer: 5xx and 429 may succeed later, other 4xx never will.
fn classify(status: http::StatusCode, retry_after: Option<Duration>, body: &str) -> PipelineError {
    let msg =
        format!("remote write endpoint answered HTTP {status}: {}", body.trim().chars().take(300).collect::<String>());
    match status.as_u16() {
        429 => PipelineError { retry_after, ..PipelineError::resource_exhausted(msg) },
        500..=599 => PipelineError { retry_after, ..PipelineError::unavailable(msg) },
        _ => PipelineError::permanent(msg),
    }
}

impl RemoteWrite {
    /// The encoded requests of a batch, and how many points were refused.
    fn encode(&self, p: &Payload) -> Result<(Vec<Vec<u8>>, u64), PipelineError> {
        let Payload::Metrics(rms) = p else {
            return Err(PipelineError::permanent("the prometheusremotewrite exporter takes metrics only"));
        };
        let now_ns = now_ns();
        let (families, dropped) = translate::translate(rms, &self.opts, now_ns);
        let now = Instant::now();
        let (series, failed) = {
            let mut guard = self.deltas.lock().unwrap_or_else(|p| p.into_inner());
            let (store, swept) = &mut *guard;
            if now.duration_since(*swept) > Duration::from_secs(60) {
                store.expire(now);
                *swept = now;
            }
            convert::to_series(families, store, now, (now_ns / 1_000_000) as i64)
        };
        let refused = dropped.points + failed;
        if refused > 0 {
            let reason = if dropped.reason.is_empty() { "metric name used by two types" } else { &dropped.reason };
            tracing::warn!(exporter = %self.id, points = refused, reason = %reason, "metric points refused: no Prometheus form");
        }
        let mut enc = snap::raw::Encoder::new();
        let bodies = convert::requests(series, self.max_bytes)
            .into_iter()
            .map(|r| enc.compress_vec(&r.encode_to_vec()).map_err(|e| PipelineError::permanent(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((bodies, refused))
    }
}

impl tower::Service<Arc<Payload>> for RemoteWrite {
    type Response = u64;
    type Error = PipelineError;
    type Future = BoxFuture<'static, Result<u64, PipelineError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, payload: Arc<Payload>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            // A retry encodes the batch again; the delta store knows its points
            // as replays (no newer than what it holds), so nothing is added twice.
            let (bodies, refused) = this.encode(&payload)?;
            for body in bodies {
                this.send(body).await?;
            }
            Ok(refused)
        })
    }
}

impl RemoteWrite {
    async fn send(&self, body: Vec<u8>) -> Result<(), PipelineError> {
        let resp = self
            .client
            .post(&*self.url)
            .header("content-encoding", "snappy")
            .header("content-type", "application/x-protobuf")
            .header("x-prometheus-remote-write-version", "0.1.0")
            .header("user-agent", concat!("aiotel/", env!("CARGO_PKG_VERSION")))
            .body(body)
            .send()
            .await
            .map_err(|e| PipelineError::unavailable(format!("remote write endpoint not reachable: {e}")))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp.text().await.unwrap_or_default();
        Err(classify(status, retry_after, &text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        let c = |s: u16| classify(http::StatusCode::from_u16(s).unwrap(), None, "").is_retryable();
        assert!(c(500) && c(503) && c(429));
        assert!(!c(400) && !c(404) && !c(413));
    }

    #[test]
    fn config_defaults_and_refusals() {
        let v: crate::config::yaml::Value =
            serde_yaml_ng::from_str("endpoint: http://127.0.0.1:9090/api/v1/write").unwrap();
        let cfg: RemoteWriteConfig = parse_block(v).unwrap();
        assert_eq!(cfg.queue().queue_size, 10_000);
        assert_eq!(cfg.queue().num_consumers, 5);
        assert_eq!(cfg.timeout, Duration::from_secs(5));
        assert!(cfg.validate().is_empty());
        let v: crate::config::yaml::Value = serde_yaml_ng::from_str("endpoint: x\nwal: {directory: /tmp}").unwrap();
        let err = parse_block::<RemoteWriteConfig>(v).unwrap_err();
        assert!(err[0].1.contains("unknown field `wal`"), "{err:?}");
        let v: crate::config::yaml::Value = serde_yaml_ng::from_str("endpoint: not a url").unwrap();
        let cfg: RemoteWriteConfig = parse_block(v).unwrap();
        assert_eq!(cfg.validate()[0].0, "endpoint");
    }
}
