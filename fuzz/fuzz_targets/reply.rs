//! Every seed preset's answer parser, on any status, headers and body.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [which, hi, lo, rest @ ..] = data else { return };
    // The body, and a header value taken from its first line.
    let header = rest.split(|b| *b == b'\n').next().and_then(|h| std::str::from_utf8(h).ok()).unwrap_or("");
    let status = 100 + (u16::from_be_bytes([*hi, *lo]) % 500);
    if let Some(valid) = tokenfob::fuzzing::seed_answer(*which, status, header, rest) {
        assert!(valid, "a parsed token is always header-safe");
    }
});
