//! Small helpers the emulator and tokenfob's tests share: random hex, base64, a JWT's `exp`, RFC 3339 times.
//!
//! They are deliberately independent of tokenfob's own code (the tests check tokenfob's behaviour against them),
//! and they panic rather than return errors where only a broken machine could make them fail.

use std::io::Read;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `n` random bytes from `/dev/urandom`, as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("random bytes from /dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Padded standard base64 (HTTP Basic credentials).
pub fn base64_encode(bytes: &[u8]) -> String {
    encode(bytes, STANDARD, true)
}

/// Unpadded base64url (JWT parts).
pub fn base64url_encode(bytes: &[u8]) -> String {
    encode(bytes, URL_SAFE, false)
}

fn encode(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[(n >> (18 - 6 * i) & 63) as usize]));
        }
        if pad {
            out.extend(std::iter::repeat_n('=', 3 - chunk.len()));
        }
    }
    out
}

/// Decodes base64url, padded or not; `None` on any other character.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for byte in text.trim_end_matches('=').bytes() {
        let value = URL_SAFE.iter().position(|&c| c == byte)?;
        acc = (acc << 6 | value as u32) & 0xffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// The integer `exp` claim of a JWT (three dot-separated parts, the second a JSON object), unverified.
pub fn jwt_exp(token: &str) -> Option<i64> {
    let parts: Vec<&str> = token.split('.').collect();
    let [_, payload, _] = parts.as_slice() else { return None };
    let claims: serde_json::Value = serde_json::from_slice(&base64url_decode(payload)?).ok()?;
    claims.get("exp")?.as_i64()
}

/// `t` in RFC 3339, in UTC, e.g. `2026-11-22T13:46:00Z` (with the fraction of a second when it has one).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).expect("a time between years 0 and 9999")
}

/// Parses an RFC 3339 time such as `2018-04-01T21:39:12+00:00`.
pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_base64_both_ways() {
        assert_eq!(base64_encode(b"device:s3cr?t"), "ZGV2aWNlOnMzY3I/dA==");
        assert_eq!(base64url_encode(b"device:s3cr?t"), "ZGV2aWNlOnMzY3I_dA");
        for len in 0..20 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base64url_decode(&base64url_encode(&bytes)).unwrap(), bytes);
        }
    }

    #[test]
    fn reads_a_jwt_exp() {
        let token = format!("e30.{}.c2ln", base64url_encode(br#"{"sub":"bot","exp":1767225600}"#));
        assert_eq!(jwt_exp(&token), Some(1_767_225_600));
        for bad in ["", "a.b", "a.e30.c.d", "x.!!!.y", "x.e30.y", "x.eyJleHAiOiJzb29uIn0.y"] {
            assert_eq!(jwt_exp(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips_times_and_random_hex() {
        let t = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        assert_eq!(rfc3339(t), "2026-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("2026-01-01T01:00:00+01:00"), Some(t));
        let (a, b) = (random_hex(16), random_hex(16));
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
