//! The hybrid system area: an MBR and a GPT in the first 32 KiB of the
//! image (and a backup GPT in its last blocks), both pointing at the El
//! Torito EFI image, so that the ISO written raw to a USB stick boots on
//! UEFI machines as an ordinary disk with an EFI System Partition.
//!
//! The MBR is a hybrid one (as gdisk makes them): a protective 0xEE entry
//! from sector 1 up to the EFI image (which makes UEFI firmware read the
//! GPT) and an 0xEF entry for the EFI image, for readers that only know
//! MBR; the GPT holds one EFI System Partition. Sectors are 512 bytes, as
//! on USB sticks.

use crate::formats::partition::gpt::{entries_to_array, GptEntry, GptHeader};
use crate::formats::partition::kind::{EFI_SYSTEM, MBR_EFI_SYSTEM, MBR_GPT_PROTECTIVE};
use crate::formats::partition::mbr::{Mbr, MbrEntry};

use super::record::BLOCK;

/// Sector size of the hybrid tables.
pub const SECTOR: u64 = 512;
/// Entries in each GPT partition array (32 sectors).
const ENTRIES: u32 = 128;
/// Blocks at the end of the image kept for the backup GPT (33 sectors,
/// rounded up to whole blocks).
pub const TAIL_BLOCKS: u64 = (33 * SECTOR).div_ceil(BLOCK);

/// The hybrid tables for an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HybridTables {
    /// Bytes 0..17408: MBR, primary GPT header and entries.
    pub head: Vec<u8>,
    /// The backup entries and header, for the last 33 sectors.
    pub tail: Vec<u8>,
}

/// Builds the tables for an image of `image_bytes` bytes whose EFI image
/// occupies `efi_offset..efi_offset + efi_bytes`; `seed` makes the GUIDs
/// deterministic.
pub fn tables(image_bytes: u64, efi_offset: u64, efi_bytes: u64, seed: &[u8]) -> HybridTables {
    let sectors = image_bytes / SECTOR;
    let first = efi_offset / SECTOR;
    let count = efi_bytes.div_ceil(SECTOR).max(1);
    let mut mbr = Mbr::protective(first, vec![0; 440], {
        let g = crate::formats::partition::derived_guid(seed, "mbr");
        u32::from_le_bytes([
            g.as_bytes()[0],
            g.as_bytes()[1],
            g.as_bytes()[2],
            g.as_bytes()[3],
        ])
    });
    mbr.entries[1] = MbrEntry {
        bootable: true,
        kind: MBR_EFI_SYSTEM,
        first_lba: u32::try_from(first).unwrap_or(u32::MAX),
        sectors: u32::try_from(count).unwrap_or(u32::MAX),
    };
    debug_assert_eq!(mbr.entries[0].kind, MBR_GPT_PROTECTIVE);
    let esp = GptEntry {
        index: 0,
        type_guid: EFI_SYSTEM,
        unique_guid: crate::formats::partition::derived_guid(seed, "esp"),
        first_lba: first,
        last_lba: first + count - 1,
        attributes: 0,
        name: "EFI boot".into(),
    };
    let array = entries_to_array(&[esp], ENTRIES);
    let array_sectors = array.len() as u64 / SECTOR;
    let mut primary = GptHeader {
        my_lba: 1,
        alternate_lba: sectors - 1,
        first_usable: 2 + array_sectors,
        last_usable: sectors - 2 - array_sectors,
        disk_guid: crate::formats::partition::derived_guid(seed, "disk"),
        entries_lba: 2,
        num_entries: ENTRIES,
        entry_size: 128,
        entries_crc: crc32fast::hash(&array),
    };
    let mut head = mbr.to_bytes().to_vec();
    head.extend(primary.to_sector(SECTOR as u32));
    head.extend_from_slice(&array);
    primary.my_lba = sectors - 1;
    primary.alternate_lba = 1;
    primary.entries_lba = sectors - 1 - array_sectors;
    let mut tail = array;
    tail.extend(primary.to_sector(SECTOR as u32));
    HybridTables { head, tail }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::BlockDevice;
    use crate::disk::MemoryDevice;

    #[test]
    fn tables_read_back_as_a_gpt_disk() {
        let bytes: u64 = 4 << 20;
        let mut disk = MemoryDevice::new(bytes as usize, 512);
        let t = tables(bytes, 64 * BLOCK, 100_000, b"seed");
        assert!(t.head.len() <= 16 * BLOCK as usize);
        disk.write_at(0, &t.head).unwrap();
        disk.write_at(bytes - t.tail.len() as u64, &t.tail).unwrap();
        let layout = crate::formats::partition::read_layout(&mut disk).unwrap();
        assert_eq!(layout.partitions.len(), 1);
        assert_eq!(layout.partitions[0].start, 64 * BLOCK);
        assert!(TAIL_BLOCKS * BLOCK >= t.tail.len() as u64);
    }
}
