//! Request compression shared by the OTLP exporters, with the Collector's
//! `compression` and `compression_params.level` settings.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    Gzip,
    Zstd,
    None,
    #[serde(rename = "")]
    Empty,
}

/// The Collector's `compression_params`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CompressionParams {
    /// gzip 1–9 (default 6, as tonic and grpc-go use), zstd 1–22 (default 3).
    pub level: Option<i32>,
}

impl Compression {
    pub fn check_level(self, level: Option<i32>) -> Result<(), String> {
        let ok = match (self, level) {
            (_, None) | (Compression::None | Compression::Empty, _) => true,
            (Compression::Gzip, Some(l)) => (1..=9).contains(&l),
            (Compression::Zstd, Some(l)) => (1..=22).contains(&l),
        };
        ok.then_some(()).ok_or_else(|| "must be 1-9 for gzip or 1-22 for zstd".to_string())
    }

    /// The `grpc-encoding` name and a compressor at `level`.
    pub fn codec(self, level: Option<i32>) -> Option<(&'static str, Compressor)> {
        match self {
            Compression::Gzip => Some(("gzip", Compressor::Gzip(level.unwrap_or(6).clamp(1, 9) as u32))),
            Compression::Zstd => Some(("zstd", Compressor::Zstd(level.unwrap_or(3).clamp(1, 22)))),
            Compression::None | Compression::Empty => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Compressor {
    Gzip(u32),
    Zstd(i32),
}

impl Compressor {
    pub fn compress(self, data: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        use std::io::Write;
        match self {
            Compressor::Gzip(level) => {
                let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::new(level));
                enc.write_all(data)?;
                enc.finish().map(|_| ())
            }
            Compressor::Zstd(level) => zstd::stream::copy_encode(data, out, level),
        }
    }
}
