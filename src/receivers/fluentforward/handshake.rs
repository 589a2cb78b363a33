//! The shared-key handshake of the Forward protocol v1:
//!
//! ```text
//! server: ["HELO", {"nonce": bin, "keepalive": true}]
//! client: ["PING", client_hostname, salt, hex(sha512(salt + client_hostname + nonce + key)), user, password_digest]
//! server: ["PONG", ok, reason, server_hostname, hex(sha512(salt + server_hostname + nonce + key))]
//! ```
//!
//! User/password authentication is not offered, so HELO carries no `auth`
//! salt and the PING's user fields are ignored (Fluent Bit hashes a password
//! whenever `auth` is present at all).

use sha2::{Digest, Sha512};

use super::msgpack::{ReadError, Reader};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HandshakeError {
    #[error("malformed PING: {0}")]
    Read(#[from] ReadError),
    #[error("expected a PING of 6 elements, got {0}")]
    NotPing(String),
    #[error("shared_key mismatch from {0:?}")]
    KeyMismatch(String),
}

/// The HELO that opens a connection when a shared key is configured.
pub fn helo(nonce: &[u8]) -> Vec<u8> {
    let mut w = Vec::with_capacity(40 + nonce.len());
    rmp::encode::write_array_len(&mut w, 2).expect("writing to a Vec");
    rmp::encode::write_str(&mut w, "HELO").expect("writing to a Vec");
    rmp::encode::write_map_len(&mut w, 2).expect("writing to a Vec");
    rmp::encode::write_str(&mut w, "nonce").expect("writing to a Vec");
    rmp::encode::write_bin(&mut w, nonce).expect("writing to a Vec");
    rmp::encode::write_str(&mut w, "keepalive").expect("writing to a Vec");
    rmp::encode::write_bool(&mut w, true).expect("writing to a Vec");
    w
}

/// What a valid PING told us.
#[derive(Debug, PartialEq)]
pub struct Ping {
    pub client_hostname: String,
    pub salt: Vec<u8>,
}

fn hexdigest(parts: &[&[u8]]) -> String {
    let mut h = Sha512::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// Checks a PING against the nonce sent in HELO and the shared key.
pub fn check_ping(msg: &[u8], nonce: &[u8], key: &str) -> Result<Ping, HandshakeError> {
    let mut r = Reader::new(msg);
    let n = r.array_len()?;
    let kind = r.raw_str()?;
    if n != 6 || kind != b"PING" {
        return Err(HandshakeError::NotPing(format!("{} of {n} elements", String::from_utf8_lossy(kind))));
    }
    let host = r.raw_str()?;
    let salt = r.raw_str()?;
    let digest = r.raw_str()?;
    let expected = hexdigest(&[salt, host, nonce, key.as_bytes()]);
    let client_hostname = String::from_utf8_lossy(host).into_owned();
    if !digest.eq_ignore_ascii_case(expected.as_bytes()) {
        return Err(HandshakeError::KeyMismatch(client_hostname));
    }
    Ok(Ping { client_hostname, salt: salt.to_vec() })
}

/// The PONG: success with the server's own digest, or a refusal with its reason.
pub fn pong(ping: Option<&Ping>, reason: &str, self_hostname: &str, nonce: &[u8], key: &str) -> Vec<u8> {
    let mut w = Vec::with_capacity(200);
    let digest = ping.map(|p| hexdigest(&[&p.salt, self_hostname.as_bytes(), nonce, key.as_bytes()]));
    rmp::encode::write_array_len(&mut w, 5).expect("writing to a Vec");
    rmp::encode::write_str(&mut w, "PONG").expect("writing to a Vec");
    rmp::encode::write_bool(&mut w, ping.is_some()).expect("writing to a Vec");
    rmp::encode::write_str(&mut w, reason).expect("writing to a Vec");
    rmp::encode::write_str(&mut w, self_hostname).expect("writing to a Vec");
    rmp::encode::write_str(&mut w, digest.as_deref().unwrap_or("")).expect("writing to a Vec");
    w
}

/// `{"ack": chunk}`, the answer to a message whose records were accepted.
pub fn ack(chunk: &str) -> Vec<u8> {
    let mut w = Vec::with_capacity(8 + chunk.len());
    rmp::encode::write_map_len(&mut w, 1).expect("writing to a Vec");
    rmp::encode::write_str(&mut w, "ack").expect("writing to a Vec");
    rmp::encode::write_str(&mut w, chunk).expect("writing to a Vec");
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping(host: &str, salt: &[u8], digest: &str) -> Vec<u8> {
        let mut w = Vec::new();
        rmp::encode::write_array_len(&mut w, 6).unwrap();
        rmp::encode::write_str(&mut w, "PING").unwrap();
        rmp::encode::write_str(&mut w, host).unwrap();
        // Fluent Bit sends its 16 random salt bytes as a str, valid UTF-8 or not.
        rmp::encode::write_str_len(&mut w, salt.len() as u32).unwrap();
        w.extend_from_slice(salt);
        rmp::encode::write_str(&mut w, digest).unwrap();
        rmp::encode::write_str(&mut w, "").unwrap();
        rmp::encode::write_str(&mut w, "").unwrap();
        w
    }

    #[test]
    fn accepts_the_right_key_and_answers_with_its_own_digest() {
        let nonce = [9u8; 16];
        let salt = [0xffu8; 16];
        let good = hexdigest(&[&salt, b"client", &nonce, b"secret"]);
        let p = check_ping(&ping("client", &salt, &good), &nonce, "secret").unwrap();
        assert_eq!(p.client_hostname, "client");
        let answer = pong(Some(&p), "", "server", &nonce, "secret");
        let mut r = Reader::new(&answer);
        assert_eq!(r.array_len().unwrap(), 5);
        assert_eq!(r.raw_str().unwrap(), b"PONG");
        assert_eq!(r.any().unwrap().value, Some(aiotel_api::otlp::common::v1::any_value::Value::BoolValue(true)));
        r.skip().unwrap();
        assert_eq!(r.raw_str().unwrap(), b"server");
        assert_eq!(r.raw_str().unwrap(), hexdigest(&[&salt, b"server", &nonce, b"secret"]).as_bytes());
    }

    #[test]
    fn refuses_a_wrong_key_or_another_message() {
        let nonce = [1u8; 16];
        let bad = hexdigest(&[b"salt", b"client", &nonce, b"wrong"]);
        assert_eq!(
            check_ping(&ping("client", b"salt", &bad), &nonce, "secret"),
            Err(HandshakeError::KeyMismatch("client".into()))
        );
        assert!(matches!(check_ping(&helo(&nonce), &nonce, "secret"), Err(HandshakeError::NotPing(_))));
    }
}
