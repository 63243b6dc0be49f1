//! Authenticode signatures of PE files on arbitrary bytes: never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dart_core::formats::authenticode::fuzz_one(data);
});
