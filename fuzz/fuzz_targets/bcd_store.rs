//! Registry hive and BCD store parsing on arbitrary bytes; whatever parses
//! must list and round-trip.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dart_core::formats::bcd::fuzz_one(data);
});
