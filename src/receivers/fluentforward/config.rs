use serde::Deserialize;

use crate::net::ServerTls;

/// The Collector's `fluentforward` settings (`endpoint`), plus TLS, the
/// shared-key handshake, the heartbeat switch and the bounds on a message.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FluentForwardConfig {
    /// `host:port` for TCP (and the UDP heartbeat on the same port), or `unix://<path>`.
    pub endpoint: String,
    /// Serve TLS ("secure forward") on the TCP endpoint.
    pub tls: Option<ServerTls>,
    /// Requires the HELO/PING/PONG handshake with this key before any data.
    pub shared_key: Option<String>,
    /// The name this side gives in PONG; the machine's host name by default.
    pub self_hostname: Option<String>,
    /// Answer UDP heartbeats on the TCP port, as Fluentd's `in_forward` does.
    pub heartbeat: bool,
    /// Largest message accepted, in bytes, as it arrives on the wire.
    pub max_message_size: usize,
    /// Largest size a compressed PackedForward blob may expand to.
    pub max_decompressed_size: usize,
    /// Most entries one message may carry.
    pub max_entries_per_message: usize,
    /// Connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for FluentForwardConfig {
    fn default() -> Self {
        Self {
            endpoint: "localhost:24224".into(),
            tls: None,
            shared_key: None,
            self_hostname: None,
            heartbeat: true,
            // Fluent Bit's in_forward Buffer_Max_Size is 6144000; Fluentd's chunks are 8 MiB.
            max_message_size: 16 << 20,
            max_decompressed_size: 64 << 20,
            max_entries_per_message: 500_000,
            max_connections: 1024,
        }
    }
}

/// Where to listen.
#[derive(Debug, Clone, PartialEq)]
pub enum Endpoint {
    Tcp(String),
    Unix(std::path::PathBuf),
}

impl FluentForwardConfig {
    pub fn listen(&self) -> Endpoint {
        match self.endpoint.strip_prefix("unix://") {
            Some(p) => Endpoint::Unix(p.into()),
            None => Endpoint::Tcp(self.endpoint.clone()),
        }
    }

    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errs = Vec::new();
        match self.listen() {
            Endpoint::Unix(p) if p.as_os_str().is_empty() => {
                errs.push(("endpoint".into(), "unix:// needs a socket path".into()));
            }
            Endpoint::Unix(_) if self.tls.is_some() => {
                errs.push(("tls".into(), "TLS is served on TCP endpoints only".into()));
            }
            Endpoint::Unix(_) => {}
            Endpoint::Tcp(ep) => {
                if ep.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).is_none() {
                    errs.push(("endpoint".into(), format!("{ep:?} is neither host:port nor unix://<path>")));
                }
            }
        }
        if let Some(t) = &self.tls {
            errs.extend(t.validate());
        }
        if self.shared_key.as_deref() == Some("") {
            errs.push(("shared_key".into(), "must not be empty; leave it out to disable the handshake".into()));
        }
        for (k, v) in [
            ("max_message_size", self.max_message_size),
            ("max_decompressed_size", self.max_decompressed_size),
            ("max_entries_per_message", self.max_entries_per_message),
            ("max_connections", self.max_connections),
        ] {
            if v == 0 {
                errs.push((k.into(), "must be greater than zero".into()));
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::parse_block;

    fn parse(y: &str) -> Result<FluentForwardConfig, Vec<(String, String)>> {
        parse_block(serde_yaml_ng::from_str(y).unwrap())
    }

    #[test]
    fn defaults_and_endpoints() {
        let c = parse("endpoint: 127.0.0.1:8006").unwrap();
        assert_eq!(c.listen(), Endpoint::Tcp("127.0.0.1:8006".into()));
        assert!(c.heartbeat);
        assert!(c.validate().is_empty());
        let c = parse("endpoint: unix:///tmp/ff.sock").unwrap();
        assert_eq!(c.listen(), Endpoint::Unix("/tmp/ff.sock".into()));
        assert_eq!(FluentForwardConfig::default().endpoint, "localhost:24224");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let e = parse("endpoint: 127.0.0.1:1\nlisten_address: x").unwrap_err();
        assert!(e[0].1.contains("unknown field `listen_address`"), "{e:?}");
        let c = parse("endpoint: nowhere\nmax_message_size: 0\nshared_key: ''").unwrap();
        let keys: Vec<_> = c.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["endpoint", "shared_key", "max_message_size"]);
    }
}
