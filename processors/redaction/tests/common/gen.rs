//! Deterministic generators for the labelled corpus and the benchmark:
//! entities of every detector in several formats and locales, near-miss
//! look-alikes, and realistic prompt text to embed them in.
#![allow(dead_code)]

use fake::faker::company::en::{Bs, CompanyName};
use fake::faker::creditcard::raw::CreditCardNumber;
use fake::faker::internet::en::DomainSuffix;
use fake::faker::internet::raw::{FreeEmail, IPv4, IPv6, SafeEmail};
use fake::faker::name::en::{FirstName, LastName};
use fake::faker::phone_number::raw::{CellNumber, PhoneNumber};
use fake::locales::{CY_GB, DE_DE, EN, FR_FR, IT_IT, PT_BR};
use fake::Fake;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const HEX: &[u8] = b"0123456789abcdef";

pub fn chars(r: &mut StdRng, alphabet: &[u8], n: usize) -> String {
    (0..n).map(|_| alphabet[r.random_range(0..alphabet.len())] as char).collect()
}

fn digits(r: &mut StdRng, n: usize) -> String {
    chars(r, b"0123456789", n)
}

fn pick<'a, T>(r: &mut StdRng, xs: &'a [T]) -> &'a T {
    &xs[r.random_range(0..xs.len())]
}

fn ascii_name(r: &mut StdRng) -> (String, String) {
    let f: String = FirstName().fake_with_rng(r);
    let l: String = LastName().fake_with_rng(r);
    let clean = |s: String| s.chars().filter(char::is_ascii_alphabetic).collect::<String>();
    (clean(f), clean(l))
}

// ---------- positives ----------

/// Emails from the `fake` crate's locales (it writes its own shapes,
/// including non-ASCII local parts).
fn fake_email(r: &mut StdRng) -> String {
    match r.random_range(0..6) {
        0 => FreeEmail(EN).fake_with_rng(r),
        1 => FreeEmail(DE_DE).fake_with_rng(r),
        2 => SafeEmail(FR_FR).fake_with_rng(r),
        3 => FreeEmail(PT_BR).fake_with_rng(r),
        4 => SafeEmail(IT_IT).fake_with_rng(r),
        _ => FreeEmail(CY_GB).fake_with_rng(r),
    }
}

pub fn email(r: &mut StdRng) -> String {
    if r.random_bool(0.3) {
        return fake_email(r);
    }
    let (f, l) = ascii_name(r);
    let (f, l) = (f.to_lowercase(), l.to_lowercase());
    let local = match r.random_range(0..6) {
        0 => format!("{f}.{l}"),
        1 => format!("{}{l}", &f[..1]),
        2 => format!("{f}_{l}{}", r.random_range(1..99)),
        3 => format!("{f}+{}", pick(r, &["billing", "news", "test", "work", "ai"])),
        4 => format!("{f}.{l}+{}", r.random_range(1..999)),
        _ => format!("{f}{}", r.random_range(1970..2010)),
    };
    let company: String = CompanyName().fake_with_rng(r);
    let base: String = company.to_lowercase().chars().filter(char::is_ascii_alphanumeric).take(14).collect();
    let suffix: String = DomainSuffix().fake_with_rng(r);
    let domain = match r.random_range(0..6) {
        0 => format!("{}.com", pick(r, &["gmail", "outlook", "yahoo", "proton", "icloud"])),
        1 => format!("mail.{base}.co.uk"),
        2 => format!("{}.{base}.de", pick(r, &["eu", "corp", "mx", "intern"])),
        3 => format!("{base}.{suffix}"),
        4 => format!("{}.{base}.io", pick(r, &["dev", "support", "team"])),
        _ => format!("{base}.fr"),
    };
    if r.random_bool(0.15) {
        format!("{}@{}", local.to_uppercase(), domain)
    } else {
        format!("{local}@{domain}")
    }
}

/// Phone numbers from the `fake` crate's locales: US with extensions,
/// French, Brazilian, Italian and Welsh/UK national formats.
fn fake_phone(r: &mut StdRng) -> String {
    match r.random_range(0..7) {
        0 => PhoneNumber(EN).fake_with_rng(r),
        1 => CellNumber(EN).fake_with_rng(r),
        2 => PhoneNumber(FR_FR).fake_with_rng(r),
        3 => PhoneNumber(PT_BR).fake_with_rng(r),
        4 => PhoneNumber(IT_IT).fake_with_rng(r),
        5 => PhoneNumber(CY_GB).fake_with_rng(r),
        _ => PhoneNumber(DE_DE).fake_with_rng(r),
    }
}

pub fn phone(r: &mut StdRng) -> String {
    if r.random_bool(0.3) {
        return fake_phone(r);
    }
    let area = format!("{}{}", r.random_range(2..10), digits(r, 2));
    let exch =
        if r.random_bool(0.3) { "555".to_string() } else { format!("{}{}", r.random_range(2..10), digits(r, 2)) };
    let line = digits(r, 4);
    match r.random_range(0..22) {
        // North America
        0 => format!("({area}) {exch}-{line}"),
        1 => format!("{area}-{exch}-{line}"),
        2 => format!("{area}.{exch}.{line}"),
        3 => format!("1-{area}-{exch}-{line}"),
        4 => format!("+1{area}{exch}{line}"),
        5 => format!("+1 ({area}) {exch}-{line}"),
        6 => format!("+1-{area}-{exch}-{line}"),
        // UK
        7 => format!("+44 20 {} {}", digits(r, 4), digits(r, 4)),
        8 => format!("020 {} {}", digits(r, 4), digits(r, 4)),
        9 => format!("07{} {}", digits(r, 3), digits(r, 6)),
        10 => format!("+44 7{} {}", digits(r, 3), digits(r, 6)),
        11 => format!("0161 {} {}", digits(r, 3), digits(r, 4)),
        // Germany
        12 => format!("+49 30 {}", digits(r, 8)),
        13 => format!("030 {}", digits(r, 8)),
        14 => format!("+49 (0)30 {} {}", digits(r, 4), digits(r, 4)),
        15 => format!("015{} {}", r.random_range(1..8), digits(r, 8)),
        16 => format!("089/{}", digits(r, 7)),
        17 => format!("+49151{}", digits(r, 8)),
        // Other E.164
        18 => {
            format!("+33 {} {} {} {} {}", r.random_range(1..8), digits(r, 2), digits(r, 2), digits(r, 2), digits(r, 2))
        }
        19 => format!("+91 9{} {}", digits(r, 4), digits(r, 5)),
        20 => format!("+61 2 {} {}", digits(r, 4), digits(r, 4)),
        _ => format!("0{} {} {} {} {}", r.random_range(1..8), digits(r, 2), digits(r, 2), digits(r, 2), digits(r, 2)),
    }
}

pub fn luhn_digit(body: &str) -> u8 {
    // Check digit for `body` (without it).
    let mut sum = 0;
    for (i, c) in body.bytes().rev().enumerate() {
        let mut v = (c - b'0') as u32;
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    ((10 - sum % 10) % 10) as u8
}

fn group(s: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    for &n in sizes {
        out.push(&s[i..(i + n).min(s.len())]);
        i += n;
    }
    out.join(sep)
}

/// A Luhn-valid card number (raw digits) of a real brand.
pub fn card_digits(r: &mut StdRng) -> String {
    let (prefix, len) = match r.random_range(0..6) {
        0 | 1 => ("4".to_string(), 16),
        2 => (format!("5{}", r.random_range(1..6)), 16),
        3 => (format!("{}", r.random_range(2221..2721)), 16),
        4 => (format!("3{}", pick(r, &[4, 7])), 15),
        _ => ("6011".to_string(), 16),
    };
    let body = format!("{prefix}{}", digits(r, len - 1 - prefix.len()));
    format!("{body}{}", luhn_digit(&body))
}

pub fn format_card(r: &mut StdRng, d: &str) -> String {
    let amex = d.len() == 15;
    match r.random_range(0..3) {
        0 => d.to_string(),
        1 if amex => group(d, &[4, 6, 5], " "),
        1 => group(d, &[4, 4, 4, 4], " "),
        _ if amex => group(d, &[4, 6, 5], "-"),
        _ => group(d, &[4, 4, 4, 4], "-"),
    }
}

/// A card number from the `fake` crate. Its check digit is wrong for odd
/// lengths (13-digit Visa, Amex), so only Luhn-valid ones are real positives.
fn fake_card(r: &mut StdRng) -> String {
    loop {
        let d: String = CreditCardNumber(EN).fake_with_rng(r);
        if luhn_digit(&d[..d.len() - 1]) == d.as_bytes()[d.len() - 1] - b'0' {
            return d;
        }
    }
}

pub fn credit_card(r: &mut StdRng) -> String {
    let d = if r.random_bool(0.25) { fake_card(r) } else { card_digits(r) };
    format_card(r, &d)
}

fn iban_check(cc: &str, bban: &str) -> u32 {
    let rearranged = format!("{bban}{cc}00");
    let mut rem = 0u32;
    for c in rearranged.bytes() {
        rem = if c.is_ascii_digit() {
            (rem * 10 + (c - b'0') as u32) % 97
        } else {
            (rem * 100 + (c - b'A' + 10) as u32) % 97
        };
    }
    98 - rem
}

fn bban(r: &mut StdRng, cc: &str) -> String {
    let up = |r: &mut StdRng, n| chars(r, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", n);
    match cc {
        "DE" => digits(r, 18),
        "GB" => format!("{}{}", up(r, 4), digits(r, 14)),
        "FR" => digits(r, 23),
        "NL" => format!("{}{}", up(r, 4), digits(r, 10)),
        "ES" => digits(r, 20),
        "IT" => format!("{}{}", up(r, 1), digits(r, 22)),
        "CH" => digits(r, 17),
        "AT" => digits(r, 16),
        "BE" => digits(r, 12),
        _ => digits(r, 24), // PL
    }
}

const IBAN_CC: &[&str] = &["DE", "GB", "FR", "NL", "ES", "IT", "CH", "AT", "BE", "PL"];

fn format_iban(r: &mut StdRng, raw: &str) -> String {
    if r.random_bool(0.5) {
        raw.to_string()
    } else {
        raw.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(" ")
    }
}

pub fn iban(r: &mut StdRng) -> String {
    let cc = *pick(r, IBAN_CC);
    let b = bban(r, cc);
    let raw = format!("{cc}{:02}{b}", iban_check(cc, &b));
    format_iban(r, &raw)
}

pub fn us_ssn(r: &mut StdRng) -> String {
    let mut area = r.random_range(1..900);
    if area == 666 {
        area = 665;
    }
    let sep = if r.random_bool(0.7) { "-" } else { " " };
    format!("{area:03}{sep}{:02}{sep}{:04}", r.random_range(1..100), r.random_range(1..10000))
}

pub fn ip_address(r: &mut StdRng) -> String {
    if r.random_bool(0.2) {
        return IPv4(EN).fake_with_rng(r);
    }
    if r.random_bool(0.1) {
        let v6: String = IPv6(EN).fake_with_rng(r);
        if v6.bytes().any(|b| b.is_ascii_digit()) {
            return v6;
        }
    }
    let o = |r: &mut StdRng| r.random_range(1..255u32);
    let h = |r: &mut StdRng| format!("{:x}", r.random_range(1..0xffffu32));
    match r.random_range(0..6) {
        0 => format!("10.{}.{}.{}", r.random_range(0..255), r.random_range(0..255), o(r)),
        1 => format!("192.168.{}.{}", r.random_range(0..255), o(r)),
        2 | 3 => format!("{}.{}.{}.{}", o(r), o(r), o(r), o(r)),
        4 => format!("2001:db8:{}:{}::{}", h(r), h(r), h(r)),
        _ => {
            let g: Vec<String> = (0..8).map(|_| h(r)).collect();
            let mut s = g.join(":");
            if !s.bytes().any(|b| b.is_ascii_digit()) {
                s = format!("fe80::{}", r.random_range(1..999));
            }
            s
        }
    }
}

pub fn openai_key(r: &mut StdRng) -> String {
    match r.random_range(0..3) {
        0 => format!("sk-{}", chars(r, ALNUM, 48)),
        1 => format!("sk-proj-{}", chars(r, B64URL, 120)),
        _ => format!("sk-svcacct-{}", chars(r, B64URL, 80)),
    }
}

pub fn anthropic_key(r: &mut StdRng) -> String {
    format!("sk-ant-api03-{}AA", chars(r, B64URL, 93))
}

pub fn aws_access_key(r: &mut StdRng) -> String {
    format!("{}{}", pick(r, &["AKIA", "ASIA"]), chars(r, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16))
}

pub fn github_token(r: &mut StdRng) -> String {
    match r.random_range(0..5) {
        0 => format!("github_pat_{}_{}", chars(r, ALNUM, 22), chars(r, ALNUM, 59)),
        _ => format!("{}{}", pick(r, &["ghp_", "gho_", "ghs_", "ghu_"]), chars(r, ALNUM, 36)),
    }
}

pub fn slack_token(r: &mut StdRng) -> String {
    format!("{}{}-{}-{}", pick(r, &["xoxb-", "xoxp-", "xoxe-"]), digits(r, 12), digits(r, 13), chars(r, ALNUM, 24))
}

pub fn google_api_key(r: &mut StdRng) -> String {
    format!("AIza{}", chars(r, B64URL, 35))
}

pub fn stripe_key(r: &mut StdRng) -> String {
    let n = r.random_range(24..100);
    format!("{}{}", pick(r, &["sk_live_", "rk_live_", "sk_test_"]), chars(r, ALNUM, n))
}

pub fn huggingface_token(r: &mut StdRng) -> String {
    format!("hf_{}", chars(r, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 34))
}

pub fn b64url(bytes: &[u8]) -> String {
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..=c.len() {
            out.push(B64URL[(n >> (18 - 6 * k) & 63) as usize] as char);
        }
    }
    out
}

pub fn jwt(r: &mut StdRng) -> String {
    let alg = pick(r, &["HS256", "RS256", "ES256"]);
    let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
    let (f, _) = ascii_name(r);
    let payload = format!(
        r#"{{"sub":"{}","name":"{f}","iat":{},"exp":{}}}"#,
        r.random_range(1000..999999),
        r.random_range(1_600_000_000..1_700_000_000u64),
        r.random_range(1_700_000_000..1_800_000_000u64)
    );
    let sig: Vec<u8> = (0..32).map(|_| r.random()).collect();
    format!("{}.{}.{}", b64url(header.as_bytes()), b64url(payload.as_bytes()), b64url(&sig))
}

pub fn private_key(r: &mut StdRng) -> String {
    let kind = *pick(r, &["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED "]);
    let lines: Vec<String> = (0..r.random_range(3..12))
        .map(|_| chars(r, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 64))
        .collect();
    format!("-----BEGIN {kind}PRIVATE KEY-----\n{}\n-----END {kind}PRIVATE KEY-----", lines.join("\n"))
}

/// Every detector with its generator, by config name and placeholder tag.
pub type Gen = fn(&mut StdRng) -> String;
pub const DETECTORS: &[(&str, &str, Gen)] = &[
    ("email", "EMAIL", email),
    ("phone", "PHONE", phone),
    ("credit_card", "CREDIT_CARD", credit_card),
    ("iban", "IBAN", iban),
    ("us_ssn", "US_SSN", us_ssn),
    ("ip_address", "IP_ADDRESS", ip_address),
    ("openai_key", "OPENAI_KEY", openai_key),
    ("anthropic_key", "ANTHROPIC_KEY", anthropic_key),
    ("aws_access_key", "AWS_ACCESS_KEY", aws_access_key),
    ("github_token", "GITHUB_TOKEN", github_token),
    ("slack_token", "SLACK_TOKEN", slack_token),
    ("google_api_key", "GOOGLE_API_KEY", google_api_key),
    ("stripe_key", "STRIPE_KEY", stripe_key),
    ("huggingface_token", "HUGGINGFACE_TOKEN", huggingface_token),
    ("jwt", "JWT", jwt),
    ("private_key", "PRIVATE_KEY", private_key),
];

// ---------- near misses ----------

fn hex(r: &mut StdRng, n: usize) -> String {
    chars(r, HEX, n)
}

pub fn uuid(r: &mut StdRng) -> String {
    let u = format!(
        "{}-{}-4{}-{}{}-{}",
        hex(r, 8),
        hex(r, 4),
        hex(r, 3),
        pick(r, &["8", "9", "a", "b"]),
        hex(r, 3),
        hex(r, 12)
    );
    if r.random_bool(0.2) {
        u.to_uppercase()
    } else {
        u
    }
}

fn timestamp(r: &mut StdRng) -> String {
    let (y, mo, d) = (r.random_range(2019..2027), r.random_range(1..13), r.random_range(1..29));
    let (h, mi, s) = (r.random_range(0..24), r.random_range(0..60), r.random_range(0..60));
    match r.random_range(0..9) {
        0 => format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        1 => format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}+05:30", r.random_range(0..1000)),
        2 => format!("{y}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
        3 => format!("{}", r.random_range(1_500_000_000u64..1_800_000_000)),
        4 => format!("{}", r.random_range(1_500_000_000_000u64..1_800_000_000_000)),
        5 => format!("{d:02}.{mo:02}.{y} {h:02}:{mi:02}"),
        6 => format!("{mo:02}/{d:02}/{y}"),
        7 => format!("{}", r.random_range(1_500_000_000_000_000_000u64..1_800_000_000_000_000_000)),
        _ => format!("Mon, {d:02} Jan {y} {h:02}:{mi:02}:{s:02} +0000"),
    }
}

fn order_number(r: &mut StdRng) -> String {
    match r.random_range(0..7) {
        0 => format!("ORD-{}-{}", r.random_range(2019..2027), digits(r, 6)),
        1 => format!("#{}", digits(r, 8)),
        2 => format!("order {}", digits(r, 10)),
        3 => format!(
            "PO-{}{:02}{:02}-{}",
            r.random_range(2019..2027),
            r.random_range(1..13),
            r.random_range(1..29),
            digits(r, 4)
        ),
        4 => format!("INV/{}/{}", r.random_range(2019..2027), digits(r, 5)),
        5 => format!("ticket {}", digits(r, 9)),
        _ => format!("tracking 1Z{}", chars(r, b"0123456789ABCDEFGHJKLMNPRSTUVWXYZ", 16)),
    }
}

fn version(r: &mut StdRng) -> String {
    let (a, b, c) = (r.random_range(0..30), r.random_range(0..40), r.random_range(0..200));
    match r.random_range(0..6) {
        0 => format!("v{a}.{b}.{c}"),
        1 => format!("{a}.{b}.{c}"),
        2 => format!("{a}.{b}.{c}-rc.{}", r.random_range(1..5)),
        3 => format!("node {a}.{b}.{c}"),
        4 => format!("v{a}.{b}.{c}.{}", r.random_range(0..9999)),
        _ => format!("react@{a}.{b}.{c}"),
    }
}

fn bad_card(r: &mut StdRng) -> String {
    let d = card_digits(r);
    let last = d.as_bytes()[d.len() - 1] - b'0';
    let bad = format!("{}{}", &d[..d.len() - 1], (last + r.random_range(1..10)) % 10);
    format_card(r, &bad)
}

fn bad_iban(r: &mut StdRng) -> String {
    let cc = *pick(r, IBAN_CC);
    let b = bban(r, cc);
    let good = iban_check(cc, &b);
    let bad = (good + r.random_range(1..96)) % 97;
    let bad = if bad < 2 { good + 1 } else { bad };
    let raw = format!("{cc}{:02}{b}", if bad == good { (good + 1) % 97 } else { bad });
    format_iban(r, &raw)
}

fn bad_ssn(r: &mut StdRng) -> String {
    let g = r.random_range(1..100);
    let s = r.random_range(1..10000);
    match r.random_range(0..6) {
        0 => format!("000-{g:02}-{s:04}"),
        1 => format!("666-{g:02}-{s:04}"),
        2 => format!("{}-{g:02}-{s:04}", r.random_range(900..1000)),
        3 => format!("{:03}-00-{s:04}", r.random_range(1..666)),
        4 => format!("{:03}-{g:02}-0000", r.random_range(1..666)),
        _ => format!("{:03}-{g:02} {s:04}", r.random_range(1..666)),
    }
}

fn bad_ip(r: &mut StdRng) -> String {
    let o = |r: &mut StdRng| r.random_range(0..255);
    match r.random_range(0..4) {
        0 => format!("{}.{}.{}.{}", r.random_range(256..1000), o(r), o(r), o(r)),
        1 => format!("{}.{}.{}.{}", o(r), o(r), r.random_range(300..999), o(r)),
        2 => format!("{}.{}.{}", o(r), o(r), o(r)),
        _ => format!("{}.{}.{}.{}.{}", o(r), o(r), o(r), o(r), o(r)),
    }
}

fn misc(r: &mut StdRng) -> String {
    match r.random_range(0..16) {
        0 => format!("{}:{}:{}:{}:{}:{}", hex(r, 2), hex(r, 2), hex(r, 2), hex(r, 2), hex(r, 2), hex(r, 2))
            .to_uppercase(),
        1 => format!("{:02}:{:02}:{:02}", r.random_range(0..24), r.random_range(0..60), r.random_range(0..60)),
        2 => format!("${},{:03}.{:02}", r.random_range(1..999), r.random_range(0..1000), r.random_range(0..100)),
        3 => format!("{:.4}, {:.4}", r.random_range(-90.0..90.0), r.random_range(-180.0..180.0)),
        4 => format!("{}.{}%", r.random_range(0..100), r.random_range(0..10)),
        5 => format!("localhost:{}", r.random_range(1024..65535)),
        6 => format!("gpt-4o-{}-{:02}-{:02}", r.random_range(2023..2026), r.random_range(1..13), r.random_range(1..29)),
        7 => format!("claude-3-5-sonnet-{}", digits(r, 8)),
        8 => "sk-learn".to_string(),
        9 => "@app.route('/health')".to_string(),
        10 => format!("user@localhost:{}", r.random_range(1000..9999)),
        11 => format!("{} tokens", r.random_range(1000..2_000_000)),
        12 => format!("ISBN 978-{}-{}-{}-{}", r.random_range(0..10), digits(r, 2), digits(r, 6), r.random_range(0..10)),
        13 => format!("zip {}", digits(r, 5)),
        14 => "sk-your-api-key-here".to_string(),
        _ => format!("sha256:{}", hex(r, 64)),
    }
}

/// Look-alikes from the `fake` crate, whose shapes the detectors were not
/// written against: ISBNs, MAC addresses, postcodes, coordinates, user
/// agents, semver, file paths, licence plates.
fn fake_misc(r: &mut StdRng) -> String {
    use fake::faker::address::raw::{Latitude, Longitude, PostCode, ZipCode};
    use fake::faker::automotive::raw::LicencePlate;
    use fake::faker::barcode::raw::{Isbn10, Isbn13};
    use fake::faker::filesystem::raw::{FilePath, Semver};
    use fake::faker::internet::raw::{MACAddress, UserAgent};
    match r.random_range(0..11) {
        0 => Isbn13(EN).fake_with_rng(r),
        1 => Isbn10(EN).fake_with_rng(r),
        2 => MACAddress(EN).fake_with_rng(r),
        3 => ZipCode(EN).fake_with_rng(r),
        4 => PostCode(DE_DE).fake_with_rng(r),
        5 => {
            let (a, b): (String, String) = (Latitude(EN).fake_with_rng(r), Longitude(EN).fake_with_rng(r));
            format!("{a}, {b}")
        }
        6 => UserAgent(EN).fake_with_rng(r),
        7 => Semver(EN).fake_with_rng(r),
        8 => FilePath(EN).fake_with_rng(r),
        9 => LicencePlate(FR_FR).fake_with_rng(r),
        _ => PostCode(CY_GB).fake_with_rng(r),
    }
}

/// Near misses by kind: look-alikes that no detector may match.
pub const NEAR_MISSES: &[(&str, Gen)] = &[
    ("uuid", uuid),
    ("trace_id", |r| hex(r, 32)),
    ("span_id", |r| hex(r, 16)),
    ("git_sha", |r| if r.random_bool(0.7) { hex(r, 40) } else { hex(r, 7) }),
    ("timestamp", timestamp),
    ("order_number", order_number),
    ("version", version),
    ("luhn_invalid_card", bad_card),
    ("bad_iban", bad_iban),
    ("invalid_ssn", bad_ssn),
    ("invalid_ip", bad_ip),
    ("misc", misc),
    ("fake_misc", fake_misc),
];

// ---------- prompt text ----------

const OPENERS: &[&str] = &[
    "Hi, I'm {name} from {company}.",
    "You are a helpful support assistant for {company}.",
    "Please draft a polite reply to {name}.",
    "Summarize the following conversation in three bullet points.",
    "Translate the customer's message into German, keeping the tone friendly.",
    "Can you help me debug this? It started failing after the last deploy.",
    "I need a short status update for the {company} account team.",
    "Rewrite this note so it sounds more professional.",
];

const CLOSERS: &[&str] = &[
    "Thanks a lot!",
    "Keep it under 150 words.",
    "Answer in a numbered list.",
    "What should I do next?",
    "Please respond by Friday.",
    "Let me know if you need anything else from my side.",
    "Use a neutral tone and avoid jargon.",
];

const FILLER: &[&str] = &[
    "We migrated the billing service last week and some invoices went out twice.",
    "The customer says the dashboard takes about 3 seconds to load on mobile.",
    "Our team of 12 engineers is split across two time zones.",
    "The report covers Q3 and compares it with the previous 4 quarters.",
    "They asked whether the 2 licenses can be moved to the new workspace.",
    "I already tried restarting the worker and clearing the cache.",
    "The model answered correctly in 87% of the test cases.",
    "Shipping to the EU usually takes 5 to 7 business days.",
    "Yesterday at 14:32 the job ran for 1,284 seconds and processed 48213 rows.",
    "Log: 2024-03-02T09:15:27.481Z WARN worker-7 pid=31337 latency_ms=1423.7 retries=3 host=api-2",
    "The invoice total was $1,249.99 for 12 seats on plan v2.3.1, due 2024-04-30.",
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 status=500 took 0.842s",
    "```python\nfor i in range(10):\n    print(f\"{i}: {i**2}\")\n```",
];

/// How an entity sits in its sentence, by detector.
fn context(kind: &str) -> &'static [&'static str] {
    match kind {
        "email" => &["You can reach me at {x} any time.", "Please send the invoice to {x}.", "cc {x} on the thread."],
        "phone" => &["My number is {x}, call after 5pm.", "Call me back at {x}.", "Phone: {x}"],
        "credit_card" => &["I paid with card {x} but it was declined.", "Card number: {x}", "charge {x} again please"],
        "iban" => &["Please refund to IBAN {x}.", "Bank details: {x}", "wire it to {x}, thanks"],
        "us_ssn" => &["My SSN is {x}.", "SSN: {x}", "social security number {x} for the form"],
        "ip_address" => &["The request came from {x} last night.", "client_ip={x} status=403", "Whitelist {x} please."],
        "private_key" => &["Here is the key:\n{x}\nplease keep it safe.", "key.pem contents:\n{x}"],
        _ => &[
            "My key is {x}, why does it fail?",
            "export TOKEN={x}",
            "Authorization: Bearer {x}",
            "config: {\"api_key\": \"{x}\"}",
        ],
    }
}

fn fill(r: &mut StdRng, t: &str) -> String {
    let (f, l) = ascii_name(r);
    let company: String = CompanyName().fake_with_rng(r);
    t.replace("{name}", &format!("{f} {l}")).replace("{company}", &company)
}

/// A prompt of a few sentences with `sentence` in the middle.
pub fn prompt(r: &mut StdRng, sentence: &str) -> String {
    let opener = *pick(r, OPENERS);
    let mut parts = vec![fill(r, opener)];
    for _ in 0..r.random_range(0..3) {
        parts.push(pick(r, FILLER).to_string());
    }
    parts.push(sentence.to_string());
    if r.random_bool(0.5) {
        let bs: String = Bs().fake_with_rng(r);
        parts.push(format!("The goal is to {bs}."));
    }
    parts.push(pick(r, CLOSERS).to_string());
    let sep = if r.random_bool(0.3) { "\n" } else { " " };
    parts.join(sep)
}

/// Wraps prompt text the way it reaches telemetry: plain, as OTel GenAI
/// JSON messages, or as a log line.
pub fn wrap(r: &mut StdRng, text: &str) -> String {
    match r.random_range(0..4) {
        0 => serde_json::json!([
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "parts": [{"type": "text", "content": text}]}
        ])
        .to_string(),
        1 => format!("{} INFO llm.request prompt={:?}", timestamp(r), text),
        _ => text.to_string(),
    }
}

/// A labelled positive: text holding exactly one entity of `kind`.
pub fn positive(r: &mut StdRng, kind: &str, g: Gen) -> (String, String) {
    let x = g(r);
    let t = pick(r, context(kind)).replace("{x}", &x);
    let p = prompt(r, &t);
    (wrap(r, &p), x)
}

/// A labelled negative: one to three near misses in prompt text.
pub fn negative(r: &mut StdRng, g: Gen) -> (String, Vec<String>) {
    let xs: Vec<String> = (0..r.random_range(1..4)).map(|_| g(r)).collect();
    let t = match xs.len() {
        1 => format!("Reference: {}.", xs[0]),
        2 => format!("See {} and {} in the logs.", xs[0], xs[1]),
        _ => format!("ids {}, {} (retry of {})", xs[0], xs[1], xs[2]),
    };
    let p = prompt(r, &t);
    (wrap(r, &p), xs)
}

/// A chat prompt of about `size` bytes; with `pii` one entity is planted.
pub fn chat_value(r: &mut StdRng, size: usize, pii: bool) -> String {
    let mut s = String::with_capacity(size + 256);
    while s.len() < size {
        let t = pick(r, FILLER);
        let opener = *pick(r, OPENERS);
        s.push_str(&fill(r, opener));
        s.push(' ');
        s.push_str(t);
        s.push(' ');
        let bs: String = Bs().fake_with_rng(r);
        s.push_str(&format!("The goal is to {bs}. "));
        let closer: &&str = pick(r, CLOSERS);
        s.push_str(closer);
        s.push('\n');
    }
    if pii {
        let (kind, _, g) = *pick(r, DETECTORS);
        let x = g(r);
        let at = s[..s.len() / 2].rfind(' ').unwrap_or(0);
        s.insert_str(at, &format!(" {} ", pick(r, context(kind)).replace("{x}", &x)));
    }
    s
}
