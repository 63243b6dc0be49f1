//! The network boot server: serves recovery images to BIOS and UEFI PXE
//! clients, and OS imaging images only to the clients the policy lists.
//!
//! Two layers, and the words they share:
//!
//! - **Protocols** (wire codecs without I/O, and the servers that speak
//!   them): [`dhcp`], the proxy-DHCP responder that tells PXE clients what
//!   to boot, and [`tftp`], a read-only TFTP server (RFC 1350, 2347, 2348,
//!   2349, 7440 and Microsoft's variable window). They know nothing of
//!   images or policies: they ask the layer above through one narrow
//!   interface each (the DHCP server's decision callback, the TFTP
//!   server's [`TftpHooks`](tftp::TftpHooks): a provider of generated files, a name rewrite and a gate);
//!   [`http`] holds the HTTP/1.1 codec the HTTP service will speak.
//! - **Boot service** (what a site decides): [`catalog`] records the staged
//!   image versions and their boot files (staging itself is a deployment
//!   step, [`crate::deploy::stage()`]); [`policy`] decides which images a
//!   client may boot; [`menu`] generates the boot store each client reads,
//!   listing what it may boot; `offer` joins the two (the image and boot file a
//!   decision leads to, and a policy's problems with a catalog);
//!   [`known`] is the admin's record of clients (pre-staged, approved,
//!   denied, pending), which [`admission`] joins with the policy; [`clients`] holds what the server knows about each client and how far
//!   it trusts it ([`neighbour`] reads the kernel's neighbour table for
//!   it); [`boot`] runs the protocol servers under all of that:
//!   [`BootServer`]; [`settings`] holds its settings and events as plain
//!   data for the CLI and the bindings; [`log_limit`] keeps its log small
//!   under a flood of forged packets.
//! - **Vocabulary** both layers use: [`mac`] (MAC addresses),
//!   [`client_arch`] (DHCP option 93), [`image_role`] (recovery or
//!   imaging).
//!
//! Dependencies run downwards only: the boot service uses the protocols
//! and the vocabulary; the protocols use the vocabulary; the vocabulary
//! uses nothing here.

pub mod admission;
pub mod boot;
pub mod catalog;
pub mod client_arch;
pub mod clients;
pub mod dhcp;
pub mod export;
pub mod files;
pub mod http;
pub mod image_role;
pub mod ipxe;
pub mod known;
pub mod log_limit;
pub mod mac;
pub mod menu;
pub mod neighbour;
mod offer;
pub mod policy;
pub mod settings;
pub mod tftp;
mod udp;

pub use boot::{BootEvent, BootServer, BootServerConfig};
pub use catalog::{Catalog, CatalogImage, ImageRole};
pub use policy::{AccessPolicy, Client};
pub use settings::{EventRecord, ServeSettings};
