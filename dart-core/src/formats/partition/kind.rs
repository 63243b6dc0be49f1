//! What a partition is for: [`PartitionKind`] with its GPT type GUID and MBR
//! type id, and the GPT attribute bits [`GptAttributes`].

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::{uuid, Uuid};

/// GPT type of an EFI System Partition.
pub const EFI_SYSTEM: Uuid = uuid!("C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
/// GPT type of Microsoft basic data (FAT, NTFS, exFAT volumes).
pub const BASIC_DATA: Uuid = uuid!("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7");
/// GPT type of the Microsoft Reserved Partition.
pub const MICROSOFT_RESERVED: Uuid = uuid!("E3C9E316-0B5C-4DB8-817D-F92DF00215AE");
/// GPT type of a Windows Recovery Environment partition.
pub const WINDOWS_RECOVERY: Uuid = uuid!("DE94BBA4-06D1-4D40-A16A-BFD50179D6AC");
/// GPT type of a Linux file system.
pub const LINUX_FILESYSTEM: Uuid = uuid!("0FC63DAF-8483-4772-8E79-3D69D8477DE4");

/// MBR type of a FAT32 volume addressed by LBA.
pub const MBR_FAT32_LBA: u8 = 0x0C;
/// MBR type of an NTFS / exFAT volume.
pub const MBR_NTFS: u8 = 0x07;
/// MBR type of a Windows RE (hidden recovery) partition.
pub const MBR_WINDOWS_RECOVERY: u8 = 0x27;
/// MBR type of an EFI System Partition.
pub const MBR_EFI_SYSTEM: u8 = 0xEF;
/// MBR type of a Linux file system.
pub const MBR_LINUX: u8 = 0x83;
/// MBR type of the protective partition in front of a GPT.
pub const MBR_GPT_PROTECTIVE: u8 = 0xEE;

/// What a partition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PartitionKind {
    /// EFI System Partition (GPT `C12A7328-…`, MBR `0xEF`).
    EfiSystem,
    /// Microsoft basic data (GPT `EBD0A0A2-…`, MBR `0x07`).
    BasicData,
    /// FAT32 volume (GPT basic data, MBR `0x0C`).
    Fat32,
    /// Microsoft Reserved Partition (GPT only).
    MicrosoftReserved,
    /// Windows RE tools (GPT `DE94BBA4-…`, MBR `0x27`).
    WindowsRecovery,
    /// Linux file system (GPT `0FC63DAF-…`, MBR `0x83`).
    LinuxFilesystem,
    /// Any other GPT type.
    OtherGpt(Uuid),
    /// Any other MBR type id.
    OtherMbr(u8),
}

impl PartitionKind {
    /// The GPT partition type GUID, if the kind exists on GPT disks.
    pub fn gpt_type(self) -> Option<Uuid> {
        match self {
            PartitionKind::EfiSystem => Some(EFI_SYSTEM),
            PartitionKind::BasicData | PartitionKind::Fat32 => Some(BASIC_DATA),
            PartitionKind::MicrosoftReserved => Some(MICROSOFT_RESERVED),
            PartitionKind::WindowsRecovery => Some(WINDOWS_RECOVERY),
            PartitionKind::LinuxFilesystem => Some(LINUX_FILESYSTEM),
            PartitionKind::OtherGpt(g) => Some(g),
            PartitionKind::OtherMbr(_) => None,
        }
    }

    /// The MBR partition type id, if the kind exists on MBR disks.
    pub fn mbr_type(self) -> Option<u8> {
        match self {
            PartitionKind::EfiSystem => Some(MBR_EFI_SYSTEM),
            PartitionKind::BasicData => Some(MBR_NTFS),
            PartitionKind::Fat32 => Some(MBR_FAT32_LBA),
            PartitionKind::MicrosoftReserved | PartitionKind::OtherGpt(_) => None,
            PartitionKind::WindowsRecovery => Some(MBR_WINDOWS_RECOVERY),
            PartitionKind::LinuxFilesystem => Some(MBR_LINUX),
            PartitionKind::OtherMbr(t) => Some(t),
        }
    }

    /// The kind of a GPT type GUID.
    pub fn from_gpt(guid: Uuid) -> PartitionKind {
        match guid {
            EFI_SYSTEM => PartitionKind::EfiSystem,
            BASIC_DATA => PartitionKind::BasicData,
            MICROSOFT_RESERVED => PartitionKind::MicrosoftReserved,
            WINDOWS_RECOVERY => PartitionKind::WindowsRecovery,
            LINUX_FILESYSTEM => PartitionKind::LinuxFilesystem,
            other => PartitionKind::OtherGpt(other),
        }
    }

    /// The kind of an MBR type id.
    pub fn from_mbr(id: u8) -> PartitionKind {
        match id {
            MBR_EFI_SYSTEM => PartitionKind::EfiSystem,
            MBR_NTFS => PartitionKind::BasicData,
            MBR_FAT32_LBA => PartitionKind::Fat32,
            MBR_WINDOWS_RECOVERY => PartitionKind::WindowsRecovery,
            MBR_LINUX => PartitionKind::LinuxFilesystem,
            other => PartitionKind::OtherMbr(other),
        }
    }

    /// A short human name.
    pub fn describe(self) -> String {
        match self {
            PartitionKind::EfiSystem => "EFI system".into(),
            PartitionKind::BasicData => "basic data".into(),
            PartitionKind::Fat32 => "FAT32".into(),
            PartitionKind::MicrosoftReserved => "Microsoft reserved".into(),
            PartitionKind::WindowsRecovery => "Windows recovery".into(),
            PartitionKind::LinuxFilesystem => "Linux filesystem".into(),
            PartitionKind::OtherGpt(g) => g.to_string(),
            PartitionKind::OtherMbr(t) => format!("type 0x{t:02X}"),
        }
    }
}

impl fmt::Display for PartitionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

bitflags::bitflags! {
    /// GPT partition attribute bits (UEFI spec table 5-8, plus the bits
    /// Microsoft defines for basic data partitions).
    ///
    /// ```
    /// use dart_core::formats::partition::GptAttributes;
    /// let winre = GptAttributes::WINDOWS_RECOVERY;
    /// assert_eq!(winre.bits(), 0x8000_0000_0000_0001);
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct GptAttributes: u64 {
        /// The platform needs the partition to work; tools must not delete it.
        const REQUIRED = 1 << 0;
        /// EFI firmware must not produce block-I/O protocols for it.
        const NO_BLOCK_IO = 1 << 1;
        /// Legacy BIOS bootable.
        const LEGACY_BIOS_BOOTABLE = 1 << 2;
        /// Microsoft: read-only volume.
        const READ_ONLY = 1 << 60;
        /// Microsoft: shadow copy.
        const SHADOW_COPY = 1 << 61;
        /// Microsoft: hidden volume.
        const HIDDEN = 1 << 62;
        /// Microsoft: no drive letter is assigned.
        const NO_DRIVE_LETTER = 1 << 63;
        /// What Windows gives a Windows RE partition: required, no drive letter.
        const WINDOWS_RECOVERY = (1 << 63) | 1;
        /// Type-specific and reserved bits are kept as read.
        const _ = !0;
    }
}

impl Serialize for GptAttributes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.bits())
    }
}

impl<'de> Deserialize<'de> for GptAttributes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u64::deserialize(d).map(GptAttributes::from_bits_retain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_ids() {
        for kind in [
            PartitionKind::EfiSystem,
            PartitionKind::BasicData,
            PartitionKind::MicrosoftReserved,
            PartitionKind::WindowsRecovery,
            PartitionKind::LinuxFilesystem,
        ] {
            assert_eq!(PartitionKind::from_gpt(kind.gpt_type().unwrap()), kind);
        }
        assert_eq!(PartitionKind::from_mbr(0x0C), PartitionKind::Fat32);
        assert_eq!(
            PartitionKind::from_mbr(0x27),
            PartitionKind::WindowsRecovery
        );
        assert_eq!(PartitionKind::WindowsRecovery.mbr_type(), Some(0x27));
        assert_eq!(PartitionKind::from_mbr(0x42), PartitionKind::OtherMbr(0x42));
    }
}
