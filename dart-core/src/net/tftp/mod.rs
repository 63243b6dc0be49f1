//! TFTP for the network boot server (RFC 1350, 2347, 2348, 2349, 7440 and
//! Microsoft's variable window).
//!
//! The packet codec ([`packet`]), safe resolution of requested file names
//! under the server root ([`path`]), and the read-only server ([`server`]):
//! [`TftpServer::start`] serves a directory to PXE clients, one thread per
//! transfer.

pub mod packet;
pub mod path;
mod recent;
pub mod server;
mod session;
mod slot;

pub use packet::{ErrorCode, Mode, Options, Packet, ParseError, Request};
pub use path::{resolve, PathError};
pub use server::{
    Gate, Rewrite, TftpConfig, TftpEvent, TftpHooks, TftpServer, MAX_BUSY_REPLIES_PER_SECOND,
    MAX_WINDOWSIZE, RECLAIM_AFTER,
};
