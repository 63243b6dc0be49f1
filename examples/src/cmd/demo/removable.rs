//! The demo's removable media: USB stick images (MBR and GPT), a hybrid ISO
//! booted as a CD and as a disk, and that ISO flashed onto a stick image.

use std::path::Path;

use anyhow::Result;
use dart_core::deploy::{check_medium, write_usb_to, MediumSpec, UsbOptions};
use dart_core::formats::iso::{write_iso, IsoOptions};
use dart_core::formats::partition::Scheme;
use dart_core::model::arch::Architecture;
use dart_core::model::media::{Firmware as MediaFirmware, MediaSet};
use dart_testkit::fixture;
use dart_testkit::qemu::{Attach, Firmware};

use super::boot_check::prove_boot;
use crate::cmd::medium::print_menu;
use crate::progress;

/// Writes a 256 MiB USB stick image of `spec` (the support levels behind a
/// boot menu) for each partition scheme and boots each; one entry per boot
/// check (`false`: skipped).
pub fn usb_images(dir: &Path, spec: &MediumSpec) -> Result<Vec<bool>> {
    let mut booted = Vec::new();
    let medium = spec.prepare()?;
    print_menu(&medium);
    let check = check_medium(spec, Architecture::X64, MediaFirmware::Both)?;
    for s in &check.stores {
        outln!(
            "   {} ({}): {} entries, default {}",
            s.path,
            s.firmware,
            s.entries.len(),
            s.default.as_deref().unwrap_or("none")
        );
    }
    if !check.ok() {
        anyhow::bail!(
            "the menu medium does not check: {}",
            check.problems.join("; ")
        );
    }
    for scheme in [Scheme::Mbr, Scheme::Gpt] {
        let img = dir.join(format!("usb-{}.img", scheme.name()));
        let _ = std::fs::remove_file(&img);
        let opts = UsbOptions {
            scheme,
            ..UsbOptions::default()
        };
        let r = write_usb_to(
            &img,
            Some(256 << 20),
            spec,
            &opts,
            &progress::percent_lines(),
        )?;
        outln!("{}", r.layout);
        outln!(
            "   wrote {} ({} files on FAT32)",
            img.display(),
            r.fat.files
        );
        booted.push(prove_boot(&img, Attach::Disk, Firmware::Uefi)?);
    }
    Ok(booted)
}

/// Writes a hybrid ISO of `media`, boots it as a CD (UEFI, and BIOS when
/// isolinux is installed) and as a disk, flashes it onto a stick image with
/// verification and boots that, then reads the ISO back as media; one entry
/// per boot check (`false`: skipped).
pub fn hybrid_iso(dir: &Path, media: &Path) -> Result<Vec<bool>> {
    let mut booted = Vec::new();
    // A BIOS stand-in loader (isolinux printing the marker), when installed.
    let bios_loader = fixture::add_isolinux(media)?;
    let iso = dir.join("dart.iso");
    let iso_opts = IsoOptions {
        label: "DaRT10".into(),
        hybrid: true,
        bios_loader: bios_loader.clone(),
        ..IsoOptions::default()
    };
    let r = write_iso(
        &MediaSet::open(media)?,
        &iso,
        &iso_opts,
        &progress::percent_lines(),
    )?;
    out!("{}", r.plan);
    outln!("   wrote {}", iso.display());
    booted.push(prove_boot(&iso, Attach::Cdrom, Firmware::Uefi)?);
    booted.push(prove_boot(&iso, Attach::Disk, Firmware::Uefi)?);
    if bios_loader.is_some() {
        booted.push(prove_boot(&iso, Attach::Cdrom, Firmware::Bios)?);
    } else {
        outln!(
            "   BIOS boot check skipped: isolinux is not installed (apt: isolinux syslinux-common)"
        );
    }
    let stick = dir.join("stick-from-iso.img");
    let _ = std::fs::remove_file(&stick);
    let flashed = dart_core::write::flash(
        &iso,
        std::slice::from_ref(&stick),
        &dart_core::write::FlashOptions {
            verify: true,
            ..Default::default()
        },
        &progress::percent_lines(),
    )?;
    outln!(
        "   flashed {} onto {} ({} of {} bytes mapped, read back and verified)",
        iso.display(),
        stick.display(),
        flashed.plan.mapped_bytes,
        flashed.plan.image_len
    );
    booted.push(prove_boot(&stick, Attach::Disk, Firmware::Uefi)?);
    let from_iso = MediaSet::open(&iso)?;
    outln!(
        "   the ISO serves as media again: {} files, {} bytes",
        from_iso.files().len(),
        from_iso.total_bytes()
    );
    Ok(booted)
}
