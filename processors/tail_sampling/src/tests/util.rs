//! Span builders, a hand-driven clock and a harness around the sampler.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, InstrumentationScope, KeyValue};
use aiotel_api::otlp::resource::v1::Resource;
use aiotel_api::otlp::trace::v1::{span::Event, status::StatusCode, ResourceSpans, ScopeSpans, Span, Status};
use aiotel_api::{Batch, Payload, Processor};

use crate::{TailSampler, TailSamplingConfig};

/// A well-mixed 16-byte trace id for a small number (probabilistic tests need random-looking ids).
pub fn tid(n: u64) -> Vec<u8> {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut v = mix(n).to_be_bytes().to_vec();
    v.extend_from_slice(&mix(n ^ 0xdead_beef).to_be_bytes());
    v
}

pub fn kv(key: &str, v: impl Into<Val>) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(v.into().0) }), ..Default::default() }
}

pub struct Val(pub Value);
impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val(Value::StringValue(s.into()))
    }
}
impl From<i64> for Val {
    fn from(i: i64) -> Self {
        Val(Value::IntValue(i))
    }
}
impl From<f64> for Val {
    fn from(d: f64) -> Self {
        Val(Value::DoubleValue(d))
    }
}
impl From<bool> for Val {
    fn from(b: bool) -> Self {
        Val(Value::BoolValue(b))
    }
}

/// A span of trace `t`, 100 ms long, status unset.
pub fn span(t: u64, name: &str) -> Span {
    Span {
        trace_id: tid(t),
        span_id: (t * 1000 + name.len() as u64).to_be_bytes().to_vec(),
        name: name.into(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_100_000_000,
        ..Default::default()
    }
}

pub trait SpanExt {
    fn attr(self, key: &str, v: impl Into<Val>) -> Self;
    fn status(self, code: StatusCode) -> Self;
    fn lasting_ms(self, ms: u64) -> Self;
    fn event(self, name: &str, attrs: Vec<KeyValue>) -> Self;
    fn trace_state(self, ts: &str) -> Self;
    fn flags(self, f: u32) -> Self;
}

impl SpanExt for Span {
    fn attr(mut self, key: &str, v: impl Into<Val>) -> Self {
        self.attributes.push(kv(key, v));
        self
    }
    fn status(mut self, code: StatusCode) -> Self {
        self.status = Some(Status { code: code as i32, message: String::new() });
        self
    }
    fn lasting_ms(mut self, ms: u64) -> Self {
        self.end_time_unix_nano = self.start_time_unix_nano + ms * 1_000_000;
        self
    }
    fn event(mut self, name: &str, attrs: Vec<KeyValue>) -> Self {
        self.events.push(Event { name: name.into(), attributes: attrs, ..Default::default() });
        self
    }
    fn trace_state(mut self, ts: &str) -> Self {
        self.trace_state = ts.into();
        self
    }
    fn flags(mut self, f: u32) -> Self {
        self.flags = f;
        self
    }
}

/// A GenAI chat span in the current OTel dialect.
pub fn chat(t: u64, input: i64, output: i64) -> Span {
    span(t, "chat gpt-4o")
        .attr("gen_ai.operation.name", "chat")
        .attr("gen_ai.provider.name", "openai")
        .attr("gen_ai.request.model", "gpt-4o")
        .attr("gen_ai.response.model", "gpt-4o-2024-08-06")
        .attr("gen_ai.usage.input_tokens", input)
        .attr("gen_ai.usage.output_tokens", output)
}

pub fn tool(t: u64, name: &str) -> Span {
    span(t, &format!("execute_tool {name}"))
        .attr("gen_ai.operation.name", "execute_tool")
        .attr("gen_ai.tool.name", name)
}

pub fn resource(attrs: Vec<KeyValue>, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource { attributes: attrs, ..Default::default() }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope { name: "test".into(), version: "1".into(), ..Default::default() }),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

pub fn batch(spans: Vec<Span>) -> Batch {
    Batch::new(Payload::Traces(vec![resource(vec![kv("service.name", "svc")], spans)]), vec![])
}

pub fn config(yaml: &str) -> TailSamplingConfig {
    serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("bad test config: {e}\n{yaml}"))
}

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct Clock(Arc<Mutex<Instant>>);

impl Clock {
    pub fn new() -> Self {
        Clock(Arc::new(Mutex::new(Instant::now())))
    }
    pub fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }
    pub fn advance(&self, d: Duration) -> Instant {
        let mut t = self.0.lock().unwrap();
        *t += d;
        *t
    }
    pub fn boxed(&self) -> Box<dyn Fn() -> Instant + Send> {
        let c = self.clone();
        Box::new(move || c.now())
    }
}

/// The sampler plus everything it has emitted.
pub struct Harness {
    pub ts: TailSampler,
    pub clock: Clock,
    pub out: Vec<Batch>,
    pub wait: Duration,
}

impl Harness {
    pub fn new(cfg: &TailSamplingConfig) -> Self {
        let clock = Clock::new();
        let ts = TailSampler::with_clock(cfg, clock.boxed()).unwrap_or_else(|e| panic!("{e}"));
        Harness { ts, clock, out: Vec::new(), wait: cfg.decision_wait }
    }

    pub fn yaml(yaml: &str) -> Self {
        Self::new(&config(yaml))
    }

    pub fn push(&mut self, spans: Vec<Span>) {
        self.ts.process(batch(spans), &mut self.out);
    }

    /// Lets `decision_wait` pass and decides everything due.
    pub fn decide(&mut self) {
        let now = self.clock.advance(self.wait + Duration::from_millis(1));
        self.ts.on_deadline(now, &mut self.out);
    }

    /// Output spans by trace number (of those in `among`), with their `sampling.policy`.
    pub fn kept(&self, among: impl IntoIterator<Item = u64>) -> BTreeMap<u64, (usize, Option<String>)> {
        let by_id: HashMap<Vec<u8>, u64> = among.into_iter().map(|n| (tid(n), n)).collect();
        let mut m = BTreeMap::new();
        for s in self.out_spans() {
            let n = *by_id.get(&s.trace_id).expect("output span of an unknown trace");
            let e = m.entry(n).or_insert((0, policy_of(s)));
            e.0 += 1;
        }
        m
    }

    pub fn out_spans(&self) -> impl Iterator<Item = &Span> {
        self.out.iter().flat_map(|b| match &b.payload {
            Payload::Traces(rs) => rs.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans),
            _ => panic!("non-trace output"),
        })
    }
}

pub fn policy_of(s: &Span) -> Option<String> {
    s.attributes.iter().find(|kv| kv.key == "sampling.policy").and_then(|kv| match &kv.value {
        Some(AnyValue { value: Some(Value::StringValue(v)) }) => Some(v.clone()),
        _ => None,
    })
}
