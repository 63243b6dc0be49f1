//! # dart-testkit
//!
//! Test support for dart, never shipped (`publish = false`): dart-core's
//! tests and benchmarks, the bindings' tests and the CLI's `fixture` and
//! `demo` commands use it; dart-core, dart-ffi and dart-py do not.
//!
//! | module | owns |
//! |---|---|
//! | [`fixture`] | synthetic WinPE-like media, tool payloads and drivers; stand-in boot loaders |
//! | [`installed`] | a stand-in installed Windows system (ESP with a store and its own loader) |
//! | [`qemu`] | booting a medium or a PXE client under QEMU (OVMF or SeaBIOS) and watching for the marker |
//! | [`pxelab`] | a network namespace lab with a bridge, dnsmasq and QEMU PXE clients |
//! | [`env`] | tools on the PATH, root, commands whose failure fails the test |
//! | [`guards`] | loop devices and mounts undone on drop |
//! | [`media`] | small media sets and server roots |
//! | [`data`] | pseudo-random bytes, file hashes, directory listings |
//! | [`dhcp`] | DHCP messages as PXE clients send them |
//! | [`uefi_vars`] | virt-fw-vars' reading of OVMF variable files |
//! | [`hivex`] | libhivex's reading of a hive, to compare with dart's |
//!
//! The helpers of the last five modules are also re-exported at the crate
//! root, so that a test can `use dart_testkit as common;`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod data;
pub mod dhcp;
pub mod env;
pub mod error;
pub mod fixture;
pub mod guards;
pub mod hivex;
pub mod http;
pub mod installed;
pub mod media;
pub mod nginx;
pub mod pxelab;
pub mod qemu;
pub mod uefi_vars;

pub use data::*;
pub use dhcp::*;
pub use env::*;
pub use error::{Error, Result};
pub use guards::*;
pub use media::*;
