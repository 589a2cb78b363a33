use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::translate::{naming, Labels, Options};
use crate::net::ServerTls;

/// `resource_to_telemetry_conversion`, shared with the remote-write exporter.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceToTelemetry {
    pub enabled: bool,
}

/// The Collector's `prometheus` exporter settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusConfig {
    /// `host:port` to serve `/metrics` on; required.
    pub endpoint: String,
    /// Serve over HTTPS (optionally requiring client certificates).
    pub tls: Option<ServerTls>,
    pub namespace: String,
    pub const_labels: BTreeMap<String, String>,
    /// Adds each sample's own timestamp.
    pub send_timestamps: bool,
    /// A series not updated for this long is no longer served.
    #[serde(with = "humantime_serde")]
    pub metric_expiration: Duration,
    pub resource_to_telemetry_conversion: ResourceToTelemetry,
    /// Serve OpenMetrics to scrapers that ask for it.
    pub enable_open_metrics: bool,
    pub add_metric_suffixes: bool,
    /// Leave out `otel_scope_name` and `otel_scope_version`.
    pub without_scope_info: bool,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            tls: None,
            namespace: String::new(),
            const_labels: BTreeMap::new(),
            send_timestamps: false,
            metric_expiration: Duration::from_secs(300),
            resource_to_telemetry_conversion: ResourceToTelemetry::default(),
            enable_open_metrics: false,
            add_metric_suffixes: true,
            without_scope_info: false,
        }
    }
}

/// Checks user-given label names: they are sanitised like attribute keys
/// (`another label` becomes `another_label`), so only ones with nothing valid are refused.
pub fn check_labels(key: &str, labels: &BTreeMap<String, String>) -> Vec<(String, String)> {
    labels
        .keys()
        .filter(|k| naming::label_name(k).is_none())
        .map(|k| (format!("{key}::{k}"), "has no valid Prometheus label name form".into()))
        .collect()
}

/// User-given labels, sanitised.
pub fn sanitised(labels: &BTreeMap<String, String>) -> Labels {
    labels.iter().filter_map(|(k, v)| Some((naming::label_name(k)?, v.clone()))).collect()
}

impl PrometheusConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errs = check_labels("const_labels", &self.const_labels);
        if let Some(t) = &self.tls {
            errs.extend(t.validate());
        }
        if self.endpoint.is_empty() {
            errs.push(("endpoint".into(), "missing".into()));
        } else if !self.endpoint.contains(':') {
            errs.push(("endpoint".into(), format!("{:?} is not host:port", self.endpoint)));
        }
        if self.metric_expiration.is_zero() {
            errs.push(("metric_expiration".into(), "must be greater than zero".into()));
        }
        errs
    }

    pub fn options(&self) -> Options {
        Options {
            namespace: self.namespace.clone(),
            add_metric_suffixes: self.add_metric_suffixes,
            resource_to_telemetry: self.resource_to_telemetry_conversion.enabled,
            scope_labels: !self.without_scope_info,
            target_info: true,
            extra_labels: sanitised(&self.const_labels),
        }
    }
}
