//! The configuration parser, recipe presets and templates included: any text gets a config or an error.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(config) = tokenfob::config::parse(text, std::path::Path::new("fuzz.toml")) {
            for profile in config.profiles.values() {
                let _ = tokenfob::broker::fingerprint(profile);
            }
        }
        let _ = tokenfob::template::parse(text);
    }
});
