//! PXE client architectures (DHCP option 93, RFC 4578): the word the
//! proxy-DHCP reads, the catalog maps to boot files and the policy matches.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// A PXE client architecture (DHCP option 93, RFC 4578), by code or by one
/// of the names `bios`, `x86-uefi`, `x64-uefi`, `arm64-uefi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientArch(pub u16);

impl ClientArch {
    /// BIOS (x86 PC) PXE.
    pub const BIOS: ClientArch = ClientArch(0);
    /// 32-bit x86 UEFI.
    pub const X86_UEFI: ClientArch = ClientArch(6);
    /// 64-bit x86 UEFI.
    pub const X64_UEFI: ClientArch = ClientArch(7);
    /// 64-bit x86 UEFI as some firmware reports it (RFC 4578's "EFI BC").
    pub const X64_UEFI_BC: ClientArch = ClientArch(9);
    /// 64-bit ARM UEFI.
    pub const ARM64_UEFI: ClientArch = ClientArch(11);
    /// 32-bit x86 UEFI booting over HTTP (IANA "Processor Architecture
    /// Types", 0x0F).
    pub const X86_UEFI_HTTP: ClientArch = ClientArch(15);
    /// 64-bit x86 UEFI booting over HTTP (0x10).
    pub const X64_UEFI_HTTP: ClientArch = ClientArch(16);
    /// 64-bit ARM UEFI booting over HTTP (0x13).
    pub const ARM64_UEFI_HTTP: ClientArch = ClientArch(19);

    const NAMES: [(&'static str, ClientArch); 4] = [
        ("bios", ClientArch::BIOS),
        ("x86-uefi", ClientArch::X86_UEFI),
        ("x64-uefi", ClientArch::X64_UEFI),
        ("arm64-uefi", ClientArch::ARM64_UEFI),
    ];

    /// Whether two codes name the same kind of machine (7, 9 and 16 are
    /// all x64 UEFI; 15 is x86 UEFI and 19 ARM64 UEFI, over HTTP).
    pub fn same_as(self, other: ClientArch) -> bool {
        let norm = |a: ClientArch| match a {
            ClientArch::X64_UEFI_BC | ClientArch::X64_UEFI_HTTP => ClientArch::X64_UEFI,
            ClientArch::X86_UEFI_HTTP => ClientArch::X86_UEFI,
            ClientArch::ARM64_UEFI_HTTP => ClientArch::ARM64_UEFI,
            a => a,
        };
        norm(self) == norm(other)
    }
}

impl fmt::Display for ClientArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match ClientArch::NAMES.iter().find(|(_, a)| self.same_as(*a)) {
            Some((name, _)) => f.write_str(name),
            None => write!(f, "arch-{}", self.0),
        }
    }
}

impl FromStr for ClientArch {
    type Err = Error;

    fn from_str(s: &str) -> Result<ClientArch> {
        if let Some((_, a)) = ClientArch::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
        {
            return Ok(*a);
        }
        s.parse().map(ClientArch).map_err(|_| {
            Error::invalid(
                "client architecture",
                s,
                "use bios, x86-uefi, x64-uefi, arm64-uefi or an RFC 4578 code",
            )
        })
    }
}

impl Serialize for ClientArch {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClientArch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Code(u16),
            Name(String),
        }
        match Raw::deserialize(d)? {
            Raw::Code(c) => Ok(ClientArch(c)),
            Raw::Name(n) => n.parse().map_err(serde::de::Error::custom),
        }
    }
}
