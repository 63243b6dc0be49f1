//! TFTP packet parsing on arbitrary bytes; whatever parses must round-trip.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dart_core::net::tftp::packet::fuzz_one(data);
});
