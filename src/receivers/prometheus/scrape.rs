//! One HTTP scrape: content negotiation, auth, TLS, gzip, a size limit,
//! and parsing of the body.

use std::io::Read;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};

use super::config::{accept_header, ScrapeConfig, ScrapeProtocol};
use super::parser::{self, Family, Format, ParseError};

/// A body larger than this fails the scrape instead of growing memory without bound.
pub const MAX_BODY_BYTES: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("server returned HTTP {0}")]
    Status(reqwest::StatusCode),
    #[error("response body exceeds {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("cannot decompress the response: {0}")]
    Decompress(std::io::Error),
    #[error("response is not UTF-8")]
    NotUtf8,
    #[error("cannot parse the response: {0}")]
    Parse(#[from] ParseError),
    #[error("sample limit exceeded: {got} samples, limit {limit}")]
    SampleLimit { got: usize, limit: usize },
}

/// What the scraper needs from a scrape config, so presets (dcgm) can build one too.
#[derive(Debug, Clone)]
pub struct ScrapeSettings {
    pub timeout: Duration,
    pub protocols: Vec<ScrapeProtocol>,
    pub compression: bool,
    pub follow_redirects: bool,
    pub basic_auth: Option<(String, Option<String>)>,
    /// `type credentials`, read at start.
    pub authorization: Option<String>,
    pub ca_pem: Option<Vec<u8>>,
    pub identity_pem: Option<Vec<u8>>,
    pub insecure_skip_verify: bool,
    pub min_tls13: bool,
}

fn read(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

impl ScrapeSettings {
    pub fn from_config(sc: &ScrapeConfig) -> Result<ScrapeSettings, String> {
        let basic_auth = match &sc.basic_auth {
            Some(b) => {
                let pw = match (&b.password, &b.password_file) {
                    (_, Some(f)) => Some(read(f)?.trim_end().to_string()),
                    (p, None) => p.clone(),
                };
                Some((b.username.clone(), pw))
            }
            None => None,
        };
        let authorization = match &sc.authorization {
            Some(a) => {
                let cred = match (&a.credentials, &a.credentials_file) {
                    (_, Some(f)) => read(f)?.trim_end().to_string(),
                    (Some(c), None) => c.clone(),
                    (None, None) => String::new(),
                };
                Some(format!("{} {cred}", a.kind))
            }
            None => None,
        };
        let tls = sc.tls_config.clone().unwrap_or_default();
        let ca_pem = tls.ca_file.as_deref().map(read).transpose()?.map(String::into_bytes);
        let identity_pem = match (&tls.cert_file, &tls.key_file) {
            (Some(c), Some(k)) => Some(format!("{}\n{}", read(c)?, read(k)?).into_bytes()),
            _ => None,
        };
        Ok(ScrapeSettings {
            timeout: sc.scrape_timeout.unwrap_or(Duration::from_secs(10)),
            protocols: sc.protocols().to_vec(),
            compression: sc.enable_compression,
            follow_redirects: sc.follow_redirects,
            basic_auth,
            authorization,
            ca_pem,
            identity_pem,
            insecure_skip_verify: tls.insecure_skip_verify,
            min_tls13: tls.min_version.as_deref() == Some("TLS13"),
        })
    }

    /// Plain HTTP with Prometheus' defaults, for presets.
    pub fn plain(timeout: Duration) -> ScrapeSettings {
        ScrapeSettings {
            timeout,
            protocols: ScrapeProtocol::DEFAULT.to_vec(),
            compression: true,
            follow_redirects: true,
            basic_auth: None,
            authorization: None,
            ca_pem: None,
            identity_pem: None,
            insecure_skip_verify: false,
            min_tls13: false,
        }
    }
}

pub struct Scraper {
    client: reqwest::Client,
    settings: ScrapeSettings,
}

pub struct Scraped {
    pub families: Vec<Family>,
    pub format: Format,
}

impl Scraper {
    pub fn new(settings: ScrapeSettings) -> Result<Scraper, String> {
        let mut headers = HeaderMap::new();
        let accept = accept_header(&settings.protocols);
        headers.insert(ACCEPT, HeaderValue::from_str(&accept).map_err(|e| e.to_string())?);
        headers.insert(
            "X-Prometheus-Scrape-Timeout-Seconds",
            HeaderValue::from_str(&format!("{}", settings.timeout.as_secs_f64())).map_err(|e| e.to_string())?,
        );
        headers
            .insert(ACCEPT_ENCODING, HeaderValue::from_static(if settings.compression { "gzip" } else { "identity" }));
        if let Some(a) = &settings.authorization {
            let mut v =
                HeaderValue::from_str(a).map_err(|_| "authorization credentials are not a valid header value")?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(settings.timeout)
            .default_headers(headers)
            .user_agent(concat!("aiotel/", env!("CARGO_PKG_VERSION")))
            .redirect(if settings.follow_redirects {
                reqwest::redirect::Policy::limited(10)
            } else {
                reqwest::redirect::Policy::none()
            })
            .danger_accept_invalid_certs(settings.insecure_skip_verify);
        if let Some(ca) = &settings.ca_pem {
            b = b.add_root_certificate(
                reqwest::Certificate::from_pem(ca).map_err(|e| format!("tls_config::ca_file: {e}"))?,
            );
        }
        if let Some(id) = &settings.identity_pem {
            b = b
                .identity(reqwest::Identity::from_pem(id).map_err(|e| format!("tls_config::cert_file/key_file: {e}"))?);
        }
        if settings.min_tls13 {
            b = b.min_tls_version(reqwest::tls::Version::TLS_1_3);
        }
        let client = b.build().map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Scraper { client, settings })
    }

    pub async fn scrape(&self, url: &str) -> Result<Scraped, ScrapeError> {
        let mut req = self.client.get(url);
        if let Some((user, pw)) = &self.settings.basic_auth {
            req = req.basic_auth(user, pw.as_ref());
        }
        let mut resp = req.send().await?;
        if !resp.status().is_success() {
            return Err(ScrapeError::Status(resp.status()));
        }
        let ctype = resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let gzip = resp
            .headers()
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ScrapeError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        if gzip {
            let mut out = Vec::with_capacity(body.len() * 4);
            flate2::read::MultiGzDecoder::new(&body[..])
                .take(MAX_BODY_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .map_err(ScrapeError::Decompress)?;
            if out.len() > MAX_BODY_BYTES {
                return Err(ScrapeError::TooLarge);
            }
            body = out;
        }
        let text = std::str::from_utf8(&body).map_err(|_| ScrapeError::NotUtf8)?;
        let format = Format::from_content_type(&ctype);
        let families = parser::parse(text, format)?;
        Ok(Scraped { families, format })
    }
}
