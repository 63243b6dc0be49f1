//! Device elements (format 1): where an application or a file lives.
//!
//! The value is a 16-byte GUID of an options object (zero when none) and a
//! device descriptor `{type u32, flags u32, size u32, reserved u32, ...}`,
//! `size` counted from the descriptor's start (so it is the value's length
//! minus 16). Layouts, as read by DiscUtils `DeviceElementValue`, ntloader
//! `bcd.c` and pybcd `bcddevice.py`, checked against ReactOS'
//! `BL_DEVICE_DESCRIPTOR` (see DESIGN.md, 'Device elements'):
//!
//! | device | type | body |
//! |---|---|---|
//! | `boot` | 5 | 0x38 zero bytes (descriptor size 0x48) |
//! | `partition=` | 6 | +0x10 GPT partition GUID or MBR byte offset (u64), +0x24 table type (0 GPT, 1 MBR), +0x28 disk GUID or MBR signature (u32) |
//! | `ramdisk=[dev]\path` | 0, flags 1 | +0x10 local type 3, +0x28 file-path descriptor {version 1, length, type 5}, +0x34 the container's descriptor (0x48 bytes), +0x7C UTF-16 path, NUL |
//! | `locate` | 8 | kept as read, printed as `locate` |
//!
//! Anything else is kept byte for byte and printed as hex.

use uuid::Uuid;

/// The descriptor of `boot` and `partition=`.
const DESC: usize = 0x48;
/// The length of a `boot` or `partition=` value.
const SIMPLE: usize = 16 + DESC;
/// Where the ramdisk's container descriptor starts (absolute).
const RAMDISK_CONTAINER: usize = 0x44;
/// Where the ramdisk's path starts (absolute).
const RAMDISK_PATH: usize = RAMDISK_CONTAINER + DESC;

/// A partition, as a device element names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionId {
    /// A GPT partition: the disk's GUID and the partition's unique GUID.
    Gpt {
        /// The disk GUID.
        disk: Uuid,
        /// The partition's unique GUID.
        partition: Uuid,
    },
    /// An MBR partition: the disk signature and the partition's start in
    /// bytes.
    Mbr {
        /// The 32-bit disk signature (MBR offset 0x1B8).
        signature: u32,
        /// The partition's first byte.
        offset: u64,
    },
}

/// A decoded device element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Device {
    /// The device the boot manager was started from.
    Boot,
    /// A partition.
    Partition(PartitionId),
    /// A WIM loaded into a RAM disk from a file on `container`.
    Ramdisk {
        /// The device holding the file: [`Device::Boot`] or a partition.
        container: Box<Device>,
        /// The file's path on it (`\sources\boot.wim`).
        path: String,
        /// The device-options object (boot.sdi), if any.
        options: Option<Uuid>,
    },
    /// `locate`: the boot manager searches for the partition; kept as read.
    Locate(Vec<u8>),
    /// A layout dart does not decode; kept as read.
    Other(Vec<u8>),
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn put(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn guid_at(b: &[u8], off: usize) -> Uuid {
    let mut g = [0u8; 16];
    g.copy_from_slice(&b[off..off + 16]);
    Uuid::from_bytes_le(g)
}

impl Device {
    /// Decodes an element value; never fails (unknown layouts are kept).
    pub fn decode(bytes: &[u8]) -> Device {
        Self::try_decode(bytes).unwrap_or_else(|| Device::Other(bytes.to_vec()))
    }

    fn try_decode(b: &[u8]) -> Option<Device> {
        if b.len() < 32 || u32_at(b, 0x18) as usize + 16 != b.len() {
            return None;
        }
        match (u32_at(b, 0x10), u32_at(b, 0x14)) {
            (8, _) => Some(Device::Locate(b.to_vec())),
            (0, 1) => Self::ramdisk(b),
            (5 | 6, _) if b.len() == SIMPLE => Self::descriptor(&b[16..]),
            _ => None,
        }
    }

    /// A `boot` or `partition` descriptor of 0x48 bytes.
    fn descriptor(d: &[u8]) -> Option<Device> {
        if d.len() < DESC || u32_at(d, 8) as usize != DESC {
            return None;
        }
        match u32_at(d, 0) {
            5 => Some(Device::Boot),
            6 => {
                let id = match u32_at(d, 0x24) {
                    0 => PartitionId::Gpt {
                        partition: guid_at(d, 0x10),
                        disk: guid_at(d, 0x28),
                    },
                    1 => PartitionId::Mbr {
                        offset: u64::from_le_bytes(d[0x10..0x18].try_into().ok()?),
                        signature: u32_at(d, 0x28),
                    },
                    _ => return None,
                };
                Some(Device::Partition(id))
            }
            _ => None,
        }
    }

    fn ramdisk(b: &[u8]) -> Option<Device> {
        if b.len() < RAMDISK_PATH + 2 || u32_at(b, 0x20) != 3 || u32_at(b, 0x38) != 1 {
            return None;
        }
        let container = Self::descriptor(&b[RAMDISK_CONTAINER..RAMDISK_PATH])?;
        let units: Vec<u16> = b[RAMDISK_PATH..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|u| *u != 0)
            .collect();
        let options = Some(guid_at(b, 0)).filter(|g| !g.is_nil());
        Some(Device::Ramdisk {
            container: Box::new(container),
            path: String::from_utf16(&units).ok()?,
            options,
        })
    }

    /// The element value for this device.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Device::Boot | Device::Partition(_) => {
                let mut b = vec![0u8; SIMPLE];
                self.write_descriptor(&mut b[16..]);
                b
            }
            Device::Ramdisk {
                container,
                path,
                options,
            } => {
                let path: Vec<u8> = path
                    .encode_utf16()
                    .chain([0])
                    .flat_map(u16::to_le_bytes)
                    .collect();
                let mut b = vec![0u8; RAMDISK_PATH + path.len()];
                Self::ramdisk_header(&mut b, container, *options);
                b[RAMDISK_PATH..].copy_from_slice(&path);
                b
            }
            Device::Locate(raw) | Device::Other(raw) => raw.clone(),
        }
    }

    /// The value for this device, shaped like `template` when both are
    /// ramdisks and the path fits: the template's length and every byte
    /// dart does not set are kept (Microsoft's stores pre-size ramdisk
    /// values; ntloader patches them the same way).
    pub fn encode_like(&self, template: &[u8]) -> Vec<u8> {
        let fresh = self.encode();
        match (self, Device::decode(template)) {
            (Device::Ramdisk { .. }, Device::Ramdisk { .. }) if fresh.len() <= template.len() => {
                let mut b = template.to_vec();
                b[..RAMDISK_PATH].copy_from_slice(&fresh[..RAMDISK_PATH]);
                b[RAMDISK_PATH..].fill(0);
                b[RAMDISK_PATH..fresh.len()].copy_from_slice(&fresh[RAMDISK_PATH..]);
                let len = b.len();
                put(&mut b, 0x18, (len - 16) as u32);
                put(&mut b, 0x3C, (len - 0x38) as u32);
                b
            }
            _ => fresh,
        }
    }

    fn ramdisk_header(b: &mut [u8], container: &Device, options: Option<Uuid>) {
        let len = b.len();
        b[..16].copy_from_slice(&options.unwrap_or(Uuid::nil()).to_bytes_le());
        put(b, 0x10, 0);
        put(b, 0x14, 1);
        put(b, 0x18, (len - 16) as u32);
        put(b, 0x20, 3);
        put(b, 0x38, 1);
        put(b, 0x3C, (len - 0x38) as u32);
        put(b, 0x40, 5);
        container.write_descriptor(&mut b[RAMDISK_CONTAINER..RAMDISK_PATH]);
    }

    /// Writes a 0x48-byte `boot` or `partition` descriptor (a ramdisk's
    /// container is one of those; anything else is written as `boot`).
    fn write_descriptor(&self, d: &mut [u8]) {
        d[..DESC].fill(0);
        put(d, 8, DESC as u32);
        match self {
            Device::Partition(id) => {
                put(d, 0, 6);
                match id {
                    PartitionId::Gpt { disk, partition } => {
                        d[0x10..0x20].copy_from_slice(&partition.to_bytes_le());
                        put(d, 0x24, 0);
                        d[0x28..0x38].copy_from_slice(&disk.to_bytes_le());
                    }
                    PartitionId::Mbr { signature, offset } => {
                        d[0x10..0x18].copy_from_slice(&offset.to_le_bytes());
                        put(d, 0x24, 1);
                        put(d, 0x28, *signature);
                    }
                }
            }
            _ => put(d, 0, 5),
        }
    }

    /// As bcdedit prints it: `boot`, `ramdisk=[boot]\sources\boot.wim,{…}`.
    /// A partition prints as `partition={disk,partition}` for GPT and
    /// `partition=[signature@offset]` for MBR, since offline there is no
    /// drive letter; options objects print by alias when they have one.
    pub fn render(&self, alias: &dyn Fn(&Uuid) -> String) -> String {
        match self {
            Device::Boot => "boot".into(),
            Device::Partition(id) => format!("partition={}", render_partition(id)),
            Device::Ramdisk {
                container,
                path,
                options,
            } => {
                let at = match container.as_ref() {
                    Device::Partition(id) => render_partition(id),
                    _ => "boot".into(),
                };
                match options {
                    Some(o) => format!("ramdisk=[{at}]{path},{}", alias(o)),
                    None => format!("ramdisk=[{at}]{path}"),
                }
            }
            Device::Locate(_) => "locate".into(),
            Device::Other(raw) => format!("unknown device {}", hex(raw)),
        }
    }
}

fn render_partition(id: &PartitionId) -> String {
    match id {
        PartitionId::Gpt { disk, partition } => format!("{{{disk}}},{{{partition}}}"),
        PartitionId::Mbr { signature, offset } => format!("{signature:08x}@{offset}"),
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEDIA_OPTIONS: &str = "7619dcc8-fafe-11d9-b411-000476eba25f";

    #[test]
    fn ramdisk_boot_matches_the_published_layout() {
        let opts = Uuid::parse_str(MEDIA_OPTIONS).unwrap();
        let d = Device::Ramdisk {
            container: Box::new(Device::Boot),
            path: r"\sources\boot.wim".into(),
            options: Some(opts),
        };
        let b = d.encode();
        assert_eq!(b.len(), 0xB0);
        assert_eq!(
            &b[..16],
            &[
                0xc8, 0xdc, 0x19, 0x76, 0xfe, 0xfa, 0xd9, 0x11, 0xb4, 0x11, 0, 4, 0x76, 0xeb, 0xa2,
                0x5f
            ]
        );
        assert_eq!(
            &b[16..32],
            &[0, 0, 0, 0, 1, 0, 0, 0, 0xa0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(u32_at(&b, 0x20), 3);
        assert_eq!(
            (u32_at(&b, 0x38), u32_at(&b, 0x3C), u32_at(&b, 0x40)),
            (1, 0x78, 5)
        );
        assert_eq!((u32_at(&b, 0x44), u32_at(&b, 0x4C)), (5, 0x48));
        assert_eq!(Device::decode(&b), d);
        assert_eq!(
            d.render(&|g| format!("{{{g}}}")),
            format!(r"ramdisk=[boot]\sources\boot.wim,{{{MEDIA_OPTIONS}}}")
        );
    }

    #[test]
    fn boot_and_partitions_round_trip() {
        for d in [
            Device::Boot,
            Device::Partition(PartitionId::Gpt {
                disk: Uuid::from_u128(1),
                partition: Uuid::from_u128(2),
            }),
            Device::Partition(PartitionId::Mbr {
                signature: 0xdead_beef,
                offset: 1 << 20,
            }),
        ] {
            let b = d.encode();
            assert_eq!(b.len(), 0x58);
            assert_eq!(Device::decode(&b), d);
        }
        let mbr = Device::Partition(PartitionId::Mbr {
            signature: 0x1234_5678,
            offset: 0x10_0000,
        })
        .encode();
        assert_eq!(
            (u32_at(&mbr, 0x10), u32_at(&mbr, 0x34), u32_at(&mbr, 0x38)),
            (6, 1, 0x1234_5678)
        );
        assert_eq!(u32_at(&mbr, 0x20), 0x10_0000);
    }

    #[test]
    fn a_template_ramdisk_keeps_its_length() {
        let old = Device::Ramdisk {
            container: Box::new(Device::Boot),
            path: r"\sources\boot.wim".into(),
            options: None,
        };
        let mut template = old.encode();
        template.resize(0x28A, 0);
        put(&mut template, 0x18, (0x28A - 16) as u32);
        put(&mut template, 0x3C, (0x28A - 0x38) as u32);
        let new = Device::Ramdisk {
            container: Box::new(Device::Boot),
            path: r"\sources\level2.wim".into(),
            options: Some(Uuid::from_u128(7)),
        };
        let b = new.encode_like(&template);
        assert_eq!(b.len(), 0x28A);
        assert_eq!(Device::decode(&b), new);
    }
}
