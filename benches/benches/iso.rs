//! A bootable ISO (ISO 9660 + Joliet + El Torito BIOS and UEFI) from a
//! 1 GiB WinPE-shaped media set: dart's `write_iso` vs
//! `xorriso -as mkisofs` (followed by an fsync of its output, since dart
//! fsyncs too), interleaved in the same run, order alternating per round.
//! Peak RSS of dart's write is measured in a child process for a 256 MiB
//! and a 1 GiB media set, to show it does not grow with the image.
//!
//! Acceptance: dart <= 0.90x xorriso (medians of 5 rounds), peak RSS <= 64 MiB.
//!
//! `cargo bench -p dart-benches --bench iso` (needs xorriso, dosfstools,
//! mtools). The tree lives under `/var/tmp` (or `DART_BENCH_DIR`), not
//! `/tmp`, which may be tmpfs.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use dart_benches::{
    bench_dir, child_peak_rss, median, need, peak_rss_kib, random_file, settle, sh, walk,
};
use dart_core::formats::iso::{write_iso, IsoOptions};
use dart_core::model::media::MediaSet;
use dart_core::progress::Control;

const MIB: u64 = 1 << 20;
const ROUNDS: usize = 5;
const EFISYS: &str = "efi/microsoft/boot/efisys.bin";
const ETFSBOOT: &str = "boot/etfsboot.com";

/// A WinPE-shaped media tree with a `boot.wim` of `wim_bytes` and a real
/// FAT12 `efisys.bin` holding `EFI/BOOT/BOOTX64.EFI`.
fn media(dir: &Path, wim_bytes: u64) -> PathBuf {
    let root = dir.join(format!("media-{}m", wim_bytes / MIB));
    for (path, size) in [
        ("bootmgr", 400_000u64),
        ("boot/bcd", 16_384),
        ("boot/boot.sdi", 3_170_304),
        (ETFSBOOT, 4096),
        ("efi/boot/bootx64.efi", 1_500_000),
        ("efi/microsoft/boot/bcd", 16_384),
        ("sources/boot.wim", wim_bytes),
    ] {
        random_file(&root.join(path), size, 0);
    }
    // About 30 small files in a few directories, as in real media (fonts,
    // language resources, boot resources).
    let small = [
        (
            "boot/fonts",
            [
                "chs_boot.ttf",
                "cht_boot.ttf",
                "jpn_boot.ttf",
                "kor_boot.ttf",
                "wgl4_boot.ttf",
                "segmono_boot.ttf",
            ]
            .as_slice(),
        ),
        (
            "boot/en-us",
            ["bootsect.exe.mui", "memtest.exe.mui"].as_slice(),
        ),
        ("boot/resources", ["bootres.dll"].as_slice()),
        (
            "efi/microsoft/boot/fonts",
            [
                "chs_boot.ttf",
                "cht_boot.ttf",
                "jpn_boot.ttf",
                "kor_boot.ttf",
                "wgl4_boot.ttf",
                "segoe_mono_boot.ttf",
            ]
            .as_slice(),
        ),
        ("efi/microsoft/boot/resources", ["bootres.dll"].as_slice()),
        ("efi/boot/en-us", ["bootx64.efi.mui"].as_slice()),
        ("en-us", ["bootmgr.efi.mui", "bootmgr.exe.mui"].as_slice()),
        (
            "sources",
            [
                "lang.ini",
                "idwbinfo.txt",
                "ei.cfg",
                "pid.txt",
                "setup.exe",
                "product.ini",
            ]
            .as_slice(),
        ),
        (
            "support/logging",
            ["actionqueue.xml", "setupact.log", "setuperr.log"].as_slice(),
        ),
        ("support/tools", ["readme.txt", "startnet.cmd"].as_slice()),
    ];
    let mut salt = 1u64;
    for (d, names) in small {
        for name in names {
            // 1 KiB .. ~300 KiB, varied so files do not all end on a block.
            let size = 1024 + (salt * 7919 * 37) % 300_000;
            random_file(&root.join(d).join(name), size, salt);
            salt += 1;
        }
    }
    // The UEFI El Torito image: a 1.44 MB FAT12 floppy with the loader.
    let efisys = root.join(EFISYS);
    let _ = std::fs::remove_file(&efisys);
    sh(Command::new("mkfs.fat")
        .args(["-C", "-n", "EFISECTOR"])
        .arg(&efisys)
        .arg("1440"));
    // The media's bootx64.efi (1.5 MB) does not fit on a 1.44 MB floppy;
    // the image gets a 1.4 MB stand-in loader, kept outside the tree.
    let loader = dir.join(format!("efisys-loader-{}m.efi", wim_bytes / MIB));
    random_file(&loader, 1_400_000, 99);
    let img = efisys.display().to_string();
    sh(Command::new("mmd")
        .arg("-i")
        .arg(&img)
        .args(["::/EFI", "::/EFI/BOOT"]));
    sh(Command::new("mcopy")
        .arg("-i")
        .arg(&img)
        .arg(&loader)
        .arg("::/EFI/BOOT/BOOTX64.EFI"));
    std::fs::remove_file(&loader).unwrap();
    assert_eq!(efisys.metadata().unwrap().len(), 1_474_560);
    root
}

/// Reads every file once so both contenders start from a warm page cache.
fn warm(root: &Path) {
    let mut buf = vec![0u8; 4 * MIB as usize];
    for p in walk(root) {
        let mut f = std::fs::File::open(&p).unwrap();
        while f.read(&mut buf).unwrap() > 0 {}
    }
}

fn ours(media: &Path, iso: &Path) -> Duration {
    let _ = std::fs::remove_file(iso);
    settle();
    let s = Instant::now();
    let set = MediaSet::open(media).unwrap();
    let opts = IsoOptions {
        label: "DART".into(),
        timestamp: Some(1_700_000_000),
        ..IsoOptions::default()
    };
    write_iso(&set, iso, &opts, &Control::default()).unwrap();
    s.elapsed()
}

/// xorriso in mkisofs mode with the same boot entries, then an fsync of
/// the output so both sides end with durable data.
fn peer(media: &Path, iso: &Path) -> Duration {
    let _ = std::fs::remove_file(iso);
    settle();
    let s = Instant::now();
    sh(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-o"])
        .arg(iso)
        .args([
            "-J",
            "-b",
            ETFSBOOT,
            "-no-emul-boot",
            "-boot-load-size",
            "4",
        ])
        .args(["-eltorito-alt-boot", "-e", EFISYS, "-no-emul-boot"])
        .arg(media));
    std::fs::File::open(iso).unwrap().sync_all().unwrap();
    s.elapsed()
}

/// The floor for any write (DESIGN.md): `dd bs=4M oflag=direct` of
/// boot.wim, the bulk of the image's bytes.
fn dd(src: &Path, out: &Path) -> Duration {
    let _ = std::fs::remove_file(out);
    settle();
    let s = Instant::now();
    sh(Command::new("dd")
        .arg(format!("if={}", src.display()))
        .arg(format!("of={}", out.display()))
        .args(["bs=4M", "oflag=direct", "status=none"]));
    s.elapsed()
}

/// The dart image is valid to an independent reader: xorriso sees both
/// El Torito entries.
fn check(iso: &Path) -> String {
    let out = sh(Command::new("xorriso")
        .arg("-indev")
        .arg(iso)
        .args(["-report_el_torito", "plain"]));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let entries: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("El Torito boot img :"))
        .collect();
    assert!(
        entries.iter().any(|l| l.contains("BIOS")) && entries.iter().any(|l| l.contains("UEFI")),
        "xorriso does not see a BIOS and a UEFI El Torito entry in dart's ISO:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn child_rss(media: &Path, iso: &Path) -> u64 {
    let kib = child_peak_rss(&[media.as_os_str(), iso.as_os_str()]);
    let _ = std::fs::remove_file(iso);
    kib
}

fn main() {
    if std::env::var_os("DART_BENCH_CHILD").is_some() {
        let a: Vec<String> = std::env::args().collect();
        ours(Path::new(&a[1]), Path::new(&a[2]));
        println!("{}", peak_rss_kib());
        return;
    }
    for (tool, package) in [
        ("xorriso", "xorriso"),
        ("mkfs.fat", "dosfstools"),
        ("mmd", "mtools"),
        ("mcopy", "mtools"),
    ] {
        need(tool, package);
    }
    let dir = bench_dir();
    let big = media(dir.path(), 1024 * MIB);
    let small = media(dir.path(), 256 * MIB);
    let files = walk(&big);
    let total: u64 = files.iter().map(|p| p.metadata().unwrap().len()).sum();
    let iso = dir.path().join("dart.iso");
    let peer_iso = dir.path().join("peer.iso");
    let dd_out = dir.path().join("dd.img");
    let wim = big.join("sources/boot.wim");

    // Validity, once, outside the timing.
    ours(&big, &iso);
    let report = check(&iso);
    let iso_bytes = iso.metadata().unwrap().len();
    std::fs::remove_file(&iso).unwrap();
    peer(&big, &peer_iso);
    let peer_bytes = peer_iso.metadata().unwrap().len();
    std::fs::remove_file(&peer_iso).unwrap();

    warm(&big);
    println!(
        "workload: bootable ISO (ISO 9660 + Joliet, El Torito BIOS + UEFI) of a {} MiB media set ({} files, {} bytes, boot.wim 1 GiB); \
         dart image {} bytes, xorriso image {} bytes; {ROUNDS} interleaved rounds, order alternating, `sync` before each timed run",
        total / MIB,
        files.len(),
        total,
        iso_bytes,
        peer_bytes
    );
    let (mut t_ours, mut t_peer, mut t_dd) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (o, p) = if round % 2 == 0 {
            let o = ours(&big, &iso);
            let p = peer(&big, &peer_iso);
            (o, p)
        } else {
            let p = peer(&big, &peer_iso);
            let o = ours(&big, &iso);
            (o, p)
        };
        std::fs::remove_file(&iso).unwrap();
        std::fs::remove_file(&peer_iso).unwrap();
        let d = dd(&wim, &dd_out).as_secs_f64();
        std::fs::remove_file(&dd_out).unwrap();
        let (o, p) = (o.as_secs_f64(), p.as_secs_f64());
        println!(
            "round {round} ({} first): dart {o:.3}s | xorriso+fsync {p:.3}s | {:.2}x | dd floor {d:.3}s",
            if round % 2 == 0 { "dart" } else { "xorriso" },
            o / p
        );
        t_ours.push(o);
        t_peer.push(p);
        t_dd.push(d);
    }
    let rss_small = child_rss(&small, &iso);
    let rss_big = child_rss(&big, &iso);
    let (o, p, d) = (median(t_ours), median(t_peer), median(t_dd));
    let ratio = o / p;
    println!(
        "dart {o:.3}s | xorriso -as mkisofs + fsync {p:.3}s | ratio {ratio:.2}x (medians; target <= 0.90x)"
    );
    println!(
        "dart {o:.3}s | dd bs=4M oflag=direct of boot.wim (1024 of {} MiB) {d:.3}s | {:.2}x (floor, informational)",
        total / MIB,
        o / d
    );
    println!(
        "peak RSS of dart's write: {:.1} MiB for 256 MiB media, {:.1} MiB for 1 GiB media (target <= 64 MiB)",
        rss_small as f64 / 1024.0,
        rss_big as f64 / 1024.0
    );
    for l in report
        .lines()
        .filter(|l| l.starts_with("El Torito boot img :"))
    {
        println!("dart ISO per xorriso: {l}");
    }
    assert!(ratio <= 0.90, "dart is {ratio:.2}x xorriso, above 0.90x");
    assert!(
        rss_big <= 64 * 1024 && rss_small <= 64 * 1024,
        "peak RSS {rss_small} / {rss_big} KiB, above 64 MiB"
    );
}
