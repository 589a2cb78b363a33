//! JSON-valued strings (`gen_ai.input.messages` and the like): redacts the
//! text inside JSON strings and leaves the structure alone, so valid JSON
//! stays valid. A string without escapes is scanned in place; one with
//! escapes is decoded, scanned and re-encoded only if something matched.
//! A number that holds a match (a card number written as a JSON number)
//! becomes a JSON string holding the placeholder.

use std::borrow::Cow;

use crate::scan::{Hit, Redacted, Scanner};

/// `None` when `s` is not JSON-shaped (text outside strings other than JSON
/// punctuation, literals and numbers, or an unterminated string): the
/// caller then scans it as plain text.
pub(crate) fn redact<'a>(sc: &Scanner, s: &'a str) -> Option<Redacted<'a>> {
    let b = s.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut hits: Vec<Hit> = Vec::new();
    // Two values in a row ("4111 1111") mean this is not JSON: the text
    // between strings must be scanned as a whole.
    let mut want_value = true;
    let mut i = 0;
    'values: while i < b.len() {
        // Punctuation and whitespace up to the next value, in a loop of its own.
        let mut class = CLASS[b[i] as usize];
        while class < STRING {
            match class {
                OPEN => want_value = true,
                CLOSE => want_value = false,
                SPACE => {}
                _ => return None,
            }
            i += 1;
            if i == b.len() {
                break 'values;
            }
            class = CLASS[b[i] as usize];
        }
        if !want_value {
            return None;
        }
        want_value = false;
        match class {
            STRING => {
                let start = i + 1;
                let (end, escaped) = string_end(b, start)?;
                let raw = &s[start..end];
                hits.clear();
                if escaped {
                    // Decoded into a reused buffer: no allocation unless something matched.
                    let found = DECODED.with(|buf| {
                        let mut text = buf.borrow_mut();
                        text.clear();
                        decode_into(raw, &mut text)?;
                        sc.find(&text, &mut hits);
                        if hits.is_empty() {
                            return Some(None);
                        }
                        if let Some(w) = sc.whole(&hits) {
                            return Some(Some(Err(w)));
                        }
                        let mut plain = String::with_capacity(text.len());
                        sc.render(&text, &hits, &mut plain);
                        if text.capacity() > KEEP_BUFFER {
                            *text = String::new();
                        }
                        Some(Some(Ok(plain)))
                    })?;
                    match found {
                        None => {}
                        Some(Err(whole)) => return Some(whole),
                        Some(Ok(plain)) => {
                            let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
                            o.push_str(&s[copied..start]);
                            encode_into(&plain, o);
                            copied = end;
                        }
                    }
                } else {
                    sc.find(raw, &mut hits);
                    if !hits.is_empty() {
                        if let Some(w) = sc.whole(&hits) {
                            return Some(w);
                        }
                        let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
                        o.push_str(&s[copied..start]);
                        // Placeholders hold no quote, backslash or control character.
                        sc.render(raw, &hits, o);
                        copied = end;
                    }
                }
                i = end + 1;
            }
            NUMBER => {
                let end = i + b[i..]
                    .iter()
                    .position(|&c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .unwrap_or(b.len() - i);
                // Short numbers hold no built-in entity (custom rules may match anything).
                if end - i >= 8 || sc.has_custom() {
                    let num = &s[i..end];
                    hits.clear();
                    sc.find(num, &mut hits);
                    if !hits.is_empty() {
                        if let Some(w) = sc.whole(&hits) {
                            return Some(w);
                        }
                        let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
                        o.push_str(&s[copied..i]);
                        o.push('"');
                        sc.render(num, &hits, o);
                        o.push('"');
                        copied = end;
                    }
                }
                i = end;
            }
            _ => {
                let lit: &[u8] = match b[i] {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                if !b[i..].starts_with(lit) {
                    return None;
                }
                i += lit.len();
            }
        }
    }
    Some(match out {
        None => Redacted::Unchanged,
        Some(mut o) => {
            o.push_str(&s[copied..]);
            Redacted::Changed(Cow::Owned(o))
        }
    })
}

// What a byte outside strings can be; values (string and up) are the ones
// that must not follow another value directly.
const INVALID: u8 = 0;
const SPACE: u8 = 1;
/// `{`, `[`, `:` and `,`: a value may follow.
const OPEN: u8 = 2;
/// `}` and `]`: a value ended.
const CLOSE: u8 = 3;
const STRING: u8 = 4;
const NUMBER: u8 = 5;
/// The first byte of `true`, `false` or `null`.
const LITERAL: u8 = 6;

/// The class of every byte, so the walk between strings is one lookup.
static CLASS: [u8; 256] = {
    let mut t = [INVALID; 256];
    t[b' ' as usize] = SPACE;
    t[b'\t' as usize] = SPACE;
    t[b'\r' as usize] = SPACE;
    t[b'\n' as usize] = SPACE;
    t[b'{' as usize] = OPEN;
    t[b'[' as usize] = OPEN;
    t[b':' as usize] = OPEN;
    t[b',' as usize] = OPEN;
    t[b'}' as usize] = CLOSE;
    t[b']' as usize] = CLOSE;
    t[b'"' as usize] = STRING;
    t[b'-' as usize] = NUMBER;
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = NUMBER;
        d += 1;
    }
    t[b't' as usize] = LITERAL;
    t[b'f' as usize] = LITERAL;
    t[b'n' as usize] = LITERAL;
    t
};

/// The index of the closing quote of the string whose content starts at
/// `start`, and whether it holds escapes.
fn string_end(b: &[u8], start: usize) -> Option<(usize, bool)> {
    // Most strings are keys and short values: look at the first 16 bytes
    // before starting a search built for long haystacks.
    let mut i = start;
    match short_quote_or_backslash(b, start) {
        Some(k) if b[k] == b'"' => return Some((k, false)),
        Some(_) => {}
        None => i = (start + 16).min(b.len()),
    }
    let mut escaped = false;
    loop {
        let k = i + memchr::memchr2(b'"', b'\\', &b[i..])?;
        if b[k] == b'"' {
            return Some((k, escaped));
        }
        escaped = true;
        i = k + 2;
        if i > b.len() {
            return None;
        }
    }
}

/// The first `"` or `\\` in `b[start..start + 16]`, when those bytes exist.
#[inline]
fn short_quote_or_backslash(b: &[u8], start: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if start + 16 <= b.len() {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is in the x86_64 baseline; the load reads b[start..start + 16], in bounds.
        let mask = unsafe {
            let v = _mm_loadu_si128(b.as_ptr().add(start) as *const __m128i);
            let q = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let e = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            _mm_movemask_epi8(_mm_or_si128(q, e))
        };
        return (mask != 0).then(|| start + mask.trailing_zeros() as usize);
    }
    let end = (start + 16).min(b.len());
    b[start..end].iter().position(|&c| c == b'"' || c == b'\\').map(|k| start + k)
}

thread_local! {
    static DECODED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A decode buffer larger than this is not kept between values.
const KEEP_BUFFER: usize = 64 << 10;

/// Decodes a JSON string's content into `out`; `None` on a malformed escape.
fn decode_into(raw: &str, out: &mut String) -> Option<()> {
    let mut rest = raw;
    while let Some(k) = rest.find('\\') {
        out.push_str(&rest[..k]);
        let e = *rest.as_bytes().get(k + 1)?;
        if !matches!(e, b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' | b'u') {
            return None;
        }
        rest = &rest[k + 2..];
        match e {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let hi = hex4(rest)?;
                rest = &rest[4..];
                let cp = if (0xD800..0xDC00).contains(&hi) && rest.starts_with("\\u") {
                    match hex4(&rest[2..]) {
                        Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                            rest = &rest[6..];
                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        }
                        _ => 0xFFFD,
                    }
                } else {
                    hi
                };
                out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
            }
            _ => return None,
        }
    }
    out.push_str(rest);
    Some(())
}

fn hex4(s: &str) -> Option<u32> {
    let h = s.get(..4)?;
    if !h.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(h, 16).ok()
}

/// Appends `s` as JSON string content (without the quotes).
fn encode_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(raw: &str) -> Option<String> {
        let mut s = String::new();
        decode_into(raw, &mut s).map(|_| s)
    }

    #[test]
    fn string_ends_around_the_short_probe() {
        for n in 0..40 {
            let body = "a".repeat(n);
            let plain = format!("\"{body}\" x");
            assert_eq!(string_end(plain.as_bytes(), 1), Some((n + 1, false)), "{plain}");
            let escaped = format!("\"{body}\\\"b\" x");
            assert_eq!(string_end(escaped.as_bytes(), 1), Some((n + 4, true)), "{escaped}");
            let open = format!("\"{body}");
            assert_eq!(string_end(open.as_bytes(), 1), None, "{open}");
            let open_escape = format!("\"{body}\\");
            assert_eq!(string_end(open_escape.as_bytes(), 1), None, "{open_escape}");
        }
    }

    #[test]
    fn decode_roundtrip() {
        let raw = r#"a\"b\\c\/d\n\u00e9\ud83d\ude00"#;
        let d = decode(raw).unwrap();
        assert_eq!(d, "a\"b\\c/d\né😀");
        let mut e = String::new();
        encode_into(&d, &mut e);
        assert_eq!(decode(&e).unwrap(), d);
        assert!(decode(r"\x").is_none());
    }
}
