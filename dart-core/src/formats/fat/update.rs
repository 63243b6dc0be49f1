//! [`update_files`]: bring an existing FAT32 volume to a new media set in
//! place, crash-safely.
//!
//! The order of writes is what makes it safe. For each changed file:
//!
//! 1. the new data goes into free clusters and their chain into both FATs
//!    (first FAT first); flush. A crash here leaves only unreferenced
//!    ("lost") clusters.
//! 2. the file's short directory entry (first cluster, size, times: one
//!    32-byte entry inside one sector) is rewritten with one sector write;
//!    flush. This is the switch from old to new.
//! 3. the old chain is marked free. A crash before this lands leaves the
//!    old clusters lost, which a file system check reclaims.
//!
//! New directories are written complete (".", "..") and flushed before the
//! entry naming them is added; new files get their entries after their data
//! is flushed; a directory that needs another cluster gets it filled first
//! and linked with one FAT entry write last. Files that left the media are
//! removed at the end: entries first, clusters after. `sources/boot.wim`
//! is done after every other file. The FSInfo free count is marked unknown
//! (0xFFFFFFFF, which Windows and fsck recompute) for the duration and set
//! again at the end.
//!
//! What a crash can leave, and a check reports: lost clusters, and with
//! two FATs the first FAT one entry-sector ahead of the second ("FATs
//! differ", the first is right). Never a file with mixed or foreign data.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::check_media;
use super::dirent::{
    lfn_entries, short_name, slot_count, DirEntry, ATTR_ARCHIVE, ATTR_DIRECTORY, DELETED,
    ENTRY_SIZE,
};
use super::geometry::{write_fsinfo, Geometry};
use super::options::FatOptions;
use super::table::Fat;
use super::tree::Tree;
use super::volume::{delete_slots, find_run, layout_error, read_dir, split, Dir, Found, Volume};
use crate::disk::stream::{copy_files, same_content, CancelText, Job, Tally};
use crate::disk::BlockDevice;
use crate::error::{Error, Result};
use crate::model::media::{MediaSet, BOOT_WIM};
use crate::progress::{Control, Phase};

/// What [`update_files`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdateReport {
    /// Files whose content changed and was rewritten (media paths).
    pub replaced: Vec<String>,
    /// Files that were already identical and were not touched.
    pub unchanged: u64,
    /// Files that were new (media paths).
    pub added: Vec<String>,
    /// Files and directories (ending in `/`) removed because the media no
    /// longer has them (paths as found on the volume).
    pub removed: Vec<String>,
    /// Directories created.
    pub directories_created: u64,
    /// Bytes of file data written, with the padding of last clusters.
    pub bytes_written: u64,
}

const CANCEL: CancelText = CancelText {
    operation: "updating the FAT32 volume",
    untouched: "every file on the volume is either its old or its new version; run the update again to finish",
};

enum Action {
    Replace {
        file: usize,
        found: Found,
    },
    Add {
        file: usize,
        dir: String,
        name: String,
    },
}

impl Action {
    fn file(&self) -> usize {
        match self {
            Action::Replace { file, .. } | Action::Add { file, .. } => *file,
        }
    }
}

enum Removal {
    File {
        dir: String,
        found: Found,
        path: String,
    },
    Dir {
        key: String,
        found: Found,
        path: String,
    },
}

/// Updates the FAT32 volume on `dev` (a partition) in place so that it
/// holds exactly `media`.
///
/// Files with the same size and bytes are skipped, so updating a fleet
/// costs only the reads. Each changed file is written to free clusters and
/// then switched over by one directory-entry write (see the module
/// documentation for the exact order), so a crash or power loss at any
/// point leaves every file either its old or its new version. New files and
/// directories are added, files and directories the media no longer has are
/// removed last. The volume label is not changed (`opts.label` is
/// validated); `opts.timestamp` stamps the new and changed entries.
///
/// Errors before anything is written: [`Error::DiskLayout`] when `dev` is
/// not a FAT32 volume or its directories are damaged,
/// [`Error::FileTooLarge`], [`Error::TargetTooSmall`] when the free space
/// cannot hold the new copies next to the old ones, and a file on the
/// volume where the media has a directory (or the reverse).
pub fn update_files(
    dev: &mut dyn BlockDevice,
    media: &MediaSet,
    opts: &FatOptions,
    control: &Control,
) -> Result<UpdateReport> {
    apply(dev, media, opts, control, RemovalMode::Unlisted)
}

/// Which files a run removes.
#[derive(Clone, Copy)]
enum RemovalMode<'a> {
    /// Every file and directory the media does not name.
    Unlisted,
    /// Only these files (paths, any case); missing ones are skipped.
    Named(&'a [&'a str]),
}

/// Writes the files of `media` onto the FAT32 volume on `dev` (new ones
/// added, changed ones replaced) with the same crash-safe order as
/// [`update_files`], and keeps every file the media does not name. This
/// is how a single file (a BCD store on a system partition) is replaced:
/// a crash leaves its old or its new version.
pub fn put_files(
    dev: &mut dyn BlockDevice,
    media: &MediaSet,
    opts: &FatOptions,
    control: &Control,
) -> Result<UpdateReport> {
    apply(dev, media, opts, control, RemovalMode::Named(&[]))
}

/// [`put_files`], then removes the files `remove` (paths such as
/// `efi/microsoft/boot/bcd.dart-backup`; the ones the volume does not
/// hold are skipped): written files first, each removal by one
/// directory-entry write after them, so a crash leaves every file whole.
pub fn put_and_remove_files(
    dev: &mut dyn BlockDevice,
    media: &MediaSet,
    remove: &[&str],
    opts: &FatOptions,
    control: &Control,
) -> Result<UpdateReport> {
    apply(dev, media, opts, control, RemovalMode::Named(remove))
}

/// [`update_files`] (`remove_unlisted`) or [`put_files`].
fn apply(
    dev: &mut dyn BlockDevice,
    media: &MediaSet,
    opts: &FatOptions,
    control: &Control,
    removals_wanted: RemovalMode<'_>,
) -> Result<UpdateReport> {
    let remove_unlisted = matches!(removals_wanted, RemovalMode::Unlisted);
    let named: Vec<String> = match removals_wanted {
        RemovalMode::Named(paths) => paths
            .iter()
            .map(|p| p.replace('\\', "/").trim_start_matches('/').to_lowercase())
            .collect(),
        RemovalMode::Unlisted => Vec::new(),
    };
    opts.label_bytes()?;
    check_media(media)?;
    Tree::build(media)?;
    let geo = Geometry::read(dev)?;
    let mut fat = Fat::read(dev, &geo)?;
    let mut vol = Volume::scan(dev, &geo, &fat)?;
    let disk = dev.name().to_path_buf();
    let cs = u64::from(geo.cluster_size());
    let files = media.files();

    // Directories the media needs (lower-case key -> name as spelled).
    let mut wanted_dirs: BTreeMap<String, String> = BTreeMap::new();
    let mut wanted_files = BTreeSet::new();
    for f in &files {
        let key = f.path.to_lowercase();
        let mut prefix = String::new();
        let parts: Vec<&str> = f.path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(&part.to_lowercase());
            wanted_dirs
                .entry(prefix.clone())
                .or_insert_with(|| part.to_string());
        }
        wanted_files.insert(key);
    }
    // A file on the volume where the media needs a directory.
    for key in wanted_dirs.keys() {
        let (parent, leaf) = split(key);
        if let Some(found) = vol.dirs.get(parent).and_then(|d| d.find(leaf)) {
            if !found.entry.is_dir() {
                return Err(layout_error(
                    &disk,
                    format!("the volume holds a file /{key} where the media has a directory; remove it first"),
                ));
            }
        }
    }

    // 1. What to do with each media file.
    let mut actions = Vec::new();
    let mut unchanged = 0u64;
    for (i, f) in files.iter().enumerate() {
        let key = f.path.to_lowercase();
        let (dir_key, _) = split(&key);
        let name = f.path.rsplit('/').next().unwrap_or(&f.path).to_string();
        match vol.dirs.get(dir_key).and_then(|d| d.find(&name)).cloned() {
            Some(found) if found.entry.is_dir() => {
                return Err(layout_error(
                    &disk,
                    format!("the volume holds a directory /{} where the media has a file; remove it first", f.path),
                ));
            }
            Some(found) => {
                let same = u64::from(found.entry.size) == f.size
                    && (f.size == 0 || {
                        let chain = fat.chain(found.entry.cluster, &disk, &f.path)?;
                        same_content(dev, &fat.runs(&chain), &media.source(f), f.size)?
                    });
                if same {
                    unchanged += 1;
                } else {
                    actions.push(Action::Replace { file: i, found });
                }
            }
            None => actions.push(Action::Add {
                file: i,
                dir: dir_key.to_string(),
                name,
            }),
        }
    }
    let boot_wim = |a: &Action| files[a.file()].path.eq_ignore_ascii_case(BOOT_WIM);
    actions.sort_by_key(boot_wim);

    // 2. What to remove: files and topmost directories the media lacks.
    let mut removals = Vec::new();
    for name in &named {
        let (dir, leaf) = split(name);
        if wanted_files.contains(name) {
            return Err(layout_error(
                &disk,
                format!("/{name} is both written and removed"),
            ));
        }
        if let Some(found) = vol.dirs.get(dir).and_then(|d| d.find(leaf)) {
            if found.entry.is_dir() {
                return Err(layout_error(
                    &disk,
                    format!("/{name} is a directory, not a file"),
                ));
            }
            removals.push(Removal::File {
                dir: dir.to_string(),
                found: found.clone(),
                path: name.clone(),
            });
        }
    }
    for (key, dir) in vol.dirs.iter().filter(|_| remove_unlisted) {
        if !key.is_empty() && !wanted_dirs.contains_key(key) {
            continue;
        }
        for found in &dir.entries {
            let sub = if key.is_empty() {
                found.long.to_lowercase()
            } else {
                format!("{key}/{}", found.long.to_lowercase())
            };
            let path = sub.clone();
            if found.entry.is_dir() {
                if !wanted_dirs.contains_key(&sub) {
                    removals.push(Removal::Dir {
                        key: sub,
                        found: found.clone(),
                        path: format!("{path}/"),
                    });
                }
            } else if !wanted_files.contains(&sub) {
                removals.push(Removal::File {
                    dir: key.clone(),
                    found: found.clone(),
                    path,
                });
            }
        }
    }
    let new_dirs: Vec<(String, String)> = wanted_dirs
        .iter()
        .filter(|(k, _)| !vol.dirs.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    // 3. Space: every new copy must fit next to the old one.
    let mut free = u64::from(fat.free_count());
    let growing: BTreeSet<&str> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Add { dir, .. } => Some(dir.as_str()),
            Action::Replace { .. } => None,
        })
        .chain(new_dirs.iter().map(|(k, _)| split(k).0))
        .collect();
    let reserve = (new_dirs.len() + growing.len()) as u64;
    let short = |what: String, needed: u64, free: u64| Error::TargetTooSmall {
        target: disk.display().to_string(),
        what,
        needed: needed * cs,
        available: free * cs,
    };
    if reserve > free {
        return Err(short(
            "new directories and directory entries".into(),
            reserve,
            free,
        ));
    }
    free -= reserve;
    for a in &actions {
        let f = files[a.file()];
        let need = f.size.div_ceil(cs);
        if need > free {
            return Err(short(
                format!("the new copy of {} next to the old files", f.path),
                need,
                free,
            ));
        }
        free -= need;
        if let Action::Replace { found, .. } = a {
            free += u64::from(found.entry.size).div_ceil(cs);
        }
    }

    let mut report = UpdateReport {
        unchanged,
        ..UpdateReport::default()
    };
    if actions.is_empty() && removals.is_empty() && new_dirs.is_empty() {
        return Ok(report);
    }
    if control.cancel.is_cancelled() {
        return Err(Error::Cancelled {
            operation: CANCEL.operation,
            untouched: "nothing was written",
        });
    }

    // 4. Write. FSInfo says "unknown" until the end.
    write_fsinfo(dev, &geo, None, None)?;
    dev.flush()?;
    let now = opts.now();
    let mut ctx = Ctx {
        geo: &geo,
        fat: &mut fat,
        disk: &disk,
    };
    for (key, name) in &new_dirs {
        ctx.create_dir(dev, &mut vol, key, name, now)?;
        report.directories_created += 1;
    }
    let mut tally = Tally {
        done: 0,
        total: actions.iter().map(|a| files[a.file()].size).sum(),
    };
    control
        .progress
        .report(Phase::WritingFiles, "", 0, tally.total);
    for a in actions {
        if control.cancel.is_cancelled() {
            return Err(Error::Cancelled {
                operation: CANCEL.operation,
                untouched: CANCEL.untouched,
            });
        }
        let f = files[a.file()];
        let mtime = media.modified(f);
        let t = opts.file_time(mtime);
        let old = match &a {
            Action::Replace { found, .. } if found.entry.cluster != 0 => {
                ctx.fat.chain(found.entry.cluster, &disk, &f.path)?
            }
            _ => Vec::new(),
        };
        let n = f.size.div_ceil(cs) as u32;
        let chain = ctx.fat.alloc(n).ok_or_else(|| {
            short(
                format!("the new copy of {}", f.path),
                u64::from(n),
                u64::from(ctx.fat.free_count()),
            )
        })?;
        let job = Job {
            source: media.source(f),
            name: f.path.clone(),
            size: f.size,
            runs: ctx.fat.runs(&chain),
        };
        report.bytes_written +=
            copy_files(dev, &[job], geo.cluster_size(), control, &mut tally, CANCEL)?;
        ctx.fat.write(dev)?;
        dev.flush()?;
        let first = chain.first().copied().unwrap_or(0);
        match a {
            Action::Replace { found, .. } => {
                let mut e = found.entry;
                e.cluster = first;
                e.size = f.size as u32;
                e.wtime = t.time;
                e.wdate = t.date;
                e.adate = t.date;
                e.attr |= ATTR_ARCHIVE;
                let slot = found.slots.last().copied().unwrap_or(0);
                write_entry(dev, &geo, slot, &e)?;
                dev.flush()?;
                ctx.fat.free(&old);
                ctx.fat.write(dev)?;
                report.replaced.push(f.path.clone());
            }
            Action::Add { dir, name, .. } => {
                let entry = DirEntry::new([b' '; 11], ATTR_ARCHIVE, first, f.size as u32, t);
                ctx.add_entry(dev, &mut vol, &dir, &name, entry)?;
                dev.flush()?;
                report.added.push(f.path.clone());
            }
        }
    }

    // 5. RemovalMode: entries first, clusters after.
    for r in removals {
        let (found, path) = match &r {
            Removal::File { found, path, .. } | Removal::Dir { found, path, .. } => (found, path),
        };
        delete_slots(dev, &found.slots)?;
        dev.flush()?;
        let mut chains = Vec::new();
        match &r {
            Removal::File { dir, found, .. } => {
                if found.entry.cluster != 0 {
                    chains.push(ctx.fat.chain(found.entry.cluster, &disk, path)?);
                }
                if let Some(d) = vol.dirs.get_mut(dir) {
                    forget(d, found);
                }
            }
            Removal::Dir { key, .. } => {
                let prefix = format!("{key}/");
                let gone: Vec<String> = vol
                    .dirs
                    .keys()
                    .filter(|k| *k == key || k.starts_with(&prefix))
                    .cloned()
                    .collect();
                for k in gone {
                    if let Some(d) = vol.dirs.remove(&k) {
                        chains.push(d.chain.clone());
                        for e in d
                            .entries
                            .iter()
                            .filter(|e| !e.entry.is_dir() && e.entry.cluster != 0)
                        {
                            chains.push(ctx.fat.chain(
                                e.entry.cluster,
                                &disk,
                                &format!("{k}/{}", e.long),
                            )?);
                        }
                    }
                }
            }
        }
        for c in &chains {
            ctx.fat.free(c);
        }
        ctx.fat.write(dev)?;
        report.removed.push(path.clone());
    }

    write_fsinfo(dev, &geo, Some(ctx.fat.free_count()), ctx.fat.first_free())?;
    dev.flush()?;
    Ok(report)
}

/// Drops a removed entry from the in-memory directory.
fn forget(dir: &mut Dir, found: &Found) {
    dir.entries.retain(|e| e.slots != found.slots);
    for s in &mut dir.slots {
        if found.slots.contains(&s.0) {
            s.1 = true;
        }
    }
}

/// Rewrites the short entry at device offset `slot` with one sector write.
fn write_entry(dev: &mut dyn BlockDevice, geo: &Geometry, slot: u64, e: &DirEntry) -> Result<()> {
    let bps = u64::from(geo.bytes_per_sector);
    let start = slot - slot % bps;
    let mut sector = vec![0u8; bps as usize];
    dev.read_at(start, &mut sector)?;
    let at = (slot - start) as usize;
    sector[at..at + ENTRY_SIZE].copy_from_slice(&e.to_bytes());
    dev.write_at(start, &sector)
}

struct Ctx<'a> {
    geo: &'a Geometry,
    fat: &'a mut Fat,
    disk: &'a std::path::Path,
}

impl Ctx<'_> {
    fn no_space(&self, what: &str) -> Error {
        Error::TargetTooSmall {
            target: self.disk.display().to_string(),
            what: what.to_string(),
            needed: u64::from(self.geo.cluster_size()),
            available: 0,
        }
    }

    /// Creates directory `key` (its parent exists) named `name`.
    fn create_dir(
        &mut self,
        dev: &mut dyn BlockDevice,
        vol: &mut Volume,
        key: &str,
        name: &str,
        now: super::options::FatTime,
    ) -> Result<()> {
        let (parent, _) = split(key);
        let parent_cluster = match vol.dirs.get(parent) {
            Some(d) if !parent.is_empty() => d.chain[0],
            _ => 0,
        };
        let new = self
            .fat
            .alloc(1)
            .and_then(|c| c.first().copied())
            .ok_or_else(|| self.no_space(&format!("directory /{key}")))?;
        let mut buf = vec![0u8; self.geo.cluster_size() as usize];
        buf[..32].copy_from_slice(
            &DirEntry::new(*b".          ", ATTR_DIRECTORY, new, 0, now).to_bytes(),
        );
        buf[32..64].copy_from_slice(
            &DirEntry::new(*b"..         ", ATTR_DIRECTORY, parent_cluster, 0, now).to_bytes(),
        );
        dev.write_at(self.geo.cluster_offset(new), &buf)?;
        self.fat.write(dev)?;
        dev.flush()?;
        let entry = DirEntry::new([b' '; 11], ATTR_DIRECTORY, new, 0, now);
        self.add_entry(dev, vol, parent, name, entry)?;
        dev.flush()?;
        let dir = read_dir(dev, self.geo, self.fat, key, new)?;
        vol.dirs.insert(key.to_string(), dir);
        Ok(())
    }

    /// Adds an entry named `name` to directory `dir_key`; `entry`'s short
    /// name is chosen here. The caller flushes.
    fn add_entry(
        &mut self,
        dev: &mut dyn BlockDevice,
        vol: &mut Volume,
        dir_key: &str,
        name: &str,
        mut entry: DirEntry,
    ) -> Result<()> {
        let Some(dir) = vol.dirs.get_mut(dir_key) else {
            return Err(layout_error(
                self.disk,
                format!("directory /{dir_key} vanished during the update"),
            ));
        };
        let mut taken = dir.shorts();
        let (short, needs_lfn) = short_name(name, &mut taken);
        entry.name = short;
        let mut bytes = Vec::new();
        if needs_lfn {
            for e in lfn_entries(name, &short) {
                bytes.extend_from_slice(&e);
            }
        }
        bytes.extend_from_slice(&entry.to_bytes());
        let n = slot_count(name, needs_lfn);
        let cs = u64::from(self.geo.cluster_size());
        let bps = u64::from(self.geo.bytes_per_sector);
        let start = match find_run(dir, n, bps, cs) {
            Some(s) => {
                let end = s + n;
                let mut buf = bytes;
                if end > dir.end
                    && end < dir.slots.len()
                    && dir.slots[end].0 == dir.slots[end - 1].0 + ENTRY_SIZE as u64
                {
                    // Keep an explicit end marker after the new entries.
                    buf.extend_from_slice(&[0u8; ENTRY_SIZE]);
                }
                dev.write_at(dir.slots[s].0, &buf)?;
                dir.end = dir.end.max(end);
                s
            }
            None => {
                // A new cluster: filled first, linked last.
                let new = self
                    .fat
                    .alloc(1)
                    .and_then(|c| c.first().copied())
                    .ok_or_else(|| {
                        self.no_space(&format!("a new cluster of directory /{dir_key}"))
                    })?;
                let mut buf = bytes;
                buf.resize(cs as usize, 0);
                dev.write_at(self.geo.cluster_offset(new), &buf)?;
                self.fat.write(dev)?;
                dev.flush()?;
                // Free slots after the old end marker must not hide the new cluster.
                if dir.end < dir.slots.len() {
                    for i in dir.end..dir.slots.len() {
                        dev.write_at(dir.slots[i].0, &[DELETED])?;
                    }
                    dev.flush()?;
                }
                let last = dir.chain.last().copied().unwrap_or(new);
                self.fat.set(last, new);
                self.fat.write(dev)?;
                let base = self.geo.cluster_offset(new);
                let first = dir.slots.len();
                dir.chain.push(new);
                for i in 0..(cs as usize / ENTRY_SIZE) {
                    dir.slots.push((base + (i * ENTRY_SIZE) as u64, i >= n));
                }
                dir.end = first + n;
                first
            }
        };
        let slots: Vec<u64> = (start..start + n).map(|i| dir.slots[i].0).collect();
        for i in start..start + n {
            dir.slots[i].1 = false;
        }
        dir.entries.push(Found {
            long: name.to_string(),
            entry,
            slots,
        });
        Ok(())
    }
}
