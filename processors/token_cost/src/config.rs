//! The `token_cost` processor's settings.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// How often the price file is polled when `reload_interval` is not given.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TokenCostConfig {
    /// A price file (see `prices/default.yaml` for the format), relative to
    /// the config file's directory. Its entries override the embedded ones.
    pub prices: Option<PathBuf>,
    /// Start from the embedded table; `false` uses only `prices`.
    pub include_default_prices: bool,
    /// Attribute naming the tenant, read from the item or its resource.
    pub tenant_attribute: String,
    /// Copy `service.name`, the deployment environment and the tenant from
    /// the resource onto each priced item, for backends that index item
    /// attributes only. Off by default: every OTLP consumer (the span-metrics
    /// connector among them) already reads them from the resource, and a
    /// copy on every span costs encoding and bandwidth downstream.
    pub copy_resource_attributes: bool,
    /// Also write OpenInference's `llm.cost.total`, `llm.cost.prompt` and
    /// `llm.cost.completion`.
    pub openinference_compat: bool,
    /// How often to poll `prices` for changes. Unset: every 2s when `prices`
    /// is set. `0s`: never; only an explicit reload (SIGHUP) re-reads it.
    #[serde(with = "humantime_serde")]
    pub reload_interval: Option<Duration>,
}

impl Default for TokenCostConfig {
    fn default() -> Self {
        Self {
            prices: None,
            include_default_prices: true,
            tenant_attribute: "tenant.id".into(),
            copy_resource_attributes: false,
            openinference_compat: false,
            reload_interval: None,
        }
    }
}

impl TokenCostConfig {
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        if self.tenant_attribute.trim().is_empty() {
            errs.push("tenant_attribute must not be empty".to_string());
        }
        if self.prices.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            errs.push("prices must name a file".to_string());
        }
        if self.prices.is_none() {
            if !self.include_default_prices {
                errs.push("include_default_prices: false needs a price file in `prices`".to_string());
            }
            if self.reload_interval.is_some_and(|d| !d.is_zero()) {
                errs.push("reload_interval needs a price file in `prices` to watch".to_string());
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }

    /// The poll interval in force, or `None` for no poller.
    pub fn effective_reload_interval(&self) -> Option<Duration> {
        self.prices.as_ref()?;
        match self.reload_interval {
            None => Some(DEFAULT_RELOAD_INTERVAL),
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> Result<TokenCostConfig, String> {
        serde_yaml_ng::from_str(y).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_full_form() {
        let d = parse("{}").unwrap();
        assert_eq!(d, TokenCostConfig::default());
        assert!(d.include_default_prices);
        assert_eq!(d.tenant_attribute, "tenant.id");
        assert_eq!(d.effective_reload_interval(), None);

        let c = parse(
            "prices: prices.yaml\ninclude_default_prices: false\ntenant_attribute: org.id\nopeninference_compat: true\n",
        )
        .unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(c.effective_reload_interval(), Some(DEFAULT_RELOAD_INTERVAL));
        let c = parse("prices: p.yaml\nreload_interval: 0s\n").unwrap();
        assert_eq!(c.effective_reload_interval(), None);
        let c = parse("prices: p.yaml\nreload_interval: 500ms\n").unwrap();
        assert_eq!(c.effective_reload_interval(), Some(Duration::from_millis(500)));
    }

    #[test]
    fn rejects_unknown_keys_and_bad_combinations() {
        assert!(parse("price: x.yaml").unwrap_err().contains("unknown field"));
        let c = parse("include_default_prices: false").unwrap();
        assert!(c.validate().unwrap_err()[0].contains("needs a price file"));
        let c = parse("tenant_attribute: ''\nreload_interval: 1s").unwrap();
        assert_eq!(c.validate().unwrap_err().len(), 2);
    }
}
