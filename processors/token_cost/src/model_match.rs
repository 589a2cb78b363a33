//! Model ids as they arrive (`gpt-4o-2024-08-06`, `openai/gpt-4o`,
//! `us.anthropic.claude-sonnet-4-5-20250929-v1:0`, `claude-sonnet-4-5@20250929`)
//! reduced to the family id a price table lists (`gpt-4o`, `claude-sonnet-4-5`).
//!
//! Works on slices of the input: it allocates only when the id has upper-case
//! letters or a dotted Claude version to rewrite.

use std::borrow::Cow;

/// Bedrock cross-region inference prefixes (`us.anthropic.…`).
const BEDROCK_REGIONS: &[&str] = &["us.", "eu.", "apac.", "ap.", "us-gov.", "global.", "jp.", "au.", "ca."];
/// Bedrock model vendors (`anthropic.claude-…`, `meta.llama3-…`).
const BEDROCK_VENDORS: &[&str] = &[
    "anthropic.",
    "meta.",
    "mistral.",
    "amazon.",
    "cohere.",
    "ai21.",
    "deepseek.",
    "openai.",
    "qwen.",
    "writer.",
    "google.",
    "moonshot.",
];

/// The normalised form of a model id. Lower-case; provider paths, Bedrock
/// region/vendor prefixes, Bedrock versions (`-v1:0`), Vertex versions
/// (`@20250929`, `-001`), date stamps (`-2024-08-06`, `-20250929`, `-0613`)
/// and `-latest` removed; Claude's dotted versions (`claude-3.5-sonnet`, as
/// OpenRouter writes them) become dashed as Anthropic writes them.
pub fn normalise(id: &str) -> Cow<'_, str> {
    if id.bytes().any(|b| b.is_ascii_uppercase()) {
        return Cow::Owned(normalise_lower(&id.to_ascii_lowercase()).into_owned());
    }
    normalise_lower(id)
}

fn normalise_lower(id: &str) -> Cow<'_, str> {
    let core = family(id);
    if core.starts_with("claude") && core.contains('.') {
        Cow::Owned(core.replace('.', "-"))
    } else {
        Cow::Borrowed(core)
    }
}

/// The family id inside a lower-cased model id.
fn family(id: &str) -> &str {
    let mut s = id.trim();
    // `openai/gpt-4o`, `models/gemini-2.5-pro`, `projects/…/models/x`.
    if let Some(i) = s.rfind('/') {
        s = &s[i + 1..];
    }
    // Vertex AI's Claude ids: `claude-sonnet-4-5@20250929`.
    if let Some(i) = s.find('@') {
        s = &s[..i];
    }
    s = strip_bedrock_prefix(s);
    loop {
        let before = s.len();
        s = strip_version(s);
        s = strip_date(s);
        s = s.strip_suffix("-latest").unwrap_or(s);
        if s.len() == before {
            return s;
        }
    }
}

/// `anthropic.claude-…`, `us.meta.llama…`: ids only Bedrock uses.
pub(crate) fn is_bedrock_id(id: &str) -> bool {
    let s = id.trim();
    !s.contains('/') && strip_bedrock_prefix(s).len() != s.len()
}

fn strip_bedrock_prefix(s: &str) -> &str {
    let after_region = BEDROCK_REGIONS.iter().find_map(|r| s.strip_prefix(r)).unwrap_or(s);
    match BEDROCK_VENDORS.iter().find_map(|v| after_region.strip_prefix(v)) {
        Some(rest) if !rest.is_empty() => rest,
        // A region prefix alone is not Bedrock: leave the id as it was.
        _ => s,
    }
}

/// Bedrock versions: `-v1:0`, `-v2:0:200k`, `-1:0` (gpt-oss), `-v1`.
fn strip_version(s: &str) -> &str {
    let mut s = s;
    let mut had_colon = false;
    if let Some(i) = s.find(':') {
        // Only a numeric tag (`:0`, `:0:200k`), never `llama3.1:8b`.
        let first = s[i + 1..].split(':').next().unwrap_or("");
        if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) {
            s = &s[..i];
            had_colon = true;
        }
    }
    if let Some(i) = s.rfind('-') {
        let tail = &s[i + 1..];
        let v_num = tail.strip_prefix('v').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let bare = had_colon && tail.len() == 1 && tail.as_bytes()[0].is_ascii_digit();
        if v_num || bare {
            s = &s[..i];
        }
    }
    s
}

/// `-2024-08-06`, `-20250929`, `-0613` / `-2411` (month-day or year-month)
/// and Vertex's `-001`.
fn strip_date(s: &str) -> &str {
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let b = s.as_bytes();
    let n = b.len();
    if n > 11
        && b[n - 11] == b'-'
        && b[n - 6] == b'-'
        && b[n - 3] == b'-'
        && digits(&s[n - 10..n - 6])
        && digits(&s[n - 5..n - 3])
        && digits(&s[n - 2..])
    {
        return &s[..n - 11];
    }
    if let Some(i) = s.rfind('-') {
        let tail = &s[i + 1..];
        if i > 0 && matches!(tail.len(), 3 | 4 | 8) && digits(tail) {
            return &s[..i];
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_seen_in_the_wild() {
        for (id, want) in [
            ("gpt-4o", "gpt-4o"),
            ("gpt-4o-2024-08-06", "gpt-4o"),
            ("openai/gpt-4o", "gpt-4o"),
            ("GPT-4o-Mini", "gpt-4o-mini"),
            ("gpt-4-0613", "gpt-4"),
            ("o1-2024-12-17", "o1"),
            ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
            ("anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
            ("anthropic.claude-sonnet-4-5-v1:0", "claude-sonnet-4-5"),
            ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
            ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
            ("anthropic.claude-3-sonnet-20240229-v1:0:200k", "claude-3-sonnet"),
            ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
            ("anthropic/claude-3.5-sonnet", "claude-3-5-sonnet"),
            ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
            ("meta.llama3-3-70b-instruct-v1:0", "llama3-3-70b-instruct"),
            ("openai.gpt-oss-120b-1:0", "gpt-oss-120b"),
            ("mistral.mistral-large-2407-v1:0", "mistral-large"),
            ("mistral-large-latest", "mistral-large"),
            ("models/gemini-2.5-pro", "gemini-2.5-pro"),
            ("gemini-2.0-flash-001", "gemini-2.0-flash"),
            ("projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash", "gemini-2.5-flash"),
            ("llama3.1:8b", "llama3.1:8b"),
            ("us.nova", "us.nova"),
            ("deepseek-chat", "deepseek-chat"),
            ("claude-sonnet-4-5", "claude-sonnet-4-5"),
        ] {
            assert_eq!(normalise(id), want, "{id}");
        }
    }

    #[test]
    fn borrows_when_nothing_to_rewrite() {
        assert!(matches!(normalise("openai/gpt-4o-2024-08-06"), Cow::Borrowed("gpt-4o")));
    }
}
