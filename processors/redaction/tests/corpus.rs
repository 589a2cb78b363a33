//! Labelled corpus: per-detector recall and precision of the built-in
//! detectors on generated prompts (fixed seed). Run with `--nocapture` to
//! see the markdown table.

mod common;

use std::collections::BTreeMap;

use aiotel_redaction::{RedactionConfig, RedactionProcessor};
use common::gen;

const PER_DETECTOR: usize = 150;
const NEGATIVES_PER_KIND: usize = 180;

#[derive(Default, Clone, Copy)]
struct Score {
    positives: usize,
    tp: usize,
    fp: usize,
}

fn tags() -> Vec<&'static str> {
    gen::DETECTORS.iter().map(|d| d.1).collect()
}

fn count_tags(s: &str, tags: &[&'static str]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for t in tags {
        let n = s.matches(&format!("<{t}>")).count();
        if n > 0 {
            m.insert(*t, n);
        }
    }
    m
}

/// `text` with the entity `x` replaced by its placeholder, wherever it sits:
/// verbatim, or escaped by the JSON or log-line wrapping.
fn expected(text: &str, x: &str, tag: &str) -> Option<String> {
    let json = serde_json::to_string(x).unwrap();
    let debug = format!("{x:?}");
    let forms = [x, &json[1..json.len() - 1], &debug[1..debug.len() - 1]];
    forms.iter().find(|f| text.contains(*f)).map(|f| text.replacen(*f, &format!("<{tag}>"), 1))
}

#[test]
fn corpus_recall_and_precision() {
    let cfg: RedactionConfig = serde_yaml_ng::from_str("allow_all_keys: true").unwrap();
    let p = RedactionProcessor::new(&cfg, std::path::Path::new(".")).unwrap();
    let tags = tags();
    let mut r = gen::rng(0x5eed_2026);
    let mut scores: BTreeMap<&str, Score> = BTreeMap::new();
    let mut misses: Vec<String> = Vec::new();
    let mut positives = 0;

    for &(name, tag, g) in gen::DETECTORS {
        for _ in 0..PER_DETECTOR {
            let (text, x) = gen::positive(&mut r, name, g);
            positives += 1;
            scores.entry(tag).or_default().positives += 1;
            let out = p.redact_str(&text);
            let want = expected(&text, &x, tag).expect("entity is in its text");
            if out == want {
                scores.get_mut(tag).unwrap().tp += 1;
                continue;
            }
            let (got, exp) = (count_tags(&out, &tags), count_tags(&want, &tags));
            for (t, n) in got {
                let extra = n.saturating_sub(exp.get(t).copied().unwrap_or(0));
                scores.entry(t).or_default().fp += extra;
            }
            if misses.len() < 40 {
                misses.push(format!("MISS {name}: {x:?}\n  in:  {text:?}\n  out: {out:?}"));
            }
        }
    }

    let mut negatives = 0;
    let mut neg_fp: BTreeMap<&str, usize> = BTreeMap::new();
    for &(kind, g) in gen::NEAR_MISSES {
        for _ in 0..NEGATIVES_PER_KIND {
            let (text, xs) = gen::negative(&mut r, g);
            negatives += 1;
            let out = p.redact_str(&text);
            if out != text {
                for (t, n) in count_tags(&out, &tags) {
                    scores.entry(t).or_default().fp += n;
                    *neg_fp.entry(kind).or_default() += n;
                }
                if misses.len() < 80 {
                    misses.push(format!("FALSE POSITIVE {kind}: {xs:?}\n  out: {out:?}"));
                }
            }
        }
    }

    let mut table = String::new();
    table.push_str(&format!(
        "Corpus: {positives} positives ({PER_DETECTOR} per detector, embedded in generated prompts: plain text, \
         OTel GenAI JSON messages, log lines) and {negatives} near-miss negatives ({} kinds); seed 0x5eed2026.\n\n",
        gen::NEAR_MISSES.len()
    ));
    table.push_str("| detector | positives | true pos. | false neg. | false pos. | recall | precision |\n");
    table.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    let (mut tp, mut fp) = (0, 0);
    for &(_, tag, _) in gen::DETECTORS {
        let s = scores[tag];
        tp += s.tp;
        fp += s.fp;
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.2}% | {:.2}% |\n",
            tag.to_lowercase(),
            s.positives,
            s.tp,
            s.positives - s.tp,
            s.fp,
            pct(s.tp, s.positives),
            pct(s.tp, s.tp + s.fp)
        ));
    }
    let recall = pct(tp, positives);
    let precision = pct(tp, tp + fp);
    table.push_str(&format!(
        "| **all** | {positives} | {tp} | {} | {fp} | **{recall:.2}%** | **{precision:.2}%** |\n",
        positives - tp
    ));
    table.push_str("\nFalse positives on the negatives, by near-miss kind: ");
    let kinds: Vec<String> =
        gen::NEAR_MISSES.iter().map(|(k, _)| format!("{k} {}", neg_fp.get(k).copied().unwrap_or(0))).collect();
    table.push_str(&kinds.join(", "));
    table.push('\n');
    println!("{table}");
    for m in &misses {
        println!("{m}");
    }

    assert!(positives >= 2000 && negatives >= 2000);
    assert!(recall >= 99.0, "overall recall {recall:.2}%");
    assert!(precision >= 98.0, "overall precision {precision:.2}%");
    for &(name, tag, _) in gen::DETECTORS {
        let s = scores[tag];
        let is_secret = !matches!(name, "email" | "phone" | "credit_card" | "iban" | "us_ssn" | "ip_address");
        if is_secret {
            assert!(pct(s.tp, s.positives) >= 99.0, "{name} recall {:.2}%", pct(s.tp, s.positives));
        }
    }
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        100.0
    } else {
        100.0 * a as f64 / b as f64
    }
}
