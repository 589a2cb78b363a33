//! Spans per second through `process()` with the GenAI metrics on, over
//! GenAI-shaped spans: ~30 attributes, prompt and completion text, 2-5 KB
//! each. Plain std timing, one thread.
//!
//! cargo bench -p aiotel-spanmetrics

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use aiotel_api::otlp::trace::v1::{ResourceSpans, Span};
use aiotel_api::{Batch, Payload, Processor};
use aiotel_spanmetrics::{SpanMetricsConfig, SpanMetricsConnector};
use common::*;

const SPANS: usize = 2000;
const PER_RESOURCE: usize = 500;

/// A small deterministic generator, so runs compare.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn text(r: &mut Lcg, len: usize) -> String {
    const WORDS: [&str; 12] = [
        "the",
        "model",
        "answer",
        "context",
        "customer",
        "order",
        "refund",
        "policy",
        "please",
        "summarise",
        "and",
        "of",
    ];
    let mut s = String::with_capacity(len + 16);
    while s.len() < len {
        s.push_str(WORDS[r.next(12) as usize]);
        s.push(' ');
    }
    s
}

fn genai_span(r: &mut Lcg, n: usize) -> Span {
    let (model, provider) = [
        ("gpt-4o", "openai"),
        ("gpt-4o-mini", "openai"),
        ("claude-sonnet-4-5", "anthropic"),
        ("gemini-2.5-flash", "gcp.gemini"),
    ][r.next(4) as usize];
    let (prompt_len, completion_len) = (1000 + r.next(2500) as usize, 300 + r.next(1200) as usize);
    let prompt = text(r, prompt_len);
    let completion = text(r, completion_len);
    let dur = 200 + r.next(5000);
    let mut attrs = vec![
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.provider.name", provider),
        s("gen_ai.request.model", model),
        s("gen_ai.response.model", &format!("{model}-2025-01-01")),
        s("server.address", "api.example.com"),
        i("server.port", 443),
        i("gen_ai.usage.input_tokens", 200 + r.next(3000) as i64),
        i("gen_ai.usage.output_tokens", 20 + r.next(800) as i64),
        i("gen_ai.usage.cache_read.input_tokens", r.next(100) as i64),
        d("gen_ai.request.temperature", 0.7),
        d("gen_ai.request.top_p", 0.9),
        i("gen_ai.request.max_tokens", 1024),
        s("gen_ai.response.id", &format!("chatcmpl-{n:08x}")),
        s("gen_ai.response.finish_reasons", "stop"),
        d("gen_ai.response.time_to_first_chunk", 0.05 + r.next(500) as f64 / 1000.0),
        s(
            "gen_ai.input.messages",
            &format!("[{{\"role\":\"user\",\"parts\":[{{\"type\":\"text\",\"content\":\"{prompt}\"}}]}}]"),
        ),
        s(
            "gen_ai.output.messages",
            &format!("[{{\"role\":\"assistant\",\"parts\":[{{\"type\":\"text\",\"content\":\"{completion}\"}}]}}]"),
        ),
        s("gen_ai.system_instructions", "You are a helpful support assistant."),
        s("enduser.id", &format!("user-{}", r.next(200))),
        s("tenant.id", &format!("tenant-{}", r.next(10))),
        s("gen_ai.conversation.id", &format!("conv-{}", r.next(500))),
        d("gen_ai.cost.total", r.next(1000) as f64 / 1e5),
        s("gen_ai.cost.currency", "USD"),
        s("gen_ai.cost.pricing_model", model),
        s("http.request.method", "POST"),
        s("url.full", "https://api.example.com/v1/chat/completions"),
        i("http.response.status_code", 200),
        s("thread.name", "worker-3"),
        s("code.function.name", "complete"),
        s("app.feature", "support-chat"),
    ];
    attrs.truncate(30);
    let status = if r.next(50) == 0 { ERROR } else { 0 };
    span(&format!("chat {model}"), KIND_CLIENT, status, n as u64, dur, attrs)
}

fn payload() -> (Vec<ResourceSpans>, usize) {
    let mut r = Lcg(42);
    let spans: Vec<Span> = (0..SPANS).map(|n| genai_span(&mut r, n)).collect();
    let bytes = Payload::Traces(vec![resource(vec![], "x", spans.clone())]).encoded_len();
    let rs = spans
        .chunks(PER_RESOURCE)
        .enumerate()
        .map(|(k, c)| {
            resource(
                vec![s("service.name", &format!("svc-{}", k % 2)), s("deployment.environment.name", "prod")],
                "openai",
                c.to_vec(),
            )
        })
        .collect();
    (rs, bytes)
}

/// Spans per second: through `process()` (which also frees the consumed
/// batch: most of its time), and of the aggregation alone on borrowed spans.
fn run(cfg: &SpanMetricsConfig, data: &[ResourceSpans], budget: Duration) -> (f64, f64) {
    let mut c = SpanMetricsConnector::new(cfg).unwrap();
    let mut out = Vec::new();
    let (mut busy, mut spans) = (Duration::ZERO, 0usize);
    while busy < budget {
        let b = Batch::new(Payload::Traces(data.to_vec()), vec![]);
        let t = Instant::now();
        c.process(b, &mut out);
        busy += t.elapsed();
        spans += SPANS;
    }
    let through_process = spans as f64 / busy.as_secs_f64();
    let (t, mut spans) = (Instant::now(), 0usize);
    while t.elapsed() < budget {
        c.aggregate_at(black_box(data), 1);
        spans += SPANS;
    }
    let aggregation = spans as f64 / t.elapsed().as_secs_f64();
    c.flush(&mut out);
    black_box(&out);
    (through_process, aggregation)
}

/// `AGGREGATE_ROUNDS=n` only aggregates the spans n times, for `perf stat`
/// on a busy machine, where cycles mean more than wall time.
fn aggregate_rounds(data: &[ResourceSpans], genai: bool) -> bool {
    let Some(n) = std::env::var("AGGREGATE_ROUNDS").ok().and_then(|v| v.parse::<usize>().ok()) else { return false };
    let mut cfg = SpanMetricsConfig::default();
    cfg.genai.enabled = genai;
    let mut c = SpanMetricsConnector::new(&cfg).unwrap();
    c.aggregate_at(data, 1); // create the series first
    for _ in 0..n {
        c.aggregate_at(black_box(data), 1);
    }
    println!("aggregated {} spans (genai {genai})", n * SPANS);
    true
}

fn main() {
    let (data, bytes) = payload();
    if aggregate_rounds(&data, std::env::var("GENAI").map_or(true, |v| v != "off")) {
        return;
    }
    println!("{SPANS} GenAI spans, 30 attributes, {} bytes each on average (OTLP)", bytes / SPANS);
    let budget = Duration::from_secs(3);
    let on = SpanMetricsConfig::default();
    let mut off = SpanMetricsConfig::default();
    off.genai.enabled = false;
    for (name, cfg) in [("genai on ", &on), ("genai off", &off)] {
        let (process, aggregation) = run(cfg, &data, budget);
        println!("{name}: {process:>10.0} spans/s through process() incl. freeing the batch; {aggregation:>10.0} spans/s aggregation alone");
    }
}
