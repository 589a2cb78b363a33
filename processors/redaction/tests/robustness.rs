//! Random input built from the characters the detectors care about:
//! nothing panics, and redacted JSON always parses.

mod common;

use rand::Rng;

const SOUP: &[&str] = &[
    "0",
    "1",
    "4",
    "5",
    "9",
    "00",
    "+",
    "(",
    ")",
    "-",
    ".",
    "/",
    " ",
    "  ",
    ":",
    "::",
    "@",
    "_",
    "x",
    "ext. ",
    "é",
    "日本",
    "\u{a0}",
    "\"",
    "\\",
    "\\n",
    "\n",
    "{",
    "}",
    "[",
    "]",
    ",",
    "sk-",
    "sk-ant-",
    "AKIA",
    "ghp_",
    "xoxb-",
    "AIza",
    "hf_",
    "eyJ",
    ".eyJ",
    "-----BEGIN ",
    "PRIVATE KEY-----",
    "-----END ",
    "DE89",
    "GB82",
    "WEST",
    "a",
    "Z",
    "com",
    "mail.",
    "4111",
    "1111",
    "078",
    "05",
    "1120",
    "fe80",
    "true",
    "null",
    "e5",
];

fn soup(r: &mut rand::rngs::StdRng, n: usize) -> String {
    (0..n).map(|_| SOUP[r.random_range(0..SOUP.len())]).collect()
}

#[test]
fn random_text_never_panics() {
    let p = common::processor(
        "{allow_all_keys: true, dictionaries: [{name: d, words: [Acme, 'é日', '4111']}], patterns: [{name: p, regex: '[0-9]{3}-x'}]}",
    );
    let mut r = common::gen::rng(99);
    let iters = std::env::var("FUZZ_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    for _ in 0..iters {
        let n = r.random_range(0..60);
        let s = soup(&mut r, n);
        let out = p.redact_str(&s);
        let again = p.redact_str(&out);
        assert!(again.len() <= out.len() + 64, "{s:?} -> {out:?} -> {again:?}");
    }
}

fn random_json(r: &mut rand::rngs::StdRng, depth: usize) -> serde_json::Value {
    use serde_json::Value;
    match r.random_range(0..if depth > 3 { 3 } else { 6 }) {
        0 => Value::String(soup(r, 30)),
        1 => Value::from(r.random_range(0..u64::MAX)),
        2 => Value::from(r.random_range(-1e12..1e12)),
        3 => Value::Array((0..r.random_range(0..4)).map(|_| random_json(r, depth + 1)).collect()),
        _ => Value::Object((0..r.random_range(0..4)).map(|_| (soup(r, 5), random_json(r, depth + 1))).collect()),
    }
}

#[test]
fn redacted_json_always_parses() {
    let p = common::processor("allow_all_keys: true");
    let mut r = common::gen::rng(5);
    let mut changed = 0;
    let iters = std::env::var("FUZZ_ITERS").ok().and_then(|v| v.parse::<usize>().ok()).map_or(5_000, |n| n / 4);
    for _ in 0..iters {
        let v = serde_json::Value::Array(vec![random_json(&mut r, 0), random_json(&mut r, 0)]);
        let s = v.to_string();
        let out = p.redact_str(&s);
        serde_json::from_str::<serde_json::Value>(&out).unwrap_or_else(|e| panic!("{e}\n in: {s}\nout: {out}"));
        changed += usize::from(out != s);
    }
    assert!(changed > 100, "the soup should hit detectors: {changed}");
}
