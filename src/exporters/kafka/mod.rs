//! The `kafka` exporter: OTLP payloads as Kafka messages, through librdkafka.
//!
//! A tower service under the generic driver, so the sending queue, retries
//! and drop counts are the same as every other exporter's.

mod config;
mod messages;
mod producer;

use std::path::Path;
use std::sync::Arc;

use aiotel_api::Signal;

pub use config::{Encoding, KafkaExporterConfig};
pub use messages::encode;

use super::ExporterHandle;
use crate::components::{parse_block, ComponentId, ExporterConfig, Factory, Kind, Parsed, Stability};
use crate::config::yaml::Value;
use crate::service::ServiceCtx;

pub fn factory() -> Factory {
    Factory { kind: Kind::Exporter, ty: "kafka", stability: Stability::Alpha, signals: &Signal::ALL, parse }
}

fn parse(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: KafkaExporterConfig = parse_block(raw)?;
    let errs = cfg.validate();
    if errs.is_empty() {
        Ok(Parsed::Exporter(Arc::new(cfg)))
    } else {
        Err(errs)
    }
}

impl ExporterConfig for KafkaExporterConfig {
    fn build(&self, id: &ComponentId, signal: Signal, ctx: &ServiceCtx) -> Result<ExporterHandle, String> {
        let by_trace = signal == Signal::Traces && self.partition_traces_by_id;
        let svc = producer::KafkaProducer::new(self, self.topic(signal), self.encoding(signal), by_trace)?;
        tracing::info!(exporter = %id, topic = %self.topic(signal), brokers = ?self.brokers, "Kafka producer ready");
        super::spawn(id, signal, svc, &self.sending_queue, &self.retry_on_failure, ctx)
    }
}
