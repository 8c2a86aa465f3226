//! Reading the `exp` claim of a JWT, without verifying it.
//!
//! tokenfob only needs to know when a token stops working; the server that issued it checks the signature. So this
//! decodes the payload (base64url, RFC 7515 section 2) and reads one number. Anything malformed is `None`.

/// The `exp` claim (seconds since the epoch) of a JWT, if it is one and has it.
pub(crate) fn exp(token: &str) -> Option<i64> {
    exp_claim(token)?.ok()
}

/// The `exp` claim of a JWT: `None` when `token` is not a JWT or has no `exp`, `Some(Err(()))` when it has one that
/// is not a number (RFC 7519's NumericDate), which an answer must not turn into "never expires".
pub(crate) fn exp_claim(token: &str) -> Option<Result<i64, ()>> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64url_decode(payload)?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Some(match claims.get("exp")? {
        serde_json::Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)).ok_or(())
        }
        _ => Err(()),
    })
}

/// Decodes unpadded (or padded) base64url.
pub(crate) fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for byte in text.bytes() {
        let v = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A lone 6-bit tail cannot encode a byte.
    (bits < 6).then_some(out)
}

/// Encodes bytes as unpadded base64url (PKCE, and the emulator's JWTs).
pub(crate) fn base64url_encode(bytes: &[u8]) -> String {
    encode(bytes, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", false)
}

/// Encodes bytes as padded standard base64 (HTTP Basic credentials).
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    encode(bytes, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", true)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exp_from_a_real_shaped_jwt() {
        let payload = base64url_encode(br#"{"sub":"bot","exp":1767225600}"#);
        let token = format!("eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln");
        assert_eq!(exp(&token), Some(1_767_225_600));
    }

    #[test]
    fn round_trips_base64url() {
        for len in 0..20 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base64url_decode(&base64url_encode(&bytes)).unwrap(), bytes);
        }
        assert_eq!(base64url_encode(b"hi?"), "aGk_");
    }

    #[test]
    fn malformed_tokens_have_no_exp() {
        for bad in ["", "a.b", "a.b.c.d", "x.!!!.y", "x.e30.y", "x.eyJleHAiOiJzb29uIn0.y", "x.A.y"] {
            assert_eq!(exp(bad), None, "{bad}");
        }
    }
}
