//! # dart-core
//!
//! Save and deploy Windows PE recovery images (DaRT-style `boot.wim` images
//! carrying a chosen set of recovery tools) by removable media, a network
//! boot server, or a recovery partition.
//!
//! This crate holds every model and algorithm; `dart-ffi` (C) and `dart-py`
//! (Python) are thin bindings over it.
//!
//! | module | owns |
//! |---|---|
//! | [`error`] | [`Error`], [`Result`] |
//! | [`arch`] | [`Architecture`](arch::Architecture) |
//! | [`tools`] | [`Tools`](tools::Tools), tool metadata, [`SupportLevels`](tools::SupportLevels) |
//! | [`image`] | [`RecoveryImage`](image::RecoveryImage), composing images |
//! | [`media`] | [`MediaSet`](media::MediaSet): the bootable file tree |
//! | [`net`] | network boot server: [TFTP server](net::tftp::TftpServer), [packets](net::tftp::Packet), [safe file lookup](net::tftp::resolve) |
//! | [`fat`] | FAT32 volumes: [`write_volume`](fat::write_volume), crash-safe [`update_files`](fat::update_files) |
//! | [`iso`] | ISO 9660 + Joliet + El Torito images: [`write_iso`](iso::write_iso), [`read_iso`](iso::read_iso) |
//! | [`mod@write`] | flashing images onto devices: [`flash`](write::flash), [`verify`](write::verify), block maps |
//! | [`plan`] | the method advisor |
//! | [`progress`] | progress reports and cancellation |

pub mod arch;
mod beneath;
pub mod deploy;
pub mod disk;
pub mod error;
pub mod fat;
pub mod image;
pub mod iso;
pub mod media;
pub mod net;
pub mod partition;
pub mod plan;
pub mod progress;
pub mod tools;
pub mod write;

pub use error::{Error, ErrorKind, Result};

/// The library version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
