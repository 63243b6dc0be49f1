//! TFTP for the network boot server (RFC 1350, 2347, 2348, 2349, 7440 and
//! Microsoft's variable window).
//!
//! So far: the packet codec ([`packet`]) and safe resolution of requested
//! file names under the server root ([`path`]). Sessions and the server
//! come later.

pub mod packet;
pub mod path;

pub use packet::{ErrorCode, Mode, Options, Packet, ParseError, Request};
pub use path::{resolve, PathError};
