use std::io::Write;

use aiotel_api::otlp::common::v1::any_value::Value;
use rmp::encode as e;

use super::*;

const LIMITS: Limits = Limits { max_entries: 1000, max_decompressed: 1 << 20 };
const T: u64 = 1_700_000_000;

type W = Vec<u8>;

fn event_time(w: &mut W, secs: u32, nanos: u32) {
    e::write_ext_meta(w, 8, 0).unwrap();
    w.extend_from_slice(&secs.to_be_bytes());
    w.extend_from_slice(&nanos.to_be_bytes());
}

/// `{"log": msg, "n": 7, "ok": true, "f": 0.5}`
fn record(w: &mut W, msg: &str) {
    e::write_map_len(w, 4).unwrap();
    e::write_str(w, "log").unwrap();
    e::write_str(w, msg).unwrap();
    e::write_str(w, "n").unwrap();
    e::write_uint(w, 7).unwrap();
    e::write_str(w, "ok").unwrap();
    e::write_bool(w, true).unwrap();
    e::write_str(w, "f").unwrap();
    e::write_f64(w, 0.5).unwrap();
}

fn chunk_option(w: &mut W, chunk: &str, compressed: Option<&str>) {
    e::write_map_len(w, 1 + u32::from(compressed.is_some())).unwrap();
    e::write_str(w, "chunk").unwrap();
    e::write_str(w, chunk).unwrap();
    if let Some(c) = compressed {
        e::write_str(w, "compressed").unwrap();
        e::write_str(w, c).unwrap();
    }
}

fn entry(w: &mut W, nanos: u32, msg: &str) {
    e::write_array_len(w, 2).unwrap();
    event_time(w, T as u32, nanos);
    record(w, msg);
}

fn attr<'a>(r: &'a LogRecord, key: &str) -> Option<&'a Value> {
    r.attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()).and_then(|v| v.value.as_ref())
}

fn body(r: &LogRecord) -> &str {
    match r.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(Value::StringValue(s)) => s,
        other => panic!("body {other:?}"),
    }
}

fn ok(w: &[u8]) -> Decoded {
    decode(w, &LIMITS, 42).unwrap()
}

fn packed_entries() -> W {
    let mut blob = W::new();
    entry(&mut blob, 1, "first");
    entry(&mut blob, 999_999_999, "second");
    blob
}

#[test]
fn message_mode_with_event_time() {
    let mut w = W::new();
    e::write_array_len(&mut w, 3).unwrap();
    e::write_str(&mut w, "app.web").unwrap();
    event_time(&mut w, T as u32, 123_456_789);
    record(&mut w, "hello");
    let d = ok(&w);
    assert_eq!(d.mode, Mode::Message);
    assert_eq!(d.chunk, None);
    let r = &d.records[0];
    assert_eq!(r.time_unix_nano, T * 1_000_000_000 + 123_456_789);
    assert_eq!(r.observed_time_unix_nano, 42);
    assert_eq!(body(r), "hello");
    assert_eq!(attr(r, "fluent.tag"), Some(&Value::StringValue("app.web".into())));
    assert_eq!(attr(r, "n"), Some(&Value::IntValue(7)));
    assert_eq!(attr(r, "ok"), Some(&Value::BoolValue(true)));
    assert_eq!(attr(r, "f"), Some(&Value::DoubleValue(0.5)));
    assert_eq!(attr(r, "log"), None);
}

#[test]
fn message_mode_with_integer_time_and_chunk() {
    let mut w = W::new();
    e::write_array_len(&mut w, 4).unwrap();
    e::write_str(&mut w, "app").unwrap();
    e::write_uint(&mut w, T).unwrap();
    e::write_map_len(&mut w, 2).unwrap();
    e::write_str(&mut w, "message").unwrap();
    e::write_str(&mut w, "from fluentd").unwrap();
    e::write_str(&mut w, "log").unwrap();
    e::write_str(&mut w, "kept").unwrap();
    chunk_option(&mut w, "c1", None);
    let d = ok(&w);
    assert_eq!(d.chunk.as_deref(), Some("c1"));
    assert_eq!(d.records[0].time_unix_nano, T * 1_000_000_000);
    assert_eq!(body(&d.records[0]), "from fluentd");
    // A second body field stays as an attribute.
    assert_eq!(attr(&d.records[0], "log"), Some(&Value::StringValue("kept".into())));
}

#[test]
fn forward_mode_with_both_time_forms() {
    let mut w = W::new();
    e::write_array_len(&mut w, 3).unwrap();
    e::write_str(&mut w, "fb.tail").unwrap();
    e::write_array_len(&mut w, 2).unwrap();
    entry(&mut w, 5, "a");
    e::write_array_len(&mut w, 2).unwrap();
    e::write_uint(&mut w, T + 1).unwrap();
    record(&mut w, "b");
    chunk_option(&mut w, "abc==", None);
    let d = ok(&w);
    assert_eq!(d.mode, Mode::Forward);
    assert_eq!(d.chunk.as_deref(), Some("abc=="));
    assert_eq!(d.records.len(), 2);
    assert_eq!(d.records[0].time_unix_nano, T * 1_000_000_000 + 5);
    assert_eq!(d.records[1].time_unix_nano, (T + 1) * 1_000_000_000);
    assert_eq!(body(&d.records[1]), "b");
    assert_eq!(attr(&d.records[1], "fluent.tag"), Some(&Value::StringValue("fb.tail".into())));
}

#[test]
fn forward_mode_with_fluent_bit_metadata() {
    let mut w = W::new();
    e::write_array_len(&mut w, 2).unwrap();
    e::write_str(&mut w, "fb").unwrap();
    e::write_array_len(&mut w, 2).unwrap();
    // [[time, metadata], record]
    e::write_array_len(&mut w, 2).unwrap();
    e::write_array_len(&mut w, 2).unwrap();
    event_time(&mut w, T as u32, 77);
    e::write_map_len(&mut w, 2).unwrap();
    e::write_str(&mut w, "otlp").unwrap();
    e::write_map_len(&mut w, 3).unwrap();
    e::write_str(&mut w, "severity_number").unwrap();
    e::write_uint(&mut w, 17).unwrap();
    e::write_str(&mut w, "severity_text").unwrap();
    e::write_str(&mut w, "ERROR").unwrap();
    e::write_str(&mut w, "trace_id").unwrap();
    e::write_str(&mut w, "0102030405060708090a0b0c0d0e0f10").unwrap();
    e::write_str(&mut w, "source").unwrap();
    e::write_str(&mut w, "node-1").unwrap();
    record(&mut w, "with metadata");
    // An empty metadata map, as Fluent Bit sends for a tail record.
    e::write_array_len(&mut w, 2).unwrap();
    e::write_array_len(&mut w, 2).unwrap();
    e::write_uint(&mut w, T).unwrap();
    e::write_map_len(&mut w, 0).unwrap();
    record(&mut w, "plain");
    let d = ok(&w);
    assert_eq!(d.mode, Mode::Forward);
    let r = &d.records[0];
    assert_eq!(r.time_unix_nano, T * 1_000_000_000 + 77);
    assert_eq!(body(r), "with metadata");
    assert_eq!(r.severity_number, 17);
    assert_eq!(r.severity_text, "ERROR");
    assert_eq!(r.trace_id, (1..=16).collect::<Vec<u8>>());
    assert_eq!(attr(r, "fluent.metadata.source"), Some(&Value::StringValue("node-1".into())));
    assert_eq!(d.records[1].time_unix_nano, T * 1_000_000_000);
    assert_eq!(d.records[1].attributes.len(), 4);
}

#[test]
fn message_mode_with_metadata_time() {
    let mut w = W::new();
    e::write_array_len(&mut w, 3).unwrap();
    e::write_str(&mut w, "fb").unwrap();
    e::write_array_len(&mut w, 2).unwrap();
    event_time(&mut w, T as u32, 9);
    e::write_map_len(&mut w, 0).unwrap();
    record(&mut w, "m");
    let d = ok(&w);
    assert_eq!(d.mode, Mode::Message);
    assert_eq!(d.records[0].time_unix_nano, T * 1_000_000_000 + 9);
}

#[test]
fn packed_forward_as_bin_and_str() {
    for as_str in [false, true] {
        let blob = packed_entries();
        let mut w = W::new();
        e::write_array_len(&mut w, 3).unwrap();
        e::write_str(&mut w, "packed").unwrap();
        if as_str {
            e::write_str_len(&mut w, blob.len() as u32).unwrap();
            w.extend_from_slice(&blob);
        } else {
            e::write_bin(&mut w, &blob).unwrap();
        }
        chunk_option(&mut w, "p1", None);
        let d = ok(&w);
        assert_eq!(d.mode, Mode::PackedForward);
        assert_eq!(d.records.len(), 2);
        assert_eq!(d.records[1].time_unix_nano, T * 1_000_000_000 + 999_999_999);
        assert_eq!(body(&d.records[0]), "first");
    }
}

fn compressed_message(codec: &str, blob: &[u8]) -> W {
    let mut w = W::new();
    e::write_array_len(&mut w, 3).unwrap();
    e::write_str(&mut w, "zipped").unwrap();
    e::write_bin(&mut w, blob).unwrap();
    chunk_option(&mut w, "z1", Some(codec));
    w
}

fn gzip(b: &[u8]) -> W {
    let mut g = flate2::write::GzEncoder::new(W::new(), flate2::Compression::default());
    g.write_all(b).unwrap();
    g.finish().unwrap()
}

#[test]
fn compressed_packed_forward_gzip_and_zstd() {
    let entries = packed_entries();
    // Two gzip members back to back, as Fluentd may send.
    let mut gz = gzip(&entries[..entries.len() / 2]);
    gz.extend(gzip(&entries[entries.len() / 2..]));
    let zs = zstd::encode_all(&entries[..], 3).unwrap();
    for (codec, blob) in [("gzip", gz), ("zstd", zs)] {
        let d = ok(&compressed_message(codec, &blob));
        assert_eq!(d.mode, Mode::CompressedPackedForward, "{codec}");
        assert_eq!(d.records.len(), 2, "{codec}");
        assert_eq!(body(&d.records[1]), "second");
        assert_eq!(d.chunk.as_deref(), Some("z1"));
    }
}

#[test]
fn decompression_is_bounded() {
    let zeros = vec![0u8; 4 << 20];
    for (codec, blob) in [("gzip", gzip(&zeros)), ("zstd", zstd::encode_all(&zeros[..], 3).unwrap())] {
        assert!(blob.len() < 64 << 10);
        let err = decode(&compressed_message(codec, &blob), &LIMITS, 0).unwrap_err();
        assert_eq!(err, DecodeError::DecompressedTooLarge(1 << 20), "{codec}");
    }
    let err = decode(&compressed_message("gzip", b"not gzip"), &LIMITS, 0).unwrap_err();
    assert!(matches!(err, DecodeError::Decompress(_)), "{err:?}");
    let err = decode(&compressed_message("lz4", b"x"), &LIMITS, 0).unwrap_err();
    assert_eq!(err, DecodeError::Compression("lz4".into()));
}

#[test]
fn entry_count_is_bounded() {
    let limits = Limits { max_entries: 1, ..LIMITS };
    let mut w = W::new();
    e::write_array_len(&mut w, 2).unwrap();
    e::write_str(&mut w, "t").unwrap();
    e::write_array_len(&mut w, 2).unwrap();
    entry(&mut w, 0, "a");
    entry(&mut w, 0, "b");
    assert_eq!(decode(&w, &limits, 0).unwrap_err(), DecodeError::TooManyEntries(1));
    let mut w = W::new();
    e::write_array_len(&mut w, 2).unwrap();
    e::write_str(&mut w, "t").unwrap();
    e::write_bin(&mut w, &packed_entries()).unwrap();
    assert_eq!(decode(&w, &limits, 0).unwrap_err(), DecodeError::TooManyEntries(1));
}

#[test]
fn malformed_messages_are_errors() {
    let msg = |f: &dyn Fn(&mut W)| {
        let mut w = W::new();
        f(&mut w);
        decode(&w, &LIMITS, 0).unwrap_err()
    };
    // Not an array / wrong arity.
    assert!(matches!(msg(&|w| e::write_str(w, "x").unwrap()), DecodeError::Read(_)));
    assert_eq!(
        msg(&|w| {
            e::write_array_len(w, 1).unwrap();
            e::write_str(w, "t").unwrap();
        }),
        DecodeError::Arity(1)
    );
    // A time that is an ext of the wrong type, and EventTime nanoseconds out of range.
    assert!(matches!(
        msg(&|w| {
            e::write_array_len(w, 3).unwrap();
            e::write_str(w, "t").unwrap();
            e::write_ext_meta(w, 8, 5).unwrap();
            w.extend_from_slice(&[0; 8]);
            record(w, "x");
        }),
        DecodeError::Time(_)
    ));
    assert!(matches!(
        msg(&|w| {
            e::write_array_len(w, 3).unwrap();
            e::write_str(w, "t").unwrap();
            event_time(w, 1, 1_000_000_000);
            record(w, "x");
        }),
        DecodeError::Time(_)
    ));
    // A record that is not a map.
    assert_eq!(
        msg(&|w| {
            e::write_array_len(w, 3).unwrap();
            e::write_str(w, "t").unwrap();
            e::write_uint(w, T).unwrap();
            e::write_str(w, "just text").unwrap();
        }),
        DecodeError::Record(Kind::Str)
    );
    // The second element is a map: no mode has that.
    assert_eq!(
        msg(&|w| {
            e::write_array_len(w, 2).unwrap();
            e::write_str(w, "t").unwrap();
            e::write_map_len(w, 0).unwrap();
        }),
        DecodeError::UnknownMode(Kind::Map)
    );
    // A forward entry with three elements.
    assert_eq!(
        msg(&|w| {
            e::write_array_len(w, 2).unwrap();
            e::write_str(w, "t").unwrap();
            e::write_array_len(w, 1).unwrap();
            e::write_array_len(w, 3).unwrap();
            e::write_uint(w, T).unwrap();
            record(w, "x");
            e::write_nil(w).unwrap();
        }),
        DecodeError::Entry(3)
    );
    // Truncated packed entries.
    let blob = packed_entries();
    assert!(matches!(
        msg(&|w| {
            e::write_array_len(w, 2).unwrap();
            e::write_str(w, "t").unwrap();
            e::write_bin(w, &blob[..blob.len() - 3]).unwrap();
        }),
        DecodeError::Read(ReadError::Eof(_))
    ));
    // Bytes after the message.
    let mut w = W::new();
    e::write_array_len(&mut w, 3).unwrap();
    e::write_str(&mut w, "t").unwrap();
    e::write_uint(&mut w, T).unwrap();
    record(&mut w, "x");
    w.push(0xc0);
    assert_eq!(decode(&w, &LIMITS, 0).unwrap_err(), DecodeError::Trailing(1));
}

#[test]
fn fluent_bit_group_markers_are_skipped() {
    let mut w = W::new();
    e::write_array_len(&mut w, 2).unwrap();
    e::write_str(&mut w, "otel").unwrap();
    e::write_array_len(&mut w, 3).unwrap();
    // Group start as a negative integer, with the resource in its body.
    e::write_array_len(&mut w, 2).unwrap();
    e::write_array_len(&mut w, 2).unwrap();
    e::write_sint(&mut w, -1).unwrap();
    e::write_map_len(&mut w, 0).unwrap();
    e::write_map_len(&mut w, 1).unwrap();
    e::write_str(&mut w, "resource").unwrap();
    e::write_map_len(&mut w, 0).unwrap();
    entry(&mut w, 3, "inside the group");
    // Group end as an EventTime whose u32 seconds hold -2.
    e::write_array_len(&mut w, 2).unwrap();
    e::write_array_len(&mut w, 2).unwrap();
    event_time(&mut w, (-2i32) as u32, 0);
    e::write_map_len(&mut w, 0).unwrap();
    e::write_map_len(&mut w, 0).unwrap();
    let d = ok(&w);
    assert_eq!(d.records.len(), 1);
    assert_eq!(body(&d.records[0]), "inside the group");
}

#[test]
fn ext8_event_time_and_float_time() {
    let mut w = W::new();
    e::write_array_len(&mut w, 2).unwrap();
    e::write_str(&mut w, "t").unwrap();
    e::write_array_len(&mut w, 2).unwrap();
    // EventTime written as ext 8 (0xc7) rather than fixext 8 (0xd7).
    e::write_array_len(&mut w, 2).unwrap();
    w.extend_from_slice(&[0xc7, 8, 0]);
    w.extend_from_slice(&(T as u32).to_be_bytes());
    w.extend_from_slice(&5u32.to_be_bytes());
    record(&mut w, "ext8");
    // Old Fluentd float seconds.
    e::write_array_len(&mut w, 2).unwrap();
    e::write_f64(&mut w, T as f64 + 0.25).unwrap();
    record(&mut w, "float");
    let d = ok(&w);
    assert_eq!(d.records[0].time_unix_nano, T * 1_000_000_000 + 5);
    assert_eq!(d.records[1].time_unix_nano, T * 1_000_000_000 + 250_000_000);
}

#[test]
fn message_mode_metadata_option() {
    let mut w = W::new();
    e::write_array_len(&mut w, 4).unwrap();
    e::write_str(&mut w, "fb").unwrap();
    event_time(&mut w, T as u32, 1);
    record(&mut w, "m");
    // Fluent Bit's options in a non-minimal map32 header, with metadata.
    w.extend_from_slice(&[0xdf, 0, 0, 0, 3]);
    e::write_str(&mut w, "chunk").unwrap();
    e::write_str(&mut w, "k").unwrap();
    e::write_str(&mut w, "fluent_signal").unwrap();
    e::write_uint(&mut w, 0).unwrap();
    e::write_str(&mut w, "metadata").unwrap();
    e::write_map_len(&mut w, 1).unwrap();
    e::write_str(&mut w, "host").unwrap();
    e::write_str(&mut w, "h1").unwrap();
    let d = ok(&w);
    assert_eq!(d.chunk.as_deref(), Some("k"));
    assert_eq!(attr(&d.records[0], "fluent.metadata.host"), Some(&Value::StringValue("h1".into())));
}

#[test]
fn fluent_bit_metrics_and_traces_are_refused() {
    for signal in [1u64, 2] {
        let mut w = W::new();
        e::write_array_len(&mut w, 3).unwrap();
        e::write_str(&mut w, "fb.metrics").unwrap();
        e::write_bin(&mut w, &[0x80]).unwrap();
        e::write_map_len(&mut w, 1).unwrap();
        e::write_str(&mut w, "fluent_signal").unwrap();
        e::write_uint(&mut w, signal).unwrap();
        let err = decode(&w, &LIMITS, 0).unwrap_err();
        assert_eq!(err, DecodeError::Signal(signal));
        assert!(err.to_string().contains(if signal == 1 { "metrics" } else { "traces" }), "{err}");
    }
}
