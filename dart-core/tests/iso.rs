#![allow(clippy::unwrap_used, clippy::expect_used)]
//! ISO images end to end: written from the fixture's media, checked with
//! xorriso, isoinfo, sgdisk and mtools, read back by xorriso (an
//! independent reader) and by dart's reader, booted in QEMU (OVMF from the
//! CD-ROM and, hybrid, from a disk; SeaBIOS through isolinux), and used as
//! a media source again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dart_testkit::fixture::{add_isolinux, BOOT_MARKER};

use dart_core::formats::iso::{read_iso, write_iso, IsoOptions};
use dart_core::model::media::MediaSet;
use dart_core::progress::Control;
use dart_core::ErrorKind;
use dart_testkit as common;
use dart_testkit::qemu::{boot, Attach, Firmware};

const TS: u64 = 1_700_000_000;

/// The fixture's media plus isolinux; returns the media directory.
fn media(dir: &Path) -> PathBuf {
    let media = common::bootable_media(dir);
    let loader = add_isolinux(&media).unwrap();
    assert!(
        loader.is_some(),
        "isolinux (apt: isolinux, syslinux-common) is required"
    );
    // A nested tree with long and non-ASCII names, and an empty file.
    let extra = media.join("Tools/Diagnostics and Recovery Toolset");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(extra.join("Crash Analyzer – readme (long name).txt"), "ü").unwrap();
    std::fs::write(extra.join("empty.log"), "").unwrap();
    media
}

fn opts(hybrid: bool) -> IsoOptions {
    IsoOptions {
        label: "DaRT10".into(),
        hybrid,
        bios_loader: Some("isolinux/isolinux.bin".into()),
        timestamp: Some(TS),
        ..IsoOptions::default()
    }
}

/// Writes the ISO of the media directory `media` to `out`.
fn write(media: &Path, out: &Path, hybrid: bool) {
    let set = MediaSet::open(media).unwrap();
    write_iso(&set, out, &opts(hybrid), &Control::default()).unwrap();
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

/// Every file under `root`, by relative path.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn extract(iso: &Path, into: &Path) -> BTreeMap<String, Vec<u8>> {
    run(Command::new("xorriso")
        .args(["-osirrox", "on", "-indev"])
        .arg(iso)
        .args(["-extract", "/"])
        .arg(into));
    // xorriso keeps the ISO's read-only modes.
    run(Command::new("chmod").arg("-R").arg("u+w").arg(into));
    tree(into)
}

#[test]
fn iso_passes_independent_checks() {
    let dir = tempfile::tempdir().unwrap();
    let media = media(dir.path());
    let iso = dir.path().join("dart.iso");
    let set = MediaSet::open(&media).unwrap();
    let report = write_iso(&set, &iso, &opts(true), &Control::default()).unwrap();
    assert_eq!(std::fs::metadata(&iso).unwrap().len(), report.plan.bytes);
    println!("{}", report.plan);

    // Both El Torito entries.
    let et = run(Command::new("xorriso")
        .arg("-indev")
        .arg(&iso)
        .args(["-report_el_torito", "plain"]));
    assert!(et.contains("BIOS") && et.contains("UEFI"), "{et}");
    assert!(et.contains("/isolinux/isolinux.bin"), "{et}");

    // isoinfo lists every file by its Joliet name (it prints characters
    // outside its ISO 8859-1 output charset as '_').
    let listing = run(Command::new("isoinfo").args(["-J", "-l", "-i"]).arg(&iso));
    for f in set.files() {
        let name: String = f
            .path
            .rsplit('/')
            .next()
            .unwrap()
            .chars()
            .map(|c| if c as u32 > 0xFF { '_' } else { c })
            .collect();
        assert!(listing.contains(&name), "isoinfo misses {name}:\n{listing}");
    }

    // xorriso reads back the sources, except the loader's boot-info-table.
    let sources = tree(&media);
    let mut back = extract(&iso, &dir.path().join("x"));
    let loader = back.remove("isolinux/isolinux.bin").unwrap();
    let original = &sources["isolinux/isolinux.bin"];
    assert_eq!(loader.len(), original.len());
    assert_eq!(&loader[8..12], &16u32.to_le_bytes(), "boot-info-table");
    assert_eq!(loader[64..], original[64..]);
    let mut expected = sources.clone();
    expected.remove("isolinux/isolinux.bin");
    assert_eq!(
        back.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    assert!(
        back == expected,
        "extracted contents differ from the sources"
    );

    // dart's reader agrees on the names.
    let ours = read_iso(&iso).unwrap();
    let names: Vec<&String> = ours.files.iter().map(|f| &f.path).collect();
    assert_eq!(names, sources.keys().collect::<Vec<_>>());

    // Hybrid: a valid GPT whose ESP is the El Torito FAT image.
    let v = run(Command::new("sgdisk").arg("-v").arg(&iso));
    assert!(v.contains("No problems found"), "{v}");
    let uefi = report
        .plan
        .boot
        .iter()
        .find(|b| b.platform == "uefi")
        .unwrap();
    let esp = format!("{}@@{}", iso.display(), u64::from(uefi.lba) * 2048);
    let dir_listing = run(Command::new("mdir").args(["-/", "-b", "-i", &esp, "::"]));
    assert!(
        dir_listing.to_lowercase().contains("/efi/boot/bootx64.efi"),
        "{dir_listing}"
    );
    let bytes = std::fs::read(&iso).unwrap();
    let start = u64::from(uefi.lba) as usize * 2048;
    let esp_img = dir.path().join("esp.img");
    std::fs::write(&esp_img, &bytes[start..start + uefi.bytes as usize]).unwrap();
    run(Command::new("fsck.fat").arg("-n").arg(&esp_img));
}

#[test]
fn same_inputs_give_identical_images() {
    let dir = tempfile::tempdir().unwrap();
    let media = media(dir.path());
    let set = MediaSet::open(&media).unwrap();
    let a = dir.path().join("a.iso");
    let b = dir.path().join("b.iso");
    write_iso(&set, &a, &opts(true), &Control::default()).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    write_iso(&set, &b, &opts(true), &Control::default()).unwrap();
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap());
    let c = dir.path().join("c.iso");
    let other = IsoOptions {
        timestamp: Some(TS + 1),
        ..opts(true)
    };
    write_iso(&set, &c, &other, &Control::default()).unwrap();
    assert!(std::fs::read(&a).unwrap() != std::fs::read(&c).unwrap());
}

fn boots(medium: &Path, attach: Attach, firmware: Firmware) {
    let check = boot(medium, attach, firmware, Duration::from_secs(120)).unwrap();
    assert!(
        check.marker_seen,
        "{BOOT_MARKER} not seen booting {} as {attach:?} with {firmware:?}:\n{}",
        medium.display(),
        check.console_tail
    );
}

#[test]
fn ovmf_boots_the_iso_as_cdrom_and_the_hybrid_as_disk() {
    let dir = tempfile::tempdir().unwrap();
    let media = media(dir.path());
    let iso = dir.path().join("dart.iso");
    write(&media, &iso, true);
    boots(&iso, Attach::Cdrom, Firmware::Uefi);
    boots(&iso, Attach::Disk, Firmware::Uefi);
}

#[test]
fn seabios_boots_the_bios_entry() {
    let dir = tempfile::tempdir().unwrap();
    let media = media(dir.path());
    let iso = dir.path().join("dart.iso");
    write(&media, &iso, false);
    boots(&iso, Attach::Cdrom, Firmware::Bios);
}

#[test]
fn an_iso_is_a_media_source() {
    let dir = tempfile::tempdir().unwrap();
    let media = media(dir.path());
    let first = dir.path().join("first.iso");
    write(&media, &first, false);
    let from_iso = MediaSet::open(&first).unwrap();
    assert_eq!(
        from_iso.files().len(),
        MediaSet::open(&media).unwrap().files().len()
    );
    from_iso
        .validate(
            dart_core::model::arch::Architecture::X64,
            dart_core::model::media::Firmware::Uefi,
        )
        .unwrap();
    // ISO to ISO: the same files.
    let second = dir.path().join("second.iso");
    write_iso(&from_iso, &second, &opts(false), &Control::default()).unwrap();
    assert!(extract(&first, &dir.path().join("x1")) == extract(&second, &dir.path().join("x2")));
    // ISO to a USB image.
    let usb = dir.path().join("usb.img");
    dart_core::deploy::write_usb_to(
        &usb,
        Some(64 << 20),
        &first,
        &dart_core::deploy::UsbOptions::default(),
        &Control::default(),
    )
    .unwrap();
    boots(&usb, Attach::Disk, Firmware::Uefi);
}

#[test]
fn bad_inputs_and_cancellation_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let media = media(dir.path());
    let set = MediaSet::open(&media).unwrap();
    let iso = dir.path().join("out.iso");
    let long = IsoOptions {
        label: "x".repeat(33),
        ..opts(false)
    };
    let err = write_iso(&set, &iso, &long, &Control::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("volume label"), "{err}");
    let missing = IsoOptions {
        bios_loader: Some("boot/none.bin".into()),
        ..opts(false)
    };
    let err = write_iso(&set, &iso, &missing, &Control::default()).unwrap_err();
    assert!(err.to_string().contains("boot/none.bin"), "{err}");
    let control = Control::default();
    control.cancel.cancel();
    let err = write_iso(&set, &iso, &opts(false), &control).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert!(!iso.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.contains("dart-partial").then_some(n)
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // An existing file stays as it was when the write fails.
    std::fs::write(&iso, b"old").unwrap();
    write_iso(&set, &iso, &long, &Control::default()).unwrap_err();
    assert_eq!(std::fs::read(&iso).unwrap(), b"old");
}
