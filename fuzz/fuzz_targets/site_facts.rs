//! Site facts JSON (from files, C and Python callers) through the planner.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dart_core::plan::fuzz_one(data);
});
