//! Compatibility with the Collector's redaction processor: its README
//! example and testdata configs, unchanged, give the documented results,
//! including the `redaction.*` summary attributes.

mod common;

use std::collections::BTreeMap;

use aiotel_api::otlp::common::v1::any_value::Value;
use aiotel_api::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use aiotel_api::otlp::metrics::v1::{metric::Data, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics};
use aiotel_api::otlp::trace::v1::{span::SpanKind, ResourceSpans, ScopeSpans, Span};
use aiotel_api::Payload;
use aiotel_redaction::{RedactionConfig, RedactionProcessor};
use common::*;
use md5::{Digest, Md5};

fn md5_hex(s: &str) -> String {
    Md5::digest(s).iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(serde::Deserialize)]
struct Processors {
    processors: BTreeMap<String, RedactionConfig>,
}

fn readme_processor() -> RedactionProcessor {
    let text = std::fs::read_to_string(fixtures().join("collector_readme_example.yaml")).unwrap();
    let p: Processors = serde_yaml_ng::from_str(&text).expect("the README example parses unchanged");
    let cfg = &p.processors["redaction"];
    cfg.validate().expect("the README example is valid");
    RedactionProcessor::new(cfg, &fixtures()).unwrap()
}

fn span(attrs: Vec<aiotel_api::otlp::common::v1::KeyValue>) -> Payload {
    Payload::Traces(vec![ResourceSpans {
        scope_spans: vec![ScopeSpans {
            spans: vec![Span {
                name: "GET /api/users/12345".into(),
                kind: SpanKind::Server as i32,
                attributes: attrs,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }])
}

fn span_of(p: &Payload) -> &Span {
    match p {
        Payload::Traces(t) => &t[0].scope_spans[0].spans[0],
        _ => unreachable!(),
    }
}

#[test]
fn readme_example_gives_the_documented_result() {
    let p = readme_processor();
    let mut payload = span(vec![
        s("description", "ask ops@mycompany.com"),
        s("group", "temporary"),
        i("id", 4111111111111111),
        s("name", "placeholder 5555555555554444"),
        s("safe_attribute", "4111111111111111"),
        s("credit_card", "4111111111111111"),
        s("auth_token", "abc123"),
        s("http.url", "/api/users/123?debug=1"),
    ]);
    p.redact(&mut payload);
    let sp = span_of(&payload);
    let a = &sp.attributes;

    // Keys not in allowed_keys are removed before any value check.
    for gone in ["credit_card", "auth_token", "http.url"] {
        assert!(get(a, gone).is_none(), "{gone} must be removed");
    }
    // allowed_values win: the whole value is kept.
    assert_eq!(get_str(a, "description"), Some("ask ops@mycompany.com"));
    assert_eq!(get_str(a, "group"), Some("temporary"));
    // blocked_values are replaced by their md5; redact_all_types reaches ints.
    assert_eq!(get_str(a, "id"), Some(md5_hex("4111111111111111").as_str()));
    assert_eq!(get_str(a, "name"), Some(format!("placeholder {}", md5_hex("5555555555554444")).as_str()));
    // Ignored keys pass untouched.
    assert_eq!(get_str(a, "safe_attribute"), Some("4111111111111111"));

    // summary: debug.
    assert_eq!(get_str(a, "redaction.redacted.keys"), Some("auth_token,credit_card,http.url"));
    assert_eq!(get_int(a, "redaction.redacted.count"), Some(3));
    assert_eq!(get_str(a, "redaction.masked.keys"), Some("id,name"));
    assert_eq!(get_int(a, "redaction.masked.count"), Some(2));
    assert_eq!(get_str(a, "redaction.allowed.keys"), Some("description"));
    assert_eq!(get_int(a, "redaction.allowed.count"), Some(1));
    assert_eq!(get_int(a, "redaction.ignored.count"), Some(1));

    // url_sanitizer: server span names holding a path lose their ids.
    assert_eq!(sp.name, "GET /api/users/*");
}

#[test]
fn readme_example_on_logs_and_metrics() {
    let p = readme_processor();
    let mut logs = Payload::Logs(vec![ResourceLogs {
        scope_logs: vec![ScopeLogs {
            log_records: vec![LogRecord {
                attributes: vec![s("name", "card 4111111111111111"), s("user", "bob")],
                body: Some(kvlist(vec![s("description", "paid with 4111111111111111"), s("card", "x")])),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }]);
    p.redact(&mut logs);
    let Payload::Logs(l) = &logs else { unreachable!() };
    let lr = &l[0].scope_logs[0].log_records[0];
    let a = &lr.attributes;
    assert_eq!(get_str(a, "name"), Some(format!("card {}", md5_hex("4111111111111111")).as_str()));
    assert_eq!(get_str(a, "redaction.redacted.keys"), Some("user"));
    assert_eq!(get_str(a, "redaction.masked.keys"), Some("name"));
    // Body maps follow the same key rules, summarised under redaction.body.*.
    let Some(Value::KvlistValue(body)) = lr.body.as_ref().and_then(|b| b.value.as_ref()) else { panic!() };
    assert_eq!(keys(&body.values), ["description"]);
    assert_eq!(
        get_str(&body.values, "description"),
        Some(format!("paid with {}", md5_hex("4111111111111111")).as_str())
    );
    assert_eq!(get_str(a, "redaction.body.redacted.keys"), Some("card"));
    assert_eq!(get_int(a, "redaction.body.redacted.count"), Some(1));
    assert_eq!(get_str(a, "redaction.body.masked.keys"), Some("description"));
    assert_eq!(get_int(a, "redaction.body.masked.count"), Some(1));

    let mut metrics = Payload::Metrics(vec![ResourceMetrics {
        scope_metrics: vec![ScopeMetrics {
            metrics: vec![Metric {
                name: "m".into(),
                data: Some(Data::Gauge(Gauge {
                    data_points: vec![NumberDataPoint {
                        attributes: vec![s("group", "a"), s("host", "h1")],
                        ..Default::default()
                    }],
                })),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }]);
    p.redact(&mut metrics);
    let Payload::Metrics(m) = &metrics else { unreachable!() };
    let Some(Data::Gauge(g)) = &m[0].scope_metrics[0].metrics[0].data else { panic!() };
    let a = &g.data_points[0].attributes;
    assert_eq!(keys(a), ["group", "redaction.redacted.count", "redaction.redacted.keys"]);
    assert_eq!(get_str(a, "redaction.redacted.keys"), Some("host"));
}

#[test]
fn testdata_config_parses_unchanged() {
    let text = std::fs::read_to_string(fixtures().join("collector_testdata_config.yaml")).unwrap();
    let m: BTreeMap<String, Option<RedactionConfig>> = serde_yaml_ng::from_str(&text).unwrap();
    let cfg = m["redaction"].clone().unwrap();
    assert_eq!(cfg.allowed_keys, ["description", "group", "id", "name"]);
    assert_eq!(cfg.summary, "debug");
    assert!(m["redaction/empty"].is_none());
    RedactionProcessor::new(&cfg, &fixtures()).unwrap();
}

/// The Collector's TestRedactSummaryDebug, with its config and data.
#[test]
fn collector_summary_debug() {
    let p = processor(
        r#"{allowed_keys: [id, group, name, group.id, "member (id)"], blocked_values: ["4[0-9]{12}(?:[0-9]{3})?"],
            ignored_keys: [safe_attribute], summary: debug}"#,
    );
    let mut payload = span(vec![
        i("id", 5),
        s("group.id", "some.valid.id"),
        s("member (id)", "some other valid id"),
        s("name", "placeholder 4111111111111111"),
        s("safe_attribute", "harmless 4111111111111112"),
        s("credit_card", "4111111111111111"),
    ]);
    p.redact(&mut payload);
    let a = &span_of(&payload).attributes;
    assert!(get(a, "credit_card").is_none());
    assert_eq!(get_str(a, "redaction.redacted.keys"), Some("credit_card"));
    assert_eq!(get_int(a, "redaction.redacted.count"), Some(1));
    assert_eq!(get_int(a, "redaction.ignored.count"), Some(1));
    assert_eq!(get_str(a, "redaction.masked.keys"), Some("name"));
    assert_eq!(get_int(a, "redaction.masked.count"), Some(1));
    assert_eq!(get_str(a, "name"), Some("placeholder ****"));
    assert_eq!(get_int(a, "id"), Some(5));
    assert_eq!(get_str(a, "member (id)"), Some("some other valid id"));
    assert_eq!(get_str(a, "safe_attribute"), Some("harmless 4111111111111112"));
}

/// The Collector's TestRedactSummaryInfo and TestRedactSummarySilent.
#[test]
fn collector_summary_info_and_silent() {
    let data = || {
        span(vec![
            i("id", 5),
            s("name", "placeholder 4111111111111111"),
            s("safe_attribute", "harmless but suspicious 4111111111111141"),
            s("credit_card", "4111111111111111"),
        ])
    };
    let base = r#"allowed_keys: [id, name, group]
blocked_values: ["4[0-9]{12}(?:[0-9]{3})?"]
ignored_keys: [safe_attribute]
"#;
    let p = processor(&format!("{base}summary: info"));
    let mut payload = data();
    p.redact(&mut payload);
    let a = &span_of(&payload).attributes;
    assert!(get(a, "redaction.redacted.keys").is_none());
    assert!(get(a, "redaction.masked.keys").is_none());
    assert_eq!(get_int(a, "redaction.redacted.count"), Some(1));
    assert_eq!(get_int(a, "redaction.masked.count"), Some(1));
    assert_eq!(get_int(a, "redaction.ignored.count"), Some(1));
    assert_eq!(get_str(a, "name"), Some("placeholder ****"));
    assert_eq!(get_str(a, "safe_attribute"), Some("harmless but suspicious 4111111111111141"));

    let p = processor(&format!("{base}summary: silent"));
    let mut payload = data();
    p.redact(&mut payload);
    let a = &span_of(&payload).attributes;
    assert!(a.iter().all(|kv| !kv.key.starts_with("redaction.")));
    assert_eq!(get_str(a, "name"), Some("placeholder ****"));
}

#[test]
fn blocked_key_patterns_and_hash_functions() {
    use sha1::Sha1;
    use sha3::Sha3_256;
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    for (f, expect) in [
        ("none", "****".to_string()),
        ("md5", md5_hex("s3cret")),
        ("sha1", hex(&Sha1::digest("s3cret"))),
        ("sha3", hex(&Sha3_256::digest("s3cret"))),
    ] {
        let p =
            processor(&format!(r#"{{allow_all_keys: true, blocked_key_patterns: [".*token.*"], hash_function: {f}}}"#));
        let mut payload = span(vec![s("auth_token", "s3cret"), s("user", "bob")]);
        p.redact(&mut payload);
        let a = &span_of(&payload).attributes;
        assert_eq!(get_str(a, "auth_token"), Some(expect.as_str()), "{f}");
        assert_eq!(get_str(a, "user"), Some("bob"));
    }
    // blocked_values hash only the matching part.
    let p = processor(r#"{allow_all_keys: true, blocked_values: ["s3cret"], hash_function: md5}"#);
    let mut payload = span(vec![s("note", "pw s3cret")]);
    p.redact(&mut payload);
    assert_eq!(get_str(&span_of(&payload).attributes, "note"), Some(format!("pw {}", md5_hex("s3cret")).as_str()));
}

/// Summaries merge with the ones a previous redaction processor wrote.
#[test]
fn summaries_accumulate_across_processors() {
    let p = processor("{allowed_keys: [keep], summary: debug}");
    let mut payload =
        span(vec![s("keep", "x"), s("b", "1"), s("redaction.redacted.keys", "a"), i("redaction.redacted.count", 1)]);
    p.redact(&mut payload);
    let a = &span_of(&payload).attributes;
    assert_eq!(get_str(a, "redaction.redacted.keys"), Some("a,b"));
    assert_eq!(get_int(a, "redaction.redacted.count"), Some(2));
}

/// Without allow_all_keys, an empty allowed_keys removes every attribute.
#[test]
fn fails_closed_without_allowed_keys() {
    let p = processor("{}");
    let mut payload = span(vec![s("a", "1"), s("b", "2")]);
    p.redact(&mut payload);
    assert!(span_of(&payload).attributes.is_empty());
}
