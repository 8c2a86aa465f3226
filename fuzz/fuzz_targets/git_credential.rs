//! git's credential-helper input parser, on any bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = data;
    if let Ok(request) = tokenfob::faces::git::parse(&mut input) {
        let _ = request.url();
    }
});
