//! The tower service that writes payloads to Kafka through librdkafka.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aiotel_api::{Payload, PipelineError};
use futures::future::BoxFuture;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::config::{Encoding, KafkaExporterConfig};
use super::messages;

#[derive(Clone)]
pub struct KafkaProducer {
    inner: Arc<Inner>,
}

struct Inner {
    producer: FutureProducer,
    topic: String,
    encoding: Encoding,
    by_trace: bool,
    max_bytes: usize,
    timeout: Duration,
    headers: Option<OwnedHeaders>,
}

impl KafkaProducer {
    pub fn new(cfg: &KafkaExporterConfig, topic: String, encoding: Encoding, by_trace: bool) -> Result<Self, String> {
        let p = &cfg.producer;
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", cfg.brokers.join(","))
            .set("client.id", &cfg.client_id)
            .set("acks", p.required_acks.to_string())
            .set("compression.type", p.compression.as_str())
            .set("batch.num.messages", p.flush_max_messages.to_string())
            .set("linger.ms", p.linger.as_millis().to_string())
            // Room for the key and record framing around a value of max_message_bytes.
            .set("message.max.bytes", (p.max_message_bytes + 64 * 1024).to_string())
            // One attempt, librdkafka's own retries included, lasts at most `timeout`;
            // retry_on_failure decides what happens after that.
            .set("message.timeout.ms", cfg.timeout.as_millis().max(1).to_string())
            // Java's default partitioner, so other Kafka clients place the same keys alike.
            .set("partitioner", "murmur2_random");
        if let Some(l) = p.compression_params.level {
            c.set("compression.level", l.to_string());
        }
        let producer: FutureProducer = c.create().map_err(|e| format!("cannot create Kafka producer: {e}"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                producer,
                topic,
                encoding,
                by_trace,
                max_bytes: p.max_message_bytes,
                timeout: cfg.timeout,
                headers: (!cfg.record_headers.is_empty()).then(|| {
                    cfg.record_headers
                        .iter()
                        .fold(OwnedHeaders::new(), |h, (k, v)| h.insert(Header { key: k, value: Some(v.as_str()) }))
                }),
            }),
        })
    }
}

impl tower::Service<Arc<Payload>> for KafkaProducer {
    type Response = u64;
    type Error = PipelineError;
    type Future = BoxFuture<'static, Result<u64, PipelineError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, payload: Arc<Payload>) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move {
            let split = messages::build(&payload, inner.by_trace, inner.encoding, inner.max_bytes)
                .map_err(PipelineError::permanent)?;
            if split.oversized > 0 {
                tracing::error!(
                    topic = %inner.topic,
                    items = split.oversized,
                    max_message_bytes = inner.max_bytes,
                    "items larger than max_message_bytes on their own; dropped"
                );
            }
            let sends = split.messages.iter().map(|m| {
                let mut rec = FutureRecord::<[u8], [u8]>::to(&inner.topic).payload(&m.value[..]);
                if let Some(k) = &m.key {
                    rec = rec.key(&k[..]);
                }
                if let Some(h) = &inner.headers {
                    rec = rec.headers(h.clone());
                }
                inner.producer.send(rec, inner.timeout)
            });
            let results = futures::future::join_all(sends).await;
            let mut worst: Option<PipelineError> = None;
            let mut failed_items = 0;
            for (r, m) in results.into_iter().zip(&split.messages) {
                if let Err((e, _)) = r {
                    failed_items += m.items;
                    let err = classify(&e);
                    worst = Some(match worst {
                        Some(w) => w.worse(err),
                        None => err,
                    });
                }
            }
            match worst {
                // A retry sends the whole payload again: messages already delivered are
                // duplicated, which at-least-once delivery allows.
                Some(e) => {
                    tracing::debug!(topic = %inner.topic, failed_items, error = %e, "some messages were not delivered");
                    Err(e)
                }
                None => Ok(split.oversized),
            }
        })
    }
}

/// Size and configuration errors cannot succeed later; everything else
/// (broker down, timeouts, leader changes, a full local queue) may.
fn classify(e: &KafkaError) -> PipelineError {
    use RDKafkaErrorCode as C;
    let code = e.rdkafka_error_code();
    let permanent = matches!(
        code,
        Some(
            C::MessageSizeTooLarge
                | C::InvalidMessageSize
                | C::InvalidMessage
                | C::TopicAuthorizationFailed
                | C::InvalidConfig
                | C::UnsupportedForMessageFormat
                | C::MessageBatchTooLarge
                | C::InvalidTopic
        )
    );
    let msg = format!("Kafka produce failed: {e}");
    if permanent {
        PipelineError::permanent(msg)
    } else {
        PipelineError::unavailable(msg)
    }
}
