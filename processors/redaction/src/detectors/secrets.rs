//! Credentials with a literal prefix. One Aho-Corasick automaton finds every
//! prefix in a single pass; each hit is then checked against the shape of
//! its secret (length, alphabet, word boundary).

use aho_corasick::{packed, AhoCorasick, AhoCorasickBuilder, Input, MatchKind, Span};

use super::{is_word, word_before, Builtin};

/// The body that must follow a prefix.
#[derive(Clone, Copy)]
enum Body {
    /// At least `min` characters of `[A-Za-z0-9_-]`, with a digit and a letter.
    Dashed {
        min: usize,
    },
    /// Exactly `len` characters of `[A-Z0-9]` (AWS).
    UpperExact {
        len: usize,
    },
    /// At least `min` characters of `[A-Za-z0-9]` (GitHub, Stripe, Hugging Face).
    Alnum {
        min: usize,
    },
    /// At least `min` characters of `[A-Za-z0-9_]` (fine-grained GitHub PAT).
    AlnumUnderscore {
        min: usize,
    },
    /// Exactly `len` characters of `[A-Za-z0-9_-]` (Google).
    DashedExact {
        len: usize,
    },
    /// Slack: `[A-Za-z0-9-]`, at least `min`, with a digit.
    Slack {
        min: usize,
    },
    Jwt,
    Pem,
}

const PREFIXES: &[(&str, Builtin, Body)] = &[
    ("sk-ant-", Builtin::AnthropicKey, Body::Dashed { min: 20 }),
    ("sk-", Builtin::OpenaiKey, Body::Dashed { min: 20 }),
    ("AKIA", Builtin::AwsAccessKey, Body::UpperExact { len: 16 }),
    ("ASIA", Builtin::AwsAccessKey, Body::UpperExact { len: 16 }),
    ("ghp_", Builtin::GithubToken, Body::Alnum { min: 36 }),
    ("gho_", Builtin::GithubToken, Body::Alnum { min: 36 }),
    ("ghs_", Builtin::GithubToken, Body::Alnum { min: 36 }),
    ("ghu_", Builtin::GithubToken, Body::Alnum { min: 36 }),
    ("ghr_", Builtin::GithubToken, Body::Alnum { min: 36 }),
    ("github_pat_", Builtin::GithubToken, Body::AlnumUnderscore { min: 40 }),
    ("xoxb-", Builtin::SlackToken, Body::Slack { min: 10 }),
    ("xoxp-", Builtin::SlackToken, Body::Slack { min: 10 }),
    ("xoxa-", Builtin::SlackToken, Body::Slack { min: 10 }),
    ("xoxe-", Builtin::SlackToken, Body::Slack { min: 10 }),
    ("xoxr-", Builtin::SlackToken, Body::Slack { min: 10 }),
    ("xoxs-", Builtin::SlackToken, Body::Slack { min: 10 }),
    ("AIza", Builtin::GoogleApiKey, Body::DashedExact { len: 35 }),
    ("sk_live_", Builtin::StripeKey, Body::Alnum { min: 16 }),
    ("sk_test_", Builtin::StripeKey, Body::Alnum { min: 16 }),
    ("rk_live_", Builtin::StripeKey, Body::Alnum { min: 16 }),
    ("rk_test_", Builtin::StripeKey, Body::Alnum { min: 16 }),
    ("hf_", Builtin::HuggingfaceToken, Body::Alnum { min: 30 }),
    ("eyJ", Builtin::Jwt, Body::Jwt),
    ("-----BEGIN ", Builtin::PrivateKey, Body::Pem),
];

/// The prefix search: Teddy's vector search straight away where the CPU has
/// it (the same search the automaton would run as its prefilter, without
/// the layers around it), the automaton elsewhere.
enum Prefixes {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

impl Prefixes {
    fn new(pats: &[&str]) -> Prefixes {
        // Leftmost-longest so `sk-ant-` wins over `sk-`.
        let packed =
            packed::Config::new().match_kind(packed::MatchKind::LeftmostLongest).builder().extend(pats).build();
        match packed {
            Some(p) => Prefixes::Packed(p),
            None => Prefixes::Automaton(
                AhoCorasickBuilder::new().match_kind(MatchKind::LeftmostLongest).build(pats).expect("static patterns"),
            ),
        }
    }

    /// The leftmost-longest prefix in `b[from..]`: its start, end and pattern.
    #[inline]
    fn find(&self, b: &[u8], from: usize) -> Option<(usize, usize, usize)> {
        let m = match self {
            Prefixes::Packed(p) => p.find_in(b, Span::from(from..b.len()))?,
            Prefixes::Automaton(ac) => ac.find(Input::new(b).span(from..b.len()))?,
        };
        Some((m.start(), m.end(), m.pattern().as_usize()))
    }
}

pub(crate) struct Secrets {
    prefixes: Prefixes,
    /// PREFIXES index of each automaton pattern (only enabled ones are built in).
    ids: Vec<usize>,
    /// The shortest text any enabled secret detector can match.
    min: usize,
}

impl Secrets {
    /// `None` when no secret detector is enabled.
    pub fn new(enabled: impl Fn(Builtin) -> bool) -> Option<Secrets> {
        let ids: Vec<usize> = (0..PREFIXES.len()).filter(|&i| enabled(PREFIXES[i].1)).collect();
        if ids.is_empty() {
            return None;
        }
        let pats: Vec<&str> = ids.iter().map(|&i| PREFIXES[i].0).collect();
        let min = ids.iter().map(|&i| PREFIXES[i].0.len() + PREFIXES[i].2.min_len()).min().unwrap_or(usize::MAX);
        Some(Secrets { prefixes: Prefixes::new(&pats), ids, min })
    }

    /// The shortest text any enabled secret detector can match.
    pub fn min_len(&self) -> usize {
        self.min
    }

    pub fn scan(&self, s: &str, found: &mut impl FnMut(usize, usize, Builtin)) {
        let b = s.as_bytes();
        // Ids, model names and numbers with a digit get past the quick check;
        // the prefix search is not started on text too short for any secret.
        if b.len() < self.min {
            return;
        }
        let mut at = 0;
        while at < b.len() {
            let Some((start, pend, pattern)) = self.prefixes.find(b, at) else { break };
            let (_, kind, body) = PREFIXES[self.ids[pattern]];
            let ok_start = !word_before(b, start) || matches!(body, Body::Pem);
            match ok_start.then(|| body_end(b, pend, body)).flatten() {
                Some(end) => {
                    found(start, end, kind);
                    at = end;
                }
                None => at = start + 1,
            }
        }
    }
}

impl Body {
    /// The fewest bytes a body that fits can have.
    fn min_len(self) -> usize {
        match self {
            Body::Dashed { min }
            | Body::Alnum { min }
            | Body::AlnumUnderscore { min }
            | Body::Slack { min }
            | Body::UpperExact { len: min }
            | Body::DashedExact { len: min } => min,
            // `<7>.ey<10>.`
            Body::Jwt => 7 + 1 + 2 + 10 + 1,
            // `PRIVATE KEY-----`
            Body::Pem => 16,
        }
    }
}

fn run(b: &[u8], from: usize, f: impl Fn(u8) -> bool) -> usize {
    b[from..].iter().position(|&c| !f(c)).map_or(b.len(), |p| from + p)
}

#[inline]
fn dashed(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// Where the secret whose prefix ends at `p` ends, if its body fits.
fn body_end(b: &[u8], p: usize, body: Body) -> Option<usize> {
    match body {
        Body::Dashed { min } => {
            let e = run(b, p, dashed);
            let t = &b[p..e];
            (t.len() >= min && t.iter().any(u8::is_ascii_digit) && t.iter().any(u8::is_ascii_alphabetic)).then_some(e)
        }
        Body::UpperExact { len } => {
            let e = run(b, p, |c| c.is_ascii_uppercase() || c.is_ascii_digit());
            (e - p == len && !(e < b.len() && is_word(b[e]))).then_some(e)
        }
        Body::Alnum { min } => {
            let e = run(b, p, |c| c.is_ascii_alphanumeric());
            (e - p >= min && !(e < b.len() && is_word(b[e]))).then_some(e)
        }
        Body::AlnumUnderscore { min } => {
            let e = run(b, p, is_word);
            (e - p >= min).then_some(e)
        }
        Body::DashedExact { len } => {
            let e = run(b, p, dashed);
            (e - p == len).then_some(e)
        }
        Body::Slack { min } => {
            let e = run(b, p, |c| c.is_ascii_alphanumeric() || c == b'-');
            (e - p >= min && b[p..e].iter().any(u8::is_ascii_digit)).then_some(e)
        }
        Body::Jwt => jwt_end(b, p),
        Body::Pem => pem_end(b, p),
    }
}

/// `eyJ<header>.ey<payload>.<signature>`: three base64url parts.
fn jwt_end(b: &[u8], p: usize) -> Option<usize> {
    let b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
    let h = run(b, p, b64);
    if h - p < 7 || b.get(h) != Some(&b'.') || !b[h + 1..].starts_with(b"ey") {
        return None;
    }
    let pl = run(b, h + 1, b64);
    if pl - (h + 1) < 10 || b.get(pl) != Some(&b'.') {
        return None;
    }
    // An unsigned token (alg none) has an empty signature.
    Some(run(b, pl + 1, b64))
}

/// `-----BEGIN [TYPE ]PRIVATE KEY-----` through the matching END line. Without
/// an END line the key body is redacted to its end: fail closed.
fn pem_end(b: &[u8], p: usize) -> Option<usize> {
    let label_end = run(b, p, |c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b' ');
    if !b[..label_end].ends_with(b"PRIVATE KEY") || !b[label_end..].starts_with(b"-----") {
        return None;
    }
    let body = label_end + 5;
    if let Some(e) = memchr::memmem::find(&b[body..], b"-----END ") {
        let tail = body + e + 9;
        if let Some(close) = memchr::memmem::find(&b[tail..(tail + 64).min(b.len())], b"-----") {
            return Some(tail + close + 5);
        }
    }
    // Base64 lines, whitespace and the `\n` escapes of a JSON string.
    Some(run(b, body, |c| {
        c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b' ' | b'\r' | b'\n' | b'\t' | b'\\')
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> Vec<(&str, Builtin)> {
        let sec = Secrets::new(|_| true).unwrap();
        let mut v = Vec::new();
        sec.scan(s, &mut |a, b, k| v.push((&s[a..b], k)));
        v
    }

    #[test]
    fn both_prefix_searches_agree() {
        let pats: Vec<&str> = PREFIXES.iter().map(|p| p.0).collect();
        let ac = Prefixes::Automaton(
            AhoCorasickBuilder::new().match_kind(MatchKind::LeftmostLongest).build(&pats).expect("static patterns"),
        );
        let fast = Prefixes::new(&pats);
        let text = "x sk-ant-a sk- AKIA ghp_ github_pat_ xoxb- AIza sk_live_ rk_test_ hf_ eyJ -----BEGIN ".repeat(3);
        for from in 0..text.len() {
            assert_eq!(fast.find(text.as_bytes(), from), ac.find(text.as_bytes(), from), "from {from}");
        }
    }

    #[test]
    fn secrets() {
        let aws = "AKIAIOSFODNN7EXAMPLE";
        assert_eq!(all(&format!("key={aws};")), vec![(aws, Builtin::AwsAccessKey)]);
        let oa = "sk-proj-Ab3dEf9hIjKlMn0pQrStUvWxYz12";
        assert_eq!(all(&format!("use {oa} now")), vec![(oa, Builtin::OpenaiKey)]);
        let an = "sk-ant-api03-Zx9yW8vU7tS6rQ5pO4nM3lK2jI1hG0fE";
        assert_eq!(all(&format!("\"{an}\"")), vec![(an, Builtin::AnthropicKey)]);
        assert_eq!(all("task-force-management-system-overhaul sk-learn"), vec![]);
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(all(&format!("Bearer {jwt}")), vec![(jwt, Builtin::Jwt)]);
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----";
        assert_eq!(all(&format!("k: {pem}\nbye")), vec![(pem, Builtin::PrivateKey)]);
        // Every secret above is at least as long as the shortest the scanner reports.
        let min = Secrets::new(|_| true).unwrap().min_len();
        assert_eq!(min, "xoxb-".len() + 10);
        for k in [aws, oa, an, jwt, pem] {
            assert!(k.len() >= min);
        }
        assert_eq!(all("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"), vec![]);
    }
}
