//! The text the pull exporter serves: Prometheus text format 0.0.4, or
//! OpenMetrics 1.0 when enabled and the scraper asks for it.
//!
//! Written here rather than with `prometheus-client`, which the daemon's
//! self-metrics use: its encoder speaks only OpenMetrics, has no summary
//! type, no per-sample timestamps and no way to pass a histogram's own
//! bucket bounds per series, all of which OTLP data needs.

use std::fmt::Write;

use super::store::{Entry, FamilyState};
use super::translate::{Exemplar, FamilyType, Labels, Value};

pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

/// Picks the format from the scraper's `Accept` header.
pub fn negotiate(accept: Option<&str>, open_metrics_enabled: bool) -> Format {
    match accept {
        Some(a) if open_metrics_enabled && a.contains("application/openmetrics-text") => Format::OpenMetrics,
        _ => Format::Text,
    }
}

/// Go's float formatting, which Prometheus parses: `+Inf`, `-Inf`, `NaN`.
pub fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}

fn escape_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// OpenMetrics timestamps are seconds, written exactly rather than through a float.
fn seconds(out: &mut String, ns: u64) {
    let (secs, nanos) = (ns / 1_000_000_000, ns % 1_000_000_000);
    let frac = format!("{nanos:09}");
    let frac = frac.trim_end_matches('0');
    let _ = if frac.is_empty() { write!(out, "{secs}") } else { write!(out, "{secs}.{frac}") };
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

struct Writer<'a> {
    out: &'a mut String,
    format: Format,
    timestamps: bool,
}

impl Writer<'_> {
    #[allow(clippy::too_many_arguments)]
    fn sample(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &Labels,
        extra: Option<(&str, &str)>,
        v: f64,
        e: &Entry,
        ex: Option<&Exemplar>,
    ) {
        self.out.push_str(name);
        self.out.push_str(suffix);
        if !labels.is_empty() || extra.is_some() {
            self.out.push('{');
            let mut first = true;
            let extra = extra.map(|(k, v)| (k.to_string(), v.to_string()));
            for (k, v) in labels.iter().chain(extra.as_ref()) {
                if !first {
                    self.out.push(',');
                }
                first = false;
                self.out.push_str(k);
                self.out.push_str("=\"");
                escape_value(self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&float(v));
        if self.timestamps && e.time_ns > 0 {
            self.out.push(' ');
            match self.format {
                Format::Text => {
                    let _ = write!(self.out, "{}", e.time_ns / 1_000_000);
                }
                Format::OpenMetrics => seconds(self.out, e.time_ns),
            }
        }
        // Exemplars exist only in OpenMetrics.
        if let (Format::OpenMetrics, Some(x)) = (self.format, ex) {
            self.out.push_str(" # {");
            for (i, (k, v)) in x.labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"");
                escape_value(self.out, v);
                self.out.push('"');
            }
            let _ = write!(self.out, "}} {}", float(x.value));
            if x.time_ns > 0 {
                self.out.push(' ');
                seconds(self.out, x.time_ns);
            }
        }
        self.out.push('\n');
    }
}

/// The latest exemplar that falls in the bucket `(lower, upper]`.
fn bucket_exemplar(ex: &[Exemplar], lower: f64, upper: f64) -> Option<&Exemplar> {
    ex.iter().rev().find(|x| x.value > lower && x.value <= upper)
}

/// Renders every family in name order, each family's series in label order.
pub fn render<'a>(families: impl Iterator<Item = &'a FamilyState>, format: Format, timestamps: bool, out: &mut String) {
    let mut w = Writer { out, format, timestamps };
    for fam in families {
        let m = &fam.meta;
        // OpenMetrics names a counter family without its `_total`, which each sample carries.
        let (family, sample) = match (format, m.ty) {
            (Format::OpenMetrics, FamilyType::Counter) => {
                let f = m.name.strip_suffix("_total").unwrap_or(&m.name).to_string();
                let s = format!("{f}_total");
                (f, s)
            }
            _ => (m.name.clone(), m.name.clone()),
        };
        if !m.help.is_empty() {
            let mut help = escape_help(&m.help);
            if format == Format::OpenMetrics {
                help = help.replace('"', "\\\"");
            }
            let _ = writeln!(w.out, "# HELP {family} {help}");
        }
        let _ = writeln!(w.out, "# TYPE {family} {}", m.ty.as_str());
        if format == Format::OpenMetrics && !m.unit.is_empty() && family.ends_with(&format!("_{}", m.unit)) {
            let _ = writeln!(w.out, "# UNIT {family} {}", m.unit);
        }
        let mut series: Vec<(&Labels, &Entry)> = fam.series.iter().collect();
        series.sort_by(|a, b| a.0.cmp(b.0));
        for (labels, e) in series {
            match &e.value {
                Value::Number(v) => w.sample(&sample, "", labels, None, *v, e, e.exemplars.last()),
                Value::Histogram(h) => {
                    let mut cum = 0u64;
                    for (i, c) in h.counts.iter().enumerate() {
                        cum = cum.saturating_add(*c);
                        let upper = h.bounds.get(i).copied().unwrap_or(f64::INFINITY);
                        let lower = if i == 0 { f64::NEG_INFINITY } else { h.bounds[i - 1] };
                        let le = float(upper);
                        let ex = bucket_exemplar(&e.exemplars, lower, upper);
                        w.sample(&sample, "_bucket", labels, Some(("le", &le)), cum as f64, e, ex);
                    }
                    w.sample(&sample, "_sum", labels, None, h.sum, e, None);
                    w.sample(&sample, "_count", labels, None, h.count as f64, e, None);
                }
                Value::Summary { count, sum, quantiles } => {
                    for (q, v) in quantiles {
                        w.sample(&sample, "", labels, Some(("quantile", &float(*q))), *v, e, None);
                    }
                    w.sample(&sample, "_sum", labels, None, *sum, e, None);
                    w.sample(&sample, "_count", labels, None, *count as f64, e, None);
                }
            }
        }
    }
    if format == Format::OpenMetrics {
        w.out.push_str("# EOF\n");
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::exporters::prometheus::store::Store;
    use crate::exporters::prometheus::translate::{Family, HistogramValue, Meta, Point};

    fn store() -> Store {
        let mut s = Store::new(Duration::from_secs(60));
        let now = Instant::now();
        let p = |labels: Labels, value: Value| Point {
            labels,
            value,
            time_ns: 1_700_000_000_123_000_000,
            start_ns: 0,
            delta: false,
            stale: false,
            exemplars: Vec::new(),
        };
        s.apply(
            Family {
                meta: Meta {
                    name: "reqs_total".into(),
                    help: "Requests\nserved".into(),
                    ty: FamilyType::Counter,
                    unit: String::new(),
                },
                points: vec![p(vec![("path".into(), "/a\"b\\".into())], Value::Number(3.0))],
            },
            now,
        );
        s.apply(
            Family {
                meta: Meta {
                    name: "lat_seconds".into(),
                    help: String::new(),
                    ty: FamilyType::Histogram,
                    unit: "seconds".into(),
                },
                points: vec![p(
                    vec![],
                    Value::Histogram(HistogramValue {
                        count: 5,
                        sum: 3.25,
                        bounds: vec![0.1, 1.0],
                        counts: vec![1, 3, 1],
                    }),
                )],
            },
            now,
        );
        s.apply(
            Family {
                meta: Meta { name: "rpc".into(), help: String::new(), ty: FamilyType::Summary, unit: String::new() },
                points: vec![p(
                    vec![("x".into(), "y".into())],
                    Value::Summary { count: 2, sum: 4.0, quantiles: vec![(0.5, 1.5), (0.99, f64::INFINITY)] },
                )],
            },
            now,
        );
        s
    }

    #[test]
    fn text_format() {
        let mut out = String::new();
        render(store().families(), Format::Text, false, &mut out);
        assert_eq!(
            out,
            "# TYPE lat_seconds histogram\n\
             lat_seconds_bucket{le=\"0.1\"} 1\n\
             lat_seconds_bucket{le=\"1\"} 4\n\
             lat_seconds_bucket{le=\"+Inf\"} 5\n\
             lat_seconds_sum 3.25\n\
             lat_seconds_count 5\n\
             # HELP reqs_total Requests\\nserved\n\
             # TYPE reqs_total counter\n\
             reqs_total{path=\"/a\\\"b\\\\\"} 3\n\
             # TYPE rpc summary\n\
             rpc{x=\"y\",quantile=\"0.5\"} 1.5\n\
             rpc{x=\"y\",quantile=\"0.99\"} +Inf\n\
             rpc_sum{x=\"y\"} 4\n\
             rpc_count{x=\"y\"} 2\n"
        );
    }

    #[test]
    fn timestamps_and_openmetrics() {
        let mut out = String::new();
        render(store().families(), Format::Text, true, &mut out);
        assert!(out.contains("reqs_total{path=\"/a\\\"b\\\\\"} 3 1700000000123\n"), "{out}");
        let mut out = String::new();
        render(store().families(), Format::OpenMetrics, true, &mut out);
        assert!(out.contains("# TYPE reqs counter\nreqs_total{"), "{out}");
        assert!(out.contains("# UNIT lat_seconds seconds\n"), "{out}");
        assert!(out.contains("} 3 1700000000.123\n"), "{out}");
        assert!(out.ends_with("# EOF\n"));
    }

    #[test]
    fn huge_bucket_counts_saturate_instead_of_overflowing() {
        let mut s = Store::new(Duration::from_secs(60));
        let h = HistogramValue { count: u64::MAX, sum: 1.0, bounds: vec![1.0], counts: vec![u64::MAX, u64::MAX] };
        let p = Point {
            labels: vec![],
            value: Value::Histogram(h),
            time_ns: 1,
            start_ns: 0,
            delta: false,
            stale: false,
            exemplars: Vec::new(),
        };
        let meta = Meta { name: "h".into(), help: String::new(), ty: FamilyType::Histogram, unit: String::new() };
        s.apply(Family { meta, points: vec![p] }, Instant::now());
        let mut out = String::new();
        render(s.families(), Format::Text, false, &mut out);
        assert!(out.contains("h_bucket{le=\"+Inf\"} 18446744073709552000\n"), "{out}");
    }

    #[test]
    fn exemplars_in_openmetrics_only() {
        use crate::exporters::prometheus::translate::Exemplar;
        let ex = |v: f64, trace: &str| Exemplar {
            labels: vec![("span_id".into(), "00f067aa0ba902b7".into()), ("trace_id".into(), trace.into())],
            value: v,
            time_ns: 1_700_000_000_500_000_000,
        };
        let mut s = Store::new(Duration::from_secs(60));
        let h = HistogramValue { count: 3, sum: 1.0, bounds: vec![0.1, 1.0], counts: vec![1, 2, 0] };
        let p = Point {
            labels: vec![],
            value: Value::Histogram(h),
            time_ns: 1,
            start_ns: 0,
            delta: false,
            stale: false,
            exemplars: vec![ex(0.05, "a1"), ex(0.7, "b2"), ex(0.2, "c3")],
        };
        let meta = Meta { name: "d".into(), help: String::new(), ty: FamilyType::Histogram, unit: String::new() };
        s.apply(Family { meta, points: vec![p] }, Instant::now());
        let mut out = String::new();
        render(s.families(), Format::OpenMetrics, false, &mut out);
        assert!(
            out.contains("d_bucket{le=\"0.1\"} 1 # {span_id=\"00f067aa0ba902b7\",trace_id=\"a1\"} 0.05 1700000000.5\n"),
            "{out}"
        );
        // The latest one in (0.1, 1].
        assert!(out.contains("d_bucket{le=\"1\"} 3 # {span_id=\"00f067aa0ba902b7\",trace_id=\"c3\"} 0.2 "), "{out}");
        assert!(out.contains("d_bucket{le=\"+Inf\"} 3\n"), "{out}");
        let mut text = String::new();
        render(s.families(), Format::Text, false, &mut text);
        assert!(!text.contains('#') || !text.contains("trace_id"), "{text}");
    }

    #[test]
    fn negotiation() {
        let om = Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");
        assert_eq!(negotiate(om, true), Format::OpenMetrics);
        assert_eq!(negotiate(om, false), Format::Text);
        assert_eq!(negotiate(None, true), Format::Text);
    }
}
