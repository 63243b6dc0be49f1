//! FAT32 geometry: choosing a cluster size for a volume, predicting the
//! layout `fatfs::format_volume` produces, and reading the layout of an
//! existing volume back from its boot sector.

use crate::disk::BlockDevice;
use crate::error::{Error, Result};

/// FAT32 needs at least this many clusters (fewer makes it FAT16).
pub(crate) const MIN_CLUSTERS: u32 = 65_525;
/// The largest cluster count a FAT32 volume may have.
pub(crate) const MAX_CLUSTERS: u32 = 0x0FFF_FFF4;
/// Reserved sectors `fatfs` puts before the first FAT on FAT32.
pub(crate) const FATFS_RESERVED: u32 = 8;
/// The fewest reserved sectors dart gives a FAT32 volume (as Windows and
/// mkfs.fat do); more when that aligns the data region.
pub(crate) const MIN_RESERVED: u32 = 32;
/// The data region starts on a multiple of this many bytes (or of the
/// cluster size, when larger): 4 KiB-sector flash and `O_DIRECT` writes
/// then never straddle a physical sector.
pub(crate) const DATA_ALIGN: u32 = 4096;
/// FAT copies.
pub(crate) const FATS: u32 = 2;
/// End-of-chain value written to the FAT.
pub(crate) const EOC: u32 = 0x0FFF_FFFF;
/// Mask of the 28 bits of a FAT32 entry that hold the cluster.
pub(crate) const ENTRY_MASK: u32 = 0x0FFF_FFFF;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// The cluster size for a volume of `bytes`: the table mkfs.fat and
/// Windows use (512 B up to 260 MiB, 4 KiB up to 8 GiB, 8 KiB up to
/// 16 GiB, 16 KiB up to 32 GiB, 32 KiB above), never below a sector.
pub(crate) fn preferred_cluster_size(bytes: u64, sector_size: u32) -> u32 {
    let c = if bytes <= 260 * MIB {
        512
    } else if bytes <= 8 * GIB {
        4096
    } else if bytes <= 16 * GIB {
        8192
    } else if bytes <= 32 * GIB {
        16_384
    } else {
        32_768
    };
    c.max(sector_size)
}

/// The layout of a FAT32 volume dart writes: fatfs's format with the
/// reserved sectors padded so the data region (and every cluster) starts
/// aligned (see [`DATA_ALIGN`]); fatfs itself always reserves 8 sectors,
/// which left clusters 1 KiB off a 4 KiB boundary on most volume sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub bytes_per_sector: u32,
    pub cluster_size: u32,
    pub total_sectors: u32,
    pub reserved_sectors: u32,
    pub fat_sectors: u32,
    pub clusters: u32,
}

impl Layout {
    /// The FAT32 layout for a volume of `bytes` with `sector_size`-byte
    /// sectors: the preferred cluster size, halved while that leaves fewer
    /// than [`MIN_CLUSTERS`]. `None` when the volume is too small (or too
    /// large) for FAT32.
    pub fn plan(bytes: u64, sector_size: u32) -> Option<Layout> {
        if !(512..=4096).contains(&sector_size) || !sector_size.is_power_of_two() {
            return None;
        }
        let total = u32::try_from(bytes / u64::from(sector_size)).unwrap_or(u32::MAX);
        let mut cluster = preferred_cluster_size(bytes, sector_size);
        loop {
            let layout = Layout::with_cluster(total, sector_size, cluster)?;
            if layout.clusters >= MIN_CLUSTERS {
                return (layout.clusters <= MAX_CLUSTERS).then_some(layout);
            }
            if cluster <= sector_size {
                return None;
            }
            cluster /= 2;
        }
    }

    /// The layout with a given cluster size: fatfs's FAT size formula with
    /// at least [`MIN_RESERVED`] reserved sectors, padded until the data
    /// region is aligned.
    fn with_cluster(total_sectors: u32, bps: u32, cluster: u32) -> Option<Layout> {
        let spc = cluster / bps;
        if spc == 0 || spc > 128 {
            return None;
        }
        let align = DATA_ALIGN.max(cluster) / bps;
        let mut reserved = MIN_RESERVED;
        let mut fat_sectors = fat_size(total_sectors, reserved, spc, bps)?;
        for _ in 0..8 {
            let misalign = (reserved + FATS * fat_sectors) % align;
            if misalign == 0 {
                break;
            }
            reserved += align - misalign;
            fat_sectors = fat_size(total_sectors, reserved, spc, bps)?;
        }
        if !(reserved + FATS * fat_sectors).is_multiple_of(align) || reserved > u32::from(u16::MAX)
        {
            return None;
        }
        let data = total_sectors.checked_sub(reserved + FATS * fat_sectors)?;
        let clusters = data / spc;
        // The FAT must map every cluster (entries 0 and 1 are reserved).
        if u64::from(fat_sectors) * u64::from(bps) / 4 < u64::from(clusters) + 2 {
            return None;
        }
        Some(Layout {
            bytes_per_sector: bps,
            cluster_size: cluster,
            total_sectors,
            reserved_sectors: reserved,
            fat_sectors,
            clusters,
        })
    }
}

/// Sectors per FAT for a volume of `total` sectors with `reserved`
/// reserved sectors, by fatfs's (and the FAT specification's) formula.
pub(crate) fn fat_size(total: u32, reserved: u32, spc: u32, bps: u32) -> Option<u32> {
    if total <= reserved + 8 {
        return None;
    }
    let t0 = u64::from(total - reserved);
    let t1 = t0 + 2 * u64::from(spc);
    let t2 = u64::from(spc * bps * 8 / 32 + FATS);
    u32::try_from(t1.div_ceil(t2)).ok()
}

/// The geometry of an existing FAT32 volume, from its boot sector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub bytes_per_sector: u32,
    pub sectors_per_cluster: u32,
    pub reserved_sectors: u32,
    pub fats: u32,
    pub fat_sectors: u32,
    pub total_sectors: u32,
    pub root_cluster: u32,
    pub fsinfo_sector: u32,
    /// Data clusters (numbered 2..clusters+2).
    pub clusters: u32,
}

/// Why a boot sector does not describe a FAT32 volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BootSectorProblem {
    /// No 0x55 0xAA signature at bytes 510..512.
    NoSignature,
    /// Bytes per sector not a power of two from 512 to 4096.
    SectorSize(u32),
    /// Sectors per cluster zero or not a power of two.
    SectorsPerCluster(u32),
    /// No reserved sectors, or no FAT.
    NoReservedSectorsOrFat,
    /// The FAT12/16 root entry count or 16-bit FAT size is set.
    Fat12Or16,
    /// The reserved sectors and FATs fill the whole volume.
    FatsDoNotFit,
    /// Too few clusters for FAT32.
    TooFewClusters(u32),
    /// The FAT cannot map every cluster.
    FatTooSmall,
    /// The root directory's cluster is not a data cluster.
    RootCluster(u32),
}

impl std::fmt::Display for BootSectorProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BootSectorProblem::NoSignature => f.write_str("no boot sector signature"),
            BootSectorProblem::SectorSize(bps) => write!(f, "bad sector size {bps}"),
            BootSectorProblem::SectorsPerCluster(spc) => write!(f, "bad sectors per cluster {spc}"),
            BootSectorProblem::NoReservedSectorsOrFat => {
                f.write_str("no reserved sectors or no FAT")
            }
            BootSectorProblem::Fat12Or16 => f.write_str("it is FAT12 or FAT16"),
            BootSectorProblem::FatsDoNotFit => f.write_str("the FATs do not fit in the volume"),
            BootSectorProblem::TooFewClusters(n) => {
                write!(f, "{n} clusters is FAT12/16, not FAT32")
            }
            BootSectorProblem::FatTooSmall => {
                f.write_str("the FAT is smaller than the cluster count")
            }
            BootSectorProblem::RootCluster(c) => write!(f, "bad root directory cluster {c}"),
        }
    }
}

impl std::error::Error for BootSectorProblem {}

impl Geometry {
    /// Reads and checks the boot sector; a [`Error::DiskLayout`] naming the
    /// device when it is not a usable FAT32 volume.
    pub fn read(dev: &mut dyn BlockDevice) -> Result<Geometry> {
        let bad = |dev: &dyn BlockDevice, detail: String| Error::DiskLayout {
            disk: dev.name().to_path_buf(),
            detail,
        };
        if dev.len() < 512 {
            return Err(bad(
                dev,
                "the partition is too small to hold a FAT32 volume".into(),
            ));
        }
        let mut b = [0u8; 512];
        dev.read_at(0, &mut b)?;
        let g =
            Geometry::parse(&b).map_err(|why| bad(dev, format!("not a FAT32 volume: {why}")))?;
        let needed = u64::from(g.total_sectors) * u64::from(g.bytes_per_sector);
        if needed > dev.len() {
            return Err(bad(
                dev,
                format!(
                    "the FAT32 boot sector describes {needed} bytes but the partition holds {}",
                    dev.len()
                ),
            ));
        }
        Ok(g)
    }

    /// Parses the first 512 bytes of a volume.
    pub fn parse(b: &[u8; 512]) -> std::result::Result<Geometry, BootSectorProblem> {
        let u16_at = |o: usize| u32::from(u16::from_le_bytes([b[o], b[o + 1]]));
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        if b[510] != 0x55 || b[511] != 0xAA {
            return Err(BootSectorProblem::NoSignature);
        }
        let bps = u16_at(11);
        if !(512..=4096).contains(&bps) || !bps.is_power_of_two() {
            return Err(BootSectorProblem::SectorSize(bps));
        }
        let spc = u32::from(b[13]);
        if spc == 0 || !spc.is_power_of_two() {
            return Err(BootSectorProblem::SectorsPerCluster(spc));
        }
        let reserved = u16_at(14);
        let fats = u32::from(b[16]);
        if reserved == 0 || fats == 0 {
            return Err(BootSectorProblem::NoReservedSectorsOrFat);
        }
        if u16_at(17) != 0 || u16_at(22) != 0 {
            return Err(BootSectorProblem::Fat12Or16);
        }
        let total = if u16_at(19) != 0 {
            u16_at(19)
        } else {
            u32_at(32)
        };
        let fat_sectors = u32_at(36);
        let root_cluster = u32_at(44);
        let fsinfo = u16_at(48);
        let meta = u64::from(reserved) + u64::from(fats) * u64::from(fat_sectors);
        if fat_sectors == 0 || meta >= u64::from(total) {
            return Err(BootSectorProblem::FatsDoNotFit);
        }
        let clusters = (total - meta as u32) / spc;
        if clusters < MIN_CLUSTERS {
            return Err(BootSectorProblem::TooFewClusters(clusters));
        }
        if u64::from(fat_sectors) * u64::from(bps) / 4 < u64::from(clusters) + 2 {
            return Err(BootSectorProblem::FatTooSmall);
        }
        if root_cluster < 2 || root_cluster >= clusters + 2 {
            return Err(BootSectorProblem::RootCluster(root_cluster));
        }
        Ok(Geometry {
            bytes_per_sector: bps,
            sectors_per_cluster: spc,
            reserved_sectors: reserved,
            fats,
            fat_sectors,
            total_sectors: total,
            root_cluster,
            fsinfo_sector: fsinfo,
            clusters,
        })
    }

    /// Bytes per cluster.
    pub fn cluster_size(&self) -> u32 {
        self.bytes_per_sector * self.sectors_per_cluster
    }

    /// Byte offset of FAT copy `i`.
    pub fn fat_offset(&self, i: u32) -> u64 {
        u64::from(self.reserved_sectors + i * self.fat_sectors) * u64::from(self.bytes_per_sector)
    }

    /// Byte offset of cluster `c` (>= 2).
    pub fn cluster_offset(&self, c: u32) -> u64 {
        let data = u64::from(self.reserved_sectors + self.fats * self.fat_sectors);
        (data + u64::from(c - 2) * u64::from(self.sectors_per_cluster))
            * u64::from(self.bytes_per_sector)
    }

    /// Whether `c` numbers a data cluster.
    pub fn is_cluster(&self, c: u32) -> bool {
        c >= 2 && c < self.clusters + 2
    }

    /// Byte offset of the FSInfo sector, if the volume has one.
    pub fn fsinfo_offset(&self) -> Option<u64> {
        (self.fsinfo_sector != 0
            && self.fsinfo_sector != 0xFFFF
            && self.fsinfo_sector < self.reserved_sectors)
            .then(|| u64::from(self.fsinfo_sector) * u64::from(self.bytes_per_sector))
    }
}

/// Rewrites the free-cluster count and next-free hint of the FSInfo sector
/// (`None` = unknown, 0xFFFFFFFF). Does nothing on a volume without one.
pub(crate) fn write_fsinfo(
    dev: &mut dyn BlockDevice,
    g: &Geometry,
    free: Option<u32>,
    next: Option<u32>,
) -> Result<()> {
    let Some(off) = g.fsinfo_offset() else {
        return Ok(());
    };
    let mut sector = vec![0u8; g.bytes_per_sector as usize];
    dev.read_at(off, &mut sector)?;
    if sector[0..4] != 0x4161_5252u32.to_le_bytes()
        || sector[484..488] != 0x6141_7272u32.to_le_bytes()
    {
        return Ok(());
    }
    sector[488..492].copy_from_slice(&free.unwrap_or(u32::MAX).to_le_bytes());
    sector[492..496].copy_from_slice(&next.unwrap_or(u32::MAX).to_le_bytes());
    dev.write_at(off, &sector)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_sizes_follow_the_table() {
        assert_eq!(Layout::plan(64 << 20, 512).unwrap().cluster_size, 512);
        assert_eq!(Layout::plan(1 << 30, 512).unwrap().cluster_size, 4096);
        assert_eq!(Layout::plan(12 << 30, 512).unwrap().cluster_size, 8192);
        assert_eq!(Layout::plan(100 << 30, 512).unwrap().cluster_size, 32768);
        assert!(Layout::plan(32 << 20, 512).is_none());
        assert!(Layout::plan(128 << 20, 4096).is_none());
        assert_eq!(Layout::plan(261 << 20, 512).unwrap().cluster_size, 4096);
        assert!(Layout::plan(261 << 20, 512).unwrap().clusters >= MIN_CLUSTERS);
        assert_eq!(Layout::plan(300 << 20, 4096).unwrap().cluster_size, 4096);
    }

    #[test]
    fn written_volumes_have_the_planned_aligned_layout() {
        use crate::disk::{BlockDevice, MemoryDevice};
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.bin"), vec![7u8; 10_000]).unwrap();
        let media = crate::model::media::MediaSet::from_dir(dir.path()).unwrap();
        for (size, sector) in [
            (34u64 << 20, 512u32),
            (300 << 20, 4096),
            (977 << 20, 512),
            (1029 << 20, 512),
        ] {
            let l = Layout::plan(size, sector).unwrap();
            let mut dev = MemoryDevice::new(size as usize, sector);
            super::super::write_volume(
                &mut dev,
                &media,
                &super::super::FatOptions::default(),
                &crate::progress::Control::default(),
            )
            .unwrap();
            let g = Geometry::read(&mut dev).unwrap();
            assert_eq!(g.clusters, l.clusters, "{size} {sector}");
            assert_eq!(g.fat_sectors, l.fat_sectors);
            assert_eq!(g.reserved_sectors, l.reserved_sectors);
            assert_eq!(g.cluster_size(), l.cluster_size);
            let data = g.cluster_offset(2);
            assert_eq!(
                data % u64::from(DATA_ALIGN.max(l.cluster_size)),
                0,
                "{size}: data at {data}"
            );
            assert!(g.reserved_sectors >= MIN_RESERVED);
            assert_eq!(dev.len(), size);
            assert_eq!(
                super::super::read_file(&mut dev, "f.bin").unwrap(),
                vec![7u8; 10_000]
            );
        }
    }

    #[test]
    fn garbage_is_not_fat32() {
        let mut b = [0u8; 512];
        assert!(Geometry::parse(&b).is_err());
        b[510] = 0x55;
        b[511] = 0xAA;
        assert!(Geometry::parse(&b)
            .unwrap_err()
            .to_string()
            .contains("sector size"));
    }
}
