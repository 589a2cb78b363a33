//! Building OTLP metrics from scraped points: one resource per job and
//! instance, one metric per name, and the attribute and exemplar conversions.

use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, AggregationTemporality, Exemplar as OtlpExemplar, Gauge, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::parser::{Exemplar, Labels};
use super::target::Target;

/// The instrumentation scope of the prometheus receiver's metrics.
pub const SCOPE_NAME: &str = "aiotel/receiver/prometheus";

pub fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.to_string(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

pub fn str_kv(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_string()))
}

pub(super) fn attributes(labels: &Labels) -> Vec<KeyValue> {
    labels.iter().map(|(k, v)| str_kv(k, v)).collect()
}

pub fn scope(name: &str) -> InstrumentationScope {
    InstrumentationScope { name: name.into(), version: env!("CARGO_PKG_VERSION").into(), ..Default::default() }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Gauge,
    Sum,
    Histogram,
    Summary,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ResourceKey {
    pub(super) job: String,
    pub(super) instance: String,
}

pub(super) struct ResourceOut {
    pub(super) key: ResourceKey,
    /// Attributes from `target_info`.
    pub(super) extra: Vec<KeyValue>,
    pub(super) metrics: Vec<Metric>,
    /// Metric name → position in `metrics`.
    pub(super) index: HashMap<String, usize>,
}

/// Metrics of one scrape, grouped by resource.
#[derive(Default)]
pub(super) struct Out {
    pub(super) resources: Vec<ResourceOut>,
    pub(super) dropped: usize,
}

pub(super) enum Point {
    Number(NumberDataPoint),
    Histogram(HistogramDataPoint),
    Summary(SummaryDataPoint),
}

impl Out {
    pub(super) fn resource(&mut self, key: &ResourceKey) -> usize {
        match self.resources.iter().position(|r| &r.key == key) {
            Some(i) => i,
            None => {
                self.resources.push(ResourceOut {
                    key: key.clone(),
                    extra: Vec::new(),
                    metrics: Vec::new(),
                    index: HashMap::new(),
                });
                self.resources.len() - 1
            }
        }
    }

    pub(super) fn push(
        &mut self,
        key: &ResourceKey,
        name: &str,
        kind: Kind,
        description: &str,
        unit: &str,
        point: Point,
    ) {
        let r = self.resource(key);
        let ResourceOut { metrics, index, .. } = &mut self.resources[r];
        // Most points join a metric already started: look up before allocating a key.
        let existing = index.get(name).copied();
        let i = existing.unwrap_or_else(|| {
            let cumulative = AggregationTemporality::Cumulative as i32;
            let data = match kind {
                Kind::Gauge => metric::Data::Gauge(Gauge::default()),
                Kind::Sum => metric::Data::Sum(Sum {
                    data_points: Vec::new(),
                    aggregation_temporality: cumulative,
                    is_monotonic: true,
                }),
                Kind::Histogram => {
                    metric::Data::Histogram(Histogram { data_points: Vec::new(), aggregation_temporality: cumulative })
                }
                Kind::Summary => metric::Data::Summary(Summary::default()),
            };
            metrics.push(Metric {
                name: name.to_string(),
                description: description.to_string(),
                unit: unit.to_string(),
                data: Some(data),
                ..Default::default()
            });
            index.insert(name.to_string(), metrics.len() - 1);
            metrics.len() - 1
        });
        match (metrics[i].data.as_mut(), point) {
            (Some(metric::Data::Gauge(g)), Point::Number(p)) => g.data_points.push(p),
            (Some(metric::Data::Sum(s)), Point::Number(p)) => s.data_points.push(p),
            (Some(metric::Data::Histogram(h)), Point::Histogram(p)) => h.data_points.push(p),
            (Some(metric::Data::Summary(s)), Point::Summary(p)) => s.data_points.push(p),
            _ => {
                self.dropped += 1;
                tracing::debug!(metric = name, "a metric name is used with two types in one scrape; point dropped");
            }
        }
    }

    pub(super) fn finish(self, target: &Target) -> Vec<ResourceMetrics> {
        self.resources
            .into_iter()
            .filter(|r| !r.metrics.is_empty())
            .map(|ResourceOut { key, extra, metrics, .. }| ResourceMetrics {
                resource: Some(Resource { attributes: resource_attributes(&key, target, extra), ..Default::default() }),
                scope_metrics: vec![ScopeMetrics { scope: Some(scope(SCOPE_NAME)), metrics, ..Default::default() }],
                ..Default::default()
            })
            .collect()
    }
}

pub(super) fn resource_attributes(key: &ResourceKey, target: &Target, extra: Vec<KeyValue>) -> Vec<KeyValue> {
    let mut attrs = vec![str_kv("service.name", &key.job), str_kv("service.instance.id", &key.instance)];
    if let Some((host, port)) = key.instance.rsplit_once(':') {
        attrs.push(str_kv("server.address", host.trim_start_matches('[').trim_end_matches(']')));
        attrs.push(str_kv("server.port", port));
    } else {
        attrs.push(str_kv("server.address", &key.instance));
    }
    attrs.push(str_kv("url.scheme", &target.scheme));
    for a in extra {
        if !attrs.iter().any(|b| b.key == a.key) {
            attrs.push(a);
        }
    }
    attrs
}

/// Milliseconds from the page to nanoseconds; absurd timestamps saturate instead of overflowing.
pub(super) fn ns(ms: i64) -> u64 {
    (ms.max(0) as u64).saturating_mul(1_000_000)
}

pub(super) fn secs_to_ns(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        (s * 1e9) as u64
    } else {
        0
    }
}

pub(super) fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

pub(super) fn exemplar(e: &Exemplar, default_ns: u64) -> OtlpExemplar {
    let mut out = OtlpExemplar {
        time_unix_nano: e.timestamp.map(secs_to_ns).unwrap_or(default_ns),
        value: Some(exemplar::Value::AsDouble(e.value)),
        ..Default::default()
    };
    for (k, v) in &e.labels {
        match (k.as_str(), hex(v)) {
            ("trace_id", Some(b)) if b.len() == 16 => out.trace_id = b,
            ("span_id", Some(b)) if b.len() == 8 => out.span_id = b,
            _ => out.filtered_attributes.push(str_kv(k, v)),
        }
    }
    out
}
