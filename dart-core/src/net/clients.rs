//! What the boot server knows about its clients, and how far it trusts it.
//!
//! PXE and DHCP are unauthenticated: a packet can claim any MAC address
//! (`chaddr`), any client address (`ciaddr`) and any architecture. The
//! [`ClientTable`] keeps two kinds of knowledge apart:
//!
//! - **Bindings** (IP address → MAC address), which decide which policy
//!   rules hold for a TFTP request. A binding is made only from a packet
//!   whose source address is the address it claims ([`ClientTable::bind`]),
//!   and never against the kernel's neighbour table: where the kernel knows
//!   the MAC behind an address, that MAC must match, and at TFTP the
//!   kernel's MAC wins ([`ClientTable::identify`]). Two clients claiming
//!   one address, or a binding the kernel contradicts, is a *conflict*:
//!   the address may boot recovery images only until the kernel vouches for
//!   one of them.
//! - **Claims** (MAC address → architecture, image offered), which every
//!   PXE request makes and nobody can check. They choose what a client is
//!   offered next and which image directory its relative file names
//!   resolve in; they never widen what it may read, which the policy
//!   decides from the binding.
//!
//! Both maps hold at most a fixed number of entries and forget the least
//! recently updated one when full. Forgetting never raises a client's
//! rights: a client whose MAC or architecture is unknown is judged
//! cautiously ([`AccessPolicy::decide_cautiously`]), so it gets at most
//! what it would get with the fact known.
//!
//! The table does no I/O: callers pass the kernel's answer
//! ([`neighbour::lookup`](super::neighbour::lookup)).
//!
//! [`AccessPolicy::decide_cautiously`]: super::policy::AccessPolicy::decide_cautiously

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::net::Ipv4Addr;

use uuid::Uuid;

use super::policy::{Client, ClientArch, MacAddr};

/// Most clients a [`ClientTable`] remembers, in each of its maps.
pub const MAX_CLIENTS: usize = 65536;

/// A map of at most `capacity` entries that forgets the least recently
/// updated entry when a new one comes in full.
#[derive(Debug)]
struct Recent<K, V> {
    map: HashMap<K, (V, u64)>,
    /// Update stamp → key, oldest first.
    order: BTreeMap<u64, K>,
    next: u64,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Recent<K, V> {
    fn new(capacity: usize) -> Self {
        Recent {
            map: HashMap::new(),
            order: BTreeMap::new(),
            next: 0,
            capacity: capacity.max(1),
        }
    }

    fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|(v, _)| v)
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    /// Updates the entry of `key` (made with `V::default()` if absent) and
    /// marks it the most recent.
    fn update(&mut self, key: K, f: impl FnOnce(&mut V))
    where
        V: Default,
    {
        let stamp = self.next;
        self.next += 1;
        if let Some((value, old)) = self.map.get_mut(&key) {
            self.order.remove(old);
            *old = stamp;
            f(value);
        } else {
            if self.map.len() >= self.capacity {
                if let Some((_, oldest)) = self.order.pop_first() {
                    self.map.remove(&oldest);
                }
            }
            let mut value = V::default();
            f(&mut value);
            self.map.insert(key.clone(), (value, stamp));
        }
        self.order.insert(stamp, key);
    }
}

/// What PXE requests have said about one MAC address (nobody can check
/// it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Claim {
    /// The architecture of the latest request (DHCP option 93).
    arch: Option<ClientArch>,
    /// The image version directory it was last offered.
    offered: Option<String>,
    /// The SMBIOS UUID of the latest request that had one (option 97).
    uuid: Option<Uuid>,
}

/// An IP address's MAC, from a packet sent from that address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Binding {
    mac: Option<MacAddr>,
    /// Whether two MAC addresses claimed the address without the kernel
    /// vouching for either.
    conflict: bool,
}

/// What [`ClientTable::bind`] made of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// The address is bound to the MAC.
    Bound,
    /// The address is bound to the MAC, but another MAC claimed it before
    /// and the kernel vouches for neither: the address may boot recovery
    /// images only. Holds the reason, for the log.
    Conflict(String),
    /// The claim was refused and nothing was learned from it; holds the
    /// reason.
    Refused(String),
}

/// Who sent a TFTP request, as far as the server can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The facts the policy is applied to (unknown ones are `None`).
    pub client: Client,
    /// Why the claims about this address cannot be trusted, when they
    /// cannot: the client may then boot recovery images only.
    pub distrust: Option<String>,
}

/// The boot server's knowledge of its clients; see the
/// [module docs](self).
#[derive(Debug)]
pub struct ClientTable {
    claims: Recent<MacAddr, Claim>,
    bindings: Recent<Ipv4Addr, Binding>,
    loaders: Recent<Ipv4Addr, Option<ClientArch>>,
}

impl Default for ClientTable {
    fn default() -> Self {
        ClientTable::new(MAX_CLIENTS)
    }
}

impl ClientTable {
    /// A table remembering at most `capacity` clients in each map.
    pub fn new(capacity: usize) -> Self {
        ClientTable {
            claims: Recent::new(capacity),
            bindings: Recent::new(capacity),
            loaders: Recent::new(capacity),
        }
    }

    /// Records what a PXE request says about its MAC address: its
    /// architecture.
    pub fn claim(&mut self, mac: MacAddr, arch: Option<ClientArch>, uuid: Option<Uuid>) {
        self.claims.update(mac, |c| {
            if arch.is_some() {
                c.arch = arch;
            }
            if uuid.is_some() {
                c.uuid = uuid;
            }
        });
    }

    /// The SMBIOS UUID `mac`'s requests claimed last.
    pub fn uuid(&self, mac: MacAddr) -> Option<Uuid> {
        self.claims.get(&mac).and_then(|c| c.uuid)
    }

    /// Records the image version directory `mac` was offered.
    pub fn record_offer(&mut self, mac: MacAddr, dir: &str) {
        self.claims
            .update(mac, |c| c.offered = Some(dir.to_owned()));
    }

    /// The image version directory `mac` was last offered.
    pub fn offered(&self, mac: MacAddr) -> Option<&str> {
        self.claims.get(&mac).and_then(|c| c.offered.as_deref())
    }

    /// Learns that `ip` is `mac`, from a packet that came from `source`
    /// claiming so; `neighbour` is the kernel's MAC for `ip`, if it has
    /// one. Refused unless the packet came from the address it claims and
    /// the kernel does not contradict it.
    pub fn bind(
        &mut self,
        ip: Ipv4Addr,
        mac: MacAddr,
        source: Ipv4Addr,
        neighbour: Option<MacAddr>,
    ) -> Bind {
        if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
            return Bind::Refused(format!("{ip} is not a client address"));
        }
        if source != ip {
            return Bind::Refused(format!("the packet claims {ip} but came from {source}"));
        }
        if let Some(known) = neighbour.filter(|known| *known != mac) {
            return Bind::Refused(format!(
                "the packet claims {ip} is {mac}, but the kernel's neighbour table has {known} at {ip}"
            ));
        }
        let vouched = neighbour == Some(mac);
        let mut outcome = Bind::Bound;
        self.bindings.update(ip, |b| {
            if vouched {
                b.conflict = false;
            } else if b.mac.is_some_and(|old| old != mac) {
                b.conflict = true;
            }
            if b.conflict {
                outcome = Bind::Conflict(format!(
                    "{ip} was claimed by more than one MAC address ({mac} the latest)"
                ));
            }
            b.mac = Some(mac);
        });
        outcome
    }

    /// Who is behind `ip` for a TFTP request: the kernel's MAC for it
    /// (`neighbour`) when it has one, else the bound MAC; the architecture
    /// that MAC last claimed. [`Identity::distrust`] says why the address
    /// may boot recovery images only, when it may.
    pub fn identify(&self, ip: Ipv4Addr, neighbour: Option<MacAddr>) -> Identity {
        let binding = self.bindings.get(&ip);
        let bound = binding.and_then(|b| b.mac);
        let distrust = match (neighbour, bound) {
            (Some(known), Some(claimed)) if known != claimed => Some(format!(
                "{ip} was claimed for {claimed}, but the kernel's neighbour table has {known}"
            )),
            (None, _) if binding.is_some_and(|b| b.conflict) => {
                Some(format!("{ip} was claimed by more than one MAC address"))
            }
            _ => None,
        };
        let mac = neighbour.or(bound);
        let arch = mac.and_then(|m| self.claims.get(&m)).and_then(|c| c.arch);
        Identity {
            client: Client {
                mac,
                ip: Some(ip),
                arch,
            },
            distrust,
        }
    }

    /// Records that `ip` read a boot loader for clients of `arch` (BIOS or
    /// a UEFI architecture). It tells which boot store the address needs
    /// when its DHCP request never reached this server; it never decides
    /// what the address may read.
    pub fn record_loader(&mut self, ip: Ipv4Addr, arch: ClientArch) {
        self.loaders.update(ip, |a| *a = Some(arch));
    }

    /// The architecture of the boot loader `ip` read last.
    pub fn loader(&self, ip: Ipv4Addr) -> Option<ClientArch> {
        self.loaders.get(&ip).copied().flatten()
    }

    /// How many addresses are bound (for tests and monitoring).
    pub fn bound(&self) -> usize {
        self.bindings.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);
    const OTHER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);
    const A: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xa]);
    const B: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xb]);

    #[test]
    fn a_claim_from_another_address_binds_nothing() {
        let mut t = ClientTable::default();
        let verdict = t.bind(IP, A, OTHER, None);
        assert!(
            matches!(&verdict, Bind::Refused(why) if why.contains("came from 10.0.0.9")),
            "{verdict:?}"
        );
        assert_eq!(t.identify(IP, None).client.mac, None);
        assert_eq!(t.bound(), 0);
    }

    #[test]
    fn the_kernel_contradicting_a_claim_refuses_it_and_wins_at_tftp() {
        let mut t = ClientTable::default();
        let verdict = t.bind(IP, A, IP, Some(B));
        assert!(
            matches!(&verdict, Bind::Refused(why) if why.contains("neighbour table")),
            "{verdict:?}"
        );
        // Bound while the kernel knew nothing, contradicted later.
        assert_eq!(t.bind(IP, A, IP, None), Bind::Bound);
        let id = t.identify(IP, Some(B));
        assert_eq!(id.client.mac, Some(B));
        assert!(id.distrust.is_some());
        // The kernel agreeing: trusted.
        let id = t.identify(IP, Some(A));
        assert_eq!((id.client.mac, id.distrust), (Some(A), None));
    }

    #[test]
    fn two_macs_claiming_one_address_conflict_until_the_kernel_vouches() {
        let mut t = ClientTable::default();
        assert_eq!(t.bind(IP, A, IP, None), Bind::Bound);
        assert!(matches!(t.bind(IP, B, IP, None), Bind::Conflict(_)));
        assert!(t.identify(IP, None).distrust.is_some());
        // Claiming again does not clear it; the kernel vouching does.
        assert!(matches!(t.bind(IP, B, IP, None), Bind::Conflict(_)));
        assert_eq!(t.bind(IP, B, IP, Some(B)), Bind::Bound);
        assert_eq!(t.identify(IP, None).distrust, None);
    }

    #[test]
    fn claims_give_the_architecture_and_the_offer_of_the_identified_mac() {
        let mut t = ClientTable::default();
        let u = Uuid::from_u128(7);
        t.claim(A, Some(ClientArch::X64_UEFI), Some(u));
        t.record_offer(A, "images/rescue/1");
        t.claim(A, None, None);
        assert_eq!(t.uuid(A), Some(u));
        assert_eq!(t.bind(IP, A, IP, None), Bind::Bound);
        let id = t.identify(IP, None);
        assert_eq!(id.client.arch, Some(ClientArch::X64_UEFI));
        assert_eq!(t.offered(A), Some("images/rescue/1"));
        assert_eq!(t.offered(B), None);
    }

    #[test]
    fn seventy_thousand_bindings_forget_the_oldest_only() {
        let mut t = ClientTable::default();
        assert_eq!(t.bind(IP, A, IP, None), Bind::Bound);
        for i in 0..70_000u32 {
            let ip = Ipv4Addr::from(0x0b00_0000 + i);
            let mut mac = [2, 0xee, 0, 0, 0, 0];
            mac[2..].copy_from_slice(&i.to_be_bytes());
            assert_eq!(t.bind(ip, MacAddr(mac), ip, None), Bind::Bound);
        }
        assert_eq!(t.bound(), MAX_CLIENTS);
        // The first binding was forgotten: its address is unknown again,
        // never another client's.
        assert_eq!(t.identify(IP, None).client.mac, None);
        let last = Ipv4Addr::from(0x0b00_0000 + 69_999);
        assert!(t.identify(last, None).client.mac.is_some());
    }

    proptest! {
        /// Whatever the sequence of claims, an address is identified as a
        /// MAC that claimed it from that address, or as the kernel's MAC;
        /// and the maps never exceed their capacity.
        #[test]
        fn identities_come_only_from_verified_claims(
            steps in proptest::collection::vec((0u8..8, 0u8..8, 0u8..8, proptest::option::of(0u8..8)), 0..200)
        ) {
            let mut t = ClientTable::new(5);
            let ip = |n: u8| Ipv4Addr::new(10, 0, 0, n + 1);
            let mac = |n: u8| MacAddr([2, 0, 0, 0, 0, n]);
            let mut claimed_from_self: Vec<(Ipv4Addr, MacAddr)> = Vec::new();
            for (addr, source, m, neighbour) in steps {
                let verdict = t.bind(ip(addr), mac(m), ip(source), neighbour.map(mac));
                if !matches!(verdict, Bind::Refused(_)) {
                    prop_assert_eq!(addr, source);
                    claimed_from_self.push((ip(addr), mac(m)));
                }
                prop_assert!(t.bound() <= 5);
            }
            for n in 0..8 {
                if let Some(found) = t.identify(ip(n), None).client.mac {
                    prop_assert!(claimed_from_self.contains(&(ip(n), found)));
                }
            }
        }
    }
}
