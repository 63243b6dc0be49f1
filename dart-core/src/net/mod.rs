//! The network boot server: serves recovery images to BIOS and UEFI PXE
//! clients, and OS imaging images only to the clients the policy lists.
//!
//! - [`mod@stage`] copies a media set into a server root as a new version of an
//!   image; [`catalog`] records the versions and their boot files.
//! - [`policy`] decides which images a client may boot; [`clients`] holds
//!   what the server knows about each client and how far it trusts it
//!   ([`neighbour`] reads the kernel's neighbour table for it).
//! - [`tftp`] is a read-only TFTP server (RFC 1350, 2347, 2348, 2349, 7440
//!   and Microsoft's variable window); [`dhcp`] the proxy-DHCP responder
//!   that tells PXE clients what to boot.
//! - [`boot`] runs them together: [`BootServer`]; [`settings`] holds its
//!   settings and events as plain data for the CLI and the bindings;
//!   [`log_limit`] keeps its log small under a flood of forged packets.

pub mod boot;
pub mod catalog;
pub mod client_arch;
pub mod clients;
pub mod dhcp;
pub mod image_role;
pub mod log_limit;
pub mod neighbour;
mod offer;
pub mod policy;
pub mod settings;
pub mod stage;
pub mod tftp;
mod udp;

pub use boot::{BootEvent, BootServer, BootServerConfig};
pub use catalog::{Catalog, CatalogImage, ImageRole};
pub use policy::{AccessPolicy, Client};
pub use settings::{EventRecord, ServeSettings};
pub use stage::{stage, StageOptions};
