//! The read-only TFTP server: one listener thread on the well-known port,
//! one thread per transfer on a port of its own.
//!
//! [`TftpServer::start`] binds the listening socket and returns a handle;
//! the server runs until [`TftpServer::stop`] is called or the handle is
//! dropped. What it does with each request:
//!
//! - **RRQ**: if the client's address has fewer than
//!   [`TftpConfig::max_per_client`] transfers and the server fewer than
//!   [`TftpConfig::max_transfers`], a reply socket is bound (on an ephemeral
//!   port, or one from [`TftpConfig::reply_ports`]) and a session thread
//!   serves the file from there. When a limit is reached, the request takes
//!   the slot of the longest-silent transfer (of that address, or of any)
//!   whose client has acknowledged nothing for [`RECLAIM_AFTER`]; if there
//!   is none, the client gets ERROR 0 "server busy". The session resolves
//!   the name with [`resolve`](super::path::resolve) (case-insensitive, `\`
//!   or `/`, never outside the root), negotiates options (RFC 2347:
//!   `blksize`, `tsize`, `timeout` up to [`TftpConfig::max_timeout`],
//!   `windowsize`, Microsoft's `msftwindow`) and streams the file block by
//!   block; see the session rules below.
//! - A request from a port whose session is still running: once that
//!   client has acknowledged something, it is a late copy and is ignored
//!   (a forged copy cannot end a transfer). Before that, a byte-identical
//!   copy is a retry, answered with one more copy of the first reply; a
//!   different request (or a copy that follows the client's ERROR, as after
//!   a `tsize` probe) replaces the session, and starts as soon as the old
//!   one has ended ([`TftpEvent::Replaced`]).
//! - A byte-identical request from the port of a transfer that *finished*
//!   less than a second ago is a late copy (a retry that waited in the
//!   queue while the transfer ran) and is dropped unanswered; a client
//!   that really asks again is served at its next retry.
//! - **WRQ**: ERROR 2 (access violation); the server never writes.
//! - An address over its share keeps being told "busy" at most
//!   [`MAX_BUSY_REPLIES_PER_SECOND`] times a second; its further requests
//!   are dropped unanswered.
//! - A request that does not parse: ERROR 4 with the reason.
//! - Anything else sent to the listening port (stray DATA, ACK, random
//!   bytes): ignored.
//!
//! Session rules:
//!
//! - Options the client did not send are never in the OACK; when the client
//!   sent none that the server accepts, the transfer starts with DATA 1
//!   (RFC 1350). `blksize` is capped at [`TftpConfig::max_blksize`],
//!   `windowsize` at [`MAX_WINDOWSIZE`](super::MAX_WINDOWSIZE); `tsize` is answered with the file
//!   size in octet mode and left out in netascii mode (the converted size is
//!   not known in advance); `msftwindow` is accepted only as Windows Boot
//!   Manager sends it (31416) and answered with 27182, after which the extra
//!   byte of each ACK sets the size of the next window (1 to 255 blocks).
//! - Block numbers roll over from 65535 to 0, so files of any size transfer.
//! - A duplicate ACK never causes DATA to be sent (the Sorcerer's
//!   Apprentice bug); an ACK inside the window sent (RFC 7440) moves the
//!   window to the block after it. Once the client has acknowledged
//!   something, a timeout resends the unacknowledged window, at most
//!   [`TftpConfig::retries`] times in a row and for at most
//!   [`TftpConfig::silence_budget`] of timeouts in all, before the session
//!   gives up with ERROR 0.
//! - Until the client has acknowledged something, the session sends one
//!   datagram per request (the OACK or DATA 1) and never resends on its
//!   own, so a forged source address draws no more bytes than it sent
//!   requests; after the retries it ends without a word.
//! - An ERROR from the client ends the session at once; that is how a
//!   client ends a `tsize` probe (usually with code 8), and it is reported
//!   as [`TftpEvent::Aborted`], not as a failure.
//! - Each transfer holds one open file, one packet buffer and a few bytes
//!   per block of the window in memory; blocks are read with positioned
//!   reads when they are sent (and again when resent), never buffered whole.
//!
//! Known limits: the reply socket is bound to the IP address of
//! [`TftpConfig::bind`]; when that is the unspecified address, the kernel
//! picks the reply's source address by route, which on a host with several
//! addresses in one subnet may differ from the address the client asked.

use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::config::TftpConfig;
use super::event::TftpEvent;
use super::packet::{clip, ErrorCode, Packet};
use super::recent::RecentlyFinished;
use super::session::{is_timeout, Session};
use super::shared::{Shared, POLL};
use super::slot::{Cancel, Control, Pending, Slot};
use super::TftpHooks;
use crate::beneath::RootDir;
use crate::error::{Error, Result};

/// How often the listener looks for ended sessions while a request waits
/// for one of them to end.
const POLL_PENDING: Duration = Duration::from_millis(5);

/// How long a client that acknowledged nothing keeps its slot when the
/// server (or its address's share) is full and another request comes.
pub const RECLAIM_AFTER: Duration = Duration::from_millis(200);

/// Most "server busy" refusals one address gets per second; an address
/// that keeps asking beyond its share is flooding, and the rest of its
/// requests in that second are dropped unanswered (and unreported), so
/// that answering it cannot take the listener's time from other clients.
pub const MAX_BUSY_REPLIES_PER_SECOND: u32 = 20;

/// Most addresses whose "busy" refusals are counted in one second; beyond
/// it (a flood from many forged addresses), further busy requests of new
/// addresses are dropped unanswered too.
const MAX_BUSY_ADDRESSES: usize = 4096;

/// The listener's record of a session that has not ended.
struct Running {
    /// The client's address and port.
    client: SocketAddr,
    /// The request as received, to tell a retry from a new request.
    bytes: Vec<u8>,
    control: Arc<Control>,
    handle: JoinHandle<()>,
    /// When the session started or was last poked: how long its client
    /// has been silent, if it never acknowledged anything.
    since: Instant,
    /// Whether the listener has cancelled it (it no longer counts against
    /// the limits, although its thread may still be ending).
    cancelled: bool,
    /// Whether a repeated request was handed to it (at `since`).
    poked: bool,
}

impl Running {
    /// Whether the session still counts against the limits.
    fn live(&self) -> bool {
        !self.cancelled
    }

    /// Whether its slot may go to another request: its client has
    /// acknowledged nothing for at least [`RECLAIM_AFTER`].
    fn reclaimable(&self, now: Instant) -> bool {
        self.live()
            && !self.control.confirmed()
            && now.saturating_duration_since(self.since) >= RECLAIM_AFTER
    }
}

/// A running TFTP server; stops when [`stop`](TftpServer::stop)ped or
/// dropped.
pub struct TftpServer {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    listener: Option<JoinHandle<()>>,
}

impl fmt::Debug for TftpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TftpServer")
            .field("local_addr", &self.local_addr)
            .field("root", &self.shared.config.root)
            .field("active_transfers", &self.active_transfers())
            .finish()
    }
}

impl TftpServer {
    /// Checks `config`, binds the listening socket and starts serving on a
    /// thread of its own; returns at once. `events`, if given, is called
    /// for each [`TftpEvent`], from the server's threads: it should return
    /// quickly (a slow callback slows the transfer or the listener that
    /// calls it) and must not stop the server.
    ///
    /// Fails with [`Error::NotFound`] if the root does not exist,
    /// [`Error::InvalidSetting`] for a setting out of range, and
    /// [`Error::Io`] naming the address if the socket cannot be bound.
    ///
    /// ```no_run
    /// use dart_core::net::tftp::{TftpConfig, TftpServer};
    ///
    /// let config = TftpConfig {
    ///     root: "/srv/tftp".into(),
    ///     bind: "0.0.0.0:69".parse().unwrap(),
    ///     ..TftpConfig::default()
    /// };
    /// let server = TftpServer::start(config, Some(Box::new(|event| eprintln!("{event}"))))?;
    /// println!("serving on {}", server.local_addr());
    /// // ... until the boot server shuts down:
    /// server.stop();
    /// # Ok::<(), dart_core::Error>(())
    /// ```
    pub fn start(
        config: TftpConfig,
        events: Option<Box<dyn Fn(TftpEvent) + Send + Sync>>,
    ) -> Result<TftpServer> {
        TftpServer::start_with(config, TftpHooks::default(), events)
    }

    /// [`start`](TftpServer::start) with [`TftpHooks`]: a [`Rewrite`](super::Rewrite) of
    /// each requested name and a [`Gate`](super::Gate) every request passes after its
    /// name resolves and before the file is opened; the boot server uses
    /// them to give each client its image's directory and to enforce its
    /// access policy.
    pub fn start_with(
        config: TftpConfig,
        hooks: TftpHooks,
        events: Option<Box<dyn Fn(TftpEvent) + Send + Sync>>,
    ) -> Result<TftpServer> {
        config.check()?;
        let mut config = config;
        // Resolved names are canonical paths; the gate gets them relative
        // to the canonical root.
        config.root =
            std::fs::canonicalize(&config.root).map_err(|e| Error::read(&config.root, e))?;
        let root = RootDir::open(&config.root).map_err(|e| Error::read(&config.root, e))?;
        let bind_error = |action, source| Error::Io {
            action,
            path: PathBuf::from(config.bind.to_string()),
            source,
            untouched: "no server was started",
        };
        let socket = UdpSocket::bind(config.bind)
            .map_err(|e| bind_error("binding the TFTP server socket to", e))?;
        crate::net::udp::enlarge_receive_buffer(&socket, crate::net::udp::RECEIVE_BUFFER);
        socket
            .set_read_timeout(Some(POLL))
            .map_err(|e| bind_error("setting a read timeout on the TFTP socket", e))?;
        let local_addr = socket
            .local_addr()
            .map_err(|e| bind_error("reading the local address of the TFTP socket", e))?;
        let shared = Arc::new(Shared::new(config, root, hooks, events));
        let listener_shared = Arc::clone(&shared);
        let listener = thread::Builder::new()
            .name(format!("tftp {local_addr}"))
            .spawn(move || Listener::new(socket, listener_shared).run())
            .map_err(|e| Error::Io {
                action: "starting the TFTP listener thread for",
                path: PathBuf::from(local_addr.to_string()),
                source: e,
                untouched: "no server was started",
            })?;
        Ok(TftpServer {
            local_addr,
            shared,
            listener: Some(listener),
        })
    }

    /// The address the server listens on (with the port the system chose
    /// when the configured port was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Transfers running now (sessions between their request and their
    /// end).
    pub fn active_transfers(&self) -> usize {
        self.shared.active.load(Ordering::Acquire)
    }

    /// Stops the server: no new requests are read, running transfers send
    /// the client ERROR 0 and end. Returns when every thread has ended
    /// (within a few tenths of a second). Dropping the handle does the same.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(listener) = self.listener.take() {
            // A panic in the listener has already been reported on stderr;
            // there is nothing more to do with it here.
            let _ = listener.join();
        }
    }
}

impl Drop for TftpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The listener thread's state.
struct Listener {
    socket: UdpSocket,
    shared: Arc<Shared>,
    /// Sessions that have not ended yet.
    sessions: Vec<Running>,
    /// Threads of sessions that have ended, joined when the server stops.
    ending: Vec<JoinHandle<()>>,
    /// Where the next search for a free reply port starts in the range.
    next_port: u32,
    /// The socket's read timeout now (short while a request waits for a
    /// session to end).
    poll: Duration,
    /// "Busy" refusals per address in the current second.
    busy: BusyBudget,
    /// Transfers that finished a moment ago (their late copies are dropped).
    recent: RecentlyFinished,
}

/// Counts "busy" refusals per address in one-second windows (each begins
/// with the first refusal after the last one ended).
struct BusyBudget {
    window: Option<Instant>,
    counts: std::collections::HashMap<std::net::IpAddr, u32>,
}

impl BusyBudget {
    fn new() -> Self {
        BusyBudget {
            window: None,
            counts: std::collections::HashMap::new(),
        }
    }

    /// Whether `ip` may be told "busy" once more now.
    fn allow(&mut self, ip: std::net::IpAddr, now: Instant) -> bool {
        let start = *self.window.get_or_insert(now);
        if now.saturating_duration_since(start) >= Duration::from_secs(1) {
            self.window = Some(now);
            self.counts.clear();
        }
        if self.counts.len() >= MAX_BUSY_ADDRESSES && !self.counts.contains_key(&ip) {
            return false;
        }
        let count = self.counts.entry(ip).or_insert(0);
        *count = count.saturating_add(1);
        *count <= MAX_BUSY_REPLIES_PER_SECOND
    }
}

impl Listener {
    fn new(socket: UdpSocket, shared: Arc<Shared>) -> Self {
        Listener {
            socket,
            shared,
            sessions: Vec::new(),
            ending: Vec::new(),
            next_port: 0,
            poll: POLL,
            busy: BusyBudget::new(),
            recent: RecentlyFinished::new(),
        }
    }

    fn run(mut self) {
        // Requests are small; the largest UDP payload fits in any case.
        let mut buf = vec![0u8; 65536];
        while !self.shared.stopping() {
            match self.socket.recv_from(&mut buf) {
                Ok((n, client)) => self.request(&buf[..n], client),
                Err(e) if is_timeout(&e) => {}
                // Nothing to do about other receive errors (an ICMP error
                // for an earlier reply, a transient lack of buffers) but not
                // to spin on them.
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
            self.prune();
            // While a request waits for its port's old session to end, look
            // again soon; otherwise at the stop-flag pace.
            let now = Instant::now();
            let waiting = self
                .sessions
                .iter()
                .any(|r| r.cancelled || (r.poked && now.saturating_duration_since(r.since) < POLL));
            let poll = if waiting { POLL_PENDING } else { POLL };
            if poll != self.poll && self.socket.set_read_timeout(Some(poll)).is_ok() {
                self.poll = poll;
            }
        }
        let running = self.sessions.drain(..).map(|r| r.handle);
        for handle in running.chain(self.ending.drain(..)) {
            // A session's panic has been reported on stderr already.
            let _ = handle.join();
        }
    }

    /// Moves sessions that have ended out of the table, starts the
    /// requests that waited for them, and forgets threads that finished.
    fn prune(&mut self) {
        self.ending.retain(|h| !h.is_finished());
        let now = Instant::now();
        let mut restart = Vec::new();
        let mut i = 0;
        while i < self.sessions.len() {
            if self.sessions[i].control.ended() {
                let ended = self.sessions.swap_remove(i);
                if ended.control.finished() {
                    self.recent.record(ended.client, &ended.bytes, now);
                }
                if let Some(pending) = ended.control.take_pending() {
                    if !self.recent.is_late_copy(ended.client, &pending.bytes, now) {
                        restart.push((ended.client, pending));
                    }
                }
                self.ending.push(ended.handle);
            } else {
                i += 1;
            }
        }
        for (client, pending) in restart {
            self.start(client, pending);
        }
    }

    /// Answers one datagram received on the listening port.
    fn request(&mut self, bytes: &[u8], client: SocketAddr) {
        let request = match Packet::parse(bytes) {
            Ok(Packet::Rrq(request)) => request,
            Ok(Packet::Wrq(request)) => {
                self.deny(
                    client,
                    &request.filename,
                    ErrorCode::AccessViolation,
                    "this TFTP server is read-only; write requests are refused",
                );
                return;
            }
            Err(e) if matches!(bytes, [0, 1 | 2, ..]) => {
                self.deny(
                    client,
                    "",
                    ErrorCode::IllegalOperation,
                    &format!("malformed request: {e}"),
                );
                return;
            }
            // Stray DATA, ACK, ERROR or OACK, or bytes that are no TFTP
            // packet at all: nothing to answer.
            Ok(_) | Err(_) => return,
        };
        let pending = Pending {
            request,
            bytes: bytes.to_vec(),
        };

        // A session that has ended is gone: the same port asking again (a
        // tsize probe followed by the real request) starts a new one.
        self.prune();
        if let Some(running) = self.sessions.iter_mut().find(|r| r.client == client) {
            // Once the client has acknowledged something, the session is
            // its transfer: a request from the same port is a late copy of
            // the first (a new session would send every block twice, and a
            // forged one must not end a transfer).
            if running.control.confirmed() {
                return;
            }
            // Before that, the session decides: a copy of its own request
            // is a retry it answers once more (never more than once per
            // request); anything else replaces it, and so does a copy that
            // arrives after an ERROR from the client (the probe's end).
            let retry = pending.bytes == running.bytes && !running.cancelled;
            running.control.poke(pending);
            running.poked = true;
            if retry {
                running.since = Instant::now();
            } else {
                running.control.cancel(Cancel::Replaced);
                running.cancelled = true;
            }
            return;
        }
        if self
            .recent
            .is_late_copy(client, &pending.bytes, Instant::now())
        {
            return;
        }
        self.start(client, pending);
    }

    /// Starts a session for a request from a port that has none, if the
    /// limits allow it.
    fn start(&mut self, client: SocketAddr, pending: Pending) {
        let Pending { request, bytes } = pending;
        if let Err(reason) = self.make_room(client) {
            if self.busy.allow(client.ip(), Instant::now()) {
                self.deny(client, &request.filename, ErrorCode::NotDefined, &reason);
            }
            return;
        }
        let slot = Slot::take(&self.shared.active);
        let socket = match self.reply_socket(client) {
            Ok(socket) => socket,
            Err(e) => {
                drop(slot);
                self.deny(
                    client,
                    &request.filename,
                    ErrorCode::NotDefined,
                    &format!("server busy: no reply port could be bound ({e})"),
                );
                return;
            }
        };
        let file = request.filename.clone();
        let control = Arc::clone(slot.control());
        let session = Session::new(socket, client, request, Arc::clone(&self.shared), slot);
        match thread::Builder::new()
            .name(format!("tftp {client}"))
            .spawn(move || session.run())
        {
            Ok(handle) => self.sessions.push(Running {
                client,
                bytes,
                control,
                handle,
                since: Instant::now(),
                cancelled: false,
                poked: false,
            }),
            // The closure, and with it the slot, was dropped.
            Err(e) => self.deny(
                client,
                &file,
                ErrorCode::NotDefined,
                &format!("server busy: no thread for the transfer ({e})"),
            ),
        }
    }

    /// Checks the per-address and the total limit for a new session from
    /// `client`; where one is reached, takes the slot of the longest-silent
    /// session (of that address, or of any) whose client never acknowledged
    /// anything. Only this thread starts and cancels sessions, so the count
    /// and the decision cannot race with another one.
    fn make_room(&mut self, client: SocketAddr) -> std::result::Result<(), String> {
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        let now = Instant::now();
        let same_ip = |r: &Running| r.client.ip() == client.ip();
        let from_client = self
            .sessions
            .iter()
            .filter(|r| r.live() && same_ip(r))
            .count();
        if from_client >= config.max_per_client {
            if !self.reclaim(now, same_ip) {
                return Err(format!(
                    "server busy: {} already has {} transfers running, the most one address may have",
                    client.ip(),
                    config.max_per_client
                ));
            }
            return Ok(());
        }
        let live = self.sessions.iter().filter(|r| r.live()).count();
        if live >= config.max_transfers && !self.reclaim(now, |_| true) {
            return Err(format!(
                "server busy: {} transfers are running, try again later",
                config.max_transfers
            ));
        }
        Ok(())
    }

    /// Cancels the longest-silent reclaimable session among those `which`
    /// selects; whether there was one.
    fn reclaim(&mut self, now: Instant, which: impl Fn(&Running) -> bool) -> bool {
        let victim = self
            .sessions
            .iter_mut()
            .filter(|r| which(r) && r.reclaimable(now))
            .min_by_key(|r| r.since);
        match victim {
            Some(r) => {
                r.control.cancel(Cancel::Reclaimed);
                r.cancelled = true;
                true
            }
            None => false,
        }
    }

    /// Binds the socket a transfer replies from and connects it to the
    /// client, so that it only hears the client (and learns, from ICMP, when
    /// the client is gone).
    fn reply_socket(&mut self, client: SocketAddr) -> io::Result<UdpSocket> {
        let ip = self.shared.config.bind.ip();
        let socket = match self.shared.config.reply_ports.clone() {
            None => UdpSocket::bind((ip, 0))?,
            Some(ports) => {
                let (first, last) = (u32::from(*ports.start()), u32::from(*ports.end()));
                let count = last - first + 1;
                let mut error = io::Error::new(io::ErrorKind::AddrInUse, "no port in the range");
                let mut bound = None;
                for i in 0..count {
                    let offset = (self.next_port + i) % count;
                    let Ok(port) = u16::try_from(first + offset) else {
                        continue;
                    };
                    match UdpSocket::bind((ip, port)) {
                        Ok(socket) => {
                            self.next_port = (offset + 1) % count;
                            bound = Some(socket);
                            break;
                        }
                        Err(e) => error = e,
                    }
                }
                match bound {
                    Some(socket) => socket,
                    None => {
                        return Err(io::Error::new(
                            error.kind(),
                            format!(
                                "every port in {first}..={last} is taken, the last error: {error}"
                            ),
                        ))
                    }
                }
            }
        };
        socket.connect(client)?;
        Ok(socket)
    }

    /// Sends ERROR from the listening port and reports the refusal.
    fn deny(&self, client: SocketAddr, file: &str, code: ErrorCode, reason: &str) {
        let packet = Packet::Error {
            code,
            message: clip(reason).to_owned(),
        };
        // If the error cannot be sent the client times out; nothing else
        // can be done.
        let _ = self.socket.send_to(&packet.to_bytes(), client);
        self.shared.emit(TftpEvent::Denied {
            client,
            file: file.to_owned(),
            reason: reason.to_owned(),
        });
    }
}
