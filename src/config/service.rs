//! The `service` block: pipelines, extensions and self-telemetry settings.

use std::time::Duration;

use aiotel_api::Signal;
use serde::Deserialize;

use crate::components::ComponentId;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipelineId {
    pub signal: Signal,
    pub name: Option<String>,
}

impl std::fmt::Display for PipelineId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.signal, n),
            None => write!(f, "{}", self.signal),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RawPipeline {
    pub receivers: Vec<String>,
    pub processors: Vec<String>,
    pub exporters: Vec<String>,
    pub acknowledgements: Acknowledgements,
}

/// When a receiver may answer its client for data of this pipeline.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Acknowledgements {
    /// Once every exporter's sending queue has taken the data, in memory or
    /// on disk (the Collector's behaviour): fast, but an in-memory queue's
    /// content is lost in a crash.
    #[default]
    Accepted,
    /// Only once every exporter has delivered the data or written it to a
    /// persistent queue; buffering processors hold the answer until they
    /// release the data. The worst outcome of a fan-out wins.
    Durable,
}

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub receivers: Vec<ComponentId>,
    pub processors: Vec<ComponentId>,
    pub exporters: Vec<ComponentId>,
    pub acknowledgements: Acknowledgements,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    pub logs: LogsConfig,
    pub metrics: MetricsConfig,
    /// Attributes describing this aiotel instance; accepted for Collector compatibility.
    pub resource: std::collections::BTreeMap<String, serde_yaml_ng::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    pub level: String,
    /// `console` (text) or `json`.
    pub encoding: String,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self { level: "info".into(), encoding: "console".into() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `none` turns self-metrics off; `basic`, `normal` and `detailed` all serve them.
    pub level: String,
    pub address: Option<String>,
    /// The Collector's newer form: `readers: [{pull: {exporter: {prometheus: {host, port}}}}]`.
    pub readers: Vec<Reader>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { level: "normal".into(), address: None, readers: Vec::new() }
    }
}

impl MetricsConfig {
    pub fn listen_address(&self) -> Option<String> {
        if self.level == "none" {
            return None;
        }
        if let Some(r) = self.readers.first() {
            let p = &r.pull.exporter.prometheus;
            return Some(format!("{}:{}", p.host, p.port));
        }
        Some(self.address.clone().unwrap_or_else(|| "localhost:8888".into()))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reader {
    pub pull: PullReader,
}
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullReader {
    pub exporter: PullExporter,
}
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullExporter {
    pub prometheus: PromEndpoint,
}
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromEndpoint {
    #[serde(default = "localhost")]
    pub host: String,
    pub port: u16,
}
fn localhost() -> String {
    "localhost".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawService {
    pub extensions: Vec<String>,
    pub pipelines: serde_yaml_ng::Mapping,
    pub telemetry: TelemetryConfig,
    /// How long shutdown may take to drain pipelines and flush exporters.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// Capacity, in requests, of each pipeline's input queue.
    pub pipeline_queue_size: usize,
}

impl Default for RawService {
    fn default() -> Self {
        Self {
            extensions: Vec::new(),
            pipelines: Default::default(),
            telemetry: TelemetryConfig::default(),
            shutdown_timeout: Duration::from_secs(30),
            pipeline_queue_size: 128,
        }
    }
}
