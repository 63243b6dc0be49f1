//! What the file servers (TFTP and HTTP) ask the boot service for each
//! request: [`FileHooks`], a provider of generated files, a name rewrite
//! and a gate. The servers keep the path rules (no traversal, no links,
//! beneath the root only); the hooks only narrow what a client gets.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// Decides whether a client may read a file, after its name has been
/// resolved: called with the client's address and the file's path relative
/// to the root (as it is on disk, `/`-separated components). `Err` holds
/// the reason given to the client (TFTP ERROR 2, HTTP 403) and in the
/// server's event.
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
    /// The client may not have it: the reason (TFTP ERROR 2, HTTP 403,
    /// and the server's event).
    Refused(String),
}

/// Generates files that are not on disk (a boot store made for each
/// client): called with the client's address and the requested name, after
/// the name passed [`check_name`](super::tftp::check_name) and before any
/// rewrite or lookup. `None`: not a generated name; the request goes on to
/// the disk as usual. It never maps a name to a file, so the path rules
/// for files on disk stay as they are.
pub type Provide = Arc<dyn Fn(SocketAddr, &str) -> Option<Provided> + Send + Sync>;

/// Per-request hooks of the file servers ([`TftpServer`](super::tftp::TftpServer),
/// [`HttpServer`](super::http::HttpServer)), for servers that treat clients
/// differently; all are called from the servers' threads and should
/// return quickly.
#[derive(Clone, Default)]
pub struct FileHooks {
    /// Generates files that are not on disk; consulted first.
    pub provide: Option<Provide>,
    /// Applied to the requested name before it is resolved.
    pub rewrite: Option<Rewrite>,
    /// Checked after the name resolves, before the file is opened.
    pub gate: Option<Gate>,
}

impl fmt::Debug for FileHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileHooks")
            .field("provide", &self.provide.is_some())
            .field("rewrite", &self.rewrite.is_some())
            .field("gate", &self.gate.is_some())
            .finish()
    }
}
