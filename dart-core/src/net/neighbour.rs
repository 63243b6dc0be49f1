//! The kernel's neighbour table (ARP): which MAC address the kernel has
//! seen using an IPv4 address on a directly connected network.
//!
//! The boot server trusts it more than any packet: a DHCP packet can claim
//! any MAC address in its `chaddr` field, but the kernel learns a
//! neighbour's MAC from the frames it receives (ARP requests and replies)
//! on the wire. Clients behind a router have no entry.
//!
//! Read from `/proc/thread-self/net/arp`, the table of the network
//! namespace of the calling thread (the boot server's threads may live in
//! another namespace than the process, as in the PXE lab).

use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

use super::mac::MacAddr;

/// Where Linux shows the calling thread's IPv4 neighbour table.
const ARP_TABLE: &str = "/proc/thread-self/net/arp";

/// Where Linux shows the calling thread's IPv4 main routing table.
const ROUTES: &str = "/proc/thread-self/net/route";

/// `RTF_UP` and `RTF_GATEWAY` in the routing table's flags.
const ROUTE_UP: u32 = 0x1;
const ROUTE_GATEWAY: u32 = 0x2;

/// The discard port (RFC 863): where the probe that makes the kernel
/// resolve an address goes.
const DISCARD_PORT: u16 = 9;

/// How often [`resolve`] looks at the table while it waits.
const RESOLVE_POLL: Duration = Duration::from_millis(5);

/// `ATF_COM` in the table's flags: the entry is complete (the MAC is
/// known).
const COMPLETE: u32 = 0x2;

/// The MAC address the kernel has for `ip` on a directly connected network,
/// if it has a complete entry; `None` when it has none, or when the table
/// cannot be read (not Linux, no `/proc`).
pub fn lookup(ip: Ipv4Addr) -> Option<MacAddr> {
    let table = std::fs::read_to_string(ARP_TABLE).ok()?;
    find(&table, ip)
}

/// The MAC address behind `ip` when it is on a directly connected network:
/// the table's entry, or else the answer to a resolution the kernel is
/// made to start (an empty datagram to the discard port), awaited for at
/// most `wait`. `None` for addresses behind a router, and for on-link
/// addresses nobody answers for (an address a forged packet borrowed).
pub fn resolve(ip: Ipv4Addr, wait: Duration) -> Option<MacAddr> {
    if let Some(mac) = lookup(ip) {
        return Some(mac);
    }
    if !std::fs::read_to_string(ROUTES).is_ok_and(|routes| on_link(&routes, ip)) {
        return None;
    }
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    // The datagram itself does not matter; the resolution it needs does.
    socket.send_to(&[], (ip, DISCARD_PORT)).ok()?;
    let deadline = Instant::now() + wait;
    loop {
        if let Some(mac) = lookup(ip) {
            return Some(mac);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(RESOLVE_POLL);
    }
}

/// Whether the main routing table (the text of `/proc/net/route`) reaches
/// `ip` without a gateway, that is, on a directly connected network.
pub fn on_link(routes: &str, ip: Ipv4Addr) -> bool {
    let addr = |hex: &str| {
        u32::from_str_radix(hex, 16)
            .ok()
            .map(|v| u32::from_be_bytes(v.to_ne_bytes()))
    };
    routes.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(dest), Some(flags), Some(mask)) = (
            fields.get(1).and_then(|h| addr(h)),
            fields.get(3).and_then(|h| u32::from_str_radix(h, 16).ok()),
            fields.get(7).and_then(|h| addr(h)),
        ) else {
            return false;
        };
        flags & ROUTE_UP != 0
            && flags & ROUTE_GATEWAY == 0
            && mask != 0
            && u32::from(ip) & mask == dest
    })
}

/// The complete entry for `ip` in the text of `/proc/net/arp`:
///
/// ```text
/// IP address       HW type     Flags       HW address            Mask     Device
/// 10.77.0.145      0x1         0x2         52:54:00:00:00:0b     *        br0
/// ```
///
/// Incomplete entries (flags without `ATF_COM`, MAC all zeros) and lines
/// that do not parse are skipped. When several interfaces have an entry for
/// the address with different MACs, the answer is `None`: the table does
/// not say which one is the client.
pub fn find(table: &str, ip: Ipv4Addr) -> Option<MacAddr> {
    let mut found: Option<MacAddr> = None;
    for line in table.lines().skip(1) {
        let mut fields = line.split_whitespace();
        let (Some(addr), Some(_hw_type), Some(flags), Some(mac)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if addr.parse::<Ipv4Addr>().ok() != Some(ip) {
            continue;
        }
        let complete = flags
            .strip_prefix("0x")
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .is_some_and(|f| f & COMPLETE != 0);
        let Ok(mac) = mac.parse::<MacAddr>() else {
            continue;
        };
        if !complete || mac.0 == [0; 6] {
            continue;
        }
        match found {
            Some(other) if other != mac => return None,
            _ => found = Some(mac),
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TABLE: &str = "\
IP address       HW type     Flags       HW address            Mask     Device
10.77.0.145      0x1         0x2         52:54:00:00:00:0b     *        br0
10.77.0.146      0x1         0x0         00:00:00:00:00:00     *        br0
10.77.0.147      0x1         0x6         52:54:00:00:00:0c     *        br0
10.77.0.148      0x1         0x2         52:54:00:00:00:01     *        br0
10.77.0.148      0x1         0x2         52:54:00:00:00:02     *        br1
garbage
";

    #[test]
    fn complete_entries_are_found_and_others_are_not() {
        let ip = |last| Ipv4Addr::new(10, 77, 0, last);
        assert_eq!(
            find(TABLE, ip(145)),
            Some(MacAddr([0x52, 0x54, 0, 0, 0, 0xb]))
        );
        assert_eq!(find(TABLE, ip(146)), None, "incomplete");
        assert_eq!(
            find(TABLE, ip(147)),
            Some(MacAddr([0x52, 0x54, 0, 0, 0, 0xc])),
            "permanent"
        );
        assert_eq!(find(TABLE, ip(148)), None, "ambiguous");
        assert_eq!(find(TABLE, ip(149)), None, "absent");
    }

    #[test]
    fn directly_connected_networks_are_on_link() {
        // As Linux prints it on a little-endian machine: the raw network
        // order bytes of each address read as a native u32.
        let hex = |ip: Ipv4Addr| format!("{:08X}", u32::from_ne_bytes(ip.octets()));
        let routes = format!(
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
             eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
             br0\t{}\t00000000\t0001\t0\t0\t0\t{}\t0\t0\t0\n",
            hex(Ipv4Addr::new(10, 77, 0, 0)),
            hex(Ipv4Addr::new(255, 255, 255, 0)),
        );
        assert!(on_link(&routes, Ipv4Addr::new(10, 77, 0, 145)));
        assert!(
            !on_link(&routes, Ipv4Addr::new(10, 78, 0, 1)),
            "via the default gateway"
        );
        assert!(!on_link("", Ipv4Addr::new(10, 77, 0, 145)));
    }

    #[test]
    fn loopback_is_never_resolved() {
        assert_eq!(
            resolve(Ipv4Addr::LOCALHOST, Duration::from_millis(50)),
            None
        );
    }

    #[test]
    fn lookup_reads_this_threads_table() {
        // Loopback never has an entry; the point is that reading works
        // (or fails quietly) here.
        assert_eq!(lookup(Ipv4Addr::LOCALHOST), None);
    }

    proptest! {
        #[test]
        fn any_text_is_read_without_panicking(text in "(.{0,80}\n){0,8}", ip: u32) {
            let _ = find(&text, Ipv4Addr::from(ip));
            let _ = on_link(&text, Ipv4Addr::from(ip));
        }
    }
}
