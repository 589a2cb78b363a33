//! Histogram aggregations: explicit buckets (boundaries shared per metric)
//! and base-2 exponential buckets with a size cap.

use aiotel_api::otlp::metrics::v1::exponential_histogram_data_point::Buckets;

/// Counts for explicit boundaries; the boundaries live with the metric.
#[derive(Debug, Clone)]
pub(crate) struct Explicit {
    pub counts: Box<[u64]>,
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl Explicit {
    pub fn new(bounds: &[f64]) -> Self {
        Self {
            counts: vec![0; bounds.len() + 1].into_boxed_slice(),
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// Buckets are upper-inclusive, `(bounds[i-1], bounds[i]]`, as OTLP defines them.
    #[inline]
    pub fn observe(&mut self, bounds: &[f64], v: f64) {
        let i = bounds.partition_point(|b| *b < v);
        self.counts[i] += 1;
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn heap_bytes(&self) -> usize {
        self.counts.len() * 8
    }
}

const MAX_SCALE: i32 = 20;
const MIN_SCALE: i32 = -10;

/// A base-2 exponential histogram of non-negative values. It starts at the
/// finest scale and halves its resolution whenever the populated range would
/// need more than `max_size` buckets.
#[derive(Debug, Clone)]
pub(crate) struct Exponential {
    pub scale: i32,
    pub zero_count: u64,
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub offset: i32,
    pub counts: Vec<u64>,
}

impl Default for Exponential {
    fn default() -> Self {
        Self {
            scale: MAX_SCALE,
            zero_count: 0,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            offset: 0,
            counts: Vec::new(),
        }
    }
}

/// The bucket holding `v` (> 0) at `scale`: bucket i covers `(2^(i/2^scale), 2^((i+1)/2^scale)]`.
pub(crate) fn map_to_index(v: f64, scale: i32) -> i32 {
    let bits = v.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i32;
    let mantissa = bits & ((1u64 << 52) - 1);
    // Subnormals are below any duration that matters: give them the smallest normal exponent.
    let exp = if raw_exp == 0 { -1022 } else { raw_exp - 1023 };
    if mantissa == 0 && raw_exp != 0 {
        // Exact powers of two sit on a boundary and belong to the lower bucket.
        return if scale > 0 { (exp << scale) - 1 } else { (exp - 1) >> -scale };
    }
    if scale <= 0 {
        return exp >> -scale;
    }
    let factor = std::f64::consts::LOG2_E * (1u64 << scale) as f64;
    (v.ln() * factor).floor() as i32
}

impl Exponential {
    pub fn observe(&mut self, v: f64, max_size: usize) {
        let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if v == 0.0 {
            self.zero_count += 1;
            return;
        }
        let mut idx = map_to_index(v, self.scale);
        if self.counts.is_empty() {
            self.offset = idx;
            self.counts.push(1);
            return;
        }
        let lo = self.offset.min(idx) as i64;
        let hi = (self.offset + self.counts.len() as i32 - 1).max(idx) as i64;
        let mut change = 0;
        while (hi >> change) - (lo >> change) + 1 > max_size as i64 && self.scale - change > MIN_SCALE {
            change += 1;
        }
        if change > 0 {
            self.downscale(change);
            idx >>= change;
        }
        let end = self.offset + self.counts.len() as i32;
        if idx < self.offset {
            let grow = (self.offset - idx) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = idx;
        } else if idx >= end {
            self.counts.resize(self.counts.len() + (idx - end + 1) as usize, 0);
        }
        self.counts[(idx - self.offset) as usize] += 1;
    }

    fn downscale(&mut self, change: i32) {
        let new_offset = self.offset >> change;
        let last = (self.offset + self.counts.len() as i32 - 1) >> change;
        let mut merged = vec![0u64; (last - new_offset + 1) as usize];
        for (i, c) in self.counts.iter().enumerate() {
            merged[(((self.offset + i as i32) >> change) - new_offset) as usize] += c;
        }
        self.counts = merged;
        self.offset = new_offset;
        self.scale -= change;
    }

    pub fn positive(&self) -> Buckets {
        Buckets { offset: self.offset, bucket_counts: self.counts.clone() }
    }

    pub fn heap_bytes(&self) -> usize {
        self.counts.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds_of(idx: i32, scale: i32) -> (f64, f64) {
        let base = 2f64.powf(2f64.powi(-scale));
        (base.powi(idx), base.powi(idx + 1))
    }

    #[test]
    fn explicit_buckets_are_upper_inclusive() {
        let b = [1.0, 2.0, 5.0];
        let mut h = Explicit::new(&b);
        for v in [0.5, 1.0, 1.5, 2.0, 4.0, 5.0, 9.0] {
            h.observe(&b, v);
        }
        assert_eq!(&*h.counts, &[2, 2, 2, 1]);
        assert_eq!((h.count, h.sum, h.min, h.max), (7, 23.0, 0.5, 9.0));
    }

    #[test]
    fn index_mapping_matches_bucket_bounds() {
        for scale in [-3, 0, 1, 3, 8, 20] {
            for v in [0.001, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 7.3, 1000.0, 123456.789] {
                let i = map_to_index(v, scale);
                let (lo, hi) = bounds_of(i, scale);
                let tol = hi * 1e-9;
                assert!(v > lo - tol && v <= hi + tol, "v={v} scale={scale} idx={i} bounds=({lo},{hi})");
            }
        }
        assert_eq!(map_to_index(1.0, 0), -1);
        assert_eq!(map_to_index(2.0, 0), 0);
        assert_eq!(map_to_index(3.0, 0), 1);
        assert_eq!(map_to_index(4.0, 1), 3);
        assert_eq!(map_to_index(8.0, -1), 1);
        assert_eq!(map_to_index(4.0, -1), 0);
    }

    #[test]
    fn exponential_downscales_within_max_size() {
        let mut h = Exponential::default();
        let vals: Vec<f64> = (1..=2000).map(|i| i as f64 * 0.37).collect();
        for v in &vals {
            h.observe(*v, 20);
        }
        h.observe(0.0, 20);
        assert!(h.counts.len() <= 20, "{} buckets", h.counts.len());
        assert_eq!(h.count, 2001);
        assert_eq!(h.zero_count, 1);
        assert_eq!(h.counts.iter().sum::<u64>(), 2000);
        // Every value is counted in the bucket whose bounds hold it.
        let mut want = vec![0u64; h.counts.len()];
        for v in &vals {
            want[(map_to_index(*v, h.scale) - h.offset) as usize] += 1;
        }
        assert_eq!(want, h.counts);
    }
}
