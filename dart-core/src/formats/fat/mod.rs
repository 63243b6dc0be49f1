//! FAT32 volumes for recovery media: USB sticks, the ESP of a disk image,
//! the recovery partition.
//!
//! * [`write_volume`] formats a partition (with `fatfs`) and places a
//!   [`MediaSet`] on it: every file one contiguous extent, file data
//!   streamed in 4 MiB aligned writes overlapped with reading, VFAT long
//!   names with Windows-style short names, both FATs and FSInfo filled in.
//! * [`update_files`] brings an existing volume to a new media set in place,
//!   crash-safely: files whose content is unchanged are skipped; a changed
//!   file is written to free clusters first and switched over with one
//!   directory-entry write, so after a crash each file is its old or its new
//!   version.
//! * [`check_media`] and [`volume_size_for`] answer "does it fit" before
//!   anything is written; [`list`], [`read_file`] and [`is_fat32`] read a
//!   volume back.
//!
//! ```no_run
//! use dart_core::disk::FileDevice;
//! use dart_core::formats::fat::{self, FatOptions};
//! use dart_core::model::media::MediaSet;
//! use dart_core::progress::Control;
//! let media = MediaSet::from_dir("media")?;
//! let mut img = FileDevice::create("usb-part.img", fat::volume_size_for(&media, 512), 512)?;
//! fat::write_volume(&mut img, &media, &FatOptions::default(), &Control::default())?;
//! for entry in fat::list(&mut img)? {
//!     println!("{} {}", entry.path, entry.size);
//! }
//! # Ok::<(), dart_core::Error>(())
//! ```

mod dirent;
mod geometry;
mod options;
mod table;
mod tree;
mod update;
mod volume;
mod writer;

use serde::Serialize;

pub use options::{FatOptions, MAX_LABEL_LEN};
pub use update::{put_and_remove_files, put_files, update_files, UpdateReport};
pub use writer::{write_volume, FatReport};

use crate::disk::BlockDevice;
use crate::error::{Error, Result};
use crate::model::media::MediaSet;

/// The largest file FAT32 holds: 4 GiB minus one byte.
pub const MAX_FILE_SIZE: u64 = 0xFFFF_FFFF;

/// Checks that every file of `media` fits FAT32's file size limit; the
/// error names the first file of 4 GiB or more.
pub fn check_media(media: &MediaSet) -> Result<()> {
    match media.files().into_iter().find(|f| f.size > MAX_FILE_SIZE) {
        Some(f) => Err(Error::FileTooLarge {
            file: media.root().join(&f.path),
            size: f.size,
            fs: "FAT32",
            limit: MAX_FILE_SIZE,
        }),
        None => Ok(()),
    }
}

/// The smallest FAT32 volume, in bytes and a multiple of 1 MiB, that holds
/// `media` with `sector_size`-byte sectors (cluster size chosen by volume
/// size as mkfs.fat and Windows do; FAT32 needs at least 65525 clusters,
/// so the result is never below about 33 MiB, or 257 MiB with 4096-byte
/// sectors). Media whose names FAT cannot hold count as if the names were
/// short; [`write_volume`] reports them.
pub fn volume_size_for(media: &MediaSet, sector_size: u32) -> u64 {
    const MIB: u64 = 1 << 20;
    let has_label = true;
    let tree = tree::Tree::build(media).ok();
    let needed = |cluster: u32| -> u64 {
        match &tree {
            Some(t) => t.clusters_needed(media, cluster, has_label),
            None => {
                media
                    .files()
                    .iter()
                    .map(|f| f.size.div_ceil(u64::from(cluster)) + 1)
                    .sum::<u64>()
                    + 1
            }
        }
    };
    let fits = |bytes: u64| {
        geometry::Layout::plan(bytes, sector_size)
            .is_some_and(|l| needed(l.cluster_size) <= u64::from(l.clusters))
    };
    // Estimate with the cluster size the estimate itself would get, then
    // step up until it fits.
    let mut size = 32 * MIB;
    for _ in 0..8 {
        let cluster = geometry::Layout::plan(size, sector_size).map_or_else(
            || geometry::preferred_cluster_size(size, sector_size),
            |l| l.cluster_size,
        );
        let clusters = needed(cluster).max(u64::from(geometry::MIN_CLUSTERS) + 16);
        let fat = (clusters + 2) * 4 * 2;
        let estimate = (clusters * u64::from(cluster) + fat + 64 * 1024).next_multiple_of(MIB);
        if estimate <= size {
            break;
        }
        size = estimate;
    }
    let mut size = size.next_multiple_of(MIB);
    // Step down while smaller still fits (the estimate is generous)...
    while size > MIB && fits(size - MIB) {
        size -= MIB;
    }
    // ...and up until it fits.
    let mut guard = 0;
    while !fits(size) && guard < 100_000 {
        size += MIB;
        guard += 1;
    }
    size
}

/// One file or directory of a FAT volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FatEntry {
    /// Path from the root, `/`-separated, long names as stored.
    pub path: String,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// Whether `dev` holds a FAT32 volume (judged by its boot sector).
pub fn is_fat32(dev: &mut dyn BlockDevice) -> bool {
    geometry::Geometry::read(dev).is_ok()
}

/// Every file and directory of the FAT volume on `dev`, depth first, in
/// directory order. Reads only. Damaged volumes (looping cluster chains or
/// directories) give an error, never an endless walk.
pub fn list(dev: &mut dyn BlockDevice) -> Result<Vec<FatEntry>> {
    let geo = geometry::Geometry::read(dev)?;
    let fat = table::Fat::read(dev, &geo)?;
    let mut out = Vec::new();
    let mut todo = vec![(String::new(), geo.root_cluster)];
    let mut dirs = 0usize;
    while let Some((prefix, cluster)) = todo.pop() {
        dirs += 1;
        if dirs > geo.clusters as usize {
            return Err(Error::DiskLayout {
                disk: dev.name().to_path_buf(),
                detail: "the FAT32 directory tree loops; run a file system check".into(),
            });
        }
        let dir = volume::read_dir(dev, &geo, &fat, &prefix, cluster)?;
        let mut subdirs = Vec::new();
        for f in &dir.entries {
            let path = if prefix.is_empty() {
                f.long.clone()
            } else {
                format!("{prefix}/{}", f.long)
            };
            let is_dir = f.entry.is_dir();
            out.push(FatEntry {
                path: path.clone(),
                size: if is_dir { 0 } else { u64::from(f.entry.size) },
                is_dir,
            });
            if is_dir {
                subdirs.push((path, f.entry.cluster));
            }
        }
        todo.extend(subdirs.into_iter().rev());
    }
    Ok(out)
}

/// The contents of the file at `path` (`/` or `\` separated, case
/// insensitive) on the FAT volume on `dev`. Reads only.
pub fn read_file(dev: &mut dyn BlockDevice, path: &str) -> Result<Vec<u8>> {
    let name = dev.name().to_path_buf();
    let geo = geometry::Geometry::read(dev)?;
    let fat = table::Fat::read(dev, &geo)?;
    let clean = path.replace('\\', "/");
    let parts: Vec<&str> = clean.split('/').filter(|p| !p.is_empty()).collect();
    let missing = || Error::NotFound {
        what: "file on the FAT volume",
        path: name.join(&clean),
    };
    let mut cluster = geo.root_cluster;
    let mut found = None;
    for (i, part) in parts.iter().enumerate() {
        let dir = volume::read_dir(dev, &geo, &fat, &parts[..i].join("/"), cluster)?;
        let f = dir.find(part).ok_or_else(missing)?.clone();
        let last = i + 1 == parts.len();
        if f.entry.is_dir() == last {
            return Err(missing());
        }
        cluster = f.entry.cluster;
        found = Some(f);
    }
    let f = found.ok_or_else(missing)?;
    let size = u64::from(f.entry.size);
    if size == 0 {
        return Ok(Vec::new());
    }
    let chain = fat.chain(f.entry.cluster, &name, &clean)?;
    let cs = u64::from(geo.cluster_size());
    if (chain.len() as u64) * cs < size {
        return Err(volume::layout_error(
            &name,
            format!(
                "{clean} is {size} bytes but its cluster chain holds only {} clusters",
                chain.len()
            ),
        ));
    }
    let mut data = vec![0u8; size as usize];
    for (i, piece) in data.chunks_mut(cs as usize).enumerate() {
        dev.read_at(geo.cluster_offset(chain[i]), piece)?;
    }
    Ok(data)
}

/// Fuzzing entry point (also run over the seed corpus by `cargo test`).
///
/// The input is `[boot sector: 512][FSInfo: 512][first FAT sector: 512][root
/// directory…]`,
/// placed where the boot sector says on an otherwise empty 40 MiB disk, then
/// read with [`is_fat32`], [`list`] and [`read_file`], which must return
/// (never panic or loop).
#[cfg(feature = "fuzzing")]
pub fn fuzz_one(data: &[u8]) {
    let mut disk = crate::disk::MemoryDevice::new(40 << 20, 512);
    let Some(boot) = data.get(..512) else {
        return;
    };
    let _ = disk.write_at(0, boot);
    let Ok(geo) = geometry::Geometry::read(&mut disk) else {
        return;
    };
    if let (Some(fsinfo), Some(at)) = (data.get(512..1024), geo.fsinfo_offset()) {
        let _ = disk.write_at(at, fsinfo);
    }
    if let Some(fat) = data.get(1024..1536) {
        for i in 0..geo.fats.min(2) {
            let _ = disk.write_at(geo.fat_offset(i), fat);
        }
    }
    if let Some(root) = data.get(1536..) {
        let _ = disk.write_at(geo.cluster_offset(geo.root_cluster), root);
    }
    let _ = is_fat32(&mut disk);
    if let Ok(entries) = list(&mut disk) {
        if let Some(f) = entries.iter().find(|e| !e.is_dir && e.size < (1 << 20)) {
            let _ = read_file(&mut disk, &f.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_estimates_fit_and_are_minimal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), vec![1u8; 5000]).unwrap();
        let media = MediaSet::from_dir(dir.path()).unwrap();
        let small = volume_size_for(&media, 512);
        assert_eq!(small % (1 << 20), 0);
        assert!(small <= 34 << 20, "{small}");
        assert!(volume_size_for(&media, 4096) <= 258 << 20);
        let f = std::fs::File::create(dir.path().join("big")).unwrap();
        f.set_len(3 << 30).unwrap();
        let media = MediaSet::from_dir(dir.path()).unwrap();
        let big = volume_size_for(&media, 512);
        assert!(big > 3 << 30 && big < (3 << 30) + (16 << 20), "{big}");
    }
}
