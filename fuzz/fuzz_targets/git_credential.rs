//! git's credential-helper input parser, on any bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = tokenfob::fuzzing::git_request(data);
});
