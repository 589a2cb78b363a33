//! Factories for the processor crates under `processors/`.

use std::path::Path;
use std::sync::Arc;

use aiotel_api::{Processor, ProcessorContext, Signal};
use aiotel_batch::{BatchConfig, BatchProcessor};
use aiotel_memory_limiter::{MemoryLimiter, MemoryLimiterConfig};
use aiotel_redaction::{RedactionConfig, RedactionProcessor};
use aiotel_tail_sampling::{TailSampler, TailSamplingConfig};
use aiotel_token_cost::{TokenCostConfig, TokenCostProcessor};

use crate::components::{parse_block, split_issues, Factory, Kind, Parsed, ProcessorConfig, Stability};
use crate::config::yaml::Value;
use crate::service::ServiceCtx;

pub fn factories() -> Vec<Factory> {
    vec![
        Factory { kind: Kind::Processor, ty: "batch", stability: Stability::Beta, signals: &Signal::ALL, parse: batch },
        Factory {
            kind: Kind::Processor,
            ty: "memory_limiter",
            stability: Stability::Beta,
            signals: &Signal::ALL,
            parse: memory_limiter,
        },
        Factory {
            kind: Kind::Processor,
            ty: "redaction",
            stability: Stability::Alpha,
            signals: &Signal::ALL,
            parse: redaction,
        },
        Factory {
            kind: Kind::Processor,
            ty: "token_cost",
            stability: Stability::Alpha,
            signals: &[Signal::Traces, Signal::Logs],
            parse: token_cost,
        },
        Factory {
            kind: Kind::Processor,
            ty: "tail_sampling",
            stability: Stability::Alpha,
            signals: &[Signal::Traces],
            parse: tail_sampling,
        },
    ]
}

fn one_issue(r: Result<(), String>) -> Result<(), Vec<(String, String)>> {
    r.map_err(|m| vec![(String::new(), m)])
}

fn batch(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: BatchConfig = parse_block(raw)?;
    one_issue(cfg.validate())?;
    Ok(Parsed::Processor(Arc::new(cfg)))
}

impl ProcessorConfig for BatchConfig {
    fn build(&self, _ctx: &ProcessorContext, _svc: &ServiceCtx) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(BatchProcessor::new(self.clone())))
    }
}

fn memory_limiter(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: MemoryLimiterConfig = parse_block(raw)?;
    one_issue(cfg.validate())?;
    Ok(Parsed::Processor(Arc::new(cfg)))
}

impl ProcessorConfig for MemoryLimiterConfig {
    fn build(&self, _ctx: &ProcessorContext, _svc: &ServiceCtx) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(MemoryLimiter::new(self, Box::new(aiotel_memory_limiter::process_rss))))
    }
}

/// Redaction keeps its base directory so dictionary files resolve next to the config.
struct Redaction {
    cfg: RedactionConfig,
    base: std::path::PathBuf,
}

fn redaction(raw: Value, base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: RedactionConfig = parse_block(raw)?;
    cfg.validate().map_err(split_issues)?;
    // Build once now so a bad dictionary file or regex fails validation, not startup.
    RedactionProcessor::new(&cfg, base).map_err(|m| vec![(String::new(), m)])?;
    Ok(Parsed::Processor(Arc::new(Redaction { cfg, base: base.to_path_buf() })))
}

impl ProcessorConfig for Redaction {
    fn build(&self, _ctx: &ProcessorContext, _svc: &ServiceCtx) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(RedactionProcessor::new(&self.cfg, &self.base)?))
    }
}

struct TokenCost {
    cfg: TokenCostConfig,
    base: std::path::PathBuf,
}

fn token_cost(raw: Value, base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: TokenCostConfig = parse_block(raw)?;
    cfg.validate().map_err(split_issues)?;
    if let Some(p) = &cfg.prices {
        // Check the price file now, so a broken one fails validation rather than startup.
        let path = if p.is_relative() { base.join(p) } else { p.clone() };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| vec![("prices".to_string(), format!("cannot read {}: {e}", path.display()))])?;
        aiotel_token_cost::PriceTable::from_yaml(&text).map_err(|e| vec![("prices".to_string(), e)])?;
    }
    Ok(Parsed::Processor(Arc::new(TokenCost { cfg, base: base.to_path_buf() })))
}

impl ProcessorConfig for TokenCost {
    fn build(&self, ctx: &ProcessorContext, svc: &ServiceCtx) -> Result<Box<dyn Processor>, String> {
        let p = TokenCostProcessor::new(&self.cfg, &self.base)?;
        // SIGHUP re-reads the price file; a broken file keeps the table in force.
        let handle = p.reload_handle();
        let mut reload = svc.reload.subscribe();
        let id = ctx.id.clone();
        tokio::spawn(async move {
            while reload.changed().await.is_ok() {
                match handle.reload() {
                    Ok(()) => tracing::info!(processor = %id, "price table reloaded"),
                    Err(e) => {
                        tracing::error!(processor = %id, error = %e, "price reload failed; keeping the current table")
                    }
                }
            }
        });
        Ok(Box::new(p))
    }
}

fn tail_sampling(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: TailSamplingConfig = parse_block(raw)?;
    cfg.validate().map_err(split_issues)?;
    Ok(Parsed::Processor(Arc::new(cfg)))
}

impl ProcessorConfig for TailSamplingConfig {
    fn build(&self, _ctx: &ProcessorContext, _svc: &ServiceCtx) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(TailSampler::new(self)?))
    }
}
