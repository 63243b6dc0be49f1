//! Processor architectures a recovery image is built for.
//!
//! DaRT builds one image per architecture. Each architecture has its own UEFI
//! fallback loader name, PXE client-architecture codes (DHCP option 93) and
//! WIM `ARCH` value.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A processor architecture a Windows PE image runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// 32-bit x86 (`i386`, WIM `ARCH` 0).
    X86,
    /// 64-bit x86 (`amd64`, WIM `ARCH` 9).
    X64,
    /// 64-bit ARM (`arm64`, WIM `ARCH` 12).
    Arm64,
}

impl Architecture {
    /// Every architecture, in a stable order.
    pub const ALL: [Architecture; 3] = [Architecture::X86, Architecture::X64, Architecture::Arm64];

    /// The short name used in file names and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::X86 => "x86",
            Architecture::X64 => "x64",
            Architecture::Arm64 => "arm64",
        }
    }

    /// The UEFI removable-media fallback loader, as it appears under `EFI/BOOT/`.
    ///
    /// ```
    /// use dart_core::model::arch::Architecture;
    /// assert_eq!(Architecture::X64.efi_fallback_name(), "BOOTX64.EFI");
    /// ```
    pub fn efi_fallback_name(self) -> &'static str {
        match self {
            Architecture::X86 => "BOOTIA32.EFI",
            Architecture::X64 => "BOOTX64.EFI",
            Architecture::Arm64 => "BOOTAA64.EFI",
        }
    }

    /// The loader's path inside a media set, lower case as WinPE media ship it.
    pub fn efi_loader_path(self) -> String {
        format!("efi/boot/{}", self.efi_fallback_name().to_ascii_lowercase())
    }

    /// Whether this architecture has BIOS (legacy PC) firmware machines.
    pub fn has_bios(self) -> bool {
        !matches!(self, Architecture::Arm64)
    }

    /// The PXE client-architecture code (DHCP option 93, RFC 4578) of this
    /// architecture's UEFI clients.
    pub fn pxe_uefi_client_arch(self) -> u16 {
        match self {
            Architecture::X86 => 6,
            Architecture::X64 => 7,
            Architecture::Arm64 => 11,
        }
    }

    /// The `ARCH` value Windows writes into a WIM's XML for this architecture
    /// (the `PROCESSOR_ARCHITECTURE_*` constant).
    pub fn wim_arch_value(self) -> u32 {
        match self {
            Architecture::X86 => 0,
            Architecture::X64 => 9,
            Architecture::Arm64 => 12,
        }
    }

    /// The architecture of a WIM `ARCH` value, if it is one we support.
    pub fn from_wim_arch_value(value: u32) -> Option<Architecture> {
        Architecture::ALL
            .into_iter()
            .find(|a| a.wim_arch_value() == value)
    }
}

/// El Torito platform id for BIOS (x86) boot entries.
pub const EL_TORITO_PLATFORM_BIOS: u8 = 0x00;
/// El Torito platform id for UEFI boot entries (any architecture).
pub const EL_TORITO_PLATFORM_EFI: u8 = 0xEF;

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Architecture {
    type Err = Error;

    /// Parses `x86`/`i386`/`ia32`, `x64`/`amd64`/`x86_64`, `arm64`/`aarch64`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x86" | "i386" | "i686" | "ia32" => Ok(Architecture::X86),
            "x64" | "amd64" | "x86_64" | "x86-64" => Ok(Architecture::X64),
            "arm64" | "aarch64" | "aa64" => Ok(Architecture::Arm64),
            _ => Err(Error::invalid(
                "architecture",
                s,
                "expected x86, x64 or arm64",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for arch in Architecture::ALL {
            assert_eq!(arch.name().parse::<Architecture>().ok(), Some(arch));
            assert_eq!(
                Architecture::from_wim_arch_value(arch.wim_arch_value()),
                Some(arch)
            );
        }
        assert!("sparc".parse::<Architecture>().is_err());
    }

    #[test]
    fn loader_paths() {
        assert_eq!(Architecture::X86.efi_loader_path(), "efi/boot/bootia32.efi");
        assert_eq!(Architecture::Arm64.pxe_uefi_client_arch(), 11);
        assert!(!Architecture::Arm64.has_bios());
    }
}
