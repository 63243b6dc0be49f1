//! [`Layout`]: a disk's partitions as plain data, printable and testable
//! before anything is written.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::kind::{GptAttributes, PartitionKind};
use crate::error::{Error, Result};

/// One mebibyte: the alignment of every partition the library creates.
pub const MIB: u64 = 1 << 20;

/// Entries in a GPT partition array written by the library.
pub const GPT_ENTRIES: u32 = 128;
/// Bytes per GPT partition entry.
pub const GPT_ENTRY_SIZE: u32 = 128;

/// The partition table scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Master Boot Record: up to four primary partitions, disks up to 2 TiB.
    Mbr,
    /// GUID Partition Table.
    Gpt,
}

impl Scheme {
    /// `"mbr"` or `"gpt"`.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Mbr => "mbr",
            Scheme::Gpt => "gpt",
        }
    }
}

impl std::str::FromStr for Scheme {
    type Err = Error;
    fn from_str(s: &str) -> Result<Scheme> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mbr" | "msdos" | "dos" => Ok(Scheme::Mbr),
            "gpt" => Ok(Scheme::Gpt),
            _ => Err(Error::invalid("partition scheme", s, "expected mbr or gpt")),
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name().to_ascii_uppercase())
    }
}

/// One partition. Offsets and sizes are in bytes and multiples of the
/// layout's sector size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// 1-based slot: the GPT entry index + 1, or the MBR table slot (1-4).
    pub number: u32,
    /// What it holds.
    pub kind: PartitionKind,
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub size: u64,
    /// GPT partition name (empty on MBR).
    pub name: String,
    /// GPT unique partition GUID (nil on MBR).
    pub guid: Uuid,
    /// GPT attribute bits (empty on MBR).
    pub attributes: GptAttributes,
    /// MBR active (boot) flag.
    pub bootable: bool,
}

impl Partition {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.start + self.size
    }
}

/// A free stretch of a disk, between or after partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreeRegion {
    /// First free byte.
    pub start: u64,
    /// Free bytes.
    pub size: u64,
}

impl fmt::Display for FreeRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bytes {}..{} ({})",
            self.start,
            self.start + self.size,
            human(self.size)
        )
    }
}

/// A disk's partition table as data.
///
/// ```
/// use dart_core::formats::partition::{Layout, PartitionKind, Scheme, MIB};
/// let mut layout = Layout::new(Scheme::Gpt, 64 * MIB, 512);
/// let p = layout.add(PartitionKind::EfiSystem, 32 * MIB, "USB")?;
/// assert_eq!(p.start, MIB);
/// layout.check()?;
/// println!("{layout}");
/// # Ok::<(), dart_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// MBR or GPT.
    pub scheme: Scheme,
    /// Logical sector size in bytes (512 or 4096).
    pub sector_size: u32,
    /// Disk size in bytes.
    pub disk_size: u64,
    /// GPT disk GUID (nil on MBR).
    pub disk_guid: Uuid,
    /// MBR disk signature (bytes 440..444 of sector 0).
    pub mbr_signature: u32,
    /// Partitions, ordered by number.
    pub partitions: Vec<Partition>,
}

impl Layout {
    /// An empty layout for a disk of `disk_size` bytes, with a fresh disk
    /// GUID (GPT) or signature (MBR).
    pub fn new(scheme: Scheme, disk_size: u64, sector_size: u32) -> Layout {
        let guid = Uuid::new_v4();
        let sig = u32::from_le_bytes([
            guid.as_bytes()[0],
            guid.as_bytes()[1],
            guid.as_bytes()[2],
            guid.as_bytes()[3],
        ]);
        Layout {
            scheme,
            sector_size,
            disk_size,
            disk_guid: if scheme == Scheme::Gpt {
                guid
            } else {
                Uuid::nil()
            },
            mbr_signature: sig,
            partitions: Vec::new(),
        }
    }

    /// Sectors on the disk.
    pub fn sectors(&self) -> u64 {
        self.disk_size / u64::from(self.sector_size)
    }

    /// Sectors of one GPT partition array.
    pub fn gpt_array_sectors(&self) -> u64 {
        u64::from(GPT_ENTRIES * GPT_ENTRY_SIZE).div_ceil(u64::from(self.sector_size))
    }

    /// The first byte a partition may use.
    pub fn first_usable(&self) -> u64 {
        let ss = u64::from(self.sector_size);
        match self.scheme {
            Scheme::Mbr => ss,
            Scheme::Gpt => (2 + self.gpt_array_sectors()) * ss,
        }
    }

    /// One past the last byte a partition may use.
    pub fn usable_end(&self) -> u64 {
        let ss = u64::from(self.sector_size);
        match self.scheme {
            Scheme::Mbr => self.sectors().min(u64::from(u32::MAX)) * ss,
            Scheme::Gpt => self.sectors().saturating_sub(1 + self.gpt_array_sectors()) * ss,
        }
    }

    /// Free regions, in disk order (unaligned; see [`Layout::add`]).
    pub fn free_regions(&self) -> Vec<FreeRegion> {
        let mut parts: Vec<&Partition> = self.partitions.iter().collect();
        parts.sort_by_key(|p| p.start);
        let mut free = Vec::new();
        let mut at = self.first_usable();
        for p in parts {
            if p.start > at {
                free.push(FreeRegion {
                    start: at,
                    size: p.start - at,
                });
            }
            at = at.max(p.end());
        }
        let end = self.usable_end();
        if end > at {
            free.push(FreeRegion {
                start: at,
                size: end - at,
            });
        }
        free
    }

    /// Where a partition of `size` bytes would go: the first free region
    /// that holds it with its start aligned to 1 MiB, preferring the region
    /// after the last partition (where Windows puts its recovery partition).
    pub fn find_space(&self, size: u64) -> Option<u64> {
        let regions = self.free_regions();
        let fits = |r: &FreeRegion| {
            let start = r.start.next_multiple_of(MIB);
            (start.checked_add(size)? <= r.start + r.size).then_some(start)
        };
        let last_end = self
            .partitions
            .iter()
            .map(Partition::end)
            .max()
            .unwrap_or(0);
        regions
            .iter()
            .filter(|r| r.start >= last_end)
            .find_map(fits)
            .or_else(|| regions.iter().find_map(fits))
    }

    /// The lowest unused partition number.
    pub fn next_number(&self) -> Option<u32> {
        let max = match self.scheme {
            Scheme::Mbr => 4,
            Scheme::Gpt => GPT_ENTRIES,
        };
        (1..=max).find(|n| self.partitions.iter().all(|p| p.number != *n))
    }

    /// Adds a partition of `size` bytes (rounded up to whole sectors) in
    /// free space, aligned to 1 MiB, and returns it. GPT partitions get a
    /// fresh unique GUID. Nothing is written; see
    /// [`apply`](super::apply::apply).
    pub fn add(&mut self, kind: PartitionKind, size: u64, name: &str) -> Result<Partition> {
        let ss = u64::from(self.sector_size);
        let size = size.next_multiple_of(ss);
        self.check_kind(kind)?;
        let Some(number) = self.next_number() else {
            return Err(Error::DiskLayout {
                disk: "<layout>".into(),
                detail: format!("the {} partition table has no free slot", self.scheme),
            });
        };
        let Some(start) = self.find_space(size) else {
            return Err(Error::NoFreeSpace {
                disk: "<layout>".into(),
                what: format!("a {kind} partition"),
                needed: size,
                free: describe_free(&self.free_regions()),
            });
        };
        let part = Partition {
            number,
            kind,
            start,
            size,
            name: if self.scheme == Scheme::Gpt {
                name.to_string()
            } else {
                String::new()
            },
            guid: if self.scheme == Scheme::Gpt {
                Uuid::new_v4()
            } else {
                Uuid::nil()
            },
            attributes: GptAttributes::empty(),
            bootable: false,
        };
        self.partitions.push(part.clone());
        self.partitions.sort_by_key(|p| p.number);
        Ok(part)
    }

    fn check_kind(&self, kind: PartitionKind) -> Result<()> {
        let ok = match self.scheme {
            Scheme::Mbr => kind.mbr_type().is_some(),
            Scheme::Gpt => kind.gpt_type().is_some(),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::invalid(
                "partition kind",
                kind,
                format!("it does not exist on {} disks", self.scheme),
            ))
        }
    }

    /// Checks the layout: sector-aligned, inside the usable area, no
    /// overlaps, unique numbers in range, kinds that exist in the scheme,
    /// GPT names of at most 36 UTF-16 units, at most one active MBR partition.
    pub fn check(&self) -> Result<()> {
        let bad = |detail: String| Error::DiskLayout {
            disk: "<layout>".into(),
            detail,
        };
        if self.sector_size != 512 && self.sector_size != 4096 {
            return Err(bad(format!(
                "sector size {} is neither 512 nor 4096 bytes",
                self.sector_size
            )));
        }
        let ss = u64::from(self.sector_size);
        if self.scheme == Scheme::Gpt && self.sectors() < 2 * (2 + self.gpt_array_sectors()) {
            return Err(bad(format!(
                "{} bytes is too small for a GPT",
                self.disk_size
            )));
        }
        let max = match self.scheme {
            Scheme::Mbr => 4,
            Scheme::Gpt => GPT_ENTRIES,
        };
        let mut sorted: Vec<&Partition> = self.partitions.iter().collect();
        sorted.sort_by_key(|p| p.start);
        for (i, p) in sorted.iter().enumerate() {
            let which = format!("partition {}", p.number);
            if p.number == 0 || p.number > max {
                return Err(bad(format!("{which} is numbered outside 1..={max}")));
            }
            if self
                .partitions
                .iter()
                .filter(|q| q.number == p.number)
                .count()
                > 1
            {
                return Err(bad(format!("{which} appears twice")));
            }
            if p.size == 0 || p.start % ss != 0 || p.size % ss != 0 {
                return Err(bad(format!("{which} is empty or not sector-aligned")));
            }
            if p.start < self.first_usable() || p.end() > self.usable_end() {
                return Err(bad(format!(
                    "{which} (bytes {}..{}) lies outside the usable area {}..{}",
                    p.start,
                    p.end(),
                    self.first_usable(),
                    self.usable_end()
                )));
            }
            if let Some(next) = sorted.get(i + 1) {
                if next.start < p.end() {
                    return Err(bad(format!("{which} overlaps partition {}", next.number)));
                }
            }
            self.check_kind(p.kind)?;
            if p.name.encode_utf16().count() > 36 {
                return Err(bad(format!("{which} has a name longer than 36 characters")));
            }
        }
        if self.scheme == Scheme::Mbr && self.partitions.iter().filter(|p| p.bootable).count() > 1 {
            return Err(bad("more than one MBR partition is marked active".into()));
        }
        Ok(())
    }

    /// The partition with this number.
    pub fn partition(&self, number: u32) -> Option<&Partition> {
        self.partitions.iter().find(|p| p.number == number)
    }
}

/// "start..end (size)" for each region, or "none".
pub fn describe_free(regions: &[FreeRegion]) -> String {
    if regions.is_empty() {
        return "none".into();
    }
    regions
        .iter()
        .map(FreeRegion::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Bytes as "1.5 GiB".
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ss = u64::from(self.sector_size);
        writeln!(
            f,
            "{} disk, {} ({} sectors of {} bytes), {}",
            self.scheme,
            human(self.disk_size),
            self.sectors(),
            self.sector_size,
            match self.scheme {
                Scheme::Gpt => format!("GUID {}", self.disk_guid),
                Scheme::Mbr => format!("signature {:08X}", self.mbr_signature),
            }
        )?;
        writeln!(
            f,
            "{:>3}  {:>12}  {:>12}  {:>10}  {:<20} name / flags",
            "#", "start LBA", "end LBA", "size", "type"
        )?;
        for p in &self.partitions {
            let mut notes = Vec::new();
            if !p.name.is_empty() {
                notes.push(format!("{:?}", p.name));
            }
            if !p.attributes.is_empty() {
                notes.push(format!("attributes 0x{:016X}", p.attributes.bits()));
            }
            if p.bootable {
                notes.push("active".into());
            }
            writeln!(
                f,
                "{:>3}  {:>12}  {:>12}  {:>10}  {:<20} {}",
                p.number,
                p.start / ss,
                p.end() / ss - 1,
                human(p.size),
                p.kind.describe(),
                notes.join(", ")
            )?;
        }
        write!(f, "free: {}", describe_free(&self.free_regions()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_aligns_and_check_catches_overlap() {
        let mut l = Layout::new(Scheme::Gpt, 100 * MIB, 512);
        let a = l.add(PartitionKind::BasicData, 10 * MIB, "a").unwrap();
        let b = l
            .add(PartitionKind::WindowsRecovery, 5 * MIB + 1, "b")
            .unwrap();
        assert_eq!((a.start, b.start), (MIB, 11 * MIB));
        assert_eq!(b.size, 5 * MIB + 512);
        l.check().unwrap();
        l.partitions[1].start = 5 * MIB;
        assert!(l.check().unwrap_err().to_string().contains("overlaps"));
    }

    #[test]
    fn no_space_error_lists_free_regions() {
        let mut l = Layout::new(Scheme::Mbr, 20 * MIB, 512);
        l.add(PartitionKind::Fat32, 10 * MIB, "").unwrap();
        let err = l
            .add(PartitionKind::WindowsRecovery, 15 * MIB, "")
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("15728640 bytes") && msg.contains("bytes 11534336..20971520"),
            "{msg}"
        );
    }

    #[test]
    fn mbr_has_four_slots() {
        let mut l = Layout::new(Scheme::Mbr, 100 * MIB, 512);
        for _ in 0..4 {
            l.add(PartitionKind::Fat32, MIB, "").unwrap();
        }
        assert!(l.add(PartitionKind::Fat32, MIB, "").is_err());
        assert!(l.to_string().contains("FAT32"));
    }
}
