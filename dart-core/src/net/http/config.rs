//! The HTTP server's settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of an [`HttpServer`](super::HttpServer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// The directory served; nothing outside it is ever read.
    pub root: PathBuf,
    /// The address to listen on (port 0: any free port).
    pub bind: SocketAddr,
    /// Connections served at once; one more gets `503` and is closed.
    pub max_connections: usize,
    /// Connections one client address may hold at once, so that one client
    /// cannot take every connection from the others.
    pub max_per_client: usize,
    /// How long a client may take to send a whole request head, from its
    /// first byte or from the end of the previous response.
    pub head_timeout: Duration,
    /// How long a kept-alive connection may sit idle before the server
    /// closes it, and how long one write to a client may block.
    pub idle_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            root: PathBuf::from("."),
            bind: SocketAddr::from(([0, 0, 0, 0], 80)),
            max_connections: 512,
            max_per_client: 16,
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
        }
    }
}
