//! MBR and GPT reading (both copies, health) and recovery planning on arbitrary disks.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dart_core::formats::partition::fuzz_one(data);
});
