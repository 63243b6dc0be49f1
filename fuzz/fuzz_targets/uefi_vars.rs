//! UEFI load options, device paths and OVMF variable files on arbitrary
//! bytes; whatever decodes must encode back byte for byte, whatever
//! variable file parses must rewrite to one that reads the same.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dart_core::formats::uefi::fuzz_one(data);
});
