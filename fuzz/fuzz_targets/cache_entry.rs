//! The cache entry parser and a `command` profile's output parser: any bytes are a value or a miss.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = tokenfob::cache::parse_entry(data);
    let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let _ = tokenfob::login::parse_command_output(data, Some(std::time::Duration::from_secs(60)), now);
});
