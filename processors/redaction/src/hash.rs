//! Hashing: the Collector's `hash_function` for blocked values, and the keyed
//! tokens of the `hash` detector action.

use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use sha3::Sha3_256;

/// The Collector's `hash_function`: how blocked values are replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashFunction {
    /// Masked with `****`.
    #[default]
    None,
    Md5,
    Sha1,
    /// SHA3-256, as the Collector's `sha3`.
    Sha3,
    HmacSha256,
    HmacSha512,
}

impl HashFunction {
    pub const NAMES: &'static str = "none, md5, sha1, sha3, hmac-sha256, hmac-sha512";

    pub fn parse(s: &str) -> Option<HashFunction> {
        Some(match s {
            "" | "none" => HashFunction::None,
            "md5" => HashFunction::Md5,
            "sha1" => HashFunction::Sha1,
            "sha3" => HashFunction::Sha3,
            "hmac-sha256" => HashFunction::HmacSha256,
            "hmac-sha512" => HashFunction::HmacSha512,
            _ => return None,
        })
    }

    pub fn needs_key(self) -> bool {
        matches!(self, HashFunction::HmacSha256 | HashFunction::HmacSha512)
    }
}

/// Replaces one blocked match the way the Collector does: `****`, or the
/// lowercase hex digest of the match.
pub(crate) fn collector_mask(f: HashFunction, key: &[u8], m: &str) -> String {
    match f {
        HashFunction::None => "****".to_string(),
        HashFunction::Md5 => to_hex(&Md5::digest(m)),
        HashFunction::Sha1 => to_hex(&Sha1::digest(m)),
        HashFunction::Sha3 => to_hex(&Sha3_256::digest(m)),
        HashFunction::HmacSha256 => {
            let mut h = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
            h.update(m.as_bytes());
            to_hex(&h.finalize().into_bytes())
        }
        HashFunction::HmacSha512 => {
            let mut h = <Hmac<Sha512> as Mac>::new_from_slice(key).expect("any key length");
            h.update(m.as_bytes());
            to_hex(&h.finalize().into_bytes())
        }
    }
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// Keyed tokens for the `hash` action: `<TAG:16 hex>` from HMAC-SHA256.
/// The key state is set up once and cloned per value.
#[derive(Clone)]
pub(crate) struct Tokenizer {
    mac: Hmac<Sha256>,
}

impl Tokenizer {
    pub fn new(key: &[u8]) -> Tokenizer {
        Tokenizer { mac: <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length") }
    }

    /// Appends `<tag:xxxxxxxxxxxxxxxx>` for `value` to `out`.
    pub fn token(&self, tag: &str, value: &[u8], out: &mut String) {
        let mut m = self.mac.clone();
        m.update(value);
        let d = m.finalize().into_bytes();
        out.push('<');
        out.push_str(tag);
        out.push(':');
        out.push_str(&to_hex(&d[..8]));
        out.push('>');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_hashes() {
        assert_eq!(collector_mask(HashFunction::None, b"", "x"), "****");
        assert_eq!(collector_mask(HashFunction::Md5, b"", "abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(collector_mask(HashFunction::Sha1, b"", "abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            collector_mask(HashFunction::Sha3, b"", "abc"),
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"
        );
    }

    #[test]
    fn tokens() {
        let (a, b) = (Tokenizer::new(b"k1"), Tokenizer::new(b"k2"));
        let t = |t: &Tokenizer, v: &str| {
            let mut s = String::new();
            t.token("EMAIL", v.as_bytes(), &mut s);
            s
        };
        assert_eq!(t(&a, "x@y.com"), t(&a, "x@y.com"));
        assert_ne!(t(&a, "x@y.com"), t(&b, "x@y.com"));
        assert_eq!(t(&a, "x@y.com").len(), "<EMAIL:>".len() + 16);
    }
}
