//! The byte budget, the per-trace cap, early eviction and accounting.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aiotel_api::otlp::trace::v1::status::StatusCode::Error;
use aiotel_api::otlp::trace::v1::Span;
use aiotel_api::Processor;
use prost::Message;

use super::util::*;
use crate::policy::{fnv1a64, threshold};

fn check_accounting(s: &crate::Stats) {
    assert_eq!(s.traces_sampled + s.traces_dropped + s.traces_buffered, s.traces_received, "{s:#?}");
    assert_eq!(
        s.spans_sampled + s.spans_dropped + s.spans_buffered + s.late_spans_sampled + s.late_spans_dropped,
        s.spans_received
    );
}

#[test]
fn budget_holds_under_200k_traces_and_every_trace_is_decided() {
    const TRACES: u64 = 200_000;
    const PER_BATCH: u64 = 200;
    const BUDGET: u64 = 64 << 20;
    let mut h = Harness::yaml(&format!(
        "decision_wait: 10s
num_traces: 1000000
max_buffer_bytes: {BUDGET}
policies:
  - {{name: tenth, type: probabilistic, probabilistic: {{sampling_percentage: 10}}}}
  - {{name: errors, type: status_code, status_code: {{status_codes: [ERROR]}}}}"
    ));
    let shape = |t: u64| -> Vec<Span> {
        let mut root = span(t, "invoke_agent planner").attr("gen_ai.operation.name", "invoke_agent");
        if t.is_multiple_of(37) {
            root = root.status(Error);
        }
        vec![
            root,
            chat(t, 1200, 300).attr("gen_ai.cost.total", 0.0123).attr("server.address", "api.openai.com"),
            tool(t, "search").attr("gen_ai.tool.call.id", "call_abc123"),
        ]
    };
    let mut max_bytes = 0;
    for b in 0..TRACES / PER_BATCH {
        let spans = (b * PER_BATCH..(b + 1) * PER_BATCH).flat_map(shape).collect();
        h.push(spans);
        // 20 ms a batch: 20 s in all, so the 10 s wait and the budget both bite.
        let now = h.clock.advance(Duration::from_millis(20));
        h.ts.on_deadline(now, &mut h.out);
        let s = h.ts.stats();
        max_bytes = max_bytes.max(s.bytes_buffered);
        assert!(s.bytes_buffered <= BUDGET, "batch {b}: {} > {BUDGET}", s.bytes_buffered);
        check_accounting(&s);
    }
    let before_flush = h.ts.stats();
    h.ts.flush(&mut h.out);
    let s = h.ts.stats();
    check_accounting(&s);
    assert_eq!(s.traces_buffered, 0);
    assert_eq!(s.traces_received, TRACES);
    assert!(s.evicted_early > 10_000, "the budget forced early decisions: {s:#?}");
    assert!(max_bytes > BUDGET * 9 / 10, "the budget was used: {max_bytes}");

    // Evicted traces were decided by the policies on all of their spans.
    let t10 = threshold(0.10);
    let expected: BTreeSet<u64> =
        (0..TRACES).filter(|&t| t.is_multiple_of(37) || fnv1a64(&[b"default-hash-seed", &tid(t)]) <= t10).collect();
    assert_eq!(s.traces_sampled, expected.len() as u64);
    let mut spans_per_kept: BTreeMap<u64, usize> = BTreeMap::new();
    for (n, (c, _)) in h.kept(0..TRACES) {
        spans_per_kept.insert(n, c);
    }
    assert_eq!(spans_per_kept.keys().copied().collect::<BTreeSet<_>>(), expected);
    assert!(spans_per_kept.values().all(|&c| c == 3));
    eprintln!(
        "200k traces: evicted early {}, sampled {}, peak {} bytes for ~{} buffered traces",
        s.evicted_early, s.traces_sampled, max_bytes, before_flush.traces_buffered
    );
}

/// A 5-span GenAI trace as instrumentations emit it.
fn genai_trace(t: u64) -> Vec<Span> {
    vec![
        span(t, "invoke_agent support-bot")
            .attr("gen_ai.operation.name", "invoke_agent")
            .attr("gen_ai.agent.name", "support-bot")
            .attr("gen_ai.conversation.id", "conv_5j66UpCpwteGg4YSxUnt7lPY"),
        chat(t, 1843, 312)
            .attr("gen_ai.cost.total", 0.00773)
            .attr("gen_ai.response.id", "chatcmpl-9J3uIL87gldCFtiIbyaOvTeYBRA3l")
            .attr("gen_ai.response.finish_reasons", "tool_calls")
            .attr("server.address", "api.openai.com"),
        tool(t, "search_knowledge_base").attr("gen_ai.tool.call.id", "call_mszuSIzqtI65i1wAUOE8w5H4"),
        chat(t, 2511, 587)
            .attr("gen_ai.cost.total", 0.01215)
            .attr("gen_ai.response.id", "chatcmpl-9J3uJd1hyBHWGv9ZkXhZ3TBWJkD1m")
            .attr("gen_ai.response.finish_reasons", "stop")
            .attr("server.address", "api.openai.com"),
        span(t, "POST /v1/chat")
            .attr("http.request.method", "POST")
            .attr("http.route", "/v1/chat")
            .attr("http.response.status_code", 200i64),
    ]
}

#[test]
fn bytes_per_buffered_span_vs_encoded_size() {
    let mut h = Harness::yaml(
        "decision_wait: 30s
policies:
  - {name: a, type: genai_cost, genai_cost: {min_cost: 1.0}}
  - {name: b, type: genai_loop, genai_loop: {max_llm_calls: 25, max_same_tool_calls: 10}}
  - {name: c, type: string_attribute, string_attribute: {key: http.route, values: [/v1/chat]}}",
    );
    let mut encoded = 0usize;
    for t in 0..2000 {
        let spans = genai_trace(t);
        encoded += spans.iter().map(|s| s.encoded_len()).sum::<usize>();
        h.push(spans);
    }
    let s = h.ts.stats();
    assert_eq!(s.spans_buffered, 10_000);
    let per_span = s.bytes_buffered as f64 / s.spans_buffered as f64;
    let enc_per_span = encoded as f64 / s.spans_buffered as f64;
    let ratio = per_span / enc_per_span;
    eprintln!("buffered {per_span:.0} B/span for {enc_per_span:.0} B encoded: {ratio:.2}x");
    assert!(ratio < 1.5, "{ratio:.2}x the encoded size");
}

#[test]
fn one_huge_trace_is_decided_at_its_cap_and_cannot_starve_others() {
    let mut h = Harness::yaml(
        "decision_wait: 10s
max_buffer_bytes: 1048576
max_trace_bytes: 131072
policies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]",
    );
    let blob = "x".repeat(4000);
    for round in 0..100u64 {
        // The huge trace grows by ~40 KB a batch; small traces keep arriving.
        let mut spans: Vec<Span> = (0..10).map(|i| span(1, &format!("big{i}")).attr("blob", blob.as_str())).collect();
        spans.push(span(100 + round, "small").status(Error));
        h.push(spans);
        assert!(h.ts.stats().bytes_buffered <= 1 << 20);
    }
    let s = h.ts.stats();
    assert_eq!(s.decided_over_trace_cap, 1, "{s:#?}");
    assert_eq!(s.evicted_early, 0, "small traces were not pushed out");
    assert_eq!(s.traces_buffered, 100);
    // Decided (not kept: no error) at the cap with what it had; the rest followed.
    assert_eq!(s.traces_dropped, 1);
    assert!(s.late_spans_dropped > 900, "{s:#?}");
    check_accounting(&s);
}

#[test]
fn num_traces_evicts_oldest_first_with_a_decision() {
    let mut h = Harness::yaml(
        "decision_wait: 10s
num_traces: 3
policies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]",
    );
    for t in 1..=5 {
        h.push(vec![span(t, "a").status(Error)]);
    }
    let s = h.ts.stats();
    assert_eq!((s.evicted_early, s.traces_buffered), (2, 3));
    assert_eq!(h.kept(1..=5).keys().copied().collect::<Vec<_>>(), vec![1, 2], "oldest first, kept on their data");
    h.decide();
    assert_eq!(h.kept(1..=5).len(), 5);
}

#[test]
fn shutdown_decides_or_drops_pending_traces() {
    for (drop, kept) in [(false, 1), (true, 0)] {
        let mut h = Harness::yaml(&format!(
            "drop_pending_traces_on_shutdown: {drop}\npolicies: [{{name: all, type: always_sample}}]"
        ));
        h.push(vec![span(1, "a")]);
        h.ts.flush(&mut h.out);
        assert_eq!(h.kept([1]).len(), kept);
        let s = h.ts.stats();
        assert_eq!(s.traces_sampled + s.traces_dropped, 1);
    }
}

#[test]
fn acks_are_settled_when_buffered_and_other_signals_pass_through() {
    let mut h = Harness::yaml("policies: [{name: all, type: always_sample}]");
    let (ack, mut rx) = aiotel_api::Ack::new();
    let mut b = batch(vec![span(1, "a")]);
    b.acks.push(ack);
    h.ts.process(b, &mut h.out);
    assert!(rx.try_recv().unwrap().is_ok());
    assert!(h.out.is_empty());
    let (ack, _rx) = aiotel_api::Ack::new();
    h.ts.process(aiotel_api::Batch::new(aiotel_api::Payload::Logs(vec![]), vec![ack]), &mut h.out);
    assert_eq!(h.out.len(), 1);
    assert_eq!(h.out[0].acks.len(), 1);
    h.out.pop().unwrap().ok();
}

#[test]
fn durable_acks_wait_for_the_decision_and_travel_with_kept_spans() {
    use aiotel_api::Ack;
    // Trace 1 is kept (an error), trace 2 dropped; both came in one durable request.
    let mut h = Harness::yaml("policies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]");
    let (mut ack, mut rx) = Ack::new();
    ack.set_durable();
    let mut b = batch(vec![span(1, "a").status(Error), span(2, "b")]);
    b.acks.push(ack);
    h.ts.process(b, &mut h.out);
    assert!(h.out.is_empty());
    assert!(rx.try_recv().is_err(), "a durable ack waits while its spans are buffered");
    let now = h.clock.advance(h.wait + Duration::from_millis(1));
    h.ts.on_deadline(now, &mut h.out);
    assert_eq!(h.out.len(), 1);
    assert!(rx.try_recv().is_err(), "the kept trace still has to be delivered");
    let kept = h.out.pop().unwrap();
    assert_eq!(kept.payload.item_count(), 1);
    assert!(kept.acks.iter().all(Ack::is_durable) && !kept.acks.is_empty());
    kept.fail(&aiotel_api::PipelineError::unavailable("backend down"));
    assert!(rx.try_recv().unwrap().unwrap_err().is_retryable(), "the failed delivery reaches the client");

    // A dropped trace settles its request as soon as it is decided.
    let (mut ack, mut rx) = Ack::new();
    ack.set_durable();
    let mut b = batch(vec![span(3, "c")]);
    b.acks.push(ack);
    h.ts.process(b, &mut h.out);
    assert!(rx.try_recv().is_err());
    let now = h.clock.advance(h.wait + Duration::from_millis(1));
    h.ts.on_deadline(now, &mut h.out);
    assert!(h.out.is_empty());
    assert!(rx.try_recv().unwrap().is_ok());
}
