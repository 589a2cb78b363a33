//! Resource + scope headers, stored once and shared by every buffered span
//! that came with them (typically thousands of spans per header).

use std::collections::HashMap;
use std::hash::BuildHasher;

use prost::encoding::{decode_varint, encode_varint};
use prost::Message;

use aiotel_api::otlp::common::v1::InstrumentationScope;
use aiotel_api::otlp::resource::v1::Resource;

/// Bookkeeping per header beyond its bytes: the slot and its map entry.
pub(crate) const SLOT_OVERHEAD: usize = std::mem::size_of::<Slot>() + 24;

pub(crate) struct Groups {
    by_hash: HashMap<u64, u32, foldhash::fast::RandomState>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Freed during the current call; reused only after [`Groups::recycle`], so
    /// an id handed to an output builder cannot change meaning mid-call.
    retired: Vec<u32>,
    pub bytes: usize,
}

pub(crate) struct Slot {
    hash: u64,
    header: Box<[u8]>,
    refs: u64,
}

/// The decoded header: what a `ResourceSpans` + `ScopeSpans` carry besides spans.
pub(crate) struct Header {
    pub resource: Option<Resource>,
    pub resource_schema_url: String,
    pub scope: Option<InstrumentationScope>,
    pub scope_schema_url: String,
}

/// Encodes a header; `resource` is the already encoded `Resource`.
pub(crate) fn encode_header(
    resource: Option<&[u8]>,
    resource_schema_url: &str,
    scope: Option<&InstrumentationScope>,
    scope_schema_url: &str,
) -> Vec<u8> {
    let mut b = Vec::new();
    b.push(resource.is_some() as u8 | (scope.is_some() as u8) << 1);
    let mut put = |bytes: &[u8]| {
        encode_varint(bytes.len() as u64, &mut b);
        b.extend_from_slice(bytes);
    };
    put(resource.unwrap_or_default());
    put(resource_schema_url.as_bytes());
    put(&scope.map(|s| s.encode_to_vec()).unwrap_or_default());
    put(scope_schema_url.as_bytes());
    b
}

impl Groups {
    pub fn new() -> Self {
        Groups { by_hash: HashMap::default(), slots: Vec::new(), free: Vec::new(), retired: Vec::new(), bytes: 0 }
    }

    /// Returns the header's id, pinned once: call [`Groups::release`] when done.
    pub fn intern(&mut self, header: Vec<u8>) -> u32 {
        let hash = foldhash::fast::FixedState::with_seed(0x6e0).hash_one(&header);
        if let Some(&id) = self.by_hash.get(&hash) {
            let s = &mut self.slots[id as usize];
            if *s.header == *header {
                s.refs += 1;
                return id;
            }
            // A 64-bit hash collision: keep it unshared, still correct.
        }
        self.bytes += header.len() + SLOT_OVERHEAD;
        let slot = Slot { hash, header: header.into_boxed_slice(), refs: 1 };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.by_hash.entry(hash).or_insert(id);
        id
    }

    pub fn add_ref(&mut self, id: u32) {
        self.slots[id as usize].refs += 1;
    }

    pub fn release(&mut self, id: u32) {
        let s = &mut self.slots[id as usize];
        s.refs -= 1;
        if s.refs == 0 {
            self.bytes -= s.header.len() + SLOT_OVERHEAD;
            s.header = Box::default();
            if self.by_hash.get(&s.hash) == Some(&id) {
                self.by_hash.remove(&s.hash);
            }
            self.retired.push(id);
        }
    }

    /// Makes ids freed since the last call reusable.
    pub fn recycle(&mut self) {
        self.free.append(&mut self.retired);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len() - self.retired.len()
    }

    pub fn decode(&self, id: u32) -> Header {
        let mut rest: &[u8] = &self.slots[id as usize].header;
        let flags = rest.first().copied().unwrap_or(0);
        rest = rest.get(1..).unwrap_or_default();
        let (res, res_url, scope, scope_url) = (take(&mut rest), take(&mut rest), take(&mut rest), take(&mut rest));
        Header {
            resource: (flags & 1 != 0).then(|| Resource::decode(res).unwrap_or_default()),
            resource_schema_url: String::from_utf8_lossy(res_url).into_owned(),
            scope: (flags & 2 != 0).then(|| InstrumentationScope::decode(scope).unwrap_or_default()),
            scope_schema_url: String::from_utf8_lossy(scope_url).into_owned(),
        }
    }
}

/// One length-delimited field of a header.
fn take<'a>(rest: &mut &'a [u8]) -> &'a [u8] {
    let n = decode_varint(rest).unwrap_or(0) as usize;
    let (a, b) = rest.split_at(n.min(rest.len()));
    *rest = b;
    a
}
