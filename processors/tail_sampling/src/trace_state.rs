//! One pending trace: its spans as encoded bytes, plus the few aggregates the
//! policies read, folded in span by span at ingest.

use prost::encoding::{decode_varint, encode_varint, encoded_len_varint};
use prost::Message;

use std::mem::size_of;

use aiotel_api::otlp::trace::v1::Span;
use aiotel_api::Ack;

/// A trace id; hashed as one `u128` (a byte array hashes its length and bytes, slower).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TraceId(pub [u8; 16]);

impl std::hash::Hash for TraceId {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u128(u128::from_ne_bytes(self.0));
    }
}

/// Below this many bytes a trace's buffer grows exactly; above, in 1.25x steps.
const GROW_FROM: usize = 4096;

pub(crate) fn trace_id(bytes: &[u8]) -> TraceId {
    // Invalid ids (not 16 bytes) are kept, zero-padded, rather than lost.
    let mut id = [0u8; 16];
    let n = bytes.len().min(16);
    id[..n].copy_from_slice(&bytes[..n]);
    TraceId(id)
}

/// Bytes a span takes in a trace buffer, and its encoded length.
pub(crate) fn record_len(group: u32, span: &Span) -> (usize, usize) {
    let len = span.encoded_len();
    (encoded_len_varint(group as u64) + encoded_len_varint(len as u64) + len, len)
}

/// What ingest learned about one span, folded into [`TraceState`].
#[derive(Default)]
pub(crate) struct SpanDelta {
    /// Predicates this span (or its resource) satisfied.
    pub bits: u128,
    pub llm_call: bool,
    pub tokens: u64,
    pub cost: f64,
    /// Hash of the tool name, for an `execute_tool` span.
    pub tool: Option<u32>,
}

#[derive(Debug)]
pub(crate) struct TraceState {
    /// Records: varint group id, varint length, encoded `Span`.
    pub buf: Vec<u8>,
    /// Identifies this incarnation of the trace in the age queue.
    pub seq: u64,
    /// Predicate bits, as two words: a `u128` would align the struct to 16.
    bits: [u64; 2],
    pub min_start: u64,
    pub max_end: u64,
    pub tokens: u64,
    pub cost: f64,
    pub spans: u32,
    pub llm_calls: u32,
    /// Tool-name hash and call count; only with a `genai_loop` tool limit.
    /// Exact-size: a trace calls few distinct tools.
    pub tools: Option<Box<[(u32, u32)]>>,
    /// Durable acks of the requests that brought these spans: settled only
    /// when the trace is decided (dropped) or its kept spans are delivered.
    pub acks: Vec<Ack>,
}

impl TraceState {
    pub fn new(seq: u64) -> Self {
        TraceState {
            buf: Vec::new(),
            seq,
            bits: [0; 2],
            min_start: u64::MAX,
            max_end: 0,
            tokens: 0,
            cost: 0.0,
            spans: 0,
            llm_calls: 0,
            tools: None,
            acks: Vec::new(),
        }
    }

    /// Heap bytes this trace owns.
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity() + self.tools.as_ref().map_or(0, |t| t.len() * 8) + self.acks.capacity() * size_of::<Ack>()
    }

    /// Makes room for `need` more record bytes (one allocation per batch).
    pub fn reserve(&mut self, need: usize) {
        if self.buf.capacity() - self.buf.len() < need {
            // Exact while small (no slack), then 1.25x steps: bounded slack and copying.
            let step = if self.buf.len() < GROW_FROM { need } else { need.max(self.buf.len() / 4) };
            self.buf.reserve_exact(step);
        }
    }

    /// Appends one span of encoded length `len` (see [`record_len`]).
    pub fn push(&mut self, group: u32, span: &Span, len: usize, d: &SpanDelta) {
        encode_varint(group as u64, &mut self.buf);
        encode_varint(len as u64, &mut self.buf);
        // `encode_raw` skips the second `encoded_len` walk that `encode` makes.
        span.encode_raw(&mut self.buf);

        self.spans += 1;
        self.bits[0] |= d.bits as u64;
        self.bits[1] |= (d.bits >> 64) as u64;
        self.min_start = self.min_start.min(span.start_time_unix_nano);
        self.max_end = self.max_end.max(span.end_time_unix_nano);
        self.tokens = self.tokens.saturating_add(d.tokens);
        self.cost += d.cost;
        self.llm_calls += d.llm_call as u32;
        if let Some(tool) = d.tool {
            match self.tools.as_deref_mut().and_then(|t| t.iter_mut().find(|(h, _)| *h == tool)) {
                Some((_, n)) => *n += 1,
                None => {
                    let mut v = self.tools.take().map(Vec::from).unwrap_or_default();
                    v.push((tool, 1));
                    self.tools = Some(v.into_boxed_slice());
                }
            }
        }
    }

    pub fn bits(&self) -> u128 {
        self.bits[0] as u128 | (self.bits[1] as u128) << 64
    }

    /// The encoded size of the buffered spans, which `bytes_limiting` charges.
    pub fn encoded_bytes(&self) -> usize {
        self.buf.len()
    }

    pub fn max_tool_calls(&self) -> u32 {
        self.tools.as_ref().map_or(0, |t| t.iter().map(|(_, n)| *n).max().unwrap_or(0))
    }

    /// Trace duration in whole milliseconds (truncated, as Go's `Milliseconds()`).
    pub fn duration_ms(&self) -> i64 {
        if self.spans == 0 {
            return 0;
        }
        (self.max_end.saturating_sub(self.min_start) / 1_000_000) as i64
    }

    pub fn records(&self) -> Records<'_> {
        Records { rest: &self.buf }
    }
}

/// Walks `(group id, encoded span)` records without decoding the spans.
pub(crate) struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = (u32, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        // The buffer is written only by `push`, so these cannot fail.
        let group = decode_varint(&mut self.rest).ok()? as u32;
        let len = decode_varint(&mut self.rest).ok()? as usize;
        let (span, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some((group, span))
    }
}
