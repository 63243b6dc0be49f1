//! Shared set-up for dart's benchmarks: a fixture sized like a real DaRT
//! build (a base WinPE image and tool payloads whose compression dominates).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dart_core::net::tftp::{Mode, Options, Packet, Request};
use std::process::Command;

use dart_testkit::fixture::{generate, Fixture, FixtureOptions};
pub use dart_testkit::walk;

pub mod tcp_link;

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

/// The TFTP block size the benchmarks' client asks for (an Ethernet frame).
pub const TFTP_BLKSIZE: u16 = 1468;

/// Fetches `name` from `server` with blksize 1468 and, with `window`, the
/// `windowsize` option: ACK 0 after the OACK, then an ACK for the last
/// block of each window (RFC 7440) or the short last block; after a block
/// out of order the ACK of the last block in order; after 1 s of silence
/// the last ACK again. The transfer's port is the source of the first
/// reply. With `expect`, checks the bytes; returns the seconds taken.
pub fn tftp_fetch(
    server: SocketAddr,
    name: &str,
    window: Option<u16>,
    expect: Option<&[u8]>,
) -> f64 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let rrq = Packet::Rrq(Request {
        filename: name.into(),
        mode: Mode::Octet,
        options: Options {
            blksize: Some(TFTP_BLKSIZE),
            windowsize: window,
            ..Options::default()
        },
    })
    .to_bytes();
    let window = window.unwrap_or(1);
    let blksize = usize::from(TFTP_BLKSIZE);
    let mut buf = vec![0u8; 65536];
    let started = Instant::now();
    let give_up = started + Duration::from_secs(600);
    sock.send_to(&rrq, server).unwrap();
    let peer = loop {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => match Packet::parse(&buf[..n]) {
                Ok(Packet::Oack(o)) => {
                    assert_eq!(o.blksize, Some(TFTP_BLKSIZE), "{o:?}");
                    assert_eq!(o.windowsize.unwrap_or(1), window, "{o:?}");
                    break from;
                }
                other => panic!("{name}: expected an OACK, got {other:?}"),
            },
            Err(e) if timed_out(&e) => {
                assert!(Instant::now() < give_up, "{name}: no OACK");
                sock.send_to(&rrq, server).unwrap();
            }
            Err(e) => panic!("{name}: {e}"),
        }
    };
    let ack = |block: u16| {
        let b = block.to_be_bytes();
        sock.send_to(&[0, 4, b[0], b[1]], peer).unwrap();
    };
    ack(0);
    let (mut next, mut offset, mut in_window, mut nacked) = (1u64, 0usize, 0u16, None);
    loop {
        assert!(Instant::now() < give_up, "{name}: stuck at byte {offset}");
        let n = match sock.recv_from(&mut buf) {
            Ok((n, from)) if from == peer => n,
            Ok(_) => continue,
            Err(e) if timed_out(&e) => {
                in_window = 0;
                ack((next - 1) as u16);
                continue;
            }
            Err(e) => panic!("{name}: {e}"),
        };
        if n < 4 || buf[..2] != [0, 3] {
            match Packet::parse(&buf[..n]) {
                Ok(Packet::Oack(_)) if next == 1 => ack(0),
                other => panic!("{name}: expected DATA, got {other:?}"),
            }
            continue;
        }
        let block = u16::from_be_bytes([buf[2], buf[3]]);
        let len = n - 4;
        if block != next as u16 {
            if nacked != Some(next) {
                nacked = Some(next);
                in_window = 0;
                ack((next - 1) as u16);
            }
            continue;
        }
        if let Some(want) = expect {
            assert!(
                want.get(offset..offset + len) == Some(&buf[4..n]),
                "{name}: block {next} differs"
            );
        }
        offset += len;
        next += 1;
        in_window += 1;
        if len < blksize {
            ack(block);
            let seconds = started.elapsed().as_secs_f64();
            if let Some(want) = expect {
                assert_eq!(offset, want.len(), "{name}: length");
            }
            return seconds;
        }
        if in_window == window {
            in_window = 0;
            ack(block);
        }
    }
}

/// Whether a socket read ended by its timeout.
pub fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}
