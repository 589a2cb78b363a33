//! OTLP metrics → Prometheus families and labelled points, shared by the
//! `prometheus` (pull) and `prometheusremotewrite` exporters.
//!
//! Labels follow the Collector: point attributes, then the scope
//! (`otel_scope_name`, `otel_scope_version`), then `job` from
//! `service.namespace/service.name` and `instance` from
//! `service.instance.id`. Other resource attributes go to `target_info`, or
//! onto every series with `resource_to_telemetry_conversion`.

pub mod naming;

use aiotel_api::otlp::common::v1::{any_value, AnyValue, KeyValue};
use aiotel_api::otlp::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, DataPointFlags, Metric, ResourceMetrics,
};

pub use naming::NameKind;

/// Sorted by name, no duplicates, no empty values.
pub type Labels = Vec<(String, String)>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    pub namespace: String,
    pub add_metric_suffixes: bool,
    pub resource_to_telemetry: bool,
    /// Adds `otel_scope_name` and `otel_scope_version`.
    pub scope_labels: bool,
    pub target_info: bool,
    /// `const_labels` / `external_labels`: added where a series lacks them.
    pub extra_labels: Labels,
}

/// The Prometheus type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyType {
    Counter,
    Gauge,
    Histogram,
    Summary,
}

impl FamilyType {
    pub fn as_str(self) -> &'static str {
        match self {
            FamilyType::Counter => "counter",
            FamilyType::Gauge => "gauge",
            FamilyType::Histogram => "histogram",
            FamilyType::Summary => "summary",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub name: String,
    pub help: String,
    pub ty: FamilyType,
    /// The OpenMetrics unit word (`seconds`), empty for none.
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistogramValue {
    pub count: u64,
    pub sum: f64,
    /// Upper bounds, without `+Inf`.
    pub bounds: Vec<f64>,
    /// Per bucket (not cumulative), one more than `bounds`.
    pub counts: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Histogram(HistogramValue),
    Summary { count: u64, sum: f64, quantiles: Vec<(f64, f64)> },
}

/// A sampled measurement linking a series to a trace, served in OpenMetrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// `trace_id` and `span_id` in hex, when the measurement had them.
    pub labels: Labels,
    pub value: f64,
    pub time_ns: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub labels: Labels,
    pub value: Value,
    pub time_ns: u64,
    pub start_ns: u64,
    /// A delta sum or histogram: to be added to what the series holds.
    pub delta: bool,
    /// The OTLP no-recorded-value flag: the series has gone stale.
    pub stale: bool,
    /// Kept for counters and histograms only, as the Collector does.
    pub exemplars: Vec<Exemplar>,
}

/// One OTLP metric's points under its Prometheus name.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub meta: Meta,
    pub points: Vec<Point>,
}

/// What could not be translated, counted in points, with the first reason.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Dropped {
    pub points: u64,
    pub reason: String,
}

impl Dropped {
    fn add(&mut self, n: usize, reason: impl FnOnce() -> String) {
        if n == 0 {
            return;
        }
        if self.reason.is_empty() {
            self.reason = reason();
        }
        self.points += n as u64;
    }
}

/// An attribute value as a label value, as the Collector's `AsString` writes it.
pub fn value_string(v: Option<&AnyValue>) -> String {
    use any_value::Value as V;
    match v.and_then(|v| v.value.as_ref()) {
        // Dictionary references are resolved before data reaches an exporter.
        None | Some(V::StringValueStrindex(_)) => String::new(),
        Some(V::StringValue(s)) => s.clone(),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(d)) => d.to_string(),
        Some(V::BytesValue(b)) => b.iter().map(|x| format!("{x:02x}")).collect(),
        Some(V::ArrayValue(a)) => serde_json::Value::Array(
            a.values.iter().map(|v| serde_json::Value::String(value_string(Some(v)))).collect(),
        )
        .to_string(),
        Some(V::KvlistValue(kv)) => serde_json::Value::Object(
            kv.values
                .iter()
                .map(|k| (k.key.clone(), serde_json::Value::String(value_string(k.value.as_ref()))))
                .collect(),
        )
        .to_string(),
    }
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs.iter().find(|a| a.key == key).and_then(|a| a.value.as_ref())
}

/// Builds label sets: later layers never replace a name already set,
/// except that point attributes replace promoted resource attributes.
#[derive(Default)]
struct LabelSet(std::collections::BTreeMap<String, String>);

impl LabelSet {
    /// Attributes, sanitised; keys that collide after sanitising join their
    /// values with `;` in the order of the original keys, as the Collector does.
    fn attributes(attrs: &[KeyValue]) -> LabelSet {
        let mut sorted: Vec<&KeyValue> = attrs.iter().collect();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        let mut out = std::collections::BTreeMap::<String, String>::new();
        for kv in sorted {
            let Some(name) = naming::label_name(&kv.key) else { continue };
            let v = value_string(kv.value.as_ref());
            if v.is_empty() {
                continue;
            }
            match out.get_mut(&name) {
                Some(e) => {
                    e.push(';');
                    e.push_str(&v);
                }
                None => {
                    out.insert(name, v);
                }
            }
        }
        LabelSet(out)
    }

    fn set_if_absent(&mut self, k: &str, v: &str) {
        if !v.is_empty() && !self.0.contains_key(k) {
            self.0.insert(k.to_string(), v.to_string());
        }
    }

    fn set(&mut self, k: &str, v: &str) {
        if !v.is_empty() {
            self.0.insert(k.to_string(), v.to_string());
        }
    }
}

/// The `job` and `instance` of a resource.
fn job_instance(res: &[KeyValue]) -> (String, String) {
    let name = value_string(attr(res, "service.name"));
    let ns = value_string(attr(res, "service.namespace"));
    let job = match (ns.is_empty(), name.is_empty()) {
        (_, true) => String::new(),
        (true, false) => name,
        (false, false) => format!("{ns}/{name}"),
    };
    (job, value_string(attr(res, "service.instance.id")))
}

/// The attributes `target_info` does not carry: they become `job` and `instance`.
const IDENTIFYING: [&str; 3] = ["service.name", "service.namespace", "service.instance.id"];

/// Translates a batch. Unsupported points (exponential histograms,
/// non-monotonic delta sums, malformed histograms) are counted in `Dropped`.
pub fn translate(batch: &[ResourceMetrics], opts: &Options, now_ns: u64) -> (Vec<Family>, Dropped) {
    let mut families = Vec::new();
    let mut dropped = Dropped::default();
    for rm in batch {
        let res_attrs: &[KeyValue] = rm.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or(&[]);
        let (job, instance) = job_instance(res_attrs);
        let promoted = if opts.resource_to_telemetry { LabelSet::attributes(res_attrs).0 } else { Default::default() };
        let mut latest = 0u64;
        for sm in &rm.scope_metrics {
            let scope = sm.scope.as_ref();
            for m in &sm.metrics {
                let base = |attrs: &[KeyValue]| {
                    let mut l = LabelSet(promoted.clone());
                    for (k, v) in LabelSet::attributes(attrs).0 {
                        l.set(&k, &v);
                    }
                    if opts.scope_labels {
                        if let Some(s) = scope {
                            l.set_if_absent("otel_scope_name", &s.name);
                            l.set_if_absent("otel_scope_version", &s.version);
                        }
                    }
                    l.set("job", &job);
                    l.set("instance", &instance);
                    for (k, v) in &opts.extra_labels {
                        l.set_if_absent(k, v);
                    }
                    l.0.into_iter().collect::<Labels>()
                };
                if let Some(f) = metric(m, opts, &base, &mut dropped) {
                    latest = latest.max(f.points.iter().map(|p| p.time_ns).max().unwrap_or(0));
                    families.push(f);
                }
            }
        }
        if opts.target_info && (!job.is_empty() || !instance.is_empty()) {
            let rest: Vec<KeyValue> =
                res_attrs.iter().filter(|a| !IDENTIFYING.contains(&a.key.as_str())).cloned().collect();
            if !rest.is_empty() {
                let mut l = LabelSet::attributes(&rest);
                l.set("job", &job);
                l.set("instance", &instance);
                for (k, v) in &opts.extra_labels {
                    l.set_if_absent(k, v);
                }
                let time_ns = if latest == 0 { now_ns } else { latest };
                families.push(Family {
                    meta: Meta {
                        name: if opts.namespace.is_empty() {
                            "target_info".into()
                        } else {
                            format!("{}_target_info", opts.namespace)
                        },
                        help: "Target metadata".into(),
                        ty: FamilyType::Gauge,
                        unit: String::new(),
                    },
                    points: vec![Point {
                        labels: l.0.into_iter().collect(),
                        value: Value::Number(1.0),
                        time_ns,
                        start_ns: 0,
                        delta: false,
                        stale: false,
                        exemplars: Vec::new(),
                    }],
                });
            }
        }
    }
    (families, dropped)
}

const DELTA: i32 = AggregationTemporality::Delta as i32;

fn stale(flags: u32) -> bool {
    flags & DataPointFlags::NoRecordedValueMask as u32 != 0
}

fn metric(m: &Metric, opts: &Options, labels: &dyn Fn(&[KeyValue]) -> Labels, dropped: &mut Dropped) -> Option<Family> {
    let (kind, ty) = match m.data.as_ref()? {
        Data::Gauge(_) => (NameKind::Gauge, FamilyType::Gauge),
        Data::Sum(s) if s.is_monotonic => (NameKind::MonotonicCounter, FamilyType::Counter),
        Data::Sum(_) => (NameKind::NonMonotonicCounter, FamilyType::Gauge),
        Data::Histogram(_) => (NameKind::Histogram, FamilyType::Histogram),
        Data::Summary(_) => (NameKind::Summary, FamilyType::Summary),
        Data::ExponentialHistogram(h) => {
            dropped.add(h.data_points.len(), || {
                format!("{}: exponential histograms have no Prometheus text form; dropped", m.name)
            });
            return None;
        }
    };
    let Some(name) = naming::metric_name(&m.name, &m.unit, kind, &opts.namespace, opts.add_metric_suffixes) else {
        dropped.add(point_count(m), || format!("metric name {:?} has no valid Prometheus form", m.name));
        return None;
    };
    let unit = if opts.add_metric_suffixes { naming::unit_word(&m.unit) } else { String::new() };
    let meta = Meta { name, help: m.description.clone(), ty, unit };
    let mut points = Vec::new();
    match m.data.as_ref()? {
        Data::Gauge(g) => {
            for p in &g.data_points {
                points.push(number(p, labels, false, false));
            }
        }
        Data::Sum(s) => {
            let delta = s.aggregation_temporality == DELTA;
            if delta && !s.is_monotonic {
                // An up-down counter's deltas cannot be summed into a gauge safely: the Collector drops them too.
                dropped.add(s.data_points.len(), || format!("{}: non-monotonic delta sums are not supported", m.name));
                return None;
            }
            for p in &s.data_points {
                points.push(number(p, labels, delta, s.is_monotonic));
            }
        }
        Data::Histogram(h) => {
            let delta = h.aggregation_temporality == DELTA;
            for p in &h.data_points {
                let nb = p.explicit_bounds.len();
                let counts = if p.bucket_counts.is_empty() {
                    // Only count and sum were recorded: one `+Inf` bucket.
                    vec![p.count]
                } else if p.bucket_counts.len() == nb + 1 {
                    p.bucket_counts.clone()
                } else {
                    dropped.add(1, || {
                        format!("{}: histogram with {} bounds but {} buckets", m.name, nb, p.bucket_counts.len())
                    });
                    continue;
                };
                let bounds = if p.bucket_counts.is_empty() { Vec::new() } else { p.explicit_bounds.clone() };
                points.push(Point {
                    labels: labels(&p.attributes),
                    value: Value::Histogram(HistogramValue {
                        count: p.count,
                        sum: p.sum.unwrap_or(0.0),
                        bounds,
                        counts,
                    }),
                    time_ns: p.time_unix_nano,
                    start_ns: p.start_time_unix_nano,
                    delta,
                    stale: stale(p.flags),
                    exemplars: exemplars(&p.exemplars),
                });
            }
        }
        Data::Summary(s) => {
            for p in &s.data_points {
                points.push(Point {
                    labels: labels(&p.attributes),
                    value: Value::Summary {
                        count: p.count,
                        sum: p.sum,
                        quantiles: p.quantile_values.iter().map(|q| (q.quantile, q.value)).collect(),
                    },
                    time_ns: p.time_unix_nano,
                    start_ns: p.start_time_unix_nano,
                    delta: false,
                    stale: stale(p.flags),
                    exemplars: Vec::new(),
                });
            }
        }
        // Refused and counted above.
        Data::ExponentialHistogram(_) => return None,
    }
    Some(Family { meta, points })
}

fn point_count(m: &Metric) -> usize {
    match &m.data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        None => 0,
    }
}

fn number(
    p: &aiotel_api::otlp::metrics::v1::NumberDataPoint,
    labels: &dyn Fn(&[KeyValue]) -> Labels,
    delta: bool,
    counter: bool,
) -> Point {
    let v = match p.value {
        Some(number_data_point::Value::AsDouble(d)) => d,
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        None => 0.0,
    };
    Point {
        labels: labels(&p.attributes),
        value: Value::Number(v),
        time_ns: p.time_unix_nano,
        start_ns: p.start_time_unix_nano,
        delta,
        stale: stale(p.flags) || p.value.is_none(),
        exemplars: if counter { exemplars(&p.exemplars) } else { Vec::new() },
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn exemplars(ex: &[aiotel_api::otlp::metrics::v1::Exemplar]) -> Vec<Exemplar> {
    use aiotel_api::otlp::metrics::v1::exemplar::Value as V;
    ex.iter()
        .map(|e| {
            let mut labels = Labels::new();
            if e.span_id.len() == 8 {
                labels.push(("span_id".into(), hex(&e.span_id)));
            }
            if e.trace_id.len() == 16 {
                labels.push(("trace_id".into(), hex(&e.trace_id)));
            }
            let value = match e.value {
                Some(V::AsDouble(d)) => d,
                Some(V::AsInt(i)) => i as f64,
                None => 0.0,
            };
            Exemplar { labels, value, time_ns: e.time_unix_nano }
        })
        .collect()
}

#[cfg(test)]
mod tests;
