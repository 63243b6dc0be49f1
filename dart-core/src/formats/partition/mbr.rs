//! The Master Boot Record in sector 0: four partition entries, a disk
//! signature and boot code, parsed from and serialised to bytes.

use super::kind::MBR_GPT_PROTECTIVE;

/// Bytes of boot code before the disk signature.
pub const BOOT_CODE_LEN: usize = 440;

/// One of the four MBR partition entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MbrEntry {
    /// Active flag (status 0x80).
    pub bootable: bool,
    /// Partition type id; 0 means the slot is empty.
    pub kind: u8,
    /// First sector.
    pub first_lba: u32,
    /// Length in sectors.
    pub sectors: u32,
}

/// A parsed MBR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mbr {
    /// Boot code (bytes 0..440), kept as found.
    pub boot_code: Vec<u8>,
    /// Disk signature (bytes 440..444).
    pub signature: u32,
    /// The four entries, slot 1 first.
    pub entries: [MbrEntry; 4],
}

impl Mbr {
    /// An MBR with no boot code and empty slots.
    pub fn empty(signature: u32) -> Mbr {
        Mbr {
            boot_code: vec![0; BOOT_CODE_LEN],
            signature,
            entries: [MbrEntry::default(); 4],
        }
    }

    /// Parses the first 512 bytes of sector 0; `None` without the 0x55AA
    /// boot signature.
    pub fn parse(sector: &[u8]) -> Option<Mbr> {
        let sector = sector.get(..512)?;
        if sector[510..512] != [0x55, 0xAA] {
            return None;
        }
        let mut entries = [MbrEntry::default(); 4];
        for (i, e) in entries.iter_mut().enumerate() {
            let raw = &sector[446 + 16 * i..446 + 16 * (i + 1)];
            *e = MbrEntry {
                bootable: raw[0] & 0x80 != 0,
                kind: raw[4],
                first_lba: u32::from_le_bytes([raw[8], raw[9], raw[10], raw[11]]),
                sectors: u32::from_le_bytes([raw[12], raw[13], raw[14], raw[15]]),
            };
        }
        Some(Mbr {
            boot_code: sector[..BOOT_CODE_LEN].to_vec(),
            signature: u32::from_le_bytes([sector[440], sector[441], sector[442], sector[443]]),
            entries,
        })
    }

    /// The 512-byte sector.
    pub fn to_bytes(&self) -> [u8; 512] {
        let mut s = [0u8; 512];
        let n = self.boot_code.len().min(BOOT_CODE_LEN);
        s[..n].copy_from_slice(&self.boot_code[..n]);
        s[440..444].copy_from_slice(&self.signature.to_le_bytes());
        for (i, e) in self.entries.iter().enumerate() {
            if e.kind == 0 {
                continue;
            }
            let raw = &mut s[446 + 16 * i..446 + 16 * (i + 1)];
            raw[0] = if e.bootable { 0x80 } else { 0 };
            raw[1..4].copy_from_slice(&chs(e.first_lba));
            raw[4] = e.kind;
            let last = e.first_lba.saturating_add(e.sectors.saturating_sub(1));
            raw[5..8].copy_from_slice(&chs(last));
            raw[8..12].copy_from_slice(&e.first_lba.to_le_bytes());
            raw[12..16].copy_from_slice(&e.sectors.to_le_bytes());
        }
        s[510] = 0x55;
        s[511] = 0xAA;
        s
    }

    /// Whether an entry is the 0xEE partition that guards a GPT.
    pub fn is_protective(&self) -> bool {
        self.entries.iter().any(|e| e.kind == MBR_GPT_PROTECTIVE)
    }

    /// A protective MBR for a disk of `sectors` sectors.
    pub fn protective(sectors: u64, boot_code: Vec<u8>, signature: u32) -> Mbr {
        let mut mbr = Mbr {
            boot_code,
            signature,
            entries: [MbrEntry::default(); 4],
        };
        mbr.entries[0] = MbrEntry {
            bootable: false,
            kind: MBR_GPT_PROTECTIVE,
            first_lba: 1,
            sectors: u32::try_from(sectors.saturating_sub(1)).unwrap_or(u32::MAX),
        };
        mbr
    }
}

/// Whether a sector 0 looks like a file system boot sector (a disk
/// formatted without a partition table: "superfloppy"), not an MBR.
pub fn looks_like_volume_boot_record(sector: &[u8]) -> bool {
    let Some(s) = sector.get(..512) else {
        return false;
    };
    let jump = s[0] == 0xEB && s[2] == 0x90 || s[0] == 0xE9;
    let bps = u16::from_le_bytes([s[11], s[12]]);
    let fs_name = [&s[3..11], &s[54..62], &s[82..90]].iter().any(|f| {
        f.starts_with(b"NTFS")
            || f.starts_with(b"FAT")
            || f.starts_with(b"EXFAT")
            || f.starts_with(b"-FVE-FS-")
    });
    jump && (matches!(bps, 512 | 1024 | 2048 | 4096) || fs_name)
}

/// Cylinder-head-sector address for the legacy fields: 255 heads, 63
/// sectors per track, or the "use LBA" marker past 1023 cylinders.
fn chs(lba: u32) -> [u8; 3] {
    let (heads, spt) = (255u32, 63u32);
    let cyl = lba / (heads * spt);
    if cyl > 1023 {
        return [0xFE, 0xFF, 0xFF];
    }
    let head = (lba / spt) % heads;
    let sector = lba % spt + 1;
    [
        head as u8,
        (sector as u8) | (((cyl >> 8) as u8) << 6),
        cyl as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(sig: u32, kinds in proptest::array::uniform4(0u8..=255), lbas in proptest::array::uniform4(any::<u32>()), act in 0usize..5) {
            let mut m = Mbr::empty(sig);
            for i in 0..4 {
                m.entries[i] = MbrEntry { bootable: kinds[i] != 0 && act == i, kind: kinds[i], first_lba: if kinds[i] == 0 { 0 } else { lbas[i] }, sectors: if kinds[i] == 0 { 0 } else { lbas[i] / 2 } };
            }
            let back = Mbr::parse(&m.to_bytes()).unwrap();
            prop_assert_eq!(back, m);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Mbr::parse(&bytes);
            let _ = looks_like_volume_boot_record(&bytes);
        }
    }
}
