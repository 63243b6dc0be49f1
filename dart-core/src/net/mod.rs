//! The network boot server: serves recovery images to BIOS and UEFI PXE
//! clients.
//!
//! This is its start: the [`tftp`] packet codec and safe resolution of
//! requested file names under the server root. TFTP sessions and the server,
//! proxy-DHCP, the access policy and the image catalog are still to come.

pub mod tftp;
