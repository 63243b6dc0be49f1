//! Boot server settings as plain data (JSON), shared by the command line
//! and the C and Python bindings, and the events as plain records.
//!
//! ```
//! use dart_core::net::settings::ServeSettings;
//!
//! let settings: ServeSettings = serde_json::from_str(r#"{
//!     "root": "/srv/tftp",
//!     "tftp": "0.0.0.0:69",
//!     "proxy_dhcp": "eth0",
//!     "policy": {"rules": [{"name": "bench", "mac": "52:54:00:aa:bb:01", "allow": "all"}]}
//! }"#).unwrap();
//! assert_eq!(settings.proxy_dhcp.as_deref(), Some("eth0"));
//! ```

use std::ffi::CStr;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::boot::{BootEvent, BootServer, BootServerConfig, Checkpoint};
use super::dhcp::{DhcpEvent, ProxyDhcpConfig};
use super::http::{HttpConfig, HttpEvent};
use super::policy::{AccessPolicy, Client, MacAddr};
use super::tftp::{TftpConfig, TftpEvent};
use crate::error::{Error, Result};

fn default_tftp() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 69))
}

/// Everything `dart serve` takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    /// The server root (staged images and the catalog).
    #[serde(deserialize_with = "named::root")]
    pub root: PathBuf,
    /// The access policy, inline.
    #[serde(default, deserialize_with = "named::policy")]
    pub policy: Option<AccessPolicy>,
    /// The access policy, from a JSON file (instead of `policy`).
    #[serde(default, deserialize_with = "named::policy_file")]
    pub policy_file: Option<PathBuf>,
    /// Where TFTP listens; `0.0.0.0:69` by default.
    #[serde(default = "default_tftp", deserialize_with = "named::tftp")]
    pub tftp: SocketAddr,
    /// Ports TFTP transfers reply from, `[first, last]`; ephemeral if unset.
    #[serde(default, deserialize_with = "named::tftp_reply_ports")]
    pub tftp_reply_ports: Option<(u16, u16)>,
    /// Most TFTP transfers at once (64 by default).
    #[serde(default, deserialize_with = "named::max_transfers")]
    pub max_transfers: Option<usize>,
    /// Run proxy-DHCP on this network interface (for example `eth0`).
    #[serde(default, deserialize_with = "named::proxy_dhcp")]
    pub proxy_dhcp: Option<String>,
    /// This server's address as PXE clients reach it; by default the
    /// interface's first IPv4 address.
    #[serde(default, deserialize_with = "named::server_ip")]
    pub server_ip: Option<Ipv4Addr>,
    /// Serve the same catalog over HTTP on this address (for example
    /// `0.0.0.0:80`); no HTTP when unset.
    #[serde(default, deserialize_with = "named::http")]
    pub http: Option<SocketAddr>,
    /// Point HTTP boot clients at a `dart export` of the root served at
    /// this URL (any web server) instead of at this server.
    #[serde(default, deserialize_with = "named::boot_url")]
    pub boot_url: Option<String>,
}

/// Field deserializers that put the setting's name in front of an error in
/// its value: serde names unknown and missing fields, but not a field whose
/// value is wrong (`"tftp": "nonsense"`).
mod named {
    use std::net::{Ipv4Addr, SocketAddr};
    use std::path::PathBuf;

    use serde::de::{Deserialize, Deserializer, Error};

    use crate::net::policy::AccessPolicy;

    macro_rules! named {
        ($($field:ident: $ty:ty),* $(,)?) => {$(
            pub(super) fn $field<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                <$ty>::deserialize(d)
                    .map_err(|e| D::Error::custom(format_args!("{}: {e}", stringify!($field))))
            }
        )*};
    }

    named! {
        root: PathBuf,
        policy: Option<AccessPolicy>,
        policy_file: Option<PathBuf>,
        tftp: SocketAddr,
        tftp_reply_ports: Option<(u16, u16)>,
        max_transfers: Option<usize>,
        proxy_dhcp: Option<String>,
        server_ip: Option<Ipv4Addr>,
        http: Option<SocketAddr>,
        boot_url: Option<String>,
    }
}

impl ServeSettings {
    /// Settings for serving `root` with the defaults.
    pub fn new(root: impl Into<PathBuf>) -> ServeSettings {
        ServeSettings {
            root: root.into(),
            policy: None,
            policy_file: None,
            tftp: default_tftp(),
            tftp_reply_ports: None,
            max_transfers: None,
            proxy_dhcp: None,
            server_ip: None,
            http: None,
            boot_url: None,
        }
    }

    /// Parses settings from JSON; the error names the setting that is
    /// wrong (or the line and column of a syntax error).
    pub fn from_json(text: &str) -> Result<ServeSettings> {
        let invalid =
            |e: serde_json::Error| Error::invalid("boot server settings", "JSON", e.to_string());
        // Through a `Value`, so that a field's error reads "tftp: ..."
        // without a position (a syntax error keeps its position).
        let value: serde_json::Value = serde_json::from_str(text).map_err(invalid)?;
        ServeSettings::deserialize(value).map_err(invalid)
    }

    /// Resolves the settings into a [`BootServerConfig`]: reads the policy
    /// file, finds the interface's address.
    pub fn into_config(self) -> Result<BootServerConfig> {
        let policy = match (self.policy, &self.policy_file) {
            (Some(_), Some(file)) => {
                return Err(Error::invalid(
                    "policy_file",
                    file.display(),
                    "give the policy inline or as a file, not both",
                ))
            }
            (Some(policy), None) => policy,
            (None, Some(file)) => AccessPolicy::load(file)?,
            (None, None) => AccessPolicy::default(),
        };
        let mut tftp = TftpConfig {
            root: self.root.clone(),
            bind: self.tftp,
            reply_ports: self.tftp_reply_ports.map(|(a, b)| a..=b),
            ..TftpConfig::default()
        };
        if let Some(max) = self.max_transfers {
            tftp.max_transfers = max;
        }
        let proxy_dhcp = match self.proxy_dhcp {
            None => None,
            Some(interface) => {
                let server_ip = match self.server_ip {
                    Some(ip) => ip,
                    None => interface_ipv4(&interface)?,
                };
                Some(ProxyDhcpConfig {
                    server_ip,
                    interface: Some(interface),
                    ..ProxyDhcpConfig::default()
                })
            }
        };
        let http = self.http.map(|bind| HttpConfig {
            root: self.root.clone(),
            bind,
            ..HttpConfig::default()
        });
        Ok(BootServerConfig {
            root: self.root,
            policy,
            tftp,
            proxy_dhcp,
            http,
            boot_url: self.boot_url,
        })
    }

    /// Resolves the settings ([`into_config`](Self::into_config)) and
    /// starts a [`BootServer`] with them; `events` as for
    /// [`BootServer::start`]. The one call the C and Python bindings make.
    pub fn start(self, events: Option<Box<dyn Fn(BootEvent) + Send + Sync>>) -> Result<BootServer> {
        BootServer::start(self.into_config()?, events)
    }
}

/// The first IPv4 address of the network interface `name`.
pub fn interface_ipv4(name: &str) -> Result<Ipv4Addr> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head into `list`, freed below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Err(Error::Io {
            action: "listing the network interfaces for",
            path: PathBuf::from(name),
            source: std::io::Error::last_os_error(),
            untouched: "no server was started",
        });
    }
    let mut found = None;
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: `entry` is a node of the list getifaddrs returned, which
        // stays valid until freeifaddrs.
        let ifa = unsafe { &*entry };
        entry = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let ifname = unsafe { CStr::from_ptr(ifa.ifa_name) };
        // SAFETY: ifa_addr points at a sockaddr of the list.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        if ifname.to_bytes() == name.as_bytes() && family == libc::AF_INET {
            // SAFETY: an AF_INET address is a sockaddr_in.
            let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
            found = Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
            break;
        }
    }
    // SAFETY: `list` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(list) };
    found.ok_or_else(|| {
        Error::invalid(
            "proxy-DHCP interface",
            name,
            "it does not exist or has no IPv4 address; name another or give server_ip",
        )
    })
}

/// A [`BootEvent`] as a flat record for logs and bindings (JSON, Python
/// dicts).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    /// `offered`, `denied`, `pending`, `menu`, `claim-refused`, `claim-conflict`,
    /// `tftp-started`, `tftp-finished`, `tftp-denied`, `tftp-aborted`,
    /// `tftp-replaced`, `tftp-failed`, `http-served`, `http-refused`,
    /// `http-cut`, `dhcp-offered`, `dhcp-silent`,
    /// `dhcp-malformed`, `dhcp-failed`, or `other`.
    pub kind: &'static str,
    /// The log line.
    pub message: String,
    /// The client, for policy events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<Client>,
    /// The image or file concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The policy rule, for policy events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// `dhcp`, `tftp` or `http`, for denials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Checkpoint>,
    /// Where the event came from as far as the packet says (an IP address
    /// or a MAC address; forged packets can claim any): with `kind`, what
    /// makes two events alike for a [`LogLimiter`](super::log_limit::LogLimiter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl EventRecord {
    /// The key under which a log limiter counts this event: its kind and
    /// source.
    pub fn repeat_key(&self) -> String {
        match &self.source {
            Some(source) => format!("{} from {source}", self.kind),
            None => self.kind.to_owned(),
        }
    }
}

impl From<&BootEvent> for EventRecord {
    fn from(event: &BootEvent) -> EventRecord {
        let mut record = EventRecord {
            kind: "other",
            message: event.to_string(),
            client: None,
            target: None,
            rule: None,
            at: None,
            source: None,
        };
        match event {
            BootEvent::Offered {
                client,
                image,
                rule,
                ..
            } => {
                record.kind = "offered";
                record.source = client_source(client);
                record.client = Some(*client);
                record.target = Some(image.clone());
                record.rule = Some(rule.clone());
            }
            BootEvent::Denied {
                client,
                target,
                rule,
                at,
                ..
            } => {
                record.kind = "denied";
                record.source = client_source(client);
                record.client = Some(*client);
                record.target = Some(target.clone());
                record.rule = Some(rule.clone());
                record.at = Some(*at);
            }
            BootEvent::ClaimRefused { client, from, .. }
            | BootEvent::ClaimConflict { client, from, .. } => {
                record.kind = if matches!(event, BootEvent::ClaimRefused { .. }) {
                    "claim-refused"
                } else {
                    "claim-conflict"
                };
                record.source = Some(from.ip().to_string());
                record.client = Some(*client);
            }
            BootEvent::Pending { client } => {
                record.kind = "pending";
                record.source = client_source(client);
                record.client = Some(*client);
            }
            BootEvent::Menu { client, rule, .. } => {
                record.kind = "menu";
                record.source = client_source(client);
                record.client = Some(*client);
                record.rule = Some(rule.clone());
            }
            BootEvent::Tftp(e) => {
                let from = match e {
                    TftpEvent::Started { client, .. }
                    | TftpEvent::Finished { client, .. }
                    | TftpEvent::Denied { client, .. }
                    | TftpEvent::Aborted { client, .. }
                    | TftpEvent::Replaced { client, .. }
                    | TftpEvent::Failed { client, .. } => client.ip(),
                };
                record.source = Some(from.to_string());
                let (kind, file) = match e {
                    TftpEvent::Started { file, .. } => ("tftp-started", file),
                    TftpEvent::Finished { file, .. } => ("tftp-finished", file),
                    TftpEvent::Denied { file, .. } => ("tftp-denied", file),
                    TftpEvent::Aborted { file, .. } => ("tftp-aborted", file),
                    TftpEvent::Replaced { file, .. } => ("tftp-replaced", file),
                    TftpEvent::Failed { file, .. } => ("tftp-failed", file),
                };
                record.kind = kind;
                record.target = Some(file.clone());
            }
            BootEvent::Http(e) => {
                let (kind, client, path) = match e {
                    HttpEvent::Served { client, path, .. } => ("http-served", client, path),
                    HttpEvent::Refused { client, path, .. } => ("http-refused", client, path),
                    HttpEvent::Cut { client, path, .. } => ("http-cut", client, path),
                };
                record.kind = kind;
                record.source = Some(client.ip().to_string());
                record.target = Some(path.clone()).filter(|p| !p.is_empty());
            }
            BootEvent::Dhcp(e) => {
                record.source = match e {
                    DhcpEvent::Offered { mac, .. }
                    | DhcpEvent::Silent { mac, .. }
                    | DhcpEvent::Failed { mac, .. } => Some(MacAddr(*mac).to_string()),
                    DhcpEvent::Malformed { from, .. } => Some(from.ip().to_string()),
                };
                record.kind = match e {
                    DhcpEvent::Offered { .. } => "dhcp-offered",
                    DhcpEvent::Silent { .. } => "dhcp-silent",
                    DhcpEvent::Malformed { .. } => "dhcp-malformed",
                    DhcpEvent::Failed { .. } => "dhcp-failed",
                };
            }
        }
        record
    }
}

/// A policy client's source: its MAC address, else its IP address.
fn client_source(client: &Client) -> Option<String> {
    match (client.mac, client.ip) {
        (Some(mac), _) => Some(mac.to_string()),
        (None, Some(ip)) => Some(ip.to_string()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_resolve_and_name_their_errors() {
        let dir = tempfile::tempdir().unwrap();
        let s = ServeSettings::from_json(&format!(
            r#"{{"root": "{}", "tftp": "127.0.0.1:6969", "proxy_dhcp": "lo", "max_transfers": 7}}"#,
            dir.path().display()
        ))
        .unwrap();
        let config = s.into_config().unwrap();
        assert_eq!(config.tftp.max_transfers, 7);
        assert_eq!(config.proxy_dhcp.unwrap().server_ip, Ipv4Addr::LOCALHOST);
        assert_eq!(config.policy, AccessPolicy::default());

        let e = ServeSettings::from_json(r#"{"root": "/x", "colour": 1}"#).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let mut s = ServeSettings::new(dir.path());
        s.proxy_dhcp = Some("no-such-if0".into());
        let e = s.into_config().unwrap_err();
        assert!(e.to_string().contains("no-such-if0"), "{e}");
        let mut s = ServeSettings::new(dir.path());
        s.policy_file = Some(dir.path().join("missing.json"));
        let e = s.into_config().unwrap_err();
        assert!(e.to_string().contains("missing.json"), "{e}");
    }

    #[test]
    fn a_wrong_value_names_its_setting() {
        for (json, field) in [
            (r#"{"root": "/x", "tftp": "nonsense"}"#, "tftp: "),
            (r#"{"root": "/x", "max_transfers": -1}"#, "max_transfers: "),
            (r#"{"root": "/x", "server_ip": "10.0.0"}"#, "server_ip: "),
            (
                r#"{"root": "/x", "tftp_reply_ports": [1]}"#,
                "tftp_reply_ports: ",
            ),
            (r#"{"root": 7}"#, "root: "),
            (
                r#"{"root": "/x", "policy": {"rules": [{"name": "a", "allow": "sometimes"}]}}"#,
                "policy: ",
            ),
            (r#"{"tftp": "127.0.0.1:69"}"#, "root"),
        ] {
            let e = ServeSettings::from_json(json).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
            assert!(e.to_string().contains(field), "{json}: {e}");
        }
        let e = ServeSettings::from_json(r#"{"root": "/x",}"#).unwrap_err();
        assert!(e.to_string().contains("column"), "{e}");
    }

    #[test]
    fn an_inline_policy_is_checked_as_a_file_is_and_start_serves() {
        let dir = tempfile::tempdir().unwrap();
        let json = |policy: &str| {
            format!(
                r#"{{"root": "{}", "tftp": "127.0.0.1:0", "policy": {policy}}}"#,
                dir.path().display()
            )
        };
        let dup = r#"{"rules": [{"name": "a", "allow": "all"}, {"name": "a", "allow": "none"}]}"#;
        let e = ServeSettings::from_json(&json(dup)).unwrap_err();
        assert!(
            e.to_string()
                .contains("policy: a: rule names must be unique"),
            "{e}"
        );
        let ok = r#"{"rules": [{"name": "a", "ip": "127.0.0.1", "allow": "none"}]}"#;
        let server = ServeSettings::from_json(&json(ok))
            .unwrap()
            .start(None)
            .unwrap();
        assert_ne!(server.tftp_addr().unwrap().port(), 0);
        server.stop();
    }
}
