//! The settings of a TFTP server, and their limits.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use super::packet::MAX_DATA;
use crate::error::{Error, Result};

/// Largest `windowsize` (RFC 7440) the server accepts; larger requests are
/// answered with this value in the OACK.
pub const MAX_WINDOWSIZE: u16 = 64;

/// Settings of a [`TftpServer`](super::TftpServer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TftpConfig {
    /// The directory served; requested names resolve under it and never
    /// outside it. It must exist, and must not be writable by the clients.
    pub root: PathBuf,
    /// Address and port the server listens on for requests (port 69 for PXE
    /// clients; port 0 picks a free port, see [`TftpServer::local_addr`](super::TftpServer::local_addr)).
    pub bind: SocketAddr,
    /// Ports the transfers reply from (one per transfer, on the IP address
    /// of `bind`); `None` lets the system pick an ephemeral port.
    pub reply_ports: Option<RangeInclusive<u16>>,
    /// Most transfers running at once; a request beyond it takes the slot
    /// of the longest-silent transfer whose client never acknowledged
    /// anything, or gets ERROR 0 "server busy". At least 1.
    pub max_transfers: usize,
    /// Most transfers running at once for one client IP address (all its
    /// ports together), so that one address cannot take every slot. At
    /// least 1.
    pub max_per_client: usize,
    /// How many times in a row a transfer resends after a timeout before it
    /// gives up.
    pub retries: u32,
    /// Time to wait for an ACK before resending, unless the client
    /// negotiates the `timeout` option (RFC 2349).
    pub default_timeout: Duration,
    /// Longest `timeout` option accepted; a client asking for more gets no
    /// `timeout` in the OACK and the default (RFC 2347 lets a server leave
    /// out options it does not accept).
    pub max_timeout: Duration,
    /// Most time one transfer may spend waiting for ACKs that never came,
    /// summed over all its timeouts; when it is spent the transfer ends.
    pub silence_budget: Duration,
    /// Largest `blksize` (RFC 2348) accepted, 8 to 65464; larger requests
    /// are answered with this value. 1468 fills an Ethernet frame.
    pub max_blksize: u16,
}

impl Default for TftpConfig {
    /// Root `/srv/tftp`, listening on `0.0.0.0:69` (all IPv4 interfaces,
    /// the PXE port; binding it needs privileges), ephemeral reply ports, 64
    /// transfers (4 per client address), 5 retries, 1 second timeout
    /// (clients may ask for up to 10), 30 seconds of silence per transfer,
    /// `blksize` up to 1468.
    fn default() -> Self {
        TftpConfig {
            root: PathBuf::from("/srv/tftp"),
            bind: SocketAddr::from(([0, 0, 0, 0], 69)),
            reply_ports: None,
            max_transfers: 64,
            max_per_client: 4,
            retries: 5,
            default_timeout: Duration::from_secs(1),
            max_timeout: Duration::from_secs(10),
            silence_budget: Duration::from_secs(30),
            max_blksize: 1468,
        }
    }
}

impl TftpConfig {
    /// Checks the settings before anything is bound.
    pub(super) fn check(&self) -> Result<()> {
        let config = self;
        if !config.root.exists() {
            return Err(Error::NotFound {
                what: "TFTP server root",
                path: config.root.clone(),
            });
        }
        if !config.root.is_dir() {
            return Err(Error::invalid(
                "TFTP server root",
                config.root.display(),
                "it must be a directory",
            ));
        }
        if config.max_transfers == 0 {
            return Err(Error::invalid(
                "TFTP max_transfers",
                0,
                "at least 1 transfer must be allowed",
            ));
        }
        if config.max_per_client == 0 {
            return Err(Error::invalid(
                "TFTP max_per_client",
                0,
                "at least 1 transfer per client address must be allowed",
            ));
        }
        if config.silence_budget.is_zero() {
            return Err(Error::invalid(
                "TFTP silence_budget",
                format!("{:?}", config.silence_budget),
                "it must be longer than zero",
            ));
        }
        if !(8..=MAX_DATA).contains(&usize::from(config.max_blksize)) {
            return Err(Error::invalid(
                "TFTP max_blksize",
                config.max_blksize,
                "RFC 2348 allows block sizes from 8 to 65464 bytes",
            ));
        }
        if config.default_timeout.is_zero() {
            return Err(Error::invalid(
                "TFTP default_timeout",
                format!("{:?}", config.default_timeout),
                "it must be longer than zero",
            ));
        }
        if let Some(ports) = &config.reply_ports {
            if ports.is_empty() || *ports.start() == 0 {
                return Err(Error::invalid(
                    "TFTP reply_ports",
                    format!("{}..={}", ports.start(), ports.end()),
                    "give a non-empty range of ports from 1 to 65535",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::tftp::TftpServer;

    #[test]
    fn bad_settings_are_refused_before_binding() {
        let dir = tempfile::tempdir().unwrap();
        let ok = TftpConfig {
            root: dir.path().to_path_buf(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..TftpConfig::default()
        };
        for (config, field) in [
            (
                TftpConfig {
                    max_transfers: 0,
                    ..ok.clone()
                },
                "max_transfers",
            ),
            (
                TftpConfig {
                    max_blksize: 7,
                    ..ok.clone()
                },
                "max_blksize",
            ),
            (
                TftpConfig {
                    default_timeout: Duration::ZERO,
                    ..ok.clone()
                },
                "default_timeout",
            ),
            (
                TftpConfig {
                    reply_ports: Some(0..=10),
                    ..ok.clone()
                },
                "reply_ports",
            ),
        ] {
            let Err(e) = TftpServer::start(config, None) else {
                panic!("{field} accepted")
            };
            assert!(e.to_string().contains(field), "{e}");
        }
        let missing = TftpConfig {
            root: dir.path().join("nope"),
            ..ok
        };
        let Err(e) = TftpServer::start(missing, None) else {
            panic!("missing root accepted")
        };
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
    }
}
