//! The fixture's stand-in UEFI loader really boots: QEMU + OVMF, the loader
//! on a virtual FAT drive as EFI/BOOT/BOOTX64.EFI, must print the marker.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use dart_testkit::fixture::{generate, FixtureOptions, BOOT_MARKER};
use dart_testkit::qemu::{boot, Attach, Firmware};

#[test]
fn grub_loader_prints_marker_under_ovmf() {
    let dir = tempfile::tempdir().unwrap();
    let fx = generate(
        dir.path(),
        &FixtureOptions {
            base_bytes: 1 << 16,
            payload_bytes: 1024,
            ..FixtureOptions::default()
        },
    )
    .unwrap();
    assert!(
        fx.bootable_uefi_loader,
        "grub-mkstandalone (apt: grub-efi-amd64-bin) is required"
    );
    let esp = dir.path().join("esp/EFI/BOOT");
    std::fs::create_dir_all(&esp).unwrap();
    std::fs::copy(
        fx.media.join("efi/boot/bootx64.efi"),
        esp.join("BOOTX64.EFI"),
    )
    .unwrap();
    let check = boot(
        &dir.path().join("esp"),
        Attach::FatDir,
        Firmware::Uefi,
        Duration::from_secs(120),
    )
    .expect("qemu-system-x86_64 and OVMF (apt: qemu-system-x86 ovmf) are required");
    assert!(
        check.marker_seen,
        "no {BOOT_MARKER} on the serial console:\n{}",
        check.console_tail
    );
}
