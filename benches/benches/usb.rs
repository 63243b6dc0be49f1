//! A bootable USB image from a 1 GiB media set: dart vs `sgdisk` +
//! `mkfs.fat` + `mcopy`, and vs `dd bs=4M oflag=direct` of the same bytes,
//! interleaved in the same run. Peak RSS of dart's write is measured in a
//! child process for a 256 MiB and a 1 GiB media set, to show it does not
//! grow with the image.
//!
//! Acceptance: dart <= 0.5x the peer chain, <= 1.15x dd, peak RSS <= 64 MiB.
//!
//! `cargo bench -p dart-benches --bench usb` (needs gdisk, dosfstools, mtools).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use dart_benches::{bench_dir, child_peak_rss, peak_rss_kib, random_file, walk};
use dart_core::deploy::{write_usb_to, UsbOptions};
use dart_core::formats::partition::Scheme;
use dart_core::progress::Control;

const MIB: u64 = 1 << 20;

/// A WinPE-shaped media tree with a `boot.wim` of `wim_bytes`.
fn media(dir: &Path, wim_bytes: u64) -> PathBuf {
    let root = dir.join(format!("media-{}m", wim_bytes / MIB));
    for (path, size) in [
        ("bootmgr", 400_000u64),
        ("boot/bcd", 16_384),
        ("boot/boot.sdi", 3_170_304),
        ("efi/boot/bootx64.efi", 1_500_000),
        ("efi/microsoft/boot/bcd", 16_384),
        ("sources/boot.wim", wim_bytes),
    ] {
        random_file(&root.join(path), size, 0);
    }
    root
}

fn image_size(wim_bytes: u64) -> u64 {
    (wim_bytes + 64 * MIB).next_multiple_of(MIB)
}

fn ours(media: &Path, img: &Path, size: u64) -> Duration {
    let _ = std::fs::remove_file(img);
    let s = Instant::now();
    let opts = UsbOptions {
        scheme: Scheme::Gpt,
        ..UsbOptions::default()
    };
    write_usb_to(img, Some(size), media, &opts, &Control::default()).unwrap();
    s.elapsed()
}

fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The classic recipe: GPT with one ESP, FAT32 at 1 MiB, copy the tree,
/// then sync the image file so both sides end with durable data.
fn peers(media: &Path, img: &Path, size: u64) -> Duration {
    let _ = std::fs::remove_file(img);
    let s = Instant::now();
    sh(Command::new("truncate")
        .arg("-s")
        .arg(size.to_string())
        .arg(img));
    sh(Command::new("sgdisk")
        .args(["-n", "1:2048:0", "-t", "1:ef00"])
        .arg(img));
    sh(Command::new("mkfs.fat")
        .args(["-F", "32", "--offset", "2048", "-n", "DART"])
        .arg(img)
        .arg(((size - 2 * MIB) / 1024).to_string()));
    let mut mcopy = Command::new("mcopy");
    mcopy
        .arg("-s")
        .arg("-i")
        .arg(format!("{}@@1M", img.display()));
    for e in std::fs::read_dir(media).unwrap() {
        mcopy.arg(e.unwrap().path());
    }
    mcopy.arg("::/");
    sh(&mut mcopy);
    sh(Command::new("sync").arg(img));
    s.elapsed()
}

fn dd(src: &Path, out: &Path) -> Duration {
    let _ = std::fs::remove_file(out);
    let s = Instant::now();
    sh(Command::new("dd")
        .arg(format!("if={}", src.display()))
        .arg(format!("of={}", out.display()))
        .args(["bs=4M", "oflag=direct", "status=none"]));
    s.elapsed()
}

fn child_rss(media: &Path, img: &Path, size: u64) -> u64 {
    let size = size.to_string();
    child_peak_rss(&[media.as_os_str(), img.as_os_str(), size.as_ref()])
}

fn main() {
    if std::env::var_os("DART_BENCH_CHILD").is_some() {
        let a: Vec<String> = std::env::args().collect();
        // cargo bench passes "--bench"; the child gets our three arguments.
        let (m, i, s) = (&a[1], &a[2], a[3].parse().unwrap());
        ours(Path::new(m), Path::new(i), s);
        println!("{}", peak_rss_kib());
        return;
    }
    let dir = bench_dir();
    let wim = 1024 * MIB;
    let big = media(dir.path(), wim);
    let small = media(dir.path(), 256 * MIB);
    let total: u64 = walk(&big).iter().map(|p| p.metadata().unwrap().len()).sum();
    let img = dir.path().join("usb.img");
    let peer_img = dir.path().join("peer.img");
    let dd_img = dir.path().join("dd.img");
    let size = image_size(wim);

    // Warm-up: page cache holds the sources for every contender.
    ours(&big, &img, size);
    let rounds = 3;
    let (mut t_ours, mut t_peer, mut t_dd) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        t_ours += ours(&big, &img, size);
        t_peer += peers(&big, &peer_img, size);
        t_dd += dd(&big.join("sources/boot.wim"), &dd_img);
    }
    let rss_small = child_rss(&small, &img, image_size(256 * MIB));
    let rss_big = child_rss(&big, &img, size);
    let n = rounds as f64;
    let (o, p, d) = (
        t_ours.as_secs_f64() / n,
        t_peer.as_secs_f64() / n,
        t_dd.as_secs_f64() / n,
    );
    println!(
        "workload: USB image (GPT + FAT32) of a {} MiB media set ({} bytes, boot.wim 1 GiB) into a {} MiB image file, {rounds} interleaved rounds",
        total / MIB,
        total,
        size / MIB
    );
    println!(
        "dart {o:.3}s | sgdisk+mkfs.fat+mcopy {p:.3}s | ratio {:.2}x (target <= 0.5x)",
        o / p
    );
    println!(
        "dart {o:.3}s | dd bs=4M oflag=direct of boot.wim {d:.3}s | ratio {:.2}x (target <= 1.15x)",
        o / d
    );
    println!(
        "peak RSS of dart's write: {} MiB for 256 MiB media, {} MiB for 1 GiB media (target <= 64 MiB)",
        rss_small / 1024,
        rss_big / 1024
    );
}
