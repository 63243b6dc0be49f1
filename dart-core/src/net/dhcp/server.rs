//! The proxy-DHCP server: one thread on the DHCP port, one on the PXE port.
//!
//! [`ProxyDhcp::start`] binds both sockets and returns a handle; the server
//! runs until [`ProxyDhcp::stop`] is called or the handle is dropped. What
//! it does with each datagram:
//!
//! - bytes that are not a DHCP message: a [`DhcpEvent::Malformed`], no
//!   answer;
//! - a DHCP message that is not a PXE client's request (see
//!   [`PxeRequest::parse`]): ignored silently, as a proxy on a busy LAN must;
//! - a PXE client's request: shown to the [`Decide`] callback, whatever the
//!   port and type; answered only when it is a DHCPDISCOVER on the DHCP port
//!   or a DHCPREQUEST or DHCPINFORM on the PXE port and the callback gave a
//!   [`BootOffer`] ([`DhcpEvent::Offered`]); otherwise a
//!   [`DhcpEvent::Silent`] says why not.
//!
//! The reply's contents and destination are described in the
//! [module documentation](super).
//!
//! Sockets: the DHCP port's socket has `SO_REUSEADDR` and `SO_REUSEPORT`, so
//! that it binds next to a DHCP server on the same host (a broadcast
//! reaches every socket bound to the port), and both sockets have
//! `SO_BROADCAST` and, when [`ProxyDhcpConfig::interface`] is set,
//! `SO_BINDTODEVICE`. Ports below 1024 need root or `CAP_NET_BIND_SERVICE`.
//!
//! Known limits: without `interface`, a broadcast reply leaves by the
//! interface the kernel routes 255.255.255.255 to, so on a host with several
//! interfaces set `interface` to the client network's. If the DHCP server
//! on the same host also sets `SO_REUSEPORT`, the kernel spreads unicast
//! datagrams to port 67 (lease renewals) over both sockets; this server
//! ignores those it gets, so such a DHCP server misses some renewals (most
//! DHCP servers, dnsmasq and ISC dhcpd among them, do not set it).

use std::fmt;
use std::io;
use std::mem;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::packet::{build_reply, BootOffer, PxeRequest, RequestKind, SERVER_PORT};
use crate::error::{Error, Result};
use crate::net::mac::MacAddr;

/// How often the socket threads look at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// Longest interface name Linux accepts (`IFNAMSIZ` less the NUL).
const MAX_INTERFACE_NAME: usize = 15;

/// Which socket a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Port {
    /// The DHCP server port ([`ProxyDhcpConfig::dhcp_port`], 67).
    Dhcp,
    /// The PXE boot-server port ([`ProxyDhcpConfig::pxe_port`], 4011).
    Pxe,
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Port::Dhcp => "the DHCP port",
            Port::Pxe => "the PXE port",
        })
    }
}

/// The caller's choice for each PXE request: called for every PXE client's
/// request parsed on either port, with the port and the datagram's source
/// address (which, unlike anything inside the packet, the sender cannot
/// choose freely on a switched network without also spoofing its IP);
/// returns the offer to make, or `None` to stay silent. Called from the
/// server's threads; it should return quickly. Its answer is only used for
/// the requests the server answers (see [`ProxyDhcp`]).
pub type Decide = Box<dyn Fn(&PxeRequest, Port, SocketAddr) -> Option<BootOffer> + Send + Sync>;

/// The event callback.
type EventSink = Box<dyn Fn(DhcpEvent) + Send + Sync>;

/// Settings of a [`ProxyDhcp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyDhcpConfig {
    /// This server's address on the client network: option 54 of every
    /// reply, and where UEFI clients send their port-4011 request. Must be
    /// set: the default 0.0.0.0 is refused by [`ProxyDhcp::start`].
    pub server_ip: Ipv4Addr,
    /// Address both sockets bind to. 0.0.0.0 (the default) is needed to
    /// receive broadcasts.
    pub bind_ip: Ipv4Addr,
    /// Network interface to serve (`SO_BINDTODEVICE`), e.g. `br0`; `None`
    /// serves all.
    pub interface: Option<String>,
    /// The DHCP server port, 67; 0 picks a free port (for tests).
    pub dhcp_port: u16,
    /// The PXE boot-server port, 4011; 0 picks a free port (for tests).
    pub pxe_port: u16,
    /// The port broadcast replies go to: the DHCP client port, 68.
    pub client_port: u16,
    /// Where replies to clients without an address go: 255.255.255.255
    /// (tests on loopback use 127.0.0.1).
    pub broadcast_to: Ipv4Addr,
}

impl Default for ProxyDhcpConfig {
    /// No server address (it must be set), all interfaces, ports 67, 4011
    /// and 68, broadcast to 255.255.255.255.
    fn default() -> Self {
        ProxyDhcpConfig {
            server_ip: Ipv4Addr::UNSPECIFIED,
            bind_ip: Ipv4Addr::UNSPECIFIED,
            interface: None,
            dhcp_port: SERVER_PORT,
            pxe_port: super::packet::PXE_PORT,
            client_port: super::packet::CLIENT_PORT,
            broadcast_to: Ipv4Addr::BROADCAST,
        }
    }
}

impl ProxyDhcpConfig {
    /// A responder on 127.0.0.1 with ports the system picks, replying to
    /// `client_port` on 127.0.0.1 instead of broadcasting: for tests and
    /// trials on one host.
    ///
    /// ```
    /// use dart_core::net::dhcp::ProxyDhcpConfig;
    /// let config = ProxyDhcpConfig::loopback(6800);
    /// assert_eq!((config.dhcp_port, config.client_port), (0, 6800));
    /// ```
    pub fn loopback(client_port: u16) -> ProxyDhcpConfig {
        ProxyDhcpConfig {
            server_ip: Ipv4Addr::LOCALHOST,
            bind_ip: Ipv4Addr::LOCALHOST,
            interface: None,
            dhcp_port: 0,
            pxe_port: 0,
            client_port,
            broadcast_to: Ipv4Addr::LOCALHOST,
        }
    }
}

/// What happened to a datagram, for logging; passed to the callback given to
/// [`ProxyDhcp::start`], from the server's threads. `Display` gives one log
/// line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DhcpEvent {
    /// A reply was sent.
    Offered {
        /// The client's MAC address.
        mac: [u8; 6],
        /// What the client sent.
        kind: RequestKind,
        /// The client's architecture (option 93 or its class), if known.
        arch: Option<u16>,
        /// Where the request came in.
        port: Port,
        /// The boot file offered.
        boot_file: String,
        /// The TFTP server offered.
        tftp_server: Ipv4Addr,
        /// Where the reply was sent.
        to: SocketAddr,
    },
    /// A PXE client's request was not answered.
    Silent {
        /// The client's MAC address.
        mac: [u8; 6],
        /// What the client sent.
        kind: RequestKind,
        /// Where the request came in.
        port: Port,
        /// Why, in one sentence.
        reason: String,
    },
    /// A datagram that is not a DHCP message.
    Malformed {
        /// Its source.
        from: SocketAddr,
        /// Where it came in.
        port: Port,
        /// What is wrong with it.
        error: String,
    },
    /// A reply was due but could not be made or sent: the offer was
    /// invalid (for example a boot file name over 127 bytes), the callback
    /// panicked, or sending failed.
    Failed {
        /// The client's MAC address.
        mac: [u8; 6],
        /// What the client sent.
        kind: RequestKind,
        /// Where the request came in.
        port: Port,
        /// Why, in one sentence.
        reason: String,
    },
}

impl fmt::Display for DhcpEvent {
    /// One log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DhcpEvent::Offered {
                mac,
                kind,
                arch,
                port,
                boot_file,
                tftp_server,
                to,
            } => {
                write!(f, "proxyDHCP {}: {kind} on {port}", MacAddr(*mac))?;
                if let Some(arch) = arch {
                    write!(f, " (arch {arch})")?;
                }
                write!(
                    f,
                    ": offered {boot_file:?} from TFTP server {tftp_server}, sent to {to}"
                )
            }
            DhcpEvent::Silent {
                mac,
                kind,
                port,
                reason,
            } => write!(
                f,
                "proxyDHCP {}: {kind} on {port} not answered: {reason}",
                MacAddr(*mac)
            ),
            DhcpEvent::Malformed { from, port, error } => {
                write!(f, "proxyDHCP {from}: malformed message on {port}: {error}")
            }
            DhcpEvent::Failed {
                mac,
                kind,
                port,
                reason,
            } => write!(
                f,
                "proxyDHCP {}: reply to {kind} on {port} failed: {reason}",
                MacAddr(*mac)
            ),
        }
    }
}

/// State shared by the socket threads.
struct Shared {
    config: ProxyDhcpConfig,
    decide: Decide,
    events: Option<EventSink>,
    stop: AtomicBool,
}

impl Shared {
    fn emit(&self, event: DhcpEvent) {
        if let Some(sink) = &self.events {
            sink(event);
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

/// A running proxy-DHCP server; stops when [`stop`](ProxyDhcp::stop)ped or
/// dropped.
pub struct ProxyDhcp {
    dhcp_port: u16,
    pxe_port: u16,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl fmt::Debug for ProxyDhcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyDhcp")
            .field("server_ip", &self.shared.config.server_ip)
            .field("dhcp_port", &self.dhcp_port)
            .field("pxe_port", &self.pxe_port)
            .finish()
    }
}

impl ProxyDhcp {
    /// Checks `config`, binds the DHCP and PXE sockets and starts serving,
    /// one thread per socket; returns at once. `decide` chooses the offer
    /// for each request (see [`Decide`]); `events`, if given, is called for
    /// each [`DhcpEvent`]. Both are called from the server's threads and
    /// should return quickly; a panic in either is contained (the request
    /// goes unanswered) and the server keeps running.
    ///
    /// Fails with [`Error::InvalidSetting`] for a setting out of range (an
    /// unspecified `server_ip` among them) and [`Error::Io`] naming the
    /// address if a socket cannot be set up or bound.
    ///
    /// ```no_run
    /// use dart_core::net::dhcp::{BootOffer, ProxyDhcp, ProxyDhcpConfig};
    ///
    /// let server_ip = "192.168.50.1".parse().unwrap();
    /// let config = ProxyDhcpConfig {
    ///     server_ip,
    ///     interface: Some("br0".into()),
    ///     ..ProxyDhcpConfig::default()
    /// };
    /// let decide = Box::new(move |request: &dart_core::net::dhcp::PxeRequest, _port, _from| {
    ///     let file = if request.is_uefi() { "boot/x64/bootx64.efi" } else { "boot/pxeboot.n12" };
    ///     Some(BootOffer { boot_file: file.into(), tftp_server: server_ip, boot_store: None })
    /// });
    /// let server = ProxyDhcp::start(config, decide, Some(Box::new(|event| eprintln!("{event}"))))?;
    /// // ... until the boot server shuts down:
    /// server.stop();
    /// # Ok::<(), dart_core::Error>(())
    /// ```
    pub fn start(
        config: ProxyDhcpConfig,
        decide: Decide,
        events: Option<Box<dyn Fn(DhcpEvent) + Send + Sync>>,
    ) -> Result<ProxyDhcp> {
        check(&config)?;
        let interface = config.interface.as_deref();
        let (dhcp_socket, dhcp_port) = open_socket(config.bind_ip, config.dhcp_port, interface)?;
        let (pxe_socket, pxe_port) = open_socket(config.bind_ip, config.pxe_port, interface)?;
        let shared = Arc::new(Shared {
            config,
            decide,
            events,
            stop: AtomicBool::new(false),
        });
        let mut server = ProxyDhcp {
            dhcp_port,
            pxe_port,
            shared,
            threads: Vec::new(),
        };
        for (socket, port, number) in [
            (dhcp_socket, Port::Dhcp, dhcp_port),
            (pxe_socket, Port::Pxe, pxe_port),
        ] {
            let shared = Arc::clone(&server.shared);
            let thread = thread::Builder::new()
                .name(format!("proxy-dhcp {number}"))
                .spawn(move || serve(&socket, port, &shared))
                .map_err(|e| Error::Io {
                    action: "starting the proxy-DHCP thread for port",
                    path: PathBuf::from(number.to_string()),
                    source: e,
                    untouched: "no server was started",
                })?;
            // On an error above, dropping `server` stops the started thread.
            server.threads.push(thread);
        }
        Ok(server)
    }

    /// The DHCP port the server listens on (the one the system chose when
    /// the configured port was 0).
    pub fn dhcp_port(&self) -> u16 {
        self.dhcp_port
    }

    /// The PXE port the server listens on (the one the system chose when the
    /// configured port was 0).
    pub fn pxe_port(&self) -> u16 {
        self.pxe_port
    }

    /// The settings the server runs with.
    pub fn config(&self) -> &ProxyDhcpConfig {
        &self.shared.config
    }

    /// Stops the server: no more datagrams are read. Returns when both
    /// threads have ended (within a few tenths of a second, or once a
    /// callback running now returns). Dropping the handle does the same.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for thread in self.threads.drain(..) {
            // A panic outside the contained callbacks has been reported on
            // stderr already; there is nothing more to do with it here.
            let _ = thread.join();
        }
    }
}

impl Drop for ProxyDhcp {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Checks the settings before anything is bound.
fn check(config: &ProxyDhcpConfig) -> Result<()> {
    let ip = config.server_ip;
    if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
        return Err(Error::invalid(
            "proxy-DHCP server_ip",
            ip,
            "give this server's unicast address on the client network: it is option 54 of every reply and where UEFI clients send their port-4011 request",
        ));
    }
    if config.broadcast_to.is_unspecified() {
        return Err(Error::invalid(
            "proxy-DHCP broadcast_to",
            config.broadcast_to,
            "give 255.255.255.255 (or a loopback address in tests)",
        ));
    }
    if config.client_port == 0 {
        return Err(Error::invalid(
            "proxy-DHCP client_port",
            0,
            "give the DHCP client port, 68",
        ));
    }
    if config.dhcp_port != 0 && config.dhcp_port == config.pxe_port {
        return Err(Error::invalid(
            "proxy-DHCP pxe_port",
            config.pxe_port,
            "it must differ from dhcp_port (67 and 4011 are the standard ports)",
        ));
    }
    if let Some(name) = &config.interface {
        if name.is_empty() || name.len() > MAX_INTERFACE_NAME || name.contains(['\0', '/']) {
            return Err(Error::invalid(
                "proxy-DHCP interface",
                name,
                "give a network interface name of 1 to 15 bytes, such as br0",
            ));
        }
    }
    Ok(())
}

/// Binds one UDP socket with the options a DHCP server needs, set before
/// `bind` (which `std` cannot do); returns it with its bound port, with the
/// read timeout the thread polls the stop flag with.
fn open_socket(ip: Ipv4Addr, port: u16, interface: Option<&str>) -> Result<(UdpSocket, u16)> {
    let address = SocketAddrV4::new(ip, port);
    let error = |action, source| Error::Io {
        action,
        path: PathBuf::from(address.to_string()),
        source,
        untouched: "no server was started",
    };
    // SAFETY: socket() takes plain integers; its result is checked below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(error(
            "creating the proxy-DHCP socket for",
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: `fd` is a new, valid descriptor that nothing else owns; the
    // OwnedFd closes it on every path from here.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    for (name, option) in [
        ("SO_REUSEADDR", libc::SO_REUSEADDR),
        ("SO_REUSEPORT", libc::SO_REUSEPORT),
        ("SO_BROADCAST", libc::SO_BROADCAST),
    ] {
        let one: libc::c_int = 1;
        // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live
        // c_int on the stack; the descriptor is valid.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&one as *const libc::c_int).cast(),
                socklen(mem::size_of::<libc::c_int>()),
            )
        };
        if rc != 0 {
            let source = io::Error::last_os_error();
            return Err(error(
                match name {
                    "SO_REUSEADDR" => "setting SO_REUSEADDR on the proxy-DHCP socket for",
                    "SO_REUSEPORT" => "setting SO_REUSEPORT on the proxy-DHCP socket for",
                    _ => "setting SO_BROADCAST on the proxy-DHCP socket for",
                },
                source,
            ));
        }
    }
    if let Some(name) = interface {
        // SAFETY: setsockopt reads `name.len()` bytes from the live string;
        // the kernel takes the length as given (no NUL needed, and `check`
        // refused names with one).
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_BINDTODEVICE,
                name.as_ptr().cast(),
                socklen(name.len()),
            )
        };
        if rc != 0 {
            return Err(error(
                "binding the proxy-DHCP socket to its interface (SO_BINDTODEVICE) for",
                io::Error::last_os_error(),
            ));
        }
    }
    let sockaddr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: bind reads a sockaddr_in of the size given from a live local;
    // the descriptor is valid.
    let rc = unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (&sockaddr as *const libc::sockaddr_in).cast(),
            socklen(mem::size_of::<libc::sockaddr_in>()),
        )
    };
    if rc != 0 {
        return Err(error(
            "binding the proxy-DHCP socket to",
            io::Error::last_os_error(),
        ));
    }
    let socket = UdpSocket::from(socket);
    crate::net::udp::enlarge_receive_buffer(&socket, crate::net::udp::RECEIVE_BUFFER);
    socket
        .set_read_timeout(Some(POLL))
        .map_err(|e| error("setting a read timeout on the proxy-DHCP socket for", e))?;
    let bound = socket
        .local_addr()
        .map_err(|e| error("reading the local address of the proxy-DHCP socket for", e))?;
    Ok((socket, bound.port()))
}

/// A length as `socklen_t`; the lengths here are a few bytes.
fn socklen(len: usize) -> libc::socklen_t {
    libc::socklen_t::try_from(len).unwrap_or(libc::socklen_t::MAX)
}

/// One socket thread: reads datagrams until the server stops.
fn serve(socket: &UdpSocket, port: Port, shared: &Shared) {
    // Large enough for any UDP payload, so no datagram is cut short.
    let mut buf = vec![0u8; 65536];
    while !shared.stopping() {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let datagram = buf.get(..n).unwrap_or_default();
                // A panic in the event callback (or a bug here) loses this
                // datagram, not the server.
                let _ = panic::catch_unwind(AssertUnwindSafe(|| {
                    answer(socket, port, datagram, from, shared);
                }));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            // Nothing to do about other receive errors (an ICMP error for an
            // earlier reply, a transient lack of buffers) but not to spin on
            // them.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Handles one datagram.
fn answer(socket: &UdpSocket, port: Port, bytes: &[u8], from: SocketAddr, shared: &Shared) {
    let request = match PxeRequest::parse(bytes) {
        Ok(Some(request)) => request,
        Ok(None) => return,
        Err(e) => {
            shared.emit(DhcpEvent::Malformed {
                from,
                port,
                error: e.to_string(),
            });
            return;
        }
    };
    let silent = |reason: String| {
        shared.emit(DhcpEvent::Silent {
            mac: request.mac,
            kind: request.kind,
            port,
            reason,
        })
    };
    let failed = |reason: String| {
        shared.emit(DhcpEvent::Failed {
            mac: request.mac,
            kind: request.kind,
            port,
            reason,
        })
    };

    let offer =
        match panic::catch_unwind(AssertUnwindSafe(|| (shared.decide)(&request, port, from))) {
            Ok(offer) => offer,
            Err(_) => {
                failed("the decide callback panicked".to_owned());
                return;
            }
        };
    match (request.kind, port) {
        (RequestKind::Discover, Port::Dhcp)
        | (RequestKind::Request | RequestKind::Inform, Port::Pxe) => {}
        (RequestKind::Request, Port::Dhcp) => {
            let target = match request.client_ip() {
                Some(ip) => format!(" for {ip}"),
                None => String::new(),
            };
            silent(format!(
                "the request{target} is for the DHCP server; a proxy only answers it on the PXE port"
            ));
            return;
        }
        (kind, port) => {
            silent(format!("a proxy does not answer a {kind} on {port}"));
            return;
        }
    }
    let Some(offer) = offer else {
        silent("no boot offer for this client (the decide callback returned none)".to_owned());
        return;
    };
    let reply = match build_reply(&request, &offer, shared.config.server_ip) {
        Ok(reply) => reply,
        Err(e) => {
            failed(e.to_string());
            return;
        }
    };
    let to = destination(&request, port, from, &shared.config);
    match socket.send_to(&reply, to) {
        Ok(_) => shared.emit(DhcpEvent::Offered {
            mac: request.mac,
            kind: request.kind,
            arch: request.architecture(),
            port,
            boot_file: offer.boot_file,
            tftp_server: offer.tftp_server,
            to,
        }),
        Err(e) => failed(format!("sending the reply to {to} failed: {e}")),
    }
}

/// Where the reply to `request`, received on `port` from `from`, goes.
fn destination(
    request: &PxeRequest,
    port: Port,
    from: SocketAddr,
    config: &ProxyDhcpConfig,
) -> SocketAddr {
    match port {
        Port::Pxe => match from {
            // A client without an address cannot take unicast.
            SocketAddr::V4(v4) if v4.ip().is_unspecified() => {
                SocketAddr::from((config.broadcast_to, v4.port()))
            }
            _ => from,
        },
        Port::Dhcp => {
            if !request.giaddr.is_unspecified() {
                // Relay agents listen on the server port.
                SocketAddr::from((request.giaddr, SERVER_PORT))
            } else if !request.ciaddr.is_unspecified() {
                SocketAddr::from((request.ciaddr, config.client_port))
            } else {
                SocketAddr::from((config.broadcast_to, config.client_port))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> PxeRequest {
        PxeRequest {
            kind: RequestKind::Discover,
            xid: 1,
            mac: [0xaa, 0xbb, 0xcc, 0x0d, 0x0e, 0xff],
            client_arch: Some(7),
            vendor_class: "PXEClient:Arch:00007:UNDI:003000".into(),
            uuid: None,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            requested_ip: None,
            server_id: None,
            broadcast: true,
            giaddr: Ipv4Addr::UNSPECIFIED,
            network_interface: None,
            boot_item: None,
            user_class: None,
        }
    }

    #[test]
    fn replies_go_where_the_client_can_hear_them() {
        let config = ProxyDhcpConfig {
            server_ip: Ipv4Addr::new(10, 0, 0, 1),
            ..ProxyDhcpConfig::default()
        };
        let from: SocketAddr = "0.0.0.0:68".parse().unwrap();
        let r = request();
        assert_eq!(
            destination(&r, Port::Dhcp, from, &config),
            "255.255.255.255:68".parse().unwrap()
        );
        let with_ip = PxeRequest {
            ciaddr: Ipv4Addr::new(10, 0, 0, 9),
            ..r.clone()
        };
        assert_eq!(
            destination(&with_ip, Port::Dhcp, from, &config),
            "10.0.0.9:68".parse().unwrap()
        );
        let relayed = PxeRequest {
            giaddr: Ipv4Addr::new(10, 1, 0, 1),
            ..with_ip.clone()
        };
        assert_eq!(
            destination(&relayed, Port::Dhcp, from, &config),
            "10.1.0.1:67".parse().unwrap()
        );
        let pxe_from: SocketAddr = "10.0.0.9:4011".parse().unwrap();
        assert_eq!(
            destination(&relayed, Port::Pxe, pxe_from, &config),
            pxe_from
        );
        assert_eq!(
            destination(&r, Port::Pxe, "0.0.0.0:4011".parse().unwrap(), &config),
            "255.255.255.255:4011".parse().unwrap()
        );
    }

    #[test]
    fn events_read_as_log_lines() {
        let e = DhcpEvent::Offered {
            mac: [0xaa, 0xbb, 0xcc, 0x0d, 0x0e, 0xff],
            kind: RequestKind::Discover,
            arch: Some(7),
            port: Port::Dhcp,
            boot_file: "boot/x64/wdsmgfw.efi".into(),
            tftp_server: Ipv4Addr::new(10, 0, 0, 1),
            to: "255.255.255.255:68".parse().unwrap(),
        };
        assert_eq!(
            e.to_string(),
            "proxyDHCP aa:bb:cc:0d:0e:ff: DHCPDISCOVER on the DHCP port (arch 7): offered \"boot/x64/wdsmgfw.efi\" from TFTP server 10.0.0.1, sent to 255.255.255.255:68"
        );
        let e = DhcpEvent::Malformed {
            from: "10.0.0.9:68".parse().unwrap(),
            port: Port::Pxe,
            error: "bad".into(),
        };
        assert_eq!(
            e.to_string(),
            "proxyDHCP 10.0.0.9:68: malformed message on the PXE port: bad"
        );
        let e = DhcpEvent::Silent {
            mac: [1, 2, 3, 4, 5, 6],
            kind: RequestKind::Request,
            port: Port::Dhcp,
            reason: "why".into(),
        };
        assert_eq!(
            e.to_string(),
            "proxyDHCP 01:02:03:04:05:06: DHCPREQUEST on the DHCP port not answered: why"
        );
    }

    #[test]
    fn bad_settings_are_refused_before_binding() {
        let ok = ProxyDhcpConfig {
            server_ip: Ipv4Addr::LOCALHOST,
            bind_ip: Ipv4Addr::LOCALHOST,
            dhcp_port: 0,
            pxe_port: 0,
            ..ProxyDhcpConfig::default()
        };
        for (config, field) in [
            (ProxyDhcpConfig::default(), "server_ip"),
            (
                ProxyDhcpConfig {
                    server_ip: Ipv4Addr::BROADCAST,
                    ..ok.clone()
                },
                "server_ip",
            ),
            (
                ProxyDhcpConfig {
                    client_port: 0,
                    ..ok.clone()
                },
                "client_port",
            ),
            (
                ProxyDhcpConfig {
                    dhcp_port: 4011,
                    pxe_port: 4011,
                    ..ok.clone()
                },
                "pxe_port",
            ),
            (
                ProxyDhcpConfig {
                    interface: Some("a-name-far-too-long".into()),
                    ..ok.clone()
                },
                "interface",
            ),
            (
                ProxyDhcpConfig {
                    broadcast_to: Ipv4Addr::UNSPECIFIED,
                    ..ok.clone()
                },
                "broadcast_to",
            ),
        ] {
            let Err(e) = ProxyDhcp::start(config, Box::new(|_, _, _| None), None) else {
                panic!("{field} accepted")
            };
            assert!(matches!(e, Error::InvalidSetting { .. }), "{e}");
            assert!(e.to_string().contains(field), "{e}");
        }
        let server = ProxyDhcp::start(ok, Box::new(|_, _, _| None), None).unwrap();
        assert_ne!(server.dhcp_port(), 0);
        assert_ne!(server.pxe_port(), 0);
        assert_ne!(server.dhcp_port(), server.pxe_port());
        server.stop();
    }

    #[test]
    fn a_missing_interface_is_an_io_error() {
        let config = ProxyDhcpConfig {
            server_ip: Ipv4Addr::LOCALHOST,
            bind_ip: Ipv4Addr::LOCALHOST,
            dhcp_port: 0,
            pxe_port: 0,
            interface: Some("dartnoif0".into()),
            ..ProxyDhcpConfig::default()
        };
        let Err(e) = ProxyDhcp::start(config, Box::new(|_, _, _| None), None) else {
            panic!("a missing interface was accepted")
        };
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert!(e.to_string().contains("SO_BINDTODEVICE"), "{e}");
    }
}
