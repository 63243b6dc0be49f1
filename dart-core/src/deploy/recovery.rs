//! The recovery partition method: add a dedicated FAT32 partition holding
//! the media to an existing disk, and update it in place later.
//!
//! Adding writes the file system into free space first and switches the
//! partition table last (crash-safe, see [`crate::formats::partition::apply()`]), so
//! the existing partitions are never written. Updating replaces files one by
//! one so that each is either its old or its new version after a crash,
//! `sources/boot.wim` last; unchanged files are not rewritten.
//!
//! ```no_run
//! use dart_core::deploy::recovery::{add_recovery, plan_add_recovery};
//! use dart_core::disk::FileDevice;
//! use dart_core::formats::fat::FatOptions;
//! use dart_core::model::media::MediaSet;
//! use dart_core::formats::partition::RecoveryOptions;
//! use dart_core::progress::Control;
//! let media = MediaSet::from_dir("media")?;
//! let mut disk = FileDevice::open_writable("disk.img", 512)?;
//! let plan = plan_add_recovery(&mut disk, &media, &RecoveryOptions::default())?;
//! println!("{plan}");
//! add_recovery(&mut disk, &media, &plan, &FatOptions::default(), &Control::default())?;
//! # Ok::<(), dart_core::Error>(())
//! ```

use std::path::Path;

use serde::Serialize;

use super::medium::MediumSpec;
use crate::disk::inputs::check_output;
use crate::disk::safety::check_writable;
use crate::disk::{open_read, open_target, BlockDevice, Region, TargetSpec};
use crate::error::{Error, Result};
use crate::formats::fat::{self, FatOptions, FatReport, UpdateReport};
use crate::formats::partition::recovery::is_fat_recovery;
use crate::formats::partition::{
    apply, plan_recovery, read_disk, read_layout, Partition, RecoveryOptions, RecoveryPlan,
};
use crate::model::media::MediaSet;
use crate::progress::Control;

/// What [`add_recovery`] did.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryReport {
    /// The plan that was carried out.
    pub plan: RecoveryPlan,
    /// The file system written into the new partition.
    pub fat: FatReport,
}

/// Plans a recovery partition for `media` on `dev` (nothing is written).
pub fn plan_add_recovery(
    dev: &mut dyn BlockDevice,
    media: &MediaSet,
    opts: &RecoveryOptions,
) -> Result<RecoveryPlan> {
    fat::check_media(media)?;
    let content = fat::volume_size_for(media, dev.sector_size());
    plan_recovery(dev, content, opts)
}

/// Carries out `plan`: formats the new partition's space, copies the media,
/// then writes the new partition table. The disk must still be as planned.
pub fn add_recovery(
    dev: &mut dyn BlockDevice,
    media: &MediaSet,
    plan: &RecoveryPlan,
    fat_opts: &FatOptions,
    control: &Control,
) -> Result<RecoveryReport> {
    // The label and the media are checked by write_volume before its first write.
    let state = read_disk(dev)?;
    let unchanged = if plan.resumes_interrupted {
        state.primary.as_ref().and_then(|c| c.layout.as_ref().ok()) == Some(&plan.before)
    } else {
        state.copies_agree() && state.layout == plan.before
    };
    if !unchanged {
        return Err(Error::DiskLayout {
            disk: dev.name().to_path_buf(),
            detail: "the partition table changed since the plan was made; plan again".into(),
        });
    }
    let part = &plan.partition;
    let fat = {
        let mut region = Region::new(&mut *dev, part.start, part.size)?;
        fat::write_volume(&mut region, media, fat_opts, control)?
    };
    apply(dev, &plan.after)?;
    Ok(RecoveryReport {
        plan: plan.clone(),
        fat,
    })
}

/// The FAT32 recovery partition on `dev`: exactly one must exist.
pub fn find_recovery_partition(dev: &mut dyn BlockDevice) -> Result<Partition> {
    let layout = read_layout(dev)?;
    let mut found = Vec::new();
    for p in &layout.partitions {
        if is_fat_recovery(dev, p)? {
            found.push(p.clone());
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Error::DiskLayout {
            disk: dev.name().to_path_buf(),
            detail: "no FAT32 recovery partition was found; add one first".into(),
        }),
        _ => Err(Error::DiskLayout {
            disk: dev.name().to_path_buf(),
            detail: format!(
                "{} FAT32 recovery partitions were found ({}); cannot tell which to update",
                found.len(),
                found
                    .iter()
                    .map(|p| p.number.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// Replaces the media on the disk's recovery partition in place.
pub fn update_recovery(
    dev: &mut dyn BlockDevice,
    media: &MediaSet,
    fat_opts: &FatOptions,
    control: &Control,
) -> Result<UpdateReport> {
    fat::check_media(media)?;
    let part = find_recovery_partition(dev)?;
    let mut region = Region::new(&mut *dev, part.start, part.size)?;
    fat::update_files(&mut region, media, fat_opts, control)
}

/// [`plan_add_recovery`] for the disk or image at `disk` (opened read-only).
pub fn plan_add_recovery_at(
    disk: &Path,
    media: impl Into<MediumSpec>,
    opts: &RecoveryOptions,
) -> Result<RecoveryPlan> {
    let medium = media.into().prepare()?;
    check_output(disk, &medium.inputs())?;
    check_writable(disk)?;
    let mut dev = open_read(disk)?;
    plan_add_recovery(&mut *dev, &medium.set, opts)
}

/// Plans and adds a recovery partition to the disk or image at `disk`.
pub fn add_recovery_at(
    disk: &Path,
    media: impl Into<MediumSpec>,
    opts: &RecoveryOptions,
    fat_opts: &FatOptions,
    control: &Control,
) -> Result<RecoveryReport> {
    let medium = media.into().prepare()?;
    check_output(disk, &medium.inputs())?;
    let mut dev = open_target(disk, &TargetSpec::default())?;
    let plan = plan_add_recovery(&mut *dev, &medium.set, opts)?;
    add_recovery(&mut *dev, &medium.set, &plan, fat_opts, control)
}

/// [`update_recovery`] for the disk or image at `disk`.
pub fn update_recovery_at(
    disk: &Path,
    media: impl Into<MediumSpec>,
    fat_opts: &FatOptions,
    control: &Control,
) -> Result<UpdateReport> {
    let medium = media.into().prepare()?;
    check_output(disk, &medium.inputs())?;
    let mut dev = open_target(disk, &TargetSpec::default())?;
    update_recovery(&mut *dev, &medium.set, fat_opts, control)
}
