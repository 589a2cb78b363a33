//! The `redaction` processor's settings: the Collector's keys with their
//! meaning, plus aiotel's detectors, dictionaries and patterns.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::detectors::Builtin;
use crate::hash::HashFunction;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RedactionConfig {
    /// Collector: keep every attribute key. Without it, keys not in
    /// `allowed_keys` are removed.
    pub allow_all_keys: bool,
    pub allowed_keys: Vec<String>,
    /// Keys passed through untouched: never removed, masked or scanned.
    pub ignored_keys: Vec<String>,
    /// Regexes: keys that match are ignored as `ignored_keys` are.
    pub ignored_key_patterns: Vec<String>,
    /// Regexes: the whole value of a matching key is masked.
    pub blocked_key_patterns: Vec<String>,
    /// Regexes: matching parts of values are masked (or hashed).
    pub blocked_values: Vec<String>,
    /// Regexes: a value that matches is left alone, taking precedence over
    /// `blocked_values` and the detectors.
    pub allowed_values: Vec<String>,
    /// Collector: `none`, `md5`, `sha1`, `sha3`, `hmac-sha256`, `hmac-sha512`.
    pub hash_function: String,
    /// Collector: scan non-string values through their string form.
    pub redact_all_types: bool,
    /// `debug`, `info` or `silent`.
    pub summary: String,
    pub url_sanitizer: UrlSanitizerConfig,

    /// Built-in detectors by name; every one is on with `mask` unless listed otherwise.
    pub detectors: BTreeMap<String, DetectorConfig>,
    /// Key for the `hash` action (HMAC-SHA256) and for the `hmac-*` hash functions.
    pub hmac_key: Option<Secret>,
    pub dictionaries: Vec<DictionaryConfig>,
    pub patterns: Vec<PatternConfig>,
    /// Larger values are replaced whole, never passed through.
    pub max_value_bytes: usize,
}

impl Default for RedactionConfig {
    fn default() -> Self {
        Self {
            allow_all_keys: false,
            allowed_keys: Vec::new(),
            ignored_keys: Vec::new(),
            ignored_key_patterns: Vec::new(),
            blocked_key_patterns: Vec::new(),
            blocked_values: Vec::new(),
            allowed_values: Vec::new(),
            hash_function: String::new(),
            redact_all_types: false,
            summary: String::new(),
            url_sanitizer: UrlSanitizerConfig::default(),
            detectors: BTreeMap::new(),
            hmac_key: None,
            dictionaries: Vec::new(),
            patterns: Vec::new(),
            max_value_bytes: 1 << 20,
        }
    }
}

/// A string that `Debug` does not print, so a logged config leaks no key.
#[derive(Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "<redacted>" })
    }
}

/// What happens to a detected value.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Replace the match with a typed placeholder such as `<EMAIL>`.
    #[default]
    Mask,
    /// Replace the match with a keyed token such as `<EMAIL:3f9a1c2b7d4e5f60>`.
    Hash,
    /// Remove the whole attribute.
    Drop,
    /// Replace the whole value with the placeholder.
    RedactValue,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorConfig {
    pub enabled: bool,
    pub action: Action,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self { enabled: true, action: Action::Mask }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DictionaryConfig {
    pub name: String,
    pub words: Vec<String>,
    /// One word per line, relative to the config's directory.
    pub file: Option<String>,
    pub action: Action,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PatternConfig {
    pub name: String,
    pub regex: String,
    pub action: Action,
}

/// The Collector's `url_sanitizer`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct UrlSanitizerConfig {
    pub enabled: bool,
    /// Attribute keys whose values are URLs to sanitize.
    pub attributes: Vec<String>,
    /// Sanitize the names of client and server spans (default true).
    pub sanitize_span_name: Option<bool>,
    /// Sanitize string log bodies (default false).
    pub sanitize_log_body: Option<bool>,
}

/// The Collector's `summary` levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    Debug,
    Info,
    Silent,
}

impl RedactionConfig {
    pub(crate) fn summary_level(&self) -> Summary {
        match self.summary.as_str() {
            "debug" => Summary::Debug,
            "info" => Summary::Info,
            _ => Summary::Silent,
        }
    }

    pub(crate) fn hash_fn(&self) -> HashFunction {
        HashFunction::parse(&self.hash_function).unwrap_or_default()
    }

    pub(crate) fn key(&self) -> Option<&str> {
        self.hmac_key.as_ref().map(|k| k.0.as_str()).filter(|k| !k.is_empty())
    }

    /// The setting of a built-in detector, with defaults for unlisted ones.
    pub(crate) fn detector(&self, b: Builtin) -> DetectorConfig {
        self.detectors.get(b.name()).cloned().unwrap_or_default()
    }

    /// Every problem, each prefixed with its key path.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        let no_key = self.key().is_none();
        let hash_needs_key = |path: String, action: Action| {
            if action == Action::Hash && no_key {
                Some(format!("{path}: action hash needs hmac_key"))
            } else {
                None
            }
        };
        for (name, d) in &self.detectors {
            if Builtin::from_name(name).is_none() {
                let known: Vec<&str> = Builtin::ALL.iter().map(|b| b.name()).collect();
                errs.push(format!("detectors::{name}: unknown detector (known: {})", known.join(", ")));
            } else if d.enabled {
                errs.extend(hash_needs_key(format!("detectors::{name}::action"), d.action));
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, d) in self.dictionaries.iter().enumerate() {
            let p = format!("dictionaries::{i}");
            errs.extend(check_name(&p, &d.name, &mut names));
            if d.words.iter().all(|w| w.trim().is_empty()) && d.file.is_none() {
                errs.push(format!("{p}: needs words or a file"));
            }
            if d.file.as_deref() == Some("") {
                errs.push(format!("{p}::file: is empty"));
            }
            errs.extend(hash_needs_key(format!("{p}::action"), d.action));
        }
        for (i, pat) in self.patterns.iter().enumerate() {
            let p = format!("patterns::{i}");
            errs.extend(check_name(&p, &pat.name, &mut names));
            if pat.regex.is_empty() {
                errs.push(format!("{p}::regex: is empty"));
            } else if let Err(e) = regex::Regex::new(&pat.regex) {
                errs.push(format!("{p}::regex: {}", one_line(&e.to_string())));
            } else if regex::Regex::new(&pat.regex).is_ok_and(|r| r.is_match("")) {
                errs.push(format!("{p}::regex: matches the empty string"));
            }
            errs.extend(hash_needs_key(format!("{p}::action"), pat.action));
        }
        for (field, list) in [
            ("ignored_key_patterns", &self.ignored_key_patterns),
            ("blocked_key_patterns", &self.blocked_key_patterns),
            ("blocked_values", &self.blocked_values),
            ("allowed_values", &self.allowed_values),
        ] {
            for (i, r) in list.iter().enumerate() {
                if let Err(e) = regex::Regex::new(r) {
                    errs.push(format!("{field}::{i}: {}", one_line(&e.to_string())));
                }
            }
        }
        match HashFunction::parse(&self.hash_function) {
            None => errs.push(format!(
                "hash_function: unknown hash function {:?} (expected one of {})",
                self.hash_function,
                HashFunction::NAMES
            )),
            Some(f) if f.needs_key() && no_key => {
                errs.push(format!("hash_function: {} needs hmac_key", self.hash_function))
            }
            _ => {}
        }
        if !matches!(self.summary.as_str(), "" | "debug" | "info" | "silent") {
            errs.push(format!("summary: unknown level {:?} (expected debug, info or silent)", self.summary));
        }
        if self.max_value_bytes == 0 {
            errs.push("max_value_bytes: must be greater than 0".into());
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }
}

/// Names become placeholders (`<NAME>`), so they stay plain.
fn check_name(path: &str, name: &str, seen: &mut std::collections::HashSet<String>) -> Option<String> {
    if name.is_empty() {
        return Some(format!("{path}::name: is empty"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') {
        return Some(format!("{path}::name: {name:?} may hold only letters, digits, '_', '-' and '.'"));
    }
    if !seen.insert(name.to_ascii_uppercase()) {
        return Some(format!("{path}::name: {name:?} is used twice"));
    }
    None
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
