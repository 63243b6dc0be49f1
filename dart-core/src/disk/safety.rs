//! Is it safe to overwrite this block device?
//!
//! [`check_writable`] refuses a device that is in use: mounted (itself or one
//! of its partitions), used as swap, held by another block device (device
//! mapper, LVM, md RAID, dm-crypt), or holding the running system (the disk
//! under `/`, followed through device mapper and md to the physical disks).
//!
//! The check is split in two so the decision can be tested without root and
//! without real disks:
//!
//! - [`gather_facts`] reads `/sys`, `/proc/self/mountinfo` and `/proc/swaps`
//!   once into a [`DeviceFacts`] snapshot;
//! - [`judge`] decides from that snapshot alone.
//!
//! A device that cannot be inspected (no `/sys`, unreadable `/proc`) is
//! refused too: the check fails safe.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where the kernel lists the mounts of this process's mount namespace
/// (the other namespaces are read through `/proc/PID/mountinfo`).
const MOUNTINFO: &str = "/proc/self/mountinfo";
/// Where the kernel lists active swap areas.
const SWAPS: &str = "/proc/swaps";
/// Most reasons of one kind named in a message; the rest are counted.
const MAX_NAMED: usize = 5;

/// A device number, `major:minor`, as in `/proc/self/mountinfo` and
/// `/sys/dev/block/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DevNum {
    /// The major number (the driver: 8 for SCSI disks, 7 for loop, ...).
    pub major: u32,
    /// The minor number (the device of that driver).
    pub minor: u32,
}

impl DevNum {
    /// Splits a kernel `dev_t` (as in `st_dev` and `st_rdev`).
    pub fn from_dev_t(dev: u64) -> DevNum {
        DevNum {
            major: (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff)) as u32,
            minor: (((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff)) as u32,
        }
    }

    /// Parses `"8:16"`.
    pub fn parse(text: &str) -> Option<DevNum> {
        let (major, minor) = text.trim().split_once(':')?;
        Some(DevNum {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }
}

impl fmt::Display for DevNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// A block device by its kernel name (`sdb1`, `dm-0`) and number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockName {
    /// The kernel name, as under `/sys/class/block/`.
    pub name: String,
    /// The device number.
    pub dev: DevNum,
}

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// The device number of the mounted file system (anonymous, `0:N`, for
    /// btrfs and virtual file systems).
    pub dev: DevNum,
    /// Where it is mounted, with the kernel's octal escapes decoded.
    pub mount_point: PathBuf,
    /// The file system type (`vfat`, `ext4`, ...).
    pub fs_type: String,
    /// The mount source (`/dev/sdb1`, `tmpfs`, ...), escapes decoded.
    pub source: String,
    /// For a mount of another mount namespace than this process's: which
    /// one, for messages ("the mount namespace of process 812 (sshd)").
    pub namespace: Option<String>,
}

/// One active swap area from `/proc/swaps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapEntry {
    /// The swap device or file, escapes decoded.
    pub path: PathBuf,
    /// Its device number, when it is a block device.
    pub dev: Option<DevNum>,
}

/// A block device built on top of the target or one of its partitions
/// (an entry of `/sys/class/block/<name>/holders/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The kernel name of the held device: the target or one of its partitions.
    pub held: String,
    /// The kernel name of the holder (`dm-0`, `md127`).
    pub holder: String,
    /// A friendlier name of the holder when the kernel has one (the device
    /// mapper name, e.g. `vg0-root`).
    pub label: Option<String>,
}

/// Everything [`judge`] needs to know about one block device, gathered by
/// [`gather_facts`] (or built by hand in tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFacts {
    /// The path as the caller gave it (used in messages).
    pub path: PathBuf,
    /// The device itself: kernel name and number.
    pub device: BlockName,
    /// Its partitions (empty for a partition or an unpartitioned disk).
    pub partitions: Vec<BlockName>,
    /// Every mount of the mount namespace.
    pub mounts: Vec<MountEntry>,
    /// Every active swap area.
    pub swaps: Vec<SwapEntry>,
    /// Holders of the device and of its partitions.
    pub holders: Vec<Holder>,
    /// The block devices the running system's root file system lives on:
    /// the device under `/` first, then every partition's disk and every
    /// device-mapper or md member below it, down to the physical disks.
    /// Empty when `/` is not on a block device (a container's overlay).
    pub system: Vec<BlockName>,
}

/// Whether `path` (after following symlinks) is a block device.
pub fn is_block_device(path: impl AsRef<Path>) -> bool {
    fs::metadata(path.as_ref())
        .map(|m| m.file_type().is_block_device())
        .unwrap_or(false)
}

/// Refuses to let a block device or image file be overwritten while it is
/// in use, under any name.
///
/// Symlinks (`/dev/disk/by-id/...`) are resolved first. A block device is
/// refused with [`Error::UnsafeTarget`] when it or one of its partitions is
/// mounted (in any mount namespace), used as swap, held by another block
/// device, holds the running system, is held open for writing by another
/// process, or is reached through a loop device that is (see
/// [`in_use`](super::in_use)); an image file when it backs a loop device in
/// use or another process holds it open for writing. The reason names the
/// partition, mount point, loop device or process. A path that does not
/// exist is [`Error::NotFound`].
pub fn check_writable(device: &Path) -> Result<()> {
    if !device.exists() {
        return Err(Error::NotFound {
            what: "device",
            path: device.to_path_buf(),
        });
    }
    super::in_use::check_in_use(device)
}

/// Decides from a snapshot whether the device may be overwritten.
///
/// A device that holds the running system is refused for that reason alone;
/// otherwise every mount, swap area and holder found is named, separated by
/// `"; "`.
pub fn judge(facts: &DeviceFacts) -> Result<()> {
    let reasons: Vec<String> = uses(facts).iter().map(Use::sentence).collect();
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Error::UnsafeTarget {
            device: facts.path.clone(),
            reason: named(reasons).join("; "),
        })
    }
}

/// One way a device is in use: whose (`"it"`, `"its partition sdb1"`) and
/// what (`"is mounted at /media/usb"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// The device or the partition in use.
    pub whose: String,
    /// How, as the rest of a sentence.
    pub how: String,
}

impl Use {
    /// `"its partition sdb1 is mounted at /media/usb"` (just `how` when
    /// `whose` is empty: a use that is a whole sentence).
    pub fn sentence(&self) -> String {
        if self.whose.is_empty() {
            self.how.clone()
        } else {
            format!("{} {}", self.whose, self.how)
        }
    }
}

/// Every use of the device the snapshot shows: a device that holds the
/// running system has that one use only.
pub fn uses(facts: &DeviceFacts) -> Vec<Use> {
    let dev = &facts.device;
    if facts.system.iter().any(|s| s.dev == dev.dev) {
        let root = facts.system.first().map_or("?", |s| s.name.as_str());
        let how = if root == dev.name {
            format!(
                "holds the running system (the root file system / is on {})",
                dev.name
            )
        } else {
            format!(
                "holds the running system (the root file system / is on {root}, which is on {})",
                dev.name
            )
        };
        return vec![Use {
            whose: "it".into(),
            how,
        }];
    }

    // "it" for the device itself, "its partition sdb1" for a partition.
    let whose = |dev_num: Option<DevNum>, path_text: &str| -> Option<String> {
        let path_name = path_text.strip_prefix("/dev/");
        if dev_num == Some(dev.dev) || path_name == Some(dev.name.as_str()) {
            return Some("it".to_string());
        }
        facts
            .partitions
            .iter()
            .find(|p| dev_num == Some(p.dev) || path_name == Some(p.name.as_str()))
            .map(|p| format!("its partition {}", p.name))
    };

    let mut out = Vec::new();
    for m in &facts.mounts {
        if let Some(who) = whose(Some(m.dev), &m.source) {
            let place = match &m.namespace {
                Some(ns) => format!(" (in {ns})"),
                None => String::new(),
            };
            out.push(Use {
                whose: who,
                how: format!("is mounted at {}{place}", m.mount_point.display()),
            });
        }
    }
    for s in &facts.swaps {
        if let Some(who) = whose(s.dev, &s.path.to_string_lossy()) {
            out.push(Use {
                whose: who,
                how: format!("is used as swap ({})", s.path.display()),
            });
        }
    }
    for h in &facts.holders {
        let who = if h.held == dev.name {
            "it".to_string()
        } else {
            format!("its partition {}", h.held)
        };
        let label = h
            .label
            .as_ref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        out.push(Use {
            whose: who,
            how: format!(
                "is held by {}{label} (device mapper, LVM, RAID or encryption)",
                h.holder
            ),
        });
    }
    let mut seen = BTreeSet::new();
    out.retain(|u| seen.insert(u.sentence()));
    out
}

/// De-duplicates reasons and names at most [`MAX_NAMED`] of them.
pub(crate) fn named(reasons: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut unique: Vec<String> = reasons
        .into_iter()
        .filter(|r| seen.insert(r.clone()))
        .collect();
    if unique.len() > MAX_NAMED {
        let more = unique.len() - MAX_NAMED;
        unique.truncate(MAX_NAMED);
        unique.push(format!("and {more} more"));
    }
    unique
}

/// Reads the facts [`judge`] needs about the block device at `path`.
///
/// Fails with [`Error::UnsafeTarget`] when the device cannot be inspected
/// (not a block device, no `/sys/dev/block` entry, unreadable
/// `/proc/self/mountinfo`): what cannot be checked is not written.
pub fn gather_facts(path: &Path) -> Result<DeviceFacts> {
    let cannot = |what: String| Error::UnsafeTarget {
        device: path.to_path_buf(),
        reason: format!("cannot check whether it is in use: {what}"),
    };
    let resolved = fs::canonicalize(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Error::NotFound {
            what: "device",
            path: path.to_path_buf(),
        },
        _ => cannot(format!("resolving the path failed: {e}")),
    })?;
    let meta =
        fs::metadata(&resolved).map_err(|e| cannot(format!("{}: {e}", resolved.display())))?;
    if !meta.file_type().is_block_device() {
        return Err(cannot(format!(
            "{} is not a block device",
            resolved.display()
        )));
    }
    let dev = DevNum::from_dev_t(meta.rdev());
    let sys = sys_dir(dev).map_err(|e| cannot(format!("/sys/dev/block/{dev}: {e}")))?;
    let device = BlockName {
        name: kernel_name(&sys),
        dev,
    };

    let partitions = partitions_of(&sys);
    let mut holders = holders_of(&sys, &device.name);
    for p in &partitions {
        holders.extend(holders_of(&sys.join(&p.name), &p.name));
    }

    let mounts = all_mounts().map_err(|e| cannot(format!("reading {MOUNTINFO} failed: {e}")))?;
    let swaps = match fs::read(SWAPS) {
        Ok(text) => parse_swaps(&String::from_utf8_lossy(&text))
            .into_iter()
            .map(|path| SwapEntry {
                dev: block_dev_num(&path),
                path,
            })
            .collect(),
        // No swap support compiled in: nothing can be used as swap.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(cannot(format!("reading {SWAPS} failed: {e}"))),
    };
    let system = system_devices(&mounts);

    Ok(DeviceFacts {
        path: path.to_path_buf(),
        device,
        partitions,
        mounts,
        swaps,
        holders,
        system,
    })
}

/// The mounts of every mount namespace on the system: this process's own
/// first (from `/proc/self/mountinfo`, which must be readable), then those of each
/// other namespace once (read through a process in it, named in
/// [`MountEntry::namespace`]). Processes that end while they are read, or
/// whose files cannot be read, are skipped.
pub fn all_mounts() -> io::Result<Vec<MountEntry>> {
    let own = fs::read(MOUNTINFO)?;
    let mut mounts = parse_mountinfo(&String::from_utf8_lossy(&own));
    let mut seen = BTreeSet::new();
    if let Ok(ns) = fs::read_link("/proc/self/ns/mnt") {
        seen.insert(ns);
    }
    for pid in processes() {
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        let Ok(ns) = fs::read_link(proc_dir.join("ns/mnt")) else {
            continue;
        };
        if !seen.insert(ns) {
            continue;
        }
        let Ok(text) = fs::read(proc_dir.join("mountinfo")) else {
            continue;
        };
        let label = format!(
            "the mount namespace of process {pid} ({})",
            command_name(pid)
        );
        mounts.extend(
            parse_mountinfo(&String::from_utf8_lossy(&text))
                .into_iter()
                .map(|m| MountEntry {
                    namespace: Some(label.clone()),
                    ..m
                }),
        );
    }
    Ok(mounts)
}

/// The ids of the running processes (the numeric entries of `/proc`).
pub(crate) fn processes() -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// A process's command name (`/proc/PID/comm`), or `?`.
pub(crate) fn command_name(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// `/sys/dev/block/MAJ:MIN`, resolved to its `/sys/devices/...` directory.
pub(crate) fn sys_dir(dev: DevNum) -> io::Result<PathBuf> {
    fs::canonicalize(format!("/sys/dev/block/{dev}"))
}

/// The kernel name of a `/sys/devices/.../block/<name>` directory.
fn kernel_name(sys: &Path) -> String {
    sys.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads a `dev` file (`"8:16\n"`).
pub(crate) fn read_dev(dir: &Path) -> Option<DevNum> {
    DevNum::parse(&fs::read_to_string(dir.join("dev")).ok()?)
}

/// The partitions of a disk: subdirectories of its sysfs directory that
/// have a `partition` file.
fn partitions_of(sys: &Path) -> Vec<BlockName> {
    let Ok(entries) = fs::read_dir(sys) else {
        return Vec::new();
    };
    let mut parts: Vec<BlockName> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("partition").is_file())
        .filter_map(|p| {
            Some(BlockName {
                name: kernel_name(&p),
                dev: read_dev(&p)?,
            })
        })
        .collect();
    parts.sort_by_key(|p| p.dev);
    parts
}

/// The entries of `<sys>/holders/`, with their device-mapper names.
fn holders_of(sys: &Path, held: &str) -> Vec<Holder> {
    let Ok(entries) = fs::read_dir(sys.join("holders")) else {
        return Vec::new();
    };
    let mut holders: Vec<Holder> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .map(|holder| {
            let label = fs::read_to_string(format!("/sys/class/block/{holder}/dm/name"))
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
            Holder {
                held: held.to_string(),
                holder,
                label,
            }
        })
        .collect();
    holders.sort_by(|a, b| a.holder.cmp(&b.holder));
    holders
}

/// The device number of `path` if it is a block device.
fn block_dev_num(path: &Path) -> Option<DevNum> {
    let meta = fs::metadata(path).ok()?;
    meta.file_type()
        .is_block_device()
        .then(|| DevNum::from_dev_t(meta.rdev()))
}

/// The block devices under `/`: the device of `/` (from `stat("/")` and from
/// the mount source of `/` in mountinfo, which differ for btrfs), then the
/// disk of every partition and every `slaves/` member, recursively.
fn system_devices(mounts: &[MountEntry]) -> Vec<BlockName> {
    let mut starts = Vec::new();
    if let Ok(meta) = fs::metadata("/") {
        starts.push(DevNum::from_dev_t(meta.dev()));
    }
    // The last "/" entry is the one on top, the one this process sees.
    if let Some(root) = mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == Path::new("/"))
    {
        starts.push(root.dev);
        if root.source.starts_with('/') {
            starts.extend(block_dev_num(Path::new(&root.source)));
        }
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for dev in starts {
        walk_down(dev, &mut seen, &mut out);
    }
    out
}

/// Adds `dev`, the disk it is a partition of, and the devices it is built
/// on (`slaves/`), recursively.
fn walk_down(dev: DevNum, seen: &mut BTreeSet<DevNum>, out: &mut Vec<BlockName>) {
    if !seen.insert(dev) {
        return;
    }
    let Ok(sys) = sys_dir(dev) else {
        // Not a block device (anonymous device of btrfs, overlay, tmpfs).
        return;
    };
    out.push(BlockName {
        name: kernel_name(&sys),
        dev,
    });
    if sys.join("partition").is_file() {
        if let Some(parent) = sys.parent().and_then(read_dev) {
            walk_down(parent, seen, out);
        }
    }
    if let Ok(slaves) = fs::read_dir(sys.join("slaves")) {
        for slave in slaves.filter_map(|e| e.ok()) {
            // Each entry is a symlink to the member's sysfs directory.
            if let Some(member) = read_dev(&slave.path()) {
                walk_down(member, seen, out);
            }
        }
    }
}

/// Decodes the kernel's octal escapes (`\040` for a space) in mountinfo and
/// `/proc/swaps` fields.
pub fn unescape(field: &str) -> OsString {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(value) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    OsString::from_vec(out)
}

/// Parses one line of `/proc/self/mountinfo`; `None` for a malformed line.
///
/// The format is `ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] -
/// FS_TYPE SOURCE SUPER_OPTIONS` (proc(5)).
pub fn parse_mountinfo_line(line: &str) -> Option<MountEntry> {
    let mut fields = line.split(' ');
    let _id = fields.next()?;
    let _parent = fields.next()?;
    let dev = DevNum::parse(fields.next()?)?;
    let _root = fields.next()?;
    let mount_point = PathBuf::from(unescape(fields.next()?));
    let rest: Vec<&str> = fields.collect();
    let separator = rest.iter().position(|f| *f == "-")?;
    let fs_type = rest.get(separator + 1)?;
    let source = rest.get(separator + 2)?;
    Some(MountEntry {
        dev,
        mount_point,
        fs_type: fs_type.to_string(),
        source: unescape(source).to_string_lossy().into_owned(),
        namespace: None,
    })
}

/// Parses all of `/proc/self/mountinfo`, skipping malformed lines.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

/// Parses `/proc/swaps` into the swap devices and files it lists.
pub fn parse_swaps(text: &str) -> Vec<PathBuf> {
    text.lines()
        .skip(1) // "Filename Type Size Used Priority"
        .filter_map(|line| line.split_whitespace().next())
        .map(|name| PathBuf::from(unescape(name)))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn bn(name: &str, major: u32, minor: u32) -> BlockName {
        BlockName {
            name: name.to_string(),
            dev: DevNum { major, minor },
        }
    }

    fn mount(dev: &str, mp: &str, source: &str) -> MountEntry {
        MountEntry {
            dev: DevNum::parse(dev).unwrap(),
            mount_point: PathBuf::from(mp),
            fs_type: "vfat".to_string(),
            source: source.to_string(),
            namespace: None,
        }
    }

    /// An idle USB stick sdb with two partitions, on a system whose root is
    /// on sda2.
    fn idle_stick() -> DeviceFacts {
        DeviceFacts {
            path: PathBuf::from("/dev/disk/by-id/usb-Stick"),
            device: bn("sdb", 8, 16),
            partitions: vec![bn("sdb1", 8, 17), bn("sdb2", 8, 18)],
            mounts: vec![
                mount("0:21", "/proc", "proc"),
                mount("8:2", "/", "/dev/sda2"),
                mount("8:1", "/boot/efi", "/dev/sda1"),
            ],
            swaps: vec![SwapEntry {
                path: PathBuf::from("/dev/sda3"),
                dev: Some(DevNum { major: 8, minor: 3 }),
            }],
            holders: vec![],
            system: vec![bn("sda2", 8, 2), bn("sda", 8, 0)],
        }
    }

    fn reason(facts: &DeviceFacts) -> String {
        match judge(facts) {
            Err(Error::UnsafeTarget { reason, device }) => {
                assert_eq!(device, facts.path);
                reason
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn idle_device_passes() {
        judge(&idle_stick()).unwrap();
    }

    #[test]
    fn mounted_device_is_refused_naming_the_mount_point() {
        let mut facts = idle_stick();
        facts.partitions.clear();
        facts
            .mounts
            .push(mount("8:16", "/media/usb stick", "/dev/sdb"));
        assert_eq!(reason(&facts), "it is mounted at /media/usb stick");
        let err = judge(&facts).unwrap_err().to_string();
        assert_eq!(
            err,
            "refusing to write to /dev/disk/by-id/usb-Stick: it is mounted at /media/usb stick; nothing was written"
        );
    }

    #[test]
    fn mounted_partition_is_refused_naming_the_partition() {
        let mut facts = idle_stick();
        facts.mounts.push(mount("8:17", "/media/a", "/dev/sdb1"));
        facts.mounts.push(mount("8:17", "/media/b", "/dev/sdb1"));
        assert_eq!(
            reason(&facts),
            "its partition sdb1 is mounted at /media/a; its partition sdb1 is mounted at /media/b"
        );
    }

    #[test]
    fn mount_found_by_source_when_the_device_number_is_anonymous() {
        // btrfs reports an anonymous device number in mountinfo.
        let mut facts = idle_stick();
        facts.mounts.push(mount("0:45", "/data", "/dev/sdb2"));
        assert_eq!(reason(&facts), "its partition sdb2 is mounted at /data");
    }

    #[test]
    fn swap_partition_is_refused() {
        let mut facts = idle_stick();
        facts.swaps.push(SwapEntry {
            path: PathBuf::from("/dev/sdb2"),
            dev: Some(DevNum {
                major: 8,
                minor: 18,
            }),
        });
        assert_eq!(
            reason(&facts),
            "its partition sdb2 is used as swap (/dev/sdb2)"
        );
    }

    #[test]
    fn holder_is_named() {
        let mut facts = idle_stick();
        facts.holders.push(Holder {
            held: "sdb2".to_string(),
            holder: "dm-0".to_string(),
            label: Some("vg0-data".to_string()),
        });
        facts.holders.push(Holder {
            held: "sdb".to_string(),
            holder: "md127".to_string(),
            label: None,
        });
        let r = reason(&facts);
        assert!(
            r.contains("its partition sdb2 is held by dm-0 (vg0-data)"),
            "{r}"
        );
        assert!(r.contains("it is held by md127"), "{r}");
    }

    #[test]
    fn system_disk_is_refused_as_the_running_system() {
        let mut facts = idle_stick();
        facts.path = PathBuf::from("/dev/sda");
        facts.device = bn("sda", 8, 0);
        facts.partitions = vec![bn("sda1", 8, 1), bn("sda2", 8, 2), bn("sda3", 8, 3)];
        assert_eq!(
            reason(&facts),
            "it holds the running system (the root file system / is on sda2, which is on sda)"
        );
    }

    #[test]
    fn lvm_root_resolves_to_its_physical_disk() {
        let mut facts = idle_stick();
        facts.path = PathBuf::from("/dev/nvme0n1");
        facts.device = bn("nvme0n1", 259, 0);
        facts.partitions = vec![bn("nvme0n1p1", 259, 1)];
        facts.system = vec![
            bn("dm-0", 253, 0),
            bn("nvme0n1p1", 259, 1),
            bn("nvme0n1", 259, 0),
        ];
        assert_eq!(
            reason(&facts),
            "it holds the running system (the root file system / is on dm-0, which is on nvme0n1)"
        );
    }

    #[test]
    fn root_device_itself_is_refused() {
        let mut facts = idle_stick();
        facts.path = PathBuf::from("/dev/vda");
        facts.device = bn("vda", 254, 0);
        facts.partitions.clear();
        facts.system = vec![bn("vda", 254, 0)];
        assert_eq!(
            reason(&facts),
            "it holds the running system (the root file system / is on vda)"
        );
    }

    #[test]
    fn other_partition_of_the_system_disk_is_not_the_running_system() {
        let mut facts = idle_stick();
        facts.path = PathBuf::from("/dev/sda4");
        facts.device = bn("sda4", 8, 4);
        facts.partitions.clear();
        judge(&facts).unwrap();
    }

    #[test]
    fn many_mounts_are_counted() {
        let mut facts = idle_stick();
        for i in 0..8 {
            facts
                .mounts
                .push(mount("8:16", &format!("/m{i}"), "/dev/sdb"));
        }
        let r = reason(&facts);
        assert!(r.ends_with("it is mounted at /m4; and 3 more"), "{r}");
    }

    #[test]
    fn mountinfo_lines_parse() {
        let line = "36 35 98:0 /mnt1 /mnt/my\\040disk rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue";
        let m = parse_mountinfo_line(line).unwrap();
        assert_eq!(
            m.dev,
            DevNum {
                major: 98,
                minor: 0
            }
        );
        assert_eq!(m.mount_point, PathBuf::from("/mnt/my disk"));
        assert_eq!(m.fs_type, "ext3");
        assert_eq!(m.source, "/dev/root");

        let line = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard";
        let m = parse_mountinfo_line(line).unwrap();
        assert_eq!(
            m.dev,
            DevNum {
                major: 254,
                minor: 0
            }
        );
        assert_eq!(m.mount_point, PathBuf::from("/"));
        assert_eq!(m.source, "/dev/vda");

        assert_eq!(parse_mountinfo_line(""), None);
        assert_eq!(
            parse_mountinfo_line("1 2 x:y / / rw - ext4 /dev/a rw"),
            None
        );
        assert_eq!(parse_mountinfo_line("1 2 8:1 / / rw shared:1"), None);
        let text = format!("{line}\ngarbage\n{line}\n");
        assert_eq!(parse_mountinfo(&text).len(), 2);
    }

    #[test]
    fn escapes_decode() {
        assert_eq!(unescape("a\\040b\\011c\\134d"), OsString::from("a b\tc\\d"));
        assert_eq!(unescape("tail\\04"), OsString::from("tail\\04"));
        assert_eq!(unescape("\\999"), OsString::from("\\999"));
        assert_eq!(unescape("\\777x"), OsString::from("\\777x"));
    }

    #[test]
    fn swaps_parse() {
        let text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
                    /dev/sda3                               partition\t8388604\t\t0\t\t-2\n\
                    /swap\\040file                            file\t\t1048572\t\t0\t\t-3\n";
        assert_eq!(
            parse_swaps(text),
            vec![PathBuf::from("/dev/sda3"), PathBuf::from("/swap file")]
        );
        assert!(parse_swaps("Filename Type Size Used Priority\n").is_empty());
    }

    #[test]
    fn dev_numbers_split_and_parse() {
        // Large numbers use the high bits of dev_t; check against libc.
        for (major, minor) in [(8u32, 16u32), (259, 65539), (4100, 1 << 20)] {
            let dev = libc::makedev(major, minor);
            assert_eq!(DevNum::from_dev_t(dev), DevNum { major, minor });
        }
        assert_eq!(
            DevNum::from_dev_t(0xfe00),
            DevNum {
                major: 254,
                minor: 0
            }
        );
        assert_eq!(
            DevNum::parse("8:16\n"),
            Some(DevNum {
                major: 8,
                minor: 16
            })
        );
        assert_eq!(DevNum::parse("8"), None);
        assert_eq!(DevNum { major: 7, minor: 3 }.to_string(), "7:3");
    }

    #[test]
    fn regular_files_are_not_block_devices() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("disk.img");
        fs::write(&file, b"x").unwrap();
        assert!(!is_block_device(&file));
        assert!(!is_block_device(dir.path().join("missing")));
        check_writable(&file).unwrap();
        assert!(matches!(
            check_writable(&dir.path().join("missing")),
            Err(Error::NotFound { .. })
        ));
    }
}
