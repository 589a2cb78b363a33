//! Pieces checked on their own.

use crate::cache::{Cached, DecisionCache};
use crate::config::DecisionCacheConfig;
use crate::policy::{fnv1a64, threshold};
use crate::trace_state::TraceId;

#[test]
fn fnv1a64_matches_reference_vectors() {
    assert_eq!(fnv1a64(&[]), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(&[b"foo"]), 0xdcb2_7518_fed9_d577);
    // Salt then trace id, as one stream.
    assert_eq!(fnv1a64(&[b"fo", b"o"]), fnv1a64(&[b"foo"]));
}

#[test]
fn threshold_is_gos_big_float_product() {
    assert_eq!(threshold(0.0), 0);
    assert_eq!(threshold(1.0), u64::MAX);
    assert_eq!(threshold(2.0), u64::MAX);
    // (2^64 - 1) / 2 = 2^63 - 0.5 is exact in 64 bits, then truncated.
    assert_eq!(threshold(0.5), (1 << 63) - 1);
    assert_eq!(threshold(0.25), (1 << 62) - 1);
    let one_pct = threshold(0.01);
    let approx = (u64::MAX as f64 * 0.01) as u64;
    assert!(one_pct.abs_diff(approx) < 4096, "{one_pct} vs {approx}");
}

#[test]
fn decision_cache_is_lru_per_decision() {
    let id = |n: u8| TraceId([n; 16]);
    let mut c = DecisionCache::new(&DecisionCacheConfig { sampled_cache_size: 2, non_sampled_cache_size: 1 }, 100);
    c.put(id(1), Cached::Sampled(Some(0)));
    c.put(id(2), Cached::Sampled(None));
    assert!(c.get(&id(1)).is_some()); // 1 is now the most recent
    c.put(id(3), Cached::Sampled(Some(1)));
    assert_eq!(c.get(&id(2)), None, "least recently used goes first");
    assert_eq!(c.get(&id(1)), Some(Cached::Sampled(Some(0))));
    c.put(id(4), Cached::NotSampled);
    c.put(id(5), Cached::NotSampled);
    assert_eq!(c.get(&id(4)), None);
    assert_eq!(c.get(&id(5)), Some(Cached::NotSampled));
    // Many hits do not grow it.
    for _ in 0..1000 {
        c.get(&id(1));
    }
    assert_eq!(c.get(&id(3)), Some(Cached::Sampled(Some(1))));
}

#[test]
fn implicit_cache_remembers_both_decisions_for_num_traces_ids() {
    let mut c = DecisionCache::new(&DecisionCacheConfig::default(), 2);
    c.put(TraceId([1; 16]), Cached::NotSampled);
    c.put(TraceId([2; 16]), Cached::Sampled(None));
    assert_eq!(c.get(&TraceId([1; 16])), Some(Cached::NotSampled));
    c.put(TraceId([3; 16]), Cached::NotSampled);
    assert_eq!(c.get(&TraceId([2; 16])), None);
}
