//! The `prometheus` exporter: serves the metrics that reach it on
//! `endpoint`'s `/metrics` for a Prometheus server to scrape.
//!
//! It is stateful: each series keeps its latest cumulative point; delta
//! sums and histograms are added up into cumulative ones (a restart starts
//! them from zero again, which Prometheus's `rate` reads as a counter
//! reset); a series not updated for `metric_expiration` is no longer served.

mod config;
mod exposition;
pub mod store;
pub mod translate;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aiotel_api::{Payload, PipelineError, Signal};
use futures::future::{ready, Ready};

pub use config::{check_labels, sanitised, PrometheusConfig, ResourceToTelemetry};
pub use exposition::float;
pub use store::Store;

use super::{ExporterHandle, QueueSettings, RetrySettings, RunningExporter};
use crate::components::{parse_block, ComponentId, ExporterConfig, Factory, Kind, Parsed, Stability};
use crate::config::yaml::Value;
use crate::service::ServiceCtx;

pub fn factory() -> Factory {
    Factory { kind: Kind::Exporter, ty: "prometheus", stability: Stability::Beta, signals: &[Signal::Metrics], parse }
}

fn parse(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: PrometheusConfig = parse_block(raw)?;
    let errs = cfg.validate();
    if errs.is_empty() {
        Ok(Parsed::Exporter(Arc::new(cfg)))
    } else {
        Err(errs)
    }
}

pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

struct Inner {
    store: Store,
    last_sweep: Instant,
}

/// What the exporter's service writes and the scrape handler reads.
struct Shared {
    inner: Mutex<Inner>,
    opts: translate::Options,
    sweep_every: Duration,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent map; keep serving it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Binds synchronously: `build` runs inside the runtime but is not async.
fn bind(endpoint: &str) -> Result<tokio::net::TcpListener, String> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<_> = endpoint.to_socket_addrs().map_err(|e| format!("cannot resolve {endpoint:?}: {e}"))?.collect();
    let addr =
        addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).ok_or(format!("{endpoint:?} resolves to nothing"))?;
    let l = std::net::TcpListener::bind(addr).map_err(|e| format!("cannot listen on {endpoint} ({addr}): {e}"))?;
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    tokio::net::TcpListener::from_std(l).map_err(|e| e.to_string())
}

impl ExporterConfig for PrometheusConfig {
    fn build(&self, id: &ComponentId, signal: Signal, ctx: &ServiceCtx) -> Result<ExporterHandle, String> {
        let listener = bind(&self.endpoint)?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner { store: Store::new(self.metric_expiration), last_sweep: Instant::now() }),
            opts: self.options(),
            sweep_every: self.metric_expiration.min(Duration::from_secs(10)),
        });
        let (open_metrics, timestamps) = (self.enable_open_metrics, self.send_timestamps);
        let reader = shared.clone();
        let router = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move |headers: http::HeaderMap| {
                let reader = reader.clone();
                async move {
                    let accept = headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok());
                    let format = exposition::negotiate(accept, open_metrics);
                    let mut body = String::new();
                    {
                        let mut inner = reader.lock();
                        inner.store.expire(Instant::now());
                        exposition::render(inner.store.families(), format, timestamps, &mut body);
                    }
                    let ctype = match format {
                        exposition::Format::Text => exposition::TEXT_CONTENT_TYPE,
                        exposition::Format::OpenMetrics => exposition::OPENMETRICS_CONTENT_TYPE,
                    };
                    ([(http::header::CONTENT_TYPE, ctype)], body)
                }
            }),
        );
        let tls = self.tls.as_ref().map(|t| t.rustls()).transpose()?;
        let server = crate::net::serve(listener, tls, router);
        tracing::info!(exporter = %id, endpoint = %self.endpoint, "serving metrics for scraping");
        // Updating the map is quick: no sending queue, the pipeline waits for it.
        let queue = QueueSettings { enabled: false, num_consumers: 1, ..Default::default() };
        let retry = RetrySettings { enabled: false, ..Default::default() };
        let ExporterHandle { consumer, running } = super::spawn(id, signal, Sink { shared }, &queue, &retry, ctx)?;
        let RunningExporter { id, signal, done, give_up } = running;
        // Serve until everything upstream has drained into the map.
        let done = tokio::spawn(async move {
            let _ = done.await;
            server.stop().await;
        });
        Ok(ExporterHandle { consumer, running: RunningExporter { id, signal, done, give_up } })
    }
}

#[derive(Clone)]
struct Sink {
    shared: Arc<Shared>,
}

impl tower::Service<Arc<Payload>> for Sink {
    type Response = u64;
    type Error = PipelineError;
    type Future = Ready<Result<u64, PipelineError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, p: Arc<Payload>) -> Self::Future {
        let Payload::Metrics(rms) = &*p else {
            return ready(Err(PipelineError::permanent("the prometheus exporter takes metrics only")));
        };
        let (families, dropped) = translate::translate(rms, &self.shared.opts, now_ns());
        let now = Instant::now();
        let mut rejected = dropped.points;
        let mut inner = self.shared.lock();
        for f in families {
            let name = f.meta.name.clone();
            let conflicts = inner.store.apply(f, now);
            if conflicts > 0 {
                tracing::warn!(metric = %name, points = conflicts, "metric name already used by a family of another type; points dropped");
            }
            rejected += conflicts;
        }
        if now.duration_since(inner.last_sweep) >= self.shared.sweep_every {
            inner.store.expire(now);
            inner.last_sweep = now;
        }
        drop(inner);
        if dropped.points > 0 {
            tracing::warn!(points = dropped.points, reason = %dropped.reason, "metric points have no Prometheus form; dropped");
        }
        ready(Ok(rejected))
    }
}
