use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// The Collector's client `tls` settings.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClientTls {
    /// Plaintext (for gRPC endpoints without a scheme).
    pub insecure: bool,
    pub insecure_skip_verify: bool,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub server_name_override: Option<String>,
}

impl ClientTls {
    /// An HTTP client with these TLS settings, a request timeout and headers
    /// sent on every request.
    pub fn http_client(
        &self,
        timeout: Duration,
        headers: &BTreeMap<String, String>,
    ) -> Result<reqwest::Client, String> {
        let mut b = reqwest::Client::builder().timeout(timeout).use_rustls_tls();
        if let Some(ca) = ClientTls::read(&self.ca_file)? {
            b = b.add_root_certificate(reqwest::Certificate::from_pem(&ca).map_err(|e| e.to_string())?);
        }
        if let (Some(mut c), Some(k)) = (ClientTls::read(&self.cert_file)?, ClientTls::read(&self.key_file)?) {
            c.extend_from_slice(&k);
            b = b.identity(reqwest::Identity::from_pem(&c).map_err(|e| e.to_string())?);
        }
        if self.insecure_skip_verify {
            b = b.danger_accept_invalid_certs(true);
        }
        let mut map = reqwest::header::HeaderMap::new();
        for (k, v) in headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|e| format!("header {k}: {e}"))?;
            map.insert(name, v.parse().map_err(|_| format!("header {k} has an invalid value"))?);
        }
        b.default_headers(map).build().map_err(|e| e.to_string())
    }

    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.cert_file.is_some() != self.key_file.is_some() {
            out.push(("tls".into(), "cert_file and key_file must be set together".into()));
        }
        for (k, p) in [("ca_file", &self.ca_file), ("cert_file", &self.cert_file), ("key_file", &self.key_file)] {
            if let Some(p) = p {
                if !p.exists() {
                    out.push((format!("tls::{k}"), format!("file {} does not exist", p.display())));
                }
            }
        }
        out
    }

    pub fn read(p: &Option<PathBuf>) -> Result<Option<Vec<u8>>, String> {
        p.as_ref().map(|p| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))).transpose()
    }
}
