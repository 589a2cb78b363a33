use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DcgmConfig {
    /// The exporter's URL; `host:port` alone means `http://host:port/metrics`.
    pub endpoint: String,
    #[serde(with = "humantime_serde")]
    pub collection_interval: Duration,
    /// Wait before the first scrape, as the Collector's scrapers do.
    #[serde(with = "humantime_serde")]
    pub initial_delay: Duration,
    /// Per-scrape timeout; zero means the collection interval.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Forward `DCGM_FI_*` series that have no OTel mapping under their own names.
    pub pass_through_unmapped: bool,
}

impl Default for DcgmConfig {
    fn default() -> Self {
        DcgmConfig {
            endpoint: "http://localhost:9400/metrics".into(),
            collection_interval: Duration::from_secs(10),
            initial_delay: Duration::from_secs(1),
            timeout: Duration::ZERO,
            pass_through_unmapped: true,
        }
    }
}

impl DcgmConfig {
    pub fn url(&self) -> String {
        if self.endpoint.contains("://") {
            self.endpoint.clone()
        } else {
            format!("http://{}/metrics", self.endpoint)
        }
    }

    pub fn timeout(&self) -> Duration {
        if self.timeout.is_zero() {
            self.collection_interval
        } else {
            self.timeout
        }
    }

    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errs = Vec::new();
        match reqwest::Url::parse(&self.url()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            Ok(u) => errs.push(("endpoint".into(), format!("scheme {:?} must be http or https", u.scheme()))),
            Err(e) => errs.push(("endpoint".into(), format!("{:?} is not a URL: {e}", self.endpoint))),
        }
        if self.collection_interval.is_zero() {
            errs.push(("collection_interval".into(), "must be greater than zero".into()));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_endpoint_forms() {
        let c = DcgmConfig::default();
        assert_eq!(c.url(), "http://localhost:9400/metrics");
        assert_eq!(c.collection_interval, Duration::from_secs(10));
        let c: DcgmConfig = serde_yaml_ng::from_str("{endpoint: 'gpu:9400', collection_interval: 2s}").unwrap();
        assert_eq!(c.url(), "http://gpu:9400/metrics");
        assert_eq!(c.timeout(), Duration::from_secs(2));
        assert!(c.validate().is_empty());
        let c: DcgmConfig = serde_yaml_ng::from_str("{endpoint: 'ftp://x/metrics'}").unwrap();
        assert_eq!(c.validate()[0].0, "endpoint");
        assert!(serde_yaml_ng::from_str::<DcgmConfig>("{scrape_configs: []}")
            .unwrap_err()
            .to_string()
            .contains("scrape_configs"));
    }
}
