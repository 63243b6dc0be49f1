#![allow(clippy::unwrap_used, clippy::expect_used)]
//! PXE boots of QEMU + OVMF in a private network (see `dart_testkit::pxelab`):
//! dnsmasq hands out addresses only; dart's proxy-DHCP and TFTP deliver the
//! stand-in `bootx64.efi`, which prints the boot marker. The access policy
//! is checked at both points: an ordinary client is offered the recovery
//! image, a listed one the imaging image, and the ordinary client asking
//! TFTP for the imaging image from its own address is refused by name of
//! the rule. A BIOS client (SeaBIOS + iPXE) boots the recovery image's
//! BIOS loader, PXELINUX.

use dart_testkit as common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dart_core::deploy::stage::{stage, StageOptions};
use dart_core::model::media::MediaSet;
use dart_core::net::boot::Checkpoint;
use dart_core::net::policy::MacAddr;
use dart_core::net::tftp::{Packet, TftpEvent};
use dart_core::net::{AccessPolicy, BootEvent, BootServer, ImageRole};
use dart_core::progress::Control;
use dart_testkit::pxelab::PxeLab;
use dart_testkit::qemu::Firmware;

const ORDINARY: &str = "52:54:00:00:00:0b";
const BENCH: &str = "52:54:00:00:00:0a";
const BIOS_CLIENT: &str = "52:54:00:00:00:0c";

/// The policy of these tests: the imaging bench may boot anything and is
/// offered the imaging image; everyone else recovery images only.
fn bench_policy() -> AccessPolicy {
    AccessPolicy::from_json(&format!(
        r#"{{"rules": [{{"name": "imaging bench", "mac": "{BENCH}", "allow": "all", "boot": "deploy"}}]}}"#
    ))
    .unwrap()
}

/// The boot server on `root` in the lab's network, its events printed and
/// collected.
fn start_in_lab(
    lab: &PxeLab,
    root: &Path,
    policy: AccessPolicy,
) -> (BootServer, Arc<Mutex<Vec<BootEvent>>>) {
    start_configured(lab, lab.server_config(root, policy))
}

/// The boot server with `config` (from [`PxeLab::server_config`], then
/// changed) in the lab's network, its events printed and collected.
fn start_configured(
    lab: &PxeLab,
    config: dart_core::net::BootServerConfig,
) -> (BootServer, Arc<Mutex<Vec<BootEvent>>>) {
    let events: Arc<Mutex<Vec<BootEvent>>> = Arc::default();
    let sink = Arc::clone(&events);
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
    (server, events)
}

/// A server root in `dir` with the stand-in media staged as the recovery
/// image `rescue`; returns the root and the catalog entry.
fn rescue_root(dir: &Path) -> (std::path::PathBuf, dart_core::net::CatalogImage) {
    let media_dir = common::bootable_media(&dir.join("fixture"));
    let media = MediaSet::open(&media_dir).unwrap();
    let root = dir.join("root");
    std::fs::create_dir(&root).unwrap();
    let rescue = stage(
        &media,
        &root,
        &StageOptions::recovery("rescue"),
        &Control::default(),
    )
    .unwrap();
    (root, rescue)
}

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
    let bios_loader = dart_testkit::fixture::add_pxelinux(&media_dir)
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
    let policy = bench_policy();

    let lab = PxeLab::create().unwrap();
    let (server, events) = start_in_lab(&lab, &root, policy);
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

/// Waits (up to 10 s) for an event `wanted` accepts.
fn wait_for_event(events: &Mutex<Vec<BootEvent>>, wanted: impl Fn(&BootEvent) -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if events.lock().unwrap().iter().any(&wanted) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Another host on the lab network claims the imaging bench's MAC from
/// its own address, first openly (its ARP request tells the server's
/// kernel its real MAC: the claim is refused), then carefully (it knows
/// the server's MAC without asking, and claims an architecture nothing is
/// staged for, so the server never talks to it: the claim is bound, and
/// the kernel is made to resolve the address when the host asks TFTP).
/// Either way it cannot read the imaging image.
#[test]
fn a_host_cannot_claim_another_hosts_mac() {
    if !common::ready(
        "a_host_cannot_claim_another_hosts_mac",
        &[&["ip"], &["dnsmasq"]],
    ) {
        return;
    }
    use dart_testkit::pxelab::SERVER_IP;
    use std::net::{Ipv4Addr, UdpSocket};
    let (dir, _, deploy) = common::two_images(3000);
    let root = dir.path().join("root");
    let deploy_file = deploy.uefi_boot.unwrap();
    let policy = bench_policy();
    let lab = PxeLab::create().unwrap();
    let (server, events) = start_in_lab(&lab, &root, policy);
    let bench: MacAddr = BENCH.parse().unwrap();

    // Sends the claim from `from` on the peer, then asks TFTP for the
    // imaging image's loader from there; returns the first TFTP reply.
    let attack = |from: Ipv4Addr, arch: u16| -> Packet {
        events.lock().unwrap().clear();
        lab.add_peer_address(from).unwrap();
        let claim = common::pxe_message(dhcproto::v4::MessageType::Request, bench.0, arch, from);
        lab.run_on_peer(move || {
            let socket = UdpSocket::bind((from, 0)).unwrap();
            socket.send_to(&claim, (SERVER_IP, 4011)).unwrap();
        })
        .unwrap();
        assert!(
            wait_for_event(&events, |e| matches!(e,
                BootEvent::ClaimRefused { client, .. } | BootEvent::Denied { client, .. }
                    if client.mac == Some(bench))),
            "the server did not handle the claim from {from}"
        );
        let file = deploy_file.clone();
        lab.run_on_peer(move || {
            let socket = UdpSocket::bind((from, 0)).unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let rrq = Packet::Rrq(dart_core::net::tftp::Request {
                filename: file,
                mode: dart_core::net::tftp::Mode::Octet,
                options: dart_core::net::tftp::Options::default(),
            });
            socket.send_to(&rrq.to_bytes(), (SERVER_IP, 69)).unwrap();
            let mut buf = [0u8; 2048];
            let (n, _) = socket.recv_from(&mut buf).unwrap();
            Packet::parse(&buf[..n]).unwrap()
        })
        .unwrap()
    };

    let open = Ipv4Addr::new(10, 77, 0, 51);
    let reply = attack(open, 7);
    assert!(
        matches!(&reply, Packet::Error { code, .. } if code.code() == 2),
        "the imaging image was served to {open}"
    );
    assert!(
        events.lock().unwrap().iter().any(|e| matches!(e,
            BootEvent::ClaimRefused { reason, .. } if reason.contains("neighbour table"))),
        "the open claim was not refused by the neighbour table: {:#?}",
        events.lock().unwrap()
    );

    lab.pin_server_on_peer().unwrap();
    let careful = Ipv4Addr::new(10, 77, 0, 50);
    let reply = attack(careful, 11);
    match &reply {
        Packet::Error { code, message } => {
            assert_eq!(code.code(), 2, "{message}");
            assert!(message.contains("neighbour table"), "{message}");
        }
        Packet::Data { block, .. } => {
            panic!("the imaging image was served to {careful} (DATA {block})")
        }
        other => panic!("unexpected reply to {careful}: {other:?}"),
    }
    server.stop();
}

/// With `"answer": "known"`, an unknown UEFI client is answered nothing
/// and recorded as pending; an admin approves it (another connection to
/// the client database, as `dart clients approve` is) while it is still
/// asking, and its next DHCP try is answered: it boots.
#[test]
fn a_pending_client_boots_once_approved() {
    use dart_core::net::known::{Approval, ClientDb, ClientKey, ClientState, CLIENTS_FILE};
    if !common::ready(
        "a_pending_client_boots_once_approved",
        &[&["ip"], &["dnsmasq"], &["qemu-system-x86_64"]],
    ) {
        return;
    }
    const NEWCOMER: &str = "52:54:00:00:00:0d";
    let dir = tempfile::tempdir().unwrap();
    let (root, _) = rescue_root(dir.path());
    let lab = PxeLab::create().unwrap();
    let policy = AccessPolicy::from_json(r#"{"answer": "known"}"#).unwrap();
    let (server, events) = start_in_lab(&lab, &root, policy);
    let mac: MacAddr = NEWCOMER.parse().unwrap();

    let admin = {
        let events = Arc::clone(&events);
        let db = root.join(CLIENTS_FILE);
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(120);
            while !events
                .lock()
                .unwrap()
                .iter()
                .any(|e| matches!(e, BootEvent::Pending { client } if client.mac == Some(mac)))
            {
                assert!(std::time::Instant::now() < deadline, "never pending");
                std::thread::sleep(Duration::from_millis(20));
            }
            let mut db = ClientDb::open(&db).unwrap();
            let key = ClientKey::Mac(mac);
            assert_eq!(db.find(&key).unwrap().unwrap().state, ClientState::Pending);
            let offered_before = events
                .lock()
                .unwrap()
                .iter()
                .any(|e| matches!(e, BootEvent::Offered { .. }));
            db.approve(&key, &Approval::default()).unwrap();
            offered_before
        })
    };
    let check = lab
        .boot(NEWCOMER, Firmware::Uefi, Duration::from_secs(180))
        .unwrap();
    let offered_before_approval = admin.join().unwrap();
    assert!(!offered_before_approval, "a pending client was answered");
    assert!(
        check.marker_seen,
        "the approved client did not boot:\n{}",
        check.console_tail
    );
    let seen = events.lock().unwrap();
    assert!(
        seen.iter().any(
            |e| matches!(e, BootEvent::Denied { client, at: Checkpoint::Dhcp, reason, .. }
            if client.mac == Some(mac) && reason.contains("pending"))
        ),
        "{seen:#?}"
    );
    drop(seen);
    server.stop();
}

/// Clients that boot over HTTP: OVMF's UEFI HTTP Boot client is offered
/// the loader's URL by the proxy-DHCP (vendor class `HTTPClient`) and
/// fetches it from dart's HTTP server; iPXE's UEFI program (user class
/// `iPXE`) is offered the script generated for it, which chains the
/// loader over HTTP. Both boot the stand-in loader, and every file either
/// fetched came over HTTP, none over TFTP.
#[test]
fn uefi_http_boot_and_ipxe_clients_boot_over_http() {
    use dart_core::net::http::{HttpConfig, HttpEvent};
    use dart_testkit::qemu::{NetClient, IPXE_EFI};
    if !common::ready(
        "uefi_http_boot_and_ipxe_clients_boot_over_http",
        &[&["ip"], &["dnsmasq"], &["qemu-system-x86_64"]],
    ) {
        return;
    }
    const HTTP_CLIENT: &str = "52:54:00:00:00:0e";
    const IPXE_CLIENT: &str = "52:54:00:00:00:0f";
    let dir = tempfile::tempdir().unwrap();
    let (root, rescue) = rescue_root(dir.path());
    let loader = rescue.uefi_boot.clone().unwrap();
    let lab = PxeLab::create().unwrap();
    // The iPXE menu boots its default after 1 s.
    let quick = AccessPolicy::from_json(r#"{"menu": {"timeout": 1}}"#).unwrap();
    let mut config = lab.server_config(&root, quick);
    config.http = Some(HttpConfig {
        bind: std::net::SocketAddr::from(([0, 0, 0, 0], 80)),
        ..HttpConfig::default()
    });
    let (server, events) = start_configured(&lab, config);
    let taken = |events: &Mutex<Vec<BootEvent>>| std::mem::take(&mut *events.lock().unwrap());
    let served = |seen: &[BootEvent]| -> Vec<String> {
        seen.iter()
            .filter_map(|e| match e {
                BootEvent::Http(HttpEvent::Served { path, .. }) => Some(path.clone()),
                _ => None,
            })
            .collect()
    };
    let over_tftp = |seen: &[BootEvent]| {
        seen.iter()
            .any(|e| matches!(e, BootEvent::Tftp(TftpEvent::Finished { .. })))
    };

    let check = lab
        .boot_with(HTTP_CLIENT, &NetClient::UefiHttp, Duration::from_secs(180))
        .unwrap();
    assert!(
        check.marker_seen,
        "the UEFI HTTP Boot client did not boot:\n{}",
        check.console_tail
    );
    let seen = taken(&events);
    let url = format!("http://10.77.0.1/{loader}");
    assert!(
        seen.iter()
            .any(|e| matches!(e, BootEvent::Offered { file, .. } if *file == url)),
        "no offer of {url}: {seen:#?}"
    );
    assert!(
        served(&seen)
            .iter()
            .any(|p| p.trim_start_matches('/') == loader),
        "{seen:#?}"
    );
    assert!(!over_tftp(&seen), "{seen:#?}");

    let check = lab
        .boot_with(
            IPXE_CLIENT,
            &NetClient::IpxeEfi(IPXE_EFI.into()),
            Duration::from_secs(180),
        )
        .unwrap();
    assert!(
        check.marker_seen,
        "the iPXE client did not boot:\n{}",
        check.console_tail
    );
    let seen = taken(&events);
    let script = "http://10.77.0.1/dart/boot.ipxe";
    assert!(
        seen.iter()
            .any(|e| matches!(e, BootEvent::Offered { file, .. } if file == script)),
        "no offer of {script}: {seen:#?}"
    );
    let fetched = served(&seen);
    assert!(
        fetched.iter().any(|p| p == "/dart/boot.ipxe")
            && fetched.iter().any(|p| p.trim_start_matches('/') == loader),
        "{seen:#?}"
    );
    assert!(!over_tftp(&seen), "{seen:#?}");
    server.stop();
}

/// A boot server with HTTP started inside the lab's namespace stops when
/// stopped from a thread outside it (as the tests and the demo do): the
/// HTTP listener must not depend on reaching its own port to wake up.
#[test]
fn a_server_in_another_namespace_stops_with_its_http_listener() {
    use dart_core::net::http::HttpConfig;
    if !common::ready(
        "a_server_in_another_namespace_stops_with_its_http_listener",
        &[&["ip"], &["dnsmasq"]],
    ) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let lab = PxeLab::create().unwrap();
    let mut config = lab.server_config(root.path(), AccessPolicy::default());
    config.http = Some(HttpConfig {
        bind: std::net::SocketAddr::from(([0, 0, 0, 0], 80)),
        ..HttpConfig::default()
    });
    let server = lab
        .run_in(move || BootServer::start(config, None))
        .unwrap()
        .unwrap();
    let (done, stopped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        server.stop();
        let _ = done.send(());
    });
    assert!(
        stopped.recv_timeout(Duration::from_secs(20)).is_ok(),
        "the server did not stop within 20 s"
    );
}

/// Two sites' layout in one lab: the images are exported (`dart export`)
/// and served by nginx, and dart runs as a small proxy-DHCP on the export
/// tree (its root, as a branch's mirror would be) that points clients at
/// that URL (`boot_url`), serving no files itself. An iPXE client is
/// offered its class's script on nginx, which chains the loader from
/// nginx: it boots, and dart served no file at all.
#[test]
fn an_ipxe_client_boots_from_an_export_served_by_nginx() {
    use dart_core::net::export::{export, plan_export, ExportOptions};
    use dart_testkit::nginx::{Listen, Nginx};
    use dart_testkit::qemu::{NetClient, IPXE_EFI};
    if !common::ready(
        "an_ipxe_client_boots_from_an_export_served_by_nginx",
        &[
            &["ip"],
            &["dnsmasq"],
            &["qemu-system-x86_64"],
            &["nginx", "-v"],
        ],
    ) {
        return;
    }
    const IPXE_CLIENT: &str = "52:54:00:00:00:10";
    let dir = tempfile::tempdir().unwrap();
    let (root, rescue) = rescue_root(dir.path());
    let site = dir.path().join("site");
    // The iPXE menu boots its default after 1 s.
    let quick = AccessPolicy::from_json(r#"{"menu": {"timeout": 1}}"#).unwrap();
    let options = ExportOptions {
        role: ImageRole::Recovery,
        base_url: None,
        policy: quick.clone(),
    };
    export(
        &plan_export(&root, &site, &options).unwrap(),
        &Control::default(),
    )
    .unwrap();
    let lab = PxeLab::create().unwrap();
    let _nginx =
        Nginx::start_in(Some(lab.lan()), &site, Listen::Tcp("10.77.0.1:8080".into())).unwrap();
    let mut config = lab.server_config(&site, quick);
    config.boot_url = Some("http://10.77.0.1:8080/".into());
    let (server, events) = start_configured(&lab, config);
    let check = lab
        .boot_with(
            IPXE_CLIENT,
            &NetClient::IpxeEfi(IPXE_EFI.into()),
            Duration::from_secs(180),
        )
        .unwrap();
    assert!(
        check.marker_seen,
        "the iPXE client did not boot from nginx:\n{}",
        check.console_tail
    );
    server.stop();
    let seen = events.lock().unwrap();
    let script = "http://10.77.0.1:8080/dart/classes/default/x64-uefi.ipxe";
    assert!(
        seen.iter()
            .any(|e| matches!(e, BootEvent::Offered { file, .. } if file == script)),
        "no offer of {script}: {seen:#?}"
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, BootEvent::Tftp(_) | BootEvent::Http(_))),
        "dart served files itself: {seen:#?}"
    );
    assert!(rescue.uefi_boot.is_some());
}
