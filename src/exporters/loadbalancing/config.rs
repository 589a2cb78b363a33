use std::time::Duration;

use serde::Deserialize;

use super::super::otlp_grpc::OtlpGrpcConfig;
use super::super::{QueueSettings, RetrySettings};

/// The Collector's `loadbalancing` exporter settings.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LoadBalancingConfig {
    pub routing_key: RoutingKey,
    /// With `routing_key: attributes`: span, then resource attributes forming the key.
    pub routing_attributes: Vec<String>,
    pub protocol: Protocol,
    pub resolver: ResolverConfig,
    /// When set, applies to every backend instead of `protocol::otlp::sending_queue`.
    pub sending_queue: Option<QueueSettings>,
    pub retry_on_failure: Option<RetrySettings>,
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
pub enum RoutingKey {
    #[default]
    #[serde(rename = "traceID")]
    TraceId,
    #[serde(rename = "service")]
    Service,
    #[serde(rename = "attributes")]
    Attributes,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    /// Settings of the `otlp` exporter; `endpoint` is filled per backend.
    #[serde(default)]
    pub otlp: OtlpGrpcConfig,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ResolverConfig {
    #[serde(rename = "static")]
    pub static_: Option<StaticResolver>,
    pub dns: Option<DnsResolver>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaticResolver {
    pub hostnames: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DnsResolver {
    pub hostname: String,
    pub port: u16,
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for DnsResolver {
    fn default() -> Self {
        // The Collector's defaults.
        Self { hostname: String::new(), port: 4317, interval: Duration::from_secs(5), timeout: Duration::from_secs(1) }
    }
}

impl LoadBalancingConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errs = Vec::new();
        match (&self.resolver.static_, &self.resolver.dns) {
            (None, None) => errs.push(("resolver".into(), "one of static or dns is required".into())),
            (Some(_), Some(_)) => errs.push(("resolver".into(), "set either static or dns, not both".into())),
            (Some(s), None) if s.hostnames.is_empty() => {
                errs.push(("resolver::static::hostnames".into(), "must list at least one backend".into()))
            }
            (None, Some(d)) if d.hostname.is_empty() => errs.push(("resolver::dns::hostname".into(), "missing".into())),
            (None, Some(d)) if d.interval.is_zero() => {
                errs.push(("resolver::dns::interval".into(), "must be greater than zero".into()))
            }
            _ => {}
        }
        if self.routing_key == RoutingKey::Attributes && self.routing_attributes.is_empty() {
            errs.push(("routing_attributes".into(), "routing_key attributes needs at least one attribute".into()));
        }
        if self.routing_key != RoutingKey::Attributes && !self.routing_attributes.is_empty() {
            errs.push(("routing_attributes".into(), "only used with routing_key: attributes".into()));
        }
        if !self.protocol.otlp.endpoint.is_empty() {
            errs.push(("protocol::otlp::endpoint".into(), "set by the resolver; remove it".into()));
        }
        if let Err(e) = self.queue().validate() {
            errs.push(("sending_queue".into(), e));
        }
        if let Err(e) = self.retry().validate() {
            errs.push(("retry_on_failure".into(), e));
        }
        errs.extend(
            self.protocol.otlp.tls.validate().into_iter().map(|(k, v)| (format!("protocol::otlp::tls::{k}"), v)),
        );
        errs
    }

    pub fn queue(&self) -> QueueSettings {
        self.sending_queue.clone().unwrap_or_else(|| self.protocol.otlp.sending_queue.clone())
    }

    pub fn retry(&self) -> RetrySettings {
        self.retry_on_failure.clone().unwrap_or_else(|| self.protocol.otlp.retry_on_failure.clone())
    }

    /// The `otlp` settings for one backend.
    pub fn backend(&self, endpoint: &str) -> OtlpGrpcConfig {
        let mut c = self.protocol.otlp.clone();
        c.endpoint = endpoint.to_string();
        if let Some(t) = self.timeout {
            c.timeout = t;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<LoadBalancingConfig, String> {
        serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn collector_config_parses_with_defaults() {
        let c = parse(
            "protocol: {otlp: {tls: {insecure: true}, timeout: 2s}}\nresolver: {static: {hostnames: [a:4317, b:4317]}}",
        )
        .unwrap();
        assert_eq!(c.routing_key, RoutingKey::TraceId);
        assert_eq!(c.resolver.static_.as_ref().unwrap().hostnames, vec!["a:4317", "b:4317"]);
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        let b = c.backend("a:4317");
        assert_eq!((b.endpoint.as_str(), b.timeout), ("a:4317", Duration::from_secs(2)));
        assert_eq!(c.queue(), QueueSettings::default());

        let d = parse("routing_key: service\nresolver: {dns: {hostname: backends.svc}}").unwrap();
        let dns = d.resolver.dns.clone().unwrap();
        assert_eq!((dns.port, dns.interval, dns.timeout), (4317, Duration::from_secs(5), Duration::from_secs(1)));
        assert_eq!(d.routing_key, RoutingKey::Service);
        assert!(d.validate().is_empty());

        let q = parse("resolver: {static: {hostnames: [a]}}\nsending_queue: {queue_size: 7}").unwrap();
        assert_eq!(q.queue().queue_size, 7);
    }

    #[test]
    fn bad_configs_are_rejected_clearly() {
        assert!(parse("routing_key: spanID").unwrap_err().contains("unknown variant"));
        assert!(parse("resolver: {k8s: {service: x}}").unwrap_err().contains("unknown field `k8s`"));
        assert!(parse("protocol: {otlp: {endpoint_x: y}}").unwrap_err().contains("unknown field"));
        let none = parse("{}").unwrap();
        assert_eq!(none.validate(), vec![("resolver".to_string(), "one of static or dns is required".to_string())]);
        let attrs = parse("routing_key: attributes\nresolver: {static: {hostnames: [a]}}").unwrap();
        assert_eq!(attrs.validate()[0].0, "routing_attributes");
        let ep = parse("protocol: {otlp: {endpoint: x:1}}\nresolver: {static: {hostnames: [a]}}").unwrap();
        assert_eq!(ep.validate()[0].0, "protocol::otlp::endpoint");
        let both = parse("resolver: {static: {hostnames: [a]}, dns: {hostname: b}}").unwrap();
        assert!(both.validate()[0].1.contains("not both"));
    }
}
