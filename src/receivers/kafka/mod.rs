//! The `kafka` receiver: consumes OTLP messages from Kafka topics as a
//! consumer-group member, at least once.

mod config;
mod consumer;
mod decode;
mod group;

use std::path::Path;
use std::sync::Arc;

use aiotel_api::Signal;
use futures::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::KafkaReceiverConfig;

use crate::components::{parse_block, ComponentId, Factory, Kind, Parsed, ReceiverConfig, Running, Stability};
use crate::config::yaml::Value;
use crate::pipeline::Consumers;
use crate::service::ServiceCtx;

pub fn factory() -> Factory {
    Factory { kind: Kind::Receiver, ty: "kafka", stability: Stability::Alpha, signals: &Signal::ALL, parse }
}

fn parse(raw: Value, _base: &Path) -> Result<Parsed, Vec<(String, String)>> {
    let cfg: KafkaReceiverConfig = parse_block(raw)?;
    let errs = cfg.validate();
    if errs.is_empty() {
        Ok(Parsed::Receiver(Arc::new(cfg)))
    } else {
        Err(errs)
    }
}

impl ReceiverConfig for KafkaReceiverConfig {
    fn start(
        &self,
        id: &ComponentId,
        ctx: &ServiceCtx,
        consumers: Consumers,
    ) -> BoxFuture<'static, Result<Box<dyn Running>, String>> {
        let cfg = self.clone();
        let id = id.to_string();
        let metrics = ctx.metrics.clone();
        Box::pin(async move {
            let stop = CancellationToken::new();
            let mut tasks = Vec::new();
            // One group member per signal, as the Collector runs one receiver per pipeline type.
            for signal in Signal::ALL {
                let Some(out) = consumers.get(signal) else { continue };
                let c = consumer::SignalConsumer {
                    id: id.clone(),
                    signal,
                    topics: cfg.topics(signal),
                    encoding: cfg.encoding(signal),
                    consumer: consumer::client(
                        &cfg,
                        group::GroupContext { id: id.clone(), assigned: metrics.kafka_assigned(&id, signal) },
                    )?,
                    out: out.clone(),
                    counters: metrics.receiver(&id, "kafka", signal),
                    malformed: metrics.receiver_error(&id, "kafka", "malformed"),
                    cfg: cfg.clone(),
                };
                tasks.push(tokio::spawn(c.run(stop.clone())));
            }
            Ok(Box::new(RunningKafka { stop, tasks }) as Box<dyn Running>)
        })
    }
}

struct RunningKafka {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Running for RunningKafka {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            self.stop.cancel();
            for t in self.tasks {
                let _ = t.await;
            }
        })
    }
}
