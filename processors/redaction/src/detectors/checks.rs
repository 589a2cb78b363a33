//! Checksums and validity rules that keep false positives down.

/// Luhn check over ASCII digits.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Card brand prefixes (IIN ranges) with their plausible lengths. A random
/// Luhn-valid number passes one time in ten, so the prefix matters.
pub(crate) fn card_brand_ok(d: &[u8]) -> bool {
    let n = d.len();
    let p = |k: usize| -> u32 { d[..k].iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0')) };
    match d[0] {
        b'4' => matches!(n, 13 | 16 | 19),                // Visa
        b'5' => (51..=55).contains(&p(2)) && n == 16,     // Mastercard
        b'2' => (2221..=2720).contains(&p(4)) && n == 16, // Mastercard 2-series
        b'3' => match p(2) {
            34 | 37 => n == 15,                          // Amex
            35 => (16..=19).contains(&n),                // JCB
            30 | 36 | 38 | 39 => (14..=19).contains(&n), // Diners
            _ => false,
        },
        b'6' => (p(4) == 6011 || p(2) == 65 || (644..=649).contains(&p(3)) || p(2) == 62) && (16..=19).contains(&n),
        _ => false,
    }
}

/// US SSN area/group/serial rules (digits only, 9 of them).
pub(crate) fn ssn_ok(d: &[u8]) -> bool {
    let area = &d[0..3];
    area != b"000" && area != b"666" && area[0] != b'9' && &d[3..5] != b"00" && &d[5..9] != b"0000"
}

/// IBAN length by country (ISO 13616 registry).
pub(crate) fn iban_len(cc: &[u8]) -> Option<usize> {
    Some(match cc {
        b"NO" => 15,
        b"BE" => 16,
        b"DK" | b"FI" | b"FO" | b"GL" | b"NL" => 18,
        b"MK" | b"SI" => 19,
        b"AT" | b"BA" | b"EE" | b"KZ" | b"LT" | b"LU" | b"XK" => 20,
        b"CH" | b"HR" | b"LI" | b"LV" => 21,
        b"BG" | b"BH" | b"CR" | b"DE" | b"GB" | b"GE" | b"IE" | b"ME" | b"RS" => 22,
        b"AE" | b"GI" | b"IL" => 23,
        b"AD" | b"CZ" | b"ES" | b"MD" | b"PK" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" | b"VG" => 24,
        b"PT" => 25,
        b"IS" | b"TR" => 26,
        b"FR" | b"GR" | b"IT" | b"MC" | b"MR" | b"SM" => 27,
        b"AL" | b"AZ" | b"CY" | b"DO" | b"GT" | b"HU" | b"LB" | b"PL" => 28,
        b"BR" | b"PS" | b"QA" | b"UA" => 29,
        b"JO" | b"KW" | b"MU" => 30,
        b"MT" => 31,
        _ => return None,
    })
}

/// ISO 7064 mod-97 over the IBAN with its first four characters moved to the end.
/// `s` holds uppercase letters and digits only.
pub(crate) fn iban_mod97(s: &[u8]) -> bool {
    let mut rem = 0u32;
    for &c in s[4..].iter().chain(&s[..4]) {
        rem = match c {
            b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(c - b'A' + 10)) % 97,
            _ => return false,
        };
    }
    rem == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        assert!(luhn(b"4111111111111111"));
        assert!(!luhn(b"4111111111111112"));
        assert!(card_brand_ok(b"4111111111111111"));
        assert!(card_brand_ok(b"378282246310005"));
        assert!(!card_brand_ok(b"1700000000123"));
        assert!(iban_mod97(b"DE89370400440532013000"));
        assert!(iban_mod97(b"GB82WEST12345698765432"));
        assert!(!iban_mod97(b"DE89370400440532013001"));
        assert!(ssn_ok(b"078051120"));
        assert!(!ssn_ok(b"666051120"));
        assert!(!ssn_ok(b"900051120"));
        assert!(!ssn_ok(b"078001120"));
        assert!(!ssn_ok(b"078050000"));
    }
}
