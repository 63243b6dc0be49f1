//! The demo's recovery partition on a managed PC: added to a stand-in
//! installed system (ESP with a Windows boot store and its own loader, a
//! "Windows" partition), registered in the boot store, given a UEFI boot
//! entry and BootNext in the PC's variable file; the first start opens the
//! recovery image, the second the installed system; re-running the same
//! request changes nothing, and the Windows partition's bytes never change.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};
use dart_core::deploy::managed::{set_up_recovery_at, RecoverySetup};
use dart_core::deploy::register::RegisterOptions;
use dart_core::deploy::uefi_entry::{UefiEntryOptions, VarsTarget};
use dart_core::formats::fat::FatOptions;
use dart_core::formats::partition::{RecoveryOptions, Scheme};
use dart_core::progress::Control;
use dart_testkit::fixture::BOOT_MARKER;
use dart_testkit::installed::{installed_system, INSTALLED_MARKER};
use dart_testkit::qemu::{boot_with_vars, AfterMarker, OVMF_CODE, OVMF_VARS};

use crate::progress;

/// Runs the managed-PC flow in `dir` with `media`; `false` when the boot
/// check was skipped (no OVMF).
pub fn add_and_update(dir: &Path, media: &Path) -> Result<bool> {
    let disk = dir.join("pc.img");
    let vars = dir.join("pc-vars.fd");
    let _ = std::fs::remove_file(&disk);
    let sys = installed_system(&disk, Scheme::Gpt, 320 << 20)?;
    let windows = (sys.windows.start, sys.windows.size);
    let windows_hash = hash_part(&disk, windows)?;
    std::fs::copy(OVMF_VARS, &vars)?;
    let mut uefi = UefiEntryOptions::new(VarsTarget::File(vars.clone()), "DaRT Recovery");
    uefi.boot_next = true;
    let setup = RecoverySetup {
        sizing: RecoveryOptions {
            size: None,
            headroom: Some(32 << 20),
        },
        register: Some(RegisterOptions::default()),
        uefi_entry: Some(uefi.clone()),
        update_if_present: true,
    };
    outln!(
        "   dart partition add-recovery --disk {} --media … --update-if-present --register --uefi-entry --uefi-vars {} --boot-next",
        disk.display(),
        vars.display()
    );
    let report = set_up_recovery_at(
        &disk,
        media,
        &setup,
        &FatOptions::default(),
        &progress::percent_lines(),
        false,
    )?;
    out!("{report}");

    let booted = if Path::new(OVMF_CODE).exists() {
        let markers = [BOOT_MARKER, INSTALLED_MARKER];
        for (start, want) in [("first", BOOT_MARKER), ("second", INSTALLED_MARKER)] {
            let check = boot_with_vars(
                Some(&disk),
                &vars,
                &markers,
                AfterMarker::WaitForPowerOff,
                Duration::from_secs(180),
            )?;
            if check.marker.as_deref() != Some(want) {
                bail!(
                    "the {start} start of {} did not print {want}:\n{}",
                    disk.display(),
                    check.console_tail
                );
            }
            outln!(
                "   QEMU + OVMF, {start} start with {}: {want} after {:.1}s{}",
                vars.display(),
                check.seconds,
                if want == BOOT_MARKER {
                    " (BootNext opened the recovery partition)"
                } else {
                    " (BootNext was used once; the installed system starts again)"
                }
            );
        }
        true
    } else {
        outln!("   boot check skipped: OVMF is not installed (apt: ovmf qemu-system-x86)");
        false
    };

    // Software distribution runs the same request again on its next cycle.
    uefi.boot_next = false;
    let again = RecoverySetup {
        uefi_entry: Some(uefi),
        ..setup
    };
    let r = set_up_recovery_at(
        &disk,
        media,
        &again,
        &FatOptions::default(),
        &Control::default(),
        false,
    )?;
    let unchanged = r.added.is_none()
        && r.updated
            .as_ref()
            .is_some_and(|u| u.replaced.is_empty() && u.added.is_empty())
        && r.registration
            .as_ref()
            .is_some_and(|p| p.changes.is_empty())
        && r.uefi_entry.as_ref().is_some_and(|p| p.changes.is_empty());
    if !unchanged {
        bail!("re-running the same request changed something:\n{r}");
    }
    outln!("   the same request again: nothing to change (partition, boot store and variables as they were)");
    if hash_part(&disk, windows)? != windows_hash {
        bail!("the Windows partition of {} changed", disk.display());
    }
    outln!("   the Windows partition's bytes are unchanged (SHA-256 before = after)");
    Ok(booted)
}

/// SHA-256 of a byte range (`start`, `len`) of a disk image.
fn hash_part(disk: &Path, (start, len): (u64, u64)) -> Result<[u8; 32]> {
    let mut dev = dart_core::disk::FileDevice::open(disk, 512)?;
    Ok(dart_core::disk::hash_range(&mut dev, start, len)?)
}
