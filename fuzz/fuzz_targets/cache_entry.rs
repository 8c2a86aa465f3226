//! The cache entry parser and a `command` profile's output parser: any bytes are a value or a miss.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = tokenfob::fuzzing::cache_entry(data);
    let _ = tokenfob::fuzzing::command_output(data);
});
