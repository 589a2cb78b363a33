//! What the GenAI policies read from a span, in every dialect aiotel accepts
//! (OTel GenAI current and deprecated, OpenInference, OpenLLMetry), and the
//! per-span predicates of `genai_error` and `genai_evaluation`.

use std::hash::BuildHasher;

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, KeyValue};
use aiotel_api::otlp::trace::v1::Span;

use super::span_fields::status_code;
use crate::config::{GenaiErrorConfig, GenaiEvaluationConfig};

/// An attribute the GenAI policies read; the number is the dialect's
/// priority, so a span carrying two dialects is not counted twice.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Field {
    OpName,
    OiKind,
    RequestModel,
    Input(u8),
    Output(u8),
    Total(u8),
    Cost(u8),
    ErrorType,
    Tool(u8),
}

pub(crate) const FIELDS: &[(&str, Field)] = &[
    ("gen_ai.operation.name", Field::OpName),
    ("openinference.span.kind", Field::OiKind),
    ("gen_ai.request.model", Field::RequestModel),
    ("gen_ai.usage.input_tokens", Field::Input(0)),
    ("gen_ai.usage.prompt_tokens", Field::Input(1)),
    ("llm.token_count.prompt", Field::Input(2)),
    ("gen_ai.usage.output_tokens", Field::Output(0)),
    ("gen_ai.usage.completion_tokens", Field::Output(1)),
    ("llm.token_count.completion", Field::Output(2)),
    // Totals count only when a span has neither input nor output.
    ("llm.token_count.total", Field::Total(0)),
    ("gen_ai.usage.total_tokens", Field::Total(1)),
    ("llm.usage.total_tokens", Field::Total(2)),
    ("gen_ai.cost.total", Field::Cost(0)),
    ("llm.cost.total", Field::Cost(1)),
    ("error.type", Field::ErrorType),
    ("gen_ai.tool.name", Field::Tool(0)),
    ("tool.name", Field::Tool(1)),
];

/// Inference operations: these spans are LLM calls.
const INFERENCE_OPS: &[&str] = &["chat", "text_completion", "generate_content", "embeddings"];
/// Operations that may carry `gen_ai.request.model` without being a call.
const OTHER_OPS: &[&str] = &["execute_tool", "invoke_agent", "create_agent", "retrieval", "invoke_workflow"];

#[derive(Clone, Copy)]
struct Best {
    prio: u8,
    value: f64,
}

impl Default for Best {
    fn default() -> Self {
        Best { prio: u8::MAX, value: 0.0 }
    }
}

impl Best {
    fn offer(&mut self, prio: u8, value: Option<f64>) {
        if let Some(v) = value {
            if prio < self.prio && v.is_finite() && v >= 0.0 {
                *self = Best { prio, value: v };
            }
        }
    }
    fn get(&self) -> Option<f64> {
        (self.prio != u8::MAX).then_some(self.value)
    }
}

/// One span's GenAI attributes, borrowed from the span.
#[derive(Default)]
pub(crate) struct Facts<'a> {
    op: Option<&'a str>,
    oi_kind: Option<&'a str>,
    request_model: bool,
    input: Best,
    output: Best,
    total: Best,
    cost: Best,
    error_type: Option<&'a str>,
    tool: Option<(u8, &'a str)>,
}

fn as_str(v: &AnyValue) -> Option<&str> {
    match &v.value {
        Some(Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// Numbers arrive as ints, doubles or (from some SDKs) strings.
fn as_num(v: &AnyValue) -> Option<f64> {
    match &v.value {
        Some(Value::IntValue(i)) => Some(*i as f64),
        Some(Value::DoubleValue(d)) => Some(*d),
        Some(Value::StringValue(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

impl<'a> Facts<'a> {
    pub fn set(&mut self, f: Field, v: &'a AnyValue) {
        match f {
            Field::OpName => self.op = as_str(v),
            Field::OiKind => self.oi_kind = as_str(v),
            Field::RequestModel => self.request_model = as_str(v).is_some_and(|s| !s.is_empty()),
            Field::Input(p) => self.input.offer(p, as_num(v)),
            Field::Output(p) => self.output.offer(p, as_num(v)),
            Field::Total(p) => self.total.offer(p, as_num(v)),
            Field::Cost(p) => self.cost.offer(p, as_num(v)),
            Field::ErrorType => self.error_type = as_str(v),
            Field::Tool(p) => {
                if let Some(s) = as_str(v).filter(|s| !s.is_empty()) {
                    if self.tool.is_none_or(|(q, _)| p < q) {
                        self.tool = Some((p, s));
                    }
                }
            }
        }
    }

    /// An inference call: an inference operation, an OpenInference LLM span,
    /// or any span naming a requested model that is not a tool/agent step.
    pub fn is_llm(&self) -> bool {
        match self.op {
            Some(op) if INFERENCE_OPS.contains(&op) => true,
            Some(op) if OTHER_OPS.contains(&op) => false,
            _ => self.oi_kind == Some("LLM") || self.request_model,
        }
    }

    pub fn tokens(&self) -> u64 {
        let (i, o) = (self.input.get(), self.output.get());
        let n = if i.is_none() && o.is_none() {
            self.total.get().unwrap_or(0.0)
        } else {
            i.unwrap_or(0.0) + o.unwrap_or(0.0)
        };
        n.round() as u64
    }

    pub fn cost(&self) -> f64 {
        self.cost.get().unwrap_or(0.0)
    }

    /// The tool an `execute_tool` (or OpenInference TOOL) span ran.
    pub fn tool<'s>(&self, span: &'s Span) -> Option<&'s str>
    where
        'a: 's,
    {
        let by_name = span.name.strip_prefix("execute_tool ").map(str::trim).filter(|s| !s.is_empty());
        let is_tool = self.op == Some("execute_tool") || self.oi_kind == Some("TOOL") || by_name.is_some();
        if !is_tool {
            return None;
        }
        self.tool.map(|(_, t)| t).or(by_name)
    }
}

/// 32 bits: a collision among one trace's few tools is negligible.
pub(crate) fn tool_hash(name: &str) -> u32 {
    foldhash::fast::FixedState::with_seed(0x7a11).hash_one(name) as u32
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref())
}

/// `genai_error`: an LLM span with status ERROR, optionally of given types.
pub(crate) struct ErrorMatch {
    types: Vec<String>,
}

impl ErrorMatch {
    pub fn new(c: &GenaiErrorConfig) -> Self {
        ErrorMatch { types: c.error_types.clone() }
    }

    pub fn matches(&self, span: &Span, f: &Facts) -> bool {
        if status_code(span) != 2 || !f.is_llm() {
            return false;
        }
        if self.types.is_empty() {
            return true;
        }
        if f.error_type.is_some_and(|et| self.types.iter().any(|t| t == et)) {
            return true;
        }
        // SDKs that record the provider's exception instead of `error.type`.
        span.events
            .iter()
            .filter(|e| e.name == "exception")
            .filter_map(|e| attr(&e.attributes, "exception.type").and_then(as_str))
            .any(|et| self.types.iter().any(|t| et.contains(t.as_str())))
    }
}

/// `genai_evaluation`: a `gen_ai.evaluation.result` event of the given name
/// whose score (and label, if listed) is in range.
pub(crate) struct EvalMatch {
    name: String,
    min: Option<f64>,
    max: Option<f64>,
    labels: Vec<String>,
}

impl EvalMatch {
    pub fn new(c: &GenaiEvaluationConfig) -> Self {
        EvalMatch { name: c.name.clone(), min: c.min_score, max: c.max_score, labels: c.label.clone() }
    }

    pub fn matches(&self, span: &Span) -> bool {
        span.events.iter().filter(|e| e.name == "gen_ai.evaluation.result").any(|e| self.event_matches(&e.attributes))
    }

    fn event_matches(&self, attrs: &[KeyValue]) -> bool {
        if attr(attrs, "gen_ai.evaluation.name").and_then(as_str) != Some(self.name.as_str()) {
            return false;
        }
        if self.min.is_some() || self.max.is_some() {
            let Some(score) = attr(attrs, "gen_ai.evaluation.score.value").and_then(as_num) else { return false };
            if self.min.is_some_and(|m| score < m) || self.max.is_some_and(|m| score > m) {
                return false;
            }
        }
        if !self.labels.is_empty() {
            let label = attr(attrs, "gen_ai.evaluation.score.label").and_then(as_str);
            if !label.is_some_and(|l| self.labels.iter().any(|x| x == l)) {
                return false;
            }
        }
        true
    }
}
