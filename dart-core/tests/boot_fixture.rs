//! The fixture's stand-in UEFI loader really boots: QEMU + OVMF, the loader
//! on a virtual FAT drive as EFI/BOOT/BOOTX64.EFI, must print the marker.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use dart_core::fixture::{generate, FixtureOptions, BOOT_MARKER};

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
    let vars = dir.path().join("vars.fd");
    std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars).expect("OVMF (apt: ovmf) is required");
    let mut child = Command::new("qemu-system-x86_64")
        .args([
            "-machine",
            "q35",
            "-m",
            "256",
            "-nographic",
            "-no-reboot",
            "-net",
            "none",
        ])
        .args([
            "-drive",
            "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
        ])
        .arg("-drive")
        .arg(format!("if=pflash,format=raw,file={}", vars.display()))
        .arg("-drive")
        .arg(format!(
            "format=raw,file=fat:rw:{}",
            dir.path().join("esp").display()
        ))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("qemu-system-x86_64 (apt: qemu-system-x86) is required");
    // GRUB halts the machine after printing; kill it if it does not.
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(BOOT_MARKER),
        "no {BOOT_MARKER} on the serial console:\n{}",
        &text[text.len().saturating_sub(2000)..]
    );
}
