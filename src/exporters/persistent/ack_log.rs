//! The sidecar of one WAL segment (`<id>.ack`): which of its records the
//! backend has acknowledged. Consumers finish records out of order, so
//! each entry names one record by its index and its checksum; a replay
//! skips exactly those records and sends every other one again.

/// `index: u32 | record crc: u32 | crc32 of those eight bytes`, little endian.
/// The record's checksum ties an entry to the record it was written for, so
/// a stale entry (a segment emptied and refilled under the same name, whose
/// old sidecar survived a power loss) can never hide new data.
pub const ENTRY: usize = 12;

pub fn entry(index: u32, record_crc: u32) -> [u8; ENTRY] {
    let mut e = [0u8; ENTRY];
    e[0..4].copy_from_slice(&index.to_le_bytes());
    e[4..8].copy_from_slice(&record_crc.to_le_bytes());
    let check = crc32fast::hash(&e[0..8]);
    e[8..12].copy_from_slice(&check.to_le_bytes());
    e
}

/// The entries up to the first torn or corrupt one, as `(index, record crc)`,
/// and the length of that valid prefix. Everything after a bad entry is
/// ignored: those records are replayed, which duplicates but never loses.
pub fn parse(bytes: &[u8]) -> (Vec<(u32, u32)>, usize) {
    let mut out = Vec::with_capacity(bytes.len() / ENTRY);
    for (i, e) in bytes.chunks(ENTRY).enumerate() {
        let word = |k: usize| e.get(k..k + 4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        match (word(0), word(4), word(8)) {
            (Some(index), Some(crc), Some(check)) if crc32fast::hash(&e[0..8]) == check => out.push((index, crc)),
            _ => return (out, i * ENTRY),
        }
    }
    (out, bytes.len())
}
