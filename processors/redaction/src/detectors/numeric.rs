//! Digit-group entities: credit cards, US SSNs, phone numbers, IPv4 and IBANs.
//!
//! A "numeric token" is a run of digit groups joined by short separators
//! (`-`, `.`, `/`, space, parentheses), optionally led by `+` or `(`. Each
//! classifier checks group shapes, separators and checksums; sub-ranges of a
//! token are tried too, so "call 555-123-4567 2 times" still finds the phone.

use super::checks::{card_brand_ok, iban_len, iban_mod97, luhn, ssn_ok};
use super::network::ipv4;
use super::{is_word, word_at, word_before, Builtin};

const MAX_GROUPS: usize = 12;
/// Longest digit string any classifier accepts (E.164 15, cards 19).
const MAX_DIGITS: usize = 19;

#[derive(Clone, Copy, Default)]
struct Group {
    start: usize,
    end: usize,
}

struct Token<'a> {
    s: &'a [u8],
    /// `+` directly before the first group.
    plus: bool,
    groups: [Group; MAX_GROUPS],
    n: usize,
}

impl Token<'_> {
    fn len(&self, k: usize) -> usize {
        self.groups[k].end - self.groups[k].start
    }
    fn digits(&self, k: usize) -> &[u8] {
        &self.s[self.groups[k].start..self.groups[k].end]
    }
    /// The separator before group `k` (k >= 1).
    fn sep(&self, k: usize) -> &[u8] {
        &self.s[self.groups[k - 1].end..self.groups[k].start]
    }
    /// Group `k` is wrapped in parentheses, as in `(555) 123-4567`.
    fn paren(&self, k: usize) -> bool {
        let st = self.groups[k].start;
        st > 0 && self.s[st - 1] == b'(' && self.s.get(self.groups[k].end) == Some(&b')')
    }
}

/// Which separators may join two digit groups.
fn is_sep(sep: &[u8]) -> bool {
    matches!(sep, b" " | b"-" | b"." | b"/" | b")" | b") " | b")-" | b" (" | b"(")
}

/// Where the next digit group starts, if a separator joins one to the
/// group whose digits end at `i`: one or two separator bytes, then a digit.
#[inline]
fn next_group(s: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    while j < s.len() && j - i < 2 && matches!(s[j], b' ' | b'-' | b'.' | b'/' | b'(' | b')') {
        j += 1;
    }
    (j > i && j < s.len() && s[j].is_ascii_digit() && is_sep(&s[i..j])).then_some(j)
}

/// The end of the digits of the group starting at `i`.
#[inline]
fn digits_end(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && s[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// Reads the numeric token whose first digit is at `p`.
fn token(s: &[u8], p: usize) -> Token<'_> {
    let mut t = Token { s, plus: p > 0 && s[p - 1] == b'+', groups: [Group::default(); MAX_GROUPS], n: 0 };
    let mut i = p;
    loop {
        let end = digits_end(s, i);
        t.groups[t.n] = Group { start: i, end };
        t.n += 1;
        if t.n == MAX_GROUPS {
            break;
        }
        match next_group(s, end) {
            Some(k) => i = k,
            None => break,
        }
    }
    t
}

/// Most numbers in prose are short and alone ("version 4.2", "40%"): fewer
/// than four groups is no IPv4, fewer than eight digits no card, SSN or
/// phone, and a lone run of under 13 digits without `+` is an id. Returns
/// the token's end when it is such a number, read without building it.
#[inline]
fn too_small(s: &[u8], p: usize) -> Option<usize> {
    let mut end = digits_end(s, p);
    let first = end - p;
    let Some(mut k) = next_group(s, end) else {
        let plus = p > 0 && s[p - 1] == b'+';
        return (first < 8 || (!plus && first < 13)).then_some(end);
    };
    let (mut groups, mut digits) = (1, first);
    loop {
        if digits >= 8 {
            return None;
        }
        end = digits_end(s, k);
        groups += 1;
        digits += end - k;
        match next_group(s, end) {
            Some(n) if groups < 3 => k = n,
            Some(_) => return None,
            None => return (digits < 8).then_some(end),
        }
    }
}

/// Checks for a numeric entity at the digit at `p`, the first digit not
/// yet read, calling `found(start, end, kind)` for what it finds. Returns
/// where the next check may start: the digits before it have been read.
#[inline]
pub(crate) fn at(s: &[u8], p: usize, want: &Want, found: &mut impl FnMut(usize, usize, Builtin)) -> usize {
    if word_before(s, p) {
        return in_word(s, p, want, found);
    }
    match too_small(s, p) {
        Some(end) => end,
        None => classify_token(s, p, want, found),
    }
}

/// A digit glued to the letters before it: an IBAN's check digits, or
/// digits inside a word (ids, hashes, `v2`), which start nothing.
fn in_word(s: &[u8], p: usize, want: &Want, found: &mut impl FnMut(usize, usize, Builtin)) -> usize {
    // IBAN: two uppercase letters then check digits, at a word start.
    if want.iban && p >= 2 && s[p - 1].is_ascii_uppercase() && s[p - 2].is_ascii_uppercase() && !word_before(s, p - 2) {
        if let Some(end) = iban(s, p - 2) {
            found(p - 2, end, Builtin::Iban);
            return end;
        }
    }
    let mut i = p;
    while i < s.len() && is_word(s[i]) {
        i += 1;
    }
    i
}

/// The numeric token at `p`, classified whole and by its sub-ranges.
#[inline(never)]
fn classify_token(s: &[u8], p: usize, want: &Want, found: &mut impl FnMut(usize, usize, Builtin)) -> usize {
    let t = token(s, p);
    // The tail of a grouped IBAN-like code ("DE12 3456 ...") is not a card or phone.
    if !iban_like_before(s, p) {
        classify_all(&t, want, found);
    }
    t.groups[t.n - 1].end.max(p + 1)
}

/// Finds numeric entities in `s`, calling `found(start, end, kind)`.
/// `want` tells which kinds are enabled.
#[cfg(test)]
pub(crate) fn scan(s: &[u8], want: &Want, found: &mut impl FnMut(usize, usize, Builtin)) {
    super::trigger::for_each(s, |p| if s[p].is_ascii_digit() { at(s, p, want, found) } else { p + 1 });
}

/// Which numeric detectors are on.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Want {
    pub card: bool,
    pub ssn: bool,
    pub phone: bool,
    pub ip: bool,
    pub iban: bool,
}

impl Want {
    pub fn any(&self) -> bool {
        self.card || self.ssn || self.phone || self.ip || self.iban
    }
}

/// Whether groups `k - 1` and `k` are two 4-digit blocks joined by a space,
/// as in a grouped card or account number: such a run is never split.
fn block_joint(t: &Token, k: usize) -> bool {
    t.sep(k) == b" " && t.len(k - 1) == 4 && t.len(k) == 4
}

/// Whether `p` continues space-separated 4-character groups that start
/// with an IBAN-like head (two uppercase letters, two digits).
fn iban_like_before(s: &[u8], p: usize) -> bool {
    let mut pos = p;
    for _ in 0..8 {
        if pos < 5 || s[pos - 1] != b' ' {
            return false;
        }
        let g = &s[pos - 5..pos - 1];
        if !g.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) || word_before(s, pos - 5) {
            return false;
        }
        if g[..2].iter().all(u8::is_ascii_uppercase) && g[2..].iter().all(u8::is_ascii_digit) {
            return true;
        }
        pos -= 5;
    }
    false
}

fn classify_all(t: &Token, want: &Want, found: &mut impl FnMut(usize, usize, Builtin)) {
    let mut i = 0;
    'outer: while i < t.n {
        // A sub-token starts at the token start or after a space.
        if i > 0 && (!matches!(t.sep(i), b" " | b" (") || block_joint(t, i)) {
            i += 1;
            continue;
        }
        let hi = (i + 8).min(t.n);
        for j in (i..hi).rev() {
            if j + 1 < t.n && ((t.sep(j + 1)[0] != b' ' && t.sep(j + 1) != b") ") || block_joint(t, j + 1)) {
                continue;
            }
            if word_at(t.s, t.groups[j].end) {
                continue;
            }
            if let Some((kind, start)) = classify(t, i, j, want) {
                let mut end = t.groups[j].end;
                if kind == Builtin::Phone {
                    end = extension(t.s, end);
                }
                found(start, end, kind);
                i = j + 1;
                continue 'outer;
            }
        }
        i += 1;
    }
}

/// A phone extension after `end` (" x123", " ext. 123", " ext 123"), included in the match.
fn extension(s: &[u8], end: usize) -> usize {
    let rest = &s[end..];
    let skip =
        [&b" x"[..], b" ext. ", b" ext.", b" ext ", b" x "].iter().find(|p| rest.starts_with(p)).map(|p| p.len());
    let Some(k) = skip else { return end };
    let n = rest[k..].iter().take(7).take_while(|c| c.is_ascii_digit()).count();
    if (1..=6).contains(&n) && !word_at(s, end + k + n) {
        end + k + n
    } else {
        end
    }
}

/// Classifies groups `i..=j`; returns the kind and the match start.
fn classify(t: &Token, i: usize, j: usize, want: &Want) -> Option<(Builtin, usize)> {
    let g = j - i + 1;
    let plus = i == 0 && t.plus;
    // Every kind but IPv4 (four groups) needs nine digits or more, or eight
    // after a `+`: dates, times and versions end here.
    if g != 4 && (i..=j).map(|k| t.len(k)).sum::<usize>() < if plus { 8 } else { 9 } {
        return None;
    }
    let mut buf = [0u8; MAX_DIGITS + 2];
    let mut nd = 0;
    for k in i..=j {
        let d = t.digits(k);
        if nd + d.len() > buf.len() {
            return None;
        }
        buf[nd..nd + d.len()].copy_from_slice(d);
        nd += d.len();
    }
    let digits = &buf[..nd];
    // Group lengths and the separators between them (seps[k] precedes group k+1).
    let mut lens_a = [0usize; 8];
    let mut seps_a: [&[u8]; 8] = [b""; 8];
    for k in i..=j {
        lens_a[k - i] = t.len(k);
        if k > i {
            seps_a[k - i - 1] = t.sep(k);
        }
    }
    let (lens, seps) = (&lens_a[..g], &seps_a[..g - 1]);
    let start = t.groups[i].start;

    if want.ip && g == 4 && !plus && seps.iter().all(|s| *s == b".") {
        let dotted_before = i > 0 && t.sep(i) == b".";
        let dotted_after = j + 1 < t.n && t.sep(j + 1) == b".";
        let end = t.groups[j].end;
        if !dotted_before && !dotted_after && ipv4(&t.s[start..end]) {
            return Some((Builtin::IpAddress, start));
        }
    }
    if want.card && !plus && (13..=19).contains(&nd) && card_shape(lens, seps) && card_brand_ok(digits) && luhn(digits)
    {
        return Some((Builtin::CreditCard, start));
    }
    if want.ssn && !plus && lens == [3, 2, 4] {
        let (a, b) = (seps[0], seps[1]);
        if a == b && (a == b"-" || a == b" ") && ssn_ok(digits) {
            return Some((Builtin::UsSsn, start));
        }
    }
    if want.phone {
        if let Some(st) = phone(t, i, j, digits, lens, seps) {
            return Some((Builtin::Phone, st));
        }
    }
    None
}

fn card_shape(lens: &[usize], seps: &[&[u8]]) -> bool {
    let Some(first) = seps.first() else { return true };
    if !(*first == b" " || *first == b"-") || seps.iter().any(|s| s != first) {
        return false;
    }
    match lens {
        [4, 6, 5] | [4, 6, 4] => true,
        [head @ .., last] => lens.len() >= 3 && head.iter().all(|&l| l == 4) && (1..=4).contains(last),
        [] => false,
    }
}

/// Phone numbers: international (`+` or `00`), US national, and national
/// numbers with a trunk `0` (UK, DE, FR, ...). Bare digit runs without `+`
/// are never phones: they are ids, order numbers and timestamps.
fn phone(t: &Token, i: usize, j: usize, digits: &[u8], lens: &[usize], seps: &[&[u8]]) -> Option<usize> {
    let g = j - i + 1;
    let nd = digits.len();
    let start = t.groups[i].start;

    if i == 0 && t.plus {
        // E.164: up to 15 digits; a "(0)" trunk digit is not counted.
        let trunk = (i + 1..=j).filter(|&k| t.digits(k) == b"0" && t.paren(k)).count();
        let n = nd - trunk;
        let ok_seps = seps.iter().all(|s| matches!(*s, b" " | b"-" | b"." | b" (" | b"(" | b")" | b") " | b")-"));
        return ((8..=15).contains(&n) && digits[0] != b'0' && ok_seps).then_some(start - 1);
    }
    let paren0 = t.paren(i) && (i == 0 || t.sep(i) == b" (");
    let lead = if paren0 { start - 1 } else { start };

    // International prefix 00 instead of +.
    if nd > 10 && digits.starts_with(b"00") && !paren0 && g >= 2 && digits[2] != b'0' {
        let same = seps.iter().all(|s| *s == seps[0] && matches!(*s, b" " | b"-"));
        return ((8..=15).contains(&(nd - 2)) && same).then_some(lead);
    }
    // US: (NXX) XXX-XXXX, NXX-XXX-XXXX, 1-NXX-XXX-XXXX; never bare.
    // Area codes should start with 2-9, but (123) 456-7890 and 123-456-7890
    // are written as phones all the same; only the space form insists.
    let us = |a: usize, lens: &[usize], seps: &[&[u8]]| -> bool {
        if lens != [3, 3, 4] {
            return false;
        }
        if t.paren(a) {
            matches!(seps[0], b")" | b") " | b")-") && matches!(seps[1], b"-" | b" " | b".")
        } else {
            seps[0] == seps[1]
                && (matches!(seps[0], b"-" | b".") || (seps[0] == b" " && (b'2'..=b'9').contains(&t.digits(a)[0])))
        }
    };
    if g == 3 && us(i, lens, seps) {
        return Some(lead);
    }
    if g == 4
        && t.digits(i) == b"1"
        && matches!(seps[0], b"-" | b" " | b" (" | b".")
        && us(i + 1, &lens[1..], &seps[1..])
    {
        return Some(start);
    }
    // Brazil: (DD) DDDD-DDDD and (DD) 9DDDD-DDDD.
    if g == 3
        && paren0
        && lens[0] == 2
        && digits[0] != b'0'
        && (4..=5).contains(&lens[1])
        && lens[2] == 4
        && matches!(seps[0], b")" | b") ")
        && seps[1] == b"-"
    {
        return Some(lead);
    }
    // National with trunk 0: 020 7946 0958, 030/12345678, (0221) 123456, 01 23 45 67 89.
    // Nine digits only as area + subscriber ("030 901820"), as older German lines are.
    let short_ok = nd == 9 && g == 2 && (3..=5).contains(&lens[0]) && lens[1] >= 5;
    if g >= 2 && ((10..=12).contains(&nd) || short_ok) && digits[0] == b'0' && digits[1] != b'0' {
        let first_ok = match seps[0] {
            b" " | b"-" | b"." | b"/" => !paren0,
            b")" | b") " => paren0,
            _ => false,
        };
        let rest = &seps[1..];
        let rest_ok = rest.iter().all(|s| *s == rest[0] && matches!(*s, b" " | b"-" | b"."));
        let dots = seps.iter().any(|s| *s == b".");
        let dots_ok = !dots || seps.iter().all(|s| *s == b".");
        let lens_ok = (2..=5).contains(&lens[0])
            && lens[1..].iter().all(|&l| l >= 2)
            && (lens[0] > 2 || lens.iter().all(|&l| l == 2));
        if first_ok && rest_ok && dots_ok && lens_ok {
            return Some(lead);
        }
    }
    None
}

/// An IBAN starting at `p` (two uppercase letters), ungrouped or grouped
/// by four with single spaces. Returns its end.
fn iban(s: &[u8], p: usize) -> Option<usize> {
    let want = iban_len(&s[p..p + 2])?;
    let mut buf = [0u8; 34];
    let mut n = 0;
    let mut i = p;
    let mut grouped = None;
    while n < want && i < s.len() {
        let c = s[i];
        if c.is_ascii_uppercase() || c.is_ascii_digit() {
            buf[n] = c;
            n += 1;
            i += 1;
        } else if c == b' '
            && n % 4 == 0
            && n > 0
            && grouped != Some(false)
            && i + 1 < s.len()
            && s[i + 1].is_ascii_alphanumeric()
        {
            grouped = Some(true);
            i += 1;
        } else {
            return None;
        }
        if n == 4 && grouped.is_none() && i < s.len() && s[i] != b' ' {
            grouped = Some(false);
        }
    }
    if n != want || word_at(s, i) || !buf[2..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    iban_mod97(&buf[..n]).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> Vec<(&str, Builtin)> {
        let want = Want { card: true, ssn: true, phone: true, ip: true, iban: true };
        let mut v = Vec::new();
        scan(s.as_bytes(), &want, &mut |a, b, k| v.push((&s[a..b], k)));
        v
    }

    #[test]
    fn phones() {
        for p in [
            "+14155552671",
            "+1 415-555-2671",
            "+1 (415) 555-2671",
            "+44 20 7946 0958",
            "+49 (0)30 12345678",
            "(555) 123-4567",
            "555-123-4567",
            "555.123.4567",
            "1-800-555-0199",
            "020 7946 0958",
            "07700 900123",
            "030 12345678",
            "0151 23456789",
            "030/1234567",
            "01 23 45 67 89",
            "(11) 91234-5678",
            "030 901820",
            "(54) 4911-4504",
            "453.729.2799 x858",
            "(215) 139-1874 ext. 12",
            "0044 20 7946 0958",
        ] {
            let text = format!("call me at {p}, thanks");
            assert_eq!(all(&text), vec![(p, Builtin::Phone)], "{p}");
        }
    }

    #[test]
    fn not_phones() {
        for n in [
            "1700000000",
            "1700000000123",
            "2024-01-15",
            "2024-01-15 10:30:00",
            "15.01.2024",
            "01/15/2024",
            "order 48213957",
            "ORD-2024-000123",
            "v1.2.3",
            "2.14.0",
            "4111111111111112",
            "4155552671",
            "123-45-6789-0",
        ] {
            assert_eq!(all(&format!("see {n} now")), vec![], "{n}");
        }
    }

    #[test]
    fn cards_ssn_ip_iban() {
        assert_eq!(all("card 4111 1111 1111 1111."), vec![("4111 1111 1111 1111", Builtin::CreditCard)]);
        assert_eq!(all("amex 3782-822463-10005"), vec![("3782-822463-10005", Builtin::CreditCard)]);
        assert_eq!(all("ssn 078-05-1120"), vec![("078-05-1120", Builtin::UsSsn)]);
        assert_eq!(all("ssn 078-05 1120"), vec![]);
        assert_eq!(all("ssn 666-05-1120"), vec![]);
        assert_eq!(all("ip 10.0.0.1:80"), vec![("10.0.0.1", Builtin::IpAddress)]);
        assert_eq!(all("ip 999.1.1.1"), vec![]);
        assert_eq!(all("iban DE89 3704 0044 0532 0130 00."), vec![("DE89 3704 0044 0532 0130 00", Builtin::Iban)]);
        assert_eq!(all("iban GB82WEST12345698765432"), vec![("GB82WEST12345698765432", Builtin::Iban)]);
        assert_eq!(all("iban DE89370400440532013001"), vec![]);
        assert_eq!(all("call 555-123-4567 2 times"), vec![("555-123-4567", Builtin::Phone)]);
    }
}
