//! What the listener and every session share: the settings, the opened
//! root, the hooks, the event callback, the stop flag and the count of
//! running transfers.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::config::TftpConfig;
use super::event::TftpEvent;
use crate::beneath::RootDir;

/// How often blocked threads look at the stop flag.
pub(super) const POLL: Duration = Duration::from_millis(100);

/// The event callback.
type EventSink = Box<dyn Fn(TftpEvent) + Send + Sync>;

/// Decides whether a client may read a file, after its name has been
/// resolved: called with the client's address and the file's path relative
/// to the root (as it is on disk, `/`-separated components). `Err` holds
/// the reason given to the client (ERROR 2) and in [`TftpEvent::Denied`].
pub type Gate = Arc<dyn Fn(SocketAddr, &Path) -> std::result::Result<(), String> + Send + Sync>;

/// Maps the name a client asked for to the name resolved under the root,
/// per client (`None` keeps the name); the boot server uses it to give each
/// client the directory of the image version it was offered as its root.
pub type Rewrite = Arc<dyn Fn(SocketAddr, &str) -> Option<String> + Send + Sync>;

/// What a [`Provide`] hook answers for a name it generates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provided {
    /// The file's contents, made for this client.
    Bytes(Arc<[u8]>),
    /// The client may not have it: the reason (ERROR 2, and
    /// [`TftpEvent::Denied`]).
    Refused(String),
}

/// Generates files that are not on disk (a boot store made for each
/// client): called with the client's address and the requested name, after
/// the name passed [`check_name`](super::path::check_name) and before any
/// rewrite or lookup. `None`: not a generated name; the request goes on to
/// the disk as usual. It never maps a name to a file, so the path rules
/// for files on disk stay as they are.
pub type Provide = Arc<dyn Fn(SocketAddr, &str) -> Option<Provided> + Send + Sync>;

/// Per-request hooks of a [`TftpServer`](super::TftpServer), for servers that treat clients
/// differently; all are called from the session threads and should
/// return quickly.
#[derive(Clone, Default)]
pub struct TftpHooks {
    /// Generates files that are not on disk; consulted first.
    pub provide: Option<Provide>,
    /// Applied to the requested name before it is resolved.
    pub rewrite: Option<Rewrite>,
    /// Checked after the name resolves, before the file is opened.
    pub gate: Option<Gate>,
}

impl fmt::Debug for TftpHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TftpHooks")
            .field("provide", &self.provide.is_some())
            .field("rewrite", &self.rewrite.is_some())
            .field("gate", &self.gate.is_some())
            .finish()
    }
}

/// State shared by the listener and the sessions.
pub(super) struct Shared {
    pub(super) config: TftpConfig,
    /// The root, opened once: files are opened beneath it.
    pub(super) root: RootDir,
    pub(super) hooks: TftpHooks,
    events: Option<EventSink>,
    pub(super) stop: AtomicBool,
    /// How many transfers hold a slot now.
    pub(super) active: Arc<AtomicUsize>,
}

impl Shared {
    /// The state of a server serving `root` (opened from `config.root`).
    pub(super) fn new(
        config: TftpConfig,
        root: RootDir,
        hooks: TftpHooks,
        events: Option<EventSink>,
    ) -> Self {
        Shared {
            config,
            root,
            hooks,
            events,
            stop: AtomicBool::new(false),
            active: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub(super) fn emit(&self, event: TftpEvent) {
        if let Some(sink) = &self.events {
            sink(event);
        }
    }

    pub(super) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}
