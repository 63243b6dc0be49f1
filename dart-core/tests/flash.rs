#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The image writer on real block devices (loop devices made by each test):
//! write + verify, a corrupted byte found at its offset, a cancelled write
//! that leaves a target that does not boot, two targets in one pass, a
//! mounted device refused, and block maps shared with bmaptool.

use dart_testkit as common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use dart_core::deploy::{write_usb_to, UsbOptions};
use dart_core::formats::partition::Scheme;
use dart_core::progress::{Control, Phase};
use dart_core::write::{flash, verify, Bmap, FlashOptions, ImageSource, LEFT_INVALID};
use dart_core::{Error, ErrorKind};
use dart_testkit::qemu::{boot, Attach, Firmware};
use sha2::{Digest, Sha256};

const MIB: u64 = 1 << 20;

/// A bootable GPT USB image (sparse: free clusters are holes) of 64 MiB.
fn usb_image(dir: &Path) -> PathBuf {
    let media = bootable_media(&dir.join("fx"));
    let img = dir.join("usb.img");
    let opts = UsbOptions {
        scheme: Scheme::Gpt,
        timestamp: Some(1_700_000_000),
        ..UsbOptions::default()
    };
    write_usb_to(&img, Some(64 * MIB), &media, &opts, &Control::default()).unwrap();
    img
}

/// [`usb_image`] copied without holes: every byte is written.
fn dense_usb_image(dir: &Path) -> PathBuf {
    let img = usb_image(dir);
    let dense = dir.join("dense.img");
    run(
        "cp",
        &[
            "--sparse=never",
            img.to_str().unwrap(),
            dense.to_str().unwrap(),
        ],
    );
    dense
}

/// A backing file of `len` bytes of junk (so unwritten ranges are visible).
fn junk_file(path: &Path, len: u64, seed: u8) {
    let block: Vec<u8> = (0..MIB as usize)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect();
    let mut data = Vec::with_capacity(len as usize);
    while (data.len() as u64) < len {
        data.extend_from_slice(&block);
    }
    data.truncate(len as usize);
    std::fs::write(path, data).unwrap();
}

fn sha_prefix(path: &Path, len: u64) -> [u8; 32] {
    let data = std::fs::read(path).unwrap();
    Sha256::digest(&data[..len as usize]).into()
}

fn boots(disk: &Path) -> bool {
    boot(disk, Attach::Disk, Firmware::Uefi, Duration::from_secs(60))
        .unwrap()
        .marker_seen
}

#[test]
fn write_verify_and_a_corrupted_byte() {
    if !ready("write_verify_and_a_corrupted_byte", &[&["losetup"]]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = usb_image(dir.path());
    let backing = dir.path().join("stick");
    junk_file(&backing, 64 * MIB, 7);
    let lp = Loop::attach(&backing, &[]);
    let opts = FlashOptions {
        verify: true,
        ..FlashOptions::default()
    };
    let report = flash(
        &img,
        std::slice::from_ref(&lp.dev),
        &opts,
        &Control::default(),
    )
    .unwrap();
    assert!(report.verified);
    assert!(
        report.plan.mapped_bytes < 64 * MIB,
        "holes were not skipped"
    );
    // Independent checks: the GPT and the boot.
    let v = run("sgdisk", &["-v", lp.path()]);
    assert!(v.contains("No problems found"), "{v}");
    assert!(boots(&backing), "the flashed stick does not boot");

    // One byte changed behind the writer's back is found at its offset.
    let ranges = ImageSource::open(&img).unwrap().data_ranges().unwrap();
    let (start, len) = ranges[ranges.len() / 2];
    let offset = start + len / 2;
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&lp.dev)
            .unwrap();
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, offset).unwrap();
        f.write_all_at(&[!b[0]], offset).unwrap();
        f.sync_all().unwrap();
    }
    let err = verify(&img, &lp.dev, None, &Control::default()).unwrap_err();
    match &err {
        Error::VerifyMismatch { offset: o, .. } => assert_eq!(*o, offset, "{err}"),
        other => panic!("expected a mismatch, got {other}"),
    }
    assert!(err.to_string().contains(&offset.to_string()), "{err}");
}

#[test]
fn a_cancelled_write_leaves_a_target_that_does_not_boot() {
    if !ready("a_cancelled_write_...", &[&["losetup"]]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Every byte is written, so the cancel lands mid-way.
    let dense = dense_usb_image(dir.path());
    let backing = dir.path().join("stick");
    junk_file(&backing, 64 * MIB, 1);
    let lp = Loop::attach(&backing, &[]);
    // First a good copy: the stick boots.
    flash(
        &dense,
        std::slice::from_ref(&lp.dev),
        &FlashOptions::default(),
        &Control::default(),
    )
    .unwrap();
    assert!(boots(&backing));
    // Then a write cancelled after the first progress report.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let control = Control::new(Arc::new(move |_: Phase, _: &str, done: u64, _: u64| {
        if done > 0 {
            flag.store(true, Ordering::Relaxed);
        }
    }));
    let token = control.cancel.clone();
    let watcher = std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
        }
        token.cancel();
    });
    let err = flash(
        &dense,
        std::slice::from_ref(&lp.dev),
        &FlashOptions::default(),
        &control,
    )
    .unwrap_err();
    watcher.join().unwrap();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert!(err.to_string().contains(LEFT_INVALID), "{err}");
    let head = &std::fs::read(&backing).unwrap()[..MIB as usize];
    assert!(head.iter().all(|&b| b == 0), "the first MiB is not zeroed");
    assert!(!boots(&backing), "a cancelled stick still boots");
}

#[test]
fn two_targets_get_identical_copies_in_one_pass() {
    if !ready("two_targets_...", &[&["losetup"]]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dense = dense_usb_image(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    junk_file(&a, 80 * MIB, 3);
    junk_file(&b, 72 * MIB, 9);
    let (la, lb) = (Loop::attach(&a, &[]), Loop::attach(&b, &[]));
    let file_target = dir.path().join("copy.img");
    let opts = FlashOptions {
        verify: true,
        ..FlashOptions::default()
    };
    let targets = vec![la.dev.clone(), lb.dev.clone(), file_target.clone()];
    let report = flash(&dense, &targets, &opts, &Control::default()).unwrap();
    assert_eq!(report.bytes_written.len(), 3);
    let want = sha_prefix(&dense, 64 * MIB);
    assert_eq!(sha_prefix(&a, 64 * MIB), want);
    assert_eq!(sha_prefix(&b, 64 * MIB), want);
    assert_eq!(sha_prefix(&file_target, 64 * MIB), want);
    // Too small a target is refused before anything is written.
    let small = dir.path().join("small");
    junk_file(&small, 32 * MIB, 5);
    let ls = Loop::attach(&small, &[]);
    let before = sha_prefix(&a, 80 * MIB);
    let err = flash(
        &dense,
        &[la.dev.clone(), ls.dev.clone()],
        &opts,
        &Control::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disk, "{err}");
    assert_eq!(sha_prefix(&a, 80 * MIB), before, "a target was written");
}

#[test]
fn a_mounted_loop_device_is_refused() {
    if !ready(
        "a_mounted_loop_device_is_refused",
        &[&["losetup"], &["mount"], &["mkfs.ext2", "mkfs.fat"]],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("img");
    junk_file(&img, 4 * MIB, 2);
    let backing = dir.path().join("disk");
    std::fs::write(&backing, vec![0u8; 16 * MIB as usize]).unwrap();
    let lp = Loop::attach(&backing, &[]);
    let mount = mkfs_and_mount(lp.path(), &dir.path().join("mnt"));
    settle(&mount);
    let before = sha256_file(&backing);
    let err = flash(
        &img,
        std::slice::from_ref(&lp.dev),
        &FlashOptions::default(),
        &Control::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::UnsafeTarget { .. }), "{err}");
    assert!(err.to_string().contains("mounted"), "{err}");
    assert_eq!(sha256_file(&backing), before);
}

#[test]
fn block_maps_interoperate_with_bmaptool() {
    if !ready("block_maps_interoperate_with_bmaptool", &[&["bmaptool"]]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = usb_image(dir.path());
    // dart's map, bmaptool's copy.
    let ours = dir.path().join("ours.bmap");
    std::fs::write(
        &ours,
        ImageSource::open(&img)
            .unwrap()
            .create_bmap()
            .unwrap()
            .to_xml(),
    )
    .unwrap();
    let out1 = dir.path().join("by-bmaptool.img");
    run(
        "bmaptool",
        &[
            "copy",
            "--bmap",
            ours.to_str().unwrap(),
            img.to_str().unwrap(),
            out1.to_str().unwrap(),
        ],
    );
    verify(
        &img,
        &out1,
        Some(&Bmap::read(&ours).unwrap()),
        &Control::default(),
    )
    .unwrap();
    // bmaptool's map, dart's flash.
    let theirs = dir.path().join("theirs.bmap");
    run(
        "bmaptool",
        &[
            "create",
            "-o",
            theirs.to_str().unwrap(),
            img.to_str().unwrap(),
        ],
    );
    let map = Bmap::read(&theirs).unwrap();
    assert!(map.ranges.iter().all(|r| r.sha256.is_some()));
    let out2 = dir.path().join("by-dart.img");
    let opts = FlashOptions {
        verify: true,
        bmap: Some(map),
    };
    flash(
        &img,
        std::slice::from_ref(&out2),
        &opts,
        &Control::default(),
    )
    .unwrap();
    let status = Command::new("cmp").arg(&img).arg(&out2).status().unwrap();
    assert!(status.success(), "the copy differs from the image");
}

#[test]
fn a_hybrid_iso_is_built_straight_onto_two_sticks() {
    if !ready(
        "a_hybrid_iso_is_built_straight_onto_two_sticks",
        &[&["losetup"]],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let media = bootable_media(&dir.path().join("fx"));
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    // The same old junk on both: bytes the build leaves alone (free FAT
    // clusters of the EFI image) must then agree too.
    junk_file(&a, 80 * MIB, 4);
    junk_file(&b, 96 * MIB, 4);
    let (la, lb) = (Loop::attach(&a, &[]), Loop::attach(&b, &[]));
    let opts = dart_core::formats::iso::IsoOptions {
        hybrid: true,
        timestamp: Some(1_700_000_000),
        ..Default::default()
    };
    let targets = vec![la.dev.clone(), lb.dev.clone()];
    let report =
        dart_core::deploy::write_iso_onto(&media, &targets, &opts, &Control::default()).unwrap();
    let len = report.plan.bytes;
    assert_eq!(sha_prefix(&a, len), sha_prefix(&b, len));
    let files = dart_core::formats::iso::read_iso(&a).unwrap().files.len();
    assert_eq!(
        files,
        dart_core::model::media::MediaSet::open(&media)
            .unwrap()
            .files()
            .len()
    );
    assert!(boots(&b), "the stick built in place does not boot");
    // A bad option is found before either stick is touched.
    let before = sha_prefix(&a, 80 * MIB);
    let bad = dart_core::formats::iso::IsoOptions {
        label: "x".repeat(40),
        ..opts
    };
    dart_core::deploy::write_iso_onto(&media, &targets, &bad, &Control::default()).unwrap_err();
    assert_eq!(sha_prefix(&a, 80 * MIB), before);
}
