//! A scripted mix of LLM traces in four dialects. Every count, sum and bucket
//! of every emitted metric is checked against values worked out by hand
//! (in the comments next to each expectation).

mod common;

use common::*;

use aiotel_spanmetrics::{SpanMetricsConfig, SpanMetricsConnector};

const EVAL: &str = "gen_ai.evaluation.result";

fn traces() -> Vec<aiotel_api::otlp::trace::v1::ResourceSpans> {
    let user = |u: &str| s("enduser.id", u);
    // 1. OTel current dialect: streamed chat, TTFT as an attribute, one evaluation.
    let mut s1 = span(
        "chat gpt-4o",
        KIND_CLIENT,
        0,
        0,
        1200,
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            s("gen_ai.response.model", "gpt-4o-2024-08-06"),
            s("server.address", "api.openai.com"),
            i("gen_ai.usage.input_tokens", 100),
            i("gen_ai.usage.output_tokens", 50),
            d("gen_ai.response.time_to_first_chunk", 0.2),
            user("u1"),
            s("tenant.id", "t1"),
            s("gen_ai.conversation.id", "c1"),
            d("gen_ai.cost.total", 0.00075),
            s("gen_ai.cost.currency", "USD"),
        ],
    );
    s1.events.push(event(
        EVAL,
        s1.end_time_unix_nano,
        vec![
            s("gen_ai.evaluation.name", "hallucination"),
            d("gen_ai.evaluation.score.value", 1.0),
            s("gen_ai.evaluation.score.label", "hallucinated"),
        ],
    ));
    // 2. OTel deprecated names (gen_ai.system, prompt/completion tokens, user.id):
    //    the same series as span 1. TTFT from a first-token event 100 ms in.
    let mut s2 = span(
        "chat gpt-4o",
        KIND_CLIENT,
        0,
        2000,
        500,
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.system", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            s("gen_ai.response.model", "gpt-4o-2024-08-06"),
            s("server.address", "api.openai.com"),
            i("gen_ai.usage.prompt_tokens", 300),
            i("gen_ai.usage.completion_tokens", 20),
            s("user.id", "u1"),
            s("tenant.id", "t1"),
            s("gen_ai.conversation.id", "c1"),
            d("gen_ai.cost.total", 0.00095),
        ],
    );
    s2.events.push(event("gen_ai.first_token", s2.start_time_unix_nano + 100 * MS, vec![]));
    // 3. OpenInference: span kind LLM, llm.* names, session.id, cost in llm.cost.total.
    let s3 = span(
        "ChatAnthropic",
        KIND_INTERNAL,
        0,
        3000,
        3000,
        vec![
            s("openinference.span.kind", "LLM"),
            s("llm.provider", "anthropic"),
            s("llm.model_name", "claude-sonnet-4-5"),
            i("llm.token_count.prompt", 1000),
            i("llm.token_count.completion", 200),
            i("llm.token_count.total", 1200),
            s("session.id", "c2"),
            s("user.id", "u2"),
            d("llm.cost.total", 0.006),
        ],
    );
    // 4. OpenLLMetry legacy: llm.request.type, gen_ai.system "Anthropic"; failed without error.type.
    let s4 = span(
        "anthropic.chat",
        KIND_CLIENT,
        ERROR,
        7000,
        50,
        vec![
            s("llm.request.type", "chat"),
            s("gen_ai.system", "Anthropic"),
            s("gen_ai.request.model", "claude-haiku-4-5"),
            s("gen_ai.response.model", "claude-haiku-4-5"),
            i("gen_ai.usage.prompt_tokens", 10),
        ],
    );
    // 5. Failed embeddings call with error.type, costed in EUR.
    let s5 = span(
        "embeddings text-embedding-3-small",
        KIND_CLIENT,
        ERROR,
        8000,
        10500,
        vec![
            s("gen_ai.operation.name", "embeddings"),
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.request.model", "text-embedding-3-small"),
            i("gen_ai.usage.input_tokens", 5000),
            s("error.type", "timeout"),
            d("gen_ai.cost.total", 0.0001),
            s("gen_ai.cost.currency", "EUR"),
        ],
    );
    // 6. An agent whose tokens roll up its calls: duration only, no tokens.
    let s6 = span(
        "invoke_agent planner",
        KIND_INTERNAL,
        OK,
        20000,
        5000,
        vec![
            s("gen_ai.operation.name", "invoke_agent"),
            s("gen_ai.provider.name", "openai"),
            i("gen_ai.usage.input_tokens", 1100),
        ],
    );
    // 7. A plain span carrying two evaluation results.
    let mut s7 = span("evaluate answer", KIND_INTERNAL, 0, 26000, 20, vec![]);
    for (name, score, label) in [("relevance", 0.9, "relevant"), ("hallucination", 0.0, "no_hallucination")] {
        s7.events.push(event(
            EVAL,
            s7.end_time_unix_nano,
            vec![
                s("gen_ai.evaluation.name", name),
                d("gen_ai.evaluation.score.value", score),
                s("gen_ai.evaluation.score.label", label),
            ],
        ));
    }
    // 8. Not GenAI at all.
    let s8 = span("GET /health", KIND_SERVER, OK, 27000, 3, vec![s("http.request.method", "GET")]);
    // 9. Another service: an OpenInference embedding.
    let s9 = span(
        "embed",
        KIND_INTERNAL,
        0,
        0,
        80,
        vec![
            s("openinference.span.kind", "EMBEDDING"),
            s("llm.model_name", "text-embedding-3-small"),
            i("llm.token_count.prompt", 42),
        ],
    );
    let chatbot = vec![s("service.name", "chatbot"), s("deployment.environment.name", "prod")];
    vec![
        resource(chatbot.clone(), "mixed", vec![s1, s2, s3]),
        resource(chatbot, "mixed", vec![s4, s5, s6, s7, s8]),
        resource(vec![s("service.name", "rag-api")], "openinference", vec![s9]),
    ]
}

/// The GenAI attributes every series has, then the attribution ones.
fn genai_attrs(pairs: &[(&str, &str)], service: &str) -> Attrs {
    let mut a = am(pairs);
    a.insert("service.name".into(), service.into());
    if service == "chatbot" {
        a.insert("deployment.environment.name".into(), "prod".into());
    }
    a
}

fn s1_common() -> Attrs {
    genai_attrs(
        &[
            ("gen_ai.operation.name", "chat"),
            ("gen_ai.provider.name", "openai"),
            ("gen_ai.request.model", "gpt-4o"),
            ("gen_ai.response.model", "gpt-4o-2024-08-06"),
            ("server.address", "api.openai.com"),
            ("enduser.id", "u1"),
            ("tenant.id", "t1"),
            ("gen_ai.conversation.id", "c1"),
        ],
        "chatbot",
    )
}
fn s3_common() -> Attrs {
    genai_attrs(
        &[
            ("gen_ai.operation.name", "chat"),
            ("gen_ai.provider.name", "anthropic"),
            ("gen_ai.response.model", "claude-sonnet-4-5"),
            ("enduser.id", "u2"),
            ("gen_ai.conversation.id", "c2"),
        ],
        "chatbot",
    )
}
fn s4_common() -> Attrs {
    genai_attrs(
        &[
            ("gen_ai.operation.name", "chat"),
            ("gen_ai.provider.name", "anthropic"),
            ("gen_ai.request.model", "claude-haiku-4-5"),
            ("gen_ai.response.model", "claude-haiku-4-5"),
        ],
        "chatbot",
    )
}
fn s5_common() -> Attrs {
    genai_attrs(
        &[
            ("gen_ai.operation.name", "embeddings"),
            ("gen_ai.provider.name", "openai"),
            ("gen_ai.request.model", "text-embedding-3-small"),
        ],
        "chatbot",
    )
}
fn s6_common() -> Attrs {
    genai_attrs(&[("gen_ai.operation.name", "invoke_agent"), ("gen_ai.provider.name", "openai")], "chatbot")
}
fn s7_common() -> Attrs {
    genai_attrs(&[], "chatbot")
}
fn s9_common() -> Attrs {
    genai_attrs(
        &[("gen_ai.operation.name", "embeddings"), ("gen_ai.response.model", "text-embedding-3-small")],
        "rag-api",
    )
}

fn with(mut a: Attrs, pairs: &[(&str, &str)]) -> Attrs {
    a.extend(am(pairs));
    a
}

/// Expected histogram point: attributes, count, sum, non-zero buckets.
type Want = (Attrs, u64, f64, Vec<(usize, u64)>);

fn check_hist(rms: &[aiotel_api::otlp::metrics::v1::ResourceMetrics], name: &str, bounds: &[f64], want: Vec<Want>) {
    let mut got = hist_points(rms, name);
    assert_eq!(got.len(), want.len(), "{name}: points {:#?}", got.iter().map(|p| &p.attrs).collect::<Vec<_>>());
    for (attrs, count, sum, set) in want {
        let at = got.iter().position(|p| p.attrs == attrs).unwrap_or_else(|| panic!("{name}: no point {attrs:#?}"));
        let p = got.remove(at);
        assert_eq!(p.bounds, bounds, "{name} bounds");
        assert_eq!(p.count, count, "{name} {attrs:?} count");
        assert!(close(p.sum, sum), "{name} {attrs:?} sum {} != {sum}", p.sum);
        assert_eq!(p.buckets, buckets(bounds.len() + 1, &set), "{name} {attrs:?} buckets");
    }
}

fn check_sum(rms: &[aiotel_api::otlp::metrics::v1::ResourceMetrics], name: &str, want: Vec<(Attrs, f64, &str)>) {
    let mut got = sum_points(rms, name);
    assert_eq!(got.len(), want.len(), "{name}: points {got:#?}");
    for (attrs, value, unit) in want {
        let at = got.iter().position(|p| p.attrs == attrs).unwrap_or_else(|| panic!("{name}: no point {attrs:#?}"));
        let p = got.remove(at);
        assert!(close(p.value, value), "{name} {attrs:?}: {} != {value}", p.value);
        assert_eq!(p.unit, unit, "{name} unit");
    }
}

const TOKEN_B: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
    67108864.0,
];
const DURATION_B: [f64; 14] = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TTFT_B: [f64; 16] = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
const TPOT_B: [f64; 13] = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5];
const SCORE_B: [f64; 16] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0];
const MS_B: [f64; 16] =
    [2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0, 5000.0, 10000.0, 15000.0];

#[test]
fn every_metric_matches_hand_computed_values() {
    let mut c = SpanMetricsConnector::new(&SpanMetricsConfig::default()).unwrap();
    // Split over two requests: state accumulates across batches.
    let mut t = traces();
    let last = t.split_off(2);
    feed(&mut c, t);
    feed(&mut c, last);
    let rms = flush(&mut c);

    let st = c.stats();
    assert_eq!((st.spans, st.genai_spans, st.resources), (9, 7, 2));

    // --- gen_ai.client.token.usage ({token}); buckets (1,4] idx1, (4,16] 2, (16,64] 3, (64,256] 4, (256,1024] 5, (4096,16384] 7.
    let tok = |a: Attrs, t: &str| with(a, &[("gen_ai.token.type", t)]);
    check_hist(
        &rms,
        "gen_ai.client.token.usage",
        &TOKEN_B,
        vec![
            // spans 1+2: 100 -> idx 4, 300 -> idx 5
            (tok(s1_common(), "input"), 2, 400.0, vec![(4, 1), (5, 1)]),
            // spans 1+2: 50 and 20, both (16,64]
            (tok(s1_common(), "output"), 2, 70.0, vec![(3, 2)]),
            (tok(s3_common(), "input"), 1, 1000.0, vec![(5, 1)]),
            (tok(s3_common(), "output"), 1, 200.0, vec![(4, 1)]),
            (tok(s4_common(), "input"), 1, 10.0, vec![(2, 1)]),
            (tok(s5_common(), "input"), 1, 5000.0, vec![(7, 1)]),
            (tok(s9_common(), "input"), 1, 42.0, vec![(3, 1)]),
            // span 6 is an agent roll-up: no tokens.
        ],
    );
    let units: Vec<&str> = metrics(&rms, "gen_ai.client.token.usage").iter().map(|(_, m)| m.unit.as_str()).collect();
    assert!(units.iter().all(|u| *u == "{token}"));

    // --- gen_ai.client.operation.duration (s); (0.04,0.08] idx3, (0.32,0.64] 6, (0.64,1.28] 7, (2.56,5.12] 9, (10.24,20.48] 11.
    check_hist(
        &rms,
        "gen_ai.client.operation.duration",
        &DURATION_B,
        vec![
            (s1_common(), 2, 1.7, vec![(7, 1), (6, 1)]),
            (s3_common(), 1, 3.0, vec![(9, 1)]),
            (with(s4_common(), &[("error.type", "_OTHER")]), 1, 0.05, vec![(3, 1)]),
            (with(s5_common(), &[("error.type", "timeout")]), 1, 10.5, vec![(11, 1)]),
            (s6_common(), 1, 5.0, vec![(9, 1)]),
            (s9_common(), 1, 0.08, vec![(3, 1)]),
        ],
    );

    // --- gen_ai.server.time_to_first_token: 0.2 -> (0.1,0.25] idx 8; 0.1 -> (0.08,0.1] idx 7.
    check_hist(&rms, "gen_ai.server.time_to_first_token", &TTFT_B, vec![(s1_common(), 2, 0.3, vec![(8, 1), (7, 1)])]);

    // --- gen_ai.server.time_per_output_token: (1.2-0.2)/49 = 0.0204..., (0.5-0.1)/19 = 0.0210...; both (0.01,0.025].
    check_hist(
        &rms,
        "gen_ai.server.time_per_output_token",
        &TPOT_B,
        vec![(s1_common(), 2, 1.0 / 49.0 + 0.4 / 19.0, vec![(1, 2)])],
    );

    // --- gen_ai.client.cost: USD 0.00075 + 0.00095 on spans 1+2; 0.006 on span 3; EUR 0.0001 on span 5.
    check_sum(
        &rms,
        "gen_ai.client.cost",
        vec![(s1_common(), 0.0017, "USD"), (s3_common(), 0.006, "USD"), (s5_common(), 0.0001, "EUR")],
    );

    // --- gen_ai.evaluation.results: one per event.
    let ev =
        |a: Attrs, n: &str, l: &str| with(a, &[("gen_ai.evaluation.name", n), ("gen_ai.evaluation.score.label", l)]);
    check_sum(
        &rms,
        "gen_ai.evaluation.results",
        vec![
            (ev(s1_common(), "hallucination", "hallucinated"), 1.0, "{evaluation}"),
            (ev(s7_common(), "relevance", "relevant"), 1.0, "{evaluation}"),
            (ev(s7_common(), "hallucination", "no_hallucination"), 1.0, "{evaluation}"),
        ],
    );
    // --- gen_ai.evaluation.score: 1.0 -> (0.9,1] idx 10; 0.9 -> (0.8,0.9] idx 9; 0.0 -> (-inf,0] idx 0.
    let sc = |a: Attrs, n: &str| with(a, &[("gen_ai.evaluation.name", n)]);
    check_hist(
        &rms,
        "gen_ai.evaluation.score",
        &SCORE_B,
        vec![
            (sc(s1_common(), "hallucination"), 1, 1.0, vec![(10, 1)]),
            (sc(s7_common(), "relevance"), 1, 0.9, vec![(9, 1)]),
            (sc(s7_common(), "hallucination"), 1, 0.0, vec![(0, 1)]),
        ],
    );

    // --- Collector metrics: calls and duration (ms, default buckets) per service/span/kind/status.
    let red = |svc: &str, name: &str, kind: &str, status: &str| {
        am(&[("service.name", svc), ("span.name", name), ("span.kind", kind), ("status.code", status)])
    };
    let calls = vec![
        (red("chatbot", "chat gpt-4o", "SPAN_KIND_CLIENT", "STATUS_CODE_UNSET"), 2.0, ""),
        (red("chatbot", "ChatAnthropic", "SPAN_KIND_INTERNAL", "STATUS_CODE_UNSET"), 1.0, ""),
        (red("chatbot", "anthropic.chat", "SPAN_KIND_CLIENT", "STATUS_CODE_ERROR"), 1.0, ""),
        (red("chatbot", "embeddings text-embedding-3-small", "SPAN_KIND_CLIENT", "STATUS_CODE_ERROR"), 1.0, ""),
        (red("chatbot", "invoke_agent planner", "SPAN_KIND_INTERNAL", "STATUS_CODE_OK"), 1.0, ""),
        (red("chatbot", "evaluate answer", "SPAN_KIND_INTERNAL", "STATUS_CODE_UNSET"), 1.0, ""),
        (red("chatbot", "GET /health", "SPAN_KIND_SERVER", "STATUS_CODE_OK"), 1.0, ""),
        (red("rag-api", "embed", "SPAN_KIND_INTERNAL", "STATUS_CODE_UNSET"), 1.0, ""),
    ];
    check_sum(&rms, "traces.span.metrics.calls", calls);
    // (2,4] idx1, (10,50] 5, (50,100] 6, (400,800] 9, (1000,1400] 11, (2000,5000] 13, (10000,15000] 15.
    check_hist(
        &rms,
        "traces.span.metrics.duration",
        &MS_B,
        vec![
            (red("chatbot", "chat gpt-4o", "SPAN_KIND_CLIENT", "STATUS_CODE_UNSET"), 2, 1700.0, vec![(11, 1), (9, 1)]),
            (red("chatbot", "ChatAnthropic", "SPAN_KIND_INTERNAL", "STATUS_CODE_UNSET"), 1, 3000.0, vec![(13, 1)]),
            (red("chatbot", "anthropic.chat", "SPAN_KIND_CLIENT", "STATUS_CODE_ERROR"), 1, 50.0, vec![(5, 1)]),
            (
                red("chatbot", "embeddings text-embedding-3-small", "SPAN_KIND_CLIENT", "STATUS_CODE_ERROR"),
                1,
                10500.0,
                vec![(15, 1)],
            ),
            (red("chatbot", "invoke_agent planner", "SPAN_KIND_INTERNAL", "STATUS_CODE_OK"), 1, 5000.0, vec![(13, 1)]),
            (red("chatbot", "evaluate answer", "SPAN_KIND_INTERNAL", "STATUS_CODE_UNSET"), 1, 20.0, vec![(5, 1)]),
            (red("chatbot", "GET /health", "SPAN_KIND_SERVER", "STATUS_CODE_OK"), 1, 3.0, vec![(1, 1)]),
            (red("rag-api", "embed", "SPAN_KIND_INTERNAL", "STATUS_CODE_UNSET"), 1, 80.0, vec![(6, 1)]),
        ],
    );

    // Grouped per resource, each under the resource's own attributes.
    assert_eq!(rms.len(), 2);
    let names: Vec<Vec<&str>> = rms
        .iter()
        .map(|rm| rm.scope_metrics.iter().flat_map(|sm| sm.metrics.iter().map(|m| m.name.as_str())).collect())
        .collect();
    assert_eq!(
        names[0],
        [
            "traces.span.metrics.calls",
            "traces.span.metrics.duration",
            "gen_ai.client.token.usage",
            "gen_ai.client.operation.duration",
            "gen_ai.server.time_to_first_token",
            "gen_ai.server.time_per_output_token",
            "gen_ai.client.cost",
            "gen_ai.client.cost",
            "gen_ai.evaluation.results",
            "gen_ai.evaluation.score",
        ]
    );
    // Nothing in the mix overflows.
    assert!(st.metrics.iter().all(|m| m.overflow_series == 0));
}

#[test]
fn cumulative_state_adds_up_across_flushes() {
    let mut c = SpanMetricsConnector::new(&SpanMetricsConfig::default()).unwrap();
    feed(&mut c, traces());
    let first = flush(&mut c);
    feed(&mut c, traces());
    let second = flush(&mut c);
    let input = |rms: &[_]| {
        hist_points(rms, "gen_ai.client.token.usage")
            .into_iter()
            .find(|p| p.attrs == with(s1_common(), &[("gen_ai.token.type", "input")]))
            .unwrap()
    };
    assert_eq!((input(&first).count, input(&first).sum), (2, 400.0));
    assert_eq!((input(&second).count, input(&second).sum), (4, 800.0));
}
