//! The base block: the first 4096 bytes of a hive.

use super::problem::HiveProblem;

/// Size of the base block.
pub(crate) const BASE_BLOCK: usize = 4096;
/// Bytes covered by the checksum.
const CHECKSUMMED: usize = 508;

/// The base-block fields a hive keeps across a rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The sequence number (primary and secondary are equal in a clean
    /// hive); the writer stores this plus one.
    pub sequence: u32,
    /// Last written time (FILETIME).
    pub timestamp: u64,
    /// Minor version: 3 (BCD stores, `lf` lists) to 6.
    pub minor: u32,
    /// Bytes 48..508 (file name, reserved fields, flags) as read; the
    /// writer copies them back.
    pub reserved: Vec<u8>,
    /// Bytes 512..4096 as read, copied back.
    pub tail: Vec<u8>,
}

impl Header {
    /// The header of a new regf 1.3 hive.
    pub fn new(timestamp: u64) -> Header {
        Header {
            sequence: 0,
            timestamp,
            minor: 3,
            reserved: vec![0; CHECKSUMMED - 48],
            tail: vec![0; BASE_BLOCK - 512],
        }
    }

    /// Reads and checks a base block; returns the header, the root cell's
    /// offset and the size of the hive bins data.
    pub(crate) fn parse(bytes: &[u8]) -> Result<(Header, u32, u32), HiveProblem> {
        if bytes.len() < 4 || &bytes[..4] != b"regf" {
            return Err(HiveProblem::NotAHive);
        }
        if bytes.len() < BASE_BLOCK {
            return Err(HiveProblem::Truncated {
                needed: BASE_BLOCK as u64,
                found: bytes.len() as u64,
            });
        }
        let d = |off: usize| {
            u32::from_le_bytes([bytes[off], bytes[off + 1], bytes[off + 2], bytes[off + 3]])
        };
        let computed = xor(bytes);
        let stored = d(CHECKSUMMED);
        if stored != computed && stored != windows_checksum(computed) {
            return Err(HiveProblem::Checksum { stored, computed });
        }
        let (primary, secondary) = (d(4), d(8));
        if primary != secondary {
            return Err(HiveProblem::Dirty { primary, secondary });
        }
        let field = |field, value: u32| HiveProblem::Header {
            field,
            value: u64::from(value),
        };
        if d(20) != 1 {
            return Err(field("major version", d(20)));
        }
        let minor = d(24);
        if !(3..=6).contains(&minor) {
            return Err(field("minor version", minor));
        }
        if d(28) != 0 {
            return Err(field("file type (0 is a primary hive)", d(28)));
        }
        if d(32) != 1 {
            return Err(field("file format", d(32)));
        }
        let bins = d(40);
        if bins == 0 || !bins.is_multiple_of(4096) {
            return Err(field("hive bins data size", bins));
        }
        let needed = BASE_BLOCK as u64 + u64::from(bins);
        if (bytes.len() as u64) < needed {
            return Err(HiveProblem::Truncated {
                needed,
                found: bytes.len() as u64,
            });
        }
        let timestamp = u64::from(d(12)) | (u64::from(d(16)) << 32);
        Ok((
            Header {
                sequence: primary,
                timestamp,
                minor,
                reserved: bytes[48..CHECKSUMMED].to_vec(),
                tail: bytes[512..BASE_BLOCK].to_vec(),
            },
            d(36),
            bins,
        ))
    }

    /// The base block for hive bins of `bins` bytes with the root at
    /// `root`, as the next generation (sequence + 1).
    ///
    /// Windows stores 1 for a checksum that comes out 0 and 0xFFFFFFFE for
    /// one that comes out 0xFFFFFFFF; libhivex does not know this rule and
    /// refuses such a hive. The writer therefore moves the timestamp by
    /// one tick until the checksum is neither, so both accept it.
    pub(crate) fn to_bytes(&self, root: u32, bins: u32) -> [u8; BASE_BLOCK] {
        let mut b = [0u8; BASE_BLOCK];
        let seq = self.sequence.wrapping_add(1);
        b[..4].copy_from_slice(b"regf");
        put(&mut b, 4, seq);
        put(&mut b, 8, seq);
        put(&mut b, 20, 1);
        put(&mut b, 24, self.minor);
        put(&mut b, 28, 0);
        put(&mut b, 32, 1);
        put(&mut b, 36, root);
        put(&mut b, 40, bins);
        put(&mut b, 44, 1);
        if self.reserved.len() == CHECKSUMMED - 48 {
            b[48..CHECKSUMMED].copy_from_slice(&self.reserved);
        }
        if self.tail.len() == BASE_BLOCK - 512 {
            b[512..].copy_from_slice(&self.tail);
        }
        let mut timestamp = self.timestamp;
        loop {
            b[12..20].copy_from_slice(&timestamp.to_le_bytes());
            let sum = xor(&b);
            if sum != 0 && sum != u32::MAX {
                put(&mut b, CHECKSUMMED, sum);
                return b;
            }
            timestamp = timestamp.wrapping_add(1);
        }
    }
}

fn put(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// XOR of the first 127 dwords.
fn xor(b: &[u8]) -> u32 {
    b[..CHECKSUMMED].chunks_exact(4).fold(0, |acc, c| {
        acc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]])
    })
}

/// The checksum Windows stores for a XOR of `sum`.
fn windows_checksum(sum: u32) -> u32 {
    match sum {
        0 => 1,
        u32::MAX => u32::MAX - 1,
        s => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_never_takes_the_two_values_windows_rewrites() {
        // Find a timestamp whose block XORs to 0, then check the writer
        // moved it.
        let h = Header::new(0);
        let b = h.to_bytes(0x20, 4096);
        let sum = xor(&b);
        let t = u64::from_le_bytes(b[12..20].try_into().unwrap());
        let forced = Header {
            timestamp: (t ^ u64::from(sum)) & 0xFFFF_FFFF | (t & !0xFFFF_FFFF),
            ..h
        };
        let b = forced.to_bytes(0x20, 4096);
        assert_ne!(xor(&b), 0);
        assert_eq!(
            Header::parse(&[b.as_slice(), &[0; 4096]].concat())
                .unwrap()
                .0
                .sequence,
            1
        );
    }
}
