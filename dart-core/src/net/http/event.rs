//! What the HTTP server reports about each request.

use std::fmt;
use std::net::SocketAddr;

/// What happened to a request, for logging; passed to the callback given to
/// [`HttpServer::start`](super::HttpServer::start), from the server's
/// threads.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HttpEvent {
    /// A response with a body (or the head of one, for `HEAD`) was sent
    /// whole: status 200, 206 or 304.
    Served {
        /// The client's address and port.
        client: SocketAddr,
        /// The path as the client asked for it (percent-decoded).
        path: String,
        /// The status sent.
        status: u16,
        /// Body bytes sent.
        bytes: u64,
    },
    /// A request was refused with a 4xx or 5xx status.
    Refused {
        /// The client's address and port.
        client: SocketAddr,
        /// The path as the client asked for it (empty when the request
        /// did not parse).
        path: String,
        /// The status sent.
        status: u16,
        /// Why, in one sentence.
        reason: String,
    },
    /// A response was cut short: the client closed the connection or
    /// stopped reading.
    Cut {
        /// The client's address and port.
        client: SocketAddr,
        /// The path asked for.
        path: String,
        /// Body bytes sent before the cut.
        bytes: u64,
        /// What failed.
        reason: String,
    },
}

impl fmt::Display for HttpEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpEvent::Served {
                client,
                path,
                status,
                bytes,
            } => write!(
                f,
                "HTTP {client}: {status} \"{}\" ({bytes} bytes)",
                path.escape_debug()
            ),
            HttpEvent::Refused {
                client,
                path,
                status,
                reason,
            } => write!(
                f,
                "HTTP {client}: {status} \"{}\": {reason}",
                path.escape_debug()
            ),
            HttpEvent::Cut {
                client,
                path,
                bytes,
                reason,
            } => write!(
                f,
                "HTTP {client}: \"{}\" cut after {bytes} bytes: {reason}",
                path.escape_debug()
            ),
        }
    }
}
