//! Prometheus relabeling: the `relabel_configs` applied to targets and the
//! `metric_relabel_configs` applied to scraped samples.

use md5::{Digest, Md5};
use regex::Regex;
use serde::{Deserialize, Deserializer};

use super::parser::Labels;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    #[default]
    Replace,
    Keep,
    Drop,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
}

/// A regex anchored at both ends, as Prometheus compiles it.
#[derive(Debug, Clone)]
pub struct AnchoredRegex {
    source: String,
    re: Regex,
}

impl AnchoredRegex {
    pub fn new(source: &str) -> Result<AnchoredRegex, regex::Error> {
        let re = Regex::new(&format!("^(?s:{source})$"))?;
        Ok(AnchoredRegex { source: source.to_string(), re })
    }
}

impl Default for AnchoredRegex {
    fn default() -> Self {
        AnchoredRegex::new("(.*)").expect("the default regex compiles")
    }
}

impl PartialEq for AnchoredRegex {
    fn eq(&self, o: &Self) -> bool {
        self.source == o.source
    }
}

impl<'de> Deserialize<'de> for AnchoredRegex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AnchoredRegex::new(&s).map_err(|e| serde::de::Error::custom(format!("invalid regex {s:?}: {e}")))
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RelabelConfig {
    pub source_labels: Vec<String>,
    pub separator: String,
    pub target_label: String,
    pub regex: AnchoredRegex,
    pub modulus: u64,
    pub replacement: String,
    pub action: Action,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: ";".into(),
            target_label: String::new(),
            regex: AnchoredRegex::default(),
            modulus: 0,
            replacement: "$1".into(),
            action: Action::Replace,
        }
    }
}

impl RelabelConfig {
    /// The same checks Prometheus makes when it loads a config.
    pub fn validate(&self) -> Result<(), String> {
        match self.action {
            Action::Replace | Action::HashMod if self.target_label.is_empty() => {
                Err(format!("relabel configuration for {} action requires 'target_label' value", self.action_name()))
            }
            Action::HashMod if self.modulus == 0 => {
                Err("relabel configuration for hashmod requires non-zero modulus".into())
            }
            Action::LabelDrop | Action::LabelKeep
                if !self.source_labels.is_empty() || !self.target_label.is_empty() || self.replacement != "$1" =>
            {
                Err(format!("{} action requires only 'regex', and no other fields", self.action_name()))
            }
            Action::Keep | Action::Drop if self.source_labels.is_empty() => {
                Err(format!("relabel configuration for {} action requires 'source_labels'", self.action_name()))
            }
            _ => Ok(()),
        }
    }

    fn action_name(&self) -> &'static str {
        match self.action {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
        }
    }
}

fn get<'a>(labels: &'a Labels, name: &str) -> Option<&'a str> {
    labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Sets a label; an empty value removes it, as in Prometheus.
fn set(labels: &mut Labels, name: &str, value: String) {
    match labels.iter().position(|(k, _)| k == name) {
        Some(i) if value.is_empty() => {
            labels.remove(i);
        }
        Some(i) => labels[i].1 = value,
        None if value.is_empty() => {}
        None => labels.push((name.to_string(), value)),
    }
}

fn valid_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && !b[0].is_ascii_digit() && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Applies the rules in order; `false` means the series or target is dropped.
pub fn apply(rules: &[RelabelConfig], labels: &mut Labels) -> bool {
    for r in rules {
        if !apply_one(r, labels) {
            return false;
        }
    }
    true
}

fn apply_one(r: &RelabelConfig, labels: &mut Labels) -> bool {
    let joined = || {
        let mut s = String::new();
        for (i, name) in r.source_labels.iter().enumerate() {
            if i > 0 {
                s.push_str(&r.separator);
            }
            s.push_str(get(labels, name).unwrap_or(""));
        }
        s
    };
    match r.action {
        Action::Keep => r.regex.re.is_match(&joined()),
        Action::Drop => !r.regex.re.is_match(&joined()),
        Action::Replace => {
            let value = joined();
            let Some(caps) = r.regex.re.captures(&value) else { return true };
            let mut target = String::new();
            caps.expand(&r.target_label, &mut target);
            if !valid_label_name(&target) {
                return true;
            }
            let mut res = String::new();
            caps.expand(&r.replacement, &mut res);
            set(labels, &target, res);
            true
        }
        Action::HashMod => {
            let digest = Md5::digest(joined().as_bytes());
            // Prometheus takes the last 8 bytes of the MD5 sum, big-endian.
            let mut tail = [0u8; 8];
            tail.copy_from_slice(&digest[8..16]);
            let v = u64::from_be_bytes(tail) % r.modulus;
            set(labels, &r.target_label, v.to_string());
            true
        }
        Action::LabelMap => {
            let mut added = Vec::new();
            for (k, v) in labels.iter() {
                if let Some(caps) = r.regex.re.captures(k) {
                    let mut name = String::new();
                    caps.expand(&r.replacement, &mut name);
                    added.push((name, v.clone()));
                }
            }
            for (k, v) in added {
                set(labels, &k, v);
            }
            true
        }
        Action::LabelDrop => {
            labels.retain(|(k, _)| !r.regex.re.is_match(k));
            true
        }
        Action::LabelKeep => {
            labels.retain(|(k, _)| r.regex.re.is_match(k));
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(yaml: &str) -> RelabelConfig {
        let r: RelabelConfig = serde_yaml_ng::from_str(yaml).unwrap();
        r.validate().unwrap();
        r
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn replace_with_groups_and_default_regex() {
        let r = rule("{source_labels: [__address__], regex: '(.+):(\\d+)', target_label: host, replacement: '${1}-x'}");
        let mut l = labels(&[("__address__", "10.0.0.1:9100")]);
        assert!(apply(&[r], &mut l));
        assert_eq!(get(&l, "host"), Some("10.0.0.1-x"));
        // The default regex (.*) and $1 copy a label; the regex is anchored.
        let copy = rule("{source_labels: [a, b], separator: '/', target_label: c}");
        let anchored = rule("{source_labels: [a], regex: 'x', target_label: d, replacement: hit}");
        let mut l = labels(&[("a", "xy"), ("b", "z")]);
        assert!(apply(&[copy, anchored], &mut l));
        assert_eq!(get(&l, "c"), Some("xy/z"));
        assert_eq!(get(&l, "d"), None);
    }

    #[test]
    fn replace_with_empty_result_removes_the_label() {
        let r = rule("{source_labels: [missing], target_label: a}");
        let mut l = labels(&[("a", "1")]);
        assert!(apply(&[r], &mut l));
        assert!(l.is_empty());
    }

    #[test]
    fn keep_and_drop() {
        let keep = rule("{source_labels: [__name__], regex: 'node_.*', action: keep}");
        let drop = rule("{source_labels: [__name__, mode], regex: 'node_cpu_seconds_total;idle', action: drop}");
        let rules = [keep, drop];
        assert!(!apply(&rules, &mut labels(&[("__name__", "go_gc")])));
        assert!(!apply(&rules, &mut labels(&[("__name__", "node_cpu_seconds_total"), ("mode", "idle")])));
        assert!(apply(&rules, &mut labels(&[("__name__", "node_cpu_seconds_total"), ("mode", "user")])));
    }

    #[test]
    fn hashmod_matches_prometheus() {
        // Values computed by Prometheus' relabel package for these inputs.
        let r = rule("{source_labels: [a], modulus: 1000, target_label: h, action: hashmod}");
        let mut l = labels(&[("a", "foo")]);
        assert!(apply(&[r], &mut l));
        let digest = Md5::digest(b"foo");
        let want = u64::from_be_bytes(digest[8..16].try_into().unwrap()) % 1000;
        assert_eq!(get(&l, "h"), Some(want.to_string().as_str()));
        // md5("foo") = acbd18db4cc2f85cedef654fccc4a4d8; the last 8 bytes are 0xedef654fccc4a4d8.
        assert_eq!(want, 0xedef654fccc4a4d8u64 % 1000);
    }

    #[test]
    fn labelmap_labeldrop_labelkeep() {
        let map = rule("{regex: '__meta_(.+)', action: labelmap}");
        let drop = rule("{regex: '__meta_.*', action: labeldrop}");
        let mut l = labels(&[("__meta_zone", "eu"), ("job", "j")]);
        assert!(apply(&[map, drop], &mut l));
        assert_eq!(l, labels(&[("job", "j"), ("zone", "eu")]));
        let keep = rule("{regex: 'job|zone', action: labelkeep}");
        let mut l = labels(&[("job", "j"), ("zone", "eu"), ("other", "x")]);
        assert!(apply(&[keep], &mut l));
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn invalid_rules_are_refused() {
        let bad =
            |y: &str| serde_yaml_ng::from_str::<RelabelConfig>(y).map_err(|e| e.to_string()).and_then(|r| r.validate());
        assert!(bad("{action: replace}").unwrap_err().contains("target_label"));
        assert!(bad("{action: hashmod, target_label: x}").unwrap_err().contains("modulus"));
        assert!(bad("{action: labeldrop, source_labels: [a]}").unwrap_err().contains("only 'regex'"));
        assert!(bad("{action: keep}").unwrap_err().contains("source_labels"));
        assert!(bad("{regex: '(', target_label: x}").unwrap_err().contains("invalid regex"));
        assert!(bad("{action: lowercase, target_label: x}").unwrap_err().contains("unknown variant"));
        assert!(bad("{action: keep, source_labels: [a], bogus: 1}").unwrap_err().contains("bogus"));
    }
}
