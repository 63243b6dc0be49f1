//! The boot server: TFTP and proxy-DHCP over one root, one catalog and one
//! access policy.
//!
//! [`BootServer::start`] runs a [`TftpServer`] on the root and, when
//! configured, a [`ProxyDhcp`] responder, each on threads of their own, and
//! returns a handle that stops both. The policy is enforced twice:
//!
//! - **DHCP**: a PXE client is offered the boot file of the image
//!   [`Catalog::boot_for`] picks for its architecture and the rule that
//!   matches it; a client the policy allows nothing gets no answer, and a
//!   [`BootEvent::Denied`] names it and the rule.
//! - **TFTP**: every file read must lie in the directory of a staged image
//!   version (current or retired) the client may boot. The client is known
//!   by its source address; its MAC comes from the kernel's neighbour
//!   table, or else from a DHCP request the client sent from that address
//!   (see [`clients`](super::clients) for what is trusted and why); a
//!   client whose MAC or architecture is unknown is judged cautiously, and
//!   one whose claims conflict may read recovery images only.
//!
//! Each client that was offered an image at DHCP gets that image
//! version's directory as its TFTP root: a name outside `images/` (say
//! `\Boot\BCD` or `\sources\boot.wim`, as Windows Boot Manager asks for
//! them) resolves inside `images/NAME/VERSION/`. So a client's whole boot,
//! file after file, comes from the version it was offered, even when a new
//! version is staged meanwhile.
//!
//! The catalog is re-read whenever its file changes, so `dart stage` in
//! another process updates a running server.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::admission::{judge, Purpose};
use super::catalog::{Catalog, CatalogImage, CATALOG_FILE, IMAGES_DIR};
use super::clients::{Bind, ClientTable, Identity, MAX_CLIENTS};
use super::dhcp::packet::MAX_BOOT_FILE;
use super::dhcp::{
    BootOffer, DhcpEvent, Port, ProxyDhcp, ProxyDhcpConfig, PxeRequest, RequestKind,
};
use super::export;
use super::files::{FileHooks, Provided};
use super::http::{HttpConfig, HttpEvent, HttpServer};
use super::ipxe::{self, IpxeScript};
use super::known::{ClientDb, ClientKey, ClientState, KnownClients, Recorded, CLIENTS_FILE};
use super::menu::{self, MenuFirmware, MenuSpec, RamdiskTftp, StoreName};
use super::neighbour;
use super::policy::{AccessPolicy, Allow, Answer, Client, ClientArch, Decision, MacAddr};
use super::tftp::{TftpConfig, TftpEvent, TftpServer};
use crate::error::{Error, Result};
use crate::model::arch::Architecture;

/// How long a TFTP request waits for the kernel to resolve an on-link
/// client's MAC address (a live host answers ARP within milliseconds).
const RESOLVE_WAIT: Duration = Duration::from_millis(300);

/// Settings of a [`BootServer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootServerConfig {
    /// The server root, holding the staged images and the catalog.
    pub root: PathBuf,
    /// Who may boot what.
    pub policy: AccessPolicy,
    /// TFTP settings; its `root` is replaced by [`root`](Self::root).
    pub tftp: TftpConfig,
    /// Proxy-DHCP settings; `None` runs TFTP only (for networks whose DHCP
    /// server names the boot file itself).
    pub proxy_dhcp: Option<ProxyDhcpConfig>,
    /// HTTP settings; `None` serves no HTTP. Its `root` is replaced by
    /// [`root`](Self::root).
    pub http: Option<HttpConfig>,
    /// The URL a `dart export` of this root is served at (by any web
    /// server); when set, the proxy-DHCP points HTTP clients there instead
    /// of at this server: UEFI HTTP Boot clients at their loader, iPXE
    /// clients at the script of their class
    /// ([`export::script_path`](super::export::script_path)).
    pub boot_url: Option<String>,
}

/// Where the policy refused a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Checkpoint {
    /// No boot file was offered.
    Dhcp,
    /// A file read over TFTP was refused.
    Tftp,
    /// A file read over HTTP was refused.
    Http,
}

/// What the boot server did, for logging; passed to the callback given to
/// [`BootServer::start`], from the server's threads.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BootEvent {
    /// A PXE client was offered a boot file.
    Offered {
        /// The client.
        client: Client,
        /// The image offered.
        image: String,
        /// Its version.
        version: u32,
        /// The boot file, relative to the root.
        file: String,
        /// The policy rule that decided.
        rule: String,
    },
    /// The policy refused a client.
    Denied {
        /// The client.
        client: Client,
        /// The image or file refused (empty when the client may boot
        /// nothing at all).
        target: String,
        /// The policy rule that decided (`"default"` when none matched).
        rule: String,
        /// DHCP or TFTP.
        at: Checkpoint,
        /// Why, in one sentence.
        reason: String,
    },
    /// A DHCP request claimed an address for a MAC and the claim was
    /// refused: it came from another address, or the kernel's neighbour
    /// table has another MAC there. The request was not answered.
    ClaimRefused {
        /// What the request claimed.
        client: Client,
        /// Where the request came from.
        from: SocketAddr,
        /// Why, in one sentence.
        reason: String,
    },
    /// Two MAC addresses claimed one address and the kernel vouches for
    /// neither: until it does, the address may boot recovery images only.
    ClaimConflict {
        /// What the latest request claimed.
        client: Client,
        /// Where it came from.
        from: SocketAddr,
        /// Why, in one sentence.
        reason: String,
    },
    /// A client the server does not answer was recorded as pending, for an
    /// admin to approve (`dart clients approve`).
    Pending {
        /// The client.
        client: Client,
    },
    /// A client was sent the boot store generated for it.
    Menu {
        /// The client.
        client: Client,
        /// The firmware the store is for.
        firmware: MenuFirmware,
        /// The images listed, in menu order.
        images: Vec<String>,
        /// The policy rule that decided.
        rule: String,
    },
    /// A TFTP event.
    Tftp(TftpEvent),
    /// An HTTP event.
    Http(HttpEvent),
    /// A proxy-DHCP event.
    Dhcp(DhcpEvent),
}

impl fmt::Display for BootEvent {
    /// One log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootEvent::Offered {
                client,
                image,
                version,
                file,
                rule,
            } => write!(
                f,
                "offered {client} image {image} version {version} ({file}) by rule {rule:?}"
            ),
            BootEvent::Denied {
                client,
                target,
                rule,
                at,
                reason,
            } => {
                let at = match at {
                    Checkpoint::Dhcp => "DHCP",
                    Checkpoint::Tftp => "TFTP",
                    Checkpoint::Http => "HTTP",
                };
                write!(
                    f,
                    "denied {client} {target:?} at {at} by rule {rule:?}: {reason}"
                )
            }
            BootEvent::ClaimRefused {
                client,
                from,
                reason,
            } => write!(f, "ignored a DHCP claim from {from} ({client}): {reason}"),
            BootEvent::ClaimConflict {
                client,
                from,
                reason,
            } => write!(
                f,
                "conflicting DHCP claims from {from} ({client}): {reason}; it may boot recovery images only"
            ),
            BootEvent::Pending { client } => write!(
                f,
                "{client} is pending approval: dart clients approve {}",
                client.mac.map_or_else(|| "MAC".to_string(), |m| m.to_string())
            ),
            BootEvent::Menu {
                client,
                firmware,
                images,
                rule,
            } => write!(
                f,
                "sent {client} a {firmware} boot menu of {} by rule {rule:?}",
                images.join(", ")
            ),
            BootEvent::Tftp(e) => e.fmt(f),
            BootEvent::Http(e) => e.fmt(f),
            BootEvent::Dhcp(e) => e.fmt(f),
        }
    }
}

type Sink = Arc<dyn Fn(BootEvent) + Send + Sync>;

/// What the DHCP and TFTP threads share.
struct State {
    root: PathBuf,
    /// The port HTTP listens on; 0 while it serves no HTTP.
    http_port: AtomicU16,
    /// Where an export of the root is served, checked, without a trailing
    /// `/`.
    boot_url: Option<String>,
    /// Swapped whole by `set_policy`; requests take a cheap reference.
    policy: RwLock<Arc<AccessPolicy>>,
    catalog: Mutex<CachedCatalog>,
    clients: Mutex<ClientTable>,
    events: Option<Sink>,
    /// The TFTP server's largest block size, written into generated stores.
    max_blksize: u16,
    /// The client database.
    known: Mutex<KnownCache>,
}

/// The client database, its last snapshot, and what was recorded lately.
struct KnownCache {
    db: Option<ClientDb>,
    snapshot: Arc<KnownClients>,
    version: Option<i64>,
    checked: Option<Instant>,
    /// When each pending client was last written.
    recorded: HashMap<ClientKey, Instant>,
    /// New pending clients written in the current second.
    window: (Instant, u32),
}

/// How often the server looks whether the client database changed.
const KNOWN_RECHECK: Duration = Duration::from_millis(200);

/// Most new pending clients written per second (forged floods cannot keep
/// the database busy).
const MAX_NEW_PENDING: u32 = 20;

/// How often a pending client's last sighting is written.
const PENDING_REFRESH: Duration = Duration::from_secs(60);

/// Locks a mutex, also after a thread panicked while holding it (the
/// tables it guards stay consistent: no update can panic half-way).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The SMBIOS UUID of a PXE request (option 97: type 0, then the UUID with
/// its first three fields little-endian, as SMBIOS stores it and as
/// `dmidecode` prints it).
fn request_uuid(request: &PxeRequest) -> Option<uuid::Uuid> {
    match request.uuid.as_deref() {
        Some([0, rest @ ..]) => {
            let bytes: [u8; 16] = rest.try_into().ok()?;
            Some(uuid::Uuid::from_bytes_le(bytes))
        }
        _ => None,
    }
}

/// An IPv4 address, also from an IPv4-mapped IPv6 one.
fn ipv4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(ip) => ip.to_ipv4_mapped(),
    }
}

/// The catalog as last read, with the identity of the file it came from,
/// and the stores generated from it (dropped with it, so a catalog update
/// invalidates them at once).
struct CachedCatalog {
    stamp: Option<(u64, SystemTime, u64)>,
    catalog: Arc<Catalog>,
    menus: HashMap<MenuKey, Arc<[u8]>>,
}

/// A generated store is fully decided by its menu and its template.
type MenuKey = (MenuSpec, Option<String>);

/// Most generated stores cached per catalog version (each a few KiB);
/// beyond it the cache starts over.
const MAX_CACHED_MENUS: usize = 1024;

impl State {
    fn emit(&self, event: BootEvent) {
        if let Some(sink) = &self.events {
            sink(event);
        }
    }

    fn policy(&self) -> Arc<AccessPolicy> {
        match self.policy.read() {
            Ok(p) => Arc::clone(&p),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The catalog, re-read when its file changed (inode, mtime or size);
    /// a catalog that cannot be read keeps the last good one in service.
    fn catalog(&self) -> Arc<Catalog> {
        let path = self.root.join(CATALOG_FILE);
        let stamp = std::fs::metadata(&path)
            .ok()
            .and_then(|m| Some((m.ino(), m.modified().ok()?, m.len())));
        let mut cached = lock(&self.catalog);
        if cached.stamp != stamp {
            if let Ok(catalog) = Catalog::load(&self.root) {
                cached.catalog = Arc::new(catalog);
                cached.stamp = stamp;
                cached.menus.clear();
            }
        }
        Arc::clone(&cached.catalog)
    }

    /// Who is behind a TFTP request's source address. The kernel is made
    /// to resolve an on-link address it has no entry for (a client that
    /// never had to ask for the server's MAC, or a forged source), so that
    /// a binding made before the kernel knew the address is still checked
    /// against it.
    fn identify(&self, addr: SocketAddr) -> Identity {
        match ipv4(addr.ip()) {
            Some(ip) => {
                let neighbour = neighbour::resolve(ip, RESOLVE_WAIT);
                lock(&self.clients).identify(ip, neighbour)
            }
            None => Identity {
                client: Client::default(),
                distrust: None,
            },
        }
    }

    /// The file servers' rewrite: a name outside `images/` and `dart/` from a
    /// client that was offered an image resolves in that image version's
    /// directory.
    fn rewrite(&self, addr: SocketAddr, name: &str) -> Option<String> {
        let name = name.replace('\\', "/");
        let name = name.trim_start_matches('/');
        // Names under images/ are already whole; dart/ holds the server's
        // own shared files (generated menus and scripts, wimboot).
        for prefix in [format!("{IMAGES_DIR}/"), "dart/".to_string()] {
            if name
                .get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(&prefix))
            {
                return None;
            }
        }
        let mac = self.identify(addr).client.mac?;
        let dir = lock(&self.clients).offered(mac)?.to_owned();
        Some(format!("{dir}/{name}"))
    }

    /// Learns what a PXE request can teach: its MAC's architecture, and
    /// the address it claims if the claim holds. Returns the client as far
    /// as it is trusted (its address only when bound), whether its claims
    /// conflict, or `None` when the request was refused as forged.
    fn learn(&self, request: &PxeRequest, from: SocketAddr) -> Option<(Client, bool)> {
        let mac = MacAddr(request.mac);
        let arch = request.client_arch.map(ClientArch);
        let mut client = Client {
            mac: Some(mac),
            ip: None,
            arch,
        };
        lock(&self.clients).claim(mac, arch, request_uuid(request));
        // Only `ciaddr` is a claim to hold an address; option 50 on a
        // request to the DHCP server is a wish.
        if request.ciaddr.is_unspecified() {
            return Some((client, false));
        }
        let claimed = Client {
            ip: Some(request.ciaddr),
            ..client
        };
        let Some(source) = ipv4(from.ip()) else {
            self.emit(BootEvent::ClaimRefused {
                client: claimed,
                from,
                reason: "the packet did not come from an IPv4 address".into(),
            });
            return None;
        };
        let neighbour = neighbour::lookup(request.ciaddr);
        let verdict = lock(&self.clients).bind(request.ciaddr, mac, source, neighbour);
        match verdict {
            Bind::Bound => {
                client.ip = Some(request.ciaddr);
                Some((client, false))
            }
            Bind::Conflict(reason) => {
                self.emit(BootEvent::ClaimConflict {
                    client: claimed,
                    from,
                    reason,
                });
                client.ip = Some(request.ciaddr);
                Some((client, true))
            }
            Bind::Refused(reason) => {
                self.emit(BootEvent::ClaimRefused {
                    client: claimed,
                    from,
                    reason,
                });
                None
            }
        }
    }

    /// The proxy-DHCP decision for one request from `from`.
    fn offer(
        &self,
        request: &PxeRequest,
        port: Port,
        from: SocketAddr,
        server: Ipv4Addr,
    ) -> Option<BootOffer> {
        let (client, conflict) = self.learn(request, from)?;
        let answered = match port {
            Port::Dhcp => request.kind == RequestKind::Discover,
            Port::Pxe => true,
        };
        if !answered {
            return None;
        }
        let policy = self.policy();
        let catalog = self.catalog();
        let uuid = request_uuid(request);
        let known = self.known();
        let record = known.lookup(client.mac, uuid);
        let mut decision = judge(&policy, &catalog, record, &client, Purpose::Offer);
        let pending = policy.answer == Answer::Known
            && policy.pending
            && record.is_none_or(|r| r.state == ClientState::Pending);
        if pending {
            if let Some(mac) = client.mac {
                self.record_pending(client, ClientKey::Mac(mac), record.is_none());
            }
        }
        if conflict {
            decision.limit("conflicting claims for its address", Allow::Recovery);
        }
        let deny = |reason: String| {
            self.emit(BootEvent::Denied {
                client,
                target: String::new(),
                rule: decision.rule.clone(),
                at: Checkpoint::Dhcp,
                reason,
            });
            None
        };
        let Some(arch) = client.arch else {
            return deny("the request has no client architecture (DHCP option 93)".into());
        };
        let prompt = decision.bios_prompt.unwrap_or(policy.menu.bios_prompt);
        match catalog.boot_for(arch, &decision) {
            Some((image, file)) => {
                // pxeboot.com waits for F12; pxeboot.n12 boots at once.
                let file = match &image.bios_prompt_boot {
                    Some(f) if prompt && arch.same_as(ClientArch::BIOS) => f.as_str(),
                    _ => file,
                };
                // A UEFI HTTP Boot client fetches its loader by URL; iPXE
                // gets its script's URL when the server speaks HTTP, or
                // its class's script in the export at the boot URL.
                let url;
                let http_port = self.http_port.load(Ordering::Acquire);
                let boot_url = self.boot_url.as_deref();
                let over_http = request.is_http()
                    || request.is_ipxe() && (http_port != 0 || boot_url.is_some());
                let file = if let (true, Some(base)) = (request.is_ipxe(), boot_url) {
                    let class = export::class_of(&policy, &decision.rule);
                    let Some(script) = export::script_path(&class, arch) else {
                        return deny(format!("an export has no iPXE script for {arch} clients"));
                    };
                    url = format!("{base}/{script}");
                    url.as_str()
                } else if request.is_ipxe() && http_port != 0 {
                    url = http_url(server, http_port, ipxe::SCRIPT_PATH);
                    url.as_str()
                } else if request.is_http() {
                    url = match boot_url {
                        Some(base) => format!("{base}{}", ipxe::url_path(file)),
                        None if http_port == 0 => {
                            return deny("it is a UEFI HTTP Boot client and this server serves no HTTP (start it with an HTTP address: dart serve --http ADDR, or point it at an export: --boot-url URL)".into());
                        }
                        None => http_url(server, http_port, file),
                    };
                    url.as_str()
                } else {
                    file
                };
                if over_http && file.len() > MAX_BOOT_FILE {
                    return deny(format!("the boot file URL {file} is longer than the {MAX_BOOT_FILE} bytes a DHCP reply holds"));
                }
                if let Some(mac) = client.mac {
                    lock(&self.clients).record_offer(mac, &image.dir);
                }
                self.emit(BootEvent::Offered {
                    client,
                    image: image.name.clone(),
                    version: image.version,
                    file: file.to_string(),
                    rule: decision.rule.clone(),
                });
                // Option 252 names the store generated for this client's
                // firmware, so its boot manager asks for exactly that.
                let boot_store = image
                    .menu
                    .as_ref()
                    .filter(|_| !over_http)
                    .and(MenuFirmware::of(arch))
                    .map(|f| format!("\\{}", menu::menu_path(f).replace('/', "\\")));
                Some(BootOffer {
                    boot_file: file.to_string(),
                    tftp_server: server,
                    boot_store,
                })
            }
            None => {
                let limits: Vec<&str> = decision.limits.iter().map(|l| l.reason.as_str()).collect();
                let limited = if limits.is_empty() {
                    String::new()
                } else {
                    format!("; limited because {}", limits.join("; "))
                };
                deny(format!(
                    "no staged image the rule allows ({}) boots {arch} clients{limited}",
                    decision.allow
                ))
            }
        }
    }

    /// The client database as last read: re-read when another process
    /// (`dart clients approve`) changed it, checked at most every
    /// [`KNOWN_RECHECK`].
    fn known(&self) -> Arc<KnownClients> {
        let mut k = lock(&self.known);
        if k.checked.is_some_and(|t| t.elapsed() < KNOWN_RECHECK) {
            return Arc::clone(&k.snapshot);
        }
        k.checked = Some(Instant::now());
        if k.db.is_none() {
            k.db = ClientDb::open_existing(&self.root).ok().flatten();
        }
        let Some(db) = &k.db else {
            return Arc::clone(&k.snapshot);
        };
        let version = db.version().ok();
        if version.is_none() || version != k.version {
            if let Ok(snapshot) = db.snapshot() {
                k.snapshot = Arc::new(snapshot);
                k.version = version;
            }
        }
        Arc::clone(&k.snapshot)
    }

    /// Records a client the server does not answer as pending (a new one
    /// at most [`MAX_NEW_PENDING`] a second, a known one's last sighting at
    /// most once a minute), and says so when it is new.
    fn record_pending(&self, client: Client, key: ClientKey, new: bool) {
        let now = Instant::now();
        let mut k = lock(&self.known);
        if k.recorded
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < PENDING_REFRESH)
        {
            return;
        }
        if new {
            if now.duration_since(k.window.0) >= Duration::from_secs(1) {
                k.window = (now, 0);
            }
            if k.window.1 >= MAX_NEW_PENDING {
                return;
            }
            k.window.1 += 1;
        }
        if k.recorded.len() >= MAX_CLIENTS {
            k.recorded.clear();
        }
        k.recorded.insert(key, now);
        if k.db.is_none() {
            k.db = ClientDb::open(&self.root.join(CLIENTS_FILE)).ok();
        }
        let Some(db) = k.db.as_mut() else { return };
        let seconds = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let recorded = db.record_pending(&key, client.arch, seconds);
        // Our own write: read it back at the next lookup.
        k.checked = None;
        drop(k);
        if let Ok(Recorded::New) = recorded {
            self.emit(BootEvent::Pending { client });
        }
    }

    /// What a client of `identity` may boot, judged as the TFTP gate
    /// judges it.
    fn decide(&self, identity: &Identity) -> Decision {
        let client = &identity.client;
        let uuid = client.mac.and_then(|m| lock(&self.clients).uuid(m));
        let known = self.known();
        let record = known.lookup(client.mac, uuid);
        let mut decision = judge(
            &self.policy(),
            &self.catalog(),
            record,
            client,
            Purpose::Serve,
        );
        if let Some(why) = &identity.distrust {
            decision.limit(why.clone(), Allow::Recovery);
        }
        decision
    }

    /// The TFTP provider: a request for a boot store gets the store
    /// generated for the client (see [`menu`](super::menu)); other names
    /// are left to the files under the root.
    fn provide(&self, addr: SocketAddr, name: &str, at: Checkpoint) -> Option<Provided> {
        if ipxe::SCRIPT_PATH.eq_ignore_ascii_case(name.replace('\\', "/").trim_start_matches('/')) {
            return Some(self.ipxe_script(addr, name, at));
        }
        let wanted = StoreName::parse(name)?;
        let identity = self.identify(addr);
        let client = identity.client;
        let decision = self.decide(&identity);
        let refuse = |reason: String| Some(self.refused(client, name, &decision.rule, at, reason));
        let loader = ipv4(addr.ip()).and_then(|ip| lock(&self.clients).loader(ip));
        let firmware = match wanted {
            StoreName::For(f) => Some(f),
            _ => client
                .arch
                .or(loader)
                .and_then(MenuFirmware::of)
                .filter(|f| wanted.accepts(*f)),
        };
        let Some(firmware) = firmware else {
            return refuse(format!(
                "the server does not know which firmware {client} boots (no PXE request with option 93 and no boot loader read from this address), so it cannot choose a boot store; ask for {} or {}",
                menu::menu_path(MenuFirmware::Bios),
                menu::menu_path(MenuFirmware::Uefi(Architecture::X64)),
            ));
        };
        let catalog = self.catalog();
        let policy = self.policy();
        let tuning = RamdiskTftp {
            block_size: self.max_blksize,
            window_size: policy.menu.tftp_window,
            variable_window: true,
        };
        let spec = MenuSpec::for_client(&catalog, &decision, firmware, &policy.menu, tuning);
        if spec.items.is_empty() {
            return refuse(format!(
                "{client} may boot no staged image with a WIM on {firmware} (access policy rule {:?} allows {})",
                decision.rule, decision.allow
            ));
        }
        let offered = client
            .mac
            .and_then(|mac| lock(&self.clients).offered(mac).map(str::to_owned));
        let template = spec.template(&catalog, offered.as_deref());
        let bytes = match self.menu_bytes(&catalog, spec.clone(), template) {
            Ok(bytes) => bytes,
            Err(e) => return refuse(format!("the boot store could not be generated: {e}")),
        };
        self.emit(BootEvent::Menu {
            client,
            firmware,
            images: spec.images().iter().map(|s| s.to_string()).collect(),
            rule: decision.rule.clone(),
        });
        Some(Provided::Bytes(bytes))
    }

    /// A generated file refused to `client`: reported as a denial of
    /// `name` by `rule` at `at`, the reason also given to the client.
    fn refused(
        &self,
        client: Client,
        name: &str,
        rule: &str,
        at: Checkpoint,
        reason: String,
    ) -> Provided {
        self.emit(BootEvent::Denied {
            client,
            target: name.to_string(),
            rule: rule.to_string(),
            at,
            reason: reason.clone(),
        });
        Provided::Refused(reason)
    }

    /// The iPXE script generated for the client at `addr` (see
    /// [`ipxe`](super::ipxe)).
    fn ipxe_script(&self, addr: SocketAddr, name: &str, at: Checkpoint) -> Provided {
        let identity = self.identify(addr);
        let client = identity.client;
        let decision = self.decide(&identity);
        let refuse = |reason: String| self.refused(client, name, &decision.rule, at, reason);
        let loader = ipv4(addr.ip()).and_then(|ip| lock(&self.clients).loader(ip));
        let Some(arch) = client.arch.or(loader) else {
            return refuse(format!(
                "the server does not know the architecture of {client} (no DHCP request with option 93 and no boot loader read from this address), so it cannot choose its images"
            ));
        };
        let policy = self.policy();
        let catalog = self.catalog();
        let wimboot = self.root.join(ipxe::WIMBOOT_PATH).is_file();
        let timeout = decision.timeout.unwrap_or(policy.menu.timeout);
        match IpxeScript::for_client(&catalog, arch, &decision, wimboot, timeout) {
            Some(script) => Provided::Bytes(Arc::from(script.render().into_bytes())),
            None => refuse(format!(
                "{client} may boot no staged image on {arch} (access policy rule {:?} allows {})",
                decision.rule, decision.allow
            )),
        }
    }

    /// The generated store's bytes, from the cache of the catalog version
    /// it was made from when it is there.
    fn menu_bytes(
        &self,
        catalog: &Arc<Catalog>,
        spec: MenuSpec,
        template: Option<String>,
    ) -> Result<Arc<[u8]>> {
        let key: MenuKey = (spec, template);
        {
            let cached = lock(&self.catalog);
            if Arc::ptr_eq(&cached.catalog, catalog) {
                if let Some(bytes) = cached.menus.get(&key) {
                    return Ok(Arc::clone(bytes));
                }
            }
        }
        let store = match &key.1 {
            Some(rel) => menu::read_template(&self.root, rel),
            None => None,
        };
        let bytes: Arc<[u8]> = key.0.build_store(store)?.to_bytes().into();
        let mut cached = lock(&self.catalog);
        if Arc::ptr_eq(&cached.catalog, catalog) {
            if cached.menus.len() >= MAX_CACHED_MENUS {
                cached.menus.clear();
            }
            cached.menus.insert(key, Arc::clone(&bytes));
        }
        Ok(bytes)
    }

    /// Remembers which firmware a boot loader `path` is for, when it is
    /// one of `image`'s.
    fn note_loader(&self, addr: SocketAddr, image: &CatalogImage, path: &Path) {
        let Some(ip) = ipv4(addr.ip()) else { return };
        let is = |f: &Option<String>| f.as_deref().is_some_and(|f| Path::new(f) == path);
        let arch = if is(&image.uefi_boot) {
            ClientArch(image.arch.pxe_uefi_client_arch())
        } else if is(&image.bios_boot) || is(&image.bios_prompt_boot) {
            ClientArch::BIOS
        } else {
            return;
        };
        lock(&self.clients).record_loader(ip, arch);
    }

    /// The TFTP gate: may `addr` read `path` (relative to the root)?
    fn may_read(
        &self,
        addr: SocketAddr,
        path: &Path,
        at: Checkpoint,
    ) -> std::result::Result<(), String> {
        let identity = self.identify(addr);
        let client = identity.client;
        let catalog = self.catalog();
        let decision = self.decide(&identity);
        let refuse = |reason: String| {
            self.emit(BootEvent::Denied {
                client,
                target: path.display().to_string(),
                rule: decision.rule.clone(),
                at,
                reason: reason.clone(),
            });
            Err(reason)
        };
        // wimboot (iPXE's open-source Windows loader) is shared by every
        // image a generated iPXE script boots; it holds nothing of a site.
        if path
            .to_str()
            .is_some_and(|p| p.eq_ignore_ascii_case(ipxe::WIMBOOT_PATH))
        {
            return Ok(());
        }
        let Some(image) = catalog.owner(path) else {
            return refuse(format!("{} is not part of a staged image", path.display()));
        };
        if decision.permits(&image.name, image.role) {
            self.note_loader(addr, image, path);
            Ok(())
        } else {
            let limits: Vec<&str> = decision
                .limits
                .iter()
                .filter(|l| !l.allow.permits(&image.name, image.role))
                .map(|l| l.reason.as_str())
                .collect();
            let limited = if limits.is_empty() {
                String::new()
            } else {
                format!("; limited because {}", limits.join("; "))
            };
            refuse(format!(
                "{client} may not boot {} image {:?} (access policy rule {:?}{limited})",
                image.role.name(),
                image.name,
                decision.rule
            ))
        }
    }
}

/// A running boot server; stops when [`stop`](BootServer::stop)ped or
/// dropped.
pub struct BootServer {
    state: Arc<State>,
    tftp: Option<TftpServer>,
    dhcp: Option<ProxyDhcp>,
    http: Option<HttpServer>,
}

impl fmt::Debug for BootServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BootServer")
            .field("root", &self.state.root)
            .field("tftp", &self.tftp)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl BootServer {
    /// Checks the settings, starts TFTP and (if configured) proxy-DHCP and
    /// HTTP on threads of their own, and returns at once. `events`, if given, is
    /// called from the server's threads for each [`BootEvent`]; it should
    /// return quickly.
    ///
    /// ```no_run
    /// use dart_core::net::boot::{BootServer, BootServerConfig};
    /// use dart_core::net::dhcp::ProxyDhcpConfig;
    /// use dart_core::net::policy::AccessPolicy;
    /// use dart_core::net::tftp::TftpConfig;
    ///
    /// let server = BootServer::start(
    ///     BootServerConfig {
    ///         root: "/srv/tftp".into(),
    ///         policy: AccessPolicy::default(),
    ///         tftp: TftpConfig::default(),
    ///         proxy_dhcp: Some(ProxyDhcpConfig {
    ///             server_ip: "10.0.0.5".parse().unwrap(),
    ///             interface: Some("eth0".into()),
    ///             ..ProxyDhcpConfig::default()
    ///         }),
    ///         http: None,
    ///         boot_url: None,
    ///     },
    ///     Some(Box::new(|event| eprintln!("{event}"))),
    /// )?;
    /// // ... until shutdown:
    /// server.stop();
    /// # Ok::<(), dart_core::Error>(())
    /// ```
    pub fn start(
        config: BootServerConfig,
        events: Option<Box<dyn Fn(BootEvent) + Send + Sync>>,
    ) -> Result<BootServer> {
        if !config.root.is_dir() {
            return Err(Error::NotFound {
                what: "boot server root directory",
                path: config.root.clone(),
            });
        }
        // A damaged catalog is an error at start, not a silent empty server.
        let catalog = Catalog::load(&config.root)?;
        let boot_url = config
            .boot_url
            .as_deref()
            .map(export::check_base_url)
            .transpose()?;
        let events: Option<Sink> = events.map(Arc::from);
        let state = Arc::new(State {
            root: config.root.clone(),
            http_port: AtomicU16::new(0),
            boot_url,
            policy: RwLock::new(Arc::new(config.policy)),
            catalog: Mutex::new(CachedCatalog {
                stamp: None,
                catalog: Arc::new(catalog),
                menus: HashMap::new(),
            }),
            clients: Mutex::new(ClientTable::default()),
            events: events.clone(),
            max_blksize: config.tftp.max_blksize,
            known: Mutex::new(KnownCache {
                db: None,
                snapshot: Arc::default(),
                version: None,
                checked: None,
                recorded: HashMap::new(),
                window: (Instant::now(), 0),
            }),
        });
        let hooks = |at: Checkpoint| {
            let (gate_state, rewrite_state) = (Arc::clone(&state), Arc::clone(&state));
            let provide_state = Arc::clone(&state);
            FileHooks {
                provide: Some(Arc::new(move |addr, name| {
                    provide_state.provide(addr, name, at)
                })),
                rewrite: Some(Arc::new(move |addr, name| {
                    rewrite_state.rewrite(addr, name)
                })),
                gate: Some(Arc::new(move |addr, path| {
                    gate_state.may_read(addr, path, at)
                })),
            }
        };
        let http: Option<HttpServer> = match config.http {
            None => None,
            Some(http_config) => {
                let http_events = events.clone().map(|sink| {
                    Box::new(move |e| sink(BootEvent::Http(e)))
                        as Box<dyn Fn(HttpEvent) + Send + Sync>
                });
                Some(HttpServer::start(
                    HttpConfig {
                        root: config.root.clone(),
                        ..http_config
                    },
                    hooks(Checkpoint::Http),
                    http_events,
                )?)
            }
        };
        let tftp_events = events.clone().map(|sink| {
            Box::new(move |e| sink(BootEvent::Tftp(e))) as Box<dyn Fn(TftpEvent) + Send + Sync>
        });
        let tftp = TftpServer::start_with(
            TftpConfig {
                root: config.root,
                ..config.tftp
            },
            hooks(Checkpoint::Tftp),
            tftp_events,
        )?;
        if let Some(server) = &http {
            state
                .http_port
                .store(server.local_addr().port(), Ordering::Release);
        }
        let dhcp = match config.proxy_dhcp {
            None => None,
            Some(dhcp_config) => {
                let server = dhcp_config.server_ip;
                let offer_state = Arc::clone(&state);
                let dhcp_events = events.map(|sink| {
                    Box::new(move |e| sink(BootEvent::Dhcp(e)))
                        as Box<dyn Fn(DhcpEvent) + Send + Sync>
                });
                Some(ProxyDhcp::start(
                    dhcp_config,
                    Box::new(move |request, port, from| {
                        offer_state.offer(request, port, from, server)
                    }),
                    dhcp_events,
                )?)
            }
        };
        Ok(BootServer {
            state,
            tftp: Some(tftp),
            dhcp,
            http,
        })
    }

    /// The address TFTP listens on.
    pub fn tftp_addr(&self) -> Option<SocketAddr> {
        self.tftp.as_ref().map(TftpServer::local_addr)
    }

    /// The address HTTP listens on, when it runs.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(HttpServer::local_addr)
    }

    /// The ports proxy-DHCP listens on (DHCP, PXE), when it runs.
    pub fn dhcp_ports(&self) -> Option<(u16, u16)> {
        self.dhcp.as_ref().map(|d| (d.dhcp_port(), d.pxe_port()))
    }

    /// TFTP transfers running now.
    pub fn active_transfers(&self) -> usize {
        self.tftp.as_ref().map_or(0, TftpServer::active_transfers)
    }

    /// Replaces the access policy; requests after this call are judged by
    /// the new one.
    pub fn set_policy(&self, policy: AccessPolicy) {
        let policy = Arc::new(policy);
        match self.state.policy.write() {
            Ok(mut p) => *p = policy,
            Err(poisoned) => *poisoned.into_inner() = policy,
        }
    }

    /// The catalog the server is offering now.
    pub fn catalog(&self) -> Catalog {
        (*self.state.catalog()).clone()
    }

    /// Stops proxy-DHCP and TFTP; running transfers end. Returns when every
    /// thread has ended. Dropping the handle does the same.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(dhcp) = self.dhcp.take() {
            dhcp.stop();
        }
        if let Some(http) = self.http.take() {
            http.stop();
        }
        if let Some(tftp) = self.tftp.take() {
            tftp.stop();
        }
    }
}

impl Drop for BootServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The URL of `file` (relative to the root) on this server's HTTP port:
/// `http://10.0.0.5/images/...`, the port left out when it is 80, and
/// every byte outside the URL-safe set percent-encoded.
fn http_url(server: Ipv4Addr, port: u16, file: &str) -> String {
    let path = ipxe::url_path(file);
    if port == 80 {
        format!("http://{server}{path}")
    } else {
        format!("http://{server}:{port}{path}")
    }
}
