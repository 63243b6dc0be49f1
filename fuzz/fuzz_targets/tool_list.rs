//! Tool lists and support-level definitions as users type them.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dart_core::model::tools::fuzz_one(data);
});
