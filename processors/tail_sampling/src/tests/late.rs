//! Late spans: arriving after their trace was decided.

use aiotel_api::otlp::trace::v1::status::StatusCode::Error;
use aiotel_api::Processor;

use super::util::*;

const ERRORS: &str = "policies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]";

#[test]
fn late_spans_follow_the_cached_decision() {
    let mut h = Harness::yaml(&format!(
        "decision_wait: 5s\ndecision_cache: {{sampled_cache_size: 100, non_sampled_cache_size: 100}}\n{ERRORS}"
    ));
    h.push(vec![span(1, "a").status(Error), span(2, "a")]);
    h.decide();
    assert_eq!(h.kept(1..=2).keys().copied().collect::<Vec<_>>(), vec![1]);
    h.out.clear();

    // A late OK span of the kept trace is kept; a late ERROR span of the
    // dropped trace is dropped: the decision stands.
    h.push(vec![span(1, "late-ok"), span(2, "late-error").status(Error)]);
    let kept = h.kept(1..=2);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[&1], (1, Some("errors".to_string())), "passed on at once, tagged");
    let s = h.ts.stats();
    assert_eq!((s.late_spans_sampled, s.late_spans_dropped), (1, 1));
    assert_eq!(s.traces_received, 2, "late spans do not start new traces");
    assert_eq!(s.traces_buffered, 0);
    assert!(h.ts.next_deadline().is_none());
}

#[test]
fn default_cache_remembers_both_decisions() {
    // No decision_cache: like the Collector's num_traces ring, decisions are still remembered.
    let mut h = Harness::yaml(&format!("decision_wait: 5s\n{ERRORS}"));
    h.push(vec![span(1, "a").status(Error), span(2, "a")]);
    h.decide();
    h.push(vec![span(1, "late"), span(2, "late").status(Error)]);
    let s = h.ts.stats();
    assert_eq!((s.late_spans_sampled, s.late_spans_dropped), (1, 1));
}

#[test]
fn without_a_non_sampled_cache_late_spans_start_over() {
    let mut h = Harness::yaml(&format!("decision_wait: 5s\ndecision_cache: {{sampled_cache_size: 10}}\n{ERRORS}"));
    h.push(vec![span(2, "a")]);
    h.decide();
    assert!(h.out.is_empty());
    // Trace 2's drop was not remembered: its late ERROR span is a new trace, kept.
    h.push(vec![span(2, "late").status(Error)]);
    assert_eq!(h.ts.stats().traces_buffered, 1);
    h.decide();
    assert_eq!(h.kept([2])[&2].0, 1);
    let s = h.ts.stats();
    assert_eq!((s.traces_received, s.traces_sampled, s.traces_dropped), (2, 1, 1));
}

#[test]
fn evicted_cache_entries_are_forgotten() {
    let mut h = Harness::yaml(&format!(
        "decision_wait: 5s\ndecision_cache: {{sampled_cache_size: 2, non_sampled_cache_size: 2}}\n{ERRORS}"
    ));
    h.push((1..=5).map(|t| span(t, "a").status(Error)).collect());
    h.decide();
    h.out.clear();
    h.push(vec![span(1, "late"), span(5, "late")]);
    let s = h.ts.stats();
    assert_eq!(s.late_spans_sampled, 1, "only trace 5 is still remembered");
    assert_eq!(s.traces_buffered, 1);
}
