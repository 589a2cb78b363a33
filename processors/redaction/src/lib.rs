//! The `redaction` processor.
//!
//! Compatible with the Collector's `redaction` processor (same keys, same
//! meaning, same `redaction.*` summary attributes), plus built-in detectors
//! for personal data and secrets, custom dictionaries and patterns, and
//! per-detector actions. Values that look like JSON keep their structure.

mod collector_compat;
mod config;
mod detectors;
mod hash;
mod json;
mod log_body;
mod scan;
mod url;
mod walk;

use std::borrow::Cow;
use std::path::Path;

use aiotel_api::{Batch, Payload, Processor};

pub use collector_compat::{
    ALLOWED_COUNT, ALLOWED_KEYS, BODY_ALLOWED_COUNT, BODY_ALLOWED_KEYS, BODY_IGNORED_COUNT, BODY_MASKED_COUNT,
    BODY_MASKED_KEYS, BODY_REDACTED_COUNT, BODY_REDACTED_KEYS, IGNORED_COUNT, MASKED_COUNT, MASKED_KEYS,
    REDACTED_COUNT, REDACTED_KEYS,
};
pub use config::{
    Action, DetectorConfig, DictionaryConfig, PatternConfig, RedactionConfig, Secret, UrlSanitizerConfig,
};
pub use detectors::Builtin;
pub use hash::HashFunction;
pub use scan::TOO_LARGE;

pub struct RedactionProcessor {
    engine: walk::Engine,
}

impl RedactionProcessor {
    /// Compiles every rule once. Dictionary files are read relative to `base_dir`.
    pub fn new(cfg: &RedactionConfig, base_dir: &Path) -> Result<Self, String> {
        cfg.validate().map_err(|errs| errs.join("; "))?;
        let mut dictionaries = Vec::with_capacity(cfg.dictionaries.len());
        for (i, d) in cfg.dictionaries.iter().enumerate() {
            let mut words = d.words.clone();
            if let Some(f) = &d.file {
                let path = base_dir.join(f);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("dictionaries::{i}::file: cannot read {}: {e}", path.display()))?;
                words.extend(text.lines().map(str::trim).filter(|w| !w.is_empty()).map(str::to_string));
            }
            dictionaries.push(words);
        }
        Ok(RedactionProcessor { engine: walk::Engine::new(cfg, &dictionaries)? })
    }

    /// Applies every rule to every attribute, log body and nested value.
    pub fn redact(&self, payload: &mut Payload) {
        self.engine.payload(payload);
    }

    /// The value rules applied to one string: `blocked_values`, the size
    /// limit and the detectors (JSON text keeps its structure). A match
    /// whose action is `drop` yields an empty string here. Borrows `s`
    /// when nothing matched.
    pub fn redact_str<'a>(&self, s: &'a str) -> Cow<'a, str> {
        match self.engine.pipeline(s, false) {
            scan::Redacted::Unchanged => Cow::Borrowed(s),
            scan::Redacted::Changed(c) => c,
            scan::Redacted::Drop => Cow::Borrowed(""),
        }
    }
}

impl Processor for RedactionProcessor {
    fn process(&mut self, mut batch: Batch, out: &mut Vec<Batch>) {
        self.redact(&mut batch.payload);
        out.push(batch);
    }
}
