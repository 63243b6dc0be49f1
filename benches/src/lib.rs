//! Shared set-up for dart's benchmarks: a fixture sized like a real DaRT
//! build (a base WinPE image and tool payloads whose compression dominates).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use dart_testkit::fixture::{generate, Fixture, FixtureOptions};
pub use dart_testkit::walk;

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

/// Writes `size` pseudo-random bytes to `path` (xorshift seeded by the size
/// and `salt`), creating parent directories: incompressible like a WIM.
pub fn random_file(path: &std::path::Path, size: u64, salt: u64) {
    use std::io::Write;
    const MIB: u64 = 1 << 20;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut state =
        (size ^ 0x9E37_79B9_7F4A_7C15).wrapping_add(salt.wrapping_mul(0x2545_F491_4F6C_DD1D));
    if state == 0 {
        state = 1;
    }
    let mut block = vec![0u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(MIB) as usize;
        f.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
}

/// Panics with the Debian package to install when `tool` is not on PATH.
pub fn need(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` not found on PATH: install the Debian package `{package}` \
         (apt-get install {package}) to run this benchmark"
    );
}

/// Runs a command; panics with its stderr when it fails.
pub fn sh(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The median of some timings (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Flushes what the previous contender left behind (dirty pages, the
/// freeing of a deleted 1 GiB file), outside the timing, so that no
/// contender pays for another's deferred work.
pub fn settle() {
    sh(&mut Command::new("sync"));
}

/// A scratch directory for a benchmark's files: under `DART_BENCH_DIR`, or
/// `/var/tmp` (a real disk; `/tmp` may be tmpfs). Removed on drop.
pub fn bench_dir() -> tempfile::TempDir {
    let base = std::env::var_os("DART_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    tempfile::tempdir_in(base).unwrap()
}

/// Runs this benchmark binary again as a child (`DART_BENCH_CHILD=1`) with
/// `args`; the child does the measured work and prints its peak RSS in KiB,
/// which is returned. A fresh process keeps the parent's allocations out of
/// the figure.
pub fn child_peak_rss(args: &[&std::ffi::OsStr]) -> u64 {
    let out = Command::new(std::env::current_exe().unwrap())
        .env("DART_BENCH_CHILD", "1")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Where `tool` is: on PATH, else in `/usr/sbin` or `/sbin` (daemons such as
/// dnsmasq live there and are not always on a user's PATH); `None` when
/// missing, for benchmarks that skip a part, with a printed reason, rather
/// than fail.
pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}
