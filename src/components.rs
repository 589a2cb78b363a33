//! The component model: IDs, kinds, stability and one small factory per type.
//!
//! Each factory parses its own config block and builds its component. The
//! registry maps type names to factories, so nothing matches on strings
//! outside it.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use aiotel_api::{Processor, ProcessorContext, Signal};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;

use crate::config::yaml::Value;
use crate::exporters::ExporterHandle;
use crate::pipeline::Consumers;
use crate::service::ServiceCtx;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId {
    pub ty: String,
    pub name: Option<String>,
}

impl ComponentId {
    /// Parses `type[/name]`.
    pub fn parse(s: &str) -> Result<ComponentId, String> {
        let (ty, name) = match s.split_once('/') {
            Some((t, n)) => (t, Some(n)),
            None => (s, None),
        };
        let ok_ty = !ty.is_empty() && ty.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok_ty {
            return Err(format!("invalid component id {s:?}: the type must be letters, digits or '_'"));
        }
        if let Some(n) = name {
            if n.is_empty() || n.chars().any(|c| c.is_whitespace() || c == '/') {
                return Err(format!(
                    "invalid component id {s:?}: the name after '/' must be non-empty, without spaces or '/'"
                ));
            }
        }
        Ok(ComponentId { ty: ty.to_string(), name: name.map(str::to_string) })
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.ty, n),
            None => f.write_str(&self.ty),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Receiver,
    Processor,
    Exporter,
    Connector,
    Extension,
}

impl Kind {
    pub fn section(self) -> &'static str {
        match self {
            Kind::Receiver => "receivers",
            Kind::Processor => "processors",
            Kind::Exporter => "exporters",
            Kind::Connector => "connectors",
            Kind::Extension => "extensions",
        }
    }
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Receiver => "receiver",
            Kind::Processor => "processor",
            Kind::Exporter => "exporter",
            Kind::Connector => "connector",
            Kind::Extension => "extension",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stability {
    Development,
    Alpha,
    Beta,
    Stable,
}

impl fmt::Display for Stability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stability::Development => "development",
            Stability::Alpha => "alpha",
            Stability::Beta => "beta",
            Stability::Stable => "stable",
        })
    }
}

/// A problem inside one component's config: a path relative to the block, and what is wrong.
pub type Issue = (String, String);

/// Deserializes a config block with defaults and unknown-key checks, reporting the path of the error.
pub fn parse_block<C: DeserializeOwned + Default>(raw: Value) -> Result<C, Vec<Issue>> {
    if raw.is_null() {
        return Ok(C::default());
    }
    serde_path_to_error::deserialize::<_, C>(raw).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path.replace('.', "::") };
        let msg = e.into_inner().to_string();
        // serde_yaml_ng appends its own position, which means nothing for a value tree.
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        // Point at the missing key itself: `endpoint: missing`.
        if let Some(field) = msg.strip_prefix("missing field `").and_then(|r| r.strip_suffix('`')) {
            let path = if path.is_empty() { field.to_string() } else { format!("{path}::{field}") };
            return vec![(path, "missing".to_string())];
        }
        vec![(path, msg)]
    })
}

/// Turns a processor crate's `"path: message"` validation errors into issues.
pub fn split_issues(errs: Vec<String>) -> Vec<Issue> {
    errs.into_iter()
        .map(|e| match e.split_once(": ") {
            Some((p, m)) if !p.contains(' ') => (p.to_string(), m.to_string()),
            _ => (String::new(), e),
        })
        .collect()
}

/// A running receiver or extension: shut down by the service, upstream first.
pub trait Running: Send {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()>;
}

pub trait ReceiverConfig: Send + Sync {
    fn start(
        &self,
        id: &ComponentId,
        ctx: &ServiceCtx,
        consumers: Consumers,
    ) -> BoxFuture<'static, Result<Box<dyn Running>, String>>;
}

pub trait ProcessorConfig: Send + Sync {
    fn build(&self, ctx: &ProcessorContext, svc: &ServiceCtx) -> Result<Box<dyn Processor>, String>;
}

pub trait ExporterConfig: Send + Sync {
    fn build(&self, id: &ComponentId, signal: Signal, ctx: &ServiceCtx) -> Result<ExporterHandle, String>;
}

pub trait ConnectorConfig: Send + Sync {
    /// Whether data of signal `from` entering the connector comes out as signal `to`.
    fn supports(&self, from: Signal, to: Signal) -> bool;

    /// The transformation between the two pipelines, run in a task of its
    /// own; `None` hands data straight to the receiving pipelines.
    fn build(&self, _from: Signal, _to: Signal, _ctx: &ServiceCtx) -> Result<Option<Box<dyn Processor>>, String> {
        Ok(None)
    }
}

pub trait ExtensionConfig: Send + Sync {
    fn start(&self, id: &ComponentId, ctx: &ServiceCtx) -> BoxFuture<'static, Result<Box<dyn Running>, String>>;
}

pub enum Parsed {
    Receiver(Arc<dyn ReceiverConfig>),
    Processor(Arc<dyn ProcessorConfig>),
    Exporter(Arc<dyn ExporterConfig>),
    Connector(Arc<dyn ConnectorConfig>),
    Extension(Arc<dyn ExtensionConfig>),
}

pub struct Factory {
    pub kind: Kind,
    pub ty: &'static str,
    pub stability: Stability,
    /// Signals a receiver, processor or exporter handles; connectors list the signals they forward.
    pub signals: &'static [Signal],
    /// Parses the block; `base_dir` resolves relative file paths in it.
    pub parse: fn(Value, &Path) -> Result<Parsed, Vec<Issue>>,
}

pub struct Registry {
    factories: Vec<Factory>,
}

impl Registry {
    pub fn builtin() -> Registry {
        let mut factories = Vec::new();
        factories.extend(crate::receivers::factories());
        factories.extend(crate::processors::factories());
        factories.extend(crate::exporters::factories());
        factories.extend(crate::connectors::factories());
        factories.extend(crate::extensions::factories());
        Registry { factories }
    }

    pub fn get(&self, kind: Kind, ty: &str) -> Option<&Factory> {
        self.factories.iter().find(|f| f.kind == kind && f.ty == ty)
    }

    pub fn types(&self, kind: Kind) -> Vec<&'static str> {
        self.factories.iter().filter(|f| f.kind == kind).map(|f| f.ty).collect()
    }

    pub fn all(&self) -> &[Factory] {
        &self.factories
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids() {
        assert_eq!(ComponentId::parse("otlp/backend").unwrap().to_string(), "otlp/backend");
        assert_eq!(ComponentId::parse("otlp").unwrap().name, None);
        assert!(ComponentId::parse("otlp/").is_err());
        assert!(ComponentId::parse("ot lp").is_err());
    }
}
