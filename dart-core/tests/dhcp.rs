//! The proxy-DHCP server on loopback: requests built byte by byte here,
//! replies decoded with `dhcproto` on their own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dart_core::net::dhcp::{
    BootOffer, DhcpEvent, Port, ProxyDhcp, ProxyDhcpConfig, PxeRequest, RequestKind,
};
use dhcproto::v4::{Decodable, Decoder, DhcpOption, Message, MessageType, Opcode, OptionCode};

const UEFI_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x00, 0x00, 0x07];
const BIOS_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x00, 0x00, 0x00];
/// The decide closure offers nothing to this client.
const UNKNOWN_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xff, 0xff, 0xff];
const UUID: [u8; 17] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

/// What the decide closure saw: kind, port, client_ip().
type Seen = Arc<Mutex<Vec<(RequestKind, Port, Option<Ipv4Addr>)>>>;

struct Harness {
    server: Option<ProxyDhcp>,
    /// Bound to the configured client port: broadcast replies arrive here.
    client: UdpSocket,
    seen: Seen,
    events: Arc<Mutex<Vec<DhcpEvent>>>,
}

impl Harness {
    fn start() -> Harness {
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let config = ProxyDhcpConfig::loopback(client.local_addr().unwrap().port());
        let seen: Seen = Arc::default();
        let events: Arc<Mutex<Vec<DhcpEvent>>> = Arc::default();
        let decide_seen = Arc::clone(&seen);
        let decide = Box::new(move |request: &PxeRequest, port: Port, _from| {
            decide_seen
                .lock()
                .unwrap()
                .push((request.kind, port, request.client_ip()));
            if request.mac == UNKNOWN_MAC {
                return None;
            }
            let boot_file = if request.is_uefi() {
                "boot/x64/wdsmgfw.efi"
            } else {
                "boot/x86/pxeboot.n12"
            };
            Some(BootOffer {
                boot_file: boot_file.into(),
                tftp_server: Ipv4Addr::LOCALHOST,
                boot_store: None,
            })
        });
        let sink = Arc::clone(&events);
        let server = ProxyDhcp::start(
            config,
            decide,
            Some(Box::new(move |event| sink.lock().unwrap().push(event))),
        )
        .unwrap();
        Harness {
            server: Some(server),
            client,
            seen,
            events,
        }
    }

    fn server(&self) -> &ProxyDhcp {
        self.server.as_ref().unwrap()
    }

    fn dhcp_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.server().dhcp_port()))
    }

    fn pxe_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.server().pxe_port()))
    }

    /// Waits until the server has reported `n` events.
    fn wait_events(&self, n: usize) -> Vec<DhcpEvent> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let events = self.events.lock().unwrap().clone();
            if events.len() >= n || Instant::now() > deadline {
                return events;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Receives one reply on `socket` within 2 seconds.
fn receive(socket: &UdpSocket) -> (Message, SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 1500];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let message = Message::decode(&mut Decoder::new(&buf[..n])).unwrap();
                return (message, from);
            }
            Err(e) if Instant::now() > deadline => panic!("no reply: {e}"),
            Err(_) => {}
        }
    }
}

/// Asserts that nothing arrives on `socket` for half a second.
fn nothing_arrives(socket: &UdpSocket) {
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut buf = [0u8; 1500];
    while Instant::now() < deadline {
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            panic!("unexpected reply of {n} bytes from {from}");
        }
    }
}

fn option(code: u8, value: &[u8]) -> Vec<u8> {
    let mut o = vec![code, value.len() as u8];
    o.extend_from_slice(value);
    o
}

/// A DHCP request as a PXE ROM sends it: header, magic cookie, options
/// 53, 57, 97, 94, 93, 60 (in EDK2's order), `extra`, end.
fn pxe_request(
    message_type: u8,
    mac: [u8; 6],
    arch: u16,
    ciaddr: Ipv4Addr,
    extra: &[u8],
) -> Vec<u8> {
    let mut m = vec![0u8; 240];
    m[0] = 1; // BOOTREQUEST
    m[1] = 1; // Ethernet
    m[2] = 6;
    m[4..8].copy_from_slice(&0xdead_beefu32.to_be_bytes());
    m[10..12].copy_from_slice(&0x8000u16.to_be_bytes());
    m[12..16].copy_from_slice(&ciaddr.octets());
    m[28..34].copy_from_slice(&mac);
    m[236..240].copy_from_slice(&[99, 130, 83, 99]);
    m.extend(option(53, &[message_type]));
    m.extend(option(57, &1464u16.to_be_bytes()));
    m.extend(option(97, &UUID));
    m.extend(option(94, &[1, 3, 0]));
    m.extend(option(93, &arch.to_be_bytes()));
    m.extend(option(
        60,
        format!("PXEClient:Arch:{arch:05}:UNDI:003000").as_bytes(),
    ));
    m.extend_from_slice(extra);
    m.push(255);
    m
}

fn check_reply(m: &Message, kind: MessageType, mac: [u8; 6], file: &str) {
    assert_eq!(m.opcode(), Opcode::BootReply);
    assert_eq!(m.xid(), 0xdead_beef);
    assert_eq!(m.chaddr(), mac);
    assert_eq!(m.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(m.opts().msg_type(), Some(kind));
    assert_eq!(
        m.opts().get(OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(Ipv4Addr::LOCALHOST))
    );
    assert_eq!(
        m.opts().get(OptionCode::ClassIdentifier),
        Some(&DhcpOption::ClassIdentifier(b"PXEClient".to_vec()))
    );
    assert_eq!(
        m.opts().get(OptionCode::ClientMachineIdentifier),
        Some(&DhcpOption::ClientMachineIdentifier(UUID.to_vec()))
    );
    let mut expected = file.as_bytes().to_vec();
    expected.push(0);
    assert_eq!(m.fname(), Some(expected.as_slice()));
}

#[test]
fn discover_on_dhcp_port_gets_an_offer_with_the_chosen_file() {
    let h = Harness::start();
    let request = pxe_request(1, UEFI_MAC, 7, Ipv4Addr::UNSPECIFIED, &[]);
    h.client.send_to(&request, h.dhcp_addr()).unwrap();
    let (m, from) = receive(&h.client);
    assert_eq!(
        from.port(),
        h.server().dhcp_port(),
        "the offer comes from the DHCP port"
    );
    check_reply(&m, MessageType::Offer, UEFI_MAC, "boot/x64/wdsmgfw.efi");
    assert_eq!(m.siaddr(), Ipv4Addr::LOCALHOST);
    assert_eq!(m.opts().get(OptionCode::VendorExtensions), None);

    // A BIOS client gets its own file and the PXE discovery control option.
    let request = pxe_request(1, BIOS_MAC, 0, Ipv4Addr::UNSPECIFIED, &[]);
    h.client.send_to(&request, h.dhcp_addr()).unwrap();
    let (m, _) = receive(&h.client);
    check_reply(&m, MessageType::Offer, BIOS_MAC, "boot/x86/pxeboot.n12");
    assert!(matches!(
        m.opts().get(OptionCode::VendorExtensions),
        Some(DhcpOption::VendorExtensions(v)) if v.starts_with(&[6, 1, 8])
    ));

    let events = h.wait_events(2);
    assert!(
        matches!(
            &events[0],
            DhcpEvent::Offered { mac, kind: RequestKind::Discover, arch: Some(7), port: Port::Dhcp, boot_file, to, .. }
                if *mac == UEFI_MAC && boot_file == "boot/x64/wdsmgfw.efi" && to.port() == h.client.local_addr().unwrap().port()
        ),
        "{events:?}"
    );
    assert!(
        events[0].to_string().contains("52:54:00:00:00:07"),
        "{}",
        events[0]
    );
}

#[test]
fn request_to_the_dhcp_server_is_seen_but_not_answered() {
    let h = Harness::start();
    let mut extra = option(50, &[10, 9, 8, 7]);
    extra.extend(option(54, &[10, 9, 8, 1]));
    let request = pxe_request(3, UEFI_MAC, 7, Ipv4Addr::UNSPECIFIED, &extra);
    h.client.send_to(&request, h.dhcp_addr()).unwrap();
    nothing_arrives(&h.client);
    assert_eq!(
        *h.seen.lock().unwrap(),
        vec![(
            RequestKind::Request,
            Port::Dhcp,
            Some(Ipv4Addr::new(10, 9, 8, 7))
        )]
    );
    let events = h.wait_events(1);
    assert!(
        matches!(&events[..], [DhcpEvent::Silent { kind: RequestKind::Request, port: Port::Dhcp, reason, .. }] if reason.contains("10.9.8.7")),
        "{events:?}"
    );
}

#[test]
fn request_on_pxe_port_is_acked_to_its_sender() {
    let h = Harness::start();
    // EDK2 sends from port 4011 of its new address; here from any port.
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sender
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let request = pxe_request(3, UEFI_MAC, 7, Ipv4Addr::LOCALHOST, &[]);
    sender.send_to(&request, h.pxe_addr()).unwrap();
    let (m, from) = receive(&sender);
    assert_eq!(from, h.pxe_addr(), "the ACK comes from the PXE port");
    check_reply(&m, MessageType::Ack, UEFI_MAC, "boot/x64/wdsmgfw.efi");
    assert_eq!(m.siaddr(), Ipv4Addr::LOCALHOST);
    assert_eq!(m.ciaddr(), Ipv4Addr::LOCALHOST);
    assert_eq!(m.sname(), Some(&b"127.0.0.1\0"[..]));
    nothing_arrives(&h.client);
    assert_eq!(
        *h.seen.lock().unwrap(),
        vec![(RequestKind::Request, Port::Pxe, Some(Ipv4Addr::LOCALHOST))]
    );

    // DHCPINFORM on the PXE port is answered the same way.
    let request = pxe_request(8, UEFI_MAC, 7, Ipv4Addr::LOCALHOST, &[]);
    sender.send_to(&request, h.pxe_addr()).unwrap();
    let (m, _) = receive(&sender);
    assert_eq!(m.opts().msg_type(), Some(MessageType::Ack));

    // A DISCOVER on the PXE port is not.
    let request = pxe_request(1, UEFI_MAC, 7, Ipv4Addr::UNSPECIFIED, &[]);
    sender.send_to(&request, h.pxe_addr()).unwrap();
    nothing_arrives(&sender);
    let events = h.wait_events(3);
    assert!(
        matches!(
            &events[2],
            DhcpEvent::Silent {
                kind: RequestKind::Discover,
                port: Port::Pxe,
                ..
            }
        ),
        "{events:?}"
    );
}

#[test]
fn no_offer_means_no_answer_and_an_event() {
    let h = Harness::start();
    let request = pxe_request(1, UNKNOWN_MAC, 7, Ipv4Addr::UNSPECIFIED, &[]);
    h.client.send_to(&request, h.dhcp_addr()).unwrap();
    nothing_arrives(&h.client);
    let events = h.wait_events(1);
    assert!(
        matches!(&events[..], [DhcpEvent::Silent { mac, kind: RequestKind::Discover, port: Port::Dhcp, .. }] if *mac == UNKNOWN_MAC),
        "{events:?}"
    );
    assert!(
        events[0].to_string().contains("52:54:00:ff:ff:ff"),
        "{}",
        events[0]
    );
}

#[test]
fn non_pxe_discover_is_ignored() {
    let h = Harness::start();
    let mut m = pxe_request(1, UEFI_MAC, 7, Ipv4Addr::UNSPECIFIED, &[]);
    // Turn the class into a Windows client's.
    m.truncate(240);
    m.extend(option(53, &[1]));
    m.extend(option(60, b"MSFT 5.0"));
    m.push(255);
    h.client.send_to(&m, h.dhcp_addr()).unwrap();
    nothing_arrives(&h.client);
    assert!(h.seen.lock().unwrap().is_empty());
    assert!(h.events.lock().unwrap().is_empty());
}

#[test]
fn garbage_is_reported_and_the_server_keeps_answering() {
    let h = Harness::start();
    h.client.send_to(b"\x01garbage", h.dhcp_addr()).unwrap();
    let mut truncated = pxe_request(1, UEFI_MAC, 7, Ipv4Addr::UNSPECIFIED, &[]);
    truncated.truncate(truncated.len() - 4);
    h.client.send_to(&truncated, h.dhcp_addr()).unwrap();
    let events = h.wait_events(2);
    assert!(
        matches!(&events[..], [DhcpEvent::Malformed { port: Port::Dhcp, .. }, DhcpEvent::Malformed { error, .. }] if error.contains("option 60")),
        "{events:?}"
    );
    nothing_arrives(&h.client);

    let request = pxe_request(1, UEFI_MAC, 7, Ipv4Addr::UNSPECIFIED, &[]);
    h.client.send_to(&request, h.dhcp_addr()).unwrap();
    let (m, _) = receive(&h.client);
    assert_eq!(m.opts().msg_type(), Some(MessageType::Offer));
}

#[test]
fn an_invalid_offer_is_reported_not_sent() {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let events: Arc<Mutex<Vec<DhcpEvent>>> = Arc::default();
    let sink = Arc::clone(&events);
    let server = ProxyDhcp::start(
        ProxyDhcpConfig::loopback(client.local_addr().unwrap().port()),
        Box::new(|_, _, _| {
            Some(BootOffer {
                boot_file: "x".repeat(128),
                tftp_server: Ipv4Addr::LOCALHOST,
                boot_store: None,
            })
        }),
        Some(Box::new(move |event| sink.lock().unwrap().push(event))),
    )
    .unwrap();
    let request = pxe_request(1, UEFI_MAC, 7, Ipv4Addr::UNSPECIFIED, &[]);
    client
        .send_to(&request, ("127.0.0.1", server.dhcp_port()))
        .unwrap();
    nothing_arrives(&client);
    let events = events.lock().unwrap().clone();
    assert!(
        matches!(&events[..], [DhcpEvent::Failed { reason, .. }] if reason.contains("PXE boot file")),
        "{events:?}"
    );
    server.stop();
}

#[test]
fn stop_returns_promptly() {
    let mut h = Harness::start();
    let dhcp = h.dhcp_addr();
    let started = Instant::now();
    h.server.take().unwrap().stop();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "stop took {took:?}");
    // The ports are free again: nothing answers there.
    let request = pxe_request(1, UEFI_MAC, 7, Ipv4Addr::UNSPECIFIED, &[]);
    h.client.send_to(&request, dhcp).unwrap();
    nothing_arrives(&h.client);
}

#[test]
fn an_unspecified_server_ip_is_refused() {
    let e =
        ProxyDhcp::start(ProxyDhcpConfig::default(), Box::new(|_, _, _| None), None).unwrap_err();
    assert_eq!(e.kind(), dart_core::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("server_ip"), "{e}");
}

/// The fuzz seeds are what their names say (the fuzz corpus test only
/// checks that they do not panic).
#[test]
fn fuzz_seeds_parse_as_named() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/dhcp_packet");
    let parse = |name: &str| PxeRequest::parse(&std::fs::read(dir.join(name)).unwrap());
    let ovmf = parse("ovmf-discover").unwrap().unwrap();
    assert_eq!(
        (ovmf.kind, ovmf.client_arch, ovmf.vendor_class.as_str()),
        (
            RequestKind::Discover,
            Some(7),
            "PXEClient:Arch:00007:UNDI:003000"
        )
    );
    assert_eq!(
        parse("bios-discover").unwrap().unwrap().client_arch,
        Some(0)
    );
    let request = parse("ovmf-request-4011").unwrap().unwrap();
    assert_eq!(request.client_ip(), Some(Ipv4Addr::new(10, 0, 2, 15)));
    let request = parse("request-to-dhcp-server").unwrap().unwrap();
    assert_eq!(request.client_ip(), Some(Ipv4Addr::new(10, 0, 2, 15)));
    assert!(parse("bootserver-request-item")
        .unwrap()
        .unwrap()
        .boot_item
        .is_some());
    assert_eq!(
        parse("ipxe-discover").unwrap().unwrap().architecture(),
        Some(0)
    );
    assert_eq!(
        parse("split-class-overload")
            .unwrap()
            .unwrap()
            .architecture(),
        Some(9)
    );
    assert_eq!(parse("windows-discover").unwrap(), None);
    assert!(parse("truncated-junk").is_err());
    assert!(parse("bad-nic-length").is_err());
}
