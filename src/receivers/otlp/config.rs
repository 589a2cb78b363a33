use serde::{Deserialize, Deserializer};

use crate::net::ServerTls;

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpReceiverConfig {
    pub protocols: Protocols,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Protocols {
    /// `grpc:` with no settings enables it with defaults, as in the Collector.
    #[serde(deserialize_with = "present")]
    pub grpc: Option<GrpcSettings>,
    #[serde(deserialize_with = "present")]
    pub http: Option<HttpSettings>,
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcSettings {
    pub endpoint: String,
    pub max_recv_msg_size_mib: usize,
    pub max_concurrent_streams: Option<u32>,
    pub tls: Option<ServerTls>,
    /// Accepted for Collector configs.
    pub include_metadata: bool,
    pub read_buffer_size: Option<usize>,
    pub write_buffer_size: Option<usize>,
    pub transport: Transport,
}

impl Default for GrpcSettings {
    fn default() -> Self {
        Self {
            endpoint: "localhost:4317".into(),
            max_recv_msg_size_mib: 4,
            max_concurrent_streams: None,
            tls: None,
            include_metadata: false,
            read_buffer_size: None,
            write_buffer_size: None,
            transport: Transport::Tcp,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    #[default]
    Tcp,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    pub endpoint: String,
    /// Limit on the request body, compressed and decompressed alike.
    pub max_request_body_size: usize,
    pub tls: Option<ServerTls>,
    pub include_metadata: bool,
    pub traces_url_path: String,
    pub metrics_url_path: String,
    pub logs_url_path: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            endpoint: "localhost:4318".into(),
            max_request_body_size: 20 << 20,
            tls: None,
            include_metadata: false,
            traces_url_path: "/v1/traces".into(),
            metrics_url_path: "/v1/metrics".into(),
            logs_url_path: "/v1/logs".into(),
        }
    }
}

impl OtlpReceiverConfig {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errs = Vec::new();
        if self.protocols.grpc.is_none() && self.protocols.http.is_none() {
            errs.push(("protocols".into(), "must specify at least one protocol (grpc or http)".into()));
        }
        if let Some(g) = &self.protocols.grpc {
            if g.endpoint.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).is_none() {
                errs.push(("protocols::grpc::endpoint".into(), format!("{:?} is not host:port", g.endpoint)));
            }
            if g.max_recv_msg_size_mib == 0 {
                errs.push(("protocols::grpc::max_recv_msg_size_mib".into(), "must be greater than zero".into()));
            }
            if let Some(t) = &g.tls {
                errs.extend(t.validate().into_iter().map(|(p, m)| (format!("protocols::grpc::{p}"), m)));
            }
        }
        if let Some(h) = &self.protocols.http {
            if h.endpoint.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).is_none() {
                errs.push(("protocols::http::endpoint".into(), format!("{:?} is not host:port", h.endpoint)));
            }
            for (k, p) in [
                ("traces_url_path", &h.traces_url_path),
                ("metrics_url_path", &h.metrics_url_path),
                ("logs_url_path", &h.logs_url_path),
            ] {
                if !p.starts_with('/') {
                    errs.push((format!("protocols::http::{k}"), "must start with '/'".into()));
                }
            }
            if let Some(t) = &h.tls {
                errs.extend(t.validate().into_iter().map(|(p, m)| (format!("protocols::http::{p}"), m)));
            }
        }
        errs
    }
}
