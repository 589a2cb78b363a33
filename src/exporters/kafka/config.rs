//! The `kafka` exporter's settings, with the Collector's names and defaults.

use std::time::Duration;

use aiotel_api::Signal;
use serde::{Deserialize, Deserializer};

use crate::exporters::{QueueSettings, RetrySettings};

/// How a payload is written into a Kafka message, shared with the receiver.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// The OTLP export request as protobuf.
    #[default]
    OtlpProto,
    /// The OTLP export request as OTLP/JSON.
    OtlpJson,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaExporterConfig {
    pub brokers: Vec<String>,
    /// Accepted for Collector configs; librdkafka negotiates the version with the broker.
    pub protocol_version: Option<String>,
    pub client_id: String,
    /// The Collector's older top-level form: one topic for whichever signal this exporter serves.
    pub topic: Option<String>,
    /// The older top-level form of `<signal>::encoding`.
    pub encoding: Option<Encoding>,
    pub traces: SignalSettings,
    pub metrics: SignalSettings,
    pub logs: SignalSettings,
    /// Key every trace message by its trace id, one message per trace.
    pub partition_traces_by_id: bool,
    /// Static headers set on every record.
    pub record_headers: std::collections::BTreeMap<String, String>,
    pub producer: ProducerSettings,
    /// How long one attempt may take to be acknowledged by the broker.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    pub retry_on_failure: RetrySettings,
    pub sending_queue: QueueSettings,
}

impl Default for KafkaExporterConfig {
    fn default() -> Self {
        Self {
            brokers: vec!["localhost:9092".into()],
            protocol_version: None,
            client_id: "otel-collector".into(),
            topic: None,
            encoding: None,
            traces: SignalSettings::default(),
            metrics: SignalSettings::default(),
            logs: SignalSettings::default(),
            partition_traces_by_id: false,
            record_headers: Default::default(),
            producer: ProducerSettings::default(),
            timeout: Duration::from_secs(5),
            retry_on_failure: RetrySettings::default(),
            sending_queue: QueueSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SignalSettings {
    /// Defaults to `otlp_spans`, `otlp_metrics` or `otlp_logs`.
    pub topic: Option<String>,
    pub encoding: Option<Encoding>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProducerSettings {
    /// Largest message, before compression; larger batches are split.
    pub max_message_bytes: usize,
    /// -1 (`all`), 0 or 1. aiotel waits for all in-sync replicas by default.
    #[serde(deserialize_with = "acks")]
    pub required_acks: i16,
    pub compression: ProducerCompression,
    pub compression_params: CompressionLevel,
    /// Most messages in one produce request.
    pub flush_max_messages: usize,
    /// How long a partition waits for more messages before a request is sent.
    #[serde(with = "humantime_serde")]
    pub linger: Duration,
}

impl Default for ProducerSettings {
    fn default() -> Self {
        Self {
            max_message_bytes: 1_000_000,
            required_acks: -1,
            compression: ProducerCompression::None,
            compression_params: CompressionLevel::default(),
            flush_max_messages: 10_000,
            linger: Duration::from_millis(10),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CompressionLevel {
    /// -1 is the codec's default.
    pub level: Option<i32>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ProducerCompression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl ProducerCompression {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

/// `required_acks` takes the Collector's integers, and `all` as Kafka spells it.
fn acks<'de, D: Deserializer<'de>>(d: D) -> Result<i16, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Acks {
        Int(i64),
        Text(String),
    }
    let v = match Acks::deserialize(d)? {
        Acks::Int(i) => i,
        Acks::Text(s) if s == "all" => -1,
        Acks::Text(s) => s.parse().map_err(|_| serde::de::Error::custom(format!("invalid required_acks {s:?}")))?,
    };
    match v {
        -1..=1 => Ok(v as i16),
        _ => Err(serde::de::Error::custom(format!("required_acks must be -1 (all), 0 or 1, not {v}"))),
    }
}

impl KafkaExporterConfig {
    pub fn topic(&self, s: Signal) -> String {
        let (own, default) = match s {
            Signal::Traces => (&self.traces.topic, "otlp_spans"),
            Signal::Metrics => (&self.metrics.topic, "otlp_metrics"),
            Signal::Logs => (&self.logs.topic, "otlp_logs"),
        };
        own.clone().or_else(|| self.topic.clone()).unwrap_or_else(|| default.to_string())
    }

    pub fn encoding(&self, s: Signal) -> Encoding {
        let own = match s {
            Signal::Traces => self.traces.encoding,
            Signal::Metrics => self.metrics.encoding,
            Signal::Logs => self.logs.encoding,
        };
        own.or(self.encoding).unwrap_or_default()
    }

    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errs = Vec::new();
        if self.brokers.is_empty() || self.brokers.iter().any(|b| b.trim().is_empty()) {
            errs.push(("brokers".into(), "must list at least one host:port".into()));
        }
        if self.producer.max_message_bytes < 1000 {
            errs.push(("producer::max_message_bytes".into(), "must be at least 1000".into()));
        }
        if self.producer.flush_max_messages == 0 {
            errs.push(("producer::flush_max_messages".into(), "must be greater than zero".into()));
        }
        if let Some(l) = self.producer.compression_params.level {
            let ok = match self.producer.compression {
                _ if l == -1 => true,
                ProducerCompression::Gzip => (0..=9).contains(&l),
                ProducerCompression::Lz4 => (0..=12).contains(&l),
                ProducerCompression::Zstd => (1..=22).contains(&l),
                ProducerCompression::None | ProducerCompression::Snappy => false,
            };
            if !ok {
                errs.push((
                    "producer::compression_params::level".into(),
                    format!("level {l} is not valid for {}", self.producer.compression.as_str()),
                ));
            }
        }
        // librdkafka refuses a delivery timeout that does not outlast the linger.
        if self.timeout <= self.producer.linger {
            errs.push(("timeout".into(), "must be longer than producer::linger".into()));
        }
        if let Err(e) = self.retry_on_failure.validate() {
            errs.push(("retry_on_failure".into(), e));
        }
        if let Err(e) = self.sending_queue.validate() {
            errs.push(("sending_queue".into(), e));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::parse_block;

    fn parse(yaml: &str) -> Result<KafkaExporterConfig, Vec<(String, String)>> {
        parse_block(serde_yaml_ng::from_str(yaml).unwrap())
    }

    #[test]
    fn collector_defaults() {
        let c = parse("{}").unwrap();
        assert_eq!(c.brokers, vec!["localhost:9092"]);
        assert_eq!(c.topic(Signal::Traces), "otlp_spans");
        assert_eq!(c.topic(Signal::Metrics), "otlp_metrics");
        assert_eq!(c.topic(Signal::Logs), "otlp_logs");
        assert_eq!(c.encoding(Signal::Logs), Encoding::OtlpProto);
        assert_eq!(c.producer.required_acks, -1);
        assert_eq!(c.producer.max_message_bytes, 1_000_000);
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert!(c.validate().is_empty());
    }

    #[test]
    fn per_signal_topic_wins_over_top_level() {
        let c = parse("{topic: all, encoding: otlp_json, traces: {topic: spans}}").unwrap();
        assert_eq!(c.topic(Signal::Traces), "spans");
        assert_eq!(c.topic(Signal::Logs), "all");
        assert_eq!(c.encoding(Signal::Metrics), Encoding::OtlpJson);
        let c = parse("{record_headers: {tier: edge}}").unwrap();
        assert_eq!(c.record_headers.get("tier").map(String::as_str), Some("edge"));
    }

    #[test]
    fn acks_forms() {
        assert_eq!(parse("{producer: {required_acks: all}}").unwrap().producer.required_acks, -1);
        assert_eq!(parse("{producer: {required_acks: 1}}").unwrap().producer.required_acks, 1);
        assert!(parse("{producer: {required_acks: 3}}").is_err());
    }

    #[test]
    fn unknown_and_bad_keys_are_rejected() {
        let e = parse("{brokers: [a:1], sasl: {}}").unwrap_err();
        assert!(e[0].1.contains("unknown field `sasl`"), "{e:?}");
        assert!(parse("{encoding: jaeger_proto}").is_err());
        let c = parse("{producer: {compression: snappy, compression_params: {level: 5}}}").unwrap();
        assert_eq!(c.validate()[0].0, "producer::compression_params::level");
        assert!(!parse("{brokers: []}").unwrap().validate().is_empty());
        assert_eq!(parse("{timeout: 5ms}").unwrap().validate()[0].0, "timeout");
    }
}
