//! Where the backends come from: a fixed list, or a DNS name re-resolved on an interval.

use std::time::Duration;

use super::config::{DnsResolver, ResolverConfig};

#[derive(Debug, Clone)]
pub enum Resolver {
    Static(Vec<String>),
    Dns(DnsResolver),
}

impl Resolver {
    pub fn new(cfg: &ResolverConfig) -> Resolver {
        match (&cfg.static_, &cfg.dns) {
            (Some(s), _) => Resolver::Static(s.hostnames.iter().map(|h| with_port(h)).collect()),
            (None, Some(d)) => Resolver::Dns(d.clone()),
            (None, None) => Resolver::Static(Vec::new()),
        }
    }

    /// How often to resolve again; `None` for a fixed list.
    pub fn interval(&self) -> Option<Duration> {
        match self {
            Resolver::Static(_) => None,
            Resolver::Dns(d) => Some(d.interval),
        }
    }

    /// The current backends, `host:port`, sorted. A failed lookup is an
    /// error: the caller keeps the last good list rather than dropping all backends.
    pub async fn resolve(&self) -> Result<Vec<String>, String> {
        match self {
            Resolver::Static(list) => Ok(list.clone()),
            Resolver::Dns(d) => {
                let lookup = tokio::net::lookup_host((d.hostname.as_str(), d.port));
                let addrs = tokio::time::timeout(d.timeout, lookup)
                    .await
                    .map_err(|_| format!("resolving {} timed out after {:?}", d.hostname, d.timeout))?
                    .map_err(|e| format!("resolving {}: {e}", d.hostname))?;
                let mut out: Vec<String> = addrs.map(|a| a.to_string()).collect();
                out.sort();
                out.dedup();
                Ok(out)
            }
        }
    }
}

/// The Collector adds the default OTLP port to a bare hostname.
fn with_port(h: &str) -> String {
    let has_port = h.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) && !h.ends_with(']');
    if has_port {
        h.to_string()
    } else {
        format!("{h}:4317")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_adds_default_port_and_dns_resolves_localhost() {
        let cfg: ResolverConfig = serde_yaml_ng::from_str("static: {hostnames: [a, 'b:55690']}").unwrap();
        assert_eq!(Resolver::new(&cfg).resolve().await.unwrap(), vec!["a:4317", "b:55690"]);
        let cfg: ResolverConfig = serde_yaml_ng::from_str("dns: {hostname: localhost, port: 1234}").unwrap();
        let r = Resolver::new(&cfg);
        assert_eq!(r.interval(), Some(Duration::from_secs(5)));
        let got = r.resolve().await.unwrap();
        assert!(got.contains(&"127.0.0.1:1234".to_string()), "{got:?}");
        let cfg: ResolverConfig = serde_yaml_ng::from_str("dns: {hostname: no-such-host.invalid}").unwrap();
        assert!(Resolver::new(&cfg).resolve().await.unwrap_err().contains("no-such-host.invalid"));
    }
}
