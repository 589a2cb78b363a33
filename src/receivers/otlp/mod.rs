//! The `otlp` receiver: OTLP over gRPC (4317) and HTTP (4318).

mod config;
mod grpc;
mod http;

use std::path::Path;
use std::sync::Arc;

use aiotel_api::{Payload, PipelineError, Signal};
use futures::future::BoxFuture;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;

pub use config::OtlpReceiverConfig;

use super::{ingest, Rejected};
use crate::components::{parse_block, ComponentId, Factory, Kind, Parsed, ReceiverConfig, Running, Stability};
use crate::config::yaml::Value;
use crate::net::{bind, serve, HttpServer};
use crate::pipeline::Consumers;
use crate::service::ServiceCtx;
use crate::telemetry::ComponentCounters;

pub fn factory() -> Factory {
    Factory { kind: Kind::Receiver, ty: "otlp", stability: Stability::Stable, signals: &Signal::ALL, parse }
}

fn parse(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: OtlpReceiverConfig = parse_block(raw)?;
    let errs = cfg.validate();
    if errs.is_empty() {
        Ok(Parsed::Receiver(Arc::new(cfg)))
    } else {
        Err(errs)
    }
}

/// Shared by both transports: where each signal goes and what is counted.
pub struct Handler {
    consumers: Consumers,
    /// Per transport (grpc, http) and signal.
    counters: [[ComponentCounters; 3]; 2],
}

impl Handler {
    async fn ingest(&self, transport: &str, payload: Payload) -> Result<Rejected, PipelineError> {
        let signal = payload.signal();
        let t = usize::from(transport == "http");
        let s = Signal::ALL.iter().position(|x| *x == signal).unwrap_or(0);
        let Some(out) = self.consumers.get(signal) else {
            return Err(PipelineError::permanent(format!("no {signal} pipeline is configured for this receiver")));
        };
        ingest(out, &self.counters[t][s], payload).await
    }
}

impl ReceiverConfig for OtlpReceiverConfig {
    fn start(
        &self,
        id: &ComponentId,
        ctx: &ServiceCtx,
        consumers: Consumers,
    ) -> BoxFuture<'static, Result<Box<dyn Running>, String>> {
        let cfg = self.clone();
        let id = id.to_string();
        let metrics = ctx.metrics.clone();
        Box::pin(async move {
            let signals: Vec<Signal> = Signal::ALL.into_iter().filter(|s| consumers.get(*s).is_some()).collect();
            let counters = ["grpc", "http"].map(|t| Signal::ALL.map(|s| metrics.receiver(&id, t, s)));
            let handler = Arc::new(Handler { consumers, counters });
            let mut running = RunningOtlp { grpc: None, http: None };
            if let Some(g) = &cfg.protocols.grpc {
                let listener = bind(&g.endpoint).await?;
                let mut builder = tonic::transport::Server::builder();
                if let Some(tls) = &g.tls {
                    let (cert, key) = tls.pem()?;
                    let mut t = tonic::transport::ServerTlsConfig::new()
                        .identity(tonic::transport::Identity::from_pem(cert, key));
                    if let Some(ca) = &tls.client_ca_file {
                        let pem = std::fs::read(ca).map_err(|e| format!("cannot read {}: {e}", ca.display()))?;
                        t = t.client_ca_root(tonic::transport::Certificate::from_pem(pem));
                    }
                    builder = builder.tls_config(t).map_err(|e| e.to_string())?;
                }
                builder = builder.max_concurrent_streams(g.max_concurrent_streams).tcp_nodelay(true);
                let max = g.max_recv_msg_size_mib << 20;
                let mut router = builder.add_optional_service(
                    signals
                        .contains(&Signal::Traces)
                        .then(|| grpc::OtlpService::<grpc::Traces>::new(handler.clone(), max)),
                );
                router = router
                    .add_optional_service(
                        signals
                            .contains(&Signal::Metrics)
                            .then(|| grpc::OtlpService::<grpc::Metrics>::new(handler.clone(), max)),
                    )
                    .add_optional_service(
                        signals
                            .contains(&Signal::Logs)
                            .then(|| grpc::OtlpService::<grpc::Logs>::new(handler.clone(), max)),
                    );
                let stop = CancellationToken::new();
                let token = stop.clone();
                let endpoint = g.endpoint.clone();
                let done = tokio::spawn(async move {
                    let incoming = TcpListenerStream::new(listener);
                    if let Err(e) = router.serve_with_incoming_shutdown(incoming, token.cancelled()).await {
                        tracing::error!(endpoint, error = %e, "OTLP gRPC server failed");
                    }
                });
                tracing::info!(receiver = %id, endpoint = %g.endpoint, "OTLP gRPC listening");
                running.grpc = Some((stop, done));
            }
            if let Some(h) = &cfg.protocols.http {
                let listener = bind(&h.endpoint).await?;
                let tls = h.tls.as_ref().map(|t| t.rustls()).transpose()?;
                let paths: Vec<(Signal, &str)> = signals
                    .iter()
                    .map(|s| {
                        (
                            *s,
                            match s {
                                Signal::Traces => h.traces_url_path.as_str(),
                                Signal::Metrics => h.metrics_url_path.as_str(),
                                Signal::Logs => h.logs_url_path.as_str(),
                            },
                        )
                    })
                    .collect();
                let state = Arc::new(http::HttpState { handler: handler.clone(), max_body: h.max_request_body_size });
                running.http = Some(serve(listener, tls, http::router(state, &paths)));
                tracing::info!(receiver = %id, endpoint = %h.endpoint, "OTLP HTTP listening");
            }
            Ok(Box::new(running) as Box<dyn Running>)
        })
    }
}

struct RunningOtlp {
    grpc: Option<(CancellationToken, tokio::task::JoinHandle<()>)>,
    http: Option<HttpServer>,
}

impl Running for RunningOtlp {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if let Some((stop, done)) = self.grpc {
                stop.cancel();
                let _ = done.await;
            }
            if let Some(h) = self.http {
                h.stop().await;
            }
        })
    }
}
