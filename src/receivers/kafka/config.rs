//! The `kafka` receiver's settings, with the Collector's names and defaults.

use std::time::Duration;

use aiotel_api::Signal;
use serde::{Deserialize, Deserializer};

pub use crate::exporters::kafka::Encoding;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaReceiverConfig {
    pub brokers: Vec<String>,
    /// Accepted for Collector configs; librdkafka negotiates the version with the broker.
    pub protocol_version: Option<String>,
    /// The Collector's older top-level form: the topic for whichever signal this receiver serves.
    pub topic: Option<String>,
    pub encoding: Option<Encoding>,
    pub traces: SignalSettings,
    pub metrics: SignalSettings,
    pub logs: SignalSettings,
    pub group_id: String,
    pub client_id: String,
    pub initial_offset: InitialOffset,
    #[serde(with = "humantime_serde")]
    pub session_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    pub min_fetch_size: usize,
    pub max_fetch_size: usize,
    #[serde(with = "humantime_serde")]
    pub max_fetch_wait: Duration,
    pub autocommit: AutoCommit,
    pub message_marking: MessageMarking,
    /// How long to wait before offering a message again that the pipeline refused.
    pub error_backoff: ErrorBackoff,
    /// Messages handed to the pipeline whose answer is still pending.
    pub max_in_flight: MaxInFlight,
}

/// aiotel's own: bounds what a group member holds while the pipeline has
/// not answered. With `acknowledgements: durable` an answer can wait a whole
/// tail-sampling `decision_wait`, so throughput is at most
/// `messages / decision_wait` messages per second.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MaxInFlight {
    pub messages: usize,
    pub size_mib: usize,
}

impl Default for MaxInFlight {
    fn default() -> Self {
        Self { messages: 65_536, size_mib: 256 }
    }
}

impl Default for KafkaReceiverConfig {
    fn default() -> Self {
        Self {
            brokers: vec!["localhost:9092".into()],
            protocol_version: None,
            topic: None,
            encoding: None,
            traces: SignalSettings::default(),
            metrics: SignalSettings::default(),
            logs: SignalSettings::default(),
            group_id: "otel-collector".into(),
            client_id: "otel-collector".into(),
            initial_offset: InitialOffset::Latest,
            session_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(3),
            min_fetch_size: 1,
            max_fetch_size: 1_048_576,
            max_fetch_wait: Duration::from_millis(250),
            autocommit: AutoCommit::default(),
            message_marking: MessageMarking::default(),
            error_backoff: ErrorBackoff::default(),
            max_in_flight: MaxInFlight::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SignalSettings {
    /// The Collector's list form; defaults to `otlp_spans`, `otlp_metrics` or `otlp_logs`.
    pub topics: Option<Vec<String>>,
    /// A single topic, as older Collector configs write it.
    pub topic: Option<String>,
    pub encoding: Option<Encoding>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InitialOffset {
    Latest,
    Earliest,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AutoCommit {
    /// Commit processed offsets in the background every `interval`; off commits after each message.
    pub enable: bool,
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
}

impl Default for AutoCommit {
    fn default() -> Self {
        Self { enable: true, interval: Duration::from_secs(1) }
    }
}

/// The Collector's `message_marking`. aiotel marks a message only once the
/// pipeline has accepted it, so `after` must stay true.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MessageMarking {
    #[serde(deserialize_with = "must_be_true")]
    pub after: bool,
    /// Skip past a message the pipeline refused permanently. Off (the
    /// Collector's default), it is offered again after a backoff, holding its partition.
    pub on_error: bool,
}

impl Default for MessageMarking {
    fn default() -> Self {
        Self { after: true, on_error: false }
    }
}

fn must_be_true<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    if bool::deserialize(d)? {
        Ok(true)
    } else {
        Err(serde::de::Error::custom(
            "aiotel marks a message only after the pipeline accepted it (at-least-once); `after: false` is not supported",
        ))
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ErrorBackoff {
    pub enabled: bool,
    #[serde(with = "humantime_serde")]
    pub initial_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub max_interval: Duration,
}

impl Default for ErrorBackoff {
    fn default() -> Self {
        // Always on: a refused message is offered again, never skipped.
        Self { enabled: true, initial_interval: Duration::from_millis(100), max_interval: Duration::from_secs(5) }
    }
}

impl KafkaReceiverConfig {
    pub fn topics(&self, s: Signal) -> Vec<String> {
        let (own, default) = match s {
            Signal::Traces => (&self.traces, "otlp_spans"),
            Signal::Metrics => (&self.metrics, "otlp_metrics"),
            Signal::Logs => (&self.logs, "otlp_logs"),
        };
        if let Some(t) = &own.topics {
            return t.clone();
        }
        vec![own.topic.clone().or_else(|| self.topic.clone()).unwrap_or_else(|| default.to_string())]
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
        if self.group_id.is_empty() {
            errs.push(("group_id".into(), "must not be empty".into()));
        }
        for s in Signal::ALL {
            if self.topics(s).iter().any(|t| t.is_empty()) {
                errs.push((format!("{s}::topics"), "must not be empty".into()));
            }
        }
        if self.max_fetch_size < self.min_fetch_size {
            errs.push(("max_fetch_size".into(), "must be at least min_fetch_size".into()));
        }
        if self.heartbeat_interval >= self.session_timeout {
            errs.push(("heartbeat_interval".into(), "must be shorter than session_timeout".into()));
        }
        if self.autocommit.enable && self.autocommit.interval.is_zero() {
            errs.push(("autocommit::interval".into(), "must be greater than zero".into()));
        }
        if self.max_in_flight.messages == 0 || self.max_in_flight.size_mib == 0 {
            errs.push(("max_in_flight".into(), "messages and size_mib must be greater than zero".into()));
        }
        if !self.error_backoff.enabled {
            errs.push((
                "error_backoff::enabled".into(),
                "refused messages are always offered again after a backoff; it cannot be disabled".into(),
            ));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::parse_block;

    fn parse(yaml: &str) -> Result<KafkaReceiverConfig, Vec<(String, String)>> {
        parse_block(serde_yaml_ng::from_str(yaml).unwrap())
    }

    #[test]
    fn collector_defaults() {
        let c = parse("{}").unwrap();
        assert_eq!(c.group_id, "otel-collector");
        assert_eq!(c.client_id, "otel-collector");
        assert_eq!(c.initial_offset, InitialOffset::Latest);
        assert_eq!(c.topics(Signal::Traces), vec!["otlp_spans"]);
        assert_eq!(c.topics(Signal::Logs), vec!["otlp_logs"]);
        assert!(c.autocommit.enable);
        assert!(c.validate().is_empty());
    }

    #[test]
    fn topics_and_encodings() {
        let c = parse("{topic: t, encoding: otlp_json, traces: {topics: [a, b]}, initial_offset: earliest}").unwrap();
        assert_eq!(c.topics(Signal::Traces), vec!["a", "b"]);
        assert_eq!(c.topics(Signal::Metrics), vec!["t"]);
        assert_eq!(c.encoding(Signal::Logs), Encoding::OtlpJson);
        assert_eq!(c.initial_offset, InitialOffset::Earliest);
    }

    #[test]
    fn rejects_what_it_cannot_honour() {
        let e = parse("{message_marking: {after: false}}").unwrap_err();
        assert!(e[0].1.contains("at-least-once"), "{e:?}");
        assert!(parse("{initial_offset: newest}").is_err());
        assert!(parse("{auth: {sasl: {}}}").unwrap_err()[0].1.contains("unknown field `auth`"));
        assert!(!parse("{group_id: ''}").unwrap().validate().is_empty());
    }
}
