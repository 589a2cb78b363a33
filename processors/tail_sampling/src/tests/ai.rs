//! The GenAI policies on agent-shaped traces, next to a 1% baseline.

use std::collections::BTreeSet;

use aiotel_api::otlp::trace::v1::status::StatusCode::Error;

use super::util::*;
use crate::policy::{fnv1a64, threshold};

const AI: &str = "
decision_wait: 10s
policies:
  - {name: big-spenders, type: genai_cost, genai_cost: {min_cost: 1.0}}
  - {name: token-hogs, type: genai_tokens, genai_tokens: {min_tokens: 100000}}
  - {name: llm-errors, type: genai_error, genai_error: {error_types: [rate_limit_exceeded]}}
  - {name: hallucinations, type: genai_evaluation, genai_evaluation: {name: hallucination, min_score: 0.5}}
  - {name: runaway-agents, type: genai_loop, genai_loop: {max_llm_calls: 25, max_same_tool_calls: 10}}
  - {name: baseline, type: probabilistic, probabilistic: {sampling_percentage: 1}}
";

fn agent(t: u64, calls: usize) -> Vec<aiotel_api::otlp::trace::v1::Span> {
    let mut v = vec![span(t, "invoke_agent planner").attr("gen_ai.operation.name", "invoke_agent")];
    for i in 0..calls {
        v.push(chat(t, 200, 50).attr("gen_ai.cost.total", 0.001));
        if i % 4 == 0 {
            v.push(tool(t, ["search", "fetch", "calc"][i % 3]));
        }
    }
    v
}

/// The Collector's choice for a 1% probabilistic policy with the default salt.
fn baseline_picks(t: u64) -> bool {
    fnv1a64(&[b"default-hash-seed", &tid(t)]) <= threshold(0.01)
}

#[test]
fn ai_policies_keep_the_interesting_traces() {
    let mut h = Harness::yaml(AI);
    h.push(agent(1, 40));
    h.push((0..4).map(|_| chat(2, 3000, 1000).attr("gen_ai.cost.total", 0.5)).collect());
    h.push(vec![
        span(3, "invoke_agent support").attr("gen_ai.operation.name", "invoke_agent"),
        chat(3, 500, 200).event(
            "gen_ai.evaluation.result",
            vec![
                kv("gen_ai.evaluation.name", "hallucination"),
                kv("gen_ai.evaluation.score.value", 0.92),
                kv("gen_ai.evaluation.score.label", "hallucinated"),
            ],
        ),
    ]);
    h.push(vec![
        span(4, "invoke_agent writer").attr("gen_ai.operation.name", "invoke_agent"),
        chat(4, 120_000, 0).status(Error).attr("error.type", "rate_limit_exceeded"),
    ]);
    h.push(
        vec![span(5, "loop").attr("openinference.span.kind", "AGENT")]
            .into_iter()
            .chain((0..11).map(|_| tool(5, "browser")))
            .collect(),
    );
    // Boring twins: same shapes, under every limit.
    h.push(agent(6, 10));
    h.push(vec![chat(7, 100, 100).attr("gen_ai.cost.total", 0.4)]);
    h.push(vec![chat(8, 1, 1).status(Error).attr("error.type", "context_length_exceeded")]);
    h.decide();

    let kept = h.kept(1..=8);
    let by = |t: u64| kept.get(&t).and_then(|k| k.1.clone());
    assert_eq!(by(1).as_deref(), Some("runaway-agents"), "40 LLM calls");
    assert_eq!(kept[&1].0, 51, "all spans of a kept trace go on");
    assert_eq!(by(2).as_deref(), Some("big-spenders"), "$2.00");
    assert_eq!(by(3).as_deref(), Some("hallucinations"));
    // Trace 4 also has 120k tokens: token-hogs comes first in config order.
    assert_eq!(by(4).as_deref(), Some("token-hogs"));
    assert_eq!(by(5).as_deref(), Some("runaway-agents"), "11 calls of one tool");
    for t in 6..=8 {
        assert_eq!(kept.contains_key(&t), baseline_picks(t), "trace {t} only by the 1% baseline");
    }
    let s = h.ts.stats();
    assert_eq!(s.policies[2].sampled, 1, "llm-errors voted for the rate-limited call only");
}

#[test]
fn rate_limited_error_alone_is_kept_by_genai_error() {
    let mut h = Harness::yaml(AI);
    h.push(vec![chat(4, 10, 0).status(Error).attr("error.type", "rate_limit_exceeded")]);
    h.decide();
    assert_eq!(h.kept([4])[&4].1.as_deref(), Some("llm-errors"));
}

#[test]
fn one_percent_of_boring_traces_deterministically() {
    const N: u64 = 10_000;
    // Binomial(10000, 0.01): mean 100, sd 9.95; +-40 is 4 sd.
    const TOLERANCE: usize = 40;
    let run = || {
        let mut h = Harness::yaml(AI);
        for chunk in (1000..1000 + N).collect::<Vec<_>>().chunks(500) {
            h.push(chunk.iter().map(|&t| chat(t, 100, 20).attr("gen_ai.cost.total", 0.0001)).collect());
        }
        h.decide();
        let kept = h.kept(1000..1000 + N);
        assert!(kept.values().all(|k| k.1.as_deref() == Some("baseline")));
        kept.keys().copied().collect::<BTreeSet<_>>()
    };
    let kept = run();
    assert!(kept.len().abs_diff(100) <= TOLERANCE, "kept {} of {N}", kept.len());
    let expected: BTreeSet<u64> = (1000..1000 + N).filter(|&t| baseline_picks(t)).collect();
    assert_eq!(kept, expected, "the Collector's hash picks exactly these");
    assert_eq!(run(), kept, "deterministic on trace id");
}
