//! A consistent-hash ring: each endpoint owns many points, so adding or
//! removing one moves only about 1/N of the keys. The hash is fixed (FNV-1a
//! plus a mixer), so every agent routes a key to the same backend.

/// Points per endpoint, as in the Collector.
const VNODES: usize = 100;

#[derive(Debug, Clone, Default)]
pub struct Ring {
    /// (position, endpoint index), sorted by position.
    points: Vec<(u64, usize)>,
    endpoints: Vec<String>,
}

impl Ring {
    pub fn new(endpoints: &[String]) -> Ring {
        let mut endpoints = endpoints.to_vec();
        endpoints.sort();
        endpoints.dedup();
        let mut points = Vec::with_capacity(endpoints.len() * VNODES);
        for (i, e) in endpoints.iter().enumerate() {
            for v in 0..VNODES {
                points.push((hash(format!("{e}#{v}").as_bytes()), i));
            }
        }
        points.sort_unstable();
        Ring { points, endpoints }
    }

    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// The endpoint owning `key`: the first point at or after its hash.
    pub fn owner(&self, key: &[u8]) -> Option<&str> {
        if self.points.is_empty() {
            return None;
        }
        let h = hash(key);
        let i = self.points.partition_point(|(p, _)| *p < h);
        let (_, e) = self.points[if i == self.points.len() { 0 } else { i }];
        Some(&self.endpoints[e])
    }
}

pub fn hash(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // splitmix64's finalizer spreads FNV's weak low bits.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eps(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("10.0.0.{i}:4317")).collect()
    }

    fn keys() -> Vec<[u8; 16]> {
        (0u128..20_000).map(|i| (i * 0x9e37_79b9_7f4a_7c15).to_be_bytes()).collect()
    }

    #[test]
    fn same_key_same_endpoint_regardless_of_order() {
        let a = Ring::new(&eps(3));
        let mut rev = eps(3);
        rev.reverse();
        let b = Ring::new(&rev);
        for k in keys() {
            assert_eq!(a.owner(&k), b.owner(&k));
        }
        assert_eq!(Ring::new(&[]).owner(b"x"), None);
    }

    #[test]
    fn keys_spread_evenly() {
        let r = Ring::new(&eps(3));
        let mut counts = std::collections::HashMap::new();
        for k in keys() {
            *counts.entry(r.owner(&k).unwrap().to_string()).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 3);
        for (e, c) in counts {
            assert!((4_000..9_500).contains(&c), "{e} owns {c} of 20000");
        }
    }

    #[test]
    fn adding_or_removing_moves_about_one_nth() {
        let four = Ring::new(&eps(4));
        let three = Ring::new(&eps(3));
        let removed = &eps(4)[3];
        let mut moved = 0;
        for k in keys() {
            let (a, b) = (four.owner(&k).unwrap(), three.owner(&k).unwrap());
            if a != b {
                // Only the keys of the removed endpoint may move.
                assert_eq!(a, removed);
                moved += 1;
            }
        }
        let share = moved as f64 / 20_000.0;
        assert!((0.15..0.35).contains(&share), "moved {share}");
    }
}
