//! Families → remote-write series: histograms become the classic
//! `_bucket{le}`, `_sum` and `_count` series, summaries `{quantile}`,
//! `_sum` and `_count`. Delta sums and histograms are added up into
//! cumulative ones in memory first, since Prometheus stores only cumulative
//! counters; a stale OTLP point becomes Prometheus's stale marker.

use std::time::Instant;

use prost::Message;

use super::proto::{self, Label, Sample, TimeSeries, WriteRequest};
use crate::exporters::prometheus::translate::{Exemplar, Family, Labels, Point, Value};
use crate::exporters::prometheus::Store;

/// The NaN Prometheus reads as "this series has ended".
pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// Converts a batch; returns the series and how many points could not be
/// converted (a name already used by another type).
pub fn to_series(families: Vec<Family>, deltas: &mut Store, now: Instant, now_ms: i64) -> (Vec<TimeSeries>, u64) {
    let mut out = Vec::new();
    let mut failed = 0;
    for Family { meta, points } in families {
        for mut p in points {
            let ts = if p.time_ns == 0 { now_ms } else { (p.time_ns / 1_000_000) as i64 };
            let exemplars = std::mem::take(&mut p.exemplars);
            let (value, stale, labels) = if p.delta {
                let (labels, stale) = (p.labels.clone(), p.stale);
                let fallback = p.value.clone();
                // A retried batch meets its own deltas again: they are not added twice.
                match deltas.merge(&meta, p, now) {
                    (_, Some(e)) => (e.value.clone(), false, labels),
                    (crate::exporters::prometheus::store::Outcome::Removed, None) => (fallback, stale, labels),
                    _ => {
                        failed += 1;
                        continue;
                    }
                }
            } else {
                let Point { labels, value, stale, .. } = p;
                (value, stale, labels)
            };
            let mut push = |suffix: &str, extra: Option<(&str, String)>, v: f64, ex: Vec<proto::Exemplar>| {
                let v = if stale { f64::from_bits(STALE_NAN) } else { v };
                let mut s = series(&labels, &meta.name, suffix, extra, v, ts);
                s.exemplars = ex;
                out.push(s);
            };
            // Counters carry their exemplars; a histogram's go on the bucket each falls in.
            let pick = |lower: f64, upper: f64| -> Vec<proto::Exemplar> {
                exemplars.iter().filter(|x| x.value > lower && x.value <= upper).map(exemplar).collect()
            };
            match value {
                Value::Number(v) => push("", None, v, pick(f64::NEG_INFINITY, f64::INFINITY)),
                Value::Histogram(h) => {
                    let mut cum = 0u64;
                    for (i, c) in h.counts.iter().enumerate() {
                        cum = cum.saturating_add(*c);
                        let upper = h.bounds.get(i).copied().unwrap_or(f64::INFINITY);
                        let lower = if i == 0 { f64::NEG_INFINITY } else { h.bounds[i - 1] };
                        let le = crate::exporters::prometheus::float(upper);
                        push("_bucket", Some(("le", le)), cum as f64, pick(lower, upper));
                    }
                    push("_sum", None, h.sum, Vec::new());
                    push("_count", None, h.count as f64, Vec::new());
                }
                Value::Summary { count, sum, quantiles } => {
                    for (q, v) in quantiles {
                        push("", Some(("quantile", crate::exporters::prometheus::float(q))), v, Vec::new());
                    }
                    push("_sum", None, sum, Vec::new());
                    push("_count", None, count as f64, Vec::new());
                }
            }
        }
    }
    (out, failed)
}

fn exemplar(x: &Exemplar) -> proto::Exemplar {
    proto::Exemplar {
        labels: x.labels.iter().map(|(k, v)| Label { name: k.clone(), value: v.clone() }).collect(),
        value: x.value,
        timestamp: (x.time_ns / 1_000_000) as i64,
    }
}

fn series(labels: &Labels, name: &str, suffix: &str, extra: Option<(&str, String)>, v: f64, ts: i64) -> TimeSeries {
    let mut l: Vec<Label> = Vec::with_capacity(labels.len() + 2);
    l.push(Label { name: "__name__".into(), value: format!("{name}{suffix}") });
    l.extend(labels.iter().map(|(k, v)| Label { name: k.clone(), value: v.clone() }));
    if let Some((k, v)) = extra {
        l.push(Label { name: k.into(), value: v });
    }
    l.sort_by(|a, b| a.name.cmp(&b.name));
    l.dedup_by(|a, b| a.name == b.name);
    TimeSeries { labels: l, samples: vec![Sample { value: v, timestamp: ts }], exemplars: Vec::new() }
}

/// Splits series into requests of at most `max_bytes` encoded (a single
/// larger series goes alone).
pub fn requests(series: Vec<TimeSeries>, max_bytes: usize) -> Vec<WriteRequest> {
    let mut out = Vec::new();
    let mut cur = WriteRequest::default();
    let mut size = 0;
    for s in series {
        // Field tag, length prefix and the series itself.
        let n = s.encoded_len() + 1 + prost::length_delimiter_len(s.encoded_len());
        if size + n > max_bytes && !cur.timeseries.is_empty() {
            out.push(std::mem::take(&mut cur));
            size = 0;
        }
        size += n;
        cur.timeseries.push(s);
    }
    if !cur.timeseries.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::exporters::prometheus::translate::{FamilyType, HistogramValue, Meta};

    fn fam(ty: FamilyType, name: &str, value: Value, delta: bool, stale: bool) -> Family {
        Family {
            meta: Meta { name: name.into(), help: String::new(), ty, unit: String::new() },
            points: vec![Point {
                labels: vec![("job".into(), "api".into())],
                value,
                time_ns: 1_700_000_000_000_000_000,
                start_ns: 0,
                delta,
                stale,
                exemplars: Vec::new(),
            }],
        }
    }

    fn names(s: &TimeSeries) -> Vec<(String, String)> {
        s.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect()
    }

    #[test]
    fn histograms_become_classic_series() {
        let h = HistogramValue { count: 5, sum: 3.25, bounds: vec![0.1, 1.0], counts: vec![1, 3, 1] };
        let mut store = Store::new(Duration::from_secs(300));
        let (s, failed) = to_series(
            vec![fam(FamilyType::Histogram, "lat_seconds", Value::Histogram(h), false, false)],
            &mut store,
            Instant::now(),
            0,
        );
        assert_eq!(failed, 0);
        assert_eq!(s.len(), 5);
        assert_eq!(
            names(&s[1]),
            vec![
                ("__name__".into(), "lat_seconds_bucket".into()),
                ("job".into(), "api".into()),
                ("le".into(), "1".into())
            ]
        );
        assert_eq!(s[1].samples, vec![Sample { value: 4.0, timestamp: 1_700_000_000_000 }]);
        assert_eq!(s[2].samples[0].value, 5.0);
        assert_eq!(names(&s[3])[0].1, "lat_seconds_sum");
        assert_eq!(s[4].samples[0].value, 5.0);
    }

    #[test]
    fn exemplars_go_on_their_bucket() {
        let h = HistogramValue { count: 2, sum: 0.75, bounds: vec![0.1, 1.0], counts: vec![1, 1, 0] };
        let mut f = fam(FamilyType::Histogram, "d", Value::Histogram(h), false, false);
        f.points[0].exemplars =
            vec![Exemplar { labels: vec![("trace_id".into(), "ab".into())], value: 0.7, time_ns: 5_000_000 }];
        let (s, _) = to_series(vec![f], &mut Store::new(Duration::from_secs(60)), Instant::now(), 0);
        let with: Vec<usize> = s.iter().enumerate().filter(|(_, t)| !t.exemplars.is_empty()).map(|(i, _)| i).collect();
        assert_eq!(with, vec![1], "only the (0.1, 1] bucket");
        assert_eq!(
            s[1].exemplars[0],
            proto::Exemplar {
                labels: vec![Label { name: "trace_id".into(), value: "ab".into() }],
                value: 0.7,
                timestamp: 5
            }
        );
    }

    #[test]
    fn deltas_are_summed_and_stale_points_marked() {
        let mut store = Store::new(Duration::from_secs(300));
        let now = Instant::now();
        let delta = |v: f64, i: u64| {
            let mut f = fam(FamilyType::Counter, "c_total", Value::Number(v), true, false);
            f.points[0].time_ns += i;
            f
        };
        let mut last = 0.0;
        for (i, v) in [2.0, 3.0, 4.0].into_iter().enumerate() {
            let (s, _) = to_series(vec![delta(v, i as u64)], &mut store, now, 0);
            last = s[0].samples[0].value;
        }
        assert_eq!(last, 9.0);
        // The last batch again, as a retry re-encodes it: the same total, not 13.
        let (s, failed) = to_series(vec![delta(4.0, 2)], &mut store, now, 0);
        assert_eq!((s[0].samples[0].value, failed), (9.0, 0));
        let (s, _) = to_series(vec![fam(FamilyType::Gauge, "g", Value::Number(1.0), false, true)], &mut store, now, 0);
        assert_eq!(s[0].samples[0].value.to_bits(), STALE_NAN);
    }

    #[test]
    fn requests_respect_the_size_limit() {
        let one = series(&vec![("a".into(), "x".repeat(100))], "m", "", None, 1.0, 1);
        let n = one.encoded_len() + 1 + prost::length_delimiter_len(one.encoded_len());
        let reqs = requests(vec![one.clone(); 10], n * 3);
        assert_eq!(reqs.iter().map(|r| r.timeseries.len()).collect::<Vec<_>>(), vec![3, 3, 3, 1]);
        assert!(reqs.iter().all(|r| r.encoded_len() <= n * 3));
    }
}
