//! Who else uses a write target, under any name.
//!
//! [`super::safety::judge`] knows a block device's own
//! mounts, swap areas and holders. A disk can also be reached under other
//! names the kernel does not list as holders, and [`check_in_use`] follows
//! them before anything is written:
//!
//! - **loop devices** (`/sys/block/loop*/loop/`): an image file that backs a
//!   loop device in use (mounted, held, open for writing, or under another
//!   loop device in use); a loop device built on the target or one of its
//!   partitions; for a loop-device target, the other loop devices that
//!   share its backing file in an overlapping byte range (a partition
//!   attached with `losetup -o`), and the device it is built on;
//! - **other processes' descriptors** (`/proc/*/fd` and `fdinfo`): a
//!   process other than this one that holds the target (or a device above
//!   it) open for writing, and still does a moment later (a program that
//!   opens devices for an instant, as `losetup --find` does, is not a
//!   user);
//! - **mounts of every mount namespace** (through
//!   [`super::safety::all_mounts`]).
//!
//! Each refusal names the holder: the loop device and its mount point, the
//! process id and command. What cannot be inspected for lack of permission
//! (another user's processes, when not root) is not a refusal; a block
//! device that cannot be inspected at all is (see
//! [`super::safety::gather_facts`]).

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::safety::{self, named, DevNum, Use};
use crate::error::{Error, Result};

/// How long a process must keep a target open for writing to count as
/// using it (see [`check_in_use`]).
const WRITER_RECHECK: Duration = Duration::from_millis(300);

/// How deep loop devices stacked on loop devices are followed.
const MAX_DEPTH: usize = 8;

/// A regular file's identity: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

impl FileId {
    /// The identity of the regular file at `path` (following links).
    pub fn of(path: &Path) -> Option<FileId> {
        let meta = fs::metadata(path).ok()?;
        meta.is_file().then(|| FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

/// An attached loop device, from `/sys/block/loopN/loop/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopDevice {
    /// Its device node, `/dev/loopN`.
    pub path: PathBuf,
    /// Its device number.
    pub dev: DevNum,
    /// The backing file or device as the kernel records it.
    pub backing: PathBuf,
    /// The backing file's identity, when it is a regular file that still
    /// exists under that name.
    pub backing_file: Option<FileId>,
    /// The backing device's number, when it is a block device.
    pub backing_device: Option<DevNum>,
    /// Where in the backing the loop device starts, in bytes.
    pub offset: u64,
    /// How many bytes it covers; `None` to the end of the backing.
    pub size_limit: Option<u64>,
}

impl LoopDevice {
    /// The byte range of the backing it covers, `start..end`.
    fn range(&self) -> (u64, u64) {
        let end = self
            .size_limit
            .map_or(u64::MAX, |l| self.offset.saturating_add(l));
        (self.offset, end)
    }

    /// Whether two loop devices share their backing and overlap in it.
    fn overlaps(&self, other: &LoopDevice) -> bool {
        let same = (self.backing_file.is_some() && self.backing_file == other.backing_file)
            || (self.backing_device.is_some() && self.backing_device == other.backing_device);
        let ((a0, a1), (b0, b1)) = (self.range(), other.range());
        same && a0 < b1 && b0 < a1
    }
}

/// Every attached loop device.
pub fn loop_devices() -> Vec<LoopDevice> {
    let Ok(entries) = fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    let mut loops: Vec<LoopDevice> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("loop"))
        .filter_map(|e| read_loop(&e.path()))
        .collect();
    loops.sort_by_key(|l| l.dev);
    loops
}

/// Reads one `/sys/block/loopN` directory; `None` when it is not attached.
fn read_loop(sys: &Path) -> Option<LoopDevice> {
    let read = |name: &str| fs::read_to_string(sys.join("loop").join(name)).ok();
    let backing = read("backing_file")?;
    let backing = backing.trim_end_matches('\n');
    let deleted = backing.ends_with(" (deleted)");
    let backing = PathBuf::from(backing.trim_end_matches(" (deleted)"));
    let dev = DevNum::parse(&fs::read_to_string(sys.join("dev")).ok()?)?;
    let number = |name: &str| read(name).and_then(|t| t.trim().parse::<u64>().ok());
    let meta = (!deleted).then(|| fs::metadata(&backing).ok()).flatten();
    Some(LoopDevice {
        path: PathBuf::from("/dev").join(sys.file_name()?),
        dev,
        backing_file: meta.as_ref().filter(|m| m.is_file()).map(|m| FileId {
            dev: m.dev(),
            ino: m.ino(),
        }),
        backing_device: meta
            .as_ref()
            .filter(|m| m.file_type().is_block_device())
            .map(|m| DevNum::from_dev_t(m.rdev())),
        backing,
        offset: number("offset").unwrap_or(0),
        size_limit: number("sizelimit").filter(|l| *l != 0),
    })
}

/// What a process holds open for writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// A block device.
    Device(DevNum),
    /// A regular file.
    File(FileId),
}

/// A process (other than this one) holding a device or file open for
/// writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    /// The process id.
    pub pid: u32,
    /// Its command name.
    pub command: String,
    /// What it holds.
    pub opened: Opened,
}

/// Every descriptor open for writing in another process, as far as this
/// process may look.
pub fn writers() -> Vec<Writer> {
    let me = std::process::id();
    let mut out = Vec::new();
    for pid in safety::processes() {
        if pid == me {
            continue;
        }
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let mut command = None;
        for fd in fds.filter_map(|e| e.ok()) {
            let Ok(meta) = fs::metadata(fd.path()) else {
                continue;
            };
            let opened = if meta.file_type().is_block_device() {
                Opened::Device(DevNum::from_dev_t(meta.rdev()))
            } else if meta.is_file() {
                Opened::File(FileId {
                    dev: meta.dev(),
                    ino: meta.ino(),
                })
            } else {
                continue;
            };
            let info = format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_string_lossy());
            if !fs::read_to_string(info).is_ok_and(|text| open_for_writing(&text)) {
                continue;
            }
            let command = command.get_or_insert_with(|| safety::command_name(pid));
            out.push(Writer {
                pid,
                command: command.clone(),
                opened,
            });
        }
    }
    out
}

/// Whether an `fdinfo` text's `flags:` (octal) has write access.
pub fn open_for_writing(fdinfo: &str) -> bool {
    fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .is_some_and(|flags| flags & (libc::O_ACCMODE as u32) != libc::O_RDONLY as u32)
}

/// What the system looks like now: the loop devices and the writers.
struct Snapshot {
    loops: Vec<LoopDevice>,
    writers: Vec<Writer>,
}

/// Refuses a target something else uses; see the [module docs](self). A
/// block device is also checked with [`safety::judge`]; a regular file
/// passes when no loop device in use and no other process's writable
/// descriptor reaches it; a path that does not exist passes (there is
/// nothing to use it).
pub fn check_in_use(target: &Path) -> Result<()> {
    let Ok(meta) = fs::metadata(target) else {
        return Ok(());
    };
    let uses = |s: &Snapshot| -> Result<Vec<Use>> {
        let mut visited = BTreeSet::new();
        if meta.file_type().is_block_device() {
            block_uses(target, s, &mut visited, 0)
        } else if meta.is_file() {
            let id = FileId {
                dev: meta.dev(),
                ino: meta.ino(),
            };
            file_uses(id, s, &mut visited)
        } else {
            Ok(Vec::new())
        }
    };
    let mut snapshot = Snapshot {
        loops: loop_devices(),
        writers: writers(),
    };
    let mut reasons = uses(&snapshot)?;
    if !reasons.is_empty() {
        // A program that opens devices for a moment (losetup looking for a
        // free loop device, a partition prober) is not a user: a writer
        // counts only when it still holds the descriptor a moment later.
        let first = std::mem::take(&mut snapshot.writers);
        let without_writers = uses(&snapshot)?;
        if without_writers.len() < reasons.len() {
            std::thread::sleep(WRITER_RECHECK);
            let again = writers();
            snapshot.writers = first.into_iter().filter(|w| again.contains(w)).collect();
            reasons = uses(&snapshot)?;
        }
    }
    if reasons.is_empty() {
        return Ok(());
    }
    Err(Error::UnsafeTarget {
        device: target.to_path_buf(),
        reason: named(reasons.iter().map(Use::sentence).collect()).join("; "),
    })
}

/// The uses of a regular file: writers, and loop devices in use on it.
fn file_uses(id: FileId, s: &Snapshot, visited: &mut BTreeSet<DevNum>) -> Result<Vec<Use>> {
    let mut out = writer_uses(s, |o| o == Opened::File(id), "it");
    for l in s.loops.iter().filter(|l| l.backing_file == Some(id)) {
        let inner = block_uses(&l.path, s, visited, 1)?;
        if !inner.is_empty() {
            out.push(sentence(format!(
                "it backs the loop device {}, {}",
                l.path.display(),
                clause(&inner)
            )));
        }
    }
    Ok(out)
}

/// The uses of a block device: its own (mounts, swap, holders, the running
/// system), writers of it or its partitions, loop devices in use built on
/// it, and for a loop device, the users of what it is built on.
fn block_uses(
    path: &Path,
    s: &Snapshot,
    visited: &mut BTreeSet<DevNum>,
    depth: usize,
) -> Result<Vec<Use>> {
    let facts = safety::gather_facts(path)?;
    if !visited.insert(facts.device.dev) || depth > MAX_DEPTH {
        return Ok(Vec::new());
    }
    let mut out = safety::uses(&facts);
    let mut devices = vec![(facts.device.dev, "it".to_string())];
    devices.extend(
        facts
            .partitions
            .iter()
            .map(|p| (p.dev, format!("its partition {}", p.name))),
    );
    let whose = |dev: DevNum| {
        devices
            .iter()
            .find(|(d, _)| *d == dev)
            .map(|(_, w)| w.clone())
    };
    for (dev, who) in &devices {
        out.extend(writer_uses(s, |o| o == Opened::Device(*dev), who));
    }
    for l in &s.loops {
        let Some(on) = l.backing_device.and_then(whose) else {
            continue;
        };
        let inner = block_uses(&l.path, s, visited, depth + 1)?;
        if !inner.is_empty() {
            out.push(sentence(format!(
                "the loop device {}, {}, is built on {on}",
                l.path.display(),
                clause(&inner)
            )));
        }
    }
    if let Some(me) = s.loops.iter().find(|l| l.dev == facts.device.dev).cloned() {
        for l in s
            .loops
            .iter()
            .filter(|l| l.dev != me.dev && l.overlaps(&me))
        {
            let inner = block_uses(&l.path, s, visited, depth + 1)?;
            if !inner.is_empty() {
                let (start, end) = l.range();
                let end = if end == u64::MAX {
                    "its end".to_string()
                } else {
                    end.to_string()
                };
                out.push(sentence(format!(
                    "the loop device {}, {}, shares its backing file {} (bytes {start} to {end})",
                    l.path.display(),
                    clause(&inner),
                    me.backing.display()
                )));
            }
        }
        if let Some(id) = me.backing_file {
            for w in s.writers.iter().filter(|w| w.opened == Opened::File(id)) {
                out.push(sentence(format!(
                    "its backing file {} is held open for writing by process {} ({})",
                    me.backing.display(),
                    w.pid,
                    w.command
                )));
            }
        }
        if me.backing_device.is_some() {
            let inner = block_uses(&me.backing, s, visited, depth + 1)?;
            if !inner.is_empty() {
                out.push(sentence(format!(
                    "it is a loop device on {}, {}",
                    me.backing.display(),
                    clause(&inner)
                )));
            }
        }
    }
    Ok(out)
}

/// Writers whose descriptor `matches`, as uses of `whose`.
fn writer_uses(s: &Snapshot, matches: impl Fn(Opened) -> bool, whose: &str) -> Vec<Use> {
    s.writers
        .iter()
        .filter(|w| matches(w.opened))
        .map(|w| Use {
            whose: whose.to_string(),
            how: format!(
                "is held open for writing by process {} ({})",
                w.pid, w.command
            ),
        })
        .collect()
}

/// A use that is a whole sentence.
fn sentence(text: String) -> Use {
    Use {
        whose: String::new(),
        how: text,
    }
}

/// The uses of something else as a relative clause: `which is mounted at
/// /mnt and whose partition loop3p1 is held by dm-0`.
fn clause(uses: &[Use]) -> String {
    let parts: Vec<String> = uses
        .iter()
        .map(|u| {
            if u.whose == "it" {
                format!("which {}", u.how)
            } else if let Some(part) = u.whose.strip_prefix("its ") {
                format!("whose {part} {}", u.how)
            } else {
                format!("which is in use ({})", u.sentence())
            }
        })
        .collect();
    parts.join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lp(minor: u32, file: u64, offset: u64, size: Option<u64>) -> LoopDevice {
        LoopDevice {
            path: PathBuf::from(format!("/dev/loop{minor}")),
            dev: DevNum { major: 7, minor },
            backing: PathBuf::from("/tmp/disk.img"),
            backing_file: Some(FileId { dev: 1, ino: file }),
            backing_device: None,
            offset,
            size_limit: size,
        }
    }

    #[test]
    fn loops_overlap_when_they_share_a_backing_and_a_range() {
        let whole = lp(0, 5, 0, None);
        let part = lp(1, 5, 8 << 20, Some(16 << 20));
        let after = lp(2, 5, 24 << 20, Some(1 << 20));
        let other_file = lp(3, 6, 0, None);
        assert!(whole.overlaps(&part) && part.overlaps(&whole));
        assert!(!part.overlaps(&after), "adjacent ranges do not overlap");
        assert!(whole.overlaps(&after));
        assert!(!whole.overlaps(&other_file));
    }

    #[test]
    fn fdinfo_flags_tell_writers() {
        assert!(open_for_writing("pos:\t0\nflags:\t0100002\nmnt_id:\t25\n"));
        assert!(open_for_writing("flags:\t01\n"));
        assert!(!open_for_writing("pos:\t0\nflags:\t0100000\n"));
        assert!(!open_for_writing("flags:\tzz\n"));
        assert!(!open_for_writing(""));
    }

    #[test]
    fn clauses_read_as_english() {
        let uses = [
            Use {
                whose: "it".into(),
                how: "is mounted at /mnt".into(),
            },
            Use {
                whose: "its partition loop3p1".into(),
                how: "is held by dm-0".into(),
            },
        ];
        assert_eq!(
            clause(&uses),
            "which is mounted at /mnt and whose partition loop3p1 is held by dm-0"
        );
    }

    #[test]
    fn a_file_nothing_uses_passes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("free.img");
        fs::write(&file, b"x").unwrap();
        check_in_use(&file).unwrap();
        check_in_use(&dir.path().join("missing")).unwrap();
    }
}
