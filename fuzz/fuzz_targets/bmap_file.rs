//! bmaptool XML block map parsing on arbitrary bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dart_core::write::bmap::fuzz_one(data);
});
