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
    while i < b.len() {
        let c = b[i];
        if matches!(c, b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') {
            if !want_value {
                return None;
            }
            want_value = false;
        }
        match c {
            b'"' => {
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
            b'-' | b'0'..=b'9' => {
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
            b'{' | b'[' | b':' | b',' => {
                want_value = true;
                i += 1;
            }
            b'}' | b']' => {
                want_value = false;
                i += 1;
            }
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b't' | b'f' | b'n' => {
                let lit: &[u8] = match c {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                if !b[i..].starts_with(lit) {
                    return None;
                }
                i += lit.len();
            }
            _ => return None,
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

/// The index of the closing quote of the string whose content starts at
/// `start`, and whether it holds escapes.
fn string_end(b: &[u8], start: usize) -> Option<(usize, bool)> {
    let mut i = start;
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
