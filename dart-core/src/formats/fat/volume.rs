//! An existing FAT32 volume as [`update_files`](super::update_files) sees
//! it: every directory with its entries, where each entry's slots lie on
//! the device, and which slots are free.

use std::collections::BTreeMap;
use std::path::Path;

use super::dirent::{DirEntry, LfnCollector, ATTR_LFN, ATTR_VOLUME_ID, DELETED, ENTRY_SIZE};
use super::geometry::Geometry;
use super::table::Fat;
use crate::disk::BlockDevice;
use crate::error::{Error, Result};

/// One file or subdirectory entry.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// Long name if present, else the short name.
    pub long: String,
    pub entry: DirEntry,
    /// Device offsets of the entry's slots: long-name slots, then the short
    /// entry last.
    pub slots: Vec<u64>,
}

/// One directory.
#[derive(Debug, Clone)]
pub(crate) struct Dir {
    pub chain: Vec<u32>,
    pub entries: Vec<Found>,
    /// Per slot, in chain order: its device offset and whether it is free.
    pub slots: Vec<(u64, bool)>,
    /// Index of the first slot after the end marker (all later ones free).
    pub end: usize,
}

impl Dir {
    /// The entry named `name`, case-insensitively.
    pub fn find(&self, name: &str) -> Option<&Found> {
        let lower = name.to_lowercase();
        self.entries.iter().find(|f| f.long.to_lowercase() == lower)
    }

    /// Short names in use.
    pub fn shorts(&self) -> std::collections::HashSet<[u8; 11]> {
        self.entries.iter().map(|f| f.entry.name).collect()
    }
}

/// Every directory, by lower-case path.
#[derive(Debug, Clone)]
pub(crate) struct Volume {
    pub dirs: BTreeMap<String, Dir>,
}

impl Volume {
    /// Reads the whole directory tree.
    pub fn scan(dev: &mut dyn BlockDevice, geo: &Geometry, fat: &Fat) -> Result<Volume> {
        let mut dirs = BTreeMap::new();
        let mut todo = vec![(String::new(), geo.root_cluster)];
        while let Some((key, cluster)) = todo.pop() {
            if dirs.len() > geo.clusters as usize {
                return Err(Error::DiskLayout {
                    disk: dev.name().to_path_buf(),
                    detail: "the directory tree loops; run a file system check".into(),
                });
            }
            let dir = read_dir(dev, geo, fat, &key, cluster)?;
            for f in &dir.entries {
                if f.entry.is_dir() {
                    let sub = if key.is_empty() {
                        f.long.to_lowercase()
                    } else {
                        format!("{key}/{}", f.long.to_lowercase())
                    };
                    todo.push((sub, f.entry.cluster));
                }
            }
            dirs.insert(key, dir);
        }
        Ok(Volume { dirs })
    }
}

/// Reads one directory.
pub(crate) fn read_dir(
    dev: &mut dyn BlockDevice,
    geo: &Geometry,
    fat: &Fat,
    key: &str,
    first: u32,
) -> Result<Dir> {
    let name = dev.name().to_path_buf();
    let what = if key.is_empty() {
        "the root directory".to_string()
    } else {
        format!("directory /{key}")
    };
    let chain = fat.chain(first, &name, &what)?;
    let cs = geo.cluster_size() as usize;
    let mut buf = vec![0u8; cs];
    let mut dir = Dir {
        chain: chain.clone(),
        entries: Vec::new(),
        slots: Vec::new(),
        end: usize::MAX,
    };
    let mut lfn = LfnCollector::default();
    let mut lfn_slots: Vec<u64> = Vec::new();
    for &c in &chain {
        let base = geo.cluster_offset(c);
        dev.read_at(base, &mut buf)?;
        for (i, e) in buf.chunks_exact(ENTRY_SIZE).enumerate() {
            let off = base + (i * ENTRY_SIZE) as u64;
            let index = dir.slots.len();
            if dir.end != usize::MAX || e[0] == 0 {
                dir.end = dir.end.min(index);
                dir.slots.push((off, true));
                continue;
            }
            if e[0] == DELETED {
                dir.slots.push((off, true));
                lfn.reset();
                lfn_slots.clear();
                continue;
            }
            dir.slots.push((off, false));
            if e[11] & 0x3F == ATTR_LFN {
                if e[0] & 0x40 != 0 {
                    lfn_slots.clear();
                }
                lfn.push(e);
                lfn_slots.push(off);
                continue;
            }
            let entry = DirEntry::parse(e);
            if entry.attr & ATTR_VOLUME_ID != 0 || entry.name[0] == b'.' {
                lfn.reset();
                lfn_slots.clear();
                continue;
            }
            let long = lfn.finish(&entry.name);
            let mut slots = Vec::new();
            if long.is_some() {
                slots.append(&mut lfn_slots);
            }
            lfn_slots.clear();
            slots.push(off);
            dir.entries.push(Found {
                long: long.unwrap_or_else(|| entry.short_display()),
                entry,
                slots,
            });
        }
    }
    if dir.end == usize::MAX {
        dir.end = dir.slots.len();
    }
    Ok(dir)
}

/// Marks the slots `slots` deleted: one write when they are contiguous on
/// the device, else the long-name slots first and the short entry last.
pub(crate) fn delete_slots(dev: &mut dyn BlockDevice, slots: &[u64]) -> Result<()> {
    let Some(&first) = slots.first() else {
        return Ok(());
    };
    let contiguous = slots.windows(2).all(|w| w[1] == w[0] + ENTRY_SIZE as u64);
    if contiguous {
        let mut buf = vec![0u8; slots.len() * ENTRY_SIZE];
        dev.read_at(first, &mut buf)?;
        for e in buf.chunks_exact_mut(ENTRY_SIZE) {
            e[0] = DELETED;
        }
        return dev.write_at(first, &buf);
    }
    for &s in slots {
        dev.write_at(s, &[DELETED])?;
    }
    Ok(())
}

/// Finds `n` free slots that the directory's end marker does not hide, in
/// one sector if possible, else in one cluster: the index of the first.
pub(crate) fn find_run(dir: &Dir, n: usize, sector: u64, cluster: u64) -> Option<usize> {
    for unit in [sector, cluster] {
        let mut start: Option<usize> = None;
        for (i, &(off, free)) in dir.slots.iter().enumerate() {
            if !free {
                start = None;
                continue;
            }
            let s = match start {
                Some(s)
                    if off / unit == dir.slots[s].0 / unit
                        && off == dir.slots[i - 1].0 + ENTRY_SIZE as u64 =>
                {
                    s
                }
                _ => i,
            };
            start = Some(s);
            if s > dir.end {
                break;
            }
            if i + 1 - s == n {
                return Some(s);
            }
        }
    }
    None
}

/// The path `key`'s parent and last component.
pub(crate) fn split(key: &str) -> (&str, &str) {
    match key.rfind('/') {
        Some(i) => (&key[..i], &key[i + 1..]),
        None => ("", key),
    }
}

/// A damaged or unexpected volume, as an error naming the device.
pub(crate) fn layout_error(disk: &Path, detail: String) -> Error {
    Error::DiskLayout {
        disk: disk.to_path_buf(),
        detail,
    }
}
