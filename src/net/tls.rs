use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

/// The Collector's server `tls` settings.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerTls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Require client certificates signed by this CA (mutual TLS).
    pub client_ca_file: Option<PathBuf>,
}

impl ServerTls {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (k, p) in [
            ("cert_file", Some(&self.cert_file)),
            ("key_file", Some(&self.key_file)),
            ("client_ca_file", self.client_ca_file.as_ref()),
        ] {
            match p {
                Some(p) if p.as_os_str().is_empty() => out.push((format!("tls::{k}"), "missing".into())),
                Some(p) if !p.exists() => {
                    out.push((format!("tls::{k}"), format!("file {} does not exist", p.display())))
                }
                _ => {}
            }
        }
        out
    }

    pub fn pem(&self) -> Result<(Vec<u8>, Vec<u8>), String> {
        let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
        Ok((read(&self.cert_file)?, read(&self.key_file)?))
    }

    pub fn rustls(&self) -> Result<tokio_rustls::TlsAcceptor, String> {
        let mut cfg = self.server_config()?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
    }

    /// The certificate, key and client verification, with no ALPN protocols.
    pub fn server_config(&self) -> Result<tokio_rustls::rustls::ServerConfig, String> {
        let (cert, key) = self.pem()?;
        let certs: Vec<_> = rustls_pemfile::certs(&mut &cert[..])
            .collect::<Result<_, _>>()
            .map_err(|e| format!("bad cert_file: {e}"))?;
        let key = rustls_pemfile::private_key(&mut &key[..])
            .map_err(|e| format!("bad key_file: {e}"))?
            .ok_or("key_file holds no private key")?;
        let builder = tokio_rustls::rustls::ServerConfig::builder();
        let builder = match &self.client_ca_file {
            Some(ca) => {
                let pem = std::fs::read(ca).map_err(|e| format!("cannot read {}: {e}", ca.display()))?;
                let mut roots = tokio_rustls::rustls::RootCertStore::empty();
                for c in rustls_pemfile::certs(&mut &pem[..]) {
                    roots.add(c.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
                }
                let v = tokio_rustls::rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
                    .build()
                    .map_err(|e| e.to_string())?;
                builder.with_client_cert_verifier(v)
            }
            None => builder.with_no_client_auth(),
        };
        builder.with_single_cert(certs, key).map_err(|e| format!("bad certificate or key: {e}"))
    }
}
