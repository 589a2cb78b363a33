//! The `fluentforward` receiver: the Fluent Forward protocol v1 over TCP
//! (optionally TLS) or a unix socket, with the UDP heartbeat, the shared-key
//! handshake, and `chunk` acks sent only after the pipeline has accepted
//! the records.

mod config;
mod connection;
mod decode;
mod frame;
mod handshake;
mod listener;
mod mapping;
mod msgpack;

use std::path::Path;
use std::sync::Arc;

use aiotel_api::Signal;
use futures::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::FluentForwardConfig;

use self::config::Endpoint;
use self::connection::Shared;
use self::decode::Limits;
use self::listener::Listener;
use crate::components::{parse_block, ComponentId, Factory, Kind, Parsed, ReceiverConfig, Running, Stability};
use crate::config::yaml::Value;
use crate::pipeline::Consumers;
use crate::service::ServiceCtx;

pub fn factory() -> Factory {
    Factory { kind: Kind::Receiver, ty: "fluentforward", stability: Stability::Beta, signals: &[Signal::Logs], parse }
}

fn parse(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: FluentForwardConfig = parse_block(raw)?;
    let errs = cfg.validate();
    if errs.is_empty() {
        Ok(Parsed::Receiver(Arc::new(cfg)))
    } else {
        Err(errs)
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "aiotel".into())
}

impl ReceiverConfig for FluentForwardConfig {
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
            let out = consumers.get(Signal::Logs).cloned().ok_or("fluentforward feeds logs pipelines only")?;
            let stop = CancellationToken::new();
            let (listener, transport, heartbeat) = match cfg.listen() {
                Endpoint::Tcp(ep) => {
                    let tcp = crate::net::bind(&ep).await?;
                    let addr = tcp.local_addr().map_err(|e| e.to_string())?;
                    let tls = cfg
                        .tls
                        .as_ref()
                        .map(|t| t.server_config().map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c))))
                        .transpose()?;
                    let heartbeat = if cfg.heartbeat {
                        let udp = tokio::net::UdpSocket::bind(addr)
                            .await
                            .map_err(|e| format!("cannot listen for heartbeats on udp {addr}: {e}"))?;
                        Some(tokio::spawn(listener::heartbeat(udp, stop.clone())))
                    } else {
                        None
                    };
                    let transport = if tls.is_some() { "tls" } else { "tcp" };
                    (Listener::Tcp(tcp, tls), transport, heartbeat)
                }
                Endpoint::Unix(path) => (Listener::Unix(listener::bind_unix(&path)?, path), "unix", None),
            };
            let shared = Arc::new(Shared {
                counters: metrics.receiver(&id, transport, Signal::Logs),
                id: id.clone(),
                transport,
                out,
                metrics,
                limits: Limits {
                    max_entries: cfg.max_entries_per_message,
                    max_decompressed: cfg.max_decompressed_size,
                },
                max_message_size: cfg.max_message_size,
                shared_key: cfg.shared_key.clone(),
                self_hostname: cfg.self_hostname.clone().unwrap_or_else(hostname),
                stop: stop.clone(),
            });
            let accept = tokio::spawn(listener::accept_loop(listener, shared, cfg.max_connections));
            tracing::info!(receiver = %id, endpoint = %cfg.endpoint, transport, "Fluent forward listening");
            Ok(Box::new(RunningFluent { stop, accept, heartbeat }) as Box<dyn Running>)
        })
    }
}

struct RunningFluent {
    stop: CancellationToken,
    accept: JoinHandle<()>,
    heartbeat: Option<JoinHandle<()>>,
}

impl Running for RunningFluent {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            self.stop.cancel();
            let _ = self.accept.await;
            if let Some(h) = self.heartbeat {
                let _ = h.await;
            }
        })
    }
}
