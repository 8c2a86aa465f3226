//! The JWT `exp` reader and the base64url decoder, on any text.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tokenfob::fuzzing::jwt_exp(text);
        if let Some(bytes) = tokenfob::fuzzing::base64url_decode(text) {
            // Whatever decodes must encode back to the same canonical text.
            let again = tokenfob::fuzzing::base64url_encode(&bytes);
            assert_eq!(tokenfob::fuzzing::base64url_decode(&again).as_deref(), Some(&bytes[..]));
        }
    }
});
