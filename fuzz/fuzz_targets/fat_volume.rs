//! FAT32 boot sector, FAT and root directory parsing on arbitrary bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dart_core::formats::fat::fuzz_one(data);
});
