//! DHCP message parsing on arbitrary bytes; whatever parses as a PXE request
//! must get a reply that decodes back to the request's values.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dart_core::net::dhcp::packet::fuzz_one(data);
});
