//! Planning a dedicated recovery partition in a disk's free space.
//!
//! The plan never moves or shrinks a partition: it finds a free region big
//! enough, aligned to 1 MiB, and describes the disk before and after as
//! plain [`Layout`]s. It also reports BitLocker volumes found on the disk
//! (the recovery partition itself is never encrypted: firmware must read it).

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use super::kind::{GptAttributes, PartitionKind};
use super::layout::{describe_free, human, Layout, Partition, Scheme, MIB};
use super::read::read_disk;
use crate::disk::{read_vec, BlockDevice};
use crate::error::{Error, Result};

/// GPT name given to the partition.
pub const RECOVERY_NAME: &str = "DaRT Recovery";

/// The smallest recovery partition DaRT 8/10 recommends (500 MB).
pub const RECOMMENDED_MIN: u64 = 500_000_000;

/// Sizing of a new recovery partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RecoveryOptions {
    /// Exact size in bytes; overrides content + headroom.
    pub size: Option<u64>,
    /// Free space to keep inside the partition for later, larger images.
    /// Default: Microsoft's WinRE rule, 50 MB under 500 MB and 320 MB from
    /// 500 MB on.
    pub headroom: Option<u64>,
}

impl RecoveryOptions {
    /// The partition size for `content` bytes of file system, rounded up to
    /// whole MiB.
    pub fn size_for(&self, content: u64) -> u64 {
        let size = self.size.unwrap_or_else(|| {
            let headroom = self.headroom.unwrap_or(if content < RECOMMENDED_MIN {
                50_000_000
            } else {
                320_000_000
            });
            content.saturating_add(headroom)
        });
        size.next_multiple_of(MIB)
    }
}

/// What adding a recovery partition will do, before it is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryPlan {
    /// The disk.
    pub disk: PathBuf,
    /// Its layout now.
    pub before: Layout,
    /// Its layout afterwards.
    pub after: Layout,
    /// The new partition.
    pub partition: Partition,
    /// Bytes of file system the media need.
    pub content_bytes: u64,
    /// Numbers of partitions holding BitLocker volumes (`-FVE-FS-`).
    pub bitlocker: Vec<u32>,
    /// True when the disk holds a table write that was interrupted after the
    /// backup GPT already described this partition; applying finishes it.
    pub resumes_interrupted: bool,
    /// Advice for the user.
    pub notes: Vec<String>,
}

impl fmt::Display for RecoveryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "disk {}", self.disk.display())?;
        writeln!(f, "before:\n{}", self.before)?;
        writeln!(f, "after:\n{}", self.after)?;
        writeln!(
            f,
            "new partition {}: {} at byte {}, {} of file system content",
            self.partition.number,
            human(self.partition.size),
            self.partition.start,
            human(self.content_bytes)
        )?;
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}

/// BitLocker's volume signature at byte 3 of a partition.
pub const BITLOCKER_SIGNATURE: &[u8; 8] = b"-FVE-FS-";

/// Numbers of the partitions whose first sector carries the BitLocker
/// signature.
pub fn find_bitlocker(dev: &mut dyn BlockDevice, layout: &Layout) -> Result<Vec<u32>> {
    let mut found = Vec::new();
    for p in &layout.partitions {
        let head = read_vec(dev, p.start, 512)?;
        if &head[3..11] == BITLOCKER_SIGNATURE {
            found.push(p.number);
        }
    }
    Ok(found)
}

/// Whether partition `p` is a recovery partition holding FAT32 (one this
/// library made, or one like it).
pub fn is_fat_recovery(dev: &mut dyn BlockDevice, p: &Partition) -> Result<bool> {
    if p.kind != PartitionKind::WindowsRecovery {
        return Ok(false);
    }
    let head = read_vec(dev, p.start, 512)?;
    Ok(&head[82..87] == b"FAT32" && head[510..512] == [0x55, 0xAA])
}

/// Plans a recovery partition for `content_bytes` of file system on `dev`.
///
/// Errors, with nothing written: unknown or corrupt partition table, no MBR
/// slot, no free region big enough (the message lists the free regions),
/// or a FAT32 recovery partition already present (use an update instead).
pub fn plan_recovery(
    dev: &mut dyn BlockDevice,
    content_bytes: u64,
    opts: &RecoveryOptions,
) -> Result<RecoveryPlan> {
    let state = read_disk(dev)?;
    let disk = dev.name().to_path_buf();
    let mut notes = state.warnings();
    if !state.copies_agree() {
        if let Some(plan) = interrupted(&state, &disk, content_bytes) {
            return finish(dev, plan, notes);
        }
        return Err(Error::DiskLayout {
            disk,
            detail: "corrupt GPT: the primary and backup partition tables are both valid but describe different partitions".into(),
        });
    }
    let before = state.layout;
    for p in &before.partitions {
        if is_fat_recovery(dev, p)? {
            return Err(Error::DiskLayout {
                disk,
                detail: format!(
                    "partition {} is already a FAT32 recovery partition; update it instead of adding another",
                    p.number
                ),
            });
        }
    }
    let size = opts.size_for(content_bytes);
    if size < content_bytes {
        return Err(Error::invalid(
            "recovery partition size",
            size,
            format!("the media need {content_bytes} bytes of file system"),
        ));
    }
    let mut after = before.clone();
    let mut part = match after.add(PartitionKind::WindowsRecovery, size, RECOVERY_NAME) {
        Ok(p) => p,
        Err(Error::NoFreeSpace { what, needed, .. }) => {
            return Err(Error::NoFreeSpace {
                disk,
                what,
                needed,
                free: describe_free(&before.free_regions()),
            })
        }
        Err(Error::DiskLayout { detail, .. }) => return Err(Error::DiskLayout { disk, detail }),
        Err(e) => return Err(e),
    };
    if after.scheme == Scheme::Gpt {
        part.attributes = GptAttributes::WINDOWS_RECOVERY;
        // Derived from the disk and the place, not random: a dry run names
        // the partition GUID (and so the boot entries that name it) that
        // the write will use.
        let mut seed = after.disk_guid.as_bytes().to_vec();
        seed.extend_from_slice(&part.start.to_le_bytes());
        part.guid = super::derived_guid(&seed, "dart recovery partition");
        if let Some(p) = after
            .partitions
            .iter_mut()
            .find(|p| p.number == part.number)
        {
            p.attributes = part.attributes;
            p.guid = part.guid;
        }
    }
    if size < RECOMMENDED_MIN {
        notes.push(format!(
            "the partition is {}; DaRT recommends at least 500 MB so later, larger images fit",
            human(size)
        ));
    }
    let plan = RecoveryPlan {
        disk,
        before,
        after,
        partition: part,
        content_bytes,
        bitlocker: Vec::new(),
        resumes_interrupted: false,
        notes: Vec::new(),
    };
    finish(dev, plan, notes)
}

fn finish(
    dev: &mut dyn BlockDevice,
    mut plan: RecoveryPlan,
    mut notes: Vec<String>,
) -> Result<RecoveryPlan> {
    plan.bitlocker = find_bitlocker(dev, &plan.before)?;
    if !plan.bitlocker.is_empty() {
        notes.push(format!(
            "BitLocker protects partition(s) {:?}; they are left as they are and the recovery partition stays unencrypted so firmware can boot it",
            plan.bitlocker
        ));
    }
    if plan.resumes_interrupted {
        notes.push("an earlier add-recovery was interrupted after the backup GPT was written; applying this plan completes it".into());
    }
    plan.notes = notes;
    Ok(plan)
}

/// An interrupted apply leaves a valid old primary and a valid new backup
/// that adds exactly one FAT32-sized recovery partition.
fn interrupted(
    state: &super::read::DiskState,
    disk: &std::path::Path,
    content_bytes: u64,
) -> Option<RecoveryPlan> {
    let primary = state.primary.as_ref()?.layout.as_ref().ok()?;
    let backup = state.backup.as_ref()?.layout.as_ref().ok()?;
    if backup.partitions.len() != primary.partitions.len() + 1 {
        return None;
    }
    let extra = backup
        .partitions
        .iter()
        .find(|p| !primary.partitions.contains(p))?
        .clone();
    let rest: Vec<&Partition> = backup.partitions.iter().filter(|p| **p != extra).collect();
    let same = rest.len() == primary.partitions.len()
        && rest.iter().zip(&primary.partitions).all(|(a, b)| *a == b);
    if !same
        || extra.kind != PartitionKind::WindowsRecovery
        || extra.name != RECOVERY_NAME
        || extra.size < content_bytes
    {
        return None;
    }
    Some(RecoveryPlan {
        disk: disk.to_path_buf(),
        before: primary.clone(),
        after: backup.clone(),
        partition: extra,
        content_bytes,
        bitlocker: Vec::new(),
        resumes_interrupted: true,
        notes: Vec::new(),
    })
}
