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
use dart_core::net::http::{HttpConfig, HttpEvent};
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
            http: Some(HttpConfig {
                bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                ..HttpConfig::default()
            }),
            boot_url: None,
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

/// A boot server with proxy-DHCP on loopback under `policy`, and the
/// client socket its replies go to (reads time out after `wait`); returns
/// the server, its events, the client and the DHCP port.
fn start_with_client(
    root: &Path,
    policy: AccessPolicy,
    wait: Duration,
) -> (BootServer, Events, UdpSocket, u16) {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(wait)).unwrap();
    let (server, events) = start(
        root,
        policy,
        Some(ProxyDhcpConfig::loopback(
            client.local_addr().unwrap().port(),
        )),
    );
    let (dhcp_port, _) = server.dhcp_ports().unwrap();
    (server, events, client, dhcp_port)
}

/// The boot file and boot store (option 252) the proxy-DHCP offers a PXE
/// DHCPDISCOVER sent from `client`, or `None` when it stays silent.
fn offered(
    client: &UdpSocket,
    dhcp_port: u16,
    mac: [u8; 6],
    arch: u16,
) -> Option<(String, Option<String>)> {
    use dhcproto::v4::{DhcpOption, Message, OptionCode};
    use dhcproto::{Decodable, Decoder};
    client
        .send_to(&discover(mac, arch), ("127.0.0.1", dhcp_port))
        .unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = client.recv_from(&mut buf).ok()?;
    let reply = Message::decode(&mut Decoder::new(&buf[..n])).unwrap();
    assert_eq!(reply.chaddr(), mac);
    let file = String::from_utf8_lossy(reply.fname().unwrap_or_default())
        .trim_end_matches('\0')
        .to_string();
    let store = match reply.opts().get(OptionCode::from(252)) {
        Some(DhcpOption::Unknown(u)) => Some(String::from_utf8_lossy(u.data()).into_owned()),
        _ => None,
    };
    Some((file, store))
}

/// The boot file of [`offered`].
fn offered_file(client: &UdpSocket, dhcp_port: u16, mac: [u8; 6], arch: u16) -> Option<String> {
    offered(client, dhcp_port, mac, arch).map(|(file, _)| file)
}

#[test]
fn proxy_dhcp_offers_what_the_policy_allows_and_stays_silent_otherwise() {
    let (dir, rescue, deploy) = common::two_images(10);
    let root = dir.path().join("root");
    let policy = AccessPolicy::from_json(
        r#"{"rules": [
            {"name": "bench", "mac": "02:00:00:00:00:0a", "allow": "all", "boot": "deploy"},
            {"name": "kiosk", "mac": "02:00:00:00:00:0c", "allow": "none"}
        ]}"#,
    )
    .unwrap();
    let (_server, events, client, dhcp_port) =
        start_with_client(&root, policy, Duration::from_millis(700));
    let ask = |mac: [u8; 6], arch: u16| offered_file(&client, dhcp_port, mac, arch);
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

/// Media a menu can list: UEFI and BIOS loaders (`fill`), a WIM, boot.sdi
/// and the stores WinPE media carry.
fn menu_media(dir: &Path, fill: u8) -> dart_core::model::media::MediaSet {
    use dart_core::model::media::Firmware;
    let files: [(&str, Vec<u8>); 7] = [
        ("efi/boot/bootx64.efi", vec![fill; 700]),
        ("boot/pxeboot.n12", vec![fill; 600]),
        ("boot/pxeboot.com", vec![fill; 500]),
        ("sources/boot.wim", vec![fill; 1000]),
        ("boot/boot.sdi", vec![fill; 300]),
        (
            "boot/bcd",
            common::fixture::media_store(Firmware::Bios).unwrap(),
        ),
        (
            "efi/microsoft/boot/bcd",
            common::fixture::media_store(Firmware::Uefi).unwrap(),
        ),
    ];
    for (path, bytes) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    dart_core::model::media::MediaSet::open(dir).unwrap()
}

/// A root with recovery images "rescue" (`r`) and "tools" (`t`) and the
/// imaging image "deploy" (`d`), each with everything a menu needs.
fn menu_root() -> (tempfile::TempDir, std::path::PathBuf) {
    use dart_core::net::ImageRole;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    for (name, fill, role) in [
        ("rescue", b'r', ImageRole::Recovery),
        ("tools", b't', ImageRole::Recovery),
        ("deploy", b'd', ImageRole::Imaging),
    ] {
        let options = StageOptions {
            role,
            ..StageOptions::recovery(name)
        };
        let media = menu_media(&dir.path().join(name), fill);
        stage(&media, &root, &options, &Control::default()).unwrap();
    }
    (dir, root)
}

/// A PXE request from `source` for `mac` of architecture `arch`, claiming
/// `source` (so the server binds it); returns whether it was answered.
fn pxe_client(source: Ipv4Addr, pxe_port: u16, mac: [u8; 6], arch: u16) -> bool {
    let socket = UdpSocket::bind((source, 0)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let request = common::pxe_message(dhcproto::v4::MessageType::Request, mac, arch, source);
    socket.send_to(&request, ("127.0.0.1", pxe_port)).unwrap();
    let mut buf = [0u8; 1500];
    socket.recv_from(&mut buf).is_ok()
}

/// The store a client fetched, checked with libhivex (it must read
/// exactly what dart reads), as dart's store.
fn served_store(bytes: &[u8], scratch: &Path) -> dart_core::formats::bcd::Store {
    use dart_core::formats::bcd::Store;
    let file = scratch.join("served.bcd");
    std::fs::write(&file, bytes).unwrap();
    let store = Store::parse(bytes, &file).unwrap();
    assert_eq!(
        common::hivex::hivex_dump(&file),
        common::hivex::dart_dump(store.hive()),
        "libhivex reads the served store otherwise"
    );
    store
}

/// The entries of a store's menu: (description, WIM path, boot.sdi path,
/// loader path), in menu order.
fn menu_of(store: &dart_core::formats::bcd::Store) -> Vec<(String, String, String, String)> {
    use dart_core::formats::bcd::names::element;
    use dart_core::formats::bcd::{Device, ElementValue};
    store
        .display_order()
        .into_iter()
        .map(|id| {
            let o = store.object(id).unwrap();
            let Some(ElementValue::Device(Device::Ramdisk {
                path,
                options: Some(options),
                ..
            })) = o.element(element::DEVICE).cloned()
            else {
                panic!("entry {id} is not a RAM disk: {o:?}");
            };
            let sdi = match store
                .object(options)
                .unwrap()
                .element(element::RAMDISKSDIPATH)
            {
                Some(ElementValue::String(s)) => s.clone(),
                other => panic!("options without boot.sdi: {other:?}"),
            };
            let loader = match o.element(element::PATH) {
                Some(ElementValue::String(s)) => s.clone(),
                other => panic!("entry without a loader path: {other:?}"),
            };
            (o.description.clone().unwrap_or_default(), path, sdi, loader)
        })
        .collect()
}

const STRANGER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
const BENCH: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 12);
const KIOSK: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 13);
const BIOS_PC: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 14);
const NO_DHCP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 15);

#[test]
fn each_client_is_served_a_boot_menu_of_exactly_what_it_may_boot() {
    let (dir, root) = menu_root();
    let (server, events, pxe_port) = start_with_dhcp(
        &root,
        r#"{"menu": {"timeout": 7, "tftp_window": 8},
            "rules": [
            {"name": "bench", "mac": "02:00:00:00:00:0a", "allow": "all", "boot": "deploy", "timeout": 2},
            {"name": "kiosk", "mac": "02:00:00:00:00:0c", "allow": "none"}
        ]}"#,
    );
    let tftp = server.tftp_addr().unwrap();
    assert!(pxe_client(STRANGER, pxe_port, [2, 0, 0, 0, 0, 0x0b], 7));
    assert!(pxe_client(BENCH, pxe_port, [2, 0, 0, 0, 0, 0x0a], 7));
    assert!(!pxe_client(KIOSK, pxe_port, [2, 0, 0, 0, 0, 0x0c], 7));
    assert!(pxe_client(BIOS_PC, pxe_port, [2, 0, 0, 0, 0, 0x0e], 0));

    let entry = |name: &str, loader: &str| {
        (
            name.to_string(),
            format!(r"\images\{name}\1\sources\boot.wim"),
            format!(r"\images\{name}\1\boot\boot.sdi"),
            format!(r"\windows\system32\boot\winload.{loader}"),
        )
    };
    // An ordinary client: the recovery images, never the imaging one.
    let stranger = served_store(
        &fetch_from(STRANGER, tftp, "\\Boot\\BCD").unwrap(),
        dir.path(),
    );
    assert_eq!(
        menu_of(&stranger),
        [entry("rescue", "efi"), entry("tools", "efi")]
    );
    assert_eq!(stranger.timeout(), Some(7));
    // Every file the store names is served to it; the imaging image's are not.
    for (_, wim, sdi, _) in menu_of(&stranger) {
        assert_eq!(fetch_from(STRANGER, tftp, &wim).unwrap().len(), 1000);
        assert_eq!(fetch_from(STRANGER, tftp, &sdi).unwrap().len(), 300);
    }
    let (code, message) =
        fetch_from(STRANGER, tftp, r"\images\deploy\1\sources\boot.wim").unwrap_err();
    assert!(code == 2 && message.contains("imaging"), "{message}");

    // A client a rule lists: everything, its rule's image the default.
    let bench = served_store(&fetch_from(BENCH, tftp, "/boot/bcd").unwrap(), dir.path());
    let menu = menu_of(&bench);
    assert_eq!(
        menu,
        [
            entry("deploy", "efi"),
            entry("rescue", "efi"),
            entry("tools", "efi")
        ]
    );
    assert_eq!(
        bench.default_entry(),
        bench.display_order().first().copied()
    );
    assert_eq!(bench.timeout(), Some(2));
    assert_eq!(
        fetch_from(BENCH, tftp, &menu[0].1).unwrap(),
        vec![b'd'; 1000]
    );

    // The RAM disk is read with the server's block size and the policy's window.
    {
        use dart_core::formats::bcd::names::element;
        use dart_core::formats::bcd::{Device, ElementValue};
        let id = bench.display_order()[0];
        let Some(ElementValue::Device(Device::Ramdisk {
            options: Some(o), ..
        })) = bench.object(id).unwrap().element(element::DEVICE).cloned()
        else {
            panic!("no options");
        };
        let options = bench.object(o).unwrap();
        assert_eq!(
            options.element(element::RAMDISKTFTPBLOCKSIZE),
            Some(&ElementValue::Integer(1468))
        );
        assert_eq!(
            options.element(element::RAMDISKTFTPWINDOWSIZE),
            Some(&ElementValue::Integer(8))
        );
    }

    // A client the policy allows nothing gets no store.
    let (code, message) = fetch_from(KIOSK, tftp, "\\Boot\\BCD").unwrap_err();
    assert!(code == 2 && message.contains("may boot no"), "{message}");

    // A BIOS client: a BIOS store (winload.exe).
    let bios = served_store(
        &fetch_from(BIOS_PC, tftp, "\\Boot\\BCD").unwrap(),
        dir.path(),
    );
    assert_eq!(
        menu_of(&bios),
        [entry("rescue", "exe"), entry("tools", "exe")]
    );

    let events = events.lock().unwrap();
    let menus: Vec<(String, Vec<String>)> = events
        .iter()
        .filter_map(|e| match e {
            BootEvent::Menu { rule, images, .. } => Some((rule.clone(), images.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(menus.len(), 3, "{menus:?}");
    assert_eq!(
        menus[1],
        (
            "bench".to_string(),
            vec!["deploy".into(), "rescue".into(), "tools".into()]
        )
    );
}

#[test]
fn a_client_that_skipped_the_proxy_dhcp_gets_the_store_of_the_loader_it_read() {
    let (dir, root) = menu_root();
    let (server, _events) = start(&root, AccessPolicy::default(), None);
    let tftp = server.tftp_addr().unwrap();
    // Nothing tells the server its firmware yet.
    let (code, message) = fetch_from(NO_DHCP, tftp, "\\Boot\\BCD").unwrap_err();
    assert!(
        code == 2 && message.contains("dart/menu/bios.bcd"),
        "{message}"
    );
    // The path DHCP option 252 names says it.
    let uefi = served_store(
        &fetch_from(NO_DHCP, tftp, "dart/menu/x64-uefi.bcd").unwrap(),
        dir.path(),
    );
    assert_eq!(menu_of(&uefi).len(), 2);
    assert!(menu_of(&uefi)[0].3.ends_with(".efi"));
    // Its network's DHCP server named a BIOS loader, which it read.
    assert_eq!(
        fetch_from(NO_DHCP, tftp, "images/rescue/1/boot/pxeboot.n12").unwrap(),
        vec![b'r'; 600]
    );
    let bios = served_store(
        &fetch_from(NO_DHCP, tftp, "\\Boot\\BCD").unwrap(),
        dir.path(),
    );
    assert!(menu_of(&bios).iter().all(|e| e.3.ends_with(".exe")));
    // A UEFI name is not answered with a BIOS store.
    let (code, _) = fetch_from(NO_DHCP, tftp, "\\EFI\\Microsoft\\Boot\\BCD").unwrap_err();
    assert_eq!(code, 2);
}

#[test]
fn generated_stores_are_cached_until_the_catalog_changes() {
    let (dir, root) = menu_root();
    let (server, _events) = start(&root, AccessPolicy::default(), None);
    let tftp = server.tftp_addr().unwrap();
    let first = fetch_from(NO_DHCP, tftp, "dart/menu/x64-uefi.bcd").unwrap();
    assert_eq!(
        fetch_from(NO_DHCP, tftp, "dart/menu/x64-uefi.bcd").unwrap(),
        first
    );
    // A new version of "tools": the next store names it.
    stage(
        &menu_media(&dir.path().join("tools2"), b'T'),
        &root,
        &StageOptions::recovery("tools"),
        &Control::default(),
    )
    .unwrap();
    let second = served_store(
        &fetch_from(NO_DHCP, tftp, "dart/menu/x64-uefi.bcd").unwrap(),
        dir.path(),
    );
    let menu = menu_of(&second);
    assert_eq!(menu[1].1, r"\images\tools\2\sources\boot.wim");
    assert_eq!(
        fetch_from(NO_DHCP, tftp, &menu[1].1).unwrap(),
        vec![b'T'; 1000]
    );
}

#[test]
fn bios_clients_get_the_f12_loader_when_the_policy_asks_for_it() {
    let (_dir, root) = menu_root();
    let policy = AccessPolicy::from_json(
        r#"{"menu": {"bios_prompt": true},
            "rules": [{"name": "lab", "mac": "02:00:00:00:00:0a", "allow": "recovery", "bios_prompt": false}]}"#,
    )
    .unwrap();
    let (_server, _events, client, dhcp_port) =
        start_with_client(&root, policy, Duration::from_millis(700));
    let ask = |mac: [u8; 6], arch: u16| offered_file(&client, dhcp_port, mac, arch);
    assert_eq!(
        ask([2, 0, 0, 0, 0, 0x0b], 0).as_deref(),
        Some("images/rescue/1/boot/pxeboot.com"),
        "the policy asks for F12"
    );
    assert_eq!(
        ask([2, 0, 0, 0, 0, 0x0a], 0).as_deref(),
        Some("images/rescue/1/boot/pxeboot.n12"),
        "the lab's rule does not"
    );
    assert_eq!(
        ask([2, 0, 0, 0, 0, 0x0b], 7).as_deref(),
        Some("images/rescue/1/efi/boot/bootx64.efi"),
        "UEFI clients have no F12 loader"
    );
    // Each offer names the store generated for the client's firmware.
    let store = |arch| {
        offered(&client, dhcp_port, [2, 0, 0, 0, 0, 0x0b], arch)
            .unwrap()
            .1
    };
    assert_eq!(store(0).as_deref(), Some(r"\dart\menu\bios.bcd"));
    assert_eq!(store(7).as_deref(), Some(r"\dart\menu\x64-uefi.bcd"));
}

/// Asks (a PXE DHCPDISCOVER from `mac`) until the server answers or 5 s
/// pass: an approval made by another process takes effect at the server's
/// next look at the client database.
fn answered_within_5s(client: &UdpSocket, dhcp_port: u16, mac: [u8; 6]) -> Option<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(file) = offered_file(client, dhcp_port, mac, 7) {
            return Some(file);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
    }
}

#[test]
fn unknown_clients_wait_as_pending_until_an_admin_approves_them() {
    use dart_core::net::known::{Approval, ClientDb, ClientKey, ClientState, CLIENTS_FILE};
    let (_dir, root) = menu_root();
    let policy = AccessPolicy::from_json(r#"{"answer": "known"}"#).unwrap();
    let (server, events, client, dhcp_port) =
        start_with_client(&root, policy, Duration::from_millis(300));
    let mac = [2, 0, 0, 0, 0, 0x21];
    let key = ClientKey::Mac(dart_core::net::policy::MacAddr(mac));
    assert_eq!(
        offered_file(&client, dhcp_port, mac, 7),
        None,
        "not answered"
    );
    let mut admin = ClientDb::open(&root.join(CLIENTS_FILE)).unwrap();
    let pending = admin.find(&key).unwrap().expect("recorded as pending");
    assert_eq!(pending.state, ClientState::Pending);
    assert_eq!(pending.arch.map(|a| a.0), Some(7));
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, BootEvent::Pending { .. })));
    assert!(
        events.lock().unwrap().iter().any(|e| matches!(e,
            BootEvent::Denied { at: Checkpoint::Dhcp, reason, .. } if reason.contains("pending approval"))),
        "the refusal says why"
    );
    // Nor is it served anything over TFTP, judged by its address.
    let tftp = server.tftp_addr().unwrap();
    // (a request from its own address binds the address to its MAC)
    pxe_client(STRANGER, server.dhcp_ports().unwrap().1, mac, 7);
    let (code, message) =
        fetch_from(STRANGER, tftp, "images/rescue/1/efi/boot/bootx64.efi").unwrap_err();
    assert!(
        code == 2 && message.contains("pending approval"),
        "{message}"
    );

    // Approved by another process: answered without a restart.
    admin.approve(&key, &Approval::default()).unwrap();
    assert_eq!(
        answered_within_5s(&client, dhcp_port, mac).as_deref(),
        Some("images/rescue/1/efi/boot/bootx64.efi")
    );
    assert_eq!(
        fetch_from(STRANGER, tftp, "images/rescue/1/efi/boot/bootx64.efi").unwrap(),
        vec![b'r'; 700]
    );
    // Pre-staged with images of its own: those, and its boot image offered.
    admin
        .approve(
            &key,
            &Approval {
                allow: Some(dart_core::net::policy::Allow::All),
                boot: Some("deploy".into()),
                ..Approval::default()
            },
        )
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while offered_file(&client, dhcp_port, mac, 7).as_deref()
        != Some("images/deploy/1/efi/boot/bootx64.efi")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the new approval never took effect"
        );
    }
    // Denied: nothing again, and not pending again.
    admin.deny(&key).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while offered_file(&client, dhcp_port, mac, 7).is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the denial never took effect"
        );
    }
    assert_eq!(
        admin.find(&key).unwrap().unwrap().state,
        ClientState::Denied
    );
}

/// An HTTP GET from `source` (curl, bound to that address): the status
/// and the body.
fn http_get(source: Ipv4Addr, server: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    common::http::curl(&[
        "--interface",
        &source.to_string(),
        &format!("http://{server}{path}"),
    ])
}

#[test]
fn http_serves_the_same_menus_under_the_same_policy_as_tftp() {
    let (dir, root) = menu_root();
    let (server, events, pxe_port) = start_with_dhcp(
        &root,
        r#"{"rules": [
            {"name": "bench", "mac": "02:00:00:00:00:0a", "allow": "all", "boot": "deploy"},
            {"name": "kiosk", "mac": "02:00:00:00:00:0c", "allow": "none"}
        ]}"#,
    );
    let http = server.http_addr().unwrap();
    assert!(pxe_client(STRANGER, pxe_port, [2, 0, 0, 0, 0, 0x0b], 7));
    assert!(pxe_client(BENCH, pxe_port, [2, 0, 0, 0, 0, 0x0a], 7));
    assert!(!pxe_client(KIOSK, pxe_port, [2, 0, 0, 0, 0, 0x0c], 7));

    // The ordinary client's menu over HTTP: the recovery images only, and
    // their files are served; the imaging image's are refused by name
    // of the rule.
    let (status, bytes) = http_get(STRANGER, http, "/Boot/BCD");
    assert_eq!(status, 200);
    let stranger = served_store(&bytes, dir.path());
    let names: Vec<String> = menu_of(&stranger).into_iter().map(|e| e.0).collect();
    assert_eq!(names, ["rescue", "tools"]);
    for (_, wim, sdi, _) in menu_of(&stranger) {
        assert_eq!(
            http_get(STRANGER, http, &wim.replace('\\', "/")).1.len(),
            1000
        );
        assert_eq!(
            http_get(STRANGER, http, &sdi.replace('\\', "/")).1.len(),
            300
        );
    }
    let (status, body) = http_get(STRANGER, http, "/images/deploy/1/sources/boot.wim");
    assert_eq!(status, 403);
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("imaging") && body.contains("default"),
        "{body}"
    );

    // The bench gets every image, byte for byte.
    let (status, bytes) = http_get(BENCH, http, "/efi/microsoft/boot/bcd");
    assert_eq!(status, 200);
    let names: Vec<String> = menu_of(&served_store(&bytes, dir.path()))
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(names, ["deploy", "rescue", "tools"]);
    assert_eq!(
        http_get(BENCH, http, "/images/deploy/1/sources/boot.wim").1,
        vec![b'd'; 1000]
    );
    // The kiosk gets nothing: no store, no file.
    assert_eq!(http_get(KIOSK, http, "/Boot/BCD").0, 403);
    assert_eq!(
        http_get(KIOSK, http, "/images/rescue/1/sources/boot.wim").0,
        403
    );
    // Nothing outside the root, whoever asks.
    assert!(matches!(
        http_get(BENCH, http, "/../../etc/passwd").0,
        403 | 404
    ));

    let events = events.lock().unwrap();
    let http_denials = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                BootEvent::Denied {
                    at: Checkpoint::Http,
                    ..
                }
            )
        })
        .count();
    assert_eq!(http_denials, 3, "{events:#?}");
    assert!(events
        .iter()
        .any(|e| matches!(e, BootEvent::Http(HttpEvent::Served { status: 200, .. }))));
}

/// A DHCPDISCOVER as OVMF's HTTP Boot driver sends it: class
/// `HTTPClient:Arch:00016:...`, option 93 = 16.
fn http_discover(mac: [u8; 6]) -> Vec<u8> {
    use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode};
    use dhcproto::{Encodable, Encoder};
    let mut msg = Message::default();
    msg.set_opcode(Opcode::BootRequest)
        .set_xid(0x0bad_cafe)
        .set_chaddr(&mac);
    let opts = msg.opts_mut();
    opts.insert(DhcpOption::MessageType(MessageType::Discover));
    opts.insert(DhcpOption::ClassIdentifier(
        b"HTTPClient:Arch:00016:UNDI:003000".to_vec(),
    ));
    opts.insert(DhcpOption::ClientSystemArchitecture(16u16.into()));
    let mut out = Vec::new();
    msg.encode(&mut Encoder::new(&mut out)).unwrap();
    out
}

#[test]
fn uefi_http_boot_clients_are_offered_a_url_the_http_server_serves() {
    use dhcproto::v4::{DhcpOption, Message, OptionCode};
    use dhcproto::{Decodable, Decoder};
    let (dir, rescue, _) = common::two_images(4000);
    let root = dir.path().join("root");
    let (server, events, client, dhcp_port) =
        start_with_client(&root, AccessPolicy::default(), Duration::from_secs(5));
    let http = server.http_addr().unwrap();
    let mac = [2, 0, 0, 0, 0, 0x42];
    client
        .send_to(&http_discover(mac), ("127.0.0.1", dhcp_port))
        .unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = client.recv_from(&mut buf).unwrap();
    let reply = Message::decode(&mut Decoder::new(&buf[..n])).unwrap();
    assert_eq!(
        reply.opts().get(OptionCode::ClassIdentifier),
        Some(&DhcpOption::ClassIdentifier(b"HTTPClient".to_vec()))
    );
    assert_eq!(reply.opts().get(OptionCode::VendorExtensions), None);
    let url = String::from_utf8_lossy(reply.fname().unwrap())
        .trim_end_matches('\0')
        .to_string();
    let loader = rescue.uefi_boot.unwrap();
    assert_eq!(url, format!("http://127.0.0.1:{}/{loader}", http.port()));
    // The URL serves the loader, byte for byte.
    let out = std::process::Command::new("curl")
        .args(["-s", "-f", &url])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, vec![b'r'; 4000]);
    assert!(events.lock().unwrap().iter().any(|e| matches!(
        e,
        BootEvent::Offered { file, .. } if *file == url
    )));
    server.stop();

    // A server without HTTP stays silent to them, and says why.
    let events: Events = Arc::default();
    let sink = Arc::clone(&events);
    let no_http = BootServer::start(
        BootServerConfig {
            root: root.clone(),
            policy: AccessPolicy::default(),
            tftp: TftpConfig {
                bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                ..TftpConfig::default()
            },
            proxy_dhcp: Some(ProxyDhcpConfig::loopback(
                client.local_addr().unwrap().port(),
            )),
            http: None,
            boot_url: None,
        },
        Some(Box::new(move |e| sink.lock().unwrap().push(e))),
    )
    .unwrap();
    let (dhcp_port, _) = no_http.dhcp_ports().unwrap();
    client
        .send_to(&http_discover(mac), ("127.0.0.1", dhcp_port))
        .unwrap();
    // The decision is made (and reported) before any reply would be sent.
    let until = std::time::Instant::now() + Duration::from_secs(10);
    let denied = loop {
        let found = events.lock().unwrap().iter().find_map(|e| match e {
            BootEvent::Denied {
                at: Checkpoint::Dhcp,
                reason,
                ..
            } => Some(reason.clone()),
            _ => None,
        });
        if found.is_some() || std::time::Instant::now() > until {
            break found;
        }
        std::thread::yield_now();
    };
    assert!(
        denied.as_deref().is_some_and(|r| r.contains("--http")),
        "{denied:?}"
    );
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(client.recv_from(&mut buf).is_err(), "a reply came");
}

/// A DHCPREQUEST as iPXE sends it to port 4011 once it has `source`:
/// class `PXEClient:Arch:00007...`, user class `iPXE`.
fn ipxe_request(mac: [u8; 6], source: Ipv4Addr) -> Vec<u8> {
    use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode, OptionCode, UnknownOption};
    use dhcproto::{Encodable, Encoder};
    let mut msg = Message::default();
    msg.set_opcode(Opcode::BootRequest)
        .set_xid(0x1b0e)
        .set_chaddr(&mac)
        .set_ciaddr(source);
    let opts = msg.opts_mut();
    opts.insert(DhcpOption::MessageType(MessageType::Request));
    opts.insert(DhcpOption::ClassIdentifier(
        b"PXEClient:Arch:00007:UNDI:003010".to_vec(),
    ));
    opts.insert(DhcpOption::ClientSystemArchitecture(7u16.into()));
    opts.insert(DhcpOption::Unknown(UnknownOption::new(
        OptionCode::from(77),
        b"iPXE".to_vec(),
    )));
    let mut out = Vec::new();
    msg.encode(&mut Encoder::new(&mut out)).unwrap();
    out
}

#[test]
fn ipxe_clients_get_a_script_of_what_they_may_boot() {
    use dhcproto::v4::Message;
    use dhcproto::{Decodable, Decoder};
    let (_dir, root) = menu_root();
    let (server, _events, pxe_port) = start_with_dhcp(&root, r#"{"menu": {"timeout": 4}}"#);
    let http = server.http_addr().unwrap();
    let mac = [2, 0, 0, 0, 0, 0x51];
    let socket = UdpSocket::bind((STRANGER, 0)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
        .send_to(&ipxe_request(mac, STRANGER), ("127.0.0.1", pxe_port))
        .unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = socket.recv_from(&mut buf).unwrap();
    let reply = Message::decode(&mut Decoder::new(&buf[..n])).unwrap();
    let url = String::from_utf8_lossy(reply.fname().unwrap())
        .trim_end_matches('\0')
        .to_string();
    assert_eq!(
        url,
        format!("http://127.0.0.1:{}/dart/boot.ipxe", http.port())
    );

    let (status, script) = http_get(STRANGER, http, "/dart/boot.ipxe");
    let script = String::from_utf8(script).unwrap();
    assert_eq!(status, 200, "{script}");
    assert!(script.starts_with("#!ipxe\n"), "{script}");
    assert!(
        script.contains("chain --autofree /images/rescue/1/"),
        "{script}"
    );
    assert!(
        script.contains("chain --autofree /images/tools/1/"),
        "{script}"
    );
    assert!(
        !script.contains("deploy"),
        "an imaging image in an ordinary client's script: {script}"
    );
    assert!(script.contains("--timeout 4000"), "{script}");
    // Every path it chains is served to that client.
    for line in script
        .lines()
        .filter_map(|l| l.strip_prefix("chain --autofree "))
    {
        let path = line.split_whitespace().next().unwrap();
        assert_eq!(http_get(STRANGER, http, path).0, 200, "{path}");
    }
    // With wimboot in the root, the items boot the WIMs through it.
    std::fs::create_dir_all(root.join("dart")).unwrap();
    std::fs::write(root.join("dart/wimboot"), b"stand-in wimboot").unwrap();
    let (_, script) = http_get(STRANGER, http, "/DART/boot.ipxe");
    let script = String::from_utf8(script).unwrap();
    assert!(script.contains("kernel /dart/wimboot"), "{script}");
    assert!(
        script.contains("initrd /images/rescue/1/sources/boot.wim boot.wim"),
        "{script}"
    );
    let (status, wimboot) = http_get(STRANGER, http, "/dart/wimboot");
    assert_eq!(
        (status, wimboot.as_slice()),
        (200, &b"stand-in wimboot"[..])
    );
    // Nothing else under dart/ is served.
    std::fs::write(root.join("dart/other"), b"x").unwrap();
    assert_eq!(http_get(STRANGER, http, "/dart/other").0, 403);
}

/// With a boot URL (an export served elsewhere), HTTP clients are pointed
/// there: a UEFI HTTP Boot client at its loader under the URL, an iPXE
/// client at its class's script, the class named after the rule that
/// decided; nothing needs this server's HTTP. A boot URL a DHCP reply or
/// a script cannot hold is refused at start.
#[test]
fn a_boot_url_points_http_clients_at_an_export() {
    use dhcproto::v4::Message;
    use dhcproto::{Decodable, Decoder};
    let (dir, rescue, _) = common::two_images(1000);
    let root = dir.path().join("root");
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let config = |boot_url: &str| BootServerConfig {
        root: root.clone(),
        policy: AccessPolicy::from_json(
            r#"{"rules": [{"name": "Imaging Bench", "mac": "02:00:00:00:00:0a", "allow": "all"}]}"#,
        )
        .unwrap(),
        tftp: TftpConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..TftpConfig::default()
        },
        proxy_dhcp: Some(ProxyDhcpConfig::loopback(
            client.local_addr().unwrap().port(),
        )),
        http: None,
        boot_url: Some(boot_url.into()),
    };
    for bad in ["ftp://boot.example.org", "http://boot.example.org/${x}"] {
        let e = BootServer::start(config(bad), None).unwrap_err();
        assert!(e.to_string().contains("base URL"), "{e}");
    }
    let server = BootServer::start(config("http://boot.example.org/dart/"), None).unwrap();
    let (dhcp_port, pxe_port) = server.dhcp_ports().unwrap();
    let file_of = |buf: &[u8]| {
        let reply = Message::decode(&mut Decoder::new(buf)).unwrap();
        String::from_utf8_lossy(reply.fname().unwrap())
            .trim_end_matches('\0')
            .to_string()
    };
    let mut buf = [0u8; 1500];
    client
        .send_to(
            &http_discover([2, 0, 0, 0, 0, 0x43]),
            ("127.0.0.1", dhcp_port),
        )
        .unwrap();
    let (n, _) = client.recv_from(&mut buf).unwrap();
    assert_eq!(
        file_of(&buf[..n]),
        format!("http://boot.example.org/dart/{}", rescue.uefi_boot.unwrap())
    );
    for (mac, class) in [
        (BENCH_MAC, "imaging-bench"),
        ([2, 0, 0, 0, 0, 0x44], "default"),
    ] {
        let socket = UdpSocket::bind((STRANGER, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        socket
            .send_to(&ipxe_request(mac, STRANGER), ("127.0.0.1", pxe_port))
            .unwrap();
        let (n, _) = socket.recv_from(&mut buf).unwrap();
        assert_eq!(
            file_of(&buf[..n]),
            format!("http://boot.example.org/dart/dart/classes/{class}/x64-uefi.ipxe")
        );
    }
    server.stop();
}
