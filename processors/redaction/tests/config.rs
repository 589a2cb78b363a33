//! The config shape: defaults, the documented example, and validation
//! errors prefixed with their key paths.

mod common;

use aiotel_redaction::{Action, RedactionConfig, RedactionProcessor};
use common::*;

fn parse(yaml: &str) -> RedactionConfig {
    serde_yaml_ng::from_str(yaml).unwrap()
}

#[test]
fn the_documented_example_parses() {
    // The daemon expands ${env:...} before the processor sees the config.
    let cfg = parse(
        r#"
allow_all_keys: true
detectors:
  email: {action: hash}
  ip_address: {enabled: false}
hmac_key: 0123456789abcdef0123456789abcdef
dictionaries:
  - {name: customers, words: [Acme Corp, Globex], file: customers.txt}
patterns:
  - {name: ticket, regex: 'TICKET-[0-9]{6}', action: mask}
max_value_bytes: 1048576
"#,
    );
    assert_eq!(cfg.detectors["email"].action, Action::Hash);
    assert!(!cfg.detectors["ip_address"].enabled);
    assert!(!format!("{cfg:?}").contains("0123456789abcdef"), "Debug must not print the key");
    cfg.validate().unwrap();
    let p = RedactionProcessor::new(&cfg, &fixtures()).unwrap();
    assert!(p.redact_str("a@b.io").starts_with("<EMAIL:"));
    assert_eq!(p.redact_str("10.0.0.1 TICKET-000001 Initech"), "10.0.0.1 <TICKET> <CUSTOMERS>");
}

#[test]
fn allow_all_keys_alone_masks_every_builtin() {
    let cfg = parse("allow_all_keys: true");
    assert_eq!(cfg.max_value_bytes, 1 << 20);
    let p = RedactionProcessor::new(&cfg, &fixtures()).unwrap();
    let text = "mail a@b.io, call +1 415 555 2671, card 4111111111111111, ssn 078-05-1120, \
                iban DE89370400440532013000, ip 10.0.0.1, aws AKIAIOSFODNN7EXAMPLE";
    assert_eq!(
        p.redact_str(text),
        "mail <EMAIL>, call <PHONE>, card <CREDIT_CARD>, ssn <US_SSN>, iban <IBAN>, ip <IP_ADDRESS>, aws <AWS_ACCESS_KEY>"
    );
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let cfg = parse(
        r#"
detectors:
  emali: {}
  email: {action: hash}
dictionaries:
  - {name: "", words: []}
patterns:
  - {name: ticket, regex: '('}
  - {name: ticket, regex: 'x*'}
blocked_values: ['[']
hash_function: sha256
summary: verbose
max_value_bytes: 0
"#,
    );
    let errs = cfg.validate().unwrap_err();
    let has = |prefix: &str| errs.iter().any(|e| e.starts_with(prefix));
    for p in [
        "detectors::emali: unknown detector",
        "detectors::email::action: action hash needs hmac_key",
        "dictionaries::0::name: is empty",
        "dictionaries::0: needs words or a file",
        "patterns::0::regex:",
        "patterns::1::name: \"ticket\" is used twice",
        "patterns::1::regex: matches the empty string",
        "blocked_values::0:",
        "hash_function: unknown hash function",
        "summary: unknown level",
        "max_value_bytes: must be greater than 0",
    ] {
        assert!(has(p), "missing {p:?} in {errs:#?}");
    }
    assert!(RedactionProcessor::new(&cfg, &fixtures()).is_err());
}

#[test]
fn unknown_fields_are_rejected() {
    for yaml in ["allow_all_key: true", "detectors: {email: {enable: false}}", "patterns: [{name: a, regexp: b}]"] {
        assert!(serde_yaml_ng::from_str::<RedactionConfig>(yaml).is_err(), "{yaml}");
    }
}

#[test]
fn hmac_hash_functions_need_a_key() {
    let errs = parse("hash_function: hmac-sha256").validate().unwrap_err();
    assert_eq!(errs, ["hash_function: hmac-sha256 needs hmac_key"]);
    parse("{hash_function: hmac-sha256, hmac_key: k}").validate().unwrap();
}

#[test]
fn missing_dictionary_file_is_an_error() {
    let cfg = parse("dictionaries: [{name: d, file: nope.txt}]");
    let err = RedactionProcessor::new(&cfg, &fixtures()).err().unwrap();
    assert!(err.starts_with("dictionaries::0::file: cannot read"), "{err}");
}
