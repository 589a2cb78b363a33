//! One consumer-group member per signal: receive, decode, ingest, and only
//! then mark the offset, so a crash re-delivers instead of losing data.

use std::time::Duration;

use aiotel_api::{ErrorKind, PipelineError, Signal};
use futures::stream::{FuturesOrdered, StreamExt};
use prometheus_client::metrics::counter::Counter;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use super::config::{Encoding, InitialOffset, KafkaReceiverConfig};
use super::decode::decode;
use super::group::GroupContext;
use crate::pipeline::Fanout;
use crate::receivers::ingest::submit;
use crate::telemetry::ComponentCounters;

/// How long shutdown waits for the pipeline to answer for the messages in hand.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub struct SignalConsumer {
    pub id: String,
    pub signal: Signal,
    pub topics: Vec<String>,
    pub encoding: Encoding,
    pub consumer: StreamConsumer<GroupContext>,
    pub out: Fanout,
    pub counters: ComponentCounters,
    pub malformed: Counter,
    pub cfg: KafkaReceiverConfig,
}

pub fn client(cfg: &KafkaReceiverConfig, ctx: GroupContext) -> Result<StreamConsumer<GroupContext>, String> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", cfg.brokers.join(","))
        .set("group.id", &cfg.group_id)
        .set("client.id", &cfg.client_id)
        .set(
            "auto.offset.reset",
            match cfg.initial_offset {
                InitialOffset::Latest => "latest",
                InitialOffset::Earliest => "earliest",
            },
        )
        // Offsets are stored by hand once the pipeline accepted a message;
        // auto-commit only sends what was stored.
        .set("enable.auto.offset.store", "false")
        .set("enable.auto.commit", cfg.autocommit.enable.to_string())
        .set("auto.commit.interval.ms", cfg.autocommit.interval.as_millis().max(1).to_string())
        .set("session.timeout.ms", cfg.session_timeout.as_millis().to_string())
        .set("heartbeat.interval.ms", cfg.heartbeat_interval.as_millis().to_string())
        .set("fetch.min.bytes", cfg.min_fetch_size.to_string())
        .set("fetch.max.bytes", cfg.max_fetch_size.max(1024).to_string())
        .set("fetch.wait.max.ms", cfg.max_fetch_wait.as_millis().to_string())
        // Bound what librdkafka prefetches per partition.
        .set("queued.max.messages.kbytes", "16384");
    c.create_with_context(ctx).map_err(|e| format!("cannot create Kafka consumer: {e}"))
}

/// What the first attempt at a message came to.
enum Outcome {
    Malformed(String),
    Ingested(Result<(), PipelineError>),
}

impl SignalConsumer {
    pub async fn run(self, stop: CancellationToken) {
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        if let Err(e) = self.consumer.subscribe(&topics) {
            tracing::error!(receiver = %self.id, ?topics, error = %e, "cannot subscribe; receiver idle");
            return;
        }
        tracing::info!(receiver = %self.id, signal = %self.signal, ?topics, group = %self.cfg.group_id, "Kafka consumer subscribed");
        // Several messages are in the pipeline at once, but they are marked in
        // the order they were received, so a committed offset never passes a
        // message that has not been accepted.
        let mut inflight = FuturesOrdered::new();
        // With `acknowledgements: durable` an answer can wait for a tail-sampling
        // decision, so the window is wide, and bounded by bytes as well.
        let mut inflight_bytes = 0usize;
        let (max_messages, max_bytes) = (self.cfg.max_in_flight.messages, self.cfg.max_in_flight.size_mib << 20);
        let mut interrupted = false;
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                Some((m, outcome)) = inflight.next(), if !inflight.is_empty() => {
                    inflight_bytes -= size(&m);
                    if !self.finish(&m, outcome, &stop).await {
                        interrupted = true;
                        break;
                    }
                }
                r = self.consumer.recv(), if inflight.len() < max_messages && inflight_bytes < max_bytes => match r {
                    // Detached: a held message would pin librdkafka's whole fetch buffer.
                    Ok(m) => {
                        let m = m.detach();
                        inflight_bytes += size(&m);
                        // Entering the pipeline waits for room (backpressure);
                        // only the answer is awaited concurrently. A stop while
                        // waiting leaves the message unmarked, so it comes again.
                        let outcome = match decode(self.signal, self.encoding, m.payload().unwrap_or_default()) {
                            Ok(p) => tokio::select! {
                                s = submit(&self.out, &self.counters, p, true) => Ok(s),
                                _ = stop.cancelled() => break,
                            },
                            Err(e) => Err(e.to_string()),
                        };
                        inflight.push_back(async move {
                            let outcome = match outcome {
                                Ok(sub) => Outcome::Ingested(sub.answer().await.map(|_| ())),
                                Err(e) => Outcome::Malformed(e),
                            };
                            (m, outcome)
                        });
                    }
                    Err(e) => {
                        // Broker down, unknown topic, rebalance trouble: librdkafka keeps trying.
                        tracing::warn!(receiver = %self.id, error = %e, "Kafka consumer error");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                            _ = stop.cancelled() => {}
                        }
                    }
                },
            }
        }
        // Shutdown: give what is already in the pipeline a moment to be accepted and marked.
        if !interrupted && !inflight.is_empty() {
            let drain = async {
                while let Some((m, outcome)) = inflight.next().await {
                    if !self.finish(&m, outcome, &stop).await {
                        break;
                    }
                }
            };
            if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
                tracing::warn!(receiver = %self.id, "shutdown: messages left unmarked will be delivered again");
            }
        }
        drop(inflight);
        // Dropping the consumer leaves the group and, with auto-commit, commits
        // what was stored; it blocks while doing so.
        let id = self.id.clone();
        let consumer = self.consumer;
        let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
        tracing::info!(receiver = %id, "Kafka consumer closed");
    }

    /// Marks a message once the pipeline accepted it, offering it again while
    /// the pipeline refuses. Returns false when shutdown interrupted that (the
    /// message stays unmarked and is delivered again later).
    async fn finish(&self, m: &OwnedMessage, outcome: Outcome, stop: &CancellationToken) -> bool {
        let mut res = match outcome {
            Outcome::Malformed(e) => {
                // Skipped and marked: a poison message must not hold its partition.
                self.malformed.inc();
                tracing::warn!(
                    receiver = %self.id, topic = m.topic(), partition = m.partition(), offset = m.offset(),
                    error = %e, "skipping a message that cannot be decoded"
                );
                self.mark(m);
                return true;
            }
            Outcome::Ingested(r) => r,
        };
        let mut wait = self.cfg.error_backoff.initial_interval;
        loop {
            let err = match res {
                Ok(()) => {
                    self.mark(m);
                    return true;
                }
                Err(e) => e,
            };
            if err.kind == ErrorKind::Permanent && self.cfg.message_marking.on_error {
                tracing::error!(receiver = %self.id, error = %err, offset = m.offset(), "pipeline refused a message permanently; skipped");
                self.mark(m);
                return true;
            }
            if stop.is_cancelled() {
                return false;
            }
            tracing::info!(receiver = %self.id, error = %err, ?wait, "pipeline refused a message; offering it again");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => return false,
            }
            wait = (wait * 2).min(self.cfg.error_backoff.max_interval);
            // Decoded again rather than every first attempt keeping a copy.
            let Ok(p) = decode(self.signal, self.encoding, m.payload().unwrap_or_default()) else { return true };
            res = tokio::select! {
                r = async { submit(&self.out, &self.counters, p, true).await.answer().await } => r.map(|_| ()),
                _ = async { stop.cancelled().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => return false,
            };
        }
    }

    fn mark(&self, m: &OwnedMessage) {
        let res = if self.cfg.autocommit.enable {
            self.consumer.store_offset(m.topic(), m.partition(), m.offset())
        } else {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(m.topic(), m.partition(), Offset::Offset(m.offset() + 1))
                .and_then(|()| self.consumer.commit(&tpl, CommitMode::Async))
        };
        if let Err(e) = res {
            // The partition was likely revoked; its new owner reads from the last commit.
            tracing::warn!(receiver = %self.id, error = %e, offset = m.offset(), "cannot mark offset");
        }
    }
}

fn size(m: &OwnedMessage) -> usize {
    m.payload().map_or(0, <[u8]>::len) + m.key().map_or(0, <[u8]>::len) + 64
}
