//! [`write_volume`]: format a partition as FAT32 and place a media set on
//! it, every file in one contiguous extent, written in large aligned pieces.

use serde::Serialize;

use super::dirent::{
    lfn_entries, DirEntry, ATTR_ARCHIVE, ATTR_DIRECTORY, ATTR_VOLUME_ID, ENTRY_SIZE,
};
use super::geometry::{write_fsinfo, Geometry, Layout};
use super::options::{FatOptions, FatTime};
use super::table::Fat;
use super::tree::{Kind, Tree};
use super::{check_media, volume_size_for};
use crate::disk::stream::{copy_files, CancelText, Job, Tally};
use crate::disk::{BlockDevice, DeviceIo};
use crate::error::{Error, Result};
use crate::model::media::MediaSet;
use crate::progress::{Control, Phase};

/// What [`write_volume`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FatReport {
    /// Bytes per cluster.
    pub cluster_size: u32,
    /// Data clusters of the volume.
    pub clusters_total: u32,
    /// Clusters used by directories and files.
    pub clusters_used: u32,
    /// Files written.
    pub files: u64,
    /// Directories written, the root included.
    pub directories: u64,
    /// Bytes of file data (the media set's total).
    pub data_bytes: u64,
    /// Every byte written to the device by this call after formatting: file
    /// data with the padding of last clusters, directories, FATs, FSInfo.
    pub bytes_written: u64,
    /// The volume's size in bytes.
    pub volume_bytes: u64,
    /// The volume serial number.
    pub volume_id: u32,
    /// The volume label as stored (upper case, no padding).
    pub label: String,
}

const CANCEL: CancelText = CancelText {
    operation: "writing the FAT32 volume",
    untouched: "the volume was left incomplete and must be written again before use",
};

/// Formats `dev` (a partition) as FAT32 and writes `media` onto it.
///
/// Everything is checked before the first write: the options, the file
/// names, the 4 GiB FAT32 file limit ([`Error::FileTooLarge`]) and the
/// size ([`Error::TargetTooSmall`] with the bytes needed). The volume is
/// formatted with `fatfs`; directories and file data are then placed by
/// this module: clusters are allocated in order, so every file is one
/// contiguous extent, and file data streams in 4 MiB aligned writes while
/// the next piece is read. Progress reports count file data bytes out of
/// the media's total; cancellation is checked between pieces. The device
/// is flushed at the end.
///
/// ```no_run
/// use dart_core::disk::FileDevice;
/// use dart_core::formats::fat::{self, FatOptions};
/// use dart_core::model::media::MediaSet;
/// use dart_core::progress::Control;
/// let media = MediaSet::from_dir("media")?;
/// let size = fat::volume_size_for(&media, 512);
/// let mut img = FileDevice::create("esp.img", size, 512)?;
/// let report = fat::write_volume(&mut img, &media, &FatOptions::default(), &Control::default())?;
/// println!("{} files in {} clusters", report.files, report.clusters_used);
/// # Ok::<(), dart_core::Error>(())
/// ```
pub fn write_volume(
    dev: &mut dyn BlockDevice,
    media: &MediaSet,
    opts: &FatOptions,
    control: &Control,
) -> Result<FatReport> {
    // 1. Validate everything; nothing is written before this is done.
    let label = opts.label_bytes()?;
    check_media(media)?;
    let tree = Tree::build(media)?;
    let sector = dev.sector_size();
    let files = media.files();
    let too_small = |dev: &dyn BlockDevice| Error::TargetTooSmall {
        target: dev.name().display().to_string(),
        what: format!(
            "a FAT32 volume holding {} files of {} bytes",
            files.len(),
            media.total_bytes()
        ),
        needed: volume_size_for(media, sector),
        available: dev.len(),
    };
    let layout = Layout::plan(dev.len(), sector).ok_or_else(|| too_small(dev))?;
    if tree.clusters_needed(media, layout.cluster_size, opts.has_label())
        > u64::from(layout.clusters)
    {
        return Err(too_small(dev));
    }
    let mtimes: Vec<Option<std::time::SystemTime>> =
        files.iter().map(|f| media.modified(f)).collect();
    if control.cancel.is_cancelled() {
        return Err(Error::Cancelled {
            operation: CANCEL.operation,
            untouched: "nothing was written",
        });
    }
    control
        .progress
        .report(Phase::WritingFiles, "", 0, media.total_bytes());

    // 2. Format.
    let volume_id = opts.volume_id();
    let mut format = fatfs::FormatVolumeOptions::new()
        .bytes_per_sector(sector as u16)
        .total_sectors(layout.total_sectors)
        .bytes_per_cluster(layout.cluster_size)
        .fat_type(fatfs::FatType::Fat32)
        .volume_id(volume_id);
    if opts.has_label() {
        format = format.volume_label(label);
    }
    format_staged(dev, format, &layout)?;

    // 3. Read the geometry back and allocate: directories first (the root
    // continues from its first cluster), then files in media order.
    let geo = Geometry::read(dev)?;
    let mut fat = Fat::read(dev, &geo)?;
    let cs = u64::from(geo.cluster_size());
    let full = |dev: &dyn BlockDevice| Error::DiskLayout {
        disk: dev.name().to_path_buf(),
        detail: "the new FAT32 volume ran out of clusters".into(),
    };
    let mut dir_chains: Vec<Vec<u32>> = Vec::with_capacity(tree.dirs.len());
    for d in 0..tree.dirs.len() {
        let n = tree.dir_bytes(d, opts.has_label()).div_ceil(cs) as u32;
        let chain = if d == 0 {
            let mut chain = vec![geo.root_cluster];
            chain.extend(fat.alloc(n - 1).ok_or_else(|| full(dev))?);
            fat.link(&chain);
            chain
        } else {
            fat.alloc(n).ok_or_else(|| full(dev))?
        };
        dir_chains.push(chain);
    }
    let mut jobs = Vec::with_capacity(files.len());
    let mut first_clusters = Vec::with_capacity(files.len());
    for f in &files {
        let chain = fat
            .alloc(f.size.div_ceil(cs) as u32)
            .ok_or_else(|| full(dev))?;
        first_clusters.push(chain.first().copied().unwrap_or(0));
        jobs.push(Job {
            source: media.source(f),
            name: f.path.clone(),
            size: f.size,
            runs: fat.runs(&chain),
        });
    }

    // 4. File data, then directories, FATs and FSInfo.
    let mut tally = Tally {
        done: 0,
        total: media.total_bytes(),
    };
    let mut written = copy_files(dev, &jobs, geo.cluster_size(), control, &mut tally, CANCEL)?;
    let now = opts.now();
    for (d, node) in tree.dirs.iter().enumerate() {
        let mut buf = Vec::with_capacity(dir_chains[d].len() * cs as usize);
        if d == 0 {
            if opts.has_label() {
                buf.extend_from_slice(&DirEntry::new(label, ATTR_VOLUME_ID, 0, 0, now).to_bytes());
            }
        } else {
            let parent = if node.parent == 0 {
                0
            } else {
                dir_chains[node.parent][0]
            };
            buf.extend_from_slice(
                &DirEntry::new(*b".          ", ATTR_DIRECTORY, dir_chains[d][0], 0, now)
                    .to_bytes(),
            );
            buf.extend_from_slice(
                &DirEntry::new(*b"..         ", ATTR_DIRECTORY, parent, 0, now).to_bytes(),
            );
        }
        for child in &node.children {
            let entry = match child.kind {
                Kind::Dir(sub) => {
                    DirEntry::new(child.short, ATTR_DIRECTORY, dir_chains[sub][0], 0, now)
                }
                Kind::File(i) => DirEntry::new(
                    child.short,
                    ATTR_ARCHIVE,
                    first_clusters[i],
                    files[i].size as u32,
                    file_time(opts, mtimes[i]),
                ),
            };
            if child.needs_lfn {
                for e in lfn_entries(&child.long, &child.short) {
                    buf.extend_from_slice(&e);
                }
            }
            buf.extend_from_slice(&entry.to_bytes());
        }
        buf.resize(dir_chains[d].len() * cs as usize, 0);
        debug_assert_eq!(buf.len() % ENTRY_SIZE, 0);
        let mut rest = &buf[..];
        for (off, len) in fat.runs(&dir_chains[d]) {
            dev.write_at(off, &rest[..len as usize])?;
            rest = &rest[len as usize..];
        }
        written += buf.len() as u64;
    }
    written += fat.write(dev)?;
    let free = fat.free_count();
    write_fsinfo(dev, &geo, Some(free), fat.first_free())?;
    written += u64::from(geo.bytes_per_sector);
    dev.flush()?;

    Ok(FatReport {
        cluster_size: geo.cluster_size(),
        clusters_total: geo.clusters,
        clusters_used: geo.clusters - free,
        files: files.len() as u64,
        directories: tree.dirs.len() as u64,
        data_bytes: media.total_bytes(),
        bytes_written: written,
        volume_bytes: u64::from(geo.total_sectors) * u64::from(geo.bytes_per_sector),
        volume_id,
        label: if opts.has_label() {
            String::from_utf8_lossy(&label).trim_end().to_string()
        } else {
            String::new()
        },
    })
}

fn file_time(opts: &FatOptions, m: Option<std::time::SystemTime>) -> FatTime {
    opts.file_time(m)
}

/// The largest metadata area formatted in memory first (larger volumes are
/// formatted in place).
const MAX_STAGED_FORMAT: u64 = 32 << 20;

/// Formats with `fatfs`, then moves the FATs to the planned layout
/// ([`realign`]). `fatfs` writes sector by sector, which is slow on
/// `O_DIRECT` targets, so the metadata area (reserved sectors, both FATs,
/// the root cluster) is formatted in memory and written in large pieces
/// when it is small enough.
fn format_staged(
    dev: &mut dyn BlockDevice,
    format: fatfs::FormatVolumeOptions,
    layout: &Layout,
) -> Result<()> {
    use crate::formats::fat::geometry::{fat_size, FATFS_RESERVED, FATS};
    let sector = u64::from(layout.bytes_per_sector);
    let spc = layout.cluster_size / layout.bytes_per_sector;
    let fatfs_fat = fat_size(
        layout.total_sectors,
        FATFS_RESERVED,
        spc,
        layout.bytes_per_sector,
    )
    .unwrap_or(layout.fat_sectors);
    let fatfs_meta = (u64::from(FATFS_RESERVED) + u64::from(FATS) * u64::from(fatfs_fat)) * sector
        + u64::from(layout.cluster_size);
    let meta = fatfs_meta.max(metadata_bytes(layout));
    let failed = |dev: &dyn BlockDevice, e: std::io::Error| Error::Device {
        action: "formatting",
        device: dev.name().to_path_buf(),
        offset: 0,
        source: e,
        state: "the partition may be partly formatted",
    };
    if meta > MAX_STAGED_FORMAT || meta > dev.len() {
        fatfs::format_volume(DeviceIo::new(&mut *dev), format).map_err(|e| failed(dev, e))?;
        return realign(dev, layout);
    }
    let mut staging = crate::disk::MemoryDevice::new(meta as usize, layout.bytes_per_sector);
    fatfs::format_volume(DeviceIo::new(&mut staging), format).map_err(|e| failed(dev, e))?;
    realign(&mut staging, layout)?;
    let bytes = staging.into_bytes();
    let bytes = &bytes[..metadata_bytes(layout) as usize];
    let mut buf = crate::disk::AlignedBuf::new(bytes.len().min(4 << 20));
    for (i, chunk) in bytes.chunks(buf.len()).enumerate() {
        buf[..chunk.len()].copy_from_slice(chunk);
        dev.write_at((i * buf.len()) as u64, &buf[..chunk.len()])?;
    }
    Ok(())
}

/// Bytes from the volume's start to the end of the root cluster.
fn metadata_bytes(l: &Layout) -> u64 {
    u64::from(l.reserved_sectors + crate::formats::fat::geometry::FATS * l.fat_sectors)
        * u64::from(l.bytes_per_sector)
        + u64::from(l.cluster_size)
}

/// Turns the volume fatfs formatted on `dev` (8 reserved sectors, its own
/// FAT size) into `layout`: the boot sector and its backup say the planned
/// reserved sectors and FAT size, each FAT copy starts with fatfs's first
/// FAT sector (media byte, end marks, the root directory's cluster) at its
/// new place, and everything else up to the end of the root cluster is
/// zero.
fn realign(dev: &mut dyn BlockDevice, layout: &Layout) -> Result<()> {
    use crate::formats::fat::geometry::{FATFS_RESERVED, FATS};
    let bps = u64::from(layout.bytes_per_sector);
    // The boot sector as fatfs wrote it (not Geometry::read: a staging
    // device is smaller than the volume it describes).
    let mut first = [0u8; 512];
    dev.read_at(0, &mut first)?;
    let old = Geometry::parse(&first).map_err(|p| Error::DiskLayout {
        disk: dev.name().to_path_buf(),
        detail: format!("the volume fatfs formatted does not read back: {p}"),
    })?;
    if old.reserved_sectors == layout.reserved_sectors && old.fat_sectors == layout.fat_sectors {
        return Ok(());
    }
    let mut boot = crate::disk::read_vec(dev, 0, (u64::from(FATFS_RESERVED) * bps) as usize)?;
    let firsts: Vec<Vec<u8>> = (0..FATS)
        .map(|i| crate::disk::read_vec(dev, old.fat_offset(i), bps as usize))
        .collect::<Result<_>>()?;
    for copy in [0u64, 6 * bps] {
        let at = copy as usize;
        if boot.len() >= at + 40 {
            boot[at + 14..at + 16].copy_from_slice(&(layout.reserved_sectors as u16).to_le_bytes());
            boot[at + 36..at + 40].copy_from_slice(&layout.fat_sectors.to_le_bytes());
        }
    }
    // Zero everything after fatfs's reserved sectors up to the end of the
    // new root cluster, in large writes.
    let end = metadata_bytes(layout).max(old.cluster_offset(2) + u64::from(old.cluster_size()));
    let start = u64::from(FATFS_RESERVED) * bps;
    let zeros = crate::disk::AlignedBuf::new(((end - start).min(4 << 20)) as usize);
    let mut at = start;
    while at < end {
        let n = (end - at).min(zeros.len() as u64) as usize;
        dev.write_at(at, &zeros[..n])?;
        at += n as u64;
    }
    dev.write_at(0, &boot)?;
    for (i, first) in firsts.iter().enumerate() {
        let off = u64::from(layout.reserved_sectors + i as u32 * layout.fat_sectors) * bps;
        dev.write_at(off, first)?;
    }
    Ok(())
}
