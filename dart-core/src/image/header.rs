//! The WIM file header and the uncompressed XML resource it points at.
//!
//! wimlib does the heavy lifting on WIM files; this module parses the fixed
//! 208-byte header itself, defensively, so that a file that is not a WIM or is
//! cut short gets a precise error before wimlib is involved, and so that the
//! XML document's timestamps can be pinned in deterministic builds.
//!
//! Layout (all little-endian): magic `MSWIM\0\0\0` (or `WLPWM\0\0\0` for
//! pipable WIMs), header size, version, flags, chunk size, GUID, part number,
//! total parts, image count, then resource headers for the blob table, the XML
//! data, the boot metadata, the boot index and the integrity table.

use std::fmt;

/// Size of the on-disk header.
pub const HEADER_SIZE: usize = 208;
/// Magic of an ordinary WIM.
pub const MAGIC: [u8; 8] = *b"MSWIM\0\0\0";
/// Magic of a wimlib pipable WIM.
pub const PIPABLE_MAGIC: [u8; 8] = *b"WLPWM\0\0\0";

/// A resource header: where a resource is in the file and how big it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResourceHeader {
    /// Bytes the resource takes in the file (56 bits on disk).
    pub size_in_wim: u64,
    /// Resource flags (`0x04` compressed, `0x02` metadata, ...).
    pub flags: u8,
    /// Offset of the resource from the start of the file.
    pub offset: u64,
    /// Size once decompressed.
    pub uncompressed_size: u64,
}

/// Resource flag: the resource is compressed.
pub const RESHDR_FLAG_COMPRESSED: u8 = 0x04;

impl ResourceHeader {
    const SIZE: usize = 24;

    fn parse(b: &[u8; Self::SIZE]) -> ResourceHeader {
        let mut size = [0u8; 8];
        size[..7].copy_from_slice(&b[..7]);
        ResourceHeader {
            size_in_wim: u64::from_le_bytes(size),
            flags: b[7],
            offset: le_u64(&b[8..16]),
            uncompressed_size: le_u64(&b[16..24]),
        }
    }

    fn write(&self, out: &mut [u8; Self::SIZE]) {
        let size = (self.size_in_wim & 0x00FF_FFFF_FFFF_FFFF).to_le_bytes();
        out[..7].copy_from_slice(&size[..7]);
        out[7] = self.flags;
        out[8..16].copy_from_slice(&self.offset.to_le_bytes());
        out[16..24].copy_from_slice(&self.uncompressed_size.to_le_bytes());
    }
}

/// The fixed header at the start of every WIM file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WimHeader {
    /// Whether this is a wimlib pipable WIM.
    pub pipable: bool,
    /// Format version (`0x10D00`, or `0xE00` for solid "ESD" files).
    pub version: u32,
    /// Header flags (compression type bits and others).
    pub flags: u32,
    /// Compression chunk size.
    pub chunk_size: u32,
    /// The WIM's GUID.
    pub guid: [u8; 16],
    /// Part number of a split WIM (1 otherwise).
    pub part_number: u16,
    /// Parts of a split WIM (1 otherwise).
    pub total_parts: u16,
    /// Number of images.
    pub image_count: u32,
    /// The blob (lookup) table.
    pub blob_table: ResourceHeader,
    /// The XML document.
    pub xml_data: ResourceHeader,
    /// The boot image's metadata resource.
    pub boot_metadata: ResourceHeader,
    /// 1-based boot image index, 0 for none.
    pub boot_index: u32,
    /// The integrity table, zero when absent.
    pub integrity: ResourceHeader,
}

/// Why bytes are not a WIM header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// Fewer than [`HEADER_SIZE`] bytes.
    TooShort(usize),
    /// The first eight bytes are not a WIM magic.
    BadMagic([u8; 8]),
    /// The header-size field is not 208.
    BadHeaderSize(u32),
    /// A resource lies outside the file.
    ResourceOutOfFile {
        /// Which resource.
        which: &'static str,
        /// Its end offset.
        end: u64,
        /// The file's length.
        file_len: u64,
    },
    /// Image count, boot index or part numbers contradict each other.
    Inconsistent(&'static str),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::TooShort(n) => {
                write!(f, "only {n} bytes, a WIM header needs {HEADER_SIZE}")
            }
            HeaderError::BadMagic(m) => {
                write!(f, "starts with {m:02x?}, not the WIM magic \"MSWIM\"")
            }
            HeaderError::BadHeaderSize(n) => {
                write!(f, "header size field is {n}, expected {HEADER_SIZE}")
            }
            HeaderError::ResourceOutOfFile {
                which,
                end,
                file_len,
            } => {
                write!(f, "the {which} ends at byte {end} but the file has only {file_len} bytes (truncated?)")
            }
            HeaderError::Inconsistent(what) => write!(f, "inconsistent header: {what}"),
        }
    }
}

fn le_u16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

fn reshdr_at(bytes: &[u8; HEADER_SIZE], at: usize) -> ResourceHeader {
    let mut a = [0u8; ResourceHeader::SIZE];
    a.copy_from_slice(&bytes[at..at + ResourceHeader::SIZE]);
    ResourceHeader::parse(&a)
}

impl WimHeader {
    /// Parses the header from the first bytes of a file. Never panics.
    pub fn parse(bytes: &[u8]) -> Result<WimHeader, HeaderError> {
        let head: &[u8; HEADER_SIZE] = bytes
            .get(..HEADER_SIZE)
            .and_then(|s| s.try_into().ok())
            .ok_or(HeaderError::TooShort(bytes.len()))?;
        let mut magic = [0u8; 8];
        magic.copy_from_slice(&head[..8]);
        let pipable = match magic {
            MAGIC => false,
            PIPABLE_MAGIC => true,
            other => return Err(HeaderError::BadMagic(other)),
        };
        let hdr_size = le_u32(&head[8..]);
        if hdr_size as usize != HEADER_SIZE {
            return Err(HeaderError::BadHeaderSize(hdr_size));
        }
        let mut guid = [0u8; 16];
        guid.copy_from_slice(&head[24..40]);
        let header = WimHeader {
            pipable,
            version: le_u32(&head[12..]),
            flags: le_u32(&head[16..]),
            chunk_size: le_u32(&head[20..]),
            guid,
            part_number: le_u16(&head[40..]),
            total_parts: le_u16(&head[42..]),
            image_count: le_u32(&head[44..]),
            blob_table: reshdr_at(head, 48),
            xml_data: reshdr_at(head, 72),
            boot_metadata: reshdr_at(head, 96),
            boot_index: le_u32(&head[120..]),
            integrity: reshdr_at(head, 124),
        };
        if header.boot_index > header.image_count {
            return Err(HeaderError::Inconsistent(
                "boot index is above the image count",
            ));
        }
        if header.part_number == 0 || header.part_number > header.total_parts {
            return Err(HeaderError::Inconsistent(
                "part number is 0 or above the part count",
            ));
        }
        Ok(header)
    }

    /// Serialises the header to its 208 on-disk bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut out = [0u8; HEADER_SIZE];
        out[..8].copy_from_slice(if self.pipable { &PIPABLE_MAGIC } else { &MAGIC });
        out[8..12].copy_from_slice(&(HEADER_SIZE as u32).to_le_bytes());
        out[12..16].copy_from_slice(&self.version.to_le_bytes());
        out[16..20].copy_from_slice(&self.flags.to_le_bytes());
        out[20..24].copy_from_slice(&self.chunk_size.to_le_bytes());
        out[24..40].copy_from_slice(&self.guid);
        out[40..42].copy_from_slice(&self.part_number.to_le_bytes());
        out[42..44].copy_from_slice(&self.total_parts.to_le_bytes());
        out[44..48].copy_from_slice(&self.image_count.to_le_bytes());
        for (at, r) in [
            (48, &self.blob_table),
            (72, &self.xml_data),
            (96, &self.boot_metadata),
            (124, &self.integrity),
        ] {
            let mut a = [0u8; ResourceHeader::SIZE];
            r.write(&mut a);
            out[at..at + ResourceHeader::SIZE].copy_from_slice(&a);
        }
        out[120..124].copy_from_slice(&self.boot_index.to_le_bytes());
        out
    }

    /// Checks that every resource the header points at lies inside a file of
    /// `file_len` bytes: a truncated WIM fails here.
    pub fn check_fits(&self, file_len: u64) -> Result<(), HeaderError> {
        let resources = [
            ("blob table", &self.blob_table),
            ("XML data", &self.xml_data),
            ("boot metadata", &self.boot_metadata),
            ("integrity table", &self.integrity),
        ];
        for (which, r) in resources {
            if r.size_in_wim == 0 {
                continue;
            }
            let end = r.offset.saturating_add(r.size_in_wim);
            if end > file_len {
                return Err(HeaderError::ResourceOutOfFile {
                    which,
                    end,
                    file_len,
                });
            }
        }
        Ok(())
    }
}

/// Rewrites the value of every `<ELEMENT><HIGHPART>0x..</HIGHPART><LOWPART>0x..</LOWPART>`
/// timestamp in a UTF-16LE XML document in place (the hex fields keep their
/// width, so the document keeps its length). Returns how many were rewritten.
pub fn set_xml_timestamps(xml_utf16le: &mut [u8], element: &str, wim_timestamp: u64) -> usize {
    let open = utf16le(&format!("<{element}><HIGHPART>0x"));
    let middle = utf16le("</HIGHPART><LOWPART>0x");
    let high = utf16le(&format!("{:08X}", (wim_timestamp >> 32) as u32));
    let low = utf16le(&format!("{:08X}", wim_timestamp as u32));
    let mut count = 0;
    let mut at = 0;
    while let Some(found) = find(&xml_utf16le[at..], &open) {
        let high_at = at + found + open.len();
        let mid_at = high_at + high.len();
        let low_at = mid_at + middle.len();
        let fits = xml_utf16le.get(mid_at..low_at) == Some(&middle[..])
            && low_at + low.len() <= xml_utf16le.len()
            && is_utf16_hex(&xml_utf16le[high_at..mid_at])
            && is_utf16_hex(&xml_utf16le[low_at..low_at + low.len()]);
        if fits {
            xml_utf16le[high_at..mid_at].copy_from_slice(&high);
            xml_utf16le[low_at..low_at + low.len()].copy_from_slice(&low);
            count += 1;
        }
        at = high_at;
    }
    count
}

/// Converts Unix seconds to a WIM timestamp (100 ns ticks since 1601).
pub fn unix_to_wim_timestamp(unix_seconds: i64) -> u64 {
    const EPOCH_DIFF_SECS: i64 = 11_644_473_600;
    (unix_seconds.saturating_add(EPOCH_DIFF_SECS)).max(0) as u64 * 10_000_000
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn is_utf16_hex(b: &[u8]) -> bool {
    b.chunks(2)
        .all(|c| c.len() == 2 && c[1] == 0 && c[0].is_ascii_hexdigit())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Fuzzing entry point (also run over the seed corpus by `cargo test`):
/// parses arbitrary bytes as a header and patches them as XML. Never panics.
#[cfg(feature = "fuzzing")]
pub fn fuzz_one(data: &[u8]) {
    if let Ok(h) = WimHeader::parse(data) {
        let _ = h.check_fits(data.len() as u64);
        assert_eq!(
            WimHeader::parse(&h.to_bytes()).as_ref(),
            Ok(&h),
            "header must round-trip"
        );
    }
    let mut copy = data.to_vec();
    let n = set_xml_timestamps(&mut copy, "LASTMODIFICATIONTIME", 0x01D0_0000_0000_0000);
    assert_eq!(copy.len(), data.len());
    assert!(n <= data.len());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_reshdr() -> impl Strategy<Value = ResourceHeader> {
        (0u64..(1 << 56), any::<u8>(), any::<u64>(), any::<u64>()).prop_map(|(s, f, o, u)| {
            ResourceHeader {
                size_in_wim: s,
                flags: f,
                offset: o,
                uncompressed_size: u,
            }
        })
    }

    fn arb_header() -> impl Strategy<Value = WimHeader> {
        (
            any::<bool>(),
            any::<(u32, u32, u32)>(),
            any::<[u8; 16]>(),
            (1u16..8, 0u32..16),
            (arb_reshdr(), arb_reshdr(), arb_reshdr(), arb_reshdr()),
        )
            .prop_map(
                |(pipable, (version, flags, chunk_size), guid, (parts, images), (b, x, m, i))| {
                    WimHeader {
                        pipable,
                        version,
                        flags,
                        chunk_size,
                        guid,
                        part_number: 1,
                        total_parts: parts,
                        image_count: images,
                        blob_table: b,
                        xml_data: x,
                        boot_metadata: m,
                        boot_index: images.min(1),
                        integrity: i,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn header_round_trips(h in arb_header()) {
            prop_assert_eq!(WimHeader::parse(&h.to_bytes()), Ok(h));
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = WimHeader::parse(&bytes);
        }

        #[test]
        fn timestamp_patch_keeps_length(ts in any::<u64>(), old in any::<u64>()) {
            let doc = format!(
                "<WIM><IMAGE><LASTMODIFICATIONTIME><HIGHPART>0x{:08X}</HIGHPART><LOWPART>0x{:08X}</LOWPART></LASTMODIFICATIONTIME></IMAGE></WIM>",
                (old >> 32) as u32, old as u32
            );
            let mut bytes = utf16le(&doc);
            let len = bytes.len();
            prop_assert_eq!(set_xml_timestamps(&mut bytes, "LASTMODIFICATIONTIME", ts), 1);
            prop_assert_eq!(bytes.len(), len);
            let expected = format!(
                "<WIM><IMAGE><LASTMODIFICATIONTIME><HIGHPART>0x{:08X}</HIGHPART><LOWPART>0x{:08X}</LOWPART></LASTMODIFICATIONTIME></IMAGE></WIM>",
                (ts >> 32) as u32, ts as u32
            );
            prop_assert_eq!(bytes, utf16le(&expected));
        }

        #[test]
        fn timestamp_patch_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut b = bytes;
            let _ = set_xml_timestamps(&mut b, "CREATIONTIME", 1);
        }
    }

    #[test]
    fn rejects_non_wims() {
        assert_eq!(WimHeader::parse(b"MSWIM"), Err(HeaderError::TooShort(5)));
        let mut bytes = [0u8; HEADER_SIZE];
        bytes[..4].copy_from_slice(b"MZ\x90\0");
        assert!(matches!(
            WimHeader::parse(&bytes),
            Err(HeaderError::BadMagic(_))
        ));
    }

    #[test]
    fn truncation_is_detected() {
        let h = WimHeader {
            pipable: false,
            version: 0x10D00,
            flags: 0,
            chunk_size: 32768,
            guid: [0; 16],
            part_number: 1,
            total_parts: 1,
            image_count: 1,
            blob_table: ResourceHeader {
                size_in_wim: 100,
                flags: 0,
                offset: 1000,
                uncompressed_size: 100,
            },
            xml_data: ResourceHeader::default(),
            boot_metadata: ResourceHeader::default(),
            boot_index: 1,
            integrity: ResourceHeader::default(),
        };
        assert!(h.check_fits(1100).is_ok());
        assert!(matches!(
            h.check_fits(1099),
            Err(HeaderError::ResourceOutOfFile {
                which: "blob table",
                ..
            })
        ));
    }

    #[test]
    fn unix_epoch_in_wim_ticks() {
        assert_eq!(unix_to_wim_timestamp(0), 116_444_736_000_000_000);
    }
}
