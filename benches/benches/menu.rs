//! A USB image with three WinPE images behind a boot menu (`MediumSpec`
//! with `images`: three ~300 MiB WIMs, one BCD entry each in `\boot\BCD`
//! and `\EFI\Microsoft\Boot\BCD`) vs the floor, copying the same bytes:
//! the three WIMs and the media's other files, each with
//! `dd bs=4M oflag=direct conv=notrunc` at its own 4 KiB-aligned offset
//! into a preallocated image file of the same size. Interleaved in the same
//! run, order alternating per round, page cache warm for both, `sync`
//! before each timed run; medians. Peak RSS of dart's write is measured in
//! a child process. The image dart writes is checked once, outside the
//! timing: both stores on its FAT volume hold the three entries.
//!
//! Acceptance: dart <= 1.1x the copy.
//!
//! `cargo bench -p dart-benches --bench menu` (needs wimlib for the
//! fixture; mtools for the listing of the volume). The files live under
//! `/var/tmp` (or `DART_BENCH_DIR`), not `/tmp`, which may be tmpfs.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use dart_benches::{bench_dir, child_peak_rss, median, peak_rss_kib, settle, sh, walk, which};
use dart_core::deploy::{write_usb_to, MediumSpec, UsbOptions};
use dart_core::disk::{FileDevice, Region};
use dart_core::formats::bcd::Store;
use dart_core::formats::partition::read_disk_at;
use dart_core::image::Compression;
use dart_core::progress::Control;
use dart_testkit::fixture::{generate, FixtureOptions};

const MIB: u64 = 1 << 20;
const ROUNDS: usize = 5;
/// Stand-in system files in the fixture's base image: stored uncompressed,
/// its `boot.wim` is about this big.
const WIM_BYTES: u64 = 300 * MIB;
const MENU: [&str; 3] = ["DaRT level 1", "DaRT level 2", "DaRT level 3"];

/// The fixture's media, and three WIMs copied from its `boot.wim`.
fn inputs(dir: &Path) -> (PathBuf, Vec<PathBuf>) {
    let options = FixtureOptions {
        base_bytes: WIM_BYTES,
        payload_bytes: 64 << 10,
        compression: Compression::None,
        grub: false,
        ..FixtureOptions::default()
    };
    let fx = generate(dir.join("fixture"), &options).unwrap();
    let wims: Vec<PathBuf> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            let to = dir.join(format!("{n}.wim"));
            std::fs::copy(&fx.base_wim, &to).unwrap();
            to
        })
        .collect();
    (fx.media, wims)
}

fn spec(media: &Path, wims: &[PathBuf]) -> MediumSpec {
    MediumSpec {
        images: MENU
            .iter()
            .zip(wims)
            .map(|(d, w)| format!("{d}={}", w.display()).parse().unwrap())
            .collect(),
        ..MediumSpec::new(media)
    }
}

/// What the floor copies: the media's files but `sources/boot.wim` (a
/// menu medium leaves it out), then the three WIMs.
fn floor_files(media: &Path, wims: &[PathBuf]) -> Vec<PathBuf> {
    let boot_wim = media.join("sources/boot.wim");
    walk(media)
        .into_iter()
        .filter(|p| *p != boot_wim)
        .chain(wims.iter().cloned())
        .collect()
}

/// Reads every file once so both contenders start from a warm page cache.
fn warm(files: &[PathBuf]) {
    let mut buf = vec![0u8; 4 * MIB as usize];
    for p in files {
        let mut f = std::fs::File::open(p).unwrap();
        while f.read(&mut buf).unwrap() > 0 {}
    }
}

fn ours(media: &Path, wims: &[PathBuf], img: &Path, size: u64) -> Duration {
    let _ = std::fs::remove_file(img);
    settle();
    let s = Instant::now();
    write_usb_to(
        img,
        Some(size),
        spec(media, wims),
        &UsbOptions::default(),
        &Control::default(),
    )
    .unwrap();
    s.elapsed()
}

/// The floor (DESIGN.md): a preallocated (sparse, like dart's) image file,
/// then `dd bs=4M oflag=direct` of each file at the next 4 KiB boundary
/// from 1 MiB on, as a FAT volume would place them.
fn floor(files: &[PathBuf], img: &Path, size: u64) -> Duration {
    let _ = std::fs::remove_file(img);
    settle();
    let s = Instant::now();
    sh(Command::new("truncate")
        .arg("-s")
        .arg(size.to_string())
        .arg(img));
    let mut at = MIB;
    for f in files {
        sh(Command::new("dd")
            .arg(format!("if={}", f.display()))
            .arg(format!("of={}", img.display()))
            .arg(format!("seek={at}"))
            .args([
                "bs=4M",
                "oflag=direct,seek_bytes",
                "conv=notrunc",
                "status=none",
            ]));
        at += f.metadata().unwrap().len().next_multiple_of(4096);
    }
    s.elapsed()
}

/// Both stores on dart's FAT volume list the three images in order; also
/// lists the volume's `sources` with mtools (an independent reader) when
/// installed. Returns the lines to print.
fn check(img: &Path) -> Vec<String> {
    let part = read_disk_at(img).unwrap().layout.partitions[0].clone();
    let mut dev = FileDevice::open(img, 512).unwrap();
    let mut region = Region::new(&mut dev, part.start, part.size).unwrap();
    let mut lines = Vec::new();
    for path in ["boot/bcd", "efi/microsoft/boot/bcd"] {
        let store = Store::open_on_volume(&mut region, path).unwrap();
        let menu: Vec<String> = store
            .display_order()
            .into_iter()
            .map(|id| store.object(id).unwrap().description.unwrap_or_default())
            .collect();
        assert_eq!(menu, MENU, "{path} on dart's volume");
        lines.push(format!(
            "{path}: {} entries: {}",
            menu.len(),
            menu.join(", ")
        ));
    }
    // Where cluster 2 starts on the disk, from the boot sector: writes of
    // file data are aligned as well as this offset is.
    let mut bs = [0u8; 512];
    let mut f = std::fs::File::open(img).unwrap();
    f.seek(SeekFrom::Start(part.start)).unwrap();
    f.read_exact(&mut bs).unwrap();
    let le16 = |at: usize| u64::from(u16::from_le_bytes([bs[at], bs[at + 1]]));
    let (bps, reserved, fats) = (le16(11), le16(14), u64::from(bs[16]));
    let fat_sectors = u64::from(u32::from_le_bytes(bs[36..40].try_into().unwrap()));
    let data = part.start + (reserved + fats * fat_sectors) * bps;
    lines.push(format!(
        "FAT32 with {} B clusters, {reserved} reserved sectors, {fats} FATs of {fat_sectors} sectors: \
         data region at disk byte {data} ({} mod 4096)",
        bps * u64::from(bs[13]),
        data % 4096
    ));
    if which("mdir").is_some() {
        let out = sh(Command::new("mdir")
            .args(["-b", "-i"])
            .arg(format!("{}@@{}", img.display(), part.start))
            .arg("::/sources"));
        let text = String::from_utf8_lossy(&out.stdout);
        let wims: Vec<&str> = text
            .lines()
            .filter(|l| l.to_ascii_lowercase().ends_with(".wim"))
            .collect();
        assert_eq!(wims.len(), 3, "mdir ::/sources of dart's volume:\n{text}");
        lines.push(format!("mdir ::/sources: {}", wims.join(" ")));
    }
    lines
}

fn main() {
    if std::env::var_os("DART_BENCH_CHILD").is_some() {
        let a: Vec<String> = std::env::args().collect();
        let wims: Vec<PathBuf> = a[4..].iter().map(PathBuf::from).collect();
        ours(
            Path::new(&a[1]),
            &wims,
            Path::new(&a[2]),
            a[3].parse().unwrap(),
        );
        println!("{}", peak_rss_kib());
        return;
    }
    let dir = bench_dir();
    let (media, wims) = inputs(dir.path());
    let files = floor_files(&media, &wims);
    let total: u64 = files.iter().map(|p| p.metadata().unwrap().len()).sum();
    let size = (total + 64 * MIB).next_multiple_of(MIB);
    let img = dir.path().join("menu.img");
    let floor_img = dir.path().join("floor.img");

    // Validity, once, outside the timing.
    ours(&media, &wims, &img, size);
    let report = check(&img);
    std::fs::remove_file(&img).unwrap();

    warm(&files);
    println!(
        "workload: USB image (MBR + FAT32) with 3 images behind a boot menu ({} MiB WIM each) from fixture media; \
         {} files, {} bytes ({} MiB) into a {} MiB image file; floor: dd bs=4M oflag=direct of the same files; \
         {ROUNDS} interleaved rounds, order alternating, `sync` before each timed run",
        wims[0].metadata().unwrap().len() / MIB,
        files.len(),
        total,
        total / MIB,
        size / MIB
    );
    let (mut t_ours, mut t_floor) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (o, f) = if round % 2 == 0 {
            let o = ours(&media, &wims, &img, size);
            let f = floor(&files, &floor_img, size);
            (o, f)
        } else {
            let f = floor(&files, &floor_img, size);
            let o = ours(&media, &wims, &img, size);
            (o, f)
        };
        std::fs::remove_file(&img).unwrap();
        std::fs::remove_file(&floor_img).unwrap();
        let (o, f) = (o.as_secs_f64(), f.as_secs_f64());
        println!(
            "round {round} ({} first): dart {o:.3}s | dd floor {f:.3}s | {:.2}x",
            if round % 2 == 0 { "dart" } else { "dd" },
            o / f
        );
        t_ours.push(o);
        t_floor.push(f);
    }
    let mut args: Vec<&std::ffi::OsStr> = vec![media.as_os_str(), img.as_os_str()];
    let size_arg = size.to_string();
    args.push(size_arg.as_ref());
    args.extend(wims.iter().map(|w| w.as_os_str()));
    let rss = child_peak_rss(&args);
    let _ = std::fs::remove_file(&img);
    let (o, f) = (median(t_ours), median(t_floor));
    let ratio = o / f;
    let mb = total as f64 / 1e6;
    println!(
        "dart {o:.3}s ({:.0} MB/s) | dd bs=4M oflag=direct of the same files {f:.3}s ({:.0} MB/s) | ratio {ratio:.2}x (medians; target <= 1.1x)",
        mb / o,
        mb / f
    );
    println!("peak RSS of dart's write: {:.1} MiB", rss as f64 / 1024.0);
    for l in report {
        println!("dart image: {l}");
    }
    assert!(ratio <= 1.1, "dart is {ratio:.2}x the copy, above 1.1x");
}
