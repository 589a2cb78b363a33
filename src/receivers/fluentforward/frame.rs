//! Finds where one MessagePack message ends in a TCP byte stream.
//!
//! The forward protocol has no length prefix, so the reader walks value
//! headers. The walk resumes where it stopped when more bytes arrive, and
//! skips string and binary bodies by their length, so a large PackedForward
//! blob costs one step however it is split across reads. MessagePack is
//! prefix-encoded: the number of values still owed is all the state needed.

use rmp::Marker;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FrameError {
    #[error("not a forward protocol message: it starts with byte 0x{0:02x}, not an array")]
    NotAnArray(u8),
    #[error("message larger than max_message_size ({0} bytes)")]
    TooLarge(usize),
    #[error("reserved MessagePack marker 0xc1 at byte {0}")]
    Reserved(usize),
}

pub struct Scanner {
    max: usize,
    /// Where the next header starts; may lie past the bytes read so far.
    pos: usize,
    /// Values still to be read before the message is complete.
    pending: u64,
}

impl Scanner {
    pub fn new(max: usize) -> Scanner {
        Scanner { max, pos: 0, pending: 1 }
    }

    /// Starts over for the next message.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.pending = 1;
    }

    /// `Some(len)` once `buf[..len]` holds one whole message; `None` while more is needed.
    pub fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        if self.pos == 0 && self.pending == 1 {
            match buf.first() {
                None => return Ok(None),
                Some(b) if !matches!(Marker::from_u8(*b), Marker::FixArray(_) | Marker::Array16 | Marker::Array32) => {
                    return Err(FrameError::NotAnArray(*b));
                }
                _ => {}
            }
        }
        while self.pending > 0 {
            let Some(&b) = buf.get(self.pos) else { return Ok(None) };
            let (header, body, children) = match Marker::from_u8(b) {
                Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => (1, 0, 0),
                Marker::U8 | Marker::I8 => (2, 0, 0),
                Marker::U16 | Marker::I16 => (3, 0, 0),
                Marker::U32 | Marker::I32 | Marker::F32 => (5, 0, 0),
                Marker::U64 | Marker::I64 | Marker::F64 => (9, 0, 0),
                Marker::FixStr(n) => (1, n as u64, 0),
                Marker::Str8 | Marker::Bin8 => match len(buf, self.pos, 1) {
                    Some(n) => (2, n, 0),
                    None => return Ok(None),
                },
                Marker::Str16 | Marker::Bin16 => match len(buf, self.pos, 2) {
                    Some(n) => (3, n, 0),
                    None => return Ok(None),
                },
                Marker::Str32 | Marker::Bin32 => match len(buf, self.pos, 4) {
                    Some(n) => (5, n, 0),
                    None => return Ok(None),
                },
                Marker::FixArray(n) => (1, 0, u64::from(n)),
                Marker::Array16 => match len(buf, self.pos, 2) {
                    Some(n) => (3, 0, n),
                    None => return Ok(None),
                },
                Marker::Array32 => match len(buf, self.pos, 4) {
                    Some(n) => (5, 0, n),
                    None => return Ok(None),
                },
                Marker::FixMap(n) => (1, 0, 2 * u64::from(n)),
                Marker::Map16 => match len(buf, self.pos, 2) {
                    Some(n) => (3, 0, 2 * n),
                    None => return Ok(None),
                },
                Marker::Map32 => match len(buf, self.pos, 4) {
                    Some(n) => (5, 0, 2 * n),
                    None => return Ok(None),
                },
                Marker::FixExt1 => (2, 1, 0),
                Marker::FixExt2 => (2, 2, 0),
                Marker::FixExt4 => (2, 4, 0),
                Marker::FixExt8 => (2, 8, 0),
                Marker::FixExt16 => (2, 16, 0),
                Marker::Ext8 => match len(buf, self.pos, 1) {
                    Some(n) => (3, n, 0),
                    None => return Ok(None),
                },
                Marker::Ext16 => match len(buf, self.pos, 2) {
                    Some(n) => (4, n, 0),
                    None => return Ok(None),
                },
                Marker::Ext32 => match len(buf, self.pos, 4) {
                    Some(n) => (6, n, 0),
                    None => return Ok(None),
                },
                Marker::Reserved => return Err(FrameError::Reserved(self.pos)),
            };
            self.pos += header + body as usize;
            self.pending = self.pending - 1 + children;
            // Every value owed needs at least one more byte: refuse as soon as
            // the message cannot fit, before buffering it.
            if (self.pos as u64).saturating_add(self.pending) > self.max as u64 {
                return Err(FrameError::TooLarge(self.max));
            }
        }
        if self.pos <= buf.len() {
            Ok(Some(self.pos))
        } else {
            Ok(None)
        }
    }

    /// Bytes the current message still needs at least, to size the next read.
    pub fn wanted(&self, have: usize) -> usize {
        self.pos.saturating_sub(have)
    }
}

/// A big-endian length of `n` bytes after the marker at `at`, once those bytes have arrived.
fn len(buf: &[u8], at: usize, n: usize) -> Option<u64> {
    let b = buf.get(at + 1..at + 1 + n)?;
    Some(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Vec<u8> {
        let mut w = Vec::new();
        rmp::encode::write_array_len(&mut w, 3).unwrap();
        rmp::encode::write_str(&mut w, "app.log").unwrap();
        rmp::encode::write_bin(&mut w, &[7u8; 300]).unwrap();
        rmp::encode::write_map_len(&mut w, 1).unwrap();
        rmp::encode::write_str(&mut w, "chunk").unwrap();
        rmp::encode::write_str(&mut w, "abc").unwrap();
        w
    }

    #[test]
    fn finds_the_end_however_the_bytes_arrive() {
        let m = message();
        let mut two = m.clone();
        two.extend_from_slice(&m);
        for step in [1, 2, 7, 64, two.len()] {
            let mut s = Scanner::new(1 << 20);
            let mut found = None;
            let mut have = 0;
            while found.is_none() {
                have = (have + step).min(two.len());
                found = s.scan(&two[..have]).unwrap();
            }
            assert_eq!(found, Some(m.len()), "step {step}");
        }
    }

    #[test]
    fn refuses_garbage_and_oversize_early() {
        assert_eq!(Scanner::new(1024).scan(b"GET / HTTP/1.1\r\n"), Err(FrameError::NotAnArray(b'G')));
        // A binary claiming 4 GiB is refused from its header alone.
        let huge = [0x93, 0xa1, b't', 0xc6, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(Scanner::new(1024).scan(&huge), Err(FrameError::TooLarge(1024)));
        // So is an array claiming more elements than could fit.
        let many = [0x92, 0xa1, b't', 0xdd, 0x00, 0x10, 0x00, 0x00];
        assert_eq!(Scanner::new(1024).scan(&many), Err(FrameError::TooLarge(1024)));
        assert_eq!(Scanner::new(1024).scan(&[0x91, 0xc1]), Err(FrameError::Reserved(1)));
    }
}
