//! The demo's proof that a deployment boots: QEMU (with OVMF for UEFI) must
//! print the fixture's boot marker.

use std::path::Path;

use anyhow::{bail, Result};
use dart_testkit::qemu::{Attach, Firmware};

/// Boots an image under QEMU (with OVMF for UEFI) when they are installed;
/// `false` when the check was skipped, an error when the image did not boot.
pub fn prove_boot(img: &Path, attach: Attach, firmware: Firmware) -> Result<bool> {
    if firmware == Firmware::Uefi && !Path::new(dart_testkit::qemu::OVMF_CODE).exists() {
        outln!("   boot check skipped: OVMF is not installed (apt: ovmf qemu-system-x86)");
        return Ok(false);
    }
    let check =
        dart_testkit::qemu::boot(img, attach, firmware, std::time::Duration::from_secs(180))?;
    let how = format!(
        "QEMU + {} ({attach:?})",
        match firmware {
            Firmware::Uefi => "OVMF",
            Firmware::Bios => "SeaBIOS",
        }
    );
    if !check.marker_seen {
        bail!(
            "{} did not boot under {how}:\n{}",
            img.display(),
            check.console_tail
        );
    }
    outln!(
        "   {how} booted {}: {} after {:.1}s",
        img.display(),
        dart_testkit::fixture::BOOT_MARKER,
        check.seconds
    );
    Ok(true)
}
