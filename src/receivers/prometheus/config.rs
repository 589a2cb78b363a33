//! The receiver's config: the Collector's `config:` block holding the subset
//! of Prometheus' scrape config that works without service discovery.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::relabel::RelabelConfig;
use crate::config::yaml::Value;

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusReceiverConfig {
    pub config: PromConfig,
    /// Also emit `scrape_samples_scraped`, `scrape_samples_post_metric_relabeling` and `scrape_series_added`.
    pub report_extra_scrape_metrics: bool,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PromConfig {
    pub global: GlobalConfig,
    pub scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    #[serde(with = "humantime_serde")]
    pub scrape_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub scrape_timeout: Duration,
    /// Added to every series unless it already has the label.
    pub external_labels: BTreeMap<String, String>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            external_labels: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum ScrapeProtocol {
    OpenMetricsText1_0_0,
    OpenMetricsText0_0_1,
    PrometheusText0_0_4,
}

impl ScrapeProtocol {
    fn from_name(s: &str) -> Option<ScrapeProtocol> {
        Some(match s {
            "OpenMetricsText1.0.0" => ScrapeProtocol::OpenMetricsText1_0_0,
            "OpenMetricsText0.0.1" => ScrapeProtocol::OpenMetricsText0_0_1,
            "PrometheusText0.0.4" => ScrapeProtocol::PrometheusText0_0_4,
            _ => return None,
        })
    }

    fn media_type(self) -> &'static str {
        match self {
            ScrapeProtocol::OpenMetricsText1_0_0 => "application/openmetrics-text;version=1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::PrometheusText0_0_4 => "text/plain;version=0.0.4",
        }
    }

    /// Prometheus' default order: OpenMetrics first, then the classic text format.
    pub const DEFAULT: [ScrapeProtocol; 3] = [
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText0_0_4,
    ];
}

/// The `Accept` header for the protocols in order of preference, weighted as Prometheus does.
pub fn accept_header(protocols: &[ScrapeProtocol]) -> String {
    let mut parts: Vec<String> = protocols
        .iter()
        .enumerate()
        .map(|(i, p)| match i {
            0 => p.media_type().to_string(),
            _ => format!("{};q=0.{}", p.media_type(), 10usize.saturating_sub(i).max(2)),
        })
        .collect();
    parts.push("*/*;q=0.1".into());
    parts.join(",")
}

fn protocols<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<ScrapeProtocol>>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    names
        .iter()
        .map(|n| {
            ScrapeProtocol::from_name(n).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unsupported scrape protocol {n:?}; use OpenMetricsText1.0.0, OpenMetricsText0.0.1 or PrometheusText0.0.4"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapeConfig {
    pub job_name: String,
    #[serde(with = "humantime_serde")]
    pub scrape_interval: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub scrape_timeout: Option<Duration>,
    pub metrics_path: String,
    pub scheme: String,
    pub params: BTreeMap<String, Vec<String>>,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    #[serde(deserialize_with = "protocols")]
    pub scrape_protocols: Option<Vec<ScrapeProtocol>>,
    /// Ask for gzip-compressed responses.
    pub enable_compression: bool,
    pub follow_redirects: bool,
    /// More samples than this (after metric relabeling) fail the scrape; 0 means no limit.
    pub sample_limit: usize,
    pub static_configs: Vec<StaticConfig>,
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub tls_config: Option<TlsConfig>,
    pub relabel_configs: Vec<RelabelConfig>,
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

impl Default for ScrapeConfig {
    fn default() -> Self {
        ScrapeConfig {
            job_name: String::new(),
            scrape_interval: None,
            scrape_timeout: None,
            metrics_path: "/metrics".into(),
            scheme: "http".into(),
            params: BTreeMap::new(),
            honor_labels: false,
            honor_timestamps: true,
            scrape_protocols: None,
            enable_compression: true,
            follow_redirects: true,
            sample_limit: 0,
            static_configs: Vec::new(),
            basic_auth: None,
            authorization: None,
            tls_config: None,
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
        }
    }
}

impl ScrapeConfig {
    pub fn protocols(&self) -> &[ScrapeProtocol] {
        self.scrape_protocols.as_deref().unwrap_or(&ScrapeProtocol::DEFAULT)
    }
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StaticConfig {
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuth {
    pub username: String,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Authorization {
    #[serde(rename = "type")]
    pub kind: String,
    pub credentials: Option<String>,
    pub credentials_file: Option<PathBuf>,
}

impl Default for Authorization {
    fn default() -> Self {
        Authorization { kind: "Bearer".into(), credentials: None, credentials_file: None }
    }
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub insecure_skip_verify: bool,
    pub min_version: Option<String>,
}

/// Prometheus scrape-config keys this receiver knows but does not implement;
/// naming them beats serde's generic "unknown field".
const UNSUPPORTED_SCRAPE_KEYS: &[(&str, &str)] = &[
    ("bearer_token", "use authorization: {credentials: ...}"),
    ("bearer_token_file", "use authorization: {credentials_file: ...}"),
    ("oauth2", "OAuth2 is not implemented"),
    ("proxy_url", "scraping through a proxy is not implemented"),
    ("proxy_from_environment", "scraping through a proxy is not implemented"),
    ("no_proxy", "scraping through a proxy is not implemented"),
    ("proxy_connect_header", "scraping through a proxy is not implemented"),
    ("enable_http2", "the HTTP version is negotiated"),
    ("http_headers", "custom scrape headers are not implemented"),
    ("body_size_limit", "responses are limited to 64 MiB"),
    ("label_limit", "label limits are not implemented"),
    ("label_name_length_limit", "label limits are not implemented"),
    ("label_value_length_limit", "label limits are not implemented"),
    ("target_limit", "target limits are not implemented"),
    ("keep_dropped_targets", "dropped targets are not kept"),
    ("track_timestamps_staleness", "not implemented"),
    ("scrape_classic_histograms", "native histograms are not scraped"),
    ("always_scrape_classic_histograms", "native histograms are not scraped"),
    ("convert_classic_histograms_to_nhcb", "native histograms are not scraped"),
    ("native_histogram_bucket_limit", "native histograms are not scraped"),
    ("native_histogram_min_bucket_factor", "native histograms are not scraped"),
    ("fallback_scrape_protocol", "not implemented"),
    ("metric_name_validation_scheme", "not implemented"),
    ("metric_name_escaping_scheme", "not implemented"),
    ("scrape_failure_log_file", "not implemented"),
];

/// Collector receiver keys that need parts of the Collector aiotel does not have.
const UNSUPPORTED_RECEIVER_KEYS: &[(&str, &str)] = &[
    ("target_allocator", "the target allocator is not supported"),
    ("api_server", "the Prometheus API server is not supported"),
    ("use_start_time_metric", "start times come from _created samples or the first scrape"),
    ("start_time_metric_regex", "start times come from _created samples or the first scrape"),
    ("trim_metric_suffixes", "metric names are kept as scraped"),
];

/// Finds keys that are valid Prometheus but unsupported here, with a message naming each.
pub fn unsupported_keys(raw: &Value) -> Vec<(String, String)> {
    let mut issues = Vec::new();
    let Some(map) = raw.as_mapping() else { return issues };
    for (k, why) in UNSUPPORTED_RECEIVER_KEYS {
        if map.contains_key(*k) {
            issues.push((k.to_string(), format!("`{k}` is not supported: {why}")));
        }
    }
    if let Some(cfg) = raw.get("config").and_then(|c| c.as_mapping()) {
        for key in cfg.keys().filter_map(|k| k.as_str()).filter(|k| !matches!(*k, "global" | "scrape_configs")) {
            issues.push((
                format!("config::{key}"),
                format!("`{key}` is not supported: the receiver only scrapes, from `global` and `scrape_configs`"),
            ));
        }
    }
    if let Some(global) = raw.get("config").and_then(|c| c.get("global")).and_then(|g| g.as_mapping()) {
        for key in global.keys().filter_map(|k| k.as_str()) {
            if !matches!(key, "scrape_interval" | "scrape_timeout" | "external_labels") {
                issues.push((
                    format!("config::global::{key}"),
                    format!("`{key}` is not supported here: `global` takes scrape_interval, scrape_timeout and external_labels"),
                ));
            }
        }
    }
    let Some(configs) = raw.get("config").and_then(|c| c.get("scrape_configs")).and_then(|s| s.as_sequence()) else {
        return issues;
    };
    for (i, sc) in configs.iter().enumerate() {
        let Some(m) = sc.as_mapping() else { continue };
        for key in m.keys().filter_map(|k| k.as_str()) {
            let path = format!("config::scrape_configs[{i}]::{key}");
            if key.ends_with("_sd_configs") {
                issues.push((
                    path,
                    format!("`{key}` is not supported: service discovery is not implemented; list targets in static_configs"),
                ));
            } else if let Some((_, why)) = UNSUPPORTED_SCRAPE_KEYS.iter().find(|(k, _)| *k == key) {
                issues.push((path, format!("`{key}` is not supported: {why}")));
            }
        }
    }
    issues
}

impl PrometheusReceiverConfig {
    /// Resolves relative file paths and fills intervals from `global`.
    pub fn resolve(&mut self, base: &Path) {
        let g = self.config.global.clone();
        for sc in &mut self.config.scrape_configs {
            sc.scrape_interval.get_or_insert(g.scrape_interval);
            sc.scrape_timeout.get_or_insert(g.scrape_timeout.min(sc.scrape_interval.unwrap_or(g.scrape_interval)));
            let fix = |p: &mut Option<PathBuf>| {
                if let Some(p) = p.as_mut().filter(|p| p.is_relative()) {
                    *p = base.join(&*p);
                }
            };
            if let Some(t) = &mut sc.tls_config {
                fix(&mut t.ca_file);
                fix(&mut t.cert_file);
                fix(&mut t.key_file);
            }
            if let Some(b) = &mut sc.basic_auth {
                fix(&mut b.password_file);
            }
            if let Some(a) = &mut sc.authorization {
                fix(&mut a.credentials_file);
            }
        }
    }

    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errs = Vec::new();
        if self.config.scrape_configs.is_empty() {
            errs.push(("config::scrape_configs".into(), "at least one scrape config is required".into()));
        }
        let mut names = std::collections::HashSet::new();
        for (i, sc) in self.config.scrape_configs.iter().enumerate() {
            let p = |k: &str| format!("config::scrape_configs[{i}]::{k}");
            if sc.job_name.is_empty() {
                errs.push((p("job_name"), "missing".into()));
            } else if !names.insert(sc.job_name.clone()) {
                errs.push((p("job_name"), format!("duplicate job name {:?}", sc.job_name)));
            }
            if let (Some(iv), Some(to)) = (sc.scrape_interval, sc.scrape_timeout) {
                if iv.is_zero() {
                    errs.push((p("scrape_interval"), "must be greater than zero".into()));
                }
                if to > iv {
                    errs.push((p("scrape_timeout"), format!("{to:?} is greater than the scrape interval {iv:?}")));
                }
            }
            if !matches!(sc.scheme.as_str(), "http" | "https") {
                errs.push((p("scheme"), format!("{:?} must be http or https", sc.scheme)));
            }
            if !sc.metrics_path.starts_with('/') {
                errs.push((p("metrics_path"), "must start with '/'".into()));
            }
            if sc.basic_auth.is_some() && sc.authorization.is_some() {
                errs.push((p("basic_auth"), "at most one of basic_auth and authorization may be set".into()));
            }
            if let Some(b) = &sc.basic_auth {
                if b.password.is_some() && b.password_file.is_some() {
                    errs.push((p("basic_auth"), "at most one of password and password_file may be set".into()));
                }
            }
            if let Some(a) = &sc.authorization {
                if a.credentials.is_some() && a.credentials_file.is_some() {
                    errs.push((
                        p("authorization"),
                        "at most one of credentials and credentials_file may be set".into(),
                    ));
                }
                if a.kind.eq_ignore_ascii_case("basic") {
                    errs.push((p("authorization::type"), "use basic_auth for Basic credentials".into()));
                }
            }
            if let Some(t) = &sc.tls_config {
                if t.cert_file.is_some() != t.key_file.is_some() {
                    errs.push((p("tls_config"), "cert_file and key_file must be set together".into()));
                }
                if let Some(v) = &t.min_version {
                    if !matches!(v.as_str(), "TLS12" | "TLS13") {
                        errs.push((
                            p("tls_config::min_version"),
                            format!("{v:?} is not supported; use TLS12 or TLS13"),
                        ));
                    }
                }
            }
            for (j, s) in sc.static_configs.iter().enumerate() {
                for (k, t) in s.targets.iter().enumerate() {
                    if t.is_empty() || t.contains('/') {
                        errs.push((
                            p(&format!("static_configs[{j}]::targets[{k}]")),
                            format!("{t:?} is not a host:port target"),
                        ));
                    }
                }
            }
            for (key, rules) in
                [("relabel_configs", &sc.relabel_configs), ("metric_relabel_configs", &sc.metric_relabel_configs)]
            {
                for (j, r) in rules.iter().enumerate() {
                    if let Err(e) = r.validate() {
                        errs.push((p(&format!("{key}[{j}]")), e));
                    }
                }
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<PrometheusReceiverConfig, Vec<(String, String)>> {
        let raw: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let issues = unsupported_keys(&raw);
        if !issues.is_empty() {
            return Err(issues);
        }
        let mut cfg: PrometheusReceiverConfig = crate::components::parse_block(raw)?;
        cfg.resolve(Path::new("/etc"));
        let errs = cfg.validate();
        if errs.is_empty() {
            Ok(cfg)
        } else {
            Err(errs)
        }
    }

    #[test]
    fn collector_shaped_config_with_defaults() {
        let cfg = parse(
            "config:\n  global: {scrape_interval: 15s}\n  scrape_configs:\n    - job_name: node\n      static_configs: [{targets: ['localhost:9100'], labels: {env: prod}}]\n      tls_config: {ca_file: ca.pem}\n",
        )
        .unwrap();
        let sc = &cfg.config.scrape_configs[0];
        assert_eq!(sc.scrape_interval, Some(Duration::from_secs(15)));
        assert_eq!(sc.scrape_timeout, Some(Duration::from_secs(10)));
        assert_eq!(sc.metrics_path, "/metrics");
        assert!(sc.honor_timestamps);
        assert_eq!(sc.tls_config.as_ref().unwrap().ca_file.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(sc.static_configs[0].labels["env"], "prod");
    }

    #[test]
    fn unsupported_keys_are_named() {
        let errs = parse(
            "config:\n  scrape_configs:\n    - job_name: k\n      kubernetes_sd_configs: [{role: pod}]\n      file_sd_configs: [{files: [a.json]}]\n      bearer_token: x\n",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 3);
        assert_eq!(errs[0].0, "config::scrape_configs[0]::kubernetes_sd_configs");
        assert!(errs[0].1.contains("`kubernetes_sd_configs` is not supported"), "{errs:?}");
        assert!(errs[1].1.contains("`file_sd_configs` is not supported"));
        assert!(errs[2].1.contains("authorization"));
        let errs = parse(
            "config:\n  global: {scrape_interval: 1s, evaluation_interval: 1s}\n  rule_files: [a]\n  scrape_configs: [{job_name: a}]\n",
        )
        .unwrap_err();
        let msgs: Vec<String> = errs.iter().map(|(p, m)| format!("{p}: {m}")).collect();
        assert!(msgs.contains(&"config::rule_files: `rule_files` is not supported: the receiver only scrapes, from `global` and `scrape_configs`".to_string()), "{msgs:?}");
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("config::global::evaluation_interval: `evaluation_interval` is not supported")),
            "{msgs:?}"
        );
        let errs = parse("target_allocator: {endpoint: x}\nconfig: {scrape_configs: [{job_name: a}]}\n").unwrap_err();
        assert!(errs[0].1.contains("`target_allocator` is not supported"));
        // A key nobody knows still fails, by name.
        let errs = parse("config: {scrape_configs: [{job_name: a, bogus: 1}]}").unwrap_err();
        assert!(errs[0].1.contains("bogus"), "{errs:?}");
    }

    #[test]
    fn invalid_values_are_reported() {
        let errs = parse(
            "config:\n  scrape_configs:\n    - {job_name: a, scrape_interval: 5s, scrape_timeout: 10s, scheme: ftp}\n    - {job_name: a, metric_relabel_configs: [{action: hashmod, target_label: x}]}\n",
        )
        .unwrap_err();
        let msgs: Vec<String> = errs.iter().map(|(p, m)| format!("{p}: {m}")).collect();
        assert!(msgs.iter().any(|m| m.contains("scrape_timeout") && m.contains("greater")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("scheme")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("duplicate job name")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("metric_relabel_configs[0]") && m.contains("modulus")), "{msgs:?}");
        assert!(parse("config: {scrape_configs: []}").is_err());
        let errs = parse("config: {scrape_configs: [{job_name: a, scrape_protocols: [PrometheusProto]}]}").unwrap_err();
        assert!(errs[0].1.contains("unsupported scrape protocol"), "{errs:?}");
    }

    #[test]
    fn accept_header_follows_preference() {
        assert_eq!(
            accept_header(&ScrapeProtocol::DEFAULT),
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.9,text/plain;version=0.0.4;q=0.8,*/*;q=0.1"
        );
        assert_eq!(accept_header(&[ScrapeProtocol::PrometheusText0_0_4]), "text/plain;version=0.0.4,*/*;q=0.1");
    }
}
