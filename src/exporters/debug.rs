//! The `debug` exporter: prints what passes to stdout.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};

use aiotel_api::{Payload, PipelineError, Signal};
use futures::future::{ready, Ready};
use serde::Deserialize;

use super::{ExporterHandle, QueueSettings, RetrySettings};
use crate::components::{parse_block, ComponentId, ExporterConfig, Factory, Kind, Parsed, Stability};
use crate::config::yaml::Value;
use crate::service::ServiceCtx;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DebugConfig {
    /// `basic`: one summary line per batch; `normal`: one line per item; `detailed`: the full OTLP/JSON.
    pub verbosity: Verbosity,
    /// Accepted for Collector configs; stdout output is not sampled.
    pub sampling_initial: u32,
    pub sampling_thereafter: u32,
}

impl Default for DebugConfig {
    fn default() -> Self {
        Self { verbosity: Verbosity::Basic, sampling_initial: 2, sampling_thereafter: 1 }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Verbosity {
    Basic,
    Normal,
    Detailed,
}

pub fn factory() -> Factory {
    Factory { kind: Kind::Exporter, ty: "debug", stability: Stability::Stable, signals: &Signal::ALL, parse }
}

fn parse(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    Ok(Parsed::Exporter(Arc::new(parse_block::<DebugConfig>(raw)?)))
}

impl ExporterConfig for DebugConfig {
    fn build(&self, id: &ComponentId, signal: Signal, ctx: &ServiceCtx) -> Result<ExporterHandle, String> {
        let queue = QueueSettings { num_consumers: 1, ..Default::default() };
        let retry = RetrySettings { enabled: false, ..Default::default() };
        super::spawn(id, signal, DebugOut(self.verbosity), &queue, &retry, ctx)
    }
}

#[derive(Clone)]
struct DebugOut(Verbosity);

impl tower::Service<Arc<Payload>> for DebugOut {
    type Response = u64;
    type Error = PipelineError;
    type Future = Ready<Result<u64, PipelineError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, p: Arc<Payload>) -> Self::Future {
        let mut out = std::io::stdout().lock();
        let _ = print(&mut out, self.0, &p);
        ready(Ok(0))
    }
}

fn print(out: &mut impl Write, v: Verbosity, p: &Payload) -> std::io::Result<()> {
    let (resources, noun) = match p {
        Payload::Traces(r) => (r.len(), "spans"),
        Payload::Metrics(r) => (r.len(), "data points"),
        Payload::Logs(r) => (r.len(), "log records"),
    };
    writeln!(out, "{}: {} resource(s), {} {noun}", p.signal(), resources, p.item_count())?;
    match v {
        Verbosity::Basic => Ok(()),
        Verbosity::Normal => match p {
            Payload::Traces(rs) => rs.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans).try_for_each(|s| {
                writeln!(
                    out,
                    "  {} {} {} dur={}ns",
                    hex(&s.trace_id),
                    hex(&s.span_id),
                    s.name,
                    s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano)
                )
            }),
            Payload::Logs(rl) => rl.iter().flat_map(|r| &r.scope_logs).flat_map(|s| &s.log_records).try_for_each(|l| {
                writeln!(out, "  {} {:?}", l.severity_text, l.body.as_ref().and_then(|b| b.value.as_ref()))
            }),
            Payload::Metrics(rm) => rm
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .try_for_each(|m| writeln!(out, "  {} ({})", m.name, m.unit)),
        },
        Verbosity::Detailed => {
            let mut buf = Vec::new();
            super::encode::to_json(p, &mut buf).map_err(std::io::Error::other)?;
            out.write_all(&buf)?;
            writeln!(out)
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
