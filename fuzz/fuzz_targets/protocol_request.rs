//! The JSON face's request parser: any line gets a request or an error, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(line) = std::str::from_utf8(data) {
        let _ = tokenfob::fuzzing::protocol_request(line);
    }
});
