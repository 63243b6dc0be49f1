//! A private network for proving PXE boots: two network namespaces of the
//! lab's own, a DHCP server that hands out addresses only, and a tap
//! device for a QEMU machine.
//!
//! ```text
//!   namespace "lan"                          namespace "dhcp"
//!   br0 10.77.0.1/24 ── veth ──────────────── veth 10.77.0.2/24
//!    └─ tap0 (QEMU)                           dnsmasq: addresses only,
//!   boot server threads (via run_in)          10.77.0.100-199
//! ```
//!
//! The boot server under test runs in the "lan" namespace ([`PxeLab::run_in`]
//! moves a thread there; threads it starts stay there), so it answers on
//! port 67, 4011 and 69 of `br0` while the DHCP server is another host as
//! far as the network is concerned, as in a real site. Nothing outside the
//! two namespaces is touched; dropping the lab stops dnsmasq and deletes
//! them. Needs root, `ip` (iproute2) and `dnsmasq` (dnsmasq-base).
//!
//! Used by the tests and the demo.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::qemu::{boot_network, boot_pxe, BootCheck, Firmware, NetClient};
use dart_core::net::dhcp::ProxyDhcpConfig;
use dart_core::net::tftp::{Mode, Options, Packet, Request, TftpConfig};
use dart_core::net::{AccessPolicy, BootServerConfig};

/// The boot server's address on the lab network.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// The bridge the boot server listens on.
pub const BRIDGE: &str = "br0";
/// The bridge's MAC address (fixed, so that a peer can pin it).
pub const BRIDGE_MAC: &str = "02:77:00:00:00:01";
/// The peer's interface in the "dhcp" namespace.
const PEER_LINK: &str = "v-dhcp";
const TAP: &str = "tap0";

/// Lab instances made by this process, for unique namespace names.
static COUNT: AtomicU32 = AtomicU32::new(0);

/// A running lab; torn down when dropped.
#[derive(Debug)]
pub struct PxeLab {
    lan: String,
    dhcp: String,
    dnsmasq: Option<Child>,
    _leases: tempfile::TempDir,
}

/// Why a lab cannot run here, if it cannot: not root, or a missing tool.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("network namespaces need root".into());
    }
    for (tool, package) in [
        ("ip", "iproute2"),
        ("dnsmasq", "dnsmasq-base"),
        ("qemu-system-x86_64", "qemu-system-x86"),
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(format!("{tool} is not installed (apt: {package})"));
        }
    }
    if !std::path::Path::new(crate::qemu::OVMF_CODE).is_file() {
        return Some("OVMF is not installed (apt: ovmf)".into());
    }
    None
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| Error::Io {
            action: "running",
            path: PathBuf::from("ip (apt: iproute2)"),
            source: e,
            untouched: "the lab network was not made",
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Io {
            action: "setting up the lab network with",
            path: PathBuf::from(format!("ip {}", args.join(" "))),
            source: std::io::Error::other(String::from_utf8_lossy(&out.stderr).trim().to_string()),
            untouched: "the lab's namespaces are removed",
        })
    }
}

impl PxeLab {
    /// Makes the namespaces, the bridge, the tap and the link, and starts
    /// dnsmasq as the site's DHCP server (addresses only: no boot file, no
    /// TFTP, no DNS).
    pub fn create() -> Result<PxeLab> {
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{n}", std::process::id());
        let leases = tempfile::tempdir().map_err(|e| Error::write(&std::env::temp_dir(), e))?;
        let mut lab = PxeLab {
            lan: format!("dart-lan-{id}"),
            dhcp: format!("dart-dhcp-{id}"),
            dnsmasq: None,
            _leases: leases,
        };
        // On error, Drop removes whatever was made.
        let (lan, dhcp) = (lab.lan.clone(), lab.dhcp.clone());
        let server = format!("{SERVER_IP}/24");
        ip(&["netns", "add", &lan])?;
        ip(&["netns", "add", &dhcp])?;
        for args in [
            vec!["-n", &lan, "link", "set", "lo", "up"],
            vec!["-n", &lan, "link", "add", BRIDGE, "type", "bridge"],
            vec!["-n", &lan, "link", "set", BRIDGE, "address", BRIDGE_MAC],
            vec!["-n", &lan, "addr", "add", &server, "dev", BRIDGE],
            vec!["-n", &lan, "link", "set", BRIDGE, "up"],
            vec!["-n", &lan, "tuntap", "add", TAP, "mode", "tap"],
            vec!["-n", &lan, "link", "set", TAP, "master", BRIDGE, "up"],
            vec![
                "-n", &lan, "link", "add", "v-lan", "type", "veth", "peer", "name", "v-dhcp",
                "netns", &dhcp,
            ],
            vec!["-n", &lan, "link", "set", "v-lan", "master", BRIDGE, "up"],
            vec!["-n", &dhcp, "link", "set", "lo", "up"],
            vec!["-n", &dhcp, "addr", "add", "10.77.0.2/24", "dev", "v-dhcp"],
            vec!["-n", &dhcp, "link", "set", "v-dhcp", "up"],
        ] {
            ip(&args)?;
        }
        let lease_file = lab._leases.path().join("leases");
        let child = Command::new("ip")
            .args(["netns", "exec", &dhcp, "dnsmasq", "--no-daemon", "--port=0"])
            .args(["--interface=v-dhcp", "--bind-interfaces", "--log-dhcp"])
            .arg("--dhcp-range=10.77.0.100,10.77.0.199,255.255.255.0,1h")
            .arg(format!("--dhcp-leasefile={}", lease_file.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::Io {
                action: "starting",
                path: PathBuf::from("dnsmasq (apt: dnsmasq-base)"),
                source: e,
                untouched: "the lab's namespaces are removed",
            })?;
        lab.dnsmasq = Some(child);
        // dnsmasq binds its socket within a few milliseconds.
        std::thread::sleep(Duration::from_millis(300));
        Ok(lab)
    }

    /// A boot server configuration for this lab: `root` and `policy`, TFTP
    /// on port 69 and proxy-DHCP on the bridge, at [`SERVER_IP`]. Start it
    /// with [`run_in`](Self::run_in).
    pub fn server_config(&self, root: &Path, policy: AccessPolicy) -> BootServerConfig {
        BootServerConfig {
            root: root.to_path_buf(),
            policy,
            tftp: TftpConfig {
                bind: SocketAddr::from(([0, 0, 0, 0], 69)),
                ..TftpConfig::default()
            },
            proxy_dhcp: Some(ProxyDhcpConfig {
                server_ip: SERVER_IP,
                interface: Some(BRIDGE.into()),
                ..ProxyDhcpConfig::default()
            }),
            http: None,
            boot_url: None,
        }
    }

    /// The namespace the boot server and the client share.
    pub fn lan(&self) -> &str {
        &self.lan
    }

    /// Runs `f` on a thread inside the "lan" namespace and returns its
    /// result; sockets it opens and threads it starts belong to that
    /// namespace for their whole life.
    pub fn run_in<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        run_in_namespace(&self.lan, f)
    }

    /// Runs `f` on a thread inside the "dhcp" namespace: another host on
    /// the lab network as far as the boot server is concerned (its own
    /// kernel, its own MAC address), for playing a client or an attacker.
    pub fn run_on_peer<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        run_in_namespace(&self.dhcp, f)
    }

    /// Gives the peer host another address on the lab network.
    pub fn add_peer_address(&self, address: Ipv4Addr) -> Result<()> {
        ip(&[
            "-n",
            &self.dhcp,
            "addr",
            "replace",
            &format!("{address}/24"),
            "dev",
            PEER_LINK,
        ])
    }

    /// Makes the peer know the boot server's MAC address without asking
    /// (a static neighbour entry), so that its packets reach the server
    /// without the ARP request that would tell the server's kernel who
    /// sent them: what a careful attacker does.
    pub fn pin_server_on_peer(&self) -> Result<()> {
        ip(&[
            "-n",
            &self.dhcp,
            "neigh",
            "replace",
            &SERVER_IP.to_string(),
            "lladdr",
            BRIDGE_MAC,
            "dev",
            PEER_LINK,
            "nud",
            "permanent",
        ])
    }

    /// Sends a TFTP read request for `file` to the boot server from the
    /// address `from` (added to the bridge first, as a client that got it at
    /// DHCP would use it) and returns the server's first reply: DATA 1 when
    /// the file is served, or the ERROR.
    pub fn ask_tftp_from(&self, from: Ipv4Addr, file: &str) -> Result<Packet> {
        ip(&[
            "-n",
            &self.lan,
            "addr",
            "replace",
            &format!("{from}/32"),
            "dev",
            BRIDGE,
        ])?;
        let request = Packet::Rrq(Request {
            filename: file.to_string(),
            mode: Mode::Octet,
            options: Options::default(),
        })
        .to_bytes();
        let io = |e: std::io::Error| Error::Io {
            action: "asking the boot server from",
            path: PathBuf::from(from.to_string()),
            source: e,
            untouched: "nothing was changed",
        };
        self.run_in(move || -> std::io::Result<Packet> {
            let socket = UdpSocket::bind((from, 0))?;
            socket.set_read_timeout(Some(Duration::from_secs(5)))?;
            socket.send_to(&request, (SERVER_IP, 69))?;
            let mut buf = [0u8; 2048];
            let (n, _) = socket.recv_from(&mut buf)?;
            Packet::parse(&buf[..n]).map_err(|e| std::io::Error::other(e.to_string()))
        })?
        .map_err(io)
    }

    /// Boots a diskless QEMU machine with MAC `mac` from the network, with
    /// OVMF (UEFI PXE) or SeaBIOS and iPXE (BIOS PXE), and waits up to
    /// `timeout` for the boot marker.
    pub fn boot(&self, mac: &str, firmware: Firmware, timeout: Duration) -> Result<BootCheck> {
        boot_pxe(&self.lan, TAP, mac, firmware, timeout)
    }

    /// Boots a diskless QEMU machine with MAC `mac` and the network boot
    /// client `client` (PXE, UEFI HTTP Boot, iPXE) and waits up to `timeout`
    /// for the boot marker.
    pub fn boot_with(&self, mac: &str, client: &NetClient, timeout: Duration) -> Result<BootCheck> {
        boot_network(&self.lan, TAP, mac, client, timeout)
    }
}

/// Runs `f` on a thread inside the network namespace `name` (a file under
/// `/run/netns`) and returns its result.
fn run_in_namespace<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    let path = PathBuf::from("/run/netns").join(name);
    let file = std::fs::File::open(&path).map_err(|e| Error::read(&path, e))?;
    let thread = std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        // SAFETY: setns on a namespace file this thread opened; it moves
        // only the calling thread into that network namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(f())
    });
    match thread.join() {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Error::Io {
            action: "entering the network namespace",
            path,
            source: e,
            untouched: "nothing was started",
        }),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

impl Drop for PxeLab {
    fn drop(&mut self) {
        if let Some(mut child) = self.dnsmasq.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.lan, &self.dhcp] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}
