//! UEFI device paths (UEFI spec 2.10 §10.3): a list of nodes, each
//! `{type u8, subtype u8, length u16 (header included), data}`, ending with
//! the end-of-entire-path node (0x7f/0xff, length 4).
//!
//! Decoded: the hard-drive node (4/1, 42 bytes, §10.3.5.1) and the
//! file-path node (4/4, UTF-16 path, §10.3.5.4); every other node is kept
//! byte for byte ([`DevicePathNode::Other`]), so decoding then encoding
//! gives back the same bytes.

use std::fmt;

use serde::Serialize;
use uuid::Uuid;

use super::bytes::{array, encode_utf16z, u16_at, u32_at, u64_at, utf16z};
use super::UefiProblem;

/// Media device path type.
const MEDIA: u8 = 4;
/// Hard drive subtype of [`MEDIA`].
const HARD_DRIVE: u8 = 1;
/// File path subtype of [`MEDIA`].
const FILE_PATH: u8 = 4;
/// End of hardware device path type.
const END: u8 = 0x7f;
/// End of the entire device path.
const END_ENTIRE: u8 = 0xff;
/// End of this instance of a multi-instance device path.
const END_INSTANCE: u8 = 0x01;
/// Size of a hard-drive node, header included.
const HARD_DRIVE_LEN: usize = 42;

/// The partition signature of a hard-drive node, with its partition
/// format (MBR type 1 / GPT type 2) and signature type (1 MBR, 2 GUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum HdSignature {
    /// A GPT partition: format 2, signature type 2, the partition's
    /// unique GUID.
    Gpt(Uuid),
    /// An MBR partition: format 1, signature type 1, the disk's 32-bit
    /// signature.
    Mbr(u32),
    /// An MBR partition without a disk signature: format 1, signature
    /// type 0.
    None,
}

/// One device path node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum DevicePathNode {
    /// A partition of a hard drive (4/1).
    HardDrive {
        /// The partition number (1-based; 0 is the whole disk).
        partition_number: u32,
        /// The first LBA of the partition.
        start_lba: u64,
        /// The size of the partition in LBAs.
        size_lba: u64,
        /// The partition signature and the partition-table kind.
        signature: HdSignature,
    },
    /// A file on the partition before it (4/4), `\EFI\BOOT\BOOTX64.EFI`.
    FilePath(String),
    /// Any other node, kept byte for byte.
    Other {
        /// The node type.
        kind: u8,
        /// The node subtype.
        subtype: u8,
        /// The data after the 4-byte header.
        data: Vec<u8>,
    },
}

impl DevicePathNode {
    /// A hard-drive node for GPT partition `partition_guid`.
    pub fn gpt_partition(
        partition_number: u32,
        start_lba: u64,
        size_lba: u64,
        partition_guid: Uuid,
    ) -> Self {
        DevicePathNode::HardDrive {
            partition_number,
            start_lba,
            size_lba,
            signature: HdSignature::Gpt(partition_guid),
        }
    }

    /// Decodes one node from its type, subtype and data; a hard-drive or
    /// file-path node whose bytes would not encode back identically stays
    /// [`DevicePathNode::Other`].
    fn from_parts(kind: u8, subtype: u8, data: &[u8]) -> DevicePathNode {
        let decoded = match (kind, subtype) {
            (MEDIA, HARD_DRIVE) => decode_hard_drive(data),
            (MEDIA, FILE_PATH) => decode_file_path(data),
            _ => None,
        };
        decoded.unwrap_or_else(|| DevicePathNode::Other {
            kind,
            subtype,
            data: data.to_vec(),
        })
    }

    /// The node's type, subtype and data.
    fn parts(&self) -> Result<(u8, u8, Vec<u8>), UefiProblem> {
        Ok(match self {
            DevicePathNode::HardDrive {
                partition_number,
                start_lba,
                size_lba,
                signature,
            } => {
                let mut d = Vec::with_capacity(HARD_DRIVE_LEN - 4);
                d.extend_from_slice(&partition_number.to_le_bytes());
                d.extend_from_slice(&start_lba.to_le_bytes());
                d.extend_from_slice(&size_lba.to_le_bytes());
                let (sig, format, sig_type) = match signature {
                    HdSignature::Gpt(g) => (g.to_bytes_le(), 2u8, 2u8),
                    HdSignature::Mbr(s) => {
                        let mut b = [0u8; 16];
                        b[..4].copy_from_slice(&s.to_le_bytes());
                        (b, 1, 1)
                    }
                    HdSignature::None => ([0u8; 16], 1, 0),
                };
                d.extend_from_slice(&sig);
                d.push(format);
                d.push(sig_type);
                (MEDIA, HARD_DRIVE, d)
            }
            DevicePathNode::FilePath(p) => (MEDIA, FILE_PATH, encode_utf16z(p, "file path")?),
            DevicePathNode::Other {
                kind,
                subtype,
                data,
            } => (*kind, *subtype, data.clone()),
        })
    }
}

fn decode_hard_drive(data: &[u8]) -> Option<DevicePathNode> {
    if data.len() != HARD_DRIVE_LEN - 4 {
        return None;
    }
    let partition_number = u32_at(data, 0, "").ok()?;
    let start_lba = u64_at(data, 4, "").ok()?;
    let size_lba = u64_at(data, 12, "").ok()?;
    let sig: [u8; 16] = array(data, 20, "").ok()?;
    let signature = match (data[36], data[37]) {
        // The GUID in its on-disk mixed-endian form.
        (2, 2) => HdSignature::Gpt(Uuid::from_bytes_le(sig)),
        (1, 1) if sig[4..].iter().all(|&b| b == 0) => {
            HdSignature::Mbr(u32::from_le_bytes([sig[0], sig[1], sig[2], sig[3]]))
        }
        (1, 0) if sig.iter().all(|&b| b == 0) => HdSignature::None,
        _ => return None,
    };
    Some(DevicePathNode::HardDrive {
        partition_number,
        start_lba,
        size_lba,
        signature,
    })
}

fn decode_file_path(data: &[u8]) -> Option<DevicePathNode> {
    let (path, used) = utf16z(data, 0, "file path").ok()?;
    (used == data.len()).then_some(DevicePathNode::FilePath(path))
}

/// Decodes a device path: nodes up to and including a final end-of-entire-
/// path node, which must be the last bytes. An end node before that (the
/// start of a further path, as load options may carry) is kept as
/// [`DevicePathNode::Other`]. Never panics.
pub fn decode_path(bytes: &[u8]) -> Result<Vec<DevicePathNode>, UefiProblem> {
    let mut nodes = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let kind = bytes[at];
        let subtype = *bytes.get(at + 1).ok_or(UefiProblem::Truncated {
            what: "device path node",
            offset: at,
            needed: 4,
            available: bytes.len() - at,
        })?;
        let len = usize::from(u16_at(bytes, at + 2, "device path node")?);
        if len < 4 {
            return Err(UefiProblem::BadField {
                field: "device path node length",
                offset: at + 2,
                found: len.to_string(),
                expected: "at least 4".into(),
            });
        }
        let data = super::bytes::slice(bytes, at, len, "device path node")?
            .get(4..)
            .unwrap_or_default();
        let next = at + len;
        if kind == END && subtype == END_ENTIRE && next == bytes.len() {
            if !data.is_empty() {
                return Err(UefiProblem::BadField {
                    field: "end node length",
                    offset: at + 2,
                    found: len.to_string(),
                    expected: "4".into(),
                });
            }
            return Ok(nodes);
        }
        nodes.push(DevicePathNode::from_parts(kind, subtype, data));
        at = next;
    }
    Err(UefiProblem::MissingEndNode)
}

/// Encodes `nodes` followed by the end-of-entire-path node.
pub fn encode_path(nodes: &[DevicePathNode]) -> Result<Vec<u8>, UefiProblem> {
    let mut out = Vec::new();
    for node in nodes {
        let (kind, subtype, data) = node.parts()?;
        let len = u16::try_from(data.len() + 4).map_err(|_| UefiProblem::Unencodable {
            field: "device path node",
            reason: format!(
                "{} bytes of data exceed a node's 65535-byte limit",
                data.len()
            ),
        })?;
        out.push(kind);
        out.push(subtype);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&data);
    }
    out.extend_from_slice(&[END, END_ENTIRE, 4, 0]);
    Ok(out)
}

impl fmt::Display for HdSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HdSignature::Gpt(g) => write!(f, "GPT,{g}"),
            HdSignature::Mbr(s) => write!(f, "MBR,0x{s:x}"),
            HdSignature::None => f.write_str("MBR,0"),
        }
    }
}

/// As UEFI's device-path-to-text and efibootmgr write nodes:
/// `HD(3,GPT,<guid>,0x800,0x1000)`, `File(\EFI\BOOT\BOOTX64.EFI)`,
/// `Path(type,subtype,hexdata)` for the others.
impl fmt::Display for DevicePathNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DevicePathNode::HardDrive {
                partition_number,
                start_lba,
                size_lba,
                signature,
            } => write!(
                f,
                "HD({partition_number},{signature},0x{start_lba:x},0x{size_lba:x})"
            ),
            DevicePathNode::FilePath(p) => write!(f, "File({p})"),
            DevicePathNode::Other {
                kind: END, subtype, ..
            } if *subtype == END_INSTANCE || *subtype == END_ENTIRE => f.write_str(","),
            DevicePathNode::Other {
                kind,
                subtype,
                data,
            } => {
                write!(f, "Path({kind},{subtype},")?;
                for b in data {
                    write!(f, "{b:02X}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// A device path as text: its nodes joined by `/`.
pub struct PathText<'a>(pub &'a [DevicePathNode]);

impl fmt::Display for PathText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, node) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            write!(f, "{node}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    const GUID: Uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677);

    fn sample() -> Vec<DevicePathNode> {
        vec![
            DevicePathNode::gpt_partition(3, 0x800, 0x1000, GUID),
            DevicePathNode::FilePath(r"\EFI\BOOT\BOOTX64.EFI".into()),
        ]
    }

    #[test]
    fn hard_drive_and_file_nodes_have_their_spec_layout() {
        let bytes = encode_path(&sample()).unwrap();
        assert_eq!(&bytes[..4], &[4, 1, 42, 0]);
        assert_eq!(&bytes[4..8], &3u32.to_le_bytes());
        assert_eq!(&bytes[8..16], &0x800u64.to_le_bytes());
        assert_eq!(&bytes[16..24], &0x1000u64.to_le_bytes());
        // Mixed-endian GUID: the first three fields little-endian.
        assert_eq!(&bytes[24..28], &[0x67, 0x45, 0x23, 0x01]);
        assert_eq!(&bytes[40..42], &[2, 2]);
        let file_len = 4 + (r"\EFI\BOOT\BOOTX64.EFI".len() + 1) * 2;
        assert_eq!(&bytes[42..46], &[4, 4, file_len as u8, 0]);
        assert_eq!(&bytes[42 + file_len..], &[0x7f, 0xff, 4, 0]);
        assert_eq!(decode_path(&bytes).unwrap(), sample());
    }

    #[test]
    fn paths_read_as_efibootmgr_writes_them() {
        assert_eq!(
            PathText(&sample()).to_string(),
            r"HD(3,GPT,01234567-89ab-cdef-0011-223344556677,0x800,0x1000)/File(\EFI\BOOT\BOOTX64.EFI)"
        );
        let mbr = DevicePathNode::HardDrive {
            partition_number: 1,
            start_lba: 63,
            size_lba: 100,
            signature: HdSignature::Mbr(0xdeadbeef),
        };
        assert_eq!(mbr.to_string(), "HD(1,MBR,0xdeadbeef,0x3f,0x64)");
    }

    #[test]
    fn hostile_paths_are_refused() {
        assert_eq!(decode_path(&[]), Err(UefiProblem::MissingEndNode));
        assert!(matches!(
            decode_path(&[4, 4, 2, 0]),
            Err(UefiProblem::BadField { .. })
        ));
        assert!(matches!(
            decode_path(&[4, 4, 200, 0, 0]),
            Err(UefiProblem::Truncated { .. })
        ));
        assert!(matches!(
            decode_path(&[4]),
            Err(UefiProblem::Truncated { .. })
        ));
        assert_eq!(decode_path(&[1, 1, 4, 0]), Err(UefiProblem::MissingEndNode));
        assert!(decode_path(&[0x7f, 0xff, 4, 0, 1]).is_err());
        assert!(decode_path(&[0x7f, 0xff, 5, 0, 1]).is_err());
    }

    #[test]
    fn odd_nodes_and_further_paths_are_kept_byte_for_byte() {
        // A hard-drive node with a GPT format but an MBR signature type,
        // a file path without its NUL, then an end node and a second path.
        let mut bytes = vec![4, 1, 42, 0];
        bytes.extend_from_slice(&[0; 36]);
        bytes.extend_from_slice(&[2, 1]);
        bytes.extend_from_slice(&[4, 4, 6, 0, b'A', 0]);
        bytes.extend_from_slice(&[0x7f, 0xff, 4, 0]);
        bytes.extend_from_slice(&[1, 1, 6, 0, 9, 9]);
        bytes.extend_from_slice(&[0x7f, 0xff, 4, 0]);
        let nodes = decode_path(&bytes).unwrap();
        assert_eq!(nodes.len(), 4);
        assert!(nodes
            .iter()
            .all(|n| matches!(n, DevicePathNode::Other { .. })));
        assert_eq!(encode_path(&nodes).unwrap(), bytes);
    }

    pub(crate) fn arb_node() -> impl Strategy<Value = DevicePathNode> {
        let sig = prop_oneof![
            any::<u128>().prop_map(|g| HdSignature::Gpt(Uuid::from_u128(g))),
            any::<u32>().prop_map(HdSignature::Mbr),
            Just(HdSignature::None),
        ];
        prop_oneof![
            (any::<u32>(), any::<u64>(), any::<u64>(), sig).prop_map(|(n, s, z, signature)| {
                DevicePathNode::HardDrive {
                    partition_number: n,
                    start_lba: s,
                    size_lba: z,
                    signature,
                }
            }),
            "[^\u{0}]{0,40}".prop_map(DevicePathNode::FilePath),
            (
                0u8..0x7f,
                any::<u8>(),
                proptest::collection::vec(any::<u8>(), 0..60)
            )
                .prop_map(|(kind, subtype, data)| DevicePathNode::from_parts(kind, subtype, &data)),
        ]
    }

    proptest! {
        #[test]
        fn device_paths_round_trip(nodes in proptest::collection::vec(arb_node(), 0..6)) {
            let bytes = encode_path(&nodes).unwrap();
            prop_assert_eq!(decode_path(&bytes).unwrap(), nodes);
        }

        #[test]
        fn hostile_device_paths_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(nodes) = decode_path(&bytes) {
                prop_assert_eq!(encode_path(&nodes).unwrap(), bytes);
            }
        }
    }
}
