#![allow(clippy::unwrap_used, clippy::expect_used)]
//! USB media and the recovery partition, end to end: built from the
//! fixture's media, checked with sgdisk, fsck.fat and mtools, booted in QEMU
//! with OVMF; bad inputs leave the target's bytes unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dart_core::deploy::{
    add_recovery_at, plan_add_recovery_at, update_recovery_at, write_usb_to, UsbOptions,
};
use dart_core::disk::{BlockDevice, FileDevice};
use dart_core::formats::fat::FatOptions;
use dart_core::formats::partition::{
    apply, read_disk_at, PartitionKind, RecoveryOptions, Scheme, MIB,
};
use dart_core::progress::Control;
use dart_core::ErrorKind;
use dart_testkit::qemu::{boot, Attach, Firmware};
use sha2::{Digest, Sha256};

use dart_testkit as common;

fn fixture(dir: &Path) -> PathBuf {
    common::bootable_media(dir)
}

fn sha(path: &Path) -> [u8; 32] {
    let len = std::fs::metadata(path).unwrap().len();
    sha_range(path, 0, len)
}

fn sha_range(path: &Path, start: u64, len: u64) -> [u8; 32] {
    let mut dev = FileDevice::open(path, 512).unwrap();
    dart_core::disk::hash_range(&mut dev, start, len).unwrap()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Checks the FAT volume at `offset` with fsck.fat and mtools: every media
/// file is listed with its size and reads back identical.
fn check_volume(image: &Path, offset: u64, len: u64, media: &Path) {
    let part = image.with_extension("part");
    {
        let mut src = FileDevice::open(image, 512).unwrap();
        let mut dst = FileDevice::create(&part, len, 512).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut at = 0;
        while at < len {
            let n = (len - at).min(buf.len() as u64) as usize;
            src.read_at(offset + at, &mut buf[..n]).unwrap();
            dst.write_at(at, &buf[..n]).unwrap();
            at += n as u64;
        }
    }
    let fsck = run(Command::new("fsck.fat").arg("-n").arg(&part));
    assert!(
        !fsck.contains("differ")
            && !fsck.contains("lost")
            && !fsck.to_lowercase().contains("error"),
        "{fsck}"
    );
    let ms = dart_core::model::media::MediaSet::from_dir(media).unwrap();
    let listing = run(Command::new("mdir")
        .args(["-/", "-a", "-i"])
        .arg(&part)
        .arg("::"));
    for f in ms.files() {
        let name = Path::new(&f.path)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(listing.contains(&name), "{name} not listed:\n{listing}");
        let out = Command::new("mcopy")
            .arg("-i")
            .arg(&part)
            .arg(format!("::{}", f.path))
            .arg("-")
            .output()
            .unwrap();
        assert!(out.status.success(), "mcopy {}", f.path);
        assert_eq!(out.stdout.len() as u64, f.size, "{}", f.path);
        let want: [u8; 32] = Sha256::digest(std::fs::read(ms.source(f).path()).unwrap()).into();
        let got: [u8; 32] = Sha256::digest(&out.stdout).into();
        assert_eq!(got, want, "{} differs", f.path);
    }
    std::fs::remove_file(&part).unwrap();
}

fn assert_boots(image: &Path) {
    let check = boot(
        image,
        Attach::Disk,
        Firmware::Uefi,
        Duration::from_secs(180),
    )
    .unwrap();
    assert!(
        check.marker_seen,
        "{} did not boot:\n{}",
        image.display(),
        check.console_tail
    );
}

#[test]
fn usb_images_boot_under_ovmf_and_pass_the_validators() {
    let dir = tempfile::tempdir().unwrap();
    let media = fixture(&dir.path().join("fx"));
    for scheme in [Scheme::Mbr, Scheme::Gpt] {
        let img = dir.path().join(format!("usb-{}.img", scheme.name()));
        let opts = UsbOptions {
            scheme,
            ..UsbOptions::default()
        };
        let report =
            write_usb_to(&img, Some(64 * MIB), &media, &opts, &Control::default()).unwrap();
        let part = &report.layout.partitions[0];
        let state = read_disk_at(&img).unwrap();
        assert_eq!(state.layout, report.layout);
        if scheme == Scheme::Gpt {
            let v = run(Command::new("sgdisk").arg("-v").arg(&img));
            assert!(v.contains("No problems found"), "{v}");
            assert_eq!(part.kind, PartitionKind::EfiSystem);
        } else {
            let d = run(Command::new("sfdisk").arg("--dump").arg(&img));
            assert!(d.contains("type=c, bootable"), "{d}");
        }
        check_volume(&img, part.start, part.size, &media);
        assert_boots(&img);
    }
}

#[test]
fn deterministic_usb_images_are_identical() {
    let dir = tempfile::tempdir().unwrap();
    let media = fixture(&dir.path().join("fx"));
    let opts = UsbOptions {
        scheme: Scheme::Gpt,
        timestamp: Some(1_700_000_000),
        ..UsbOptions::default()
    };
    let a = dir.path().join("a.img");
    let b = dir.path().join("b.img");
    write_usb_to(&a, Some(48 * MIB), &media, &opts, &Control::default()).unwrap();
    write_usb_to(&b, Some(48 * MIB), &media, &opts, &Control::default()).unwrap();
    assert_eq!(sha(&a), sha(&b));
}

/// A GPT or MBR disk with a 16 MiB "OS" partition full of a known pattern.
fn os_disk(path: &Path, scheme: Scheme, mib: u64) -> (u64, u64) {
    dart_testkit::fixture::os_disk(path, scheme, mib * MIB, 16 * MIB).unwrap()
}

#[test]
fn recovery_partition_is_added_and_updated_without_touching_the_os() {
    let dir = tempfile::tempdir().unwrap();
    let media = fixture(&dir.path().join("fx"));
    for scheme in [Scheme::Gpt, Scheme::Mbr] {
        let disk = dir.path().join(format!("disk-{}.img", scheme.name()));
        let (os_start, os_size) = os_disk(&disk, scheme, 128);
        let os_hash = sha_range(&disk, os_start, os_size);

        let opts = RecoveryOptions {
            size: None,
            headroom: Some(8 * MIB),
        };
        let plan = plan_add_recovery_at(&disk, &media, &opts).unwrap();
        assert_eq!(plan.partition.start, os_start + os_size);
        let report = add_recovery_at(
            &disk,
            &media,
            &opts,
            &FatOptions::default(),
            &Control::default(),
        )
        .unwrap();
        let part = report.plan.partition.clone();
        assert_eq!(part.kind, PartitionKind::WindowsRecovery);
        assert_eq!(
            sha_range(&disk, os_start, os_size),
            os_hash,
            "the OS partition changed"
        );
        if scheme == Scheme::Gpt {
            let v = run(Command::new("sgdisk").arg("-v").arg(&disk));
            assert!(v.contains("No problems found"), "{v}");
            let i = run(Command::new("sgdisk")
                .args(["-i", &part.number.to_string()])
                .arg(&disk));
            assert!(
                i.to_uppercase()
                    .contains("DE94BBA4-06D1-4D40-A16A-BFD50179D6AC")
                    && i.contains("8000000000000001"),
                "{i}"
            );
        } else {
            let d = run(Command::new("sfdisk").arg("--dump").arg(&disk));
            assert!(d.contains("type=27"), "{d}");
        }
        check_volume(&disk, part.start, part.size, &media);
        assert_boots(&disk);

        // A new image: boot.wim grows and a file is added.
        let wim = media.join("sources/boot.wim");
        let old_wim = std::fs::read(&wim).unwrap();
        let mut new_wim = old_wim.clone();
        new_wim.extend(std::iter::repeat_n(0x5A, 300_000));
        std::fs::write(&wim, &new_wim).unwrap();
        std::fs::write(media.join("sources/new-tool.txt"), b"added by the update").unwrap();
        let r =
            update_recovery_at(&disk, &media, &FatOptions::default(), &Control::default()).unwrap();
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("boot.wim"), "{text}");
        assert_eq!(
            sha_range(&disk, os_start, os_size),
            os_hash,
            "update changed the OS partition"
        );
        check_volume(&disk, part.start, part.size, &media);
        assert_boots(&disk);
        std::fs::write(&wim, &old_wim).unwrap();
        std::fs::remove_file(media.join("sources/new-tool.txt")).unwrap();
    }
}

/// Runs `f` and checks that it fails with `kind`, leaves `target`'s bytes as
/// they were, and says so.
fn refused(
    target: &Path,
    kind: ErrorKind,
    expect: &str,
    f: impl FnOnce() -> dart_core::Result<()>,
) {
    let before = sha(target);
    let err = f().expect_err("should have been refused");
    let msg = err.to_string();
    assert_eq!(err.kind(), kind, "{msg}");
    assert!(msg.contains(expect), "{msg}");
    assert!(msg.contains("nothing was written"), "{msg}");
    assert_eq!(sha(target), before, "the target changed after: {msg}");
}

#[test]
fn bad_inputs_are_refused_and_leave_the_target_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let media = fixture(&dir.path().join("fx"));
    let usb = |target: &Path, m: &Path| {
        let t = target.to_path_buf();
        let m = m.to_path_buf();
        move || write_usb_to(&t, None, &m, &UsbOptions::default(), &Control::default()).map(drop)
    };

    // Target too small.
    let small = dir.path().join("small.img");
    FileDevice::create(&small, 4 * MIB, 512).unwrap();
    refused(
        &small,
        ErrorKind::Disk,
        "bytes are needed",
        usb(&small, &media),
    );
    // And an image that would have to be created too small is not left behind.
    let never = dir.path().join("never.img");
    assert!(write_usb_to(
        &never,
        Some(2 * MIB),
        &media,
        &UsbOptions::default(),
        &Control::default()
    )
    .is_err());
    assert!(!never.exists());

    // A boot.wim of 4 GiB (sparse).
    let big = dir.path().join("big-media");
    copy_tree(&media, &big);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(big.join("sources/boot.wim"))
        .unwrap();
    f.set_len(4 << 30).unwrap();
    let target = dir.path().join("target.img");
    FileDevice::create(&target, 64 * MIB, 512).unwrap();
    refused(&target, ErrorKind::Media, "FAT32", usb(&target, &big));
    let disk = dir.path().join("disk.img");
    os_disk(&disk, Scheme::Gpt, 64);
    refused(&disk, ErrorKind::Media, "FAT32", || {
        add_recovery_at(
            &disk,
            &big,
            &RecoveryOptions::default(),
            &FatOptions::default(),
            &Control::default(),
        )
        .map(drop)
    });

    // Not enough free space for a recovery partition.
    let full = dir.path().join("full.img");
    os_disk(&full, Scheme::Gpt, 24);
    refused(&full, ErrorKind::Disk, "no free region", || {
        add_recovery_at(
            &full,
            &media,
            &RecoveryOptions::default(),
            &FatOptions::default(),
            &Control::default(),
        )
        .map(drop)
    });

    // A corrupt GPT: primary and backup disagree.
    let corrupt = dir.path().join("corrupt.img");
    os_disk(&corrupt, Scheme::Gpt, 128);
    {
        let mut dev = FileDevice::open_writable(&corrupt, 512).unwrap();
        let state = read_disk_at(&corrupt).unwrap();
        let mut other = state.layout.clone();
        other
            .add(PartitionKind::LinuxFilesystem, MIB, "other")
            .unwrap();
        let mut scratch = dart_core::disk::MemoryDevice::new((128 * MIB) as usize, 512);
        apply(&mut scratch, &other).unwrap();
        let tail = 128 * MIB - 33 * 512;
        dev.write_at(tail, &scratch.bytes()[tail as usize..])
            .unwrap();
    }
    refused(&corrupt, ErrorKind::Disk, "primary and backup", || {
        add_recovery_at(
            &corrupt,
            &media,
            &RecoveryOptions::default(),
            &FatOptions::default(),
            &Control::default(),
        )
        .map(drop)
    });

    // A disk with an unknown partition scheme (a bare file system).
    let bare = dir.path().join("bare.img");
    std::fs::write(&bare, vec![0u8; 64 << 20]).unwrap();
    run(Command::new("mkfs.fat").arg(&bare));
    refused(&bare, ErrorKind::Disk, "unknown partition scheme", || {
        add_recovery_at(
            &bare,
            &media,
            &RecoveryOptions::default(),
            &FatOptions::default(),
            &Control::default(),
        )
        .map(drop)
    });
    refused(&bare, ErrorKind::Disk, "unknown partition scheme", || {
        update_recovery_at(&bare, &media, &FatOptions::default(), &Control::default()).map(drop)
    });
    // A partitioned disk without a recovery partition cannot be updated.
    refused(
        &disk,
        ErrorKind::Disk,
        "no FAT32 recovery partition",
        || update_recovery_at(&disk, &media, &FatOptions::default(), &Control::default()).map(drop),
    );
}

/// A loop device over `file`, detached on drop.
struct Loop(String);

impl Loop {
    fn attach(file: &Path) -> Loop {
        let out = run(Command::new("losetup").args(["--find", "--show"]).arg(file));
        Loop(out.trim().to_string())
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_mounted_loop_device_is_refused() {
    if std::env::var_os("DART_SKIP_ROOT_TESTS").is_some() {
        eprintln!("skipped: DART_SKIP_ROOT_TESTS is set");
        return;
    }
    assert!(
        is_root(),
        "this test needs root for losetup and mount (set DART_SKIP_ROOT_TESTS=1 to skip)"
    );
    let dir = tempfile::tempdir().unwrap();
    let media = fixture(&dir.path().join("fx"));
    let backing = dir.path().join("stick.img");
    std::fs::write(&backing, vec![0u8; 64 << 20]).unwrap();
    run(Command::new("mkfs.fat").arg(&backing));
    let lo = Loop::attach(&backing);
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // Some kernels lack vfat; any mounted file system makes the point.
    if !Command::new("mount")
        .arg(&lo.0)
        .arg(&mnt)
        .status()
        .unwrap()
        .success()
    {
        run(Command::new("mkfs.ext2").args(["-q", "-F"]).arg(&lo.0));
        run(Command::new("mount").arg(&lo.0).arg(&mnt));
    }
    let _m = Mount(mnt.clone());
    let dev = PathBuf::from(&lo.0);
    refused(&backing, ErrorKind::Disk, "mounted", || {
        write_usb_to(
            &dev,
            None,
            &media,
            &UsbOptions::default(),
            &Control::default(),
        )
        .map(drop)
    });
    refused(&backing, ErrorKind::Disk, "mounted", || {
        add_recovery_at(
            &dev,
            &media,
            &RecoveryOptions::default(),
            &FatOptions::default(),
            &Control::default(),
        )
        .map(drop)
    });
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u")).trim() == "0"
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in common::walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &dest).unwrap();
    }
}
