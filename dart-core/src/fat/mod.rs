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
//! use dart_core::fat::{self, FatOptions};
//! use dart_core::media::MediaSet;
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
mod stream;
mod table;
mod tree;
mod update;
mod volume;
mod writer;

use std::io::Read;

use serde::Serialize;

pub use options::{FatOptions, MAX_LABEL_LEN};
pub use update::{update_files, UpdateReport};
pub use writer::{write_volume, FatReport};

use crate::disk::{BlockDevice, DeviceIo};
use crate::error::{Error, Result};
use crate::media::MediaSet;

/// The largest file FAT32 holds: 4 GiB minus one byte.
pub const MAX_FILE_SIZE: u64 = 0xFFFF_FFFF;

/// Checks that every file of `media` fits FAT32's file size limit; the
/// error names the first file of 4 GiB or more.
pub fn check_media(media: &MediaSet) -> Result<()> {
    match media.files().into_iter().find(|f| f.size > MAX_FILE_SIZE) {
        Some(f) => Err(Error::FileTooLarge {
            file: media.disk_path(f),
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

fn open_fs(dev: &mut dyn BlockDevice) -> Result<fatfs::FileSystem<DeviceIo<&mut dyn BlockDevice>>> {
    let name = dev.name().to_path_buf();
    geometry::Geometry::read(dev)?;
    fatfs::FileSystem::new(DeviceIo::new(dev), fatfs::FsOptions::new()).map_err(|e| {
        Error::DiskLayout {
            disk: name,
            detail: format!("the FAT32 volume cannot be read: {e}"),
        }
    })
}

fn fs_error(dev: &std::path::Path, what: &str, e: std::io::Error) -> Error {
    Error::DiskLayout {
        disk: dev.to_path_buf(),
        detail: format!("reading {what} from the FAT32 volume failed: {e}"),
    }
}

/// Every file and directory of the FAT volume on `dev`, depth first, in
/// directory order. Reads only.
pub fn list(dev: &mut dyn BlockDevice) -> Result<Vec<FatEntry>> {
    let name = dev.name().to_path_buf();
    let fs = open_fs(dev)?;
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), fs.root_dir())];
    while let Some((prefix, dir)) = stack.pop() {
        let mut subdirs = Vec::new();
        for entry in dir.iter() {
            let entry = entry.map_err(|e| fs_error(&name, &format!("directory /{prefix}"), e))?;
            let file_name = entry.file_name();
            if file_name == "." || file_name == ".." {
                continue;
            }
            let path = if prefix.is_empty() {
                file_name
            } else {
                format!("{prefix}/{file_name}")
            };
            let is_dir = entry.is_dir();
            out.push(FatEntry {
                path: path.clone(),
                size: if is_dir { 0 } else { entry.len() },
                is_dir,
            });
            if is_dir {
                subdirs.push((path, entry.to_dir()));
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(out)
}

/// The contents of the file at `path` (`/` or `\` separated, case
/// insensitive) on the FAT volume on `dev`. Reads only.
pub fn read_file(dev: &mut dyn BlockDevice, path: &str) -> Result<Vec<u8>> {
    let name = dev.name().to_path_buf();
    let fs = open_fs(dev)?;
    let clean = path.replace('\\', "/");
    let clean = clean.trim_start_matches('/');
    let mut file = fs.root_dir().open_file(clean).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound {
            what: "file on the FAT volume",
            path: name.join(clean),
        },
        _ => fs_error(&name, clean, e),
    })?;
    let mut data = Vec::new();
    file.read_to_end(&mut data)
        .map_err(|e| fs_error(&name, clean, e))?;
    Ok(data)
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
