//! Starts the configured components and shuts them down upstream-first, so
//! each stage drains into the next before it stops.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::config::Config;
use crate::telemetry::SelfMetrics;

pub type OpenFiles = Arc<Mutex<HashMap<PathBuf, Arc<Mutex<BufWriter<File>>>>>>;

/// What every component may use while it runs.
#[derive(Clone)]
pub struct ServiceCtx {
    pub metrics: Arc<SelfMetrics>,
    pub health: Arc<Health>,
    pub open_files: OpenFiles,
    /// Bumped on SIGHUP: components re-read their data files.
    pub reload: tokio::sync::watch::Sender<u64>,
    /// Started `file_storage` extensions, by id, for persistent sending queues.
    pub storages: Storages,
}

pub type Storages =
    Arc<std::sync::Mutex<std::collections::HashMap<String, crate::exporters::persistent::PersistentSettings>>>;

impl ServiceCtx {
    pub fn new() -> ServiceCtx {
        ServiceCtx {
            metrics: SelfMetrics::new(),
            health: Arc::new(Health::new()),
            open_files: Default::default(),
            reload: tokio::sync::watch::Sender::new(0),
            storages: Default::default(),
        }
    }
}

impl Default for ServiceCtx {
    fn default() -> Self {
        Self::new()
    }
}

const STARTING: u8 = 0;
const READY: u8 = 1;
const STOPPING: u8 = 2;

pub struct Health {
    state: AtomicU8,
    started: Instant,
}

impl Health {
    fn new() -> Self {
        Self { state: AtomicU8::new(STARTING), started: Instant::now() }
    }
    pub fn is_ready(&self) -> bool {
        self.state.load(Ordering::Acquire) == READY
    }
    pub fn uptime(&self) -> String {
        format!("{:?}", self.started.elapsed())
    }
    fn set(&self, s: u8) {
        self.state.store(s, Ordering::Release);
    }
}

/// Runs the service until `stop` resolves, then shuts it down. Each message
/// on `reload` (SIGHUP) asks components to re-read their data files.
pub async fn run(
    cfg: Config,
    stop: impl std::future::Future<Output = ()>,
    mut reload: tokio::sync::mpsc::Receiver<()>,
) -> Result<(), String> {
    let ctx = ServiceCtx::new();
    let reloads = ctx.reload.clone();
    tokio::spawn(async move {
        while reload.recv().await.is_some() {
            reloads.send_modify(|n| *n += 1);
        }
    });
    let metrics_server = match cfg.telemetry.metrics.listen_address() {
        Some(addr) => {
            let listener = crate::net::bind(&addr).await?;
            let m = ctx.metrics.clone();
            let router =
                axum::Router::new().route(
                    "/metrics",
                    axum::routing::get(move || {
                        let m = m.clone();
                        async move {
                            ([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], m.render())
                        }
                    }),
                );
            tracing::info!(address = %addr, "self-metrics listening");
            Some(crate::net::serve(listener, None, router))
        }
        None => None,
    };
    let mut extensions = Vec::new();
    for id in &cfg.service_extensions {
        let ext = cfg.extensions[id].start(id, &ctx).await.map_err(|e| format!("extension {id}: {e}"))?;
        extensions.push(ext);
    }
    let graph = crate::pipeline::build(&cfg, &ctx)?;
    let mut receivers = Vec::new();
    for (id, consumers) in graph.receivers {
        match cfg.receivers[&id].start(&id, &ctx, consumers).await {
            Ok(r) => receivers.push(r),
            Err(e) => {
                for r in receivers {
                    r.shutdown().await;
                }
                return Err(format!("receiver {id}: {e}"));
            }
        }
    }
    ctx.health.set(READY);
    tracing::info!(pipelines = cfg.pipelines.len(), "aiotel is ready");

    stop.await;

    ctx.health.set(STOPPING);
    let deadline = tokio::time::Instant::now() + cfg.shutdown_timeout;
    tracing::info!(timeout = ?cfg.shutdown_timeout, "shutting down: receivers first, then pipelines, then exporters");
    for r in receivers {
        r.shutdown().await;
    }
    // Pipelines end when their inputs close; exporters when the pipelines do.
    let mut pipelines = graph.pipelines;
    let mut exporters = graph.exporters;
    let drained = tokio::time::timeout_at(deadline, async {
        for (_, p) in pipelines.iter_mut() {
            let _ = p.await;
        }
        for e in exporters.iter_mut() {
            let _ = (&mut e.done).await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("shutdown deadline passed; abandoning undelivered data");
        for e in &exporters {
            e.give_up.cancel();
        }
        for (_, p) in pipelines.iter_mut() {
            if !p.is_finished() {
                let _ = p.await;
            }
        }
        for e in exporters.iter_mut() {
            if !e.done.is_finished() {
                let _ = (&mut e.done).await;
            }
        }
    }
    for e in extensions {
        e.shutdown().await;
    }
    if let Some(m) = metrics_server {
        m.stop().await;
    }
    match ctx.metrics.undelivered() {
        0 => tracing::info!("shutdown complete; everything accepted was delivered"),
        n => tracing::warn!(undelivered = n, "shutdown complete; {n} accepted item(s) could not be delivered"),
    }
    Ok(())
}
