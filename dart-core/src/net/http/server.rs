//! The listener: accepts connections, keeps the limits (all connections,
//! and per client address), and starts one thread per connection.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::config::HttpConfig;
use super::connection;
use super::event::HttpEvent;
use super::wire::response_head;
use crate::beneath::RootDir;
use crate::error::{Error, Result};
use crate::net::files::FileHooks;

/// The event callback.
type EventSink = Box<dyn Fn(HttpEvent) + Send + Sync>;

/// State the listener and the connections share.
pub(super) struct Shared {
    pub(super) config: HttpConfig,
    /// The root, opened once: files are opened beneath it.
    pub(super) root: RootDir,
    pub(super) hooks: FileHooks,
    events: Option<EventSink>,
    stop: AtomicBool,
    conns: Mutex<Connections>,
}

impl Shared {
    pub(super) fn emit(&self, event: HttpEvent) {
        if let Some(sink) = &self.events {
            sink(event);
        }
    }

    pub(super) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn conns(&self) -> MutexGuard<'_, Connections> {
        match self.conns.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// The connections being served.
#[derive(Default)]
struct Connections {
    /// Open connections per client address.
    per_client: HashMap<IpAddr, usize>,
    /// A handle on each open connection, to shut it at stop.
    open: HashMap<u64, TcpStream>,
    next: u64,
    threads: Vec<JoinHandle<()>>,
}

/// A read-only HTTP/1.1 file server (GET, HEAD, single byte ranges,
/// keep-alive, ETag and `If-None-Match`) for boot clients: UEFI HTTP Boot,
/// iPXE, and anything that fetches the staged files over HTTP.
///
/// Names resolve as for TFTP ([`resolve`](crate::net::tftp::resolve)):
/// beneath the root only, no traversal, no symbolic links, either
/// separator, case-insensitive; the [`FileHooks`] generate files, rewrite
/// names and gate each request per client address. One thread per
/// connection; at most [`HttpConfig::max_connections`] at once and
/// [`HttpConfig::max_per_client`] from one address (more get `503`).
pub struct HttpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    listener: Option<JoinHandle<()>>,
    /// The listening socket (a second handle), to wake the blocked accept
    /// at stop.
    waker: TcpListener,
}

impl fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServer")
            .field("addr", &self.addr)
            .field("root", &self.shared.config.root)
            .finish()
    }
}

impl HttpServer {
    /// Starts serving `config.root` on `config.bind`.
    ///
    /// ```no_run
    /// use dart_core::net::http::{HttpConfig, HttpServer};
    /// let server = HttpServer::start(
    ///     HttpConfig {
    ///         root: "/srv/dart".into(),
    ///         bind: "0.0.0.0:8080".parse().unwrap(),
    ///         ..HttpConfig::default()
    ///     },
    ///     Default::default(),
    ///     Some(Box::new(|event| eprintln!("{event}"))),
    /// )?;
    /// println!("serving on {}", server.local_addr());
    /// server.stop();
    /// # Ok::<(), dart_core::Error>(())
    /// ```
    pub fn start(
        config: HttpConfig,
        hooks: FileHooks,
        events: Option<Box<dyn Fn(HttpEvent) + Send + Sync>>,
    ) -> Result<HttpServer> {
        if config.max_connections == 0 || config.max_per_client == 0 {
            return Err(Error::invalid(
                "HTTP connection limits",
                format!(
                    "{} connections, {} per client",
                    config.max_connections, config.max_per_client
                ),
                "both must be at least 1",
            ));
        }
        let root = std::fs::canonicalize(&config.root)
            .and_then(|r| RootDir::open(&r))
            .map_err(|e| Error::read(&config.root, e))?;
        let bind_error = |action, source| Error::Io {
            action,
            path: PathBuf::from(config.bind.to_string()),
            source,
            untouched: if config.bind.port() < 1024 {
                "no server was started (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
            } else {
                "no server was started"
            },
        };
        let listener =
            TcpListener::bind(config.bind).map_err(|e| bind_error("listening for HTTP on", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| bind_error("reading the local address of the HTTP listener", e))?;
        let waker = listener
            .try_clone()
            .map_err(|e| bind_error("preparing the HTTP listener on", e))?;
        let shared = Arc::new(Shared {
            config,
            root,
            hooks,
            events,
            stop: AtomicBool::new(false),
            conns: Mutex::new(Connections::default()),
        });
        let for_listener = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("dart-http".into())
            .spawn(move || listen(&for_listener, &listener))
            .map_err(|e| Error::Io {
                action: "starting the HTTP listener thread for",
                path: PathBuf::from(addr.to_string()),
                source: e,
                untouched: "no server was started",
            })?;
        Ok(HttpServer {
            addr,
            shared,
            listener: Some(thread),
            waker,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.shared.conns().open.len()
    }

    /// Stops listening and closes every connection; returns when every
    /// thread has ended. Dropping the handle does the same.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::Release);
        wake_accept(&self.waker, self.addr);
        let _ = listener.join();
        let threads = {
            let mut conns = self.shared.conns();
            for stream in conns.open.values() {
                let _ = stream.shutdown(Shutdown::Both);
            }
            std::mem::take(&mut conns.threads)
        };
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Wakes a thread blocked in `accept` on `listener` (bound to `addr`).
///
/// On Unix, `shutdown(2)` on the listening socket makes a blocked
/// `accept` return at once (EINVAL on Linux), wherever the caller runs.
/// A connection of our own would not do: from another network namespace
/// (a server started inside one and stopped from outside), the address
/// the server listens on is not reachable.
#[cfg(unix)]
fn wake_accept(listener: &TcpListener, _addr: SocketAddr) {
    use std::os::fd::AsRawFd;
    // SAFETY: shutdown on a descriptor this handle owns for its whole
    // life; it changes only that socket's state and touches no memory.
    unsafe {
        libc::shutdown(listener.as_raw_fd(), libc::SHUT_RDWR);
    }
}

/// Wakes a thread blocked in `accept` on the listener bound to `addr` with
/// a connection of our own.
#[cfg(not(unix))]
fn wake_accept(_listener: &TcpListener, addr: SocketAddr) {
    use std::net::{Ipv4Addr, Ipv6Addr};
    let wake = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    };
    let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
}

/// Accepts until stopped.
fn listen(shared: &Arc<Shared>, listener: &TcpListener) {
    loop {
        let accepted = listener.accept();
        if shared.stopping() {
            return;
        }
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            // Out of descriptors or the like: let connections end first.
            Err(_) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        admit(shared, stream, peer);
    }
}

/// Starts serving one connection, or answers `503` when the limits are
/// reached.
fn admit(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let config = &shared.config;
    let id = {
        let mut conns = shared.conns();
        conns.threads.retain(|t| !t.is_finished());
        let mine = conns.per_client.get(&peer.ip()).copied().unwrap_or(0);
        let busy = if conns.open.len() >= config.max_connections {
            Some(format!(
                "the server is serving its limit of {} connections",
                config.max_connections
            ))
        } else if mine >= config.max_per_client {
            Some(format!(
                "this client already holds {} connections, the limit per client",
                config.max_per_client
            ))
        } else {
            None
        };
        if let Some(reason) = busy {
            drop(conns);
            refuse_busy(shared, stream, peer, reason);
            return;
        }
        let Ok(handle) = stream.try_clone() else {
            return;
        };
        *conns.per_client.entry(peer.ip()).or_insert(0) += 1;
        let id = conns.next;
        conns.next += 1;
        conns.open.insert(id, handle);
        id
    };
    let for_thread = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name("dart-http-conn".into())
        .spawn(move || {
            connection::serve(&for_thread, stream, peer);
            release(&for_thread, id, peer);
        });
    match spawned {
        Ok(thread) => shared.conns().threads.push(thread),
        Err(_) => release(shared, id, peer),
    }
}

fn release(shared: &Shared, id: u64, peer: SocketAddr) {
    let mut conns = shared.conns();
    conns.open.remove(&id);
    if let Some(n) = conns.per_client.get_mut(&peer.ip()) {
        *n -= 1;
        if *n == 0 {
            conns.per_client.remove(&peer.ip());
        }
    }
}

fn refuse_busy(shared: &Shared, mut stream: TcpStream, peer: SocketAddr, reason: String) {
    let body = format!("{reason}\n");
    let mut out = response_head(
        503,
        &[
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Retry-After", "1"),
        ],
        body.len() as u64,
        false,
    );
    out.extend_from_slice(body.as_bytes());
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(&out);
    let _ = stream.shutdown(Shutdown::Both);
    shared.emit(HttpEvent::Refused {
        client: peer,
        path: String::new(),
        status: 503,
        reason,
    });
}
