//! A zero-copy MessagePack reader over one complete message, converting
//! values straight into OTLP `AnyValue`s without an intermediate tree.
//!
//! `rmp` supplies the marker table; reading from a slice by hand avoids
//! `rmp`'s UTF-8 checks on strings that the protocol treats as raw bytes
//! (salts, nonces) and lets every length be checked against what is left.

use aiotel_api::otlp::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use rmp::Marker;

/// Nesting deeper than this is refused, so a hostile message cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReadError {
    #[error("message ends early, at byte {0}")]
    Eof(usize),
    #[error("expected {expected} at byte {at}, found {found}")]
    Type { expected: &'static str, found: String, at: usize },
    #[error("values nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("reserved marker 0xc1 at byte {0}")]
    Reserved(usize),
}

/// The kind of the next value, enough to tell the protocol's modes apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nil,
    Bool,
    Int,
    Float,
    Str,
    Bin,
    Array,
    Map,
    Ext,
    Reserved,
}

pub fn kind(m: Marker) -> Kind {
    match m {
        Marker::Null => Kind::Nil,
        Marker::True | Marker::False => Kind::Bool,
        Marker::FixPos(_)
        | Marker::FixNeg(_)
        | Marker::U8
        | Marker::U16
        | Marker::U32
        | Marker::U64
        | Marker::I8
        | Marker::I16
        | Marker::I32
        | Marker::I64 => Kind::Int,
        Marker::F32 | Marker::F64 => Kind::Float,
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => Kind::Str,
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => Kind::Bin,
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => Kind::Array,
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => Kind::Map,
        Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32 => Kind::Ext,
        Marker::Reserved => Kind::Reserved,
    }
}

fn name(k: Kind) -> &'static str {
    match k {
        Kind::Nil => "nil",
        Kind::Bool => "bool",
        Kind::Int => "integer",
        Kind::Float => "float",
        Kind::Str => "string",
        Kind::Bin => "binary",
        Kind::Array => "array",
        Kind::Map => "map",
        Kind::Ext => "extension",
        Kind::Reserved => "reserved marker",
    }
}

/// An integer as MessagePack holds it: unsigned values above `i64::MAX` stay exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Int {
    Signed(i64),
    Unsigned(u64),
}

#[derive(Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The bytes read since `start`.
    pub fn slice(&self, start: usize) -> &'a [u8] {
        &self.buf[start..self.pos]
    }

    pub fn peek_kind(&self) -> Result<Kind, ReadError> {
        let b = *self.buf.get(self.pos).ok_or(ReadError::Eof(self.pos))?;
        Ok(kind(Marker::from_u8(b)))
    }

    fn marker(&mut self) -> Result<Marker, ReadError> {
        let b = *self.buf.get(self.pos).ok_or(ReadError::Eof(self.pos))?;
        self.pos += 1;
        Ok(Marker::from_u8(b))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ReadError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len()).ok_or(ReadError::Eof(self.buf.len()))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, ReadError> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn mismatch(&self, expected: &'static str, m: Marker) -> ReadError {
        ReadError::Type { expected, found: name(kind(m)).to_string(), at: self.pos.saturating_sub(1) }
    }

    pub fn array_len(&mut self) -> Result<usize, ReadError> {
        match self.marker()? {
            Marker::FixArray(n) => Ok(n as usize),
            Marker::Array16 => Ok(self.be(2)? as usize),
            Marker::Array32 => Ok(self.be(4)? as usize),
            m => Err(self.mismatch("array", m)),
        }
    }

    pub fn map_len(&mut self) -> Result<usize, ReadError> {
        match self.marker()? {
            Marker::FixMap(n) => Ok(n as usize),
            Marker::Map16 => Ok(self.be(2)? as usize),
            Marker::Map32 => Ok(self.be(4)? as usize),
            m => Err(self.mismatch("map", m)),
        }
    }

    /// The bytes of a string or binary value; the protocol allows either for text.
    pub fn raw_str(&mut self) -> Result<&'a [u8], ReadError> {
        let m = self.marker()?;
        self.str_body(m).ok_or_else(|| self.mismatch("string", m))?
    }

    fn str_body(&mut self, m: Marker) -> Option<Result<&'a [u8], ReadError>> {
        let len = match m {
            Marker::FixStr(n) => Ok(n as usize),
            Marker::Str8 | Marker::Bin8 => self.be(1).map(|v| v as usize),
            Marker::Str16 | Marker::Bin16 => self.be(2).map(|v| v as usize),
            Marker::Str32 | Marker::Bin32 => self.be(4).map(|v| v as usize),
            _ => return None,
        };
        Some(len.and_then(|n| self.take(n)))
    }

    pub fn string(&mut self) -> Result<String, ReadError> {
        Ok(String::from_utf8_lossy(self.raw_str()?).into_owned())
    }

    /// An ext value: its type and data.
    pub fn ext(&mut self) -> Result<(i8, &'a [u8]), ReadError> {
        let m = self.marker()?;
        let len = match m {
            Marker::FixExt1 => 1,
            Marker::FixExt2 => 2,
            Marker::FixExt4 => 4,
            Marker::FixExt8 => 8,
            Marker::FixExt16 => 16,
            Marker::Ext8 => self.be(1)? as usize,
            Marker::Ext16 => self.be(2)? as usize,
            Marker::Ext32 => self.be(4)? as usize,
            m => return Err(self.mismatch("extension", m)),
        };
        let ty = self.take(1)?[0] as i8;
        Ok((ty, self.take(len)?))
    }

    pub fn int(&mut self) -> Result<Int, ReadError> {
        let m = self.marker()?;
        self.int_body(m).ok_or_else(|| self.mismatch("integer", m))?
    }

    fn int_body(&mut self, m: Marker) -> Option<Result<Int, ReadError>> {
        Some(match m {
            Marker::FixPos(v) => Ok(Int::Signed(i64::from(v))),
            Marker::FixNeg(v) => Ok(Int::Signed(i64::from(v))),
            Marker::U8 => self.be(1).map(Int::Unsigned),
            Marker::U16 => self.be(2).map(Int::Unsigned),
            Marker::U32 => self.be(4).map(Int::Unsigned),
            Marker::U64 => self.be(8).map(Int::Unsigned),
            Marker::I8 => self.be(1).map(|v| Int::Signed(i64::from(v as u8 as i8))),
            Marker::I16 => self.be(2).map(|v| Int::Signed(i64::from(v as u16 as i16))),
            Marker::I32 => self.be(4).map(|v| Int::Signed(i64::from(v as u32 as i32))),
            Marker::I64 => self.be(8).map(|v| Int::Signed(v as i64)),
            _ => return None,
        })
    }

    pub fn float(&mut self) -> Result<f64, ReadError> {
        match self.marker()? {
            Marker::F32 => Ok(f64::from(f32::from_bits(self.be(4)? as u32))),
            Marker::F64 => Ok(f64::from_bits(self.be(8)?)),
            m => Err(self.mismatch("float", m)),
        }
    }

    /// Reads any value as an OTLP `AnyValue`.
    pub fn any(&mut self) -> Result<AnyValue, ReadError> {
        self.any_at(0)
    }

    fn any_at(&mut self, depth: usize) -> Result<AnyValue, ReadError> {
        use any_value::Value as V;
        if depth > MAX_DEPTH {
            return Err(ReadError::TooDeep);
        }
        let at = self.pos;
        let m = self.marker()?;
        let value = match kind(m) {
            Kind::Nil => None,
            Kind::Bool => Some(V::BoolValue(m == Marker::True)),
            Kind::Int => Some(match self.int_body(m).expect("an integer marker")? {
                Int::Signed(v) => V::IntValue(v),
                Int::Unsigned(v) => match i64::try_from(v) {
                    Ok(v) => V::IntValue(v),
                    // Kept exact rather than wrapped to a negative number.
                    Err(_) => V::StringValue(v.to_string()),
                },
            }),
            Kind::Float => {
                self.pos = at;
                Some(V::DoubleValue(self.float()?))
            }
            Kind::Str => {
                let b = self.str_body(m).expect("a string marker")?;
                Some(V::StringValue(String::from_utf8_lossy(b).into_owned()))
            }
            Kind::Bin => {
                // Fluentd sends many strings as binary; keep them as text when they are.
                let b = self.str_body(m).expect("a binary marker")?;
                Some(match std::str::from_utf8(b) {
                    Ok(s) => V::StringValue(s.to_string()),
                    Err(_) => V::BytesValue(b.to_vec()),
                })
            }
            Kind::Array => {
                self.pos = at;
                let n = self.array_len()?;
                // Never trust a length for allocation: each element needs at least a byte.
                let mut values = Vec::with_capacity(n.min(self.buf.len() - self.pos));
                for _ in 0..n {
                    values.push(self.any_at(depth + 1)?);
                }
                Some(V::ArrayValue(ArrayValue { values }))
            }
            Kind::Map => {
                self.pos = at;
                let n = self.map_len()?;
                let mut values = Vec::with_capacity(n.min((self.buf.len() - self.pos) / 2));
                for _ in 0..n {
                    let key = self.key_at(depth + 1)?;
                    values.push(KeyValue { key, value: Some(self.any_at(depth + 1)?), ..Default::default() });
                }
                Some(V::KvlistValue(KeyValueList { values }))
            }
            Kind::Ext => {
                self.pos = at;
                let (_, data) = self.ext()?;
                Some(V::BytesValue(data.to_vec()))
            }
            Kind::Reserved => return Err(ReadError::Reserved(at)),
        };
        Ok(AnyValue { value })
    }

    /// A map key as text: strings and binaries as they are, anything else rendered.
    pub fn key(&mut self) -> Result<String, ReadError> {
        self.key_at(0)
    }

    fn key_at(&mut self, depth: usize) -> Result<String, ReadError> {
        match self.peek_kind()? {
            Kind::Str | Kind::Bin => self.string(),
            _ => Ok(render(&self.any_at(depth)?)),
        }
    }

    /// Skips one value of any kind.
    pub fn skip(&mut self) -> Result<(), ReadError> {
        self.any().map(|_| ())
    }
}

/// A short text form of a non-string map key.
fn render(v: &AnyValue) -> String {
    use any_value::Value as V;
    match &v.value {
        None => String::new(),
        Some(V::StringValue(s)) => s.clone(),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut v = Vec::new();
        f(&mut v);
        v
    }

    #[test]
    fn reads_scalars_and_containers() {
        let b = pack(|w| {
            rmp::encode::write_map_len(w, 3).unwrap();
            rmp::encode::write_str(w, "n").unwrap();
            rmp::encode::write_uint(w, u64::MAX).unwrap();
            rmp::encode::write_str(w, "f").unwrap();
            rmp::encode::write_f32(w, 1.5).unwrap();
            rmp::encode::write_str(w, "a").unwrap();
            rmp::encode::write_array_len(w, 2).unwrap();
            rmp::encode::write_sint(w, -300).unwrap();
            rmp::encode::write_bin(w, &[0xff, 0xfe]).unwrap();
        });
        let v = Reader::new(&b).any().unwrap();
        let Some(any_value::Value::KvlistValue(kv)) = v.value else { panic!() };
        assert_eq!(
            kv.values[0].value.as_ref().unwrap().value,
            Some(any_value::Value::StringValue(u64::MAX.to_string()))
        );
        assert_eq!(kv.values[1].value.as_ref().unwrap().value, Some(any_value::Value::DoubleValue(1.5)));
        let Some(any_value::Value::ArrayValue(a)) = &kv.values[2].value.as_ref().unwrap().value else { panic!() };
        assert_eq!(a.values[0].value, Some(any_value::Value::IntValue(-300)));
        assert_eq!(a.values[1].value, Some(any_value::Value::BytesValue(vec![0xff, 0xfe])));
    }

    #[test]
    fn refuses_truncation_depth_and_huge_lengths() {
        let b = pack(|w| {
            rmp::encode::write_str_len(w, 10).unwrap();
            w.extend_from_slice(b"abc");
        });
        assert!(matches!(Reader::new(&b).any(), Err(ReadError::Eof(_))));
        let deep = vec![0x91u8; 200];
        assert_eq!(Reader::new(&deep).any(), Err(ReadError::TooDeep));
        // An array claiming four billion elements in a five-byte message.
        let huge = [0xdd, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(Reader::new(&huge).any(), Err(ReadError::Eof(_))));
        assert_eq!(Reader::new(&[0xc1]).any(), Err(ReadError::Reserved(0)));
    }
}
