//! Pending traces: a map by trace id, an age queue (arrival order = deadline
//! order, since every trace waits the same `decision_wait`), the shared
//! resource/scope headers, and the byte count the budget is checked against.

use std::collections::{HashMap, VecDeque};
use std::mem::size_of;
use std::time::Instant;

use aiotel_api::otlp::trace::v1::Span;
use aiotel_api::Ack;

use crate::intern::Groups;
use crate::trace_state::{SpanDelta, TraceId, TraceState};

/// Queue entry; `seq` tells a live entry from one whose trace was decided early.
struct Aged {
    id: TraceId,
    seq: u64,
    deadline: Instant,
}

/// Fixed bytes per pending trace: its map slot plus control byte and its
/// queue entry, each at the average fill of a table that doubles (~2/3), so
/// the count tracks what the allocator really holds (checked by the bench).
pub(crate) const TRACE_OVERHEAD: usize = (size_of::<(TraceId, TraceState)>() + 1 + size_of::<Aged>()) * 3 / 2;

pub(crate) struct Buffer {
    traces: HashMap<TraceId, TraceState, foldhash::fast::RandomState>,
    queue: VecDeque<Aged>,
    pub groups: Groups,
    trace_bytes: usize,
    spans: u64,
    next_seq: u64,
}

impl Buffer {
    pub fn with_capacity(n: usize) -> Self {
        Buffer {
            traces: HashMap::with_capacity_and_hasher(n, Default::default()),
            queue: VecDeque::with_capacity(n),
            groups: Groups::new(),
            trace_bytes: 0,
            spans: 0,
            next_seq: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.traces.len()
    }

    /// Bytes held: span records, per-trace bookkeeping and shared headers.
    pub fn bytes(&self) -> usize {
        self.trace_bytes + self.groups.bytes
    }

    pub fn spans(&self) -> u64 {
        self.spans
    }

    pub fn contains(&self, id: &TraceId) -> bool {
        self.traces.contains_key(id)
    }

    /// Appends spans of one trace (starting it if new); `lens` from
    /// [`record_len`](crate::trace_state::record_len). Returns the trace's bytes.
    pub fn push_run(
        &mut self,
        id: TraceId,
        group: u32,
        run: &[Span],
        lens: &[(usize, usize)],
        deltas: &[SpanDelta],
        acks: &[Ack],
        deadline: Instant,
    ) -> usize {
        let t = self.traces.entry(id).or_insert_with(|| {
            self.next_seq += 1;
            self.queue.push_back(Aged { id, seq: self.next_seq, deadline });
            self.trace_bytes += TRACE_OVERHEAD;
            TraceState::new(self.next_seq)
        });
        let before = t.heap_bytes();
        t.acks.extend(acks.iter().cloned());
        t.reserve(lens.iter().map(|l| l.0).sum());
        for ((span, &(_, len)), d) in run.iter().zip(lens).zip(deltas) {
            t.push(group, span, len, d);
            self.groups.add_ref(group);
        }
        self.spans += run.len() as u64;
        self.trace_bytes += t.heap_bytes() - before;
        t.heap_bytes() + TRACE_OVERHEAD
    }

    /// Takes a trace out; the caller releases its header references.
    pub fn remove(&mut self, id: &TraceId) -> Option<TraceState> {
        let t = self.traces.remove(id)?;
        self.trace_bytes -= t.heap_bytes() + TRACE_OVERHEAD;
        self.spans -= t.spans as u64;
        Some(t)
    }

    fn live(&self, a: &Aged) -> bool {
        self.traces.get(&a.id).is_some_and(|t| t.seq == a.seq)
    }

    /// The oldest pending trace, for eviction or shutdown.
    pub fn pop_oldest(&mut self) -> Option<TraceId> {
        while let Some(a) = self.queue.pop_front() {
            if self.live(&a) {
                return Some(a.id);
            }
        }
        None
    }

    /// The oldest trace whose wait is over.
    pub fn pop_due(&mut self, now: Instant) -> Option<TraceId> {
        self.trim();
        let a = self.queue.front()?;
        if a.deadline > now {
            return None;
        }
        self.queue.pop_front().map(|a| a.id)
    }

    /// Drops queue entries of traces already decided, so the front is live.
    pub fn trim(&mut self) {
        while self.queue.front().is_some_and(|a| !self.live(a)) {
            self.queue.pop_front();
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.queue.front().map(|a| a.deadline)
    }
}
