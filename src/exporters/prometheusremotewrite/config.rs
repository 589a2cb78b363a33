use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::super::prometheus::{check_labels, sanitised, translate::Options, ResourceToTelemetry};
use super::super::tls::ClientTls;
use super::super::{QueueSettings, RetrySettings};

/// The Collector's `prometheusremotewrite` settings. Its `wal`,
/// `export_created_metric`, `send_metadata` and `protobuf_message` (v2)
/// are not supported and are refused as unknown keys.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteWriteConfig {
    /// The remote write URL, e.g. `http://prometheus:9090/api/v1/write`; required.
    pub endpoint: String,
    pub tls: ClientTls,
    pub headers: BTreeMap<String, String>,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Remote write 1.0 is snappy-compressed by definition.
    pub compression: Snappy,
    pub namespace: String,
    /// Added to every series that lacks them.
    pub external_labels: BTreeMap<String, String>,
    pub resource_to_telemetry_conversion: ResourceToTelemetry,
    pub target_info: TargetInfo,
    pub add_metric_suffixes: bool,
    /// A batch's series are split into requests of at most this many (uncompressed) bytes.
    pub max_batch_size_bytes: usize,
    pub remote_write_queue: RemoteWriteQueue,
    pub retry_on_failure: RetrySettings,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Snappy {
    #[default]
    Snappy,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TargetInfo {
    pub enabled: bool,
}

impl Default for TargetInfo {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// The Collector's `remote_write_queue`: the bounded sending queue.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteWriteQueue {
    pub enabled: bool,
    /// Capacity in batches.
    pub queue_size: usize,
    pub num_consumers: usize,
}

impl Default for RemoteWriteQueue {
    fn default() -> Self {
        Self { enabled: true, queue_size: 10_000, num_consumers: 5 }
    }
}

impl Default for RemoteWriteConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            tls: ClientTls::default(),
            headers: BTreeMap::new(),
            timeout: Duration::from_secs(5),
            compression: Snappy::Snappy,
            namespace: String::new(),
            external_labels: BTreeMap::new(),
            resource_to_telemetry_conversion: ResourceToTelemetry::default(),
            target_info: TargetInfo::default(),
            add_metric_suffixes: true,
            max_batch_size_bytes: 3_000_000,
            remote_write_queue: RemoteWriteQueue::default(),
            retry_on_failure: RetrySettings::default(),
        }
    }
}

impl RemoteWriteConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errs = self.tls.validate();
        errs.extend(check_labels("external_labels", &self.external_labels));
        if self.endpoint.is_empty() {
            errs.push(("endpoint".into(), "missing".into()));
        } else {
            match reqwest::Url::parse(&self.endpoint) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                _ => errs.push(("endpoint".into(), format!("{:?} is not an http(s) URL", self.endpoint))),
            }
        }
        if self.max_batch_size_bytes == 0 {
            errs.push(("max_batch_size_bytes".into(), "must be greater than zero".into()));
        }
        if let Err(e) = self.queue().validate() {
            errs.push(("remote_write_queue".into(), e));
        }
        if let Err(e) = self.retry_on_failure.validate() {
            errs.push(("retry_on_failure".into(), e));
        }
        errs
    }

    pub fn queue(&self) -> QueueSettings {
        let q = &self.remote_write_queue;
        QueueSettings {
            enabled: q.enabled,
            queue_size: q.queue_size,
            num_consumers: q.num_consumers,
            ..Default::default()
        }
    }

    pub fn options(&self) -> Options {
        Options {
            namespace: self.namespace.clone(),
            add_metric_suffixes: self.add_metric_suffixes,
            resource_to_telemetry: self.resource_to_telemetry_conversion.enabled,
            scope_labels: true,
            target_info: self.target_info.enabled,
            extra_labels: sanitised(&self.external_labels),
        }
    }
}
