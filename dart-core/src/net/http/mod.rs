//! The boot server over HTTP/1.1: the wire codec ([`wire`], no I/O) and a
//! read-only file server ([`HttpServer`]) for UEFI HTTP Boot, iPXE and
//! anything else that fetches the staged files over HTTP, under the same
//! [`FileHooks`](crate::net::files::FileHooks) (generated menus, per-client
//! names, the access policy's gate) and path rules as TFTP.

mod config;
mod connection;
mod date;
mod event;
mod server;
pub mod wire;

pub use config::HttpConfig;
pub use date::http_date;
pub use event::HttpEvent;
pub use server::HttpServer;
