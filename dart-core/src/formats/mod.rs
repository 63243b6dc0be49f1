//! On-disk formats dart writes and reads itself, each with its own codec:
//!
//! - [`fat`]: FAT32 volumes (writer, reader, crash-safe in-place update);
//! - [`partition`]: GPT and MBR partition tables (crash-safe apply, recovery
//!   planning);
//! - [`iso`]: ISO 9660 + Joliet + El Torito images (writer and reader).
//!
//! They take a [`MediaSet`](crate::model::media::MediaSet) or a
//! [`BlockDevice`](crate::disk::BlockDevice) and never open devices on
//! their own.

pub mod fat;
pub mod iso;
pub mod partition;
