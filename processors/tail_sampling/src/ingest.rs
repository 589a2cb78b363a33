//! Runs every predicate on a span once, as it arrives, and reduces the span to
//! a [`SpanDelta`]. One pass over the attributes serves all policies: each
//! key is looked up once in a table of the keys any policy reads.

use std::collections::HashMap;

use aiotel_api::otlp::common::v1::KeyValue;
use aiotel_api::otlp::trace::v1::Span;

use crate::policy::genai::{tool_hash, Facts, Field, FIELDS};
use crate::policy::span_fields::{status_matches, trace_flags_sampled};
use crate::policy::{Pred, Predicates};
use crate::trace_state::SpanDelta;

#[derive(Clone, Copy)]
enum Watch {
    /// An attribute predicate's index (= bit).
    Attr(u8),
    Genai(Field),
}

pub(crate) struct Ingest {
    preds: Vec<Pred>,
    watch: HashMap<String, Vec<Watch>, foldhash::fast::RandomState>,
    /// Predicates on span fields and events rather than attributes.
    span_preds: Vec<u8>,
    has_attr_preds: bool,
    genai: bool,
    tools: bool,
}

impl Ingest {
    pub fn new(p: Predicates) -> Self {
        let mut watch: HashMap<String, Vec<Watch>, _> = HashMap::default();
        let mut span_preds = Vec::new();
        for (i, pred) in p.list.iter().enumerate() {
            match pred {
                Pred::Attr { key, .. } => watch.entry(key.clone()).or_default().push(Watch::Attr(i as u8)),
                _ => span_preds.push(i as u8),
            }
        }
        let has_attr_preds = !watch.is_empty();
        if p.genai {
            for (key, f) in FIELDS {
                watch.entry(key.to_string()).or_default().push(Watch::Genai(*f));
            }
        }
        Ingest { preds: p.list, watch, span_preds, has_attr_preds, genai: p.genai, tools: p.tools }
    }

    /// Attribute predicates the resource satisfies; they hold for all its spans.
    pub fn resource_bits(&mut self, attrs: &[KeyValue]) -> u128 {
        if !self.has_attr_preds {
            return 0;
        }
        let mut bits = 0u128;
        for kv in attrs {
            let Some(ws) = self.watch.get(kv.key.as_str()) else { continue };
            for w in ws {
                if let Watch::Attr(i) = *w {
                    if let Pred::Attr { m, .. } = &mut self.preds[i as usize] {
                        if m.matches(kv.value.as_ref(), false) {
                            bits |= 1 << i;
                        }
                    }
                }
            }
        }
        bits
    }

    pub fn span(&mut self, span: &Span, resource_bits: u128) -> SpanDelta {
        let Ingest { preds, watch, span_preds, genai, tools, .. } = self;
        let mut d = SpanDelta { bits: resource_bits, ..Default::default() };
        let mut facts = Facts::default();
        if !watch.is_empty() {
            for kv in &span.attributes {
                let Some(ws) = watch.get(kv.key.as_str()) else { continue };
                for w in ws {
                    match *w {
                        Watch::Attr(i) => {
                            if let Pred::Attr { m, .. } = &mut preds[i as usize] {
                                if m.matches(kv.value.as_ref(), true) {
                                    d.bits |= 1 << i;
                                }
                            }
                        }
                        Watch::Genai(f) => {
                            if let Some(v) = &kv.value {
                                facts.set(f, v);
                            }
                        }
                    }
                }
            }
        }
        for &i in span_preds.iter() {
            let hit = match &preds[i as usize] {
                Pred::Status(mask) => status_matches(*mask, span),
                Pred::TraceState(m) => m.matches(&span.trace_state),
                Pred::TraceFlags => trace_flags_sampled(span),
                Pred::GenaiError(m) => m.matches(span, &facts),
                Pred::GenaiEval(m) => m.matches(span),
                Pred::Attr { .. } => false,
            };
            if hit {
                d.bits |= 1 << i;
            }
        }
        if *genai {
            d.llm_call = facts.is_llm();
            d.tokens = facts.tokens();
            d.cost = facts.cost();
            if *tools {
                d.tool = facts.tool(span).map(tool_hash);
            }
        }
        d
    }
}
