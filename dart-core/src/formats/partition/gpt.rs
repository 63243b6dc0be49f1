//! GUID Partition Table structures (UEFI spec, chapter 5.3): the header and
//! the partition entry array, parsed defensively from and serialised to
//! bytes.
//!
//! The `gpt` crate is used by the tests as an independent reader; writing
//! stays here because crash-safe ordering (backup copy first, each step
//! flushed, primary header last) needs control over every write, which the
//! crate's `write_inplace` does not give (it interleaves primary and backup
//! entry writes).

use uuid::Uuid;

/// "EFI PART".
pub const SIGNATURE: &[u8; 8] = b"EFI PART";
/// Revision 1.0.
pub const REVISION: u32 = 0x0001_0000;
/// Size of the header this library writes.
pub const HEADER_SIZE: u32 = 92;
/// The largest partition array the reader accepts (1 MiB).
pub const MAX_ARRAY_BYTES: u64 = 1 << 20;

/// A GPT header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptHeader {
    /// LBA of this header.
    pub my_lba: u64,
    /// LBA of the other copy's header.
    pub alternate_lba: u64,
    /// First LBA a partition may use.
    pub first_usable: u64,
    /// Last LBA a partition may use (inclusive).
    pub last_usable: u64,
    /// Disk GUID.
    pub disk_guid: Uuid,
    /// First LBA of this copy's partition array.
    pub entries_lba: u64,
    /// Entries in the array.
    pub num_entries: u32,
    /// Bytes per entry.
    pub entry_size: u32,
    /// CRC32 of the array.
    pub entries_crc: u32,
}

/// One used GPT partition entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptEntry {
    /// 0-based index in the array.
    pub index: u32,
    /// Partition type GUID.
    pub type_guid: Uuid,
    /// Unique partition GUID.
    pub unique_guid: Uuid,
    /// First LBA.
    pub first_lba: u64,
    /// Last LBA (inclusive).
    pub last_lba: u64,
    /// Attribute bits.
    pub attributes: u64,
    /// Name (up to 36 UTF-16 code units).
    pub name: String,
}

/// Why a header copy was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// No "EFI PART" signature.
    NoSignature,
    /// A field is out of range.
    BadField(&'static str),
    /// The header checksum does not match.
    BadHeaderCrc,
}

impl std::fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderProblem::NoSignature => f.write_str("no GPT signature"),
            HeaderProblem::BadField(name) => write!(f, "field {name} is out of range"),
            HeaderProblem::BadHeaderCrc => f.write_str("header checksum mismatch"),
        }
    }
}

/// Why a GPT copy (header and partition array) describes no usable layout.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GptProblem {
    /// No "EFI PART" signature where the header should be.
    NoHeader,
    /// The header is damaged.
    Header(HeaderProblem),
    /// The partition array does not match the header's checksum.
    ArrayChecksum,
    /// An entry (numbered from 1) lies outside the usable LBAs, or ends
    /// before it starts.
    EntryOutside {
        /// The entry's number, from 1.
        entry: u32,
        /// Its first LBA.
        first: u64,
        /// Its last LBA.
        last: u64,
        /// The first usable LBA.
        first_usable: u64,
        /// The last usable LBA.
        last_usable: u64,
    },
    /// Two partitions (by number) overlap.
    Overlap(u32, u32),
}

impl std::fmt::Display for GptProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GptProblem::NoHeader => f.write_str("no GPT header"),
            GptProblem::Header(p) => p.fmt(f),
            GptProblem::ArrayChecksum => f.write_str("partition array checksum mismatch"),
            GptProblem::EntryOutside {
                entry,
                first,
                last,
                first_usable,
                last_usable,
            } => write!(
                f,
                "GPT entry {entry} spans LBA {first}..={last}, outside the usable LBAs {first_usable}..={last_usable}"
            ),
            GptProblem::Overlap(a, b) => write!(f, "partitions {a} and {b} overlap"),
        }
    }
}

impl std::error::Error for GptProblem {}

/// Serialised as its message, as the layout's reports show it.
impl serde::Serialize for GptProblem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

fn guid_at(b: &[u8], at: usize) -> Uuid {
    let mut x = [0u8; 16];
    x.copy_from_slice(&b[at..at + 16]);
    Uuid::from_bytes_le(x)
}

impl GptHeader {
    /// Parses a header sector found at `lba` on a disk of `sectors` sectors
    /// of `sector_size` bytes. Checks signature, size, checksum, that the
    /// header says it lives at `lba`, and that every LBA is on the disk.
    pub fn parse(
        sector: &[u8],
        lba: u64,
        sectors: u64,
        sector_size: u32,
    ) -> Result<GptHeader, HeaderProblem> {
        if sector.len() < 512 || &sector[..8] != SIGNATURE {
            return Err(HeaderProblem::NoSignature);
        }
        let size = u32_at(sector, 12);
        if size < HEADER_SIZE || size as usize > sector.len().min(sector_size as usize) {
            return Err(HeaderProblem::BadField("HeaderSize"));
        }
        let mut copy = sector[..size as usize].to_vec();
        copy[16..20].fill(0);
        if crc32fast::hash(&copy) != u32_at(sector, 16) {
            return Err(HeaderProblem::BadHeaderCrc);
        }
        let h = GptHeader {
            my_lba: u64_at(sector, 24),
            alternate_lba: u64_at(sector, 32),
            first_usable: u64_at(sector, 40),
            last_usable: u64_at(sector, 48),
            disk_guid: guid_at(sector, 56),
            entries_lba: u64_at(sector, 72),
            num_entries: u32_at(sector, 80),
            entry_size: u32_at(sector, 84),
            entries_crc: u32_at(sector, 88),
        };
        if h.my_lba != lba {
            return Err(HeaderProblem::BadField("MyLBA"));
        }
        if h.alternate_lba >= sectors || h.alternate_lba == lba {
            return Err(HeaderProblem::BadField("AlternateLBA"));
        }
        if h.entry_size < 128 || !h.entry_size.is_multiple_of(8) || h.entry_size > 4096 {
            return Err(HeaderProblem::BadField("SizeOfPartitionEntry"));
        }
        if h.num_entries == 0 || h.array_bytes() > MAX_ARRAY_BYTES {
            return Err(HeaderProblem::BadField("NumberOfPartitionEntries"));
        }
        let array_sectors = h.array_bytes().div_ceil(u64::from(sector_size));
        let array_end = h.entries_lba.checked_add(array_sectors);
        if h.entries_lba < 2 || array_end.is_none_or(|e| e > sectors) {
            return Err(HeaderProblem::BadField("PartitionEntryLBA"));
        }
        if h.first_usable > h.last_usable || h.last_usable >= sectors || h.first_usable < 2 {
            return Err(HeaderProblem::BadField("FirstUsableLBA/LastUsableLBA"));
        }
        Ok(h)
    }

    /// Bytes of the partition array.
    pub fn array_bytes(&self) -> u64 {
        u64::from(self.num_entries) * u64::from(self.entry_size)
    }

    /// The header serialised into a sector of `sector_size` bytes, with its
    /// checksum.
    pub fn to_sector(&self, sector_size: u32) -> Vec<u8> {
        let mut s = vec![0u8; sector_size as usize];
        s[..8].copy_from_slice(SIGNATURE);
        s[8..12].copy_from_slice(&REVISION.to_le_bytes());
        s[12..16].copy_from_slice(&HEADER_SIZE.to_le_bytes());
        s[24..32].copy_from_slice(&self.my_lba.to_le_bytes());
        s[32..40].copy_from_slice(&self.alternate_lba.to_le_bytes());
        s[40..48].copy_from_slice(&self.first_usable.to_le_bytes());
        s[48..56].copy_from_slice(&self.last_usable.to_le_bytes());
        s[56..72].copy_from_slice(&self.disk_guid.to_bytes_le());
        s[72..80].copy_from_slice(&self.entries_lba.to_le_bytes());
        s[80..84].copy_from_slice(&self.num_entries.to_le_bytes());
        s[84..88].copy_from_slice(&self.entry_size.to_le_bytes());
        s[88..92].copy_from_slice(&self.entries_crc.to_le_bytes());
        let crc = crc32fast::hash(&s[..HEADER_SIZE as usize]);
        s[16..20].copy_from_slice(&crc.to_le_bytes());
        s
    }
}

/// Parses the used entries of an array whose checksum has been checked.
/// Entries whose LBAs are reversed or outside `first..=last` are an error
/// naming the entry.
pub fn parse_entries(array: &[u8], header: &GptHeader) -> Result<Vec<GptEntry>, GptProblem> {
    let mut out = Vec::new();
    let size = header.entry_size as usize;
    for (i, raw) in array
        .chunks_exact(size)
        .take(header.num_entries as usize)
        .enumerate()
    {
        let type_guid = guid_at(raw, 0);
        if type_guid.is_nil() {
            continue;
        }
        let first_lba = u64_at(raw, 32);
        let last_lba = u64_at(raw, 40);
        if first_lba > last_lba || first_lba < header.first_usable || last_lba > header.last_usable
        {
            return Err(GptProblem::EntryOutside {
                entry: u32::try_from(i + 1).unwrap_or(u32::MAX),
                first: first_lba,
                last: last_lba,
                first_usable: header.first_usable,
                last_usable: header.last_usable,
            });
        }
        let units: Vec<u16> = raw[56..128]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|u| *u != 0)
            .collect();
        out.push(GptEntry {
            index: i as u32,
            type_guid,
            unique_guid: guid_at(raw, 16),
            first_lba,
            last_lba,
            attributes: u64_at(raw, 48),
            name: String::from_utf16_lossy(&units),
        });
    }
    Ok(out)
}

/// Serialises entries into an array of `num_entries` entries of 128 bytes.
pub fn entries_to_array(entries: &[GptEntry], num_entries: u32) -> Vec<u8> {
    let mut array = vec![0u8; num_entries as usize * 128];
    for e in entries {
        let Some(raw) = array.get_mut(e.index as usize * 128..(e.index as usize + 1) * 128) else {
            continue;
        };
        raw[0..16].copy_from_slice(&e.type_guid.to_bytes_le());
        raw[16..32].copy_from_slice(&e.unique_guid.to_bytes_le());
        raw[32..40].copy_from_slice(&e.first_lba.to_le_bytes());
        raw[40..48].copy_from_slice(&e.last_lba.to_le_bytes());
        raw[48..56].copy_from_slice(&e.attributes.to_le_bytes());
        for (j, unit) in e.name.encode_utf16().take(36).enumerate() {
            raw[56 + 2 * j..58 + 2 * j].copy_from_slice(&unit.to_le_bytes());
        }
    }
    array
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header() -> GptHeader {
        GptHeader {
            my_lba: 1,
            alternate_lba: 2047,
            first_usable: 34,
            last_usable: 2014,
            disk_guid: Uuid::from_u128(0x1234),
            entries_lba: 2,
            num_entries: 128,
            entry_size: 128,
            entries_crc: 7,
        }
    }

    #[test]
    fn header_round_trip_and_crc() {
        let h = header();
        let s = h.to_sector(512);
        assert_eq!(GptHeader::parse(&s, 1, 2048, 512), Ok(h.clone()));
        let mut bad = s.clone();
        bad[60] ^= 1;
        assert_eq!(
            GptHeader::parse(&bad, 1, 2048, 512),
            Err(HeaderProblem::BadHeaderCrc)
        );
        assert_eq!(
            GptHeader::parse(&s, 2047, 2048, 512),
            Err(HeaderProblem::BadField("MyLBA"))
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1024), lba in 0u64..4096, sectors in 0u64..1u64<<40) {
            if let Ok(h) = GptHeader::parse(&bytes, lba, sectors, 512) {
                let _ = parse_entries(&bytes, &h);
            }
        }

        #[test]
        fn entries_round_trip(names in proptest::collection::vec("[a-zA-Z0-9 ]{0,36}", 1..10)) {
            let h = header();
            let entries: Vec<GptEntry> = names.iter().enumerate().map(|(i, n)| GptEntry {
                index: (i * 3) as u32,
                type_guid: Uuid::from_u128(i as u128 + 1),
                unique_guid: Uuid::from_u128(i as u128 + 100),
                first_lba: 34 + i as u64 * 10,
                last_lba: 34 + i as u64 * 10 + 9,
                attributes: i as u64,
                name: n.clone(),
            }).collect();
            let array = entries_to_array(&entries, 128);
            prop_assert_eq!(parse_entries(&array, &h).unwrap(), entries);
        }
    }
}
