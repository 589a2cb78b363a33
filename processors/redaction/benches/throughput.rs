//! Throughput of the redaction processor with every built-in detector on,
//! over realistic prompt-sized values: 1-8 KB chat prompts, about 2% of
//! them holding one entity. Plain std timing, one thread.
//!
//! cargo bench -p aiotel-redaction

#[path = "../tests/common/gen.rs"]
mod gen;

use std::hint::black_box;
use std::time::{Duration, Instant};

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, KeyValue};
use aiotel_api::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};
use aiotel_api::Payload;
use aiotel_redaction::{RedactionConfig, RedactionProcessor};
use rand::Rng;

const VALUES: usize = 4000;
const PII_RATE: f64 = 0.02;

fn values() -> (Vec<String>, Vec<String>, usize) {
    let mut r = gen::rng(42);
    let mut plain = Vec::with_capacity(VALUES);
    let mut json = Vec::with_capacity(VALUES);
    let mut planted = 0;
    for _ in 0..VALUES {
        let size = r.random_range(1024..8192);
        let pii = r.random_bool(PII_RATE);
        planted += usize::from(pii);
        let text = gen::chat_value(&mut r, size, pii);
        json.push(
            serde_json::json!([
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "parts": [{"type": "text", "content": text}]}
            ])
            .to_string(),
        );
        plain.push(text);
    }
    (plain, json, planted)
}

/// Runs `f` over `vals` until `budget` has passed; returns MB/s.
fn rate(vals: &[String], budget: Duration, mut f: impl FnMut(&str) -> usize) -> (f64, usize) {
    let bytes: usize = vals.iter().map(String::len).sum();
    let start = Instant::now();
    let mut rounds = 0;
    let mut changed = 0;
    while start.elapsed() < budget || rounds == 0 {
        for v in vals {
            changed += f(v);
        }
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    ((bytes * rounds) as f64 / secs / 1e6, changed / rounds)
}

fn payload(vals: &[String]) -> Payload {
    let spans = vals
        .iter()
        .map(|v| Span {
            name: "chat gpt-4o".into(),
            attributes: vec![
                kv("gen_ai.operation.name", "chat"),
                kv("gen_ai.request.model", "gpt-4o"),
                kv("gen_ai.input.messages", v),
            ],
            ..Default::default()
        })
        .collect();
    Payload::Traces(vec![ResourceSpans {
        scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
        ..Default::default()
    }])
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(Value::StringValue(v.into())) }),
        ..Default::default()
    }
}

fn main() {
    let budget = Duration::from_secs(std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3));
    let cfg: RedactionConfig = serde_yaml_ng::from_str("allow_all_keys: true").unwrap();
    let p = RedactionProcessor::new(&cfg, std::path::Path::new(".")).unwrap();
    let (plain, json, planted) = values();
    let mb = |v: &[String]| v.iter().map(String::len).sum::<usize>() as f64 / 1e6;
    println!(
        "{} values of 1-8 KB, {planted} with one planted entity; plain {:.1} MB, JSON messages {:.1} MB; all detectors on, one thread",
        VALUES,
        mb(&plain),
        mb(&json)
    );

    let (r, n) = rate(&plain, budget, |v| usize::from(black_box(p.redact_str(black_box(v))).len() != v.len()));
    println!("redact_str, plain prompts:        {r:8.1} MB/s  ({n} values changed per round)");
    let (r, n) = rate(&json, budget, |v| usize::from(black_box(p.redact_str(black_box(v))).len() != v.len()));
    println!("redact_str, JSON messages:        {r:8.1} MB/s  ({n} values changed per round)");

    // Whole payloads: spans carrying the JSON messages, cloned before timing.
    let base = payload(&json);
    let bytes = mb(&json);
    let mut copies: Vec<Payload> = Vec::new();
    let start = Instant::now();
    let mut done = 0.0;
    let mut spent = Duration::ZERO;
    while start.elapsed() < budget || done == 0.0 {
        if copies.is_empty() {
            copies = (0..4).map(|_| base.clone()).collect();
        }
        let mut c = copies.pop().unwrap();
        let t = Instant::now();
        p.redact(&mut c);
        spent += t.elapsed();
        black_box(&c);
        done += bytes;
    }
    println!("redact(Payload), spans with JSON: {:8.1} MB/s", done / spent.as_secs_f64());
}
