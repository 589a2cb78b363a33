//! Spans per second through `TokenCostProcessor::apply` on GenAI-shaped
//! spans: about 30 attributes each, the usage dialects mixed, with some
//! unknown models and some spans without usage. Plain std timing, one
//! thread; only `apply` is timed (fresh copies are made outside the clock).
//!
//! cargo bench -p aiotel-token-cost

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, KeyValue};
use aiotel_api::otlp::resource::v1::Resource;
use aiotel_api::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};
use aiotel_api::Payload;
use aiotel_token_cost::{TokenCostConfig, TokenCostProcessor};

const SPANS_PER_PAYLOAD: usize = 4096;
const COPIES: usize = 1;

enum V {
    I(i64),
    D(f64),
    S(String),
}

fn kv(k: &str, v: V) -> KeyValue {
    let value = match v {
        V::I(i) => Value::IntValue(i),
        V::D(d) => Value::DoubleValue(d),
        V::S(s) => Value::StringValue(s),
    };
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

/// The usage part of span `i`, in one of eight shapes.
fn usage(i: usize) -> Vec<(&'static str, V)> {
    let n = (i % 997) as i64;
    let s = |x: &str| V::S(x.to_string());
    match i % 8 {
        0 => vec![
            ("gen_ai.operation.name", s("chat")),
            ("gen_ai.provider.name", s("openai")),
            ("gen_ai.request.model", s("gpt-4o")),
            ("gen_ai.response.model", s("gpt-4o-2024-08-06")),
            ("gen_ai.usage.input_tokens", V::I(1200 + n)),
            ("gen_ai.usage.cache_read.input_tokens", V::I(512)),
            ("gen_ai.usage.output_tokens", V::I(300 + n)),
        ],
        1 => vec![
            ("gen_ai.system", s("openai")),
            ("gen_ai.request.model", s("gpt-4o-mini")),
            ("gen_ai.usage.prompt_tokens", V::D(800.0 + n as f64)),
            ("gen_ai.usage.completion_tokens", V::S((90 + n).to_string())),
        ],
        2 => vec![
            ("openinference.span.kind", s("LLM")),
            ("llm.provider", s("anthropic")),
            ("llm.model_name", s("claude-sonnet-4-5-20250929")),
            ("llm.token_count.prompt", V::I(9000 + n)),
            ("llm.token_count.prompt_details.cache_read", V::I(6000)),
            ("llm.token_count.prompt_details.cache_write", V::I(1000)),
            ("llm.token_count.completion", V::I(400)),
            ("llm.token_count.total", V::I(9400 + n)),
        ],
        3 => vec![
            ("llm.request.type", s("chat")),
            ("gen_ai.system", s("Anthropic")),
            ("gen_ai.request.model", s("claude-haiku-4-5")),
            ("gen_ai.usage.input_tokens", V::I(3000 + n)),
            ("gen_ai.usage.cache_read_input_tokens", V::I(1000)),
            ("gen_ai.usage.output_tokens", V::I(200)),
            ("llm.usage.total_tokens", V::I(3200 + n)),
        ],
        4 => vec![
            ("gen_ai.operation.name", s("chat")),
            ("gen_ai.provider.name", s("aws.bedrock")),
            ("gen_ai.request.model", s("us.anthropic.claude-sonnet-4-5-20250929-v1:0")),
            ("gen_ai.usage.input_tokens", V::I(700 + n)),
            ("gen_ai.usage.output_tokens", V::I(150)),
        ],
        5 => vec![
            ("gen_ai.operation.name", s("chat")),
            ("gen_ai.provider.name", s("openai")),
            ("gen_ai.response.model", s("o4-mini-2025-04-16")),
            ("gen_ai.usage.input_tokens", V::I(500 + n)),
            ("gen_ai.usage.output_tokens", V::I(2500)),
            ("gen_ai.usage.reasoning.output_tokens", V::I(2000)),
        ],
        6 => vec![
            ("gen_ai.operation.name", s("chat")),
            ("gen_ai.provider.name", s("vllm")),
            ("gen_ai.request.model", s("acme/internal-llm-7b")),
            ("gen_ai.usage.input_tokens", V::I(100 + n)),
            ("gen_ai.usage.output_tokens", V::I(50)),
        ],
        // An HTTP or tool span: no usage.
        _ => vec![("gen_ai.operation.name", s("execute_tool")), ("gen_ai.tool.name", s("search"))],
    }
}

/// Attributes every span carries besides usage, up to about 30 in all.
fn filler(i: usize, have: usize) -> Vec<KeyValue> {
    let common: [(&str, V); 26] = [
        ("server.address", V::S("api.example.com".into())),
        ("server.port", V::I(443)),
        ("http.request.method", V::S("POST".into())),
        ("http.response.status_code", V::I(200)),
        ("url.full", V::S("https://api.example.com/v1/chat/completions".into())),
        ("gen_ai.request.temperature", V::D(0.2)),
        ("gen_ai.request.max_tokens", V::I(4096)),
        ("gen_ai.request.top_p", V::D(1.0)),
        ("gen_ai.response.id", V::S(format!("resp-{i:08}"))),
        ("gen_ai.response.finish_reasons", V::S("stop".into())),
        ("gen_ai.conversation.id", V::S(format!("conv-{}", i % 64))),
        ("enduser.id", V::S(format!("user-{}", i % 500))),
        ("session.id", V::S(format!("sess-{}", i % 64))),
        ("thread.id", V::I(7)),
        ("code.function.name", V::S("answer".into())),
        ("code.file.path", V::S("/app/src/agent/answer.py".into())),
        ("gen_ai.output.type", V::S("text".into())),
        ("gen_ai.request.seed", V::I(42)),
        ("gen_ai.request.frequency_penalty", V::D(0.0)),
        ("gen_ai.request.presence_penalty", V::D(0.0)),
        ("gen_ai.request.stop_sequences", V::S("END".into())),
        ("app.feature", V::S("support".into())),
        ("app.request.id", V::S(format!("req-{i}"))),
        ("net.peer.name", V::S("api.example.com".into())),
        ("gen_ai.response.time_to_first_chunk", V::D(0.31)),
        ("gen_ai.input.messages", V::S(r#"[{"role":"user","parts":[{"type":"text","content":"hi"}]}]"#.into())),
    ];
    common.into_iter().take(30usize.saturating_sub(have)).map(|(k, v)| kv(k, v)).collect()
}

fn payload() -> Payload {
    let spans = (0..SPANS_PER_PAYLOAD)
        .map(|i| {
            let u = usage(i);
            let mut attributes: Vec<KeyValue> = filler(i, u.len());
            attributes.extend(u.into_iter().map(|(k, v)| kv(k, v)));
            // Usage keys scattered among the others, as SDKs write them.
            attributes.rotate_left(i % 11);
            Span { name: "chat".into(), attributes, ..Default::default() }
        })
        .collect();
    let resource = Resource {
        attributes: vec![
            kv("service.name", V::S("support-bot".into())),
            kv("deployment.environment.name", V::S("prod".into())),
            kv("tenant.id", V::S("acme".into())),
        ],
        ..Default::default()
    };
    Payload::Traces(vec![ResourceSpans {
        resource: Some(resource),
        scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
        ..Default::default()
    }])
}

/// Times `apply` over fresh copies of `base` for about `budget`; returns
/// spans/s of the best round and the median round (the machine is shared,
/// so the best round is the least disturbed one).
fn measure(p: &TokenCostProcessor, base: &Payload, budget: Duration) -> (f64, f64) {
    let mut rounds = Vec::new();
    let begin = Instant::now();
    while begin.elapsed() < budget || rounds.len() < 5 {
        let mut copies: Vec<Payload> = (0..COPIES).map(|_| base.clone()).collect();
        let start = Instant::now();
        for c in &mut copies {
            p.apply(c);
        }
        rounds.push(start.elapsed());
        black_box(&copies);
    }
    rounds.sort();
    let rate = |d: Duration| (COPIES * SPANS_PER_PAYLOAD) as f64 / d.as_secs_f64();
    (rate(rounds[0]), rate(rounds[rounds.len() / 2]))
}

fn main() {
    let p = TokenCostProcessor::new(&TokenCostConfig::default(), Path::new(".")).unwrap();
    let base = payload();
    let attrs = match &base {
        Payload::Traces(r) => r[0].scope_spans[0].spans.iter().map(|s| s.attributes.len()).sum::<usize>(),
        _ => 0,
    };
    let budget = Duration::from_secs(4);
    let (best, median) = measure(&p, &base, budget);
    println!(
        "token_cost apply: {best:.0} spans/s best round ({:.0} ns/span), {median:.0} spans/s median; \
         {:.1} attributes/span; of 8 spans 6 priced, 1 unpriced, 1 without usage",
        1e9 / best,
        attrs as f64 / SPANS_PER_PAYLOAD as f64
    );

    // Spans priced before (a second token_cost, a retry): costs are replaced in place.
    let mut priced = base.clone();
    p.apply(&mut priced);
    let (best, median) = measure(&p, &priced, budget);
    println!(
        "token_cost apply, already priced: {best:.0} spans/s best round ({:.0} ns/span), {median:.0} spans/s median",
        1e9 / best
    );
}
