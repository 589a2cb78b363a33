//! Email addresses, found from each `@`.

#[inline]
fn local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

#[inline]
fn domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

/// The address around the `@` at `at`, if it is one: a local part of up to
/// 64 characters and a domain of two or more labels whose last is a
/// plausible top-level domain (letters only, 2 to 24 of them).
pub(crate) fn at(text: &str, at: usize) -> Option<(usize, usize)> {
    let s = text.as_bytes();
    let mut start = at;
    while start > 0 && at - start < 64 {
        if local_char(s[start - 1]) {
            start -= 1;
        } else if s[start - 1] >= 0x80 {
            // Internationalised local parts (RFC 6531): letters and digits of any script.
            match text[..start].chars().next_back() {
                Some(c) if c.is_alphanumeric() => start -= c.len_utf8(),
                _ => break,
            }
        } else {
            break;
        }
    }
    // A local part cannot start with a dot; drop leading punctuation.
    while start < at && matches!(s[start], b'.' | b'-' | b'+') {
        start += 1;
    }
    if start == at || s[at - 1] == b'.' {
        return None;
    }
    let mut end = at + 1;
    while end < s.len() && end - at <= 255 && domain_char(s[end]) {
        end += 1;
    }
    // Sentence punctuation after the address is not part of it.
    while end > at + 1 && matches!(s[end - 1], b'.' | b'-') {
        end -= 1;
    }
    let domain = &s[at + 1..end];
    let mut labels = 0;
    let mut tld: &[u8] = &[];
    for label in domain.split(|&b| b == b'.') {
        if label.is_empty() || label.len() > 63 || label[0] == b'-' || label[label.len() - 1] == b'-' {
            return None;
        }
        labels += 1;
        tld = label;
    }
    if labels < 2 || !(2..=24).contains(&tld.len()) || !tld.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    Some((start, end))
}

#[cfg(test)]
mod tests {
    fn find(s: &str) -> Option<&str> {
        let i = s.find('@')?;
        super::at(s, i).map(|(a, b)| &s[a..b])
    }

    #[test]
    fn emails() {
        assert_eq!(find("mail john.doe+tag@mail.example.co.uk."), Some("john.doe+tag@mail.example.co.uk"));
        assert_eq!(find("<a@b.io>"), Some("a@b.io"));
        assert_eq!(find("to léonard@example.net."), Some("léonard@example.net"));
        assert_eq!(find("«max@example.com»"), Some("max@example.com"));
        assert_eq!(find("@decorator.route"), None);
        assert_eq!(find("pkg@1.2.3"), None);
        assert_eq!(find("user@localhost"), None);
    }
}
