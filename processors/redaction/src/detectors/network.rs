//! IPv4 and IPv6 addresses: a candidate must parse as an address.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{is_word, word_before};

/// Four dot-separated digit groups, each a valid octet without leading zeros
/// (`Ipv4Addr`'s parser rejects them, as it does `999.1.1.1`).
pub(crate) fn ipv4(text: &[u8]) -> bool {
    text.len() <= 15 && std::str::from_utf8(text).ok().and_then(|t| t.parse::<Ipv4Addr>().ok()).is_some()
}

#[inline]
fn v6_char(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// An IPv6 address around the `:` at `c`. Returns its span, or where to
/// resume scanning when it is not one.
pub(crate) fn ipv6_at(s: &[u8], c: usize) -> Result<(usize, usize), usize> {
    let left_ok = c > 0 && (s[c - 1].is_ascii_hexdigit() || s[c - 1] == b':');
    let right_ok = c + 1 < s.len() && (s[c + 1].is_ascii_hexdigit() || s[c + 1] == b':');
    if !left_ok || !right_ok {
        return Err(c + 1);
    }
    let mut start = c;
    while start > 0 && v6_char(s[start - 1]) && c - start < 45 {
        start -= 1;
    }
    let mut end = c + 1;
    while end < s.len() && v6_char(s[end]) && end - start < 50 {
        end += 1;
    }
    let resume = end;
    // `std::io` or `u8::MAX`: a hex run glued to a word is code, not an address.
    if word_before(s, start) || (end < s.len() && is_word(s[end])) {
        return Err(resume);
    }
    // Sentence punctuation: "at fe80::1." or "addr 2001:db8::1: refused".
    while end > start && s[end - 1] == b'.' {
        end -= 1;
    }
    if end - start > 2 && s[end - 1] == b':' && s[end - 2] != b':' {
        end -= 1;
    }
    let tok = &s[start..end];
    let colons = tok.iter().filter(|&&b| b == b':').count();
    if colons < 2 || !tok.iter().any(u8::is_ascii_digit) {
        return Err(resume);
    }
    match std::str::from_utf8(tok).ok().and_then(|t| t.parse::<Ipv6Addr>().ok()) {
        Some(_) => Ok((start, end)),
        None => Err(resume),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> Option<&str> {
        let c = s.find(':')?;
        ipv6_at(s.as_bytes(), c).ok().map(|(a, b)| &s[a..b])
    }

    #[test]
    fn addresses() {
        assert!(ipv4(b"192.168.1.10"));
        assert!(!ipv4(b"999.1.1.1"));
        assert!(!ipv4(b"01.2.3.4"));
        assert_eq!(v6("host 2001:db8::8a2e:370:7334."), Some("2001:db8::8a2e:370:7334"));
        assert_eq!(v6("[fe80::1%eth0]"), Some("fe80::1"));
        assert_eq!(v6("at 10:30:45 today"), None);
        assert_eq!(v6("std::io::Result"), None);
        assert_eq!(v6("00:1A:2B:3C:4D:5E"), None);
    }
}
