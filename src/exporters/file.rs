//! The `file` exporter: one OTLP/JSON export request per line (or
//! length-prefixed protobuf), as the Collector's file exporter writes.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use aiotel_api::{Payload, PipelineError, Signal};
use futures::future::{ready, Ready};
use serde::Deserialize;

use super::{ExporterHandle, QueueSettings, RetrySettings};
use crate::components::{parse_block, ComponentId, ExporterConfig, Factory, Kind, Parsed, Stability};
use crate::config::yaml::Value;
use crate::service::ServiceCtx;

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    pub path: PathBuf,
    pub format: Format,
    /// Keep what the file holds instead of truncating it at start.
    pub append: bool,
    /// Off, a pipeline's ack waits until the line is written, so a receiver
    /// that commits on ack (kafka) loses nothing when aiotel is killed.
    /// Always one consumer, so lines keep their order.
    pub sending_queue: QueueSettings,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Json,
    Proto,
}

pub fn factory() -> Factory {
    Factory { kind: Kind::Exporter, ty: "file", stability: Stability::Alpha, signals: &Signal::ALL, parse }
}

fn parse(raw: Value, base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let mut cfg: FileConfig = parse_block(raw)?;
    if cfg.path.as_os_str().is_empty() {
        return Err(vec![("path".into(), "missing".into())]);
    }
    if let Err(e) = cfg.sending_queue.validate() {
        return Err(vec![("sending_queue".into(), e)]);
    }
    if cfg.path.is_relative() {
        cfg.path = base.join(&cfg.path);
    }
    Ok(Parsed::Exporter(Arc::new(cfg)))
}

impl ExporterConfig for FileConfig {
    fn build(&self, id: &ComponentId, signal: Signal, ctx: &ServiceCtx) -> Result<ExporterHandle, String> {
        let file = open(&self.path, self.append, &ctx.open_files)?;
        let queue = QueueSettings { num_consumers: 1, ..self.sending_queue.clone() };
        let retry = RetrySettings { enabled: false, ..Default::default() };
        super::spawn(id, signal, FileOut { file, format: self.format }, &queue, &retry, ctx)
    }
}

/// Several exporters (or signals) naming one path share one writer, so lines never interleave.
fn open(path: &Path, append: bool, shared: &crate::service::OpenFiles) -> Result<Arc<Mutex<BufWriter<File>>>, String> {
    let mut files = shared.lock().map_err(|_| "file registry poisoned")?;
    if let Some(f) = files.get(path) {
        return Ok(f.clone());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let f = OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let f = Arc::new(Mutex::new(BufWriter::new(f)));
    files.insert(path.to_path_buf(), f.clone());
    Ok(f)
}

#[derive(Clone)]
struct FileOut {
    file: Arc<Mutex<BufWriter<File>>>,
    format: Format,
}

impl tower::Service<Arc<Payload>> for FileOut {
    type Response = u64;
    type Error = PipelineError;
    type Future = Ready<Result<u64, PipelineError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, p: Arc<Payload>) -> Self::Future {
        let mut buf = Vec::new();
        let encoded = match self.format {
            Format::Json => super::encode::to_json(&p, &mut buf).map(|_| buf.push(b'\n')).map_err(|e| e.to_string()),
            Format::Proto => {
                let b = super::encode::to_protobuf(&p);
                buf.extend_from_slice(&(b.len() as u32).to_be_bytes());
                buf.extend_from_slice(&b);
                Ok(())
            }
        };
        let res = encoded.and_then(|_| {
            let mut f = self.file.lock().map_err(|_| "file writer poisoned".to_string())?;
            f.write_all(&buf).and_then(|_| f.flush()).map_err(|e| format!("write failed: {e}"))
        });
        // A full or broken disk may recover, so a write error is retryable.
        ready(res.map(|_| 0).map_err(PipelineError::unavailable))
    }
}
