//! The series the pull exporter serves: the latest cumulative point of each,
//! with delta sums and histograms added up into cumulative ones, and every
//! series dropped once it has not been updated for `metric_expiration`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::translate::{Exemplar, Family, HistogramValue, Labels, Meta, Point, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    pub time_ns: u64,
    pub start_ns: u64,
    /// The latest exemplars; a point without any keeps the previous ones.
    pub exemplars: Vec<Exemplar>,
    updated: Instant,
}

pub struct FamilyState {
    pub meta: Meta,
    pub series: HashMap<Labels, Entry>,
}

pub struct Store {
    families: BTreeMap<String, FamilyState>,
    expiration: Duration,
}

/// What became of one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Stored,
    /// Not newer than what the series holds (a replayed delta, a late
    /// point): ignored; the series' current value is returned.
    Old,
    /// Its series went stale and was removed.
    Removed,
    /// Its name is already a family of another type.
    Conflict,
}

impl Store {
    pub fn new(expiration: Duration) -> Store {
        Store { families: BTreeMap::new(), expiration }
    }

    /// Merges a family's points; returns how many could not be stored because of a type conflict.
    pub fn apply(&mut self, fam: Family, now: Instant) -> u64 {
        let mut conflicts = 0;
        let Family { meta, points } = fam;
        let name = meta.name.clone();
        for p in points {
            if self.merge(&meta, p, now).0 == Outcome::Conflict {
                conflicts += 1;
            }
        }
        if self.families.get(&name).is_some_and(|f| f.series.is_empty()) {
            self.families.remove(&name);
        }
        conflicts
    }

    /// Merges one point and returns the series' value after it.
    pub fn merge(&mut self, meta: &Meta, p: Point, now: Instant) -> (Outcome, Option<&Entry>) {
        let fam = self
            .families
            .entry(meta.name.clone())
            .or_insert_with(|| FamilyState { meta: meta.clone(), series: HashMap::new() });
        if fam.meta.ty != meta.ty {
            return (Outcome::Conflict, None);
        }
        if fam.meta.help.is_empty() && !meta.help.is_empty() {
            fam.meta.help = meta.help.clone();
        }
        if p.stale {
            fam.series.remove(&p.labels);
            return (Outcome::Removed, None);
        }
        let labels = p.labels;
        match fam.series.get_mut(&labels) {
            // A delta no newer than the last one added is a replay (a retried
            // batch, a client's resend) or out of order: adding it would count twice.
            Some(e) if p.delta && p.time_ns <= e.time_ns => return (Outcome::Old, fam.series.get(&labels)),
            Some(e) if p.delta => {
                add(&mut e.value, p.value);
                e.time_ns = p.time_ns;
                e.updated = now;
                if !p.exemplars.is_empty() {
                    e.exemplars = p.exemplars;
                }
            }
            Some(e) if p.time_ns < e.time_ns => return (Outcome::Old, fam.series.get(&labels)),
            Some(e) => {
                // Exporters such as spanmetrics attach exemplars to one flush only.
                let exemplars = if p.exemplars.is_empty() { std::mem::take(&mut e.exemplars) } else { p.exemplars };
                *e = Entry { value: p.value, time_ns: p.time_ns, start_ns: p.start_ns, exemplars, updated: now };
            }
            None => {
                let e = Entry {
                    value: p.value,
                    time_ns: p.time_ns,
                    start_ns: p.start_ns,
                    exemplars: p.exemplars,
                    updated: now,
                };
                fam.series.insert(labels.clone(), e);
            }
        }
        (Outcome::Stored, fam.series.get(&labels))
    }

    /// Drops series not updated within the expiration, and families left empty.
    pub fn expire(&mut self, now: Instant) -> usize {
        let mut removed = 0;
        let ttl = self.expiration;
        self.families.retain(|_, f| {
            let before = f.series.len();
            f.series.retain(|_, e| now.saturating_duration_since(e.updated) < ttl);
            removed += before - f.series.len();
            !f.series.is_empty()
        });
        removed
    }

    /// Families in name order.
    pub fn families(&self) -> impl Iterator<Item = &FamilyState> {
        self.families.values()
    }

    pub fn series_count(&self) -> usize {
        self.families.values().map(|f| f.series.len()).sum()
    }
}

/// Adds a delta to a cumulative value. A histogram whose bounds changed starts over.
fn add(into: &mut Value, delta: Value) {
    match (into, delta) {
        (Value::Number(a), Value::Number(b)) => *a += b,
        (Value::Histogram(a), Value::Histogram(b)) if a.bounds == b.bounds => {
            let HistogramValue { count, sum, counts, .. } = b;
            a.count = a.count.saturating_add(count);
            a.sum += sum;
            for (x, y) in a.counts.iter_mut().zip(counts) {
                *x = x.saturating_add(y);
            }
        }
        (into, delta) => *into = delta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporters::prometheus::translate::FamilyType;

    fn meta(ty: FamilyType) -> Meta {
        Meta { name: "m".into(), help: String::new(), ty, unit: String::new() }
    }

    fn point(v: f64, t: u64, delta: bool) -> Point {
        Point {
            labels: vec![("a".into(), "1".into())],
            value: Value::Number(v),
            time_ns: t,
            start_ns: 1,
            delta,
            stale: false,
            exemplars: Vec::new(),
        }
    }

    fn value(s: &Store) -> Value {
        s.families().next().unwrap().series.values().next().unwrap().value.clone()
    }

    #[test]
    fn cumulative_replaces_and_ignores_older_points() {
        let now = Instant::now();
        let mut s = Store::new(Duration::from_secs(300));
        s.apply(Family { meta: meta(FamilyType::Counter), points: vec![point(5.0, 10, false)] }, now);
        s.apply(Family { meta: meta(FamilyType::Counter), points: vec![point(7.0, 20, false)] }, now);
        s.apply(Family { meta: meta(FamilyType::Counter), points: vec![point(6.0, 15, false)] }, now);
        assert_eq!(value(&s), Value::Number(7.0));
    }

    #[test]
    fn deltas_accumulate_into_cumulative() {
        let now = Instant::now();
        let mut s = Store::new(Duration::from_secs(300));
        for (v, t) in [(2.0, 10), (3.0, 20), (4.0, 30)] {
            s.apply(Family { meta: meta(FamilyType::Counter), points: vec![point(v, t, true)] }, now);
        }
        assert_eq!(value(&s), Value::Number(9.0));
        // The same delta again (a retried batch) is not added twice.
        s.apply(Family { meta: meta(FamilyType::Counter), points: vec![point(4.0, 30, true)] }, now);
        assert_eq!(value(&s), Value::Number(9.0));
        let h = |counts: Vec<u64>, t: u64| Point {
            value: Value::Histogram(HistogramValue { count: counts.iter().sum(), sum: 1.5, bounds: vec![1.0], counts }),
            ..point(0.0, t, true)
        };
        let mut s = Store::new(Duration::from_secs(300));
        s.apply(Family { meta: meta(FamilyType::Histogram), points: vec![h(vec![1, 2], 40)] }, now);
        s.apply(Family { meta: meta(FamilyType::Histogram), points: vec![h(vec![3, 0], 50)] }, now);
        assert_eq!(
            value(&s),
            Value::Histogram(HistogramValue { count: 6, sum: 3.0, bounds: vec![1.0], counts: vec![4, 2] })
        );
    }

    #[test]
    fn stale_series_expire_and_stale_points_remove() {
        let t0 = Instant::now();
        let mut s = Store::new(Duration::from_secs(60));
        s.apply(Family { meta: meta(FamilyType::Gauge), points: vec![point(1.0, 10, false)] }, t0);
        assert_eq!(s.expire(t0 + Duration::from_secs(59)), 0);
        assert_eq!(s.expire(t0 + Duration::from_secs(61)), 1);
        assert_eq!(s.series_count(), 0);
        s.apply(Family { meta: meta(FamilyType::Gauge), points: vec![point(1.0, 10, false)] }, t0);
        let gone = Point { stale: true, ..point(0.0, 20, false) };
        s.apply(Family { meta: meta(FamilyType::Gauge), points: vec![gone] }, t0);
        assert_eq!(s.series_count(), 0);
    }

    #[test]
    fn a_name_keeps_its_first_type() {
        let now = Instant::now();
        let mut s = Store::new(Duration::from_secs(60));
        assert_eq!(s.apply(Family { meta: meta(FamilyType::Gauge), points: vec![point(1.0, 10, false)] }, now), 0);
        assert_eq!(s.apply(Family { meta: meta(FamilyType::Counter), points: vec![point(1.0, 20, false)] }, now), 1);
    }
}
