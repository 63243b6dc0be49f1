//! ISO 9660 / Joliet / Rock Ridge / El Torito parsing on arbitrary bytes
//! (placed from sector 16 on, after a zeroed system area).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dart_core::formats::iso::read::fuzz_one(data);
});
