//! What a tool sends its helper (cargo's request, Docker's registry, Go's response, Bazel's request, Terraform's
//! host): any bytes are accepted or refused, never a panic or a hang.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [which, rest @ ..] = data else { return };
    let _ = tokenfob::fuzzing::tool_request(*which, rest);
});
