//! The `dcgm` receiver: a scraper preset for NVIDIA's DCGM exporter. It
//! reuses the prometheus receiver's scraper and maps the series to the OTel
//! hardware conventions; new XID errors also go to the logs pipeline at once.

mod config;
mod mapping;

use std::path::Path;
use std::sync::Arc;

use aiotel_api::{Payload, Signal};
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

pub use config::DcgmConfig;

use super::prometheus::scrape::{ScrapeSettings, Scraper};
use super::prometheus::{now_ns, send, ScrapeLoops};
use crate::components::{parse_block, ComponentId, Factory, Kind, Parsed, ReceiverConfig, Running, Stability};
use crate::config::yaml::Value;
use crate::pipeline::Consumers;
use crate::service::ServiceCtx;
use mapping::DcgmState;

pub fn factory() -> Factory {
    Factory {
        kind: Kind::Receiver,
        ty: "dcgm",
        stability: Stability::Alpha,
        signals: &[Signal::Metrics, Signal::Logs],
        parse,
    }
}

fn parse(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: DcgmConfig = parse_block(raw)?;
    let errs = cfg.validate();
    if errs.is_empty() {
        Ok(Parsed::Receiver(Arc::new(cfg)))
    } else {
        Err(errs)
    }
}

impl ReceiverConfig for DcgmConfig {
    fn start(
        &self,
        id: &ComponentId,
        ctx: &ServiceCtx,
        consumers: Consumers,
    ) -> BoxFuture<'static, Result<Box<dyn Running>, String>> {
        let cfg = self.clone();
        let id = id.to_string();
        let metric_counters = ctx.metrics.receiver(&id, "http", Signal::Metrics);
        let log_counters = ctx.metrics.receiver(&id, "http", Signal::Logs);
        Box::pin(async move {
            let scraper = Scraper::new(ScrapeSettings::plain(cfg.timeout()))?;
            let url = cfg.url();
            let stop = CancellationToken::new();
            let token = stop.clone();
            tracing::info!(receiver = %id, endpoint = %url, "scraping the DCGM exporter");
            let task = tokio::spawn(async move {
                let mut state = DcgmState::default();
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(cfg.initial_delay) => {}
                }
                let mut tick = tokio::time::interval(cfg.collection_interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    tokio::select! {
                        _ = token.cancelled() => return,
                        _ = tick.tick() => {}
                    }
                    let time = now_ns();
                    let scraped = match scraper.scrape(&url).await {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!(receiver = %id, endpoint = %url, error = %e, "DCGM scrape failed");
                            continue;
                        }
                    };
                    let mapped = state.map(&scraped.families, time, cfg.pass_through_unmapped);
                    if mapped.blanks > 0 {
                        tracing::debug!(receiver = %id, blanks = mapped.blanks, "blank DCGM values dropped");
                    }
                    // Logs first: an XID alert should not wait behind the metrics.
                    let sends = async {
                        if let (Some(out), false) = (&consumers.logs, mapped.logs.is_empty()) {
                            send(&id, out, &log_counters, Payload::Logs(mapped.logs)).await;
                        }
                        if let (Some(out), false) = (&consumers.metrics, mapped.metrics.is_empty()) {
                            send(&id, out, &metric_counters, Payload::Metrics(mapped.metrics)).await;
                        }
                    };
                    tokio::select! {
                        _ = token.cancelled() => return,
                        _ = sends => {}
                    }
                }
            });
            Ok(Box::new(ScrapeLoops::new(stop, vec![task])) as Box<dyn Running>)
        })
    }
}
