//! Reading GenAI spans of every dialect (OTel current and deprecated,
//! OpenInference, OpenLLMetry legacy) into the OTel GenAI metric attributes
//! and measurements.

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue};
use aiotel_api::otlp::trace::v1::Span;

use crate::config::GenAiConfig;
use crate::dims::{DimRef, FieldTable, KeyBuf, Slot, FROM_RESOURCE, S_OTHER};

/// The attributes of the GenAI metrics, in key order; attribution dimensions follow.
pub const BUILTIN_ATTRIBUTES: [&str; 9] = [
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "server.address",
    "gen_ai.token.type",
    "error.type",
    "gen_ai.evaluation.name",
    "gen_ai.evaluation.score.label",
];
/// How many of the built-ins start every GenAI key.
pub(crate) const COMMON: usize = 5;

/// Span events that mark the first streamed chunk; the earliest one counts.
/// Besides these names, any event whose name holds "first" and "token" or
/// "chunk" (case-insensitive), e.g. LlamaIndex's "First Token Stream Event".
pub const FIRST_TOKEN_EVENTS: [&str; 4] =
    ["gen_ai.first_token", "gen_ai.response.first_chunk", "gen_ai.content.chunk", "gen_ai.choice.chunk"];

pub const EVALUATION_EVENT: &str = "gen_ai.evaluation.result";

/// Operations whose token counts roll up their children's (an agent's run, a
/// workflow): their tokens and cost are already counted on the model calls.
const ROLL_UPS: [&str; 4] = ["invoke_agent", "create_agent", "invoke_workflow", "execute_tool"];

/// The slots the GenAI attributes are read into.
pub(crate) struct GenAiSlots {
    op_otel: u16,
    op_openinference: u16,
    op_llm_request_type: u16,
    op_traceloop: u16,
    provider: u16,
    request_model: u16,
    response_model: u16,
    server_address: u16,
    input_tokens: u16,
    output_tokens: u16,
    ttft: u16,
    cost: u16,
    currency: u16,
    error_type: u16,
    pub dims: Vec<DimRef>,
}

impl GenAiSlots {
    pub fn register(t: &mut FieldTable, cfg: &GenAiConfig) -> Self {
        let dims = cfg
            .dimensions
            .iter()
            .map(|d| {
                let mut keys = vec![d.name.as_str()];
                keys.extend(d.aliases.iter().map(String::as_str));
                DimRef { slot: t.add(&keys), default: d.default.clone() }
            })
            .collect();
        Self {
            op_otel: t.add(&["gen_ai.operation.name"]),
            op_openinference: t.add(&["openinference.span.kind"]),
            op_llm_request_type: t.add(&["llm.request.type"]),
            op_traceloop: t.add(&["traceloop.span.kind"]),
            provider: t.add(&["gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"]),
            request_model: t.add(&["gen_ai.request.model", "llm.request.model_name"]),
            response_model: t.add(&["gen_ai.response.model", "llm.response.model_name", "llm.model_name"]),
            server_address: t.add(&["server.address"]),
            input_tokens: t.add(&["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"]),
            output_tokens: t.add(&[
                "gen_ai.usage.output_tokens",
                "gen_ai.usage.completion_tokens",
                "llm.token_count.completion",
            ]),
            ttft: t.add(&["gen_ai.response.time_to_first_chunk"]),
            cost: t.add(&["gen_ai.cost.total", "llm.cost.total"]),
            currency: t.add(&["gen_ai.cost.currency"]),
            error_type: t.add(&["error.type"]),
            dims,
        }
    }
}

/// What one span contributes to the GenAI metrics.
#[derive(Default)]
pub(crate) struct Reading<'a> {
    /// The span is a GenAI operation (its own attributes say so).
    pub is_genai: bool,
    /// Tokens and cost count (not a roll-up of child calls).
    pub counts_usage: bool,
    pub input_tokens: Option<f64>,
    pub output_tokens: Option<f64>,
    pub duration_s: f64,
    pub ttft_s: Option<f64>,
    pub cost: Option<f64>,
    pub currency: Option<&'a str>,
    /// `error.type` to record: the span's, or `_OTHER`.
    pub error: Option<Option<&'a AnyValue>>,
}

fn from_span(s: &Slot) -> bool {
    s.val.is_some() && s.prio < FROM_RESOURCE
}

fn number(v: Option<&AnyValue>) -> Option<f64> {
    let n = match v?.value.as_ref()? {
        Value::IntValue(i) => *i as f64,
        Value::DoubleValue(d) => *d,
        Value::StringValue(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0).then_some(n)
}

fn string(v: Option<&AnyValue>) -> Option<&str> {
    match v?.value.as_ref()? {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}

impl GenAiSlots {
    pub fn read<'a>(&self, span: &'a Span, slots: &[Slot<'a>]) -> Reading<'a> {
        let slot = |i: u16| &slots[i as usize];
        let is_genai = [
            self.op_otel,
            self.op_openinference,
            self.op_llm_request_type,
            self.op_traceloop,
            self.provider,
            self.request_model,
            self.response_model,
            self.input_tokens,
            self.output_tokens,
        ]
        .iter()
        .any(|&i| from_span(slot(i)));
        if !is_genai {
            return Reading::default();
        }
        let duration_s = span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano) as f64 / 1e9;
        let counts_usage = !self.with_operation(span, slots, |op| ROLL_UPS.contains(&op)).unwrap_or(false);
        let ttft_s = number(slot(self.ttft).val).or_else(|| first_token_time(span));
        let error = (span.status.as_ref().is_some_and(|s| s.code == 2)).then(|| slot(self.error_type).val);
        Reading {
            is_genai,
            counts_usage,
            input_tokens: number(slot(self.input_tokens).val),
            output_tokens: number(slot(self.output_tokens).val),
            duration_s,
            ttft_s,
            cost: number(slot(self.cost).val),
            currency: string(slot(self.currency).val),
            error,
        }
    }

    /// Writes the attributes every GenAI metric starts with.
    pub fn write_common(&self, span: &Span, slots: &[Slot], key: &mut KeyBuf) {
        let slot = |i: u16| &slots[i as usize];
        if self.with_operation(span, slots, |op| key.str(op)).is_none() {
            key.absent();
        }
        match string(slot(self.provider).val) {
            Some(p) => write_provider(p, key),
            None => key.value_or(slot(self.provider).val, None),
        }
        for i in [self.request_model, self.response_model, self.server_address] {
            key.value_or(slot(i).val, None);
        }
        for d in &self.dims {
            d.write(slots, key);
        }
    }

    /// `error.type`: the span's attribute, or `_OTHER`.
    pub fn write_error(error: Option<&AnyValue>, key: &mut KeyBuf) {
        match error {
            Some(v) => key.value(v),
            None => key.static_str(S_OTHER),
        }
    }

    /// Calls `f` with the operation name in OTel terms, from whichever dialect has it.
    fn with_operation<R>(&self, span: &Span, slots: &[Slot], f: impl FnOnce(&str) -> R) -> Option<R> {
        let get = |i: u16| string(slots[i as usize].val).filter(|s| !s.is_empty());
        if let Some(op) = get(self.op_otel) {
            return Some(f(op));
        }
        let mapped = if let Some(kind) = get(self.op_openinference) {
            map_lower(kind, OPENINFERENCE_KINDS)
        } else if let Some(t) = get(self.op_llm_request_type) {
            map_lower(t, LLM_REQUEST_TYPES)
        } else if let Some(k) = get(self.op_traceloop) {
            map_lower(k, TRACELOOP_KINDS)
        } else {
            // Older OTel spans are named "{operation} {model}".
            let first = span.name.split(' ').next().unwrap_or("");
            KNOWN_OPERATIONS.iter().find(|op| **op == first).map(|op| Mapped::Static(op))
        };
        match mapped? {
            Mapped::Static(s) => Some(f(s)),
            Mapped::Lower(s) => {
                let mut buf = [0u8; 48];
                let n = s.len().min(buf.len());
                buf[..n].copy_from_slice(&s.as_bytes()[..n]);
                buf[..n].make_ascii_lowercase();
                Some(f(std::str::from_utf8(&buf[..n]).unwrap_or("_OTHER")))
            }
        }
    }
}

const KNOWN_OPERATIONS: [&str; 10] = [
    "chat",
    "text_completion",
    "generate_content",
    "embeddings",
    "execute_tool",
    "invoke_agent",
    "create_agent",
    "retrieval",
    "invoke_workflow",
    "rerank",
];

const OPENINFERENCE_KINDS: &[(&str, &str)] = &[
    ("llm", "chat"),
    ("embedding", "embeddings"),
    ("tool", "execute_tool"),
    ("agent", "invoke_agent"),
    ("retriever", "retrieval"),
    ("chain", "invoke_workflow"),
    ("reranker", "rerank"),
    ("guardrail", "guardrail"),
    ("evaluator", "evaluate"),
];

const LLM_REQUEST_TYPES: &[(&str, &str)] =
    &[("chat", "chat"), ("completion", "text_completion"), ("embedding", "embeddings"), ("rerank", "rerank")];

const TRACELOOP_KINDS: &[(&str, &str)] =
    &[("workflow", "invoke_workflow"), ("agent", "invoke_agent"), ("tool", "execute_tool"), ("task", "task")];

enum Mapped<'a> {
    Static(&'static str),
    Lower(&'a str),
}

fn map_lower<'a>(v: &'a str, table: &[(&str, &'static str)]) -> Option<Mapped<'a>> {
    Some(match table.iter().find(|(k, _)| k.eq_ignore_ascii_case(v)) {
        Some((_, to)) => Mapped::Static(to),
        None => Mapped::Lower(v),
    })
}

/// Provider names as the OTel registry spells them, from every dialect's spelling.
const PROVIDERS: &[(&str, &str)] = &[
    ("openai", "openai"),
    ("anthropic", "anthropic"),
    ("aws.bedrock", "aws.bedrock"),
    ("bedrock", "aws.bedrock"),
    ("aws_bedrock", "aws.bedrock"),
    ("amazon_bedrock", "aws.bedrock"),
    ("aws", "aws.bedrock"),
    ("gcp.vertex_ai", "gcp.vertex_ai"),
    ("vertex_ai", "gcp.vertex_ai"),
    ("vertexai", "gcp.vertex_ai"),
    ("vertex", "gcp.vertex_ai"),
    ("google_vertex_ai", "gcp.vertex_ai"),
    ("gcp.gemini", "gcp.gemini"),
    ("gemini", "gcp.gemini"),
    ("google", "gcp.gemini"),
    ("google_genai", "gcp.gemini"),
    ("google_generative_ai", "gcp.gemini"),
    ("gcp.gen_ai", "gcp.gen_ai"),
    ("azure.ai.openai", "azure.ai.openai"),
    ("az.ai.openai", "azure.ai.openai"),
    ("azure", "azure.ai.openai"),
    ("azure_openai", "azure.ai.openai"),
    ("azureopenai", "azure.ai.openai"),
    ("azure.ai.inference", "azure.ai.inference"),
    ("az.ai.inference", "azure.ai.inference"),
    ("mistral_ai", "mistral_ai"),
    ("mistral", "mistral_ai"),
    ("mistralai", "mistral_ai"),
    ("deepseek", "deepseek"),
    ("cohere", "cohere"),
    ("groq", "groq"),
    ("perplexity", "perplexity"),
    ("x_ai", "x_ai"),
    ("xai", "x_ai"),
    ("ibm.watsonx.ai", "ibm.watsonx.ai"),
    ("watsonx", "ibm.watsonx.ai"),
    ("watsonx.ai", "ibm.watsonx.ai"),
    ("ibm_watsonx", "ibm.watsonx.ai"),
];

/// Writes a provider name normalised: known aliases mapped, others lower-cased
/// with spaces and dashes as underscores ("Vertex AI" -> "gcp.vertex_ai").
pub(crate) fn write_provider(p: &str, key: &mut KeyBuf) {
    let norm = |b: u8| match b {
        b' ' | b'-' => b'_',
        b => b.to_ascii_lowercase(),
    };
    let mut buf = [0u8; 32];
    if p.len() <= buf.len() {
        for (d, s) in buf.iter_mut().zip(p.bytes()) {
            *d = norm(s);
        }
        let lower = &buf[..p.len()];
        if let Some((_, to)) = PROVIDERS.iter().find(|(k, _)| k.as_bytes() == lower) {
            return key.str(to);
        }
    }
    key.str_with(p.len(), |out| out.extend(p.bytes().map(norm)));
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.as_bytes().windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Seconds from span start to the earliest first-token event.
fn first_token_time(span: &Span) -> Option<f64> {
    span.events
        .iter()
        .filter(|e| {
            FIRST_TOKEN_EVENTS.iter().any(|n| n.eq_ignore_ascii_case(&e.name))
                || (contains_ci(&e.name, "first") && (contains_ci(&e.name, "token") || contains_ci(&e.name, "chunk")))
        })
        .map(|e| e.time_unix_nano)
        .filter(|t| *t >= span.start_time_unix_nano)
        .min()
        .map(|t| (t - span.start_time_unix_nano) as f64 / 1e9)
}

/// An evaluation result event's name, score and label.
pub(crate) struct Evaluation<'a> {
    pub name: Option<&'a AnyValue>,
    pub score: Option<f64>,
    pub label: Option<&'a AnyValue>,
}

pub(crate) fn evaluations(span: &Span) -> impl Iterator<Item = Evaluation<'_>> {
    span.events.iter().filter(|e| e.name == EVALUATION_EVENT).map(|e| {
        let mut ev = Evaluation { name: None, score: None, label: None };
        for a in &e.attributes {
            match a.key.as_str() {
                "gen_ai.evaluation.name" => ev.name = a.value.as_ref(),
                "gen_ai.evaluation.score.value" => ev.score = number(a.value.as_ref()),
                "gen_ai.evaluation.score.label" => ev.label = a.value.as_ref(),
                _ => {}
            }
        }
        ev
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dims::decode;

    fn provider(p: &str) -> String {
        let mut k = KeyBuf::default();
        write_provider(p, &mut k);
        let mut out = Vec::new();
        decode(&k.buf, &["p".to_string()], &mut out);
        match out[0].value.as_ref().unwrap().value.as_ref().unwrap() {
            Value::StringValue(s) => s.clone(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn providers_are_normalised() {
        assert_eq!(provider("OpenAI"), "openai");
        assert_eq!(provider("Vertex AI"), "gcp.vertex_ai");
        assert_eq!(provider("mistralai"), "mistral_ai");
        assert_eq!(provider("az.ai.openai"), "azure.ai.openai");
        assert_eq!(provider("Bedrock"), "aws.bedrock");
        assert_eq!(provider("My Own-LLM"), "my_own_llm");
    }
}
