//! The `prometheus` receiver: scrapes static targets as Prometheus does and
//! hands each scrape to the metrics pipeline as OTLP.

pub mod config;
pub mod labeling;
pub mod mapping;
pub mod otlp;
pub mod parser;
pub mod relabel;
pub mod scrape;
pub mod target;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aiotel_api::{Payload, Signal};
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

pub use config::PrometheusReceiverConfig;

use super::ingest;
use crate::components::{parse_block, ComponentId, Factory, Kind, Parsed, ReceiverConfig, Running, Stability};
use crate::config::yaml::Value;
use crate::pipeline::{Consumers, Fanout};
use crate::service::ServiceCtx;
use crate::telemetry::ComponentCounters;
use labeling::{label_samples, LabelRules};
use mapping::{scrape_report, TargetState};
use scrape::{ScrapeError, ScrapeSettings, Scraper};
use target::Target;

pub fn factory() -> Factory {
    Factory { kind: Kind::Receiver, ty: "prometheus", stability: Stability::Beta, signals: &[Signal::Metrics], parse }
}

fn parse(raw: Value, base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let issues = config::unsupported_keys(&raw);
    if !issues.is_empty() {
        return Err(issues);
    }
    let mut cfg: PrometheusReceiverConfig = parse_block(raw)?;
    cfg.resolve(base);
    let errs = cfg.validate();
    if errs.is_empty() {
        Ok(Parsed::Receiver(Arc::new(cfg)))
    } else {
        Err(errs)
    }
}

pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// The scrape loops of one receiver; shutdown stops them between scrapes.
pub struct ScrapeLoops {
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl ScrapeLoops {
    pub fn new(stop: CancellationToken, tasks: Vec<tokio::task::JoinHandle<()>>) -> ScrapeLoops {
        ScrapeLoops { stop, tasks }
    }
}

impl Running for ScrapeLoops {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            self.stop.cancel();
            for t in self.tasks {
                let _ = t.await;
            }
        })
    }
}

/// Sends one scrape's metrics and waits for the pipeline; a refusal is
/// counted by `ingest` and logged, since a scrape cannot be retried later.
pub async fn send(receiver: &str, out: &Fanout, counters: &ComponentCounters, payload: Payload) {
    if let Err(e) = ingest(out, counters, payload).await {
        tracing::warn!(receiver, error = %e.message, "pipeline refused scraped data");
    }
}

/// How long shutdown waits for a target's final staleness markers to be accepted.
const SHUTDOWN_MARKERS_WAIT: Duration = Duration::from_secs(2);

struct Job {
    receiver: String,
    scraper: Scraper,
    interval: Duration,
    honor_labels: bool,
    honor_timestamps: bool,
    sample_limit: usize,
    extra_metrics: Option<(f64, f64)>,
    metric_relabel: Vec<relabel::RelabelConfig>,
    external_labels: std::collections::BTreeMap<String, String>,
    out: Fanout,
    counters: ComponentCounters,
}

impl Job {
    async fn run(self: Arc<Job>, target: Target, stop: CancellationToken) {
        let mut state = TargetState::default();
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + self.offset(&target), self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let payload = tokio::select! {
                _ = stop.cancelled() => break,
                p = self.scrape_once(&target, &mut state) => p,
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = send(&self.receiver, &self.out, &self.counters, payload) => {}
            }
        }
        // As Prometheus does when a scrape loop stops: end every series now,
        // rather than leaving backends to guess when they went away.
        let markers = state.failed(&target, now_ns(), &[]);
        if !markers.is_empty() {
            let done = send(&self.receiver, &self.out, &self.counters, Payload::Metrics(markers));
            if tokio::time::timeout(SHUTDOWN_MARKERS_WAIT, done).await.is_err() {
                tracing::debug!(receiver = %self.receiver, target = %target.url, "staleness markers not sent before shutdown");
            }
        }
    }

    /// Spreads targets over the interval, as Prometheus does, so a large
    /// job does not scrape every target in the same instant. Stable per target.
    fn offset(&self, target: &Target) -> Duration {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        target.url.hash(&mut h);
        target.labels.hash(&mut h);
        let nanos = self.interval.as_nanos().max(1) as u64;
        Duration::from_nanos(h.finish() % nanos)
    }

    async fn scrape_once(&self, target: &Target, state: &mut TargetState) -> Payload {
        let time = now_ns();
        let began = Instant::now();
        let result = self.scraper.scrape(&target.url).await;
        let duration = began.elapsed();
        let outcome = result.and_then(|mut scraped| {
            let scraped_n: usize = scraped.families.iter().map(|f| f.samples.len()).sum();
            let rules = LabelRules {
                honor_labels: self.honor_labels,
                metric_relabel: &self.metric_relabel,
                external_labels: &self.external_labels,
            };
            let left = label_samples(&mut scraped.families, target, &rules);
            if self.sample_limit > 0 && left > self.sample_limit {
                return Err(ScrapeError::SampleLimit { got: left, limit: self.sample_limit });
            }
            Ok((scraped, scraped_n, left))
        });
        let rm = match outcome {
            Ok((scraped, n, left)) => {
                let mut report = scrape_report(true, duration, n, left, 0).to_vec();
                self.extra(&mut report);
                let rm = state.convert(target, &scraped.families, time, self.honor_timestamps, &report);
                let dropped = state.take_dropped();
                if dropped > 0 {
                    // Counted as refused, like malformed items a push receiver rejects.
                    self.counters.refused.inc_by(dropped as u64);
                    tracing::debug!(receiver = %self.receiver, target = %target.url, dropped, "unmappable points dropped");
                }
                rm
            }
            Err(e) => {
                tracing::warn!(receiver = %self.receiver, target = %target.url, error = %e, "scrape failed");
                let mut report = scrape_report(false, duration, 0, 0, 0).to_vec();
                self.extra(&mut report);
                state.failed(target, time, &report)
            }
        };
        Payload::Metrics(rm)
    }

    fn extra(&self, report: &mut Vec<(&'static str, f64)>) {
        if let Some((timeout, limit)) = self.extra_metrics {
            report.push(("scrape_timeout_seconds", timeout));
            report.push(("scrape_sample_limit", limit));
        }
    }
}

impl ReceiverConfig for PrometheusReceiverConfig {
    fn start(
        &self,
        id: &ComponentId,
        ctx: &ServiceCtx,
        consumers: Consumers,
    ) -> BoxFuture<'static, Result<Box<dyn Running>, String>> {
        let cfg = self.clone();
        let id = id.to_string();
        let counters = ctx.metrics.receiver(&id, "http", Signal::Metrics);
        Box::pin(async move {
            let out = consumers.metrics.clone().ok_or("the prometheus receiver needs a metrics pipeline")?;
            let stop = CancellationToken::new();
            let mut tasks = Vec::new();
            for sc in &cfg.config.scrape_configs {
                let settings = ScrapeSettings::from_config(sc).map_err(|e| format!("job {:?}: {e}", sc.job_name))?;
                let timeout = settings.timeout;
                let job = Arc::new(Job {
                    receiver: id.clone(),
                    scraper: Scraper::new(settings).map_err(|e| format!("job {:?}: {e}", sc.job_name))?,
                    interval: sc.scrape_interval.unwrap_or(Duration::from_secs(60)),
                    honor_labels: sc.honor_labels,
                    honor_timestamps: sc.honor_timestamps,
                    sample_limit: sc.sample_limit,
                    extra_metrics: cfg
                        .report_extra_scrape_metrics
                        .then_some((timeout.as_secs_f64(), sc.sample_limit as f64)),
                    metric_relabel: sc.metric_relabel_configs.clone(),
                    external_labels: cfg.config.global.external_labels.clone(),
                    out: out.clone(),
                    counters: counters.clone(),
                });
                let targets = target::targets(sc);
                tracing::info!(receiver = %id, job = %sc.job_name, targets = targets.len(), "scraping");
                for t in targets {
                    tasks.push(tokio::spawn(job.clone().run(t, stop.clone())));
                }
            }
            Ok(Box::new(ScrapeLoops::new(stop, tasks)) as Box<dyn Running>)
        })
    }
}
