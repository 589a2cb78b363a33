//! Label sets as compact byte keys, and the one-pass attribute lookup that
//! fills them.
//!
//! A series key is the encoded values of its metric's dimensions, in the
//! metric's fixed order; names are kept once per metric, not per series.
//! Keys are built in a reused buffer, so a span that hits an existing series
//! allocates nothing.

use aiotel_api::otlp::common::v1::{any_value::Value, AnyValue, KeyValue};
use hashbrown::HashMap;

const ABSENT: u8 = 0;
const STR: u8 = 1;
const BOOL: u8 = 2;
const INT: u8 = 3;
const DOUBLE: u8 = 4;
const STATIC: u8 = 5;

/// Values written often enough to be one byte in a key.
pub(crate) const STATIC_STRS: [&str; 12] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
    "STATUS_CODE_UNSET",
    "STATUS_CODE_OK",
    "STATUS_CODE_ERROR",
    "input",
    "output",
    "_OTHER",
];
pub(crate) const S_INPUT: u8 = 9;
pub(crate) const S_OUTPUT: u8 = 10;
pub(crate) const S_OTHER: u8 = 11;

pub(crate) fn span_kind_id(kind: i32) -> u8 {
    if (0..=5).contains(&kind) {
        kind as u8
    } else {
        0
    }
}

pub(crate) fn status_id(code: i32) -> u8 {
    6 + if (0..=2).contains(&code) { code as u8 } else { 0 }
}

/// Appends dimension values to a key.
#[derive(Default)]
pub(crate) struct KeyBuf {
    pub buf: Vec<u8>,
}

impl KeyBuf {
    pub fn clear(&mut self) {
        self.buf.clear();
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn truncate(&mut self, n: usize) {
        self.buf.truncate(n);
    }
    pub fn absent(&mut self) {
        self.buf.push(ABSENT);
    }
    pub fn static_str(&mut self, id: u8) {
        self.buf.extend_from_slice(&[STATIC, id]);
    }
    pub fn str(&mut self, s: &str) {
        self.str_with(s.len(), |b| b.extend_from_slice(s.as_bytes()));
    }
    /// Writes a string of `len` bytes produced by `f` (lets callers normalise in place).
    pub fn str_with(&mut self, len: usize, f: impl FnOnce(&mut Vec<u8>)) {
        self.buf.push(STR);
        let mut n = len;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.buf.push(b);
                break;
            }
            self.buf.push(b | 0x80);
        }
        let at = self.buf.len();
        f(&mut self.buf);
        debug_assert_eq!(self.buf.len() - at, len);
    }
    pub fn value(&mut self, v: &AnyValue) {
        match &v.value {
            Some(Value::StringValue(s)) => self.str(s),
            Some(Value::BoolValue(b)) => self.buf.extend_from_slice(&[BOOL, *b as u8]),
            Some(Value::IntValue(i)) => {
                self.buf.push(INT);
                self.buf.extend_from_slice(&i.to_le_bytes());
            }
            Some(Value::DoubleValue(d)) => {
                self.buf.push(DOUBLE);
                self.buf.extend_from_slice(&d.to_bits().to_le_bytes());
            }
            // Rare as dimensions: flattened to text, which allocates.
            Some(other) => self.str(&text_of(other)),
            None => self.str(""),
        }
    }
    /// A value, the default, or nothing.
    pub fn value_or(&mut self, v: Option<&AnyValue>, default: Option<&str>) {
        match (v, default) {
            (Some(v), _) => self.value(v),
            (None, Some(d)) => self.str(d),
            (None, None) => self.absent(),
        }
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::StringValue(s) => s.clone(),
        Value::BoolValue(b) => b.to_string(),
        Value::IntValue(i) => i.to_string(),
        Value::DoubleValue(d) => d.to_string(),
        Value::BytesValue(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
        Value::ArrayValue(a) => {
            let parts: Vec<String> = a.values.iter().filter_map(|v| v.value.as_ref()).map(text_of).collect();
            format!("[{}]", parts.join(","))
        }
        Value::KvlistValue(kv) => {
            let parts: Vec<String> = kv
                .values
                .iter()
                .map(|kv| {
                    format!(
                        "{}:{}",
                        kv.key,
                        kv.value.as_ref().and_then(|v| v.value.as_ref()).map(text_of).unwrap_or_default()
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::StringValueStrindex(i) => i.to_string(),
    }
}

/// Turns a key back into attributes, naming each present value from `names`.
pub(crate) fn decode(key: &[u8], names: &[String], out: &mut Vec<KeyValue>) {
    let mut i = 0;
    for name in names {
        let Some(&tag) = key.get(i) else { break };
        i += 1;
        let v = match tag {
            ABSENT => continue,
            STR => {
                let (mut len, mut shift) = (0usize, 0);
                loop {
                    let b = key[i];
                    i += 1;
                    len |= ((b & 0x7f) as usize) << shift;
                    shift += 7;
                    if b & 0x80 == 0 {
                        break;
                    }
                }
                let s = String::from_utf8_lossy(&key[i..i + len]).into_owned();
                i += len;
                Value::StringValue(s)
            }
            BOOL => {
                i += 1;
                Value::BoolValue(key[i - 1] != 0)
            }
            INT => {
                i += 8;
                Value::IntValue(i64::from_le_bytes(key[i - 8..i].try_into().unwrap()))
            }
            DOUBLE => {
                i += 8;
                Value::DoubleValue(f64::from_bits(u64::from_le_bytes(key[i - 8..i].try_into().unwrap())))
            }
            _ => {
                i += 1;
                Value::StringValue(STATIC_STRS[key[i - 1] as usize].to_string())
            }
        };
        out.push(kv(name, v));
    }
}

pub(crate) fn kv(key: &str, v: Value) -> KeyValue {
    KeyValue { key: key.to_string(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
}

/// A looked-up attribute and how good its source is: lower wins.
#[derive(Clone, Copy, Default)]
pub(crate) struct Slot<'a> {
    pub val: Option<&'a AnyValue>,
    pub prio: u8,
}

/// Priority offsets: a span attribute beats an event attribute beats a resource attribute.
pub(crate) const FROM_SPAN: u8 = 0;
pub(crate) const FROM_EVENT: u8 = 64;
pub(crate) const FROM_RESOURCE: u8 = 128;

/// Maps attribute keys to the slots they fill, built once from the config.
#[derive(Default)]
pub(crate) struct FieldTable {
    map: HashMap<Box<str>, Vec<(u16, u8)>, foldhash::fast::FixedState>,
    pub slots: usize,
    /// Bit n set: some key has length n (n < 64). Rejecting other lengths
    /// spares reading the key bytes, a cache miss per attribute.
    lengths: u64,
    /// Whether any key is 64 bytes or longer.
    long_keys: bool,
}

impl FieldTable {
    /// Reserves a new slot filled by `keys`, the first the best.
    pub fn add(&mut self, keys: &[&str]) -> u16 {
        let slot = self.slots as u16;
        self.slots += 1;
        for (prio, k) in keys.iter().enumerate() {
            self.add_key(k, slot, prio as u8);
        }
        slot
    }

    pub fn add_key(&mut self, key: &str, slot: u16, prio: u8) {
        match key.len() {
            n @ 0..64 => self.lengths |= 1 << n,
            _ => self.long_keys = true,
        }
        self.map.entry(key.into()).or_default().push((slot, prio));
    }

    /// Fills `slots` from `attrs`, keeping the best source of each.
    #[inline]
    pub fn fill<'a>(&self, attrs: &'a [KeyValue], base: u8, slots: &mut [Slot<'a>]) {
        for a in attrs {
            let n = a.key.len();
            if if n < 64 { self.lengths & (1 << n) == 0 } else { !self.long_keys } {
                continue;
            }
            let Some(targets) = self.map.get(a.key.as_str()) else { continue };
            let Some(v) = a.value.as_ref() else { continue };
            for &(slot, prio) in targets {
                let s = &mut slots[slot as usize];
                let p = base + prio;
                if s.val.is_none() || p < s.prio {
                    *s = Slot { val: Some(v), prio: p };
                }
            }
        }
    }
}

/// One dimension of a metric: which slot holds it and its default.
#[derive(Clone, Debug)]
pub(crate) struct DimRef {
    pub slot: u16,
    pub default: Option<String>,
}

impl DimRef {
    #[inline]
    pub fn write(&self, slots: &[Slot], key: &mut KeyBuf) {
        key.value_or(slots[self.slot as usize].val, self.default.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let mut k = KeyBuf::default();
        k.str("svc");
        k.absent();
        k.static_str(S_OUTPUT);
        k.value(&AnyValue { value: Some(Value::IntValue(-7)) });
        k.value(&AnyValue { value: Some(Value::BoolValue(true)) });
        k.value(&AnyValue { value: Some(Value::DoubleValue(0.5)) });
        let long = "x".repeat(300);
        k.str(&long);
        let names: Vec<String> = ["a", "b", "c", "d", "e", "f", "g"].iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        decode(&k.buf, &names, &mut out);
        let got: Vec<(String, Option<Value>)> =
            out.into_iter().map(|kv| (kv.key, kv.value.and_then(|v| v.value))).collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), Some(Value::StringValue("svc".into()))),
                ("c".into(), Some(Value::StringValue("output".into()))),
                ("d".into(), Some(Value::IntValue(-7))),
                ("e".into(), Some(Value::BoolValue(true))),
                ("f".into(), Some(Value::DoubleValue(0.5))),
                ("g".into(), Some(Value::StringValue(long))),
            ]
        );
    }
}
