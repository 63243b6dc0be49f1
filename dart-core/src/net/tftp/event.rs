//! What the server reports about each request.

use std::fmt;
use std::net::SocketAddr;

/// What happened to a request, for logging; passed to the callback given to
/// [`TftpServer::start`](super::TftpServer::start), from the server's threads.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TftpEvent {
    /// A file was found and its transfer (or option negotiation) begins.
    Started {
        /// The client's address and port.
        client: SocketAddr,
        /// The file name as the client sent it.
        file: String,
        /// The file's size in bytes.
        size: u64,
    },
    /// The client acknowledged the last block.
    Finished {
        /// The client's address and port.
        client: SocketAddr,
        /// The file name as the client sent it.
        file: String,
        /// File bytes sent.
        bytes: u64,
        /// Time from the request to the last ACK, in seconds.
        seconds: f64,
    },
    /// A request was refused: file not found, name refused, write request,
    /// malformed request, or server busy. The client got an ERROR.
    Denied {
        /// The client's address and port.
        client: SocketAddr,
        /// The file name as the client sent it (empty if the request did
        /// not parse).
        file: String,
        /// Why, in one sentence.
        reason: String,
    },
    /// The client ended the transfer with an ERROR packet; a `tsize` probe
    /// ends this way (usually code 8), as does a user's cancel.
    Aborted {
        /// The client's address and port.
        client: SocketAddr,
        /// The file name as the client sent it.
        file: String,
        /// The client's error code.
        code: u16,
        /// The client's error message.
        message: String,
    },
    /// The client asked again from the same port, with a different
    /// request, before it acknowledged anything (a `tsize` probe followed
    /// by the real request): the new request replaces this one.
    Replaced {
        /// The client's address and port.
        client: SocketAddr,
        /// The file name of the replaced request.
        file: String,
    },
    /// A transfer could not complete: the client stopped answering, went
    /// away, the file could not be read, or the server was stopped.
    Failed {
        /// The client's address and port.
        client: SocketAddr,
        /// The file name as the client sent it.
        file: String,
        /// Why, in one sentence.
        reason: String,
    },
}

impl fmt::Display for TftpEvent {
    /// One log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TftpEvent::Started { client, file, size } => {
                write!(f, "TFTP {client}: sending {file:?} ({size} bytes)")
            }
            TftpEvent::Finished {
                client,
                file,
                bytes,
                seconds,
            } => write!(
                f,
                "TFTP {client}: sent {file:?} ({bytes} bytes in {seconds:.3} s)"
            ),
            TftpEvent::Denied {
                client,
                file,
                reason,
            } => write!(f, "TFTP {client}: refused {file:?}: {reason}"),
            TftpEvent::Aborted {
                client,
                file,
                code,
                message,
            } => write!(
                f,
                "TFTP {client}: client ended the transfer of {file:?} with error {code} {message:?}"
            ),
            TftpEvent::Replaced { client, file } => write!(
                f,
                "TFTP {client}: asked again before acknowledging {file:?}; the new request replaces it"
            ),
            TftpEvent::Failed {
                client,
                file,
                reason,
            } => write!(f, "TFTP {client}: transfer of {file:?} failed: {reason}"),
        }
    }
}
