//! The configuration parser, recipe presets and templates included: any text gets a config or an error.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tokenfob::fuzzing::config(text);
        let _ = tokenfob::fuzzing::template(text);
    }
});
