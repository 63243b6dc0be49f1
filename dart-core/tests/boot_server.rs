#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The boot server on loopback: the catalog's atomic updates (a transfer in
//! flight finishes on the version it started with, even when that version
//! is pruned), the access policy at TFTP (by IP, rule named in the refusal)
//! and at proxy-DHCP (boot file by MAC and architecture, silence for a
//! client allowed nothing).

use dart_testkit as common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dart_core::deploy::stage::{stage, StageOptions};
use dart_core::net::boot::Checkpoint;
use dart_core::net::dhcp::ProxyDhcpConfig;
use dart_core::net::tftp::{Mode, Options, Packet, Request, TftpConfig};
use dart_core::net::{AccessPolicy, BootEvent, BootServer, BootServerConfig};
use dart_core::progress::Control;

type Events = Arc<Mutex<Vec<BootEvent>>>;

fn start(root: &Path, policy: AccessPolicy, dhcp: Option<ProxyDhcpConfig>) -> (BootServer, Events) {
    let events: Events = Arc::default();
    let sink = Arc::clone(&events);
    let server = BootServer::start(
        BootServerConfig {
            root: root.to_path_buf(),
            policy,
            tftp: TftpConfig {
                bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                default_timeout: Duration::from_millis(300),
                ..TftpConfig::default()
            },
            proxy_dhcp: dhcp,
        },
        Some(Box::new(move |e| sink.lock().unwrap().push(e))),
    )
    .unwrap();
    (server, events)
}

/// A lock-step TFTP download (blksize 512) from 127.0.0.1 that calls
/// `between` after the first block, before acknowledging it.
fn fetch(server: SocketAddr, name: &str, between: impl FnOnce()) -> Result<Vec<u8>, (u16, String)> {
    fetch_between(Ipv4Addr::LOCALHOST, server, name, between)
}

/// A lock-step TFTP download like [`fetch`], from the loopback address
/// `source`.
fn fetch_from(source: Ipv4Addr, server: SocketAddr, name: &str) -> Result<Vec<u8>, (u16, String)> {
    fetch_between(source, server, name, || {})
}

fn fetch_between(
    source: Ipv4Addr,
    server: SocketAddr,
    name: &str,
    between: impl FnOnce(),
) -> Result<Vec<u8>, (u16, String)> {
    let socket = UdpSocket::bind((source, 0)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let rrq = Packet::Rrq(Request {
        filename: name.into(),
        mode: Mode::Octet,
        options: Options::default(),
    });
    socket.send_to(&rrq.to_bytes(), server).unwrap();
    let mut between = Some(between);
    let mut data = Vec::new();
    let mut buf = [0u8; 2048];
    let mut expected = 1u16;
    loop {
        let (n, from) = socket.recv_from(&mut buf).unwrap();
        match Packet::parse(&buf[..n]).unwrap() {
            Packet::Error { code, message } => return Err((code.code(), message)),
            Packet::Data { block, data: chunk } => {
                if block == expected {
                    data.extend_from_slice(&chunk);
                    expected = expected.wrapping_add(1);
                    if let Some(f) = between.take() {
                        f();
                    }
                }
                let ack = Packet::Ack { block };
                socket.send_to(&ack.to_bytes(), from).unwrap();
                if block == expected.wrapping_sub(1) && chunk.len() < 512 {
                    return Ok(data);
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_transfer_in_flight_finishes_on_the_version_it_started_with() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let src = dir.path().join("src");
    let control = Control::default();
    let v1 = stage(
        &common::loader_media(&src, b'1', 200_000),
        &root,
        &StageOptions::recovery("rescue"),
        &control,
    )
    .unwrap();
    let (server, events) = start(&root, AccessPolicy::default(), None);
    let addr = server.tftp_addr().unwrap();
    let v1_file = v1.uefi_boot.clone().unwrap();

    // Two updates while the first transfer runs: v2 retires v1, v3 prunes
    // v1 from disk (two versions are kept).
    let (root2, src2) = (root.clone(), src.clone());
    let got = fetch(addr, &v1_file, move || {
        for fill in [b'2', b'3'] {
            stage(
                &common::loader_media(&src2, fill, 150_000),
                &root2,
                &StageOptions::recovery("rescue"),
                &Control::default(),
            )
            .unwrap();
        }
    })
    .unwrap();
    assert_eq!(got, vec![b'1'; 200_000], "the transfer switched versions");
    assert!(!root.join(&v1.dir).exists(), "version 1 was not pruned");

    let catalog = server.catalog();
    assert_eq!(catalog.current("rescue").unwrap().version, 3);
    let v2_file = v1_file.replace("/1/", "/2/");
    let v3_file = v1_file.replace("/1/", "/3/");
    assert_eq!(fetch(addr, &v2_file, || {}).unwrap(), vec![b'2'; 150_000]);
    assert_eq!(fetch(addr, &v3_file, || {}).unwrap(), vec![b'3'; 150_000]);
    // Pruned: gone; the catalog file and anything outside an image: refused.
    assert_eq!(fetch(addr, &v1_file, || {}).unwrap_err().0, 1);
    let (code, message) = fetch(addr, "dart-catalog.json", || {}).unwrap_err();
    assert_eq!(code, 2, "{message}");
    assert!(message.contains("not part of a staged image"), "{message}");
    let events = events.lock().unwrap();
    assert!(
        events.iter().any(|e| matches!(e, BootEvent::Denied { at: Checkpoint::Tftp, target, .. } if target == "dart-catalog.json")),
        "{events:#?}"
    );
}

#[test]
fn tftp_enforces_the_policy_by_address_and_names_the_rule() {
    let (dir, rescue, deploy) = common::two_images(5000);
    let root = dir.path().join("root");
    let (rescue_file, deploy_file) = (rescue.uefi_boot.unwrap(), deploy.uefi_boot.unwrap());

    let (server, events) = start(&root, AccessPolicy::default(), None);
    let addr = server.tftp_addr().unwrap();
    assert_eq!(fetch(addr, &rescue_file, || {}).unwrap(), vec![b'r'; 5000]);
    let (code, message) = fetch(addr, &deploy_file, || {}).unwrap_err();
    assert_eq!(code, 2);
    assert!(
        message.contains("127.0.0.1")
            && message.contains("\"default\"")
            && message.contains("imaging"),
        "{message}"
    );

    server.set_policy(
        AccessPolicy::from_json(r#"{"rules": [{"name": "loopback lab", "subnet": "127.0.0.0/8", "allow": ["deploy"]}]}"#).unwrap(),
    );
    assert_eq!(fetch(addr, &deploy_file, || {}).unwrap(), vec![b'd'; 5000]);

    server.set_policy(
        AccessPolicy::from_json(
            r#"{"rules": [{"name": "kiosk", "ip": "127.0.0.1", "allow": "none"}]}"#,
        )
        .unwrap(),
    );
    let (code, message) = fetch(addr, &rescue_file, || {}).unwrap_err();
    assert_eq!(code, 2);
    assert!(message.contains("kiosk"), "{message}");
    let denials: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            BootEvent::Denied {
                rule,
                at: Checkpoint::Tftp,
                client,
                ..
            } => {
                assert_eq!(client.ip, Some(Ipv4Addr::LOCALHOST));
                Some(rule.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(denials, ["default", "kiosk"]);
}

/// A PXE DHCPDISCOVER from `mac` of architecture `arch`.
fn discover(mac: [u8; 6], arch: u16) -> Vec<u8> {
    common::pxe_message(
        dhcproto::v4::MessageType::Discover,
        mac,
        arch,
        Ipv4Addr::UNSPECIFIED,
    )
}

#[test]
fn proxy_dhcp_offers_what_the_policy_allows_and_stays_silent_otherwise() {
    use dhcproto::{v4::Message, Decodable, Decoder};
    let (dir, rescue, deploy) = common::two_images(10);
    let root = dir.path().join("root");
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let policy = AccessPolicy::from_json(
        r#"{"rules": [
            {"name": "bench", "mac": "02:00:00:00:00:0a", "allow": "all", "boot": "deploy"},
            {"name": "kiosk", "mac": "02:00:00:00:00:0c", "allow": "none"}
        ]}"#,
    )
    .unwrap();
    let (server, events) = start(
        &root,
        policy,
        Some(ProxyDhcpConfig::loopback(
            client.local_addr().unwrap().port(),
        )),
    );
    let (dhcp_port, _) = server.dhcp_ports().unwrap();
    let ask = |mac: [u8; 6], arch: u16| -> Option<String> {
        client
            .send_to(&discover(mac, arch), ("127.0.0.1", dhcp_port))
            .unwrap();
        let mut buf = [0u8; 1500];
        let (n, _) = client.recv_from(&mut buf).ok()?;
        let reply = Message::decode(&mut Decoder::new(&buf[..n])).unwrap();
        assert_eq!(reply.chaddr(), mac);
        Some(
            String::from_utf8_lossy(reply.fname().unwrap_or_default())
                .trim_end_matches('\0')
                .to_string(),
        )
    };
    assert_eq!(
        ask([2, 0, 0, 0, 0, 0xb], 7).as_deref(),
        rescue.uefi_boot.as_deref()
    );
    assert_eq!(
        ask([2, 0, 0, 0, 0, 0xa], 7).as_deref(),
        deploy.uefi_boot.as_deref()
    );
    // The bench on arm64 UEFI: nothing is staged for it.
    assert_eq!(ask([2, 0, 0, 0, 0, 0xa], 11), None);
    assert_eq!(ask([2, 0, 0, 0, 0, 0xc], 7), None);
    let events = events.lock().unwrap();
    let denied: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            BootEvent::Denied {
                rule,
                at: Checkpoint::Dhcp,
                ..
            } => Some(rule.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(denied, ["bench", "kiosk"], "{events:#?}");
}

#[test]
fn a_client_boots_from_the_version_it_was_offered_until_it_asks_again() {
    use dhcproto::v4::MessageType;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let src = dir.path().join("src");
    stage(
        &common::loader_media(&src, b'1', 10),
        &root,
        &StageOptions::recovery("rescue"),
        &Control::default(),
    )
    .unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let (server, _events) = start(
        &root,
        AccessPolicy::default(),
        Some(ProxyDhcpConfig::loopback(
            client.local_addr().unwrap().port(),
        )),
    );
    let (dhcp_port, pxe_port) = server.dhcp_ports().unwrap();
    let tftp = server.tftp_addr().unwrap();
    let mac = [2, 0, 0, 0, 0, 0x42];
    // DISCOVER, then the port-4011 REQUEST from the address the client got:
    // the server learns who 127.0.0.1 is and what it was offered.
    let boot = |expected_version: u32| {
        let mut buf = [0u8; 1500];
        client
            .send_to(&discover(mac, 7), ("127.0.0.1", dhcp_port))
            .unwrap();
        client.recv_from(&mut buf).unwrap();
        let request = common::pxe_message(MessageType::Request, mac, 7, Ipv4Addr::LOCALHOST);
        client.send_to(&request, ("127.0.0.1", pxe_port)).unwrap();
        let (n, _) = client.recv_from(&mut buf).unwrap();
        let ack = dhcproto::v4::Message::decode(&mut dhcproto::Decoder::new(&buf[..n])).unwrap();
        let file = String::from_utf8_lossy(ack.fname().unwrap())
            .trim_end_matches('\0')
            .to_string();
        assert_eq!(
            file,
            format!("images/rescue/{expected_version}/efi/boot/bootx64.efi")
        );
    };
    use dhcproto::Decodable;
    boot(1);
    // Windows Boot Manager style names, relative to the client's image.
    assert_eq!(
        fetch(tftp, "\\sources\\boot.wim", || {}).unwrap(),
        vec![b'1'; 1000]
    );
    stage(
        &common::loader_media(&src, b'2', 10),
        &root,
        &StageOptions::recovery("rescue"),
        &Control::default(),
    )
    .unwrap();
    // Mid-boot after the update: still version 1, file after file.
    assert_eq!(
        fetch(tftp, "/SOURCES/boot.wim", || {}).unwrap(),
        vec![b'1'; 1000]
    );
    // The next boot is offered version 2 and reads it.
    boot(2);
    assert_eq!(
        fetch(tftp, "sources/boot.wim", || {}).unwrap(),
        vec![b'2'; 1000]
    );
    // Names inside images/ are not rewritten, and traversal stays refused.
    assert_eq!(
        fetch(tftp, "images/rescue/1/sources/boot.wim", || {}).unwrap(),
        vec![b'1'; 1000]
    );
    assert_eq!(
        fetch(tftp, "../../../dart-catalog.json", || {})
            .unwrap_err()
            .0,
        2
    );
}

/// Sends a PXE DHCPREQUEST to the PXE port from `source` (a loopback
/// address of the test's choice) claiming the address `ciaddr` for `mac`;
/// returns whether the server answered.
fn pxe_request_from(source: Ipv4Addr, pxe_port: u16, ciaddr: Ipv4Addr, mac: [u8; 6]) -> bool {
    let socket = UdpSocket::bind((source, 0)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let request = common::pxe_message(dhcproto::v4::MessageType::Request, mac, 7, ciaddr);
    socket.send_to(&request, ("127.0.0.1", pxe_port)).unwrap();
    let mut buf = [0u8; 1500];
    socket.recv_from(&mut buf).is_ok()
}

/// A download's outcome in a few words: the first byte and the length, or
/// the error message.
fn outcome(result: Result<Vec<u8>, (u16, String)>) -> Result<(u8, usize), String> {
    match result {
        Ok(data) => Ok((data.first().copied().unwrap_or(0), data.len())),
        Err((_, message)) => Err(message),
    }
}

/// A boot server with proxy-DHCP on loopback under `policy`.
fn start_with_dhcp(root: &Path, policy: &str) -> (BootServer, Events, u16) {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (server, events) = start(
        root,
        AccessPolicy::from_json(policy).unwrap(),
        Some(ProxyDhcpConfig::loopback(
            client.local_addr().unwrap().port(),
        )),
    );
    let (_, pxe_port) = server.dhcp_ports().unwrap();
    (server, events, pxe_port)
}

const VICTIM: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const ATTACKER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const KIOSK_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xc];
const BENCH_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xa];

#[test]
fn a_forged_request_cannot_lock_a_client_out() {
    let (dir, rescue, _) = common::two_images(3000);
    let (server, events, pxe_port) = start_with_dhcp(
        &dir.path().join("root"),
        r#"{"rules": [{"name": "kiosks", "mac": "02:00:00:00:00:0c", "allow": "none"}]}"#,
    );
    let tftp = server.tftp_addr().unwrap();
    let rescue_file = rescue.uefi_boot.unwrap();
    // The victim makes itself known from its own address (a client the
    // server cannot identify might be a kiosk, and is refused).
    assert!(pxe_request_from(
        VICTIM,
        pxe_port,
        VICTIM,
        [2, 0, 0, 0, 0, 0x42]
    ));
    assert_eq!(
        outcome(fetch_from(VICTIM, tftp, &rescue_file)),
        Ok((b'r', 3000))
    );
    // The attacker, from its own address, claims the victim's address for
    // a kiosk's MAC (which may boot nothing).
    pxe_request_from(ATTACKER, pxe_port, VICTIM, KIOSK_MAC);
    assert_eq!(
        outcome(fetch_from(VICTIM, tftp, &rescue_file)),
        Ok((b'r', 3000)),
        "a forged claim locked the victim out"
    );
    let events = events.lock().unwrap();
    assert!(
        events.iter().any(|e| matches!(e, BootEvent::ClaimRefused { from, .. } if from.ip() == std::net::IpAddr::V4(ATTACKER))),
        "the forged claim was not reported: {events:#?}"
    );
}

#[test]
fn a_forged_request_cannot_switch_a_clients_boot_files() {
    let (dir, rescue, deploy) = common::two_images(3000);
    let (server, _events, pxe_port) = start_with_dhcp(
        &dir.path().join("root"),
        r#"{"rules": [{"name": "bench", "mac": "02:00:00:00:00:0a", "allow": "all", "boot": "deploy"}]}"#,
    );
    let tftp = server.tftp_addr().unwrap();
    // The victim boots normally: it is offered the recovery image and
    // reads Windows Boot Manager names relative to it.
    let victim_mac = [2, 0, 0, 0, 0, 0x42];
    assert!(pxe_request_from(VICTIM, pxe_port, VICTIM, victim_mac));
    assert_eq!(
        fetch_from(VICTIM, tftp, "\\sources\\boot.wim").unwrap(),
        vec![b'r'; 1000]
    );
    // The attacker claims the victim's address for the bench's MAC: the
    // victim's next file would come from the imaging image.
    pxe_request_from(ATTACKER, pxe_port, VICTIM, BENCH_MAC);
    assert_eq!(
        outcome(fetch_from(VICTIM, tftp, "\\sources\\boot.wim")),
        Ok((b'r', 1000)),
        "a forged claim switched the victim's boot files"
    );
    assert_eq!(
        fetch_from(VICTIM, tftp, deploy.uefi_boot.as_deref().unwrap())
            .unwrap_err()
            .0,
        2,
        "a forged claim gave the victim the bench's rights"
    );
    drop(rescue);
}

#[test]
fn a_flood_of_forged_bindings_cannot_raise_a_clients_rights() {
    let (dir, rescue, _) = common::two_images(3000);
    let (server, _events, pxe_port) = start_with_dhcp(
        &dir.path().join("root"),
        r#"{"rules": [
            {"name": "kiosks", "mac": "02:00:00:00:00:0c", "allow": "none"},
            {"name": "loopback lab", "subnet": "127.0.0.0/8", "allow": "all"}
        ]}"#,
    );
    let tftp = server.tftp_addr().unwrap();
    let rescue_file = rescue.uefi_boot.unwrap();
    // The kiosk makes itself known from its own address, and may boot
    // nothing.
    assert!(!pxe_request_from(VICTIM, pxe_port, VICTIM, KIOSK_MAC));
    assert_eq!(fetch_from(VICTIM, tftp, &rescue_file).unwrap_err().0, 2);
    // 70,000 clients, each from an address of its own (the attacker owns
    // them all), make themselves known.
    let started = std::time::Instant::now();
    for i in 0..70_000u32 {
        let [_, _, b, c] = (0x0001_0000 + i).to_be_bytes();
        let source = Ipv4Addr::new(127, 1 + (i >> 16) as u8, b, c);
        let mut mac = [2, 0xee, 0, 0, 0, 0];
        mac[2..].copy_from_slice(&i.to_be_bytes());
        assert!(
            pxe_request_from(source, pxe_port, source, mac),
            "no answer to forged client {i}"
        );
    }
    eprintln!("70,000 forged clients in {:.1?}", started.elapsed());
    assert_eq!(
        fetch_from(VICTIM, tftp, &rescue_file).unwrap_err().0,
        2,
        "the flood gave the kiosk the lab's rights"
    );
}
