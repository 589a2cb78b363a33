//! Throughput and memory of the tail sampler on GenAI-shaped traces.
//!
//! `cargo bench -p aiotel-tail-sampling` (std timing, no harness). Prints:
//! - spans/s through `process()` plus the decisions (`on_deadline`, `flush`)
//!   with five policies, time driven by hand (1 ms per batch, 1 s wait);
//! - heap bytes per buffered span, counted by a global allocator, next to
//!   the span's encoded size and to holding the same spans decoded.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, InstrumentationScope, KeyValue};
use aiotel_api::otlp::resource::v1::Resource;
use aiotel_api::otlp::trace::v1::{status::StatusCode, ResourceSpans, ScopeSpans, Span, Status};
use aiotel_api::{Batch, Payload, Processor};
use aiotel_tail_sampling::{TailSampler, TailSamplingConfig};
use prost::Message;

struct Counting;
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_ALLOCS: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(l.size() as isize, Relaxed);
        LIVE_ALLOCS.fetch_add(1, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE_BYTES.fetch_sub(l.size() as isize, Relaxed);
        LIVE_ALLOCS.fetch_sub(1, Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new as isize - l.size() as isize, Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// CPU time of this thread: the machine is shared, so wall time would
/// measure the neighbours too.
fn cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(s.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0))
}

fn live() -> (isize, isize) {
    (LIVE_BYTES.load(Relaxed), LIVE_ALLOCS.load(Relaxed))
}

const POLICIES: &str = "
policies:
  - {name: big-spenders, type: genai_cost, genai_cost: {min_cost: 1.0}}
  - {name: token-hogs, type: genai_tokens, genai_tokens: {min_tokens: 100000}}
  - {name: llm-errors, type: genai_error, genai_error: {error_types: [rate_limit_exceeded]}}
  - {name: runaway-agents, type: genai_loop, genai_loop: {max_llm_calls: 25, max_same_tool_calls: 10}}
  - {name: baseline, type: probabilistic, probabilistic: {sampling_percentage: 5}}
";

fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
}
fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

fn tid(n: u64) -> Vec<u8> {
    let h = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (n >> 7);
    [h.to_be_bytes(), h.rotate_left(29).wrapping_mul(0xbf58_476d_1ce4_e5b9).to_be_bytes()].concat()
}

/// An agent turn: agent, two chat calls, a tool call and the HTTP span.
fn trace(t: u64) -> Vec<Span> {
    let base = 1_700_000_000_000_000_000 + t * 1_000_000;
    let mk = |i: u64, name: &str, attrs: Vec<KeyValue>| Span {
        trace_id: tid(t),
        span_id: (t * 8 + i).to_be_bytes().to_vec(),
        parent_span_id: if i == 0 { vec![] } else { (t * 8).to_be_bytes().to_vec() },
        name: name.into(),
        kind: if i == 1 || i == 3 { 3 } else { 1 },
        start_time_unix_nano: base + i * 1_000_000,
        end_time_unix_nano: base + i * 1_000_000 + 800_000_000,
        attributes: attrs,
        status: (t.is_multiple_of(50) && i == 3)
            .then(|| Status { code: StatusCode::Error as i32, message: "429".into() }),
        ..Default::default()
    };
    let chat = |i, input, output, cost: f64, id: &str, finish: &str| {
        mk(
            i,
            "chat gpt-4o",
            vec![
                kv("gen_ai.operation.name", s("chat")),
                kv("gen_ai.provider.name", s("openai")),
                kv("gen_ai.request.model", s("gpt-4o")),
                kv("gen_ai.response.model", s("gpt-4o-2024-08-06")),
                kv("gen_ai.usage.input_tokens", Value::IntValue(input)),
                kv("gen_ai.usage.output_tokens", Value::IntValue(output)),
                kv("gen_ai.cost.total", Value::DoubleValue(cost)),
                kv("gen_ai.response.id", s(id)),
                kv("gen_ai.response.finish_reasons", s(finish)),
                kv("server.address", s("api.openai.com")),
            ],
        )
    };
    let mut third = chat(3, 2511, 587, 0.01215, "chatcmpl-9J3uJd1hyBHWGv9ZkXhZ3TBWJkD1m", "stop");
    if t.is_multiple_of(50) {
        third.attributes.push(kv("error.type", s("rate_limit_exceeded")));
    }
    vec![
        mk(
            0,
            "invoke_agent support-bot",
            vec![
                kv("gen_ai.operation.name", s("invoke_agent")),
                kv("gen_ai.agent.name", s("support-bot")),
                kv("gen_ai.conversation.id", s("conv_5j66UpCpwteGg4YSxUnt7lPY")),
            ],
        ),
        chat(1, 1843, 312, 0.00773, "chatcmpl-9J3uIL87gldCFtiIbyaOvTeYBRA3l", "tool_calls"),
        mk(
            2,
            "execute_tool search_knowledge_base",
            vec![
                kv("gen_ai.operation.name", s("execute_tool")),
                kv("gen_ai.tool.name", s("search_knowledge_base")),
                kv("gen_ai.tool.call.id", s("call_mszuSIzqtI65i1wAUOE8w5H4")),
            ],
        ),
        third,
        mk(
            4,
            "POST /v1/chat",
            vec![
                kv("http.request.method", s("POST")),
                kv("http.route", s("/v1/chat")),
                kv("http.response.status_code", Value::IntValue(200)),
            ],
        ),
    ]
}

fn batch(traces: std::ops::Range<u64>) -> Batch {
    let rs = ResourceSpans {
        resource: Some(Resource {
            attributes: vec![
                kv("service.name", s("support-bot")),
                kv("service.version", s("1.4.2")),
                kv("deployment.environment.name", s("production")),
                kv("telemetry.sdk.language", s("python")),
            ],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "opentelemetry.instrumentation.openai".into(),
                version: "0.48b0".into(),
                ..Default::default()
            }),
            spans: traces.flat_map(trace).collect(),
            schema_url: String::new(),
        }],
        schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
    };
    Batch::new(Payload::Traces(vec![rs]), vec![])
}

fn sampler(wait: &str) -> (TailSampler, Arc<Mutex<Instant>>) {
    let cfg: TailSamplingConfig = serde_yaml_ng::from_str(&format!(
        "decision_wait: {wait}\nnum_traces: 1000000\nmax_buffer_bytes: 1073741824\n{POLICIES}"
    ))
    .unwrap();
    let now = Arc::new(Mutex::new(Instant::now()));
    let c = now.clone();
    (TailSampler::with_clock(&cfg, Box::new(move || *c.lock().unwrap())).unwrap(), now)
}

const TRACES_PER_BATCH: u64 = 100; // 500 spans

fn throughput() {
    let (mut ts, clock) = sampler("1s");
    let mut out = Vec::new();
    let (mut spans, mut kept) = (0u64, 0usize);
    let (mut wall, mut ingest, mut decide) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut next = 0u64;
    for _round in 0..20 {
        // Build 20k traces outside the timed part.
        let batches: Vec<Batch> = (0..200)
            .map(|_| {
                next += TRACES_PER_BATCH;
                batch(next - TRACES_PER_BATCH..next)
            })
            .collect();
        spans += batches.iter().map(|b| b.payload.item_count() as u64).sum::<u64>();
        let t0 = Instant::now();
        for b in batches {
            let c0 = cpu();
            ts.process(b, &mut out);
            let c1 = cpu();
            let now = {
                let mut c = clock.lock().unwrap();
                *c += Duration::from_millis(1);
                *c
            };
            if ts.next_deadline().is_some_and(|d| d <= now) {
                ts.on_deadline(now, &mut out);
            }
            kept += out.drain(..).map(|b| black_box(b).payload.item_count()).sum::<usize>();
            ingest += c1 - c0;
            decide += cpu() - c1;
        }
        wall += t0.elapsed();
    }
    let c0 = cpu();
    ts.flush(&mut out);
    kept += out.drain(..).map(|b| b.payload.item_count()).sum::<usize>();
    decide += cpu() - c0;
    let st = ts.stats();
    assert_eq!(st.spans_sampled + st.spans_dropped, spans);
    let total = ingest + decide;
    println!(
        "throughput: {spans} spans ({} traces), 5 policies, kept {kept} spans ({:.1}%):\n  \
         {:.0} spans/s per CPU-second through process() + decisions \
         (process {:.0} ns/span, decide + emit {:.0} ns/span); wall {:.2?} on a shared machine",
        st.traces_received,
        100.0 * kept as f64 / spans as f64,
        spans as f64 / total.as_secs_f64(),
        ingest.as_nanos() as f64 / spans as f64,
        decide.as_nanos() as f64 / spans as f64,
        wall,
    );
}

fn memory() {
    const TRACES: u64 = 20_000;
    let base = live();
    let batches: Vec<Batch> =
        (0..TRACES / TRACES_PER_BATCH).map(|i| batch(i * TRACES_PER_BATCH..(i + 1) * TRACES_PER_BATCH)).collect();
    let spans: usize = batches.iter().map(|b| b.payload.item_count()).sum();
    let encoded: usize = batches
        .iter()
        .flat_map(|b| match &b.payload {
            Payload::Traces(rs) => {
                rs.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans).map(|s| s.encoded_len())
            }
            _ => unreachable!(),
        })
        .sum();

    // What holding them decoded costs (the Collector keeps pdata objects).
    let before = live().0;
    let decoded: Vec<Batch> = batches.iter().map(|b| Batch::new(b.payload.clone(), vec![])).collect();
    let decoded_bytes = live().0 - before;
    drop(decoded);

    // The batches are consumed by process(): measure from before they existed.
    let (mut ts, _clock) = sampler("1h");
    let mut out = Vec::new();
    let (b0, a0) = base;
    for b in batches {
        ts.process(b, &mut out);
    }
    let (b1, a1) = live();
    let st = ts.stats();
    assert_eq!(st.spans_buffered as usize, spans);
    let heap = (b1 - b0) as f64;
    let allocs = (a1 - a0) as f64;
    let per_span = heap / spans as f64;
    let enc = encoded as f64 / spans as f64;
    println!(
        "memory: {spans} spans buffered (5-span GenAI traces):\n  \
         heap {per_span:.0} B/span = {:.2}x the {enc:.0} B encoded ({:.2} allocations/span; \
         with glibc's ~16 B per allocation ~{:.0} B/span = {:.2}x)\n  \
         bytes_buffered says {:.0} B/span; the same spans held decoded: {:.0} B/span ({:.1}x encoded)",
        per_span / enc,
        allocs / spans as f64,
        per_span + 16.0 * allocs / spans as f64,
        (per_span + 16.0 * allocs / spans as f64) / enc,
        st.bytes_buffered as f64 / spans as f64,
        decoded_bytes as f64 / spans as f64,
        decoded_bytes as f64 / encoded as f64,
    );
    drop(ts);
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep it quick then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("pass --bench to run (cargo bench -p aiotel-tail-sampling)");
        return;
    }
    memory();
    throughput();
}
