//! On-disk formats dart writes and reads itself, each with its own codec:
//!
//! - [`authenticode`]: who signed a boot manager (Authenticode, read only);
//! - [`bcd`]: BCD stores (Windows Boot Manager's menus) on top of [`regf`];
//! - [`fat`]: FAT32 volumes (writer, reader, crash-safe in-place update);
//! - [`partition`]: GPT and MBR partition tables (crash-safe apply, recovery
//!   planning);
//! - [`iso`]: ISO 9660 + Joliet + El Torito images (writer and reader);
//! - [`regf`]: registry hives, the file format of BCD stores (reader and
//!   compact writer);
//! - [`uefi`]: UEFI load options, device paths and variable stores
//!   (efivarfs, OVMF variable files): `Boot####`, `BootOrder`, `BootNext`.
//!
//! They take a [`MediaSet`](crate::model::media::MediaSet) or a
//! [`BlockDevice`](crate::disk::BlockDevice) and never open devices on
//! their own.

pub mod authenticode;
pub mod bcd;
pub mod fat;
pub mod iso;
pub mod partition;
pub mod regf;
pub mod uefi;
