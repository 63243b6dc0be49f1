//! Flashing images: dart's `write::flash` vs `dd` and `bmaptool copy`,
//! interleaved in the same run, order alternating per round, `sync` before
//! each timed run, the image in the page cache (read once before timing).
//!
//! 1. A dense 2 GiB image (pseudo-random, fully allocated) onto an existing,
//!    fully allocated 2 GiB target file: dart vs
//!    `dd bs=4M oflag=direct conv=fsync,notrunc` (medians of 5 rounds).
//! 2. A sparse 4 GiB image with 10% data (40 extents of 10 MiB spread from
//!    the first to the last MiB, holes between) onto a new file with its
//!    bmap (`bmaptool create`): dart with `Bmap::read` vs
//!    `bmaptool copy --bmap`, which fsyncs its output itself (medians of 3
//!    rounds). `bmaptool copy --no-verify` is timed too, for information:
//!    by default bmaptool checks the bmap's SHA-256 of every range while
//!    copying, which dart's flash does not.
//! 3. The dense image again with `verify: true` (written, then read back
//!    with direct I/O and compared) vs dd's write alone (medians of 5).
//!    Each round also times `dd iflag=direct` reading the target back: dd's
//!    write plus that read is the floor of any write-then-verify
//!    (informational).
//! 4. Peak RSS of dart's flash with verify, in a child process, for the
//!    2 GiB image and a 512 MiB one, to show it does not grow.
//!
//! Acceptance: (1) dart <= 1.05x dd, (2) dart <= 1.0x bmaptool,
//! (3) dart <= 2.1x dd, (4) peak RSS <= 64 MiB.
//!
//! `cargo bench -p dart-benches --bench flash` (needs bmap-tools,
//! coreutils, diffutils). The files live under `/var/tmp` (or
//! `DART_BENCH_DIR`), not `/tmp`, which may be tmpfs.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dart_benches::{
    bench_dir, child_peak_rss, median, need, peak_rss_kib, random_file, settle, sh,
};
use dart_core::progress::Control;
use dart_core::write::{flash, Bmap, FlashOptions};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const DENSE: u64 = 2 * GIB;
const SMALL: u64 = 512 * MIB;
const SPARSE: u64 = 4 * GIB;
const EXTENTS: u64 = 40;
const EXTENT: u64 = 10 * MIB;
const ROUNDS_DENSE: usize = 5;
const ROUNDS_SPARSE: usize = 3;

/// Drops `path` from the page cache (GNU dd's documented idiom), so that no
/// contender's direct write has to invalidate cached pages of the target.
fn uncache(path: &Path) {
    sh(Command::new("dd")
        .arg(format!("if={}", path.display()))
        .args(["iflag=nocache", "count=0", "status=none"]));
}

/// Reads `path` once so every contender starts from a warm page cache.
fn warm(path: &Path) {
    let mut f = File::open(path).unwrap();
    let mut buf = vec![0u8; 4 * MIB as usize];
    while f.read(&mut buf).unwrap() > 0 {}
}

/// A sparse image of `SPARSE` bytes: `EXTENTS` pseudo-random extents of
/// `EXTENT` bytes, evenly spread from the first MiB to the last (where a
/// partition table and its backup would be), holes in between.
fn sparse_image(dir: &Path) -> PathBuf {
    let img = dir.join("sparse.img");
    let data = dir.join("sparse-data.bin");
    random_file(&data, EXTENTS * EXTENT, 3);
    let out = File::create(&img).unwrap();
    out.set_len(SPARSE).unwrap();
    let src = File::open(&data).unwrap();
    let mut buf = vec![0u8; EXTENT as usize];
    let step = (SPARSE - EXTENT) / (EXTENTS - 1) / MIB * MIB;
    for i in 0..EXTENTS {
        let at = if i == EXTENTS - 1 {
            SPARSE - EXTENT
        } else {
            i * step
        };
        src.read_exact_at(&mut buf, i * EXTENT).unwrap();
        out.write_all_at(&buf, at).unwrap();
    }
    out.sync_all().unwrap();
    std::fs::remove_file(&data).unwrap();
    img
}

/// Bytes the file system allocated for `path`.
fn allocated(path: &Path) -> u64 {
    path.metadata().unwrap().blocks() * 512
}

/// dart's flash of `image` onto `target`; with `bmap`, the map is read
/// inside the timing (bmaptool parses its XML inside its timing too).
fn ours(image: &Path, target: &Path, verify: bool, bmap: Option<&Path>) -> Duration {
    settle();
    let s = Instant::now();
    let opts = FlashOptions {
        verify,
        bmap: bmap.map(|b| Bmap::read(b).unwrap()),
    };
    let report = flash(image, &[target.to_path_buf()], &opts, &Control::default()).unwrap();
    let t = s.elapsed();
    assert_eq!(report.verified, verify);
    t
}

/// The floor for any write (DESIGN.md), in place on the existing target.
fn dd(image: &Path, target: &Path) -> Duration {
    settle();
    let s = Instant::now();
    sh(Command::new("dd")
        .arg(format!("if={}", image.display()))
        .arg(format!("of={}", target.display()))
        .args(["bs=4M", "oflag=direct", "conv=fsync,notrunc", "status=none"]));
    s.elapsed()
}

/// The floor of a read-back: `dd bs=4M iflag=direct` of the target to
/// /dev/null (what verify must at least do on top of the write).
fn dd_read(target: &Path) -> Duration {
    settle();
    let s = Instant::now();
    sh(Command::new("dd")
        .arg(format!("if={}", target.display()))
        .args(["of=/dev/null", "bs=4M", "iflag=direct", "status=none"]));
    s.elapsed()
}

/// `bmaptool copy` onto a new file; it fsyncs the output before exiting
/// (`BmapCopy.sync`), so no sync is added.
fn bmaptool(image: &Path, bmap: &Path, out: &Path, check_sums: bool) -> Duration {
    settle();
    let s = Instant::now();
    let mut cmd = Command::new("bmaptool");
    cmd.args(["-q", "copy", "--bmap"]).arg(bmap);
    if !check_sums {
        cmd.arg("--no-verify");
    }
    sh(cmd.arg(image).arg(out));
    s.elapsed()
}

/// The target holds the image: read back with direct I/O by dd and
/// compared by cmp, so the check leaves no target pages in the cache.
fn check_dense(image: &Path, target: &Path) {
    let len = image.metadata().unwrap().len();
    let mut dd = Command::new("dd")
        .arg(format!("if={}", target.display()))
        .args(["iflag=direct", "bs=4M", "status=none"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let cmp = Command::new("cmp")
        .arg("-n")
        .arg(len.to_string())
        .arg(image)
        .arg("-")
        .stdin(dd.stdout.take().unwrap())
        .output()
        .unwrap();
    let _ = dd.wait();
    assert!(
        cmp.status.success(),
        "{} does not hold {} after dart's flash: {}",
        target.display(),
        image.display(),
        String::from_utf8_lossy(&cmp.stdout)
    );
}

fn check_same(a: &Path, b: &Path) {
    sh(Command::new("cmp").arg(a).arg(b));
}

fn child_rss(image: &Path, target: &Path) -> u64 {
    child_peak_rss(&[image.as_os_str(), target.as_os_str()])
}

fn secs(v: &[f64]) -> String {
    v.iter()
        .map(|t| format!("{t:.3}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rounds of dart vs dd on the dense image, order alternating; with
/// `verify`, each round also times dd's direct read-back of the target
/// (informational floor). Returns the medians (dart, dd, dd read-back).
fn dense_rounds(image: &Path, target: &Path, verify: bool, name: &str) -> (f64, f64, f64) {
    let (mut t_ours, mut t_dd, mut t_read) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS_DENSE {
        let (o, d) = if round % 2 == 0 {
            let o = ours(image, target, verify, None);
            (o, dd(image, target))
        } else {
            let d = dd(image, target);
            (ours(image, target, verify, None), d)
        };
        let (o, d) = (o.as_secs_f64(), d.as_secs_f64());
        let floor = if verify {
            let r = dd_read(target).as_secs_f64();
            t_read.push(r);
            format!(
                " | dd read-back {r:.3}s, dd write + read-back {:.3}s ({:.2}x)",
                d + r,
                o / (d + r)
            )
        } else {
            String::new()
        };
        println!(
            "  round {round} ({} first): {name} {o:.3}s | dd {d:.3}s | {:.2}x{floor}",
            if round % 2 == 0 { "dart" } else { "dd" },
            o / d
        );
        t_ours.push(o);
        t_dd.push(d);
    }
    println!(
        "  all rounds: {name} [{}] s | dd [{}] s{}",
        secs(&t_ours),
        secs(&t_dd),
        if verify {
            format!(" | dd read-back [{}] s", secs(&t_read))
        } else {
            String::new()
        }
    );
    let read = if verify { median(t_read) } else { 0.0 };
    (median(t_ours), median(t_dd), read)
}

fn main() {
    if std::env::var_os("DART_BENCH_CHILD").is_some() {
        let a: Vec<String> = std::env::args().collect();
        ours(Path::new(&a[1]), Path::new(&a[2]), true, None);
        println!("{}", peak_rss_kib());
        return;
    }
    for (tool, package) in [
        ("bmaptool", "bmap-tools"),
        ("dd", "coreutils"),
        ("sync", "coreutils"),
        ("cmp", "diffutils"),
    ] {
        need(tool, package);
    }
    let dir = bench_dir();
    let dense = dir.path().join("dense.img");
    let small = dir.path().join("small.img");
    let target = dir.path().join("target.img");
    random_file(&dense, DENSE, 0);
    random_file(&small, SMALL, 2);
    random_file(&target, DENSE, 1);
    let sparse = sparse_image(dir.path());
    let bmap = dir.path().join("sparse.img.bmap");
    sh(Command::new("bmaptool")
        .args(["-q", "create", "-o"])
        .arg(&bmap)
        .arg(&sparse));
    settle();
    uncache(&target);
    warm(&dense);
    warm(&sparse);

    // Validity, once, outside the timing (also a warm-up of each path).
    ours(&dense, &target, false, None);
    check_dense(&dense, &target);
    let out = dir.path().join("dart-out.img");
    let peer_out = dir.path().join("bmaptool-out.img");
    ours(&sparse, &out, false, Some(&bmap));
    check_same(&sparse, &out);
    bmaptool(&sparse, &bmap, &peer_out, true);
    check_same(&sparse, &peer_out);
    let (alloc_ours, alloc_peer) = (allocated(&out), allocated(&peer_out));
    std::fs::remove_file(&out).unwrap();
    std::fs::remove_file(&peer_out).unwrap();

    // 1. Dense, in place.
    println!(
        "workload 1: dense {} MiB pseudo-random image onto an existing, fully allocated {} MiB target file; \
         dart flash vs dd bs=4M oflag=direct conv=fsync,notrunc; {ROUNDS_DENSE} rounds, order alternating, `sync` before each",
        DENSE / MIB,
        DENSE / MIB
    );
    let (o1, d1, _) = dense_rounds(&dense, &target, false, "dart");
    let r1 = o1 / d1;
    println!(
        "  dart {o1:.3}s | dd {d1:.3}s | ratio {r1:.2}x (medians; target <= 1.05x) | dart {:.0} MiB/s",
        DENSE as f64 / MIB as f64 / o1
    );

    // 2. Sparse, with a bmap, onto a new file.
    let mapped = Bmap::read(&bmap).unwrap().byte_ranges();
    let mapped_bytes: u64 = mapped.iter().map(|r| r.1).sum();
    println!(
        "workload 2: sparse {} MiB image, {} MiB in {} mapped ranges ({:.1}%), onto a new file with its bmap; \
         dart flash (Bmap::read inside the timing) vs bmaptool copy --bmap (fsyncs its output); \
         bmaptool --no-verify for information; {ROUNDS_SPARSE} rounds, order alternating, outputs deleted and `sync` before each",
        SPARSE / MIB,
        mapped_bytes / MIB,
        mapped.len(),
        mapped_bytes as f64 * 100.0 / SPARSE as f64
    );
    let (mut t_ours, mut t_peer, mut t_fast) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS_SPARSE {
        let (o, p) = if round % 2 == 0 {
            let o = ours(&sparse, &out, false, Some(&bmap));
            (o, bmaptool(&sparse, &bmap, &peer_out, true))
        } else {
            let p = bmaptool(&sparse, &bmap, &peer_out, true);
            (ours(&sparse, &out, false, Some(&bmap)), p)
        };
        std::fs::remove_file(&out).unwrap();
        std::fs::remove_file(&peer_out).unwrap();
        let f = bmaptool(&sparse, &bmap, &peer_out, false).as_secs_f64();
        std::fs::remove_file(&peer_out).unwrap();
        let (o, p) = (o.as_secs_f64(), p.as_secs_f64());
        println!(
            "  round {round} ({} first): dart {o:.3}s | bmaptool {p:.3}s | {:.2}x | bmaptool --no-verify {f:.3}s",
            if round % 2 == 0 { "dart" } else { "bmaptool" },
            o / p
        );
        t_ours.push(o);
        t_peer.push(p);
        t_fast.push(f);
    }
    println!(
        "  all rounds: dart [{}] s | bmaptool [{}] s | bmaptool --no-verify [{}] s",
        secs(&t_ours),
        secs(&t_peer),
        secs(&t_fast)
    );
    let (o2, p2, f2) = (median(t_ours), median(t_peer), median(t_fast));
    let r2 = o2 / p2;
    println!(
        "  dart {o2:.3}s | bmaptool copy {p2:.3}s | ratio {r2:.2}x (medians; target <= 1.0x) | \
         bmaptool --no-verify {f2:.3}s ({:.2}x, informational)",
        o2 / f2
    );
    println!(
        "  outputs allocate {} MiB (dart) and {} MiB (bmaptool) of {} MiB",
        alloc_ours / MIB,
        alloc_peer / MIB,
        SPARSE / MIB
    );

    // 3. Dense, with verify.
    println!(
        "workload 3: dense {} MiB image onto the same target with verify (direct read-back and compare) vs dd's write alone; \
         {ROUNDS_DENSE} rounds, order alternating, `sync` before each",
        DENSE / MIB
    );
    let (o3, d3, rb3) = dense_rounds(&dense, &target, true, "dart+verify");
    let r3 = o3 / d3;
    println!(
        "  dart+verify {o3:.3}s | dd {d3:.3}s | ratio {r3:.2}x (medians; target <= 2.1x) | write alone (workload 1) {o1:.3}s, so verify adds {:.3}s",
        o3 - o1
    );
    println!(
        "  floor: dd write {d3:.3}s + dd iflag=direct read-back {rb3:.3}s = {:.3}s ({:.2}x dd write); dart+verify is {:.2}x that floor (informational)",
        d3 + rb3,
        (d3 + rb3) / d3,
        o3 / (d3 + rb3)
    );

    // 4. Peak RSS in a child process.
    let rss_small = child_rss(&small, &target);
    let rss_big = child_rss(&dense, &target);
    println!(
        "workload 4: peak RSS of dart's flash with verify (child process): {:.1} MiB for a {} MiB image, \
         {:.1} MiB for a {} MiB image (target <= 64 MiB)",
        rss_small as f64 / 1024.0,
        SMALL / MIB,
        rss_big as f64 / 1024.0,
        DENSE / MIB
    );

    // Every bar is checked, and every miss named, before failing.
    let mut missed = Vec::new();
    if r1 > 1.05 {
        missed.push(format!("workload 1: dart is {r1:.2}x dd, above 1.05x"));
    }
    if r2 > 1.0 {
        missed.push(format!("workload 2: dart is {r2:.2}x bmaptool, above 1.0x"));
    }
    if r3 > 2.1 {
        missed.push(format!(
            "workload 3: dart+verify is {r3:.2}x dd, above 2.1x"
        ));
    }
    if rss_big > 64 * 1024 || rss_small > 64 * 1024 {
        missed.push(format!(
            "workload 4: peak RSS {rss_small} / {rss_big} KiB, above 64 MiB"
        ));
    }
    assert!(missed.is_empty(), "{}", missed.join("; "));
}
