//! Proving that media boot: start QEMU with OVMF (UEFI) or SeaBIOS, attach
//! a disk image, ISO or directory, and watch the serial console for the
//! fixture's marker line ([`crate::fixture::BOOT_MARKER`]).
//!
//! Used by the tests and the demo; needs `qemu-system-x86_64` and, for
//! UEFI, the `ovmf` package's firmware in `/usr/share/OVMF`.
//!
//! ```no_run
//! use std::time::Duration;
//! use dart_testkit::qemu::{boot, Attach, Firmware};
//! let check = boot("usb.img".as_ref(), Attach::Disk, Firmware::Uefi, Duration::from_secs(120))?;
//! assert!(check.marker_seen, "{}", check.console_tail);
//! # Ok::<(), dart_testkit::Error>(())
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::fixture::BOOT_MARKER;

mod console;
pub use console::ConsoleText;

/// OVMF code (read-only flash).
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
/// OVMF variable store template (copied per boot).
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/// How the boot medium is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Attach {
    /// A raw disk image on an IDE/AHCI disk (USB stick or hard disk).
    Disk,
    /// An ISO on a CD-ROM drive.
    Cdrom,
    /// A directory served by QEMU as a FAT drive.
    FatDir,
}

/// The firmware to boot with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Firmware {
    /// OVMF.
    Uefi,
    /// QEMU's default SeaBIOS.
    Bios,
}

/// The outcome of one boot.
#[derive(Debug, Clone, Serialize)]
pub struct BootCheck {
    /// Whether the marker line appeared on the serial console.
    pub marker_seen: bool,
    /// The last 2000 bytes of console text (control sequences removed).
    pub console_tail: String,
    /// Seconds until the marker (or the time-out).
    pub seconds: f64,
    /// Which of the markers watched for appeared first.
    pub marker: Option<String>,
}

/// Boots `medium` and waits up to `timeout` for the marker.
pub fn boot(
    medium: &Path,
    attach: Attach,
    firmware: Firmware,
    timeout: Duration,
) -> Result<BootCheck> {
    if !medium.exists() {
        return Err(Error::NotFound {
            what: "boot medium",
            path: medium.to_path_buf(),
        });
    }
    let scratch = tempfile::tempdir().map_err(|e| Error::write(&std::env::temp_dir(), e))?;
    let mut cmd = Command::new("qemu-system-x86_64");
    machine(&mut cmd, firmware, scratch.path())?;
    cmd.args(["-net", "none"]);
    let m = medium.display();
    match attach {
        Attach::Disk => cmd
            .arg("-drive")
            .arg(format!("format=raw,file={m},snapshot=on")),
        Attach::Cdrom => cmd
            .arg("-drive")
            .arg(format!("media=cdrom,readonly=on,file={m}")),
        Attach::FatDir => cmd.arg("-drive").arg(format!("format=raw,file=fat:rw:{m}")),
    };
    watch(cmd, timeout)
}

/// Boots the disk image `disk` (or no disk) under OVMF with the variable store `vars`
/// (edited in place, as firmware does: a second boot sees what the first
/// left), and reports which of `markers` appears first; then stops the
/// machine or waits (within `timeout`) for it to power off, as `after`
/// says.
pub fn boot_with_vars(
    disk: Option<&Path>,
    vars: &Path,
    markers: &[&str],
    after: AfterMarker,
    timeout: Duration,
) -> Result<BootCheck> {
    let files = disk
        .map(|d| ("disk image", d))
        .into_iter()
        .chain([("OVMF variable file", vars)]);
    for (what, p) in files {
        if !p.exists() {
            return Err(Error::NotFound {
                what,
                path: p.to_path_buf(),
            });
        }
    }
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args([
        "-machine",
        "q35",
        "-m",
        "512",
        "-nographic",
        "-no-reboot",
        "-net",
        "none",
    ])
    .arg("-drive")
    .arg(format!("if=pflash,format=raw,readonly=on,file={OVMF_CODE}"))
    .arg("-drive")
    .arg(format!("if=pflash,format=raw,file={}", vars.display()));
    if let Some(disk) = disk {
        cmd.arg("-drive")
            .arg(format!("format=raw,file={},snapshot=on", disk.display()));
    }
    watch_markers(cmd, markers, timeout, after == AfterMarker::WaitForPowerOff)
}

/// What [`boot_with_vars`] does once a marker appeared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterMarker {
    /// Stop the machine at once (it would wait forever, as OVMF's shell).
    Stop,
    /// Let the machine power off by itself (the stand-in loaders halt),
    /// so that every variable write of the firmware is in the file.
    WaitForPowerOff,
}

/// Which network boot client a diskless machine runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetClient {
    /// The firmware's own PXE client: OVMF's (UEFI; the NIC has no option
    /// ROM), or the iPXE option ROM QEMU ships run by SeaBIOS (BIOS).
    Pxe(Firmware),
    /// OVMF's UEFI HTTP Boot client (HttpBootDxe): its PXE clients are
    /// switched off through fw_cfg (`opt/org.tianocore/IPv4PXESupport` and
    /// `IPv6PXESupport`), so the HTTPv4 boot option is the first to run.
    UefiHttp,
    /// iPXE's UEFI build (`ipxe.efi` of the `ipxe` package) started by OVMF
    /// from a FAT drive as `\EFI\BOOT\BOOTX64.EFI`: it asks DHCP with user
    /// class `iPXE` and fetches what it is offered.
    IpxeEfi(PathBuf),
}

/// The iPXE UEFI program of Debian's `ipxe` package.
pub const IPXE_EFI: &str = "/usr/lib/ipxe/ipxe.efi";

/// Boots a diskless machine from the network: QEMU runs inside the network
/// namespace `netns` (with `ip netns exec`), its virtio NIC (MAC `mac`) on
/// the existing tap device `tap`. With UEFI, OVMF's own PXE client runs
/// (the NIC has no option ROM); with BIOS, SeaBIOS runs the iPXE option ROM
/// QEMU ships (package `ipxe-qemu`). Waits up to `timeout` for the marker.
pub fn boot_pxe(
    netns: &str,
    tap: &str,
    mac: &str,
    firmware: Firmware,
    timeout: Duration,
) -> Result<BootCheck> {
    boot_network(netns, tap, mac, &NetClient::Pxe(firmware), timeout)
}

/// Boots a diskless machine from the network with the boot client
/// `client`, as [`boot_pxe`] does, and waits up to `timeout` for the marker.
pub fn boot_network(
    netns: &str,
    tap: &str,
    mac: &str,
    client: &NetClient,
    timeout: Duration,
) -> Result<BootCheck> {
    let scratch = tempfile::tempdir().map_err(|e| Error::write(&std::env::temp_dir(), e))?;
    let firmware = match client {
        NetClient::Pxe(firmware) => *firmware,
        NetClient::UefiHttp | NetClient::IpxeEfi(_) => Firmware::Uefi,
    };
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns, "qemu-system-x86_64"]);
    machine(&mut cmd, firmware, scratch.path())?;
    let rom = match firmware {
        Firmware::Uefi => ",romfile=",
        Firmware::Bios => "",
    };
    let nic_boot = match client {
        NetClient::IpxeEfi(_) => "",
        _ => ",bootindex=1",
    };
    cmd.arg("-netdev")
        .arg(format!("tap,id=n0,ifname={tap},script=no,downscript=no"))
        .arg("-device")
        .arg(format!("virtio-net-pci,netdev=n0,mac={mac}{rom}{nic_boot}"));
    match client {
        NetClient::Pxe(_) => {}
        NetClient::UefiHttp => {
            for option in ["IPv4PXESupport", "IPv6PXESupport"] {
                cmd.arg("-fw_cfg")
                    .arg(format!("name=opt/org.tianocore/{option},string=n"));
            }
        }
        NetClient::IpxeEfi(program) => {
            let boot_dir = scratch.path().join("esp/EFI/BOOT");
            std::fs::create_dir_all(&boot_dir).map_err(|e| Error::write(&boot_dir, e))?;
            std::fs::copy(program, boot_dir.join("BOOTX64.EFI"))
                .map_err(|e| Error::read(program, e))?;
            cmd.arg("-drive").arg(format!(
                "if=none,id=esp,format=raw,snapshot=on,file=fat:{}",
                scratch.path().join("esp").display()
            ));
            cmd.args(["-device", "ide-hd,drive=esp,bootindex=1"]);
        }
    }
    watch(cmd, timeout)
}

/// The machine every boot uses: q35, 512 MiB, serial console on stdout,
/// OVMF with a fresh copy of its variable store (in `scratch`) for UEFI.
fn machine(cmd: &mut Command, firmware: Firmware, scratch: &Path) -> Result<()> {
    cmd.args(["-machine", "q35", "-m", "512", "-nographic", "-no-reboot"]);
    if firmware == Firmware::Uefi {
        let vars: PathBuf = scratch.join("vars.fd");
        std::fs::copy(OVMF_VARS, &vars).map_err(|e| Error::read(Path::new(OVMF_VARS), e))?;
        cmd.arg("-drive")
            .arg(format!("if=pflash,format=raw,readonly=on,file={OVMF_CODE}"))
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,file={}", vars.display()));
    }
    Ok(())
}

/// Runs QEMU and watches its console for the marker for up to `timeout`.
fn watch(cmd: Command, timeout: Duration) -> Result<BootCheck> {
    watch_markers(cmd, &[BOOT_MARKER], timeout, false)
}

/// Runs QEMU and watches its console for any of `markers` for up to
/// `timeout`; with `wait_exit`, lets QEMU end by itself after the marker
/// (within the same deadline) instead of killing it.
fn watch_markers(
    mut cmd: Command,
    markers: &[&str],
    timeout: Duration,
    wait_exit: bool,
) -> Result<BootCheck> {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::Io {
            action: "starting",
            path: PathBuf::from("qemu-system-x86_64 (apt: qemu-system-x86)"),
            source: e,
            untouched: "nothing was written",
        })?;
    let Some(mut stdout) = child.stdout.take() else {
        let _ = child.kill();
        return Err(Error::Io {
            action: "reading the console of",
            path: PathBuf::from("qemu-system-x86_64"),
            source: std::io::Error::other("no stdout pipe"),
            untouched: "nothing was written",
        });
    };
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut console = ConsoleText::new();
    let mut found: Option<String> = None;
    let mut seconds = 0.0;
    while started.elapsed() < timeout {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(chunk) => {
                console.push(&chunk);
                if found.is_none() {
                    found = markers
                        .iter()
                        .filter_map(|m| console.text().find(m).map(|at| (at, *m)))
                        .min()
                        .map(|(_, m)| m.to_string());
                    if found.is_some() {
                        seconds = started.elapsed().as_secs_f64();
                        if !wait_exit {
                            break;
                        }
                    }
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let seen = found.is_some();
    if !seen {
        seconds = started.elapsed().as_secs_f64();
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    let text = console.text();
    let tail = text
        .char_indices()
        .map(|(i, _)| i)
        .find(|&i| text.len() - i <= 2000)
        .and_then(|i| text.get(i..))
        .unwrap_or("")
        .to_string();
    Ok(BootCheck {
        marker_seen: seen,
        console_tail: tail,
        seconds,
        marker: found,
    })
}
