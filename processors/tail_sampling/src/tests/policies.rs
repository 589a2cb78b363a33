//! Table: each case is a policy list and traces fed in order, each with the
//! policy expected to keep it (its `sampling.policy`) or `None` for not kept.

use aiotel_api::otlp::trace::v1::status::StatusCode::{Error, Ok as StatusOk};

use super::util::*;

struct Case {
    name: &'static str,
    policies: &'static str,
    traces: Vec<(Vec<aiotel_api::otlp::trace::v1::Span>, Option<&'static str>)>,
}

fn cases() -> Vec<Case> {
    let one = |t: u64| vec![span(t, "op")];
    vec![
        Case {
            name: "always_sample",
            policies: "[{name: all, type: always_sample}]",
            traces: vec![(one(1), Some("all"))],
        },
        Case {
            name: "latency lower bound is inclusive",
            policies: "[{name: slow, type: latency, latency: {threshold_ms: 5000}}]",
            traces: vec![
                (vec![span(1, "a").lasting_ms(6000)], Some("slow")),
                (vec![span(2, "a").lasting_ms(5000)], Some("slow")),
                (vec![span(3, "a").lasting_ms(1000)], None),
                // Duration spans the trace: earliest start to latest end.
                (vec![span(4, "a").lasting_ms(3000), span(4, "b").lasting_ms(5500)], Some("slow")),
            ],
        },
        Case {
            name: "latency with upper bound: lower exclusive, upper inclusive",
            policies: "[{name: mid, type: latency, latency: {threshold_ms: 1000, upper_threshold_ms: 3000}}]",
            traces: vec![
                (vec![span(1, "a").lasting_ms(2000)], Some("mid")),
                (vec![span(2, "a").lasting_ms(3000)], Some("mid")),
                (vec![span(3, "a").lasting_ms(1000)], None),
                (vec![span(4, "a").lasting_ms(5000)], None),
            ],
        },
        Case {
            name: "status_code",
            policies: "[{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]",
            traces: vec![
                (vec![span(1, "a"), span(1, "b").status(Error)], Some("errors")),
                (vec![span(2, "a").status(StatusOk)], None),
                (one(3), None),
            ],
        },
        Case {
            name: "status_code UNSET",
            policies: "[{name: unset, type: status_code, status_code: {status_codes: [UNSET]}}]",
            traces: vec![(one(1), Some("unset")), (vec![span(2, "a").status(Error)], None)],
        },
        Case {
            name: "probabilistic 100 and 0",
            policies: "[{name: none, type: probabilistic, probabilistic: {sampling_percentage: 0}},
                        {name: every, type: probabilistic, probabilistic: {sampling_percentage: 100}}]",
            traces: vec![(one(1), Some("every")), (one(2), Some("every"))],
        },
        Case {
            name: "string_attribute exact, span and resource",
            policies: "[{name: routes, type: string_attribute, string_attribute: {key: http.route, values: [/api, /v2]}},
                        {name: svc, type: string_attribute, string_attribute: {key: service.name, values: [svc]}}]",
            // Every test batch carries resource service.name=svc, so `svc` keeps all;
            // `routes` is credited first when it matches.
            traces: vec![
                (vec![span(1, "a").attr("http.route", "/api")], Some("routes")),
                (vec![span(2, "a").attr("http.route", "/health")], Some("svc")),
            ],
        },
        Case {
            name: "string_attribute needs a string value, non-empty on spans",
            policies: "[{name: s, type: string_attribute, string_attribute: {key: k, values: [v, '7']}}]",
            traces: vec![
                (vec![span(1, "a").attr("k", "v")], Some("s")),
                (vec![span(2, "a").attr("k", 7i64)], None),
                (vec![span(3, "a").attr("other", "v")], None),
            ],
        },
        Case {
            name: "string_attribute regex (unanchored, as Go's MatchString)",
            policies: "[{name: re, type: string_attribute,
                         string_attribute: {key: http.route, values: ['^/v1/name/.+', health], enabled_regex_matching: true, cache_max_size: 2}}]",
            traces: vec![
                (vec![span(1, "a").attr("http.route", "/v1/name/42")], Some("re")),
                (vec![span(2, "a").attr("http.route", "/v2/name/42")], None),
                (vec![span(3, "a").attr("http.route", "/healthz")], Some("re")),
                (vec![span(4, "a").attr("http.route", "/v1/name/42")], Some("re")),
            ],
        },
        Case {
            name: "string_attribute inverted: absent samples, present vetoes",
            policies: "[{name: not-acme, type: string_attribute, string_attribute: {key: tenant, values: [acme], invert_match: true}}]",
            traces: vec![
                (vec![span(1, "a").attr("tenant", "other")], Some("not-acme")),
                (one(2), Some("not-acme")),
                (vec![span(3, "a"), span(3, "b").attr("tenant", "acme")], None),
            ],
        },
        Case {
            name: "inverted sample yields to a plain not-sampled, inverted veto beats sampled",
            policies: "[{name: slow, type: latency, latency: {threshold_ms: 5000}},
                        {name: not-acme, type: string_attribute, string_attribute: {key: tenant, values: [acme], invert_match: true}}]",
            traces: vec![
                // slow: NotSampled, not-acme: InvertSampled -> not kept (the Collector's rule).
                (one(1), None),
                // slow: Sampled -> kept.
                (vec![span(2, "a").lasting_ms(6000)], Some("slow")),
                // slow: Sampled, but not-acme: InvertNotSampled vetoes.
                (vec![span(3, "a").lasting_ms(6000).attr("tenant", "acme")], None),
            ],
        },
        Case {
            name: "numeric_attribute range, min only",
            policies: "[{name: range, type: numeric_attribute, numeric_attribute: {key: http.status_code, min_value: 500, max_value: 599}},
                        {name: big, type: numeric_attribute, numeric_attribute: {key: size, min_value: 1000}}]",
            traces: vec![
                (vec![span(1, "a").attr("http.status_code", 503i64)], Some("range")),
                (vec![span(2, "a").attr("http.status_code", 200i64)], None),
                (vec![span(3, "a").attr("size", 5000i64)], Some("big")),
                (vec![span(4, "a").attr("http.status_code", "503")], None),
            ],
        },
        Case {
            name: "numeric_attribute inverted",
            policies: "[{name: not-5xx, type: numeric_attribute, numeric_attribute: {key: code, min_value: 500, max_value: 599, invert_match: true}}]",
            traces: vec![
                (vec![span(1, "a").attr("code", 200i64)], Some("not-5xx")),
                (vec![span(2, "a").attr("code", 502i64)], None),
            ],
        },
        Case {
            name: "boolean_attribute and inverted",
            policies: "[{name: force, type: boolean_attribute, boolean_attribute: {key: app.force_sample, value: true}}]",
            traces: vec![
                (vec![span(1, "a").attr("app.force_sample", true)], Some("force")),
                (vec![span(2, "a").attr("app.force_sample", false)], None),
                (vec![span(3, "a").attr("app.force_sample", "true")], None),
            ],
        },
        Case {
            name: "boolean_attribute inverted",
            policies: "[{name: b, type: boolean_attribute, boolean_attribute: {key: internal, value: true, invert_match: true}}]",
            traces: vec![(vec![span(1, "a").attr("internal", true)], None), (one(2), Some("b"))],
        },
        Case {
            name: "span_count inclusive range",
            policies: "[{name: mid, type: span_count, span_count: {min_spans: 2, max_spans: 3}}]",
            traces: vec![
                (vec![span(1, "a"), span(1, "b")], Some("mid")),
                (vec![span(2, "a"), span(2, "b"), span(2, "c")], Some("mid")),
                (one(3), None),
                ((0..5).map(|i| span(4, &format!("s{i}"))).collect(), None),
            ],
        },
        Case {
            name: "rate_limiting: strictly below spans_per_second in a second",
            policies: "[{name: rl, type: rate_limiting, rate_limiting: {spans_per_second: 5}}]",
            traces: vec![
                (vec![span(1, "a"), span(1, "b")], Some("rl")),
                (vec![span(2, "a"), span(2, "b")], Some("rl")),
                // 4 + 1 = 5 is not below 5.
                (one(3), None),
            ],
        },
        Case {
            name: "bytes_limiting: burst caps one trace and the second's total",
            policies: "[{name: bl, type: bytes_limiting, bytes_limiting: {bytes_per_second: 1, burst_capacity: 2000}}]",
            traces: vec![
                (vec![span(1, "a").attr("blob", "x".repeat(1200).as_str())], Some("bl")),
                // The bucket has ~800 bytes left.
                (vec![span(2, "a").attr("blob", "x".repeat(1200).as_str())], None),
                (one(3), Some("bl")),
            ],
        },
        Case {
            name: "trace_state",
            policies: "[{name: ts, type: trace_state, trace_state: {key: vendor, values: [keep, gold]}}]",
            traces: vec![
                (vec![span(1, "a").trace_state("other=1,vendor=gold")], Some("ts")),
                (vec![span(2, "a").trace_state("vendor=drop")], None),
                (one(3), None),
            ],
        },
        Case {
            name: "trace_flags",
            policies: "[{name: tf, type: trace_flags}]",
            traces: vec![(vec![span(1, "a").flags(0x101)], Some("tf")), (vec![span(2, "a").flags(0x100)], None)],
        },
        Case {
            name: "and: all sub-policies must sample",
            policies: "[{name: svc-errors, type: and, and: {and_sub_policy: [
                           {name: svc, type: string_attribute, string_attribute: {key: service.name, values: [svc]}},
                           {name: err, type: status_code, status_code: {status_codes: [ERROR]}}]}}]",
            traces: vec![(vec![span(1, "a").status(Error)], Some("svc-errors")), (one(2), None)],
        },
        Case {
            name: "and with an inverted sub-policy",
            policies: "[{name: not-health-errors, type: and, and: {and_sub_policy: [
                           {name: route, type: string_attribute, string_attribute: {key: http.route, values: [/health], invert_match: true}},
                           {name: err, type: status_code, status_code: {status_codes: [ERROR]}}]}}]",
            traces: vec![
                (vec![span(1, "a").status(Error).attr("http.route", "/api")], Some("not-health-errors")),
                (vec![span(2, "a").status(Error).attr("http.route", "/health")], None),
            ],
        },
        Case {
            name: "drop wins over any sample",
            policies: "[{name: all, type: always_sample},
                        {name: no-health, type: drop, drop: {drop_sub_policy: [
                           {name: health, type: string_attribute, string_attribute: {key: url.path, values: [/health, /metrics]}}]}}]",
            traces: vec![
                (vec![span(1, "a").attr("url.path", "/health")], None),
                (vec![span(2, "a").attr("url.path", "/api")], Some("all")),
            ],
        },
        Case {
            name: "composite: ordered sub-policies with span shares",
            // 10 spans/s: errors get 50% (5), the unlisted always_sample an equal share (5).
            policies: "[{name: comp, type: composite, composite: {max_total_spans_per_second: 10,
                           policy_order: [errors, rest],
                           composite_sub_policy: [
                             {name: rest, type: always_sample},
                             {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}],
                           rate_allocation: [{policy: errors, percent: 50}]}}]",
            traces: vec![
                (vec![span(1, "a").status(Error), span(1, "b"), span(1, "c")], Some("comp")),
                // errors would reach 6 > 5: not sampled, and `rest` is not asked (the Collector's rule).
                (vec![span(2, "a").status(Error), span(2, "b"), span(2, "c")], None),
                (vec![span(3, "a"), span(3, "b"), span(3, "c"), span(3, "d")], Some("comp")),
                // rest would reach 4 + 2 = 6 > 5.
                (vec![span(4, "a"), span(4, "b")], None),
                (vec![span(5, "a")], Some("comp")),
            ],
        },
        Case {
            name: "genai_cost sums the trace, both dialects",
            policies: "[{name: big-spenders, type: genai_cost, genai_cost: {min_cost: 1.0}}]",
            traces: vec![
                (vec![chat(1, 10, 10).attr("gen_ai.cost.total", 0.6), chat(1, 1, 1).attr("gen_ai.cost.total", 0.5)], Some("big-spenders")),
                (vec![span(2, "llm").attr("llm.cost.total", 1.5)], Some("big-spenders")),
                (vec![chat(3, 10, 10).attr("gen_ai.cost.total", 0.3)], None),
            ],
        },
        Case {
            name: "genai_tokens: input + output in any dialect, never twice",
            policies: "[{name: token-hogs, type: genai_tokens, genai_tokens: {min_tokens: 1000}}]",
            traces: vec![
                (vec![chat(1, 400, 100), chat(1, 400, 100)], Some("token-hogs")),
                (vec![span(2, "c").attr("gen_ai.usage.prompt_tokens", 700i64).attr("gen_ai.usage.completion_tokens", 300i64)], Some("token-hogs")),
                (vec![span(3, "c").attr("llm.token_count.prompt", 900.0).attr("llm.token_count.completion", "100")], Some("token-hogs")),
                // Current and deprecated names on one span: 600 counted once.
                (vec![chat(4, 600, 300).attr("gen_ai.usage.prompt_tokens", 600i64)], None),
                (vec![span(5, "c").attr("llm.token_count.total", 1200i64)], Some("token-hogs")),
            ],
        },
        Case {
            name: "genai_error filtered by error.type or exception.type",
            policies: "[{name: llm-errors, type: genai_error, genai_error: {error_types: [rate_limit_exceeded, RateLimitError]}}]",
            traces: vec![
                (vec![chat(1, 1, 1).status(Error).attr("error.type", "rate_limit_exceeded")], Some("llm-errors")),
                (vec![chat(2, 1, 1).status(Error).attr("error.type", "context_length_exceeded")], None),
                (vec![chat(3, 1, 1).status(Error).event("exception", vec![kv("exception.type", "openai.RateLimitError")])], Some("llm-errors")),
                // Not an LLM span.
                (vec![span(4, "GET /").status(Error).attr("error.type", "rate_limit_exceeded")], None),
                (vec![chat(5, 1, 1).attr("error.type", "rate_limit_exceeded")], None),
            ],
        },
        Case {
            name: "genai_error with no types: any LLM error, any dialect",
            policies: "[{name: any-llm-error, type: genai_error, genai_error: {}}]",
            traces: vec![
                (vec![span(1, "ChatCompletion").attr("openinference.span.kind", "LLM").status(Error)], Some("any-llm-error")),
                (vec![span(2, "x").attr("gen_ai.request.model", "claude").status(Error)], Some("any-llm-error")),
                (vec![tool(3, "search").attr("gen_ai.request.model", "gpt-4o").status(Error)], None),
            ],
        },
        Case {
            name: "genai_evaluation by score and by label",
            policies: "[{name: hallucinations, type: genai_evaluation, genai_evaluation: {name: hallucination, min_score: 0.5}},
                        {name: toxic, type: genai_evaluation, genai_evaluation: {name: toxicity, label: [toxic]}}]",
            traces: vec![
                (vec![chat(1, 1, 1).event("gen_ai.evaluation.result", vec![kv("gen_ai.evaluation.name", "hallucination"), kv("gen_ai.evaluation.score.value", 0.8)])], Some("hallucinations")),
                (vec![chat(2, 1, 1).event("gen_ai.evaluation.result", vec![kv("gen_ai.evaluation.name", "hallucination"), kv("gen_ai.evaluation.score.value", 0.2)])], None),
                (vec![chat(3, 1, 1).event("gen_ai.evaluation.result", vec![kv("gen_ai.evaluation.name", "relevance"), kv("gen_ai.evaluation.score.value", 0.9)])], None),
                (vec![chat(4, 1, 1).event("gen_ai.evaluation.result", vec![kv("gen_ai.evaluation.name", "toxicity"), kv("gen_ai.evaluation.score.label", "toxic")])], Some("toxic")),
                (vec![chat(5, 1, 1).event("gen_ai.evaluation.result", vec![kv("gen_ai.evaluation.name", "toxicity"), kv("gen_ai.evaluation.score.label", "clean")])], None),
            ],
        },
        Case {
            name: "genai_loop: too many LLM calls or one tool too often",
            policies: "[{name: runaway-agents, type: genai_loop, genai_loop: {max_llm_calls: 3, max_same_tool_calls: 2}}]",
            traces: vec![
                ((0..4).map(|_| chat(1, 1, 1)).collect(), Some("runaway-agents")),
                ((0..3).map(|_| tool(2, "search")).collect(), Some("runaway-agents")),
                (vec![span(3, "execute_tool fetch"), span(3, "execute_tool fetch"), span(3, "execute_tool fetch")], Some("runaway-agents")),
                (vec![chat(4, 1, 1), chat(4, 1, 1), chat(4, 1, 1), tool(4, "a"), tool(4, "a"), tool(4, "b"), tool(4, "b")], None),
            ],
        },
    ]
}

#[test]
fn every_policy_keeps_and_drops_as_expected() {
    let mut failures = Vec::new();
    for case in cases() {
        let mut h = Harness::yaml(&format!("decision_wait: 5s\npolicies: {}", case.policies));
        let n = case.traces.len() as u64;
        let mut want = std::collections::BTreeMap::new();
        for (i, (spans, keep)) in case.traces.into_iter().enumerate() {
            if let Some(p) = keep {
                want.insert(i as u64 + 1, (spans.len(), Some(p.to_string())));
            }
            h.push(spans);
        }
        assert!(h.out.is_empty(), "{}: nothing may leave before decision_wait", case.name);
        h.decide();
        let got = h.kept(1..=n);
        if got != want {
            failures.push(format!("{}:\n  want {want:?}\n   got {got:?}", case.name));
        }
        let s = h.ts.stats();
        assert_eq!(s.traces_sampled + s.traces_dropped, n, "{}: every trace decided", case.name);
        assert_eq!(s.traces_buffered, 0);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sampling_policy_names_the_first_keeping_policy_in_config_order() {
    let mut h = Harness::yaml(
        "decision_wait: 1s
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: slow, type: latency, latency: {threshold_ms: 1000}}",
    );
    h.push(vec![span(1, "a").lasting_ms(2000).status(Error).attr("sampling.policy", "upstream")]);
    h.push(vec![span(2, "a").lasting_ms(2000)]);
    h.decide();
    let kept = h.kept(1..=2);
    assert_eq!(kept[&1].1.as_deref(), Some("errors"), "replaces an upstream value");
    assert_eq!(kept[&2].1.as_deref(), Some("slow"));
    let s = h.ts.stats();
    assert_eq!((s.policies[0].kept, s.policies[1].kept), (1, 1));
    assert_eq!((s.policies[1].sampled, s.policies[0].not_sampled), (2, 1));
}

#[test]
fn sample_on_first_match_skips_later_drop() {
    let yaml = |first: bool| {
        format!(
            "decision_wait: 1s
sample_on_first_match: {first}
policies:
  - {{name: all, type: always_sample}}
  - {{name: no-x, type: drop, drop: {{drop_sub_policy: [{{name: x, type: boolean_attribute, boolean_attribute: {{key: x, value: true}}}}]}}}}"
        )
    };
    for (first, kept) in [(false, 0), (true, 1)] {
        let mut h = Harness::yaml(&yaml(first));
        h.push(vec![span(1, "a").attr("x", true)]);
        h.decide();
        assert_eq!(h.kept([1]).len(), kept, "sample_on_first_match: {first}");
    }
}

#[test]
fn spans_of_one_trace_across_batches_and_resources_are_decided_together() {
    let mut h = Harness::yaml(
        "decision_wait: 10s\npolicies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]",
    );
    h.push(vec![span(1, "root"), span(2, "other")]);
    h.clock.advance(std::time::Duration::from_secs(3));
    let b = aiotel_api::Batch::new(
        aiotel_api::Payload::Traces(vec![
            resource(vec![kv("service.name", "db")], vec![span(1, "query").status(Error)]),
            resource(vec![kv("service.name", "cache")], vec![span(1, "get")]),
        ]),
        vec![],
    );
    aiotel_api::Processor::process(&mut h.ts, b, &mut h.out);
    // Trace 1 is due 10 s after its first span, not after its last.
    let now = h.clock.advance(std::time::Duration::from_millis(7001));
    aiotel_api::Processor::on_deadline(&mut h.ts, now, &mut h.out);
    assert_eq!(h.kept(1..=2)[&1].0, 3);
    // Kept spans keep their own resources.
    let services: Vec<_> = h
        .out
        .iter()
        .flat_map(|b| match &b.payload {
            aiotel_api::Payload::Traces(rs) => rs.clone(),
            _ => vec![],
        })
        .map(|r| format!("{:?}", r.resource.unwrap().attributes[0].value))
        .collect();
    assert_eq!(services.len(), 3, "{services:?}");
    assert!(h.ts.header_count() == 0, "headers are released with their spans");
}
