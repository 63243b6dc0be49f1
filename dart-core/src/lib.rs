//! # dart-core
//!
//! Save and deploy Windows PE recovery images (DaRT-style `boot.wim` images
//! carrying a chosen set of recovery tools) by removable media, a network
//! boot server, or a recovery partition.
//!
//! This crate holds every model and algorithm; `dart-ffi` (C) and `dart-py`
//! (Python) are thin bindings over it.
//!
//! The folders follow the pipeline, from what an image is to where it
//! goes; each layer uses only the layers before it:
//!
//! | layer | module | owns |
//! |---|---|---|
//! | model | [`model::arch`], [`model::tools`], [`model::media`] | [`Architecture`](model::arch::Architecture); [`Tools`](model::tools::Tools), tool metadata, [`SupportLevels`](model::tools::SupportLevels); [`MediaSet`](model::media::MediaSet), the bootable file tree |
//! | image | [`image`] | [`RecoveryImage`](image::RecoveryImage): reading WIMs, composing recovery images from a base and tools |
//! | formats | [`formats::fat`], [`formats::partition`], [`formats::iso`] | FAT32 volumes ([`write_volume`](formats::fat::write_volume), crash-safe [`update_files`](formats::fat::update_files)); GPT/MBR tables ([`apply`](formats::partition::apply()), recovery planning); ISO 9660 + Joliet + El Torito ([`write_iso`](formats::iso::write_iso), [`read_iso`](formats::iso::read_iso)) |
//! | write | [`mod@write`] | flashing images onto devices: [`flash`](write::flash), [`verify`](write::verify), block maps |
//! | disk | [`disk`] | block devices (files, Linux devices, one raw-device core), the safety checks before any write, partial outputs |
//! | network | [`net`] | the network boot server: protocols ([`net::dhcp`], [`net::tftp`]) under the boot service (catalog, policy, clients): [`BootServer`](net::BootServer) |
//! | methods | [`deploy`] | the seed's deployment methods: USB, recovery partition, staging for the boot server |
//! | advice | [`plan`] | the method advisor |
//! | shared | [`error`], [`progress`] | [`Error`], [`Result`]; progress reports and cancellation |
//!
//! Test support (fixtures, the QEMU runner, the PXE lab) lives in the
//! workspace-private `dart-testkit` crate; fuzz entry points exist only with
//! the `fuzzing` feature.

mod beneath;
pub mod deploy;
pub mod disk;
pub mod error;
pub mod formats;
pub mod image;
pub mod model;
pub mod net;
pub mod plan;
pub mod progress;
pub mod write;

pub use error::{Error, ErrorKind, Result};

/// The library version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
