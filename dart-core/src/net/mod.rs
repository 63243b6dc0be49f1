//! The network boot server: serves recovery images to BIOS and UEFI PXE
//! clients.
//!
//! So far: [`tftp`], a read-only TFTP server (RFC 1350, 2347, 2348, 2349,
//! 7440 and Microsoft's variable window) with its packet codec and safe
//! resolution of requested file names under the server root. Proxy-DHCP,
//! the access policy and the image catalog are still to come.

pub mod tftp;
