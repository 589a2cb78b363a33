//! The bounded series store of one metric.
//!
//! Series live in a dense `Vec`; a hash table maps a key's hash to its index
//! and compares the stored key bytes, so lookups need no owned key and
//! collisions cannot merge two series. Past the cardinality limit, new keys
//! share one overflow series (as the Collector and the OTel SDKs do), so the
//! store never holds more than `limit + 1` series.

use hashbrown::HashTable;

/// A measurement's link to a span, kept until the next flush.
#[derive(Debug, Clone)]
pub(crate) struct Exemplar {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub value: f64,
}

#[derive(Debug)]
pub(crate) struct Series<A> {
    pub key: Box<[u8]>,
    hash: u64,
    /// Unix nanos of creation: the start time of cumulative points.
    pub start: u64,
    pub last_seen: u64,
    pub agg: A,
    pub exemplars: Vec<Exemplar>,
}

pub(crate) struct Store<A> {
    table: HashTable<u32>,
    pub series: Vec<Series<A>>,
    pub overflow: Option<Series<A>>,
    limit: usize,
    /// Measurements that went to the overflow series since creation.
    pub overflowed: u64,
}

/// Hashes keys; random per process so label values can't be chosen to collide.
pub(crate) type KeyHasher = foldhash::quality::RandomState;

impl<A> Store<A> {
    pub fn new(limit: usize) -> Self {
        Self { table: HashTable::new(), series: Vec::new(), overflow: None, limit, overflowed: 0 }
    }

    /// The series for `key` (whose hash the caller computes, the same way for
    /// every key of this store), created with `init` if new; the overflow
    /// series once `limit` series exist. The bool tells whether it is the overflow.
    #[inline]
    pub fn get_or_insert(
        &mut self,
        hash: u64,
        key: &[u8],
        now: u64,
        init: impl FnOnce() -> A,
    ) -> (&mut Series<A>, bool) {
        let series = &self.series;
        if let Some(&i) = self.table.find(hash, |&i| *series[i as usize].key == *key) {
            let s = &mut self.series[i as usize];
            s.last_seen = now;
            return (s, false);
        }
        if self.limit > 0 && self.series.len() >= self.limit {
            self.overflowed += 1;
            let s = self.overflow.get_or_insert_with(|| Series {
                key: Box::default(),
                hash: 0,
                start: now,
                last_seen: now,
                agg: init(),
                exemplars: Vec::new(),
            });
            s.last_seen = now;
            return (s, true);
        }
        let i = self.series.len() as u32;
        self.series.push(Series {
            key: key.into(),
            hash,
            start: now,
            last_seen: now,
            agg: init(),
            exemplars: Vec::new(),
        });
        let series = &self.series;
        self.table.insert_unique(hash, i, |&j| series[j as usize].hash);
        (self.series.last_mut().unwrap(), false)
    }

    pub fn len(&self) -> usize {
        self.series.len() + usize::from(self.overflow.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops series not seen since `cutoff`; the overflow series too.
    pub fn expire(&mut self, cutoff: u64) {
        let mut i = 0;
        while i < self.series.len() {
            if self.series[i].last_seen >= cutoff {
                i += 1;
                continue;
            }
            let gone = self.series.swap_remove(i);
            self.table.find_entry(gone.hash, |&j| j as usize == i).map(|e| e.remove()).ok();
            if i < self.series.len() {
                // The last series moved into slot i: repoint its table entry.
                let moved = self.series.len() as u32;
                if let Some(slot) = self.table.find_mut(self.series[i].hash, |&j| j == moved) {
                    *slot = i as u32;
                }
            }
        }
        if self.overflow.as_ref().is_some_and(|o| o.last_seen < cutoff) {
            self.overflow = None;
        }
        if self.series.capacity() > 2 * self.series.len() + 16 {
            self.series.shrink_to_fit();
            let series = &self.series;
            self.table.shrink_to_fit(|&j| series[j as usize].hash);
        }
    }

    pub fn clear_exemplars(&mut self) {
        for s in self.series.iter_mut().chain(self.overflow.as_mut()) {
            s.exemplars.clear();
        }
    }

    /// Every series, the overflow one last.
    pub fn iter(&self) -> impl Iterator<Item = (&Series<A>, bool)> {
        self.series.iter().map(|s| (s, false)).chain(self.overflow.iter().map(|s| (s, true)))
    }

    /// Heap bytes held, given the heap bytes of one aggregation.
    pub fn heap_bytes(&self, agg_heap: impl Fn(&A) -> usize) -> usize {
        let per_series =
            |s: &Series<A>| s.key.len() + agg_heap(&s.agg) + s.exemplars.capacity() * std::mem::size_of::<Exemplar>();
        // hashbrown: one u32 and one control byte per bucket.
        self.table.capacity() * 5
            + self.series.capacity() * std::mem::size_of::<Series<A>>()
            + self.series.iter().map(per_series).sum::<usize>()
            + self.overflow.as_ref().map_or(0, |s| std::mem::size_of::<Series<A>>() + per_series(s))
    }
}

impl<A> Series<A> {
    /// Records an exemplar if the span has a trace id and the point has room.
    #[inline]
    pub fn exemplar(&mut self, max: usize, trace_id: &[u8], span_id: &[u8], value: f64) {
        if self.exemplars.len() >= max || trace_id.len() != 16 || trace_id.iter().all(|b| *b == 0) {
            return;
        }
        let mut e = Exemplar { trace_id: [0; 16], span_id: [0; 8], value };
        e.trace_id.copy_from_slice(trace_id);
        if span_id.len() == 8 {
            e.span_id.copy_from_slice(span_id);
        }
        self.exemplars.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_routes_new_keys_to_one_overflow_series() {
        use std::hash::BuildHasher;
        let h = KeyHasher::default();
        let mut s: Store<u64> = Store::new(3);
        for round in 0..2 {
            for k in 0..10u8 {
                let (series, overflow) = s.get_or_insert(h.hash_one([k]), &[k], round, || 0);
                series.agg += 1;
                assert_eq!(overflow, k >= 3);
            }
        }
        assert_eq!(s.len(), 4);
        assert_eq!(s.series.iter().map(|x| x.agg).collect::<Vec<_>>(), vec![2, 2, 2]);
        assert_eq!(s.overflow.as_ref().unwrap().agg, 14);
        assert_eq!(s.overflowed, 14);
    }

    #[test]
    fn expiry_keeps_the_table_consistent() {
        use std::hash::BuildHasher;
        let h = KeyHasher::default();
        let mut s: Store<u64> = Store::new(0);
        for k in 0..100u8 {
            s.get_or_insert(h.hash_one([k, k]), &[k, k], k as u64, || k as u64);
        }
        s.expire(50);
        assert_eq!(s.series.len(), 50);
        for k in 0..100u8 {
            let before = s.series.len();
            let (series, _) = s.get_or_insert(h.hash_one([k, k]), &[k, k], 1000, || 999);
            if k >= 50 {
                assert_eq!(series.agg, k as u64, "key {k} lost after expiry");
            } else {
                assert_eq!(series.agg, 999);
                assert_eq!(s.series.len(), before + 1);
            }
        }
        assert_eq!(s.series.len(), 100);
    }
}
