//! The four carrier modes of the Forward protocol v1, decoded into OTLP log
//! records:
//!
//! - Message: `[tag, time, record, option?]`
//! - Forward: `[tag, [[time, record], ...], option?]`
//! - PackedForward: `[tag, bin(entry entry ...), option?]`
//! - CompressedPackedForward: the same, with `option.compressed` `gzip` (or `zstd`).
//!
//! A time is an EventTime (ext type 0: seconds and nanoseconds, big-endian
//! u32 each), an integer or a float of seconds, or Fluent Bit's
//! `[time, metadata]` pair, which Fluent Bit 5 sends by default.

use std::io::Read;

use aiotel_api::otlp::logs::v1::LogRecord;

use super::mapping::{apply_metadata, record_to_log};
use super::msgpack::{Int, Kind, ReadError, Reader};

/// Bounds on one message, checked while decoding.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: usize,
    pub max_decompressed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Message,
    Forward,
    PackedForward,
    CompressedPackedForward,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Message => "message",
            Mode::Forward => "forward",
            Mode::PackedForward => "packed_forward",
            Mode::CompressedPackedForward => "compressed_packed_forward",
        }
    }
}

#[derive(Debug)]
pub struct Decoded {
    pub mode: Mode,
    pub tag: String,
    pub records: Vec<LogRecord>,
    /// The `chunk` option: answered with `{"ack": chunk}` once the records are accepted.
    pub chunk: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("malformed MessagePack: {0}")]
    Read(#[from] ReadError),
    #[error("a message is an array of 2 to 4 elements, not {0}")]
    Arity(usize),
    #[error("cannot tell the mode: the second element is a {0:?}")]
    UnknownMode(Kind),
    #[error("{0} bytes left over after the message")]
    Trailing(usize),
    #[error("an entry is [time, record], not an array of {0}")]
    Entry(usize),
    #[error("invalid time: {0}")]
    Time(String),
    #[error("the record is a {0:?}, not a map")]
    Record(Kind),
    #[error("the option is not a map")]
    Option,
    #[error("unsupported compression {0:?} (gzip, zstd and text are supported)")]
    Compression(String),
    #[error("cannot decompress the entries: {0}")]
    Decompress(String),
    #[error("entries decompress to more than max_decompressed_size ({0} bytes)")]
    DecompressedTooLarge(usize),
    #[error("Fluent Bit {kind} (fluent_signal {0}) are not supported; forward only logs to this receiver", kind = signal_name(*.0))]
    Signal(u64),
    #[error("more than max_entries_per_message ({0}) entries in one message")]
    TooManyEntries(usize),
}

fn signal_name(s: u64) -> &'static str {
    match s {
        1 => "metrics",
        2 => "traces",
        _ => "events of an unknown kind",
    }
}

/// Decodes one complete message. `observed` is the receive time in Unix nanoseconds.
pub fn decode(buf: &[u8], limits: &Limits, observed: u64) -> Result<Decoded, DecodeError> {
    let mut r = Reader::new(buf);
    let n = r.array_len()?;
    if !(2..=4).contains(&n) {
        return Err(DecodeError::Arity(n));
    }
    let tag = r.string()?;
    let second = r.peek_kind()?;
    let decoded = match second {
        Kind::Int | Kind::Float | Kind::Ext => message(&mut r, n, tag, observed)?,
        // `[tag, [time, metadata], record]` is Message mode with a Fluent Bit
        // time; `[tag, [[time, record], ...]]` is Forward mode.
        Kind::Array if n >= 3 && second_is_timed(buf, r.pos()) => message(&mut r, n, tag, observed)?,
        Kind::Array => forward(&mut r, n, tag, limits, observed)?,
        Kind::Str | Kind::Bin => packed(&mut r, n, tag, limits, observed)?,
        k => return Err(DecodeError::UnknownMode(k)),
    };
    if !r.is_empty() {
        return Err(DecodeError::Trailing(buf.len() - r.pos()));
    }
    Ok(decoded)
}

/// Whether the array at `pos` starts with a time rather than an entry.
fn second_is_timed(buf: &[u8], pos: usize) -> bool {
    let mut r = Reader::new(&buf[pos..]);
    r.array_len().is_ok_and(|n| n == 2) && matches!(r.peek_kind(), Ok(Kind::Int | Kind::Ext | Kind::Float))
}

fn message(r: &mut Reader, n: usize, tag: String, observed: u64) -> Result<Decoded, DecodeError> {
    if n < 3 {
        return Err(DecodeError::Arity(n));
    }
    let mut records: Vec<LogRecord> = entry_body(r, &tag, observed)?.into_iter().collect();
    let opts = if n == 4 { options(r)? } else { Options::default() };
    supported(&opts)?;
    if let Some(m) = opts.metadata {
        for rec in &mut records {
            apply_metadata(&mut Reader::new(m), rec)?;
        }
    }
    Ok(Decoded { mode: Mode::Message, tag, records, chunk: opts.chunk })
}

fn forward(r: &mut Reader, n: usize, tag: String, limits: &Limits, observed: u64) -> Result<Decoded, DecodeError> {
    if n > 3 {
        return Err(DecodeError::Arity(n));
    }
    let count = r.array_len()?;
    if count > limits.max_entries {
        return Err(DecodeError::TooManyEntries(limits.max_entries));
    }
    // Each entry takes at least three bytes; never allocate more than the message could hold.
    let mut records = Vec::with_capacity(count.min(r.remaining() / 3));
    for _ in 0..count {
        records.extend(entry(r, &tag, observed)?);
    }
    let opts = if n == 3 { options(r)? } else { Options::default() };
    supported(&opts)?;
    Ok(Decoded { mode: Mode::Forward, tag, records, chunk: opts.chunk })
}

fn packed(r: &mut Reader, n: usize, tag: String, limits: &Limits, observed: u64) -> Result<Decoded, DecodeError> {
    if n > 3 {
        return Err(DecodeError::Arity(n));
    }
    let blob = r.raw_str()?;
    let opts = if n == 3 { options(r)? } else { Options::default() };
    supported(&opts)?;
    let (mode, owned);
    let entries: &[u8] = match opts.compressed.as_deref() {
        None | Some("text") => {
            mode = Mode::PackedForward;
            blob
        }
        Some("gzip") => {
            mode = Mode::CompressedPackedForward;
            // Fluentd may concatenate several gzip members in one chunk.
            owned = bounded(flate2::read::MultiGzDecoder::new(blob), limits.max_decompressed)?;
            &owned
        }
        Some("zstd") => {
            mode = Mode::CompressedPackedForward;
            let d = zstd::stream::read::Decoder::new(blob).map_err(|e| DecodeError::Decompress(e.to_string()))?;
            owned = bounded(d, limits.max_decompressed)?;
            &owned
        }
        Some(other) => return Err(DecodeError::Compression(other.to_string())),
    };
    let mut er = Reader::new(entries);
    let mut records = Vec::new();
    let mut count = 0;
    while !er.is_empty() {
        if count == limits.max_entries {
            return Err(DecodeError::TooManyEntries(limits.max_entries));
        }
        count += 1;
        records.extend(entry(&mut er, &tag, observed)?);
    }
    Ok(Decoded { mode, tag, records, chunk: opts.chunk })
}

/// Refuses Fluent Bit's metrics and traces, whose payload is not log entries.
fn supported(o: &Options) -> Result<(), DecodeError> {
    match o.signal {
        None | Some(0) => Ok(()),
        Some(s) => Err(DecodeError::Signal(s)),
    }
}

/// Reads all of `src`, refusing output beyond `max` bytes (a zip bomb is cut short).
fn bounded(src: impl Read, max: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    src.take(max as u64 + 1).read_to_end(&mut out).map_err(|e| DecodeError::Decompress(e.to_string()))?;
    if out.len() > max {
        return Err(DecodeError::DecompressedTooLarge(max));
    }
    Ok(out)
}

/// `[time, record]`; `None` for a Fluent Bit group marker.
fn entry(r: &mut Reader, tag: &str, observed: u64) -> Result<Option<LogRecord>, DecodeError> {
    let n = r.array_len()?;
    if n != 2 {
        return Err(DecodeError::Entry(n));
    }
    entry_body(r, tag, observed)
}

/// A time followed by a record; `None` for a Fluent Bit group marker.
fn entry_body(r: &mut Reader, tag: &str, observed: u64) -> Result<Option<LogRecord>, DecodeError> {
    let time = time(r)?;
    let k = r.peek_kind()?;
    if k != Kind::Map {
        return Err(DecodeError::Record(k));
    }
    let (time, metadata_at) = match time {
        Time::At(t, m) => (t, m),
        Time::GroupMarker => {
            r.skip()?;
            return Ok(None);
        }
    };
    let mut rec = record_to_log(r, tag)?;
    rec.time_unix_nano = time;
    rec.observed_time_unix_nano = observed;
    if let Some(buf) = metadata_at {
        apply_metadata(&mut Reader::new(buf), &mut rec)?;
    }
    Ok(Some(rec))
}

enum Time<'a> {
    /// Unix nanoseconds, and the bytes of Fluent Bit's metadata map when the time carries one.
    At(u64, Option<&'a [u8]>),
    /// Fluent Bit's group start (-1) or end (-2) marker, which brackets records
    /// that came in as OTLP; it is not a log record itself and is skipped.
    GroupMarker,
}

/// Whether `[time, metadata]` starts with a group marker's seconds, as an
/// integer or as an EventTime whose u32 seconds wrapped.
fn is_group_marker(r: &Reader) -> bool {
    let mut p = r.clone();
    match p.peek_kind() {
        Ok(Kind::Int) => matches!(p.int(), Ok(Int::Signed(-1 | -2))),
        Ok(Kind::Ext) => p.ext().is_ok_and(|(ty, d)| ty == 0 && d.len() == 8 && d[..3] == [0xff; 3] && d[3] >= 0xfe),
        _ => false,
    }
}

fn time<'a>(r: &mut Reader<'a>) -> Result<Time<'a>, DecodeError> {
    match r.peek_kind()? {
        Kind::Array => {
            let n = r.array_len()?;
            if n != 2 {
                return Err(DecodeError::Time(format!("a [time, metadata] pair has 2 elements, not {n}")));
            }
            let marker = is_group_marker(r);
            let t = if marker {
                r.skip()?;
                0
            } else {
                match time(r)? {
                    Time::At(t, None) => t,
                    _ => return Err(DecodeError::Time("[time, metadata] pairs do not nest".into())),
                }
            };
            if r.peek_kind()? != Kind::Map {
                return Err(DecodeError::Time("the metadata of [time, metadata] is not a map".into()));
            }
            let start = r.pos();
            r.skip()?;
            Ok(if marker { Time::GroupMarker } else { Time::At(t, Some(r.slice(start))) })
        }
        Kind::Ext => {
            let (ty, data) = r.ext()?;
            if ty != 0 || data.len() != 8 {
                return Err(DecodeError::Time(format!(
                    "extension type {ty} of {} bytes is not an EventTime",
                    data.len()
                )));
            }
            let secs = u64::from(u32::from_be_bytes([data[0], data[1], data[2], data[3]]));
            let nanos = u64::from(u32::from_be_bytes([data[4], data[5], data[6], data[7]]));
            if nanos >= 1_000_000_000 {
                return Err(DecodeError::Time(format!("EventTime nanoseconds {nanos} out of range")));
            }
            Ok(Time::At(secs * 1_000_000_000 + nanos, None))
        }
        Kind::Int => {
            let secs = match r.int()? {
                Int::Signed(v) if v >= 0 => v as u64,
                Int::Unsigned(v) => v,
                Int::Signed(v) => return Err(DecodeError::Time(format!("negative time {v}"))),
            };
            secs.checked_mul(1_000_000_000)
                .map(|t| Time::At(t, None))
                .ok_or_else(|| DecodeError::Time(format!("time {secs} out of range")))
        }
        Kind::Float => {
            let f = r.float()?;
            if !(0.0..1.8e10).contains(&f) {
                return Err(DecodeError::Time(format!("time {f} out of range")));
            }
            // Whole seconds and the fraction apart, so the seconds lose no precision.
            let secs = f.trunc();
            Ok(Time::At(secs as u64 * 1_000_000_000 + ((f - secs) * 1e9).round() as u64, None))
        }
        k => Err(DecodeError::Time(format!("a {k:?} is not a time"))),
    }
}

#[derive(Default)]
struct Options<'a> {
    chunk: Option<String>,
    compressed: Option<String>,
    /// Fluent Bit's `fluent_signal`: 0 logs, 1 metrics (cmetrics), 2 traces (ctraces).
    signal: Option<u64>,
    /// Fluent Bit's Message-mode `metadata` map, as bytes.
    metadata: Option<&'a [u8]>,
}

fn options<'a>(r: &mut Reader<'a>) -> Result<Options<'a>, DecodeError> {
    if r.peek_kind()? == Kind::Nil {
        r.skip()?;
        return Ok(Options::default());
    }
    let n = r.map_len().map_err(|_| DecodeError::Option)?;
    let mut o = Options::default();
    for _ in 0..n {
        let key = r.key()?;
        match key.as_str() {
            "chunk" if matches!(r.peek_kind()?, Kind::Str | Kind::Bin) => o.chunk = Some(r.string()?),
            "compressed" if matches!(r.peek_kind()?, Kind::Str | Kind::Bin) => o.compressed = Some(r.string()?),
            "fluent_signal" if r.peek_kind()? == Kind::Int => {
                o.signal = match r.int()? {
                    Int::Unsigned(v) => Some(v),
                    Int::Signed(v) => Some(v as u64),
                }
            }
            "metadata" if r.peek_kind()? == Kind::Map => {
                let start = r.pos();
                r.skip()?;
                o.metadata = Some(r.slice(start));
            }
            // `size` and options of later protocol versions are informational.
            _ => r.skip()?,
        }
    }
    Ok(o)
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
