//! Factories for the processor crates under `processors/`.

use std::path::Path;
use std::sync::Arc;

use aiotel_api::{Processor, ProcessorContext, Signal};
use aiotel_batch::{BatchConfig, BatchProcessor};
use aiotel_memory_limiter::{MemoryLimiter, MemoryLimiterConfig};

use crate::components::{parse_block, Factory, Kind, Parsed, ProcessorConfig, Stability};
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
