#![allow(clippy::unwrap_used, clippy::expect_used)]
//! PXE boots of QEMU + OVMF in a private network (see `dart_core::pxelab`):
//! dnsmasq hands out addresses only; dart's proxy-DHCP and TFTP deliver the
//! stand-in `bootx64.efi`, which prints the boot marker. The access policy
//! is checked at both points: an ordinary client is offered the recovery
//! image, a listed one the imaging image, and the ordinary client asking
//! TFTP for the imaging image from its own address is refused by name of
//! the rule. A BIOS client (SeaBIOS + iPXE) boots the recovery image's
//! BIOS loader, PXELINUX.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dart_core::media::MediaSet;
use dart_core::net::boot::Checkpoint;
use dart_core::net::policy::MacAddr;
use dart_core::net::stage::{stage, StageOptions};
use dart_core::net::tftp::{Packet, TftpEvent};
use dart_core::net::{AccessPolicy, BootEvent, BootServer, ImageRole};
use dart_core::progress::Control;
use dart_core::pxelab::PxeLab;
use dart_core::qemu::Firmware;

const ORDINARY: &str = "52:54:00:00:00:0b";
const BENCH: &str = "52:54:00:00:00:0a";
const BIOS_CLIENT: &str = "52:54:00:00:00:0c";

#[test]
fn pxe_clients_boot_what_the_policy_allows() {
    if !common::ready(
        "pxe_clients_boot_what_the_policy_allows",
        &[&["ip"], &["dnsmasq"], &["qemu-system-x86_64"]],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let media_dir = common::bootable_media(&dir.path().join("fixture"));
    let bios_loader = dart_core::fixture::add_pxelinux(&media_dir)
        .unwrap()
        .expect("PXELINUX is required (apt: pxelinux syslinux-common)");
    let media = MediaSet::open(&media_dir).unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let control = Control::default();
    let rescue_options = StageOptions {
        bios_loader: Some(bios_loader.clone()),
        ..StageOptions::recovery("rescue")
    };
    let rescue = stage(&media, &root, &rescue_options, &control).unwrap();
    let deploy_options = StageOptions {
        role: ImageRole::Imaging,
        bios_loader: Some(bios_loader),
        ..StageOptions::recovery("deploy")
    };
    let deploy = stage(&media, &root, &deploy_options, &control).unwrap();
    let policy = AccessPolicy::from_json(&format!(
        r#"{{"rules": [{{"name": "imaging bench", "mac": "{BENCH}", "allow": "all", "boot": "deploy"}}]}}"#
    ))
    .unwrap();

    let lab = PxeLab::create().unwrap();
    let events: Arc<Mutex<Vec<BootEvent>>> = Arc::default();
    let sink = Arc::clone(&events);
    let config = lab.server_config(&root, policy);
    let server = lab
        .run_in(move || {
            BootServer::start(
                config,
                Some(Box::new(move |e| {
                    eprintln!("{e}");
                    sink.lock().unwrap().push(e)
                })),
            )
        })
        .unwrap()
        .unwrap();
    let taken = |events: &Mutex<Vec<BootEvent>>| std::mem::take(&mut *events.lock().unwrap());

    // An ordinary client boots the recovery image.
    let check = lab
        .boot(ORDINARY, Firmware::Uefi, Duration::from_secs(180))
        .unwrap();
    assert!(
        check.marker_seen,
        "ordinary client did not boot:\n{}",
        check.console_tail
    );
    let seen = taken(&events);
    let ordinary_mac: MacAddr = ORDINARY.parse().unwrap();
    let offered: Vec<&str> = seen
        .iter()
        .filter_map(|e| match e {
            BootEvent::Offered { client, image, .. } if client.mac == Some(ordinary_mac) => {
                Some(image.as_str())
            }
            _ => None,
        })
        .collect();
    assert!(
        !offered.is_empty() && offered.iter().all(|i| *i == "rescue"),
        "{seen:#?}"
    );
    let rescue_file = rescue.uefi_boot.clone().unwrap();
    let ordinary_ip = seen
        .iter()
        .find_map(|e| match e {
            BootEvent::Tftp(TftpEvent::Finished { client, file, .. }) if *file == rescue_file => {
                match client.ip() {
                    std::net::IpAddr::V4(ip) => Some(ip),
                    _ => None,
                }
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no finished TFTP transfer of {rescue_file}: {seen:#?}"));

    // The listed client boots the imaging image.
    let check = lab
        .boot(BENCH, Firmware::Uefi, Duration::from_secs(180))
        .unwrap();
    assert!(
        check.marker_seen,
        "imaging bench did not boot:\n{}",
        check.console_tail
    );
    let seen = taken(&events);
    let deploy_file = deploy.uefi_boot.clone().unwrap();
    assert!(
        seen.iter().any(|e| matches!(e, BootEvent::Offered { image, rule, .. } if image == "deploy" && rule == "imaging bench")),
        "{seen:#?}"
    );
    assert!(
        seen.iter().any(|e| matches!(e, BootEvent::Tftp(TftpEvent::Finished { file, .. }) if *file == deploy_file)),
        "{seen:#?}"
    );

    // The ordinary client, from the address it got at DHCP, asks TFTP for
    // the imaging image: refused, naming the client and the rule; the
    // recovery image is still served to it.
    let denied = lab.ask_tftp_from(ordinary_ip, &deploy_file).unwrap();
    let allowed = lab.ask_tftp_from(ordinary_ip, &rescue_file).unwrap();
    match &denied {
        Packet::Error { code, message } => {
            assert_eq!(code.code(), 2, "{message}");
            assert!(
                message.contains("default") && message.contains("deploy"),
                "{message}"
            );
        }
        other => panic!("imaging file served to an ordinary client: {other:?}"),
    }
    assert!(
        matches!(allowed, Packet::Data { block: 1, .. }),
        "{allowed:?}"
    );
    let seen = taken(&events);
    assert!(
        seen.iter().any(|e| matches!(e,
            BootEvent::Denied { client, rule, at: Checkpoint::Tftp, .. }
                if client.mac == Some(ordinary_mac) && rule == "default")),
        "no TFTP denial naming the client's MAC and the rule: {seen:#?}"
    );

    // A BIOS client (SeaBIOS + iPXE) is offered the recovery image's BIOS
    // loader, PXELINUX, which fetches its module and configuration from the
    // image's directory.
    let check = lab
        .boot(BIOS_CLIENT, Firmware::Bios, Duration::from_secs(180))
        .unwrap();
    assert!(
        check.marker_seen,
        "BIOS client did not boot:\n{}",
        check.console_tail
    );
    let seen = taken(&events);
    let bios_file = rescue.bios_boot.clone().unwrap();
    assert!(
        seen.iter()
            .any(|e| matches!(e, BootEvent::Offered { file, .. } if *file == bios_file)),
        "{seen:#?}"
    );
    assert!(
        seen.iter().any(|e| matches!(e, BootEvent::Tftp(TftpEvent::Finished { file, .. }) if file.ends_with("pxelinux.cfg/default"))),
        "{seen:#?}"
    );

    server.stop();
    let lan = lab.lan().to_string();
    drop(lab);
    assert!(
        !Path::new(&format!("/run/netns/{lan}")).exists(),
        "lab namespace left behind"
    );
}
