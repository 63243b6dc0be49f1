//! WIM header parsing and in-place XML timestamp patching on arbitrary bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dart_core::image::header::fuzz_one(data);
});
