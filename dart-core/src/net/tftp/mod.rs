//! TFTP for the network boot server (RFC 1350, 2347, 2348, 2349, 7440 and
//! Microsoft's variable window).
//!
//! The packet codec ([`packet`]), safe resolution of requested file names
//! under the server root ([`path`]), and the read-only server ([`server`]):
//! [`TftpServer::start`] serves a directory to PXE clients, one thread per
//! transfer.

//!
//! Inside, dependencies run one way: [`server`] (the listener) starts
//! sessions; a session uses the settings (`config`), the events (`event`),
//! what all threads share (`shared`) and its slot (`slot`); none of those
//! knows the listener.

mod config;
mod event;
pub mod packet;
pub mod path;
mod recent;
pub mod server;
mod session;
mod shared;
mod slot;

pub use crate::net::files::{Gate, Provide, Provided, Rewrite};
pub use config::{TftpConfig, MAX_WINDOWSIZE};
pub use event::TftpEvent;
pub use packet::{ErrorCode, Mode, Options, Packet, ParseError, Request};
pub use path::{check_name, resolve, PathError};
pub use server::{TftpServer, MAX_BUSY_REPLIES_PER_SECOND, RECLAIM_AFTER};

/// The hooks of a [`TftpServer`]: the file servers' [`FileHooks`](crate::net::files::FileHooks).
pub type TftpHooks = crate::net::files::FileHooks;
