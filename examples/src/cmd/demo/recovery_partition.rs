//! The demo's recovery partition: added to a stand-in OS disk, booted,
//! updated in place, with the OS partition's bytes proven unchanged.

use std::path::Path;

use anyhow::{bail, Result};
use dart_core::deploy::{add_recovery_at, update_recovery_at};
use dart_core::formats::fat::FatOptions;
use dart_core::formats::partition::{RecoveryOptions, Scheme};
use dart_core::progress::Control;
use dart_testkit::fixture;
use dart_testkit::qemu::{Attach, Firmware};

use super::boot_check::prove_boot;
use crate::progress;

/// Adds a recovery partition holding `media` to a new GPT disk image with
/// an OS partition, boots it, updates it in place and checks that the OS
/// partition did not change; `false` when the boot check was skipped.
pub fn add_and_update(dir: &Path, media: &Path) -> Result<bool> {
    let disk = dir.join("disk.img");
    let _ = std::fs::remove_file(&disk);
    let os = fixture::os_disk(&disk, Scheme::Gpt, 256 << 20, 64 << 20)?;
    let os_hash = hash_part(&disk, os)?;
    let opts = RecoveryOptions {
        size: None,
        headroom: Some(32 << 20),
    };
    let rep = add_recovery_at(
        &disk,
        media,
        &opts,
        &FatOptions::default(),
        &progress::percent_lines(),
    )?;
    out!("{}", rep.plan);
    let booted = prove_boot(&disk, Attach::Disk, Firmware::Uefi)?;
    let upd = update_recovery_at(&disk, media, &FatOptions::default(), &Control::default())?;
    outln!(
        "   update in place with the same media: {}",
        serde_json::to_string(&upd)?
    );
    if hash_part(&disk, os)? != os_hash {
        bail!("the OS partition of {} changed", disk.display());
    }
    outln!("   the OS partition's bytes are unchanged (SHA-256 before = after)");
    Ok(booted)
}

/// SHA-256 of a byte range (`start`, `len`) of a disk image.
fn hash_part(disk: &Path, (start, len): (u64, u64)) -> Result<[u8; 32]> {
    let mut dev = dart_core::disk::FileDevice::open(disk, 512)?;
    Ok(dart_core::disk::hash_range(&mut dev, start, len)?)
}
