//! The `token_cost` processor: prices LLM calls from the token usage on
//! spans and log records.
//!
//! ```yaml
//! processors:
//!   token_cost:
//!     prices: prices.yaml            # optional; overrides the embedded table entry by entry
//!     include_default_prices: true   # false: only the file's entries
//!     tenant_attribute: tenant.id
//!     openinference_compat: false    # also write llm.cost.{total,prompt,completion}
//!     reload_interval: 2s            # poll `prices`; 0s = reload only on SIGHUP
//! ```
//!
//! **Usage** is read from any dialect (OTel GenAI current and deprecated,
//! OpenInference, OpenLLMetry legacy), as ints, doubles or numeric strings,
//! from the item's own attributes. Provider and model fall back to the
//! resource. Counts are normalised to one model (cache inside input,
//! reasoning inside output, billed over used); `RawUsage::normalise` in
//! `usage.rs` documents how Anthropic's input-excluding-cache is told
//! apart: input < cache read + write, else a reported total that adds up
//! one way or the other, else the raw-API shape (Anthropic model with the
//! flat `gen_ai.usage.cache_*_input_tokens` keys), else the spec's
//! "input includes cache". Agent, workflow and chain spans (`gen_ai.operation.name`
//! `invoke_agent`/`create_agent`/`invoke_workflow`, OpenInference `CHAIN`/
//! `AGENT`, Traceloop `workflow`/`agent`/`task`) are skipped: they repeat
//! their children's usage.
//!
//! **Models** are matched exactly, then normalised ([`normalise_model`]),
//! then by the table's aliases.
//!
//! **A priced span or log record carries**, besides its own attributes:
//! - `gen_ai.cost.total`, `.input` (uncached input), `.cache_read`,
//!   `.cache_write`, `.output` (non-reasoning), `.reasoning` (doubles, in
//!   the table's currency), `gen_ai.cost.currency` and
//!   `gen_ai.cost.pricing_model` (the table entry that matched). Existing
//!   values are recomputed and overwritten. A part whose cost is zero (no
//!   such tokens, or a zero price) is left out unless it was already there;
//!   the total is always written.
//! - `gen_ai.request.model` or `gen_ai.response.model` (copied from
//!   OpenInference's names, or from the resource, when missing).
//! - `gen_ai.provider.name` whenever a provider is known in any dialect on
//!   the item or its resource, or the model id is a Bedrock id; normalised
//!   (`az.ai.openai` → `azure.ai.openai`, `Anthropic` → `anthropic`).
//! - `deployment.environment.name` when the item has only the deprecated
//!   `deployment.environment`.
//! - With `copy_resource_attributes: true`, the resource's `service.name`,
//!   deployment environment and tenant attribute. Without it they stay on
//!   the resource, where the span-metrics connector and every OTLP backend
//!   read them.
//!
//! User and conversation ids (`enduser.id`, `user.id`,
//! `gen_ai.conversation.id`, `session.id`) stay as the instrumentation set
//! them. An item with tokens but no price gets `gen_ai.cost.unpriced = true`
//! and no cost, plus the same attribution attributes; an upstream
//! `gen_ai.cost.total` on an item we cannot price is left alone.

mod apply;
mod config;
mod model_match;
mod prices;
mod reload;
mod usage;

use std::path::Path;
use std::sync::Arc;

use aiotel_api::{Batch, Payload, Processor};

pub use config::{TokenCostConfig, DEFAULT_RELOAD_INTERVAL};
pub use model_match::normalise as normalise_model;
pub use prices::{Cost, LongContext, MatchKind, ModelPrice, PriceMatch, PriceTable, Rates, DEFAULT_PRICES_YAML};
pub use usage::{normalise_provider, Usage};

pub struct TokenCostProcessor {
    source: Arc<reload::PriceSource>,
    tenant_attribute: String,
    openinference_compat: bool,
    copy_resource_attributes: bool,
    // Dropped with the processor, which stops the poller.
    _watcher: Option<reload::Watcher>,
}

impl TokenCostProcessor {
    /// Loads the prices (`cfg.prices` is relative to `base_dir`) and starts
    /// the file poller if one is configured.
    pub fn new(cfg: &TokenCostConfig, base_dir: &Path) -> Result<Self, String> {
        cfg.validate().map_err(|errs| errs.join("; "))?;
        let path = cfg.prices.as_ref().map(|p| base_dir.join(p));
        let source = Arc::new(reload::PriceSource::open(path, cfg.include_default_prices)?);
        let watcher = match cfg.effective_reload_interval() {
            Some(every) => Some(reload::Watcher::spawn(source.clone(), every)?),
            None => None,
        };
        Ok(TokenCostProcessor {
            source,
            tenant_attribute: cfg.tenant_attribute.clone(),
            openinference_compat: cfg.openinference_compat,
            copy_resource_attributes: cfg.copy_resource_attributes,
            _watcher: watcher,
        })
    }

    /// Re-reads the price file. A broken file returns an error naming the
    /// file and the problem, and the prices in force stay.
    pub fn reload(&self) -> Result<(), String> {
        self.source.reload()
    }

    /// A handle that reloads this processor's prices from elsewhere (a
    /// SIGHUP handler) while the pipeline owns the processor.
    pub fn reload_handle(&self) -> PriceReloader {
        PriceReloader(self.source.clone())
    }

    /// The price table in force.
    pub fn prices(&self) -> Arc<PriceTable> {
        self.source.table().clone()
    }

    /// Prices every span and log record carrying usage; metrics pass.
    pub fn apply(&self, payload: &mut Payload) {
        let table = self.source.table();
        let ctx = apply::Ctx {
            table: &table,
            tenant_key: &self.tenant_attribute,
            openinference_compat: self.openinference_compat,
            copy_resource_attributes: self.copy_resource_attributes,
            last: Default::default(),
        };
        apply::payload(&ctx, payload);
    }
}

impl Processor for TokenCostProcessor {
    fn process(&mut self, mut batch: Batch, out: &mut Vec<Batch>) {
        self.apply(&mut batch.payload);
        out.push(batch);
    }
}

/// See [`TokenCostProcessor::reload_handle`].
#[derive(Clone)]
pub struct PriceReloader(Arc<reload::PriceSource>);

impl PriceReloader {
    pub fn reload(&self) -> Result<(), String> {
        self.0.reload()
    }
}
