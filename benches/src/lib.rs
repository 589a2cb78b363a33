//! Data shapes shared by the load generator and the benchmarks.

use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span::Event, status::StatusCode, ResourceSpans, ScopeSpans, Span, Status};
use rand::{Rng, SeedableRng};

pub fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
}
fn s(k: &str, v: &str) -> KeyValue {
    kv(k, Value::StringValue(v.into()))
}
fn i(k: &str, v: i64) -> KeyValue {
    kv(k, Value::IntValue(v))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// An HTTP server span with a dozen attributes (~400 bytes encoded).
    Plain,
    /// An LLM chat span with GenAI usage attributes and prompt/completion JSON (~3 KB encoded).
    Genai,
}

const PROMPT: &str = "You are a helpful assistant for Acme Corp. Summarise the customer's ticket below in three bullet points, \
    keeping product names and dates exact. Ticket: The nightly export job failed again after the upgrade to version 4.2; \
    the error says the storage quota was exceeded although the dashboard shows 40% usage. We need this fixed before the \
    quarterly audit on Friday. Please also suggest how to monitor this in the future. ";

pub fn span(shape: Shape, rng: &mut impl Rng, n: u64) -> Span {
    let trace_id: [u8; 16] = rng.random();
    let span_id: [u8; 8] = rng.random();
    let start = 1_700_000_000_000_000_000u64 + n * 1_000_000;
    match shape {
        Shape::Plain => Span {
            trace_id: trace_id.to_vec(),
            span_id: span_id.to_vec(),
            name: "GET /api/v1/orders/{id}".into(),
            kind: 2,
            start_time_unix_nano: start,
            end_time_unix_nano: start + 12_345_678,
            attributes: vec![
                s("http.request.method", "GET"),
                s("http.route", "/api/v1/orders/{id}"),
                i("http.response.status_code", 200),
                s("url.path", "/api/v1/orders/83721"),
                s("url.scheme", "https"),
                s("server.address", "orders.internal"),
                i("server.port", 8443),
                s("client.address", "10.1.2.3"),
                s("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
                s("network.protocol.version", "1.1"),
            ],
            status: Some(Status { code: StatusCode::Ok as i32, message: String::new() }),
            ..Default::default()
        },
        Shape::Genai => {
            let input = serde_json::json!([
                {"role": "system", "parts": [{"type": "text", "content": PROMPT}]},
                {"role": "user", "parts": [{"type": "text", "content": PROMPT.repeat(3)}]},
            ])
            .to_string();
            let output = serde_json::json!([
                {"role": "assistant", "parts": [{"type": "text", "content": PROMPT.repeat(2)}], "finish_reason": "stop"}
            ])
            .to_string();
            Span {
                trace_id: trace_id.to_vec(),
                span_id: span_id.to_vec(),
                name: "chat gpt-4o".into(),
                kind: 3,
                start_time_unix_nano: start,
                end_time_unix_nano: start + 1_850_000_000,
                attributes: vec![
                    s("gen_ai.operation.name", "chat"),
                    s("gen_ai.provider.name", "openai"),
                    s("gen_ai.request.model", "gpt-4o"),
                    s("gen_ai.response.model", "gpt-4o-2024-08-06"),
                    s("gen_ai.response.id", "chatcmpl-9a8b7c6d5e4f"),
                    kv("gen_ai.request.temperature", Value::DoubleValue(0.2)),
                    i("gen_ai.request.max_tokens", 1024),
                    i("gen_ai.usage.input_tokens", 1200 + (n % 500) as i64),
                    i("gen_ai.usage.output_tokens", 300 + (n % 200) as i64),
                    i("gen_ai.usage.cache_read.input_tokens", 512),
                    kv("gen_ai.response.time_to_first_chunk", Value::DoubleValue(0.31)),
                    s("gen_ai.response.finish_reasons", "stop"),
                    s("gen_ai.conversation.id", "conv-5c1f"),
                    s("server.address", "api.openai.com"),
                    i("server.port", 443),
                    s("enduser.id", "user-4711"),
                    s("tenant.id", "tenant-42"),
                    s("gen_ai.input.messages", &input),
                    s("gen_ai.output.messages", &output),
                ],
                events: vec![Event {
                    time_unix_nano: start + 310_000_000,
                    name: "gen_ai.evaluation.result".into(),
                    attributes: vec![
                        s("gen_ai.evaluation.name", "hallucination"),
                        kv("gen_ai.evaluation.score.value", Value::DoubleValue(0.1)),
                        s("gen_ai.evaluation.score.label", "pass"),
                    ],
                    dropped_attributes_count: 0,
                }],
                status: Some(Status::default()),
                ..Default::default()
            }
        }
    }
}

/// One export request's resource spans holding `n` spans of `shape`.
pub fn resource_spans(shape: Shape, n: usize, seed: u64) -> Vec<ResourceSpans> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![
                s("service.name", "chat-api"),
                s("service.version", "1.4.2"),
                s("deployment.environment.name", "prod"),
                s("host.name", "node-17"),
            ],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope { name: "bench".into(), version: "1".into(), ..Default::default() }),
            spans: (0..n as u64).map(|k| span(shape, &mut rng, k)).collect(),
            ..Default::default()
        }],
        schema_url: String::new(),
    }]
}
