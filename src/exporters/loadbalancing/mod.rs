//! The `loadbalancing` exporter: routes each trace (or service, or
//! attribute value) to one backend on a consistent-hash ring, each backend
//! an `otlp` exporter with its own bounded queue and retries.
//!
//! Unlike the Collector, a backend that leaves the resolver does not take
//! its queue with it: its workers stop, and every batch still queued, in
//! retry, or hanging in an export past a short grace (`driver::export_until_removed`) goes back
//! through the ring to the new owner.

mod backend;
mod config;
mod resolver;
mod ring;
mod split;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use aiotel_api::{Batch, PipelineError, Signal};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{ExporterHandle, RunningExporter};
use crate::components::{parse_block, ComponentId, ExporterConfig, Factory, Kind, Parsed, Stability};
use crate::config::yaml::Value;
use crate::pipeline::{Consumer, OnFull};

/// How long an export in flight may still finish after its backend was removed.
pub(crate) const REMOVAL_GRACE: std::time::Duration = std::time::Duration::from_secs(2);
use crate::service::ServiceCtx;
use crate::telemetry::ComponentCounters;
use backend::{Backend, Links};
pub use config::LoadBalancingConfig;
use resolver::Resolver;
use ring::Ring;

/// Room for batches handed back by a removed backend.
const REROUTE_CAPACITY: usize = 64;

pub fn factory() -> Factory {
    Factory { kind: Kind::Exporter, ty: "loadbalancing", stability: Stability::Beta, signals: &Signal::ALL, parse }
}

fn parse(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: LoadBalancingConfig = parse_block(raw)?;
    let errs = cfg.validate();
    if errs.is_empty() {
        Ok(Parsed::Exporter(Arc::new(cfg)))
    } else {
        Err(errs)
    }
}

impl ExporterConfig for LoadBalancingConfig {
    fn build(&self, id: &ComponentId, signal: Signal, ctx: &ServiceCtx) -> Result<ExporterHandle, String> {
        // Fail at start, not per batch, when the otlp settings cannot make a client.
        self.backend("localhost:4317").service(signal)?;
        self.queue().persistent_settings(ctx)?;
        let name = id.to_string();
        let counters = ctx.metrics.exporter(&name, signal);
        // A one-slot hand-off: the router settles acks once a batch is in a backend's queue.
        let (tx, rx) = async_channel::bounded::<Batch>(1);
        let consumer = Consumer::new(tx, OnFull::Block, false, counters.clone());
        let give_up = CancellationToken::new();
        let (lb, reroute_rx) = Lb::new(self.clone(), name.clone(), signal, ctx, counters, give_up.clone());
        let done = tokio::spawn(lb.run(rx, reroute_rx));
        Ok(ExporterHandle { consumer, running: RunningExporter { id: name, signal, done, give_up } })
    }
}

struct Lb {
    cfg: LoadBalancingConfig,
    id: String,
    signal: Signal,
    ctx: ServiceCtx,
    ring: Ring,
    backends: BTreeMap<String, Backend>,
    /// Tasks of removed backends, still handing their batches back.
    retired: Vec<JoinHandle<()>>,
    /// Removed backends with a disk queue: their log owns the directory, so
    /// they keep it (and keep retrying) until the endpoint returns or shutdown.
    parked: BTreeMap<String, Backend>,
    counters: ComponentCounters,
    /// Items handed back by removed backends and routed again.
    rerouted: prometheus_client::metrics::counter::Counter,
    links: Links,
}

impl Lb {
    fn new(
        cfg: LoadBalancingConfig,
        id: String,
        signal: Signal,
        ctx: &ServiceCtx,
        counters: ComponentCounters,
        give_up: CancellationToken,
    ) -> (Lb, async_channel::Receiver<Batch>) {
        let (reroute_tx, reroute_rx) = async_channel::bounded(REROUTE_CAPACITY);
        let rerouted = ctx.metrics.queue_event(&id, signal, "rerouted_items");
        let lb = Lb {
            cfg,
            id,
            signal,
            ctx: ctx.clone(),
            ring: Ring::default(),
            backends: BTreeMap::new(),
            retired: Vec::new(),
            parked: BTreeMap::new(),
            rerouted,
            counters,
            links: Links { give_up, reroute: reroute_tx, grace: REMOVAL_GRACE },
        };
        (lb, reroute_rx)
    }

    async fn run(mut self, rx: async_channel::Receiver<Batch>, reroute_rx: async_channel::Receiver<Batch>) {
        let resolver = Resolver::new(&self.cfg.resolver);
        self.refresh(&resolver).await;
        let mut tick = resolver.interval().map(tokio::time::interval);
        loop {
            tokio::select! {
                b = rx.recv() => match b {
                    Ok(b) => self.route(b, false).await,
                    Err(_) => break,
                },
                Ok(b) = reroute_rx.recv() => self.route(b, true).await,
                _ = async { match tick.as_mut() { Some(t) => { t.tick().await; } None => std::future::pending().await } } => {
                    self.refresh(&resolver).await;
                }
            }
        }
        // The pipelines are done. Removed backends may still be handing
        // batches back (and would block on a full hand-off): route those to
        // the live backends first.
        for mut t in std::mem::take(&mut self.retired) {
            loop {
                tokio::select! {
                    _ = &mut t => break,
                    Ok(b) = reroute_rx.recv() => self.route(b, true).await,
                }
            }
        }
        while let Ok(b) = reroute_rx.try_recv() {
            self.route(b, true).await;
        }
        // Then close every queue and wait for it to drain.
        let mut all = std::mem::take(&mut self.backends);
        all.append(&mut self.parked);
        let tasks: Vec<_> = all.into_values().flat_map(Backend::close).collect();
        for t in tasks {
            let _ = t.await;
        }
        // Anything handed back after the last route has no owner left.
        while let Ok(b) = reroute_rx.try_recv() {
            let n = b.payload.item_count() as u64;
            self.counters.dropped.inc_by(n);
            self.counters.undelivered.inc_by(n);
            b.fail(&PipelineError::shutting_down());
        }
    }

    async fn refresh(&mut self, resolver: &Resolver) {
        match resolver.resolve().await {
            Ok(e) => self.apply(e),
            Err(e) => tracing::warn!(exporter = %self.id, error = %e, "resolver failed; keeping the current backends"),
        }
    }

    /// Moves to a new backend list: removed backends hand their queues back, new ones start.
    fn apply(&mut self, endpoints: Vec<String>) {
        if endpoints.as_slice() == self.ring.endpoints() {
            return;
        }
        tracing::info!(exporter = %self.id, ?endpoints, "backends changed");
        self.ring = Ring::new(&endpoints);
        let gone: Vec<String> = self.backends.keys().filter(|e| !endpoints.contains(e)).cloned().collect();
        for e in gone {
            if let Some(b) = self.backends.remove(&e) {
                if b.is_persistent() {
                    tracing::info!(exporter = %self.id, backend = %e, "backend removed; its disk queue is kept");
                    self.parked.insert(e, b);
                    continue;
                }
                tracing::info!(exporter = %self.id, backend = %e, "backend removed; re-routing its queue");
                self.retired.extend(b.remove());
            }
        }
        self.retired.retain(|t| !t.is_finished());
        for e in endpoints {
            if self.backends.contains_key(&e) {
                continue;
            }
            if let Some(b) = self.parked.remove(&e) {
                self.backends.insert(e, b);
                continue;
            }
            match Backend::start(&self.cfg, &self.id, &e, self.signal, &self.ctx, &self.links) {
                Ok(b) => {
                    self.backends.insert(e, b);
                }
                Err(err) => tracing::error!(exporter = %self.id, backend = %e, error = %err, "cannot start backend"),
            }
        }
    }

    /// Splits `batch` by routing key and queues each part at its owner.
    /// Re-routed batches were already acknowledged, so they wait for room.
    async fn route(&mut self, batch: Batch, rerouted: bool) {
        let Batch { payload, acks } = batch;
        let n = payload.item_count() as u64;
        if rerouted {
            self.rerouted.inc_by(n);
        }
        let router =
            split::Router { ring: &self.ring, key: self.cfg.routing_key, attributes: &self.cfg.routing_attributes };
        let parts = match router.split(payload) {
            Ok(p) => p,
            Err(_) => {
                let err = PipelineError::unavailable("loadbalancing: no backend resolved yet");
                if rerouted {
                    self.counters.dropped.inc_by(n);
                } else {
                    self.counters.enqueue_failed.inc_by(n);
                }
                tracing::warn!(exporter = %self.id, items = n, "no backend to route to");
                acks.into_iter().for_each(|a| a.fail(err.clone()));
                return;
            }
        };
        for (endpoint, part) in parts {
            let part = Batch::new(part, acks.clone());
            match self.backends.get(&endpoint) {
                Some(b) => b.send(part, rerouted, &self.counters).await,
                None => {
                    // The backend could not be started: its client settings are bad.
                    let k = part.payload.item_count() as u64;
                    self.counters.send_failed.inc_by(k);
                    part.fail(&PipelineError::permanent(format!("backend {endpoint} is not running")));
                }
            }
        }
        acks.into_iter().for_each(|a| a.ok());
    }
}

#[cfg(test)]
mod tests;
