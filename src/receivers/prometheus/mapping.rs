//! Scraped families → OTLP metrics, with the per-target state that start
//! times and staleness need.
//!
//! counter → monotonic cumulative sum, gauge and untyped → gauge, histogram →
//! histogram, summary → summary. `job`/`instance` become `service.name` /
//! `service.instance.id`, `target_info` becomes resource attributes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::metrics::v1::{
    number_data_point, summary_data_point::ValueAtQuantile, DataPointFlags, Exemplar as OtlpExemplar,
    HistogramDataPoint, NumberDataPoint, ResourceMetrics, SummaryDataPoint,
};

use super::otlp::{attributes, exemplar, ns, secs_to_ns, Kind, Out, Point, ResourceKey};
use super::parser::{Family, Labels, MetricType, Sample};
use super::target::Target;

const NO_RECORDED_VALUE: u32 = DataPointFlags::NoRecordedValueMask as u32;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SeriesKey {
    resource: ResourceKey,
    name: String,
    attrs: Labels,
}

#[derive(Debug, Clone)]
struct SeriesState {
    kind: Kind,
    start_ns: u64,
    /// The value (or count) last seen, to notice counter resets.
    last: f64,
    /// Shared by every series of the family: kept only for staleness markers.
    meta: Arc<(String, String)>,
}

/// Series of one target across scrapes. Holds only the series of the last
/// scrape, so it is bounded by the target's own size.
#[derive(Default)]
pub struct TargetState {
    series: HashMap<SeriesKey, SeriesState>,
    /// Points left out of recent scrapes because they could not be mapped.
    dropped: usize,
}

/// Splits a sample's labels into its resource and its data point attributes
/// (sorted, without the labels named in `skip`).
fn split(labels: &Labels, target: &Target, skip: &str) -> (ResourceKey, Labels) {
    let mut job = None;
    let mut instance = None;
    let mut attrs = Labels::with_capacity(labels.len());
    for (k, v) in labels {
        match k.as_str() {
            "job" => job = Some(v.clone()),
            "instance" => instance = Some(v.clone()),
            k if k == skip => {}
            _ => attrs.push((k.clone(), v.clone())),
        }
    }
    attrs.sort_unstable();
    let key = ResourceKey {
        job: job.unwrap_or_else(|| target.job.clone()),
        instance: instance.unwrap_or_else(|| target.instance.clone()),
    };
    (key, attrs)
}

/// The scrape's time, and whether samples' own timestamps win over it.
#[derive(Clone, Copy)]
struct When {
    time_ns: u64,
    honor_timestamps: bool,
}

#[derive(Default)]
struct HistAcc {
    attrs: Labels,
    buckets: Vec<(f64, f64)>,
    quantiles: Vec<(f64, f64)>,
    count: Option<f64>,
    sum: Option<f64>,
    created: Option<f64>,
    ts: Option<i64>,
    exemplars: Vec<OtlpExemplar>,
}

impl TargetState {
    /// Start time for a cumulative series: `_created` if given, else when it
    /// was first seen; a value that went down is a reset and starts anew.
    fn start(&self, key: &SeriesKey, created: Option<f64>, value: f64, time: u64) -> u64 {
        if let Some(c) = created.map(secs_to_ns).filter(|c| *c > 0) {
            return c;
        }
        match self.series.get(key) {
            Some(s) if value >= s.last && s.start_ns > 0 => s.start_ns,
            _ => time,
        }
    }

    /// Converts one successful scrape; series of the previous scrape that
    /// are missing now get a staleness marker.
    pub fn convert(
        &mut self,
        target: &Target,
        families: &[Family],
        time_ns: u64,
        honor_timestamps: bool,
        synthetic: &[(&str, f64)],
    ) -> Vec<ResourceMetrics> {
        let mut out = Out::default();
        let mut seen: HashMap<SeriesKey, SeriesState> = HashMap::with_capacity(self.series.len());
        let ts = |s: &Sample| match s.timestamp_ms {
            Some(ms) if honor_timestamps => ns(ms),
            _ => time_ns,
        };
        let mut created_of = created_families(families, target);
        for fam in families {
            if created_of.skip.contains(&fam.name) {
                continue;
            }
            let meta = Arc::new((fam.help.clone(), fam.unit.clone()));
            match fam.mtype {
                MetricType::Counter => {
                    let mut created: HashMap<Labels, f64> = created_of.values.remove(&fam.name).unwrap_or_default();
                    for s in fam.samples.iter().filter(|s| s.name.ends_with("_created") && s.name != fam.name) {
                        created.insert(split(&s.labels, target, "").1, s.value);
                    }
                    for s in fam.samples.iter().filter(|s| !(s.name.ends_with("_created") && s.name != fam.name)) {
                        let (res, attrs) = split(&s.labels, target, "");
                        let c = created.get(&attrs).copied();
                        let key = SeriesKey { resource: res, name: fam.name.clone(), attrs };
                        let t = ts(s);
                        let start = self.start(&key, c, s.value, t);
                        let p = NumberDataPoint {
                            attributes: attributes(&key.attrs),
                            start_time_unix_nano: start,
                            time_unix_nano: t,
                            exemplars: s.exemplar.iter().map(|e| exemplar(e, t)).collect(),
                            value: Some(number_data_point::Value::AsDouble(s.value)),
                            ..Default::default()
                        };
                        out.push(&key.resource, &fam.name, Kind::Sum, &fam.help, &fam.unit, Point::Number(p));
                        let st = SeriesState { kind: Kind::Sum, start_ns: start, last: s.value, meta: meta.clone() };
                        seen.insert(key, st);
                    }
                }
                MetricType::Histogram | MetricType::Summary => {
                    let created = created_of.values.remove(&fam.name).unwrap_or_default();
                    let when = When { time_ns, honor_timestamps };
                    self.convert_distribution(fam, target, &mut out, &mut seen, when, &created);
                }
                _ => {
                    for s in &fam.samples {
                        let (res, attrs) = split(&s.labels, target, "");
                        if s.name == "target_info" {
                            let r = out.resource(&res);
                            out.resources[r].extra.extend(attributes(&attrs));
                            continue;
                        }
                        let t = ts(s);
                        let p = NumberDataPoint {
                            attributes: attributes(&attrs),
                            time_unix_nano: t,
                            exemplars: s.exemplar.iter().map(|e| exemplar(e, t)).collect(),
                            value: Some(number_data_point::Value::AsDouble(s.value)),
                            ..Default::default()
                        };
                        out.push(&res, &s.name, Kind::Gauge, &fam.help, &fam.unit, Point::Number(p));
                        let st = SeriesState { kind: Kind::Gauge, start_ns: 0, last: s.value, meta: meta.clone() };
                        seen.insert(SeriesKey { resource: res, name: s.name.clone(), attrs }, st);
                    }
                }
            }
        }
        let gone = std::mem::replace(&mut self.series, seen);
        let added = self.series.keys().filter(|k| !gone.contains_key(k)).count();
        for (key, st) in gone {
            if !self.series.contains_key(&key) {
                stale(&mut out, &key, &st, time_ns);
            }
        }
        let synthetic: Vec<(&str, f64)> = synthetic
            .iter()
            .map(|(n, v)| if *n == "scrape_series_added" { (*n, added as f64) } else { (*n, *v) })
            .collect();
        self.synthetic(&mut out, target, time_ns, &synthetic);
        self.dropped += out.dropped;
        out.finish(target)
    }

    /// A failed scrape: `up` is 0 and every series of the last scrape goes stale.
    pub fn failed(&mut self, target: &Target, time_ns: u64, synthetic: &[(&str, f64)]) -> Vec<ResourceMetrics> {
        let mut out = Out::default();
        for (key, st) in self.series.drain() {
            stale(&mut out, &key, &st, time_ns);
        }
        self.synthetic(&mut out, target, time_ns, synthetic);
        out.finish(target)
    }

    fn synthetic(&self, out: &mut Out, target: &Target, time_ns: u64, values: &[(&str, f64)]) {
        let (res, attrs) = split(&target.labels, target, "");
        for (name, v) in values {
            let p = NumberDataPoint {
                attributes: attributes(&attrs),
                time_unix_nano: time_ns,
                value: Some(number_data_point::Value::AsDouble(*v)),
                ..Default::default()
            };
            out.push(&res, name, Kind::Gauge, "", "", Point::Number(p));
        }
    }

    fn convert_distribution(
        &self,
        fam: &Family,
        target: &Target,
        out: &mut Out,
        seen: &mut HashMap<SeriesKey, SeriesState>,
        when: When,
        created: &HashMap<Labels, f64>,
    ) {
        let When { time_ns, honor_timestamps } = when;
        let meta = Arc::new((fam.help.clone(), fam.unit.clone()));
        let hist = fam.mtype == MetricType::Histogram;
        let split_label = if hist { "le" } else { "quantile" };
        let mut groups: Vec<(ResourceKey, HistAcc)> = Vec::new();
        let mut index: HashMap<(ResourceKey, Labels), usize> = HashMap::new();
        for s in &fam.samples {
            let (res, attrs) = split(&s.labels, target, split_label);
            let i = *index.entry((res.clone(), attrs.clone())).or_insert_with(|| {
                groups.push((res, HistAcc { attrs, ..Default::default() }));
                groups.len() - 1
            });
            let g = &mut groups[i].1;
            if honor_timestamps && s.timestamp_ms.is_some() {
                g.ts = s.timestamp_ms;
            }
            // Relabeling may have renamed the sample, so no byte offsets into it.
            let suffix = s.name.strip_prefix(fam.name.as_str()).unwrap_or("");
            match suffix {
                "_bucket" | "" => {
                    let Some(bound) = s.label(split_label).and_then(|v| v.parse::<f64>().ok()) else {
                        out.dropped += 1; // a bucket or quantile without a bound is unusable
                        continue;
                    };
                    if hist {
                        g.buckets.push((bound, s.value));
                    } else {
                        g.quantiles.push((bound, s.value));
                    }
                    if let Some(e) = &s.exemplar {
                        g.exemplars.push(exemplar(e, g.ts.map(ns).unwrap_or(time_ns)));
                    }
                }
                "_count" => g.count = Some(s.value),
                "_sum" => g.sum = Some(s.value),
                "_created" => g.created = Some(s.value),
                _ => {}
            }
        }
        for (res, mut g) in groups {
            if g.created.is_none() {
                g.created = created.get(&g.attrs).copied();
            }
            let t = g.ts.map(ns).unwrap_or(time_ns);
            let key = SeriesKey { resource: res, name: fam.name.clone(), attrs: g.attrs };
            let point = if hist {
                let mut buckets = g.buckets;
                buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                let inf = buckets.last().filter(|b| b.0.is_infinite()).map(|b| b.1);
                let Some(count) = g.count.or(inf) else {
                    out.dropped += 1;
                    continue;
                };
                let mut bounds = Vec::with_capacity(buckets.len());
                let mut counts = Vec::with_capacity(buckets.len() + 1);
                let mut prev = 0.0;
                for (le, cum) in &buckets {
                    if le.is_infinite() {
                        break;
                    }
                    bounds.push(*le);
                    counts.push((cum - prev).max(0.0) as u64);
                    prev = *cum;
                }
                counts.push((count - prev).max(0.0) as u64);
                let start = self.start(&key, g.created, count, t);
                (
                    Kind::Histogram,
                    start,
                    count,
                    Point::Histogram(HistogramDataPoint {
                        attributes: attributes(&key.attrs),
                        start_time_unix_nano: start,
                        time_unix_nano: t,
                        count: count.max(0.0) as u64,
                        sum: g.sum,
                        bucket_counts: counts,
                        explicit_bounds: bounds,
                        exemplars: g.exemplars,
                        ..Default::default()
                    }),
                )
            } else {
                let Some(count) = g.count else {
                    out.dropped += 1;
                    continue;
                };
                let start = self.start(&key, g.created, count, t);
                (
                    Kind::Summary,
                    start,
                    count,
                    Point::Summary(SummaryDataPoint {
                        attributes: attributes(&key.attrs),
                        start_time_unix_nano: start,
                        time_unix_nano: t,
                        count: count.max(0.0) as u64,
                        sum: g.sum.unwrap_or(0.0),
                        quantile_values: g
                            .quantiles
                            .iter()
                            .map(|(q, v)| ValueAtQuantile { quantile: *q, value: *v })
                            .collect(),
                        ..Default::default()
                    }),
                )
            };
            let (kind, start, last, p) = point;
            out.push(&key.resource, &fam.name, kind, &fam.help, &fam.unit, p);
            seen.insert(key, SeriesState { kind, start_ns: start, last, meta: meta.clone() });
        }
    }
}

/// A point with the no-recorded-value flag: Prometheus' staleness marker in OTLP.
fn stale(out: &mut Out, key: &SeriesKey, st: &SeriesState, time_ns: u64) {
    let start = if st.kind == Kind::Gauge { 0 } else { st.start_ns };
    let attrs = attributes(&key.attrs);
    let p = match st.kind {
        Kind::Gauge | Kind::Sum => Point::Number(NumberDataPoint {
            attributes: attrs,
            start_time_unix_nano: start,
            time_unix_nano: time_ns,
            flags: NO_RECORDED_VALUE,
            ..Default::default()
        }),
        Kind::Histogram => Point::Histogram(HistogramDataPoint {
            attributes: attrs,
            start_time_unix_nano: start,
            time_unix_nano: time_ns,
            flags: NO_RECORDED_VALUE,
            ..Default::default()
        }),
        Kind::Summary => Point::Summary(SummaryDataPoint {
            attributes: attrs,
            start_time_unix_nano: start,
            time_unix_nano: time_ns,
            flags: NO_RECORDED_VALUE,
            ..Default::default()
        }),
    };
    out.push(&key.resource, &key.name, st.kind, &st.meta.0, &st.meta.1, p);
}

/// The synthetic series Prometheus adds for every scrape.
pub fn scrape_report(
    up: bool,
    duration: Duration,
    scraped: usize,
    post_relabel: usize,
    added: usize,
) -> [(&'static str, f64); 5] {
    [
        ("up", if up { 1.0 } else { 0.0 }),
        ("scrape_duration_seconds", duration.as_secs_f64()),
        ("scrape_samples_scraped", scraped as f64),
        ("scrape_samples_post_metric_relabeling", post_relabel as f64),
        ("scrape_series_added", added as f64),
    ]
}

/// `_created` series the 0.0.4 format writes as gauge families of their own
/// (`foo_created` next to `foo_total`), keyed by the family they belong to.
#[derive(Default)]
struct CreatedFamilies {
    values: HashMap<String, HashMap<Labels, f64>>,
    skip: std::collections::HashSet<String>,
}

fn created_families(families: &[Family], target: &Target) -> CreatedFamilies {
    let mut out = CreatedFamilies::default();
    for f in families.iter().filter(|f| matches!(f.mtype, MetricType::Gauge | MetricType::Unknown)) {
        let Some(base) = f.name.strip_suffix("_created") else { continue };
        let total = format!("{base}_total");
        let owner = families.iter().find(|g| {
            matches!(g.mtype, MetricType::Counter | MetricType::Histogram | MetricType::Summary)
                && (g.name == base || g.name == total)
        });
        if let Some(owner) = owner {
            let values = f.samples.iter().map(|s| (split(&s.labels, target, "").1, s.value)).collect();
            out.values.insert(owner.name.clone(), values);
            out.skip.insert(f.name.clone());
        }
    }
    out
}

impl TargetState {
    /// Points dropped as unmappable since the last call.
    pub fn take_dropped(&mut self) -> usize {
        std::mem::take(&mut self.dropped)
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
    use opentelemetry_proto::tonic::metrics::v1::{metric, AggregationTemporality, Metric};

    use super::super::labeling::{label_samples, LabelRules};
    use super::super::parser::{parse, Format};
    use super::super::relabel::RelabelConfig;
    use super::*;

    fn target() -> Target {
        Target {
            url: "http://h:9100/metrics".into(),
            labels: vec![
                ("env".into(), "t".into()),
                ("instance".into(), "h:9100".into()),
                ("job".into(), "node".into()),
            ],
            job: "node".into(),
            instance: "h:9100".into(),
            scheme: "http".into(),
            address: "h:9100".into(),
        }
    }

    fn scrape(
        state: &mut TargetState,
        text: &str,
        format: Format,
        rules: &[RelabelConfig],
        t: u64,
    ) -> Vec<ResourceMetrics> {
        let mut fams = parse(text, format).unwrap();
        let ext = BTreeMap::new();
        label_samples(
            &mut fams,
            &target(),
            &LabelRules { honor_labels: false, metric_relabel: rules, external_labels: &ext },
        );
        state.convert(&target(), &fams, t, true, &scrape_report(true, Duration::from_millis(5), 1, 1, 0))
    }

    fn metric<'a>(rm: &'a [ResourceMetrics], name: &str) -> &'a Metric {
        rm[0].scope_metrics[0].metrics.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("no {name}"))
    }

    fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
        attrs.iter().find(|a| a.key == key).and_then(|a| match &a.value.as_ref()?.value {
            Some(any_value::Value::StringValue(s)) => Some(s.clone()),
            _ => None,
        })
    }

    const NODE: &str = "# HELP node_cpu_seconds_total Seconds.\n# TYPE node_cpu_seconds_total counter\n\
node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 100\nnode_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 5\n\
# TYPE node_load1 gauge\nnode_load1 0.5\nuntyped_thing{instance=\"other\"} 3\n\
# TYPE rpc summary\nrpc{quantile=\"0.5\"} 1\nrpc{quantile=\"0.9\"} 2\nrpc_sum 10\nrpc_count 4\n\
# TYPE lat histogram\nlat_bucket{le=\"0.1\"} 1\nlat_bucket{le=\"1\"} 3\nlat_bucket{le=\"+Inf\"} 4\nlat_sum 2.5\nlat_count 4\n\
target_info{region=\"eu\"} 1\n";

    #[test]
    fn types_resource_and_start_times() {
        let mut st = TargetState::default();
        let rm = scrape(&mut st, NODE, Format::Text, &[], 1_000);
        assert_eq!(rm.len(), 1);
        let res = &rm[0].resource.as_ref().unwrap().attributes;
        assert_eq!(attr(res, "service.name").as_deref(), Some("node"));
        assert_eq!(attr(res, "service.instance.id").as_deref(), Some("h:9100"));
        assert_eq!(attr(res, "server.port").as_deref(), Some("9100"));
        assert_eq!(attr(res, "region").as_deref(), Some("eu"), "target_info becomes resource attributes");
        assert!(rm[0].scope_metrics[0].metrics.iter().all(|m| m.name != "target_info"));

        let Some(metric::Data::Sum(sum)) = &metric(&rm, "node_cpu_seconds_total").data else { panic!() };
        assert!(sum.is_monotonic);
        assert_eq!(sum.aggregation_temporality, AggregationTemporality::Cumulative as i32);
        assert_eq!(sum.data_points.len(), 2);
        assert_eq!(sum.data_points[0].start_time_unix_nano, 1_000);
        assert_eq!(attr(&sum.data_points[0].attributes, "env").as_deref(), Some("t"));
        assert_eq!(attr(&sum.data_points[0].attributes, "job"), None);
        assert_eq!(metric(&rm, "node_cpu_seconds_total").description, "Seconds.");

        let Some(metric::Data::Gauge(g)) = &metric(&rm, "untyped_thing").data else { panic!("untyped → gauge") };
        assert_eq!(attr(&g.data_points[0].attributes, "exported_instance").as_deref(), Some("other"));

        let Some(metric::Data::Summary(s)) = &metric(&rm, "rpc").data else { panic!() };
        assert_eq!((s.data_points[0].count, s.data_points[0].sum), (4, 10.0));
        assert_eq!(s.data_points[0].quantile_values[1].value, 2.0);

        let Some(metric::Data::Histogram(h)) = &metric(&rm, "lat").data else { panic!() };
        assert_eq!(h.data_points[0].explicit_bounds, vec![0.1, 1.0]);
        assert_eq!(h.data_points[0].bucket_counts, vec![1, 2, 1]);
        assert_eq!(h.data_points[0].sum, Some(2.5));

        let Some(metric::Data::Gauge(up)) = &metric(&rm, "up").data else { panic!() };
        assert!(matches!(up.data_points[0].value, Some(number_data_point::Value::AsDouble(v)) if v == 1.0));

        // The start time holds across scrapes until the counter goes down.
        let rm = scrape(&mut st, &NODE.replace("} 100", "} 200"), Format::Text, &[], 2_000);
        let Some(metric::Data::Sum(sum)) = &metric(&rm, "node_cpu_seconds_total").data else { panic!() };
        assert_eq!(sum.data_points[0].start_time_unix_nano, 1_000);
        let rm = scrape(&mut st, &NODE.replace("} 100", "} 1"), Format::Text, &[], 3_000);
        let Some(metric::Data::Sum(sum)) = &metric(&rm, "node_cpu_seconds_total").data else { panic!() };
        assert_eq!(sum.data_points[0].start_time_unix_nano, 3_000, "a reset starts the series anew");
    }

    #[test]
    fn created_is_the_start_time_and_exemplars_are_kept() {
        let text = "# TYPE req counter\nreq_total 5 # {trace_id=\"0af7651916cd43dd8448eb211c80319c\",span_id=\"b7ad6b7169203331\",user=\"u\"} 1 10.5\nreq_created 1700000000.5\n# EOF\n";
        let mut st = TargetState::default();
        let rm = scrape(&mut st, text, Format::OpenMetrics, &[], 1_800_000_000_000_000_000);
        let Some(metric::Data::Sum(sum)) = &metric(&rm, "req").data else { panic!() };
        assert_eq!(sum.data_points.len(), 1);
        assert_eq!(sum.data_points[0].start_time_unix_nano, 1_700_000_000_500_000_000);
        let ex = &sum.data_points[0].exemplars[0];
        assert_eq!(ex.trace_id.len(), 16);
        assert_eq!(ex.span_id, vec![0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31]);
        assert_eq!(ex.time_unix_nano, 10_500_000_000);
        assert_eq!(attr(&ex.filtered_attributes, "user").as_deref(), Some("u"));
    }

    #[test]
    fn created_gauges_of_the_text_format_are_start_times() {
        let text =
            "# TYPE c_total counter\nc_total{a=\"x\"} 3\n# TYPE c_created gauge\nc_created{a=\"x\"} 1700000000\n\
# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 1\n# TYPE h_created gauge\nh_created 1600000000\n\
# TYPE lonely_created gauge\nlonely_created 5\n";
        let mut st = TargetState::default();
        let rm = scrape(&mut st, text, Format::Text, &[], 1_800_000_000_000_000_000);
        let Some(metric::Data::Sum(sum)) = &metric(&rm, "c_total").data else { panic!() };
        assert_eq!(sum.data_points[0].start_time_unix_nano, 1_700_000_000_000_000_000);
        let Some(metric::Data::Histogram(h)) = &metric(&rm, "h").data else { panic!() };
        assert_eq!(h.data_points[0].start_time_unix_nano, 1_600_000_000_000_000_000);
        let names: Vec<&str> = rm[0].scope_metrics[0].metrics.iter().map(|m| m.name.as_str()).collect();
        assert!(!names.contains(&"c_created") && !names.contains(&"h_created"), "{names:?}");
        assert!(names.contains(&"lonely_created"), "a gauge without a matching family stays");
    }

    #[test]
    fn unmappable_points_are_counted() {
        let text = "# TYPE s summary\ns{quantile=\"0.5\"} 1\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\n";
        let mut st = TargetState::default();
        let rm = scrape(&mut st, text, Format::Text, &[], 1);
        assert!(rm[0].scope_metrics[0].metrics.iter().all(|m| m.name != "s" && m.name != "h"));
        assert_eq!(st.take_dropped(), 2);
        assert_eq!(st.take_dropped(), 0);
    }

    #[test]
    fn honor_labels_keeps_scraped_labels() {
        let text = "m{job=\"pushed\",env=\"scraped\"} 1\n";
        let ext = BTreeMap::from([("region".to_string(), "eu".to_string())]);
        for (honor, job, env, exported) in [(true, "pushed", "scraped", None), (false, "node", "t", Some("scraped"))] {
            let mut fams = parse(text, Format::Text).unwrap();
            let rules = LabelRules { honor_labels: honor, metric_relabel: &[], external_labels: &ext };
            label_samples(&mut fams, &target(), &rules);
            let rm = TargetState::default().convert(&target(), &fams, 1, true, &[]);
            let m = rm
                .iter()
                .find(|r| attr(&r.resource.as_ref().unwrap().attributes, "service.name").as_deref() == Some(job));
            let m = m.unwrap_or_else(|| panic!("no resource for job {job}"));
            let Some(metric::Data::Gauge(g)) = &m.scope_metrics[0].metrics[0].data else { panic!() };
            let a = &g.data_points[0].attributes;
            assert_eq!(attr(a, "env").as_deref(), Some(env));
            assert_eq!(attr(a, "exported_env").as_deref(), exported);
            assert_eq!(attr(a, "region").as_deref(), Some("eu"), "external labels are added");
        }
    }

    #[test]
    fn hostile_values_do_not_panic() {
        // A huge timestamp, a renamed histogram sample with multibyte text, NaN and infinities.
        let text = "# TYPE h histogram\nh_bucket{le=\"NaN\"} NaN 9223372036854775807\nh_bucket{le=\"+Inf\"} -Inf\nh_count +Inf\nh_sum NaN\n";
        let rules: Vec<RelabelConfig> = serde_yaml_ng::from_str(
            "[{source_labels: [__name__], regex: 'h_count', target_label: __name__, replacement: 'é€'}]",
        )
        .unwrap();
        let mut st = TargetState::default();
        let rm = scrape(&mut st, text, Format::Text, &rules, 1);
        assert!(!rm.is_empty());
    }

    #[test]
    fn metric_relabel_drop_rule_drops() {
        let rules: Vec<RelabelConfig> =
            serde_yaml_ng::from_str("[{source_labels: [__name__], regex: 'node_cpu.*', action: drop}]").unwrap();
        let mut st = TargetState::default();
        let rm = scrape(&mut st, NODE, Format::Text, &rules, 1);
        assert!(rm[0].scope_metrics[0].metrics.iter().all(|m| m.name != "node_cpu_seconds_total"));
        assert!(rm[0].scope_metrics[0].metrics.iter().any(|m| m.name == "node_load1"));
    }

    #[test]
    fn vanished_series_and_failed_scrapes_go_stale() {
        let mut st = TargetState::default();
        scrape(&mut st, NODE, Format::Text, &[], 1);
        let without = NODE.replace("node_load1 0.5\n", "");
        let rm = scrape(&mut st, &without, Format::Text, &[], 2);
        let Some(metric::Data::Gauge(g)) = &metric(&rm, "node_load1").data else { panic!() };
        assert_eq!(g.data_points[0].flags, NO_RECORDED_VALUE);
        assert_eq!(g.data_points[0].time_unix_nano, 2);

        let n = st.series_count();
        let rm = st.failed(&target(), 3, &scrape_report(false, Duration::ZERO, 0, 0, 0));
        let Some(metric::Data::Gauge(up)) = &metric(&rm, "up").data else { panic!() };
        assert!(matches!(up.data_points[0].value, Some(number_data_point::Value::AsDouble(v)) if v == 0.0));
        let stale: usize = rm[0].scope_metrics[0]
            .metrics
            .iter()
            .map(|m| match &m.data {
                Some(metric::Data::Sum(s)) => s.data_points.iter().filter(|p| p.flags == NO_RECORDED_VALUE).count(),
                Some(metric::Data::Gauge(s)) => s.data_points.iter().filter(|p| p.flags == NO_RECORDED_VALUE).count(),
                Some(metric::Data::Histogram(s)) => {
                    s.data_points.iter().filter(|p| p.flags == NO_RECORDED_VALUE).count()
                }
                Some(metric::Data::Summary(s)) => s.data_points.iter().filter(|p| p.flags == NO_RECORDED_VALUE).count(),
                _ => 0,
            })
            .sum();
        assert_eq!(stale, n);
        assert_eq!(st.series_count(), 0);
    }
}
