//! Value handling: JSON-valued attributes stay valid JSON, oversized
//! values fail closed, and the `hash`, `drop` and `redact_value` actions,
//! dictionaries and custom patterns do what they say.

mod common;

use aiotel_api::otlp::common::v1::{any_value::Value, KeyValue};
use aiotel_api::otlp::trace::v1::{ResourceSpans, ScopeSpans, Span};
use aiotel_api::Payload;
use aiotel_redaction::{RedactionProcessor, TOO_LARGE};
use common::*;

fn spans(attrs: Vec<Vec<KeyValue>>) -> Payload {
    Payload::Traces(vec![ResourceSpans {
        scope_spans: vec![ScopeSpans {
            spans: attrs.into_iter().map(|a| Span { attributes: a, ..Default::default() }).collect(),
            ..Default::default()
        }],
        ..Default::default()
    }])
}

fn attrs(p: &Payload, i: usize) -> &[KeyValue] {
    let Payload::Traces(t) = p else { unreachable!() };
    &t[0].scope_spans[0].spans[i].attributes
}

fn redact_attrs(p: &RedactionProcessor, a: Vec<KeyValue>) -> Vec<KeyValue> {
    let mut payload = spans(vec![a]);
    p.redact(&mut payload);
    attrs(&payload, 0).to_vec()
}

#[test]
fn json_valued_attributes_stay_valid() {
    let p = processor("allow_all_keys: true");
    let messages = serde_json::json!([
        {"role": "system", "content": "You are a \"careful\" assistant.\nNever leak keys."},
        {"role": "user", "parts": [{"type": "text", "content": "Hi,\nI'm jane@example.com,\tcard 4111-1111-1111-1111. Call +44 20 7946 0958 \u{00e9}"}]},
        {"role": "user", "content": "key sk-proj-Ab3dEf9hIjKlMn0pQrStUvWxYz12 and \\ backslash"},
        {"card_as_number": 4111111111111111u64, "n": 12, "ok": true, "none": null, "jane@example.com": 1}
    ])
    .to_string();
    let out = redact_attrs(&p, vec![s("gen_ai.input.messages", &messages)]);
    let v = get_str(&out, "gen_ai.input.messages").unwrap();
    let parsed: serde_json::Value = serde_json::from_str(v).expect("still JSON");
    let text = parsed.to_string();
    for leaked in ["jane@example.com", "4111", "7946", "sk-proj"] {
        assert!(!text.contains(leaked), "{leaked} leaked: {text}");
    }
    assert_eq!(parsed[1]["parts"][0]["content"], "Hi,\nI'm <EMAIL>,\tcard <CREDIT_CARD>. Call <PHONE> \u{00e9}");
    assert_eq!(parsed[0]["content"], "You are a \"careful\" assistant.\nNever leak keys.");
    assert_eq!(parsed[2]["content"], "key <OPENAI_KEY> and \\ backslash");
    assert_eq!(parsed[3]["card_as_number"], "<CREDIT_CARD>");
    assert_eq!(parsed[3]["n"], 12);
    assert!(parsed[3].get("<EMAIL>").is_some());
}

#[test]
fn json_from_the_corpus_parses_after_redaction() {
    // Every JSON-wrapped corpus prompt stays valid after redaction.
    let p = processor("allow_all_keys: true");
    let mut r = gen::rng(7);
    let mut checked = 0;
    for &(name, _, g) in gen::DETECTORS {
        for _ in 0..40 {
            let (text, x) = gen::positive(&mut r, name, g);
            if !text.starts_with('[') {
                continue;
            }
            let out = p.redact_str(&text);
            serde_json::from_str::<serde_json::Value>(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
            assert!(!out.contains(&x) && out != text, "{name}: {out}");
            checked += 1;
        }
    }
    assert!(checked > 100);
}

#[test]
fn text_that_only_looks_like_json_is_scanned_as_text() {
    let p = processor("allow_all_keys: true");
    assert_eq!(p.redact_str("[INFO] login by jane@example.com"), "[INFO] login by <EMAIL>");
    assert_eq!(p.redact_str("{broken jane@example.com"), "{broken <EMAIL>");
    assert_eq!(p.redact_str(r#"{"a": "x"} jane@example.com"#), r#"{"a": "x"} <EMAIL>"#);
    assert_eq!(p.redact_str("[1] 4111 1111 1111 1111"), "[1] <CREDIT_CARD>");
    assert_eq!(p.redact_str("[1, 2] [3]"), "[1, 2] [3]");
}

#[test]
fn oversized_values_fail_closed() {
    let p = processor("{allow_all_keys: true, max_value_bytes: 64, summary: debug}");
    let big = "x".repeat(65);
    let out = redact_attrs(&p, vec![s("big", &big), s("small", "x"), kv("bytes", av(Value::BytesValue(vec![0; 100])))]);
    assert_eq!(get_str(&out, "big"), Some(TOO_LARGE));
    assert_eq!(get_str(&out, "bytes"), Some(TOO_LARGE));
    assert_eq!(get_str(&out, "small"), Some("x"));
    assert_eq!(get_str(&out, "redaction.masked.keys"), Some("big,bytes"));
    assert_eq!(p.redact_str(&big), TOO_LARGE);

    // The default limit is 1 MiB.
    let p = processor("allow_all_keys: true");
    let at_limit = "a ".repeat(1 << 19);
    assert_eq!(p.redact_str(&at_limit), at_limit.as_str());
    let over = format!("{at_limit}b");
    assert_eq!(p.redact_str(&over), TOO_LARGE);
}

#[test]
fn hash_tokens_are_stable_per_key() {
    let yaml = |key: &str| format!("{{allow_all_keys: true, hmac_key: {key}, detectors: {{email: {{action: hash}}}}}}");
    let p = processor(&yaml("k1"));
    let mut payload = spans(vec![vec![s("m", "from jane@example.com")], vec![s("m", "reply to Jane@Example.com now")]]);
    p.redact(&mut payload);
    let a = get_str(attrs(&payload, 0), "m").unwrap().to_string();
    let b = get_str(attrs(&payload, 1), "m").unwrap().to_string();
    let token = a.strip_prefix("from ").unwrap();
    assert!(token.starts_with("<EMAIL:") && token.ends_with('>') && token.len() == "<EMAIL:>".len() + 16, "{token}");
    assert!(token[7..23].bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(b, format!("reply to {token} now"), "same email, same token in another span");

    let other = processor(&yaml("k2"));
    let c = other.redact_str("from jane@example.com");
    assert_ne!(c, a, "another key gives another token");
    assert_ne!(p.redact_str("from john@example.com"), a, "another email gives another token");
    // Other detectors keep masking.
    assert_eq!(p.redact_str("ip 10.1.2.3"), "ip <IP_ADDRESS>");
}

#[test]
fn drop_and_redact_value_actions() {
    let p = processor(
        "{allow_all_keys: true, summary: debug, detectors: {us_ssn: {action: drop}, credit_card: {action: redact_value}, ip_address: {enabled: false}}}",
    );
    let out = redact_attrs(
        &p,
        vec![
            s("a", "ssn 078-05-1120 on file"),
            s("b", "card 4111 1111 1111 1111 and more text"),
            s("c", "from 10.0.0.1"),
            s("d", "mail a@b.co"),
        ],
    );
    assert!(get(&out, "a").is_none());
    assert_eq!(get_str(&out, "b"), Some("<CREDIT_CARD>"));
    assert_eq!(get_str(&out, "c"), Some("from 10.0.0.1"));
    assert_eq!(get_str(&out, "d"), Some("mail <EMAIL>"));
    assert_eq!(get_str(&out, "redaction.redacted.keys"), Some("a"));
    assert_eq!(get_str(&out, "redaction.masked.keys"), Some("b,d"));
}

#[test]
fn dictionaries_and_patterns() {
    let p = processor(
        r#"allow_all_keys: true
dictionaries:
  - {name: customers, words: [Acme Corp, Globex], file: customers.txt}
  - {name: codename, words: [Project Falcon], action: redact_value}
patterns:
  - {name: ticket, regex: 'TICKET-[0-9]{6}', action: mask}
"#,
    );
    assert_eq!(p.redact_str("Ask ACME corp and globex's team"), "Ask <CUSTOMERS> and <CUSTOMERS>'s team");
    assert_eq!(p.redact_str("Acme Corporation and Globexia"), "Acme Corporation and Globexia");
    assert_eq!(
        p.redact_str("from the file: umbrella corporation, Initech."),
        "from the file: <CUSTOMERS>, <CUSTOMERS>."
    );
    assert_eq!(p.redact_str("see TICKET-123456 and TICKET-12"), "see <TICKET> and TICKET-12");
    assert_eq!(p.redact_str("status of project falcon is green"), "<CODENAME>");
}

#[test]
fn no_match_borrows() {
    let p = processor("allow_all_keys: true");
    let text = "A plain prompt with 3 numbers like 2024 and 10:30, nothing personal.";
    assert!(matches!(p.redact_str(text), std::borrow::Cow::Borrowed(_)));
}

#[test]
fn allowed_values_and_ignored_keys_skip_detectors() {
    let p = processor(r#"{allow_all_keys: true, ignored_keys: [raw], allowed_values: ['@mycompany\.com$']}"#);
    let out = redact_attrs(
        &p,
        vec![s("raw", "jane@example.com"), s("owner", "ops@mycompany.com"), s("x", "jane@example.com")],
    );
    assert_eq!(get_str(&out, "raw"), Some("jane@example.com"));
    assert_eq!(get_str(&out, "owner"), Some("ops@mycompany.com"));
    assert_eq!(get_str(&out, "x"), Some("<EMAIL>"));
}

#[test]
fn detectors_only_configs_match_the_general_rules() {
    // `allow_all_keys` alone takes a shorter path through each attribute; an
    // ignored-key pattern that matches no key here takes the general one.
    // Both must leave the same attributes and summary.
    for extra in ["", ", detectors: {email: {action: drop}, phone: {action: redact_value}}"] {
        let fast = processor(&format!("{{allow_all_keys: true, max_value_bytes: 64, summary: debug{extra}}}"));
        let general = processor(&format!(
            "{{allow_all_keys: true, max_value_bytes: 64, summary: debug, ignored_key_patterns: ['^$']{extra}}}"
        ));
        let input = vec![
            s("plain", "nothing to see"),
            s("email", "write to jane@example.com"),
            s("phone", "call +1 415 555 2671 now"),
            s("json", r#"[{"role":"user","content":"card 4111 1111 1111 1111"}]"#),
            s("big", &"x".repeat(65)),
            kv("bytes", av(Value::BytesValue(vec![0; 100]))),
            kv("small_bytes", av(Value::BytesValue(vec![1; 4]))),
            kv("nested", kvlist(vec![s("ip", "10.1.2.3"), s("mail", "jane@example.com"), i("n", 4)])),
            kv("list", array(vec![sv("078-05-1120"), sv("fine")])),
            i("count", 4111111111111111),
            KeyValue { key: "empty".into(), value: None, ..Default::default() },
        ];
        assert_eq!(redact_attrs(&fast, input.clone()), redact_attrs(&general, input), "extra: {extra:?}");
    }
}
