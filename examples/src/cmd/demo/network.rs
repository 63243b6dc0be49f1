//! The demo's network boot: the recovery image and an imaging image staged
//! into a server root, dart's proxy-DHCP and TFTP in a private network next
//! to dnsmasq (addresses only), and diskless QEMU machines booting from it.

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Result};
use dart_core::deploy::{stage, StageOptions};
use dart_core::model::media::MediaSet;
use dart_core::net::tftp::{Packet, TftpEvent};
use dart_core::net::{AccessPolicy, BootEvent, BootServer, ImageRole};
use dart_testkit::pxelab::{self, PxeLab};
use dart_testkit::qemu::Firmware;

use crate::cmd::catalog;
use crate::progress;

/// Stages both images and boots two diskless QEMU + OVMF machines: an
/// ordinary one, which boots the recovery image and is refused the imaging
/// image, and the imaging bench, which boots the imaging image (and a BIOS
/// client when PXELINUX is installed). `false`, with the reason printed,
/// when skipped (not root, or a tool is missing).
pub fn boot_over_pxe(dir: &Path, recovery_media: &Path, imaging_media: &Path) -> Result<bool> {
    if let Some(why) = pxelab::unavailable() {
        outln!("   network boot skipped: {why}");
        return Ok(false);
    }
    let root = dir.join("boot-server");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    let control = progress::percent_lines();
    // A BIOS PXE stand-in loader (PXELINUX printing the marker), when installed.
    let bios_loader = dart_testkit::fixture::add_pxelinux(recovery_media)?;
    let rescue = stage(
        &MediaSet::open(recovery_media)?,
        &root,
        &StageOptions {
            bios_loader: bios_loader.clone(),
            ..StageOptions::recovery("dart-recovery")
        },
        &control,
    )?;
    let imaging = StageOptions {
        role: ImageRole::Imaging,
        ..StageOptions::recovery("os-imaging")
    };
    let deploy = stage(&MediaSet::open(imaging_media)?, &root, &imaging, &control)?;
    catalog::print(&root, false)?;
    const ORDINARY: &str = "52:54:00:d4:00:01";
    const BENCH: &str = "52:54:00:d4:00:0a";
    const BIOS_CLIENT: &str = "52:54:00:d4:00:0b";
    let policy = AccessPolicy::from_json(&format!(
        r#"{{"rules": [{{"name": "imaging bench", "mac": "{BENCH}", "allow": "all", "boot": "os-imaging"}}]}}"#
    ))?;
    outln!("   policy: every client may boot recovery images; only {BENCH} may boot os-imaging");

    let lab = PxeLab::create()?;
    let events: Arc<Mutex<Vec<BootEvent>>> = Arc::default();
    let sink = Arc::clone(&events);
    let config = lab.server_config(&root, policy);
    let server = lab.run_in(move || {
        BootServer::start(
            config,
            Some(Box::new(move |e: BootEvent| {
                if matches!(
                    e,
                    BootEvent::Offered { .. }
                        | BootEvent::Denied { .. }
                        | BootEvent::Tftp(TftpEvent::Finished { .. })
                ) {
                    outln!("   server: {e}");
                }
                if let Ok(mut list) = sink.lock() {
                    list.push(e);
                }
            })),
        )
    })??;
    outln!(
        "   private network {}: dnsmasq gives addresses, dart answers PXE at {}",
        lab.lan(),
        pxelab::SERVER_IP
    );
    let mut clients = vec![
        (ORDINARY, "an ordinary client", Firmware::Uefi),
        (BENCH, "the imaging bench", Firmware::Uefi),
    ];
    if bios_loader.is_some() {
        clients.push((BIOS_CLIENT, "a BIOS client", Firmware::Bios));
    } else {
        outln!("   BIOS PXE boot skipped: PXELINUX is not installed (apt: pxelinux)");
    }
    for (mac, who, firmware) in clients {
        let check = lab.boot(mac, firmware, Duration::from_secs(180))?;
        if !check.marker_seen {
            bail!(
                "{who} ({mac}) did not boot from the network:\n{}",
                check.console_tail
            );
        }
        outln!(
            "   QEMU + {} PXE ({who}, {mac}) booted: {} after {:.1}s",
            match firmware {
                Firmware::Uefi => "OVMF",
                Firmware::Bios => "SeaBIOS + iPXE",
            },
            dart_testkit::fixture::BOOT_MARKER,
            check.seconds
        );
    }
    // The ordinary client, from the address it got, asks for the imaging
    // image by name: TFTP refuses it.
    let ordinary_ip = events.lock().ok().and_then(|list| {
        list.iter().find_map(|e| match e {
            BootEvent::Tftp(TftpEvent::Finished { client, file, .. })
                if Some(file.as_str()) == rescue.uefi_boot.as_deref() =>
            {
                Some(client.ip())
            }
            _ => None,
        })
    });
    if let (Some(IpAddr::V4(ip)), Some(file)) = (ordinary_ip, deploy.uefi_boot.as_deref()) {
        match lab.ask_tftp_from(ip, file)? {
            Packet::Error { message, .. } => {
                outln!("   the ordinary client at {ip} asking TFTP for {file}: refused: {message}")
            }
            other => {
                bail!("the ordinary client at {ip} was served the imaging image {file}: {other:?}")
            }
        }
    }
    server.stop();
    Ok(true)
}
