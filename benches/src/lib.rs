//! Shared set-up for dart's benchmarks: a fixture sized like a real DaRT
//! build (a base WinPE image and tool payloads whose compression dominates).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dart_core::fixture::{generate, Fixture, FixtureOptions};

/// Bytes of stand-in system files in the benchmark's base image.
pub const BASE_BYTES: u64 = 48 << 20;
/// Bytes of stand-in program per tool payload (15 tools).
pub const PAYLOAD_BYTES: u64 = 4 << 20;

/// Writes the benchmark fixture into `dir`.
pub fn bench_fixture(dir: &std::path::Path) -> Fixture {
    let options = FixtureOptions {
        base_bytes: BASE_BYTES,
        payload_bytes: PAYLOAD_BYTES,
        grub: false,
        ..FixtureOptions::default()
    };
    match generate(dir, &options) {
        Ok(f) => f,
        Err(e) => panic!("cannot write the benchmark fixture: {e}"),
    }
}

/// This process's peak resident set size in KiB (`VmHWM`), 0 if unknown.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
