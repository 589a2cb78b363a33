//! Loading, merging and validating configs in the Collector's shape.
//!
//! Every problem is collected and reported at once, each with its path and,
//! where the path exists in a file, its line.

mod env;
mod error;
mod merge;
mod service;
mod storage_refs;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aiotel_api::Signal;

use crate::components::{
    parse_block, ComponentId, ConnectorConfig, ExporterConfig, ExtensionConfig, Kind, Parsed, ProcessorConfig,
    ReceiverConfig, Registry,
};
pub use error::{ConfigErrors, ConfigIssue};
pub use service::{Acknowledgements, PipelineConfig, PipelineId, TelemetryConfig};
use service::{RawPipeline, RawService};
use yaml::{LineIndex, Value};

/// The config aiotel runs when none is given.
pub const DEFAULT_CONFIG: &str = include_str!("default.yaml");

pub struct Config {
    pub receivers: BTreeMap<ComponentId, Arc<dyn ReceiverConfig>>,
    pub processors: BTreeMap<ComponentId, Arc<dyn ProcessorConfig>>,
    pub exporters: BTreeMap<ComponentId, Arc<dyn ExporterConfig>>,
    pub connectors: BTreeMap<ComponentId, Arc<dyn ConnectorConfig>>,
    pub extensions: BTreeMap<ComponentId, Arc<dyn ExtensionConfig>>,
    pub service_extensions: Vec<ComponentId>,
    pub pipelines: BTreeMap<PipelineId, PipelineConfig>,
    pub telemetry: TelemetryConfig,
    pub shutdown_timeout: Duration,
    pub pipeline_queue_size: usize,
}

/// A config source: a file's text and where it came from.
pub struct Source {
    pub name: String,
    pub text: String,
    pub base_dir: PathBuf,
}

impl Source {
    pub fn file(path: &Path) -> Result<Source, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigIssue {
                path: String::new(),
                message: format!("cannot read config file {}: {e}", path.display()),
                location: None,
            }])
        })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Source { name: path.display().to_string(), text, base_dir })
    }

    pub fn embedded_default() -> Source {
        Source { name: "<default config>".into(), text: DEFAULT_CONFIG.into(), base_dir: PathBuf::from(".") }
    }
}

impl Config {
    pub fn load(sources: &[Source], registry: &Registry) -> Result<Config, ConfigErrors> {
        Self::load_with_env(sources, registry, &|k| std::env::var(k).ok())
    }

    pub fn load_with_env(
        sources: &[Source],
        registry: &Registry,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigErrors> {
        let mut merged = Value::Mapping(Default::default());
        let mut indexes = Vec::new();
        let mut issues = Vec::new();
        for src in sources {
            match yaml::parse(&src.text) {
                Ok((v, idx)) => {
                    merge::merge(&mut merged, v);
                    indexes.push((src.name.clone(), idx));
                }
                Err(e) => issues.push(ConfigIssue {
                    path: String::new(),
                    message: format!("{}: invalid YAML: {e}", src.name),
                    location: None,
                }),
            }
        }
        if !issues.is_empty() {
            return Err(ConfigErrors(issues));
        }
        let mut env_errors = Vec::new();
        env::expand(&mut merged, "", env, &mut env_errors);
        let base_dir = sources.last().map(|s| s.base_dir.clone()).unwrap_or_default();
        let mut v = Validator { registry, issues: Vec::new(), base_dir, declared: BTreeSet::new() };
        for (path, msg) in env_errors {
            v.issue(path, msg);
        }
        let cfg = v.config(merged);
        let mut issues = v.issues;
        if issues.is_empty() {
            return Ok(cfg.expect("a config without issues is complete"));
        }
        for issue in &mut issues {
            issue.location = locate(&indexes, &issue.path);
        }
        Err(ConfigErrors(issues))
    }
}

fn locate(indexes: &[(String, LineIndex)], path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    indexes.iter().rev().find_map(|(name, idx)| idx.line_of(path).map(|l| format!("{name}:{l}")))
}

struct Validator<'a> {
    registry: &'a Registry,
    issues: Vec<ConfigIssue>,
    base_dir: PathBuf,
    /// Every component id present in a section, even one whose settings failed,
    /// so a bad block is not also reported as "not configured".
    declared: BTreeSet<(&'static str, ComponentId)>,
}

const SECTIONS: [&str; 6] = ["receivers", "processors", "exporters", "connectors", "extensions", "service"];

impl Validator<'_> {
    fn issue(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.issues.push(ConfigIssue { path: path.into(), message: message.into(), location: None });
    }

    fn config(&mut self, root: Value) -> Option<Config> {
        let Value::Mapping(mut root) = root else {
            self.issue("", "the config must be a mapping");
            return None;
        };
        for (k, _) in root.iter() {
            let key = k.as_str().unwrap_or_default();
            if !SECTIONS.contains(&key) {
                self.issue(key, format!("unknown section; expected one of {}", SECTIONS.join(", ")));
            }
        }
        let storage_refs = storage_refs::storage_refs(root.get("exporters"));
        let mut parsed: BTreeMap<&str, BTreeMap<ComponentId, Parsed>> = BTreeMap::new();
        for kind in [Kind::Receiver, Kind::Processor, Kind::Exporter, Kind::Connector, Kind::Extension] {
            let section = root.remove(kind.section()).unwrap_or(Value::Null);
            parsed.insert(kind.section(), self.section(kind, section));
        }
        let service_raw = root.remove("service").unwrap_or(Value::Null);
        let service: RawService = match parse_block(service_raw) {
            Ok(s) => s,
            Err(errs) => {
                for (p, m) in errs {
                    self.issue(join("service", &p), m);
                }
                RawService::default()
            }
        };
        let mut take = |s: &str| parsed.remove(s).unwrap_or_default();
        let (receivers, processors, exporters, connectors, extensions) =
            (take("receivers"), take("processors"), take("exporters"), take("connectors"), take("extensions"));
        let pipelines = self.pipelines(&service, &receivers, &processors, &exporters, &connectors);
        let mut service_extensions = Vec::new();
        for (i, e) in service.extensions.iter().enumerate() {
            let path = format!("service::extensions::{i}");
            match ComponentId::parse(e) {
                Ok(id) if extensions.contains_key(&id) => service_extensions.push(id),
                Ok(id) if self.declared.contains(&("extensions", id.clone())) => {}
                Ok(_) => self.issue(path, format!("references extension {e:?} which is not configured")),
                Err(m) => self.issue(path, m),
            }
        }
        for (path, name) in storage_refs {
            if !ComponentId::parse(&name).is_ok_and(|id| service_extensions.contains(&id)) {
                self.issue(path, format!("storage extension {name:?} is not configured or not in service::extensions"));
            }
        }
        if !matches!(service.telemetry.logs.encoding.as_str(), "console" | "json") {
            self.issue("service::telemetry::logs::encoding", "must be console or json");
        }
        if tracing_subscriber::EnvFilter::try_new(&service.telemetry.logs.level).is_err() {
            self.issue("service::telemetry::logs::level", "must be one of debug, info, warn, error");
        }
        if !matches!(service.telemetry.metrics.level.as_str(), "none" | "basic" | "normal" | "detailed") {
            self.issue("service::telemetry::metrics::level", "must be none, basic, normal or detailed");
        }
        if service.pipeline_queue_size == 0 {
            self.issue("service::pipeline_queue_size", "must be greater than zero");
        }
        macro_rules! pick {
            ($map:expr, $variant:ident) => {
                $map.into_iter()
                    .filter_map(|(id, p)| if let Parsed::$variant(c) = p { Some((id, c)) } else { None })
                    .collect()
            };
        }
        Some(Config {
            receivers: pick!(receivers, Receiver),
            processors: pick!(processors, Processor),
            exporters: pick!(exporters, Exporter),
            connectors: pick!(connectors, Connector),
            extensions: pick!(extensions, Extension),
            service_extensions,
            pipelines,
            telemetry: service.telemetry,
            shutdown_timeout: service.shutdown_timeout,
            pipeline_queue_size: service.pipeline_queue_size,
        })
    }

    fn section(&mut self, kind: Kind, raw: Value) -> BTreeMap<ComponentId, Parsed> {
        let mut out = BTreeMap::new();
        let map = match raw {
            Value::Null => return out,
            Value::Mapping(m) => m,
            _ => {
                self.issue(kind.section(), "must be a mapping of component ids to their settings");
                return out;
            }
        };
        for (k, block) in map {
            let key = k.as_str().unwrap_or_default().to_string();
            let path = join(kind.section(), &key);
            let id = match ComponentId::parse(&key) {
                Ok(id) => id,
                Err(m) => {
                    self.issue(path, m);
                    continue;
                }
            };
            self.declared.insert((kind.section(), id.clone()));
            let Some(factory) = self.registry.get(kind, &id.ty) else {
                let known = self.registry.types(kind).join(", ");
                self.issue(path, format!("unknown {} type {:?}; known types: {known}", kind.noun(), id.ty));
                continue;
            };
            match (factory.parse)(block, &self.base_dir) {
                Ok(p) => {
                    out.insert(id, p);
                }
                Err(errs) => {
                    for (p, m) in errs {
                        self.issue(join(&path, &p), m);
                    }
                }
            }
        }
        out
    }

    fn pipelines(
        &mut self,
        service: &RawService,
        receivers: &BTreeMap<ComponentId, Parsed>,
        processors: &BTreeMap<ComponentId, Parsed>,
        exporters: &BTreeMap<ComponentId, Parsed>,
        connectors: &BTreeMap<ComponentId, Parsed>,
    ) -> BTreeMap<PipelineId, PipelineConfig> {
        let mut out = BTreeMap::new();
        if service.pipelines.is_empty() {
            self.issue("service::pipelines", "at least one pipeline must be configured");
        }
        // Connector use: (id) -> signals it is exported to / received from.
        let mut connector_in: BTreeMap<ComponentId, BTreeSet<Signal>> = BTreeMap::new();
        let mut connector_out: BTreeMap<ComponentId, BTreeSet<Signal>> = BTreeMap::new();
        for (k, raw) in service.pipelines.iter() {
            let key = k.as_str().unwrap_or_default().to_string();
            let path = format!("service::pipelines::{key}");
            let (sig, name) = match key.split_once('/') {
                Some((s, n)) => (s, Some(n.to_string())),
                None => (key.as_str(), None),
            };
            let Some(signal) = Signal::parse(sig) else {
                self.issue(path, format!("unknown signal {sig:?}; expected traces, metrics or logs"));
                continue;
            };
            let raw: RawPipeline = match parse_block(raw.clone()) {
                Ok(r) => r,
                Err(errs) => {
                    for (p, m) in errs {
                        self.issue(join(&path, &p), m);
                    }
                    continue;
                }
            };
            let mut resolve = |list: &[String], what: &str, kind: Kind, v: &mut Self| -> Vec<ComponentId> {
                let mut ids = Vec::new();
                if list.is_empty() && kind != Kind::Processor {
                    v.issue(join(&path, what), format!("must have at least one {}", kind.noun()));
                }
                for (i, s) in list.iter().enumerate() {
                    let item = format!("{path}::{what}::{i}");
                    let id = match ComponentId::parse(s) {
                        Ok(id) => id,
                        Err(m) => {
                            v.issue(item, m);
                            continue;
                        }
                    };
                    let is_connector = kind != Kind::Processor && connectors.contains_key(&id);
                    let (map, noun) = match kind {
                        Kind::Receiver => (receivers, "receiver"),
                        Kind::Processor => (processors, "processor"),
                        _ => (exporters, "exporter"),
                    };
                    if is_connector {
                        let set = if kind == Kind::Receiver { &mut connector_out } else { &mut connector_in };
                        set.entry(id.clone()).or_default().insert(signal);
                    } else if !map.contains_key(&id) {
                        let section = if kind == Kind::Exporter { "exporters" } else { kind.section() };
                        let declared = v.declared.contains(&(section, id.clone()))
                            || (kind == Kind::Exporter || kind == Kind::Receiver)
                                && v.declared.contains(&("connectors", id.clone()));
                        if !declared {
                            v.issue(&*path, format!("references {noun} {s:?} which is not configured"));
                        }
                        continue;
                    } else if let Some(f) = v.registry.get(kind, &id.ty) {
                        if !f.signals.contains(&signal) {
                            v.issue(item.clone(), format!("{noun} {s:?} does not support {signal}"));
                        }
                    }
                    if ids.contains(&id) {
                        v.issue(item, format!("{noun} {s:?} is listed more than once"));
                        continue;
                    }
                    ids.push(id);
                }
                ids
            };
            let receivers = resolve(&raw.receivers, "receivers", Kind::Receiver, self);
            let processors = resolve(&raw.processors, "processors", Kind::Processor, self);
            let exporters = resolve(&raw.exporters, "exporters", Kind::Exporter, self);
            let acknowledgements = raw.acknowledgements;
            out.insert(
                PipelineId { signal, name },
                PipelineConfig { receivers, processors, exporters, acknowledgements },
            );
        }
        for (id, parsed) in connectors {
            let Parsed::Connector(c) = parsed else { continue };
            let ins = connector_in.get(id);
            let outs = connector_out.get(id);
            let path = format!("connectors::{id}");
            match (ins, outs) {
                (Some(ins), Some(outs)) => {
                    let ok = ins.iter().any(|f| outs.iter().any(|t| c.supports(*f, *t)));
                    if !ok {
                        self.issue(path, "no pipeline pair it connects has signals it supports");
                    }
                }
                _ => self.issue(
                    path,
                    "a connector must be used as an exporter in one pipeline and as a receiver in another",
                ),
            }
        }
        out
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}::{b}"),
    }
}
