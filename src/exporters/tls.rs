use std::path::PathBuf;

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
