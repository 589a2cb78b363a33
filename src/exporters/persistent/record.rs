//! The on-disk frame of one queued batch, and the batch's own encoding.

use aiotel_api::{Payload, Signal};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// `len: u32 | crc32: u32 | items: u32`, little endian, then `len` bytes.
/// The checksum covers `items` and the payload, so a torn or flipped
/// record is never replayed.
pub const HEADER: usize = 12;

pub fn frame(data: &[u8], items: u32) -> Vec<u8> {
    let mut buf = Vec::with_capacity(HEADER + data.len());
    buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
    buf.extend_from_slice(&checksum(items, data).to_le_bytes());
    buf.extend_from_slice(&items.to_le_bytes());
    buf.extend_from_slice(data);
    buf
}

pub fn checksum(items: u32, data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&items.to_le_bytes());
    h.update(data);
    h.finalize()
}

/// A parsed header: payload length, checksum, item count.
pub fn header(b: &[u8; HEADER]) -> (u32, u32, u32) {
    let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (word(0), word(4), word(8))
}

/// Decodes a stored OTLP export request back into the exporter's payload.
pub fn decode(signal: Signal, data: &[u8]) -> Result<Payload, prost::DecodeError> {
    Ok(match signal {
        Signal::Traces => Payload::Traces(ExportTraceServiceRequest::decode(data)?.resource_spans),
        Signal::Metrics => Payload::Metrics(ExportMetricsServiceRequest::decode(data)?.resource_metrics),
        Signal::Logs => Payload::Logs(ExportLogsServiceRequest::decode(data)?.resource_logs),
    })
}
