//! `probabilistic`: the Collector's trace-id hash, bit for bit, so both keep
//! the same traces for the same salt and percentage.

use crate::trace_state::TraceId;

/// The Collector's salt when `hash_salt` is empty.
const DEFAULT_SALT: &str = "default-hash-seed";

pub(crate) struct Probabilistic {
    salt: Vec<u8>,
    threshold: u64,
}

impl Probabilistic {
    pub fn new(salt: &str, percentage: f64) -> Self {
        let salt = if salt.is_empty() { DEFAULT_SALT } else { salt };
        Probabilistic { salt: salt.as_bytes().to_vec(), threshold: threshold(percentage / 100.0) }
    }

    pub fn sampled(&self, id: &TraceId) -> bool {
        fnv1a64(&[&self.salt, &id.0]) <= self.threshold
    }
}

/// FNV-1a, 64 bit, over the concatenated parts (Go's `hash/fnv` `New64a`).
pub(crate) fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.iter()) {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `floor(MaxUint64 * ratio)` as Go's `big.Float` computes it: the product
/// is rounded to 64 significant bits (nearest even), then truncated.
pub(crate) fn threshold(ratio: f64) -> u64 {
    if ratio.is_nan() || ratio <= 0.0 {
        return 0;
    }
    if ratio >= 1.0 {
        return u64::MAX;
    }
    // ratio = mant * 2^exp exactly.
    let bits = ratio.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1 << 52) - 1);
    let (mant, mut exp) = if raw_exp == 0 { (frac, -1074) } else { (frac | (1 << 52), raw_exp - 1075) };
    let mut p = u64::MAX as u128 * mant as u128;
    let width = 128 - p.leading_zeros() as i32;
    if width > 64 {
        let sh = (width - 64) as u32;
        let rem = p & ((1u128 << sh) - 1);
        let half = 1u128 << (sh - 1);
        p >>= sh;
        if rem > half || (rem == half && p & 1 == 1) {
            p += 1;
        }
        exp += sh as i32;
    }
    if exp >= 0 {
        return u64::MAX; // unreachable for ratio < 1
    }
    let s = (-exp) as u32;
    if s >= 128 {
        0
    } else {
        (p >> s).min(u64::MAX as u128) as u64
    }
}
