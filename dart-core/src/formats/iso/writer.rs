//! Writing a planned ISO image: file data streamed from the sources in
//! large aligned writes (read and write overlapped), the EFI image built in
//! place, and the metadata last, so that an image cut short has no valid
//! volume descriptor.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::disk::inputs::check_output;
use crate::disk::partial::{PartialFile, RemoveOnDrop};
use crate::disk::stream::{copy_files, CancelText, Job, Tally};
use crate::disk::{BlockDevice, FileDevice, Region};
use crate::error::{Error, Result};
use crate::formats::fat::{self, FatOptions};
use crate::model::media::MediaSet;
use crate::progress::{Control, Phase};

use super::plan::{plan_iso, IsoOptions, IsoPlan, EFI_BOOT_DIR};
use super::record::BLOCK;

const CANCEL: CancelText = CancelText {
    operation: "writing the ISO image",
    untouched: "the partial image was removed",
};

/// What [`write_iso`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsoReport {
    /// The layout that was written.
    pub plan: IsoPlan,
    /// Where it was written.
    pub target: PathBuf,
    /// Bytes written to the target.
    pub bytes_written: u64,
}

/// Writes the image of `media` onto `dev` (an image file or a device of at
/// least [`IsoPlan::bytes`]), flushing at the end. Everything is planned
/// and checked before the first write; the volume descriptors and the
/// system area are written last.
pub fn write_iso_to(
    dev: &mut dyn BlockDevice,
    media: &MediaSet,
    opts: &IsoOptions,
    control: &Control,
) -> Result<IsoReport> {
    let plan = plan_iso(media, opts)?;
    write_planned(dev, media, plan, opts, control)
}

/// Writes a plan made by [`plan_iso`] (or, in tests, with small extents).
pub(crate) fn write_planned(
    dev: &mut dyn BlockDevice,
    media: &MediaSet,
    plan: IsoPlan,
    opts: &IsoOptions,
    control: &Control,
) -> Result<IsoReport> {
    if dev.len() < plan.bytes {
        return Err(Error::TargetTooSmall {
            target: dev.name().display().to_string(),
            what: format!("an ISO image of {} files", plan.files.len()),
            needed: plan.bytes,
            available: dev.len(),
        });
    }
    let cancelled = || Error::Cancelled {
        operation: CANCEL.operation,
        untouched: CANCEL.untouched,
    };
    if control.cancel.is_cancelled() {
        return Err(cancelled());
    }
    let meta = &plan.meta;
    let mut written = 0u64;

    // 1. The EFI boot image, built with dart's FAT writer in place.
    if let Some((offset, bytes)) = meta.built_efi {
        let mut region = Region::new(&mut *dev, offset, bytes)?;
        let fat_opts = FatOptions {
            label: "EFIBOOT".into(),
            timestamp: opts.timestamp,
        };
        fat::write_volume(
            &mut region,
            &media.subset(EFI_BOOT_DIR),
            &fat_opts,
            &Control {
                progress: std::sync::Arc::new(crate::progress::NoProgress),
                cancel: control.cancel.clone(),
            },
        )?;
        written += bytes;
    }

    // 2. File data.
    let patched_at = meta.patched_loader.as_ref().map(|(at, _)| *at);
    let jobs: Vec<Job> = media
        .files()
        .iter()
        .zip(&plan.files)
        .filter(|(f, p)| f.size > 0 && Some(u64::from(p.lba) * BLOCK) != patched_at)
        .map(|(f, p)| Job {
            source: media.source(f),
            name: f.path.clone(),
            size: f.size,
            runs: vec![(u64::from(p.lba) * BLOCK, f.size.next_multiple_of(BLOCK))],
        })
        .collect();
    let mut tally = Tally {
        done: 0,
        total: media.total_bytes(),
    };
    control
        .progress
        .report(Phase::WritingFiles, "", 0, tally.total);
    written += copy_files(dev, &jobs, BLOCK as u32, control, &mut tally, CANCEL)?;
    if let Some((at, bytes)) = &meta.patched_loader {
        let mut padded = bytes.clone();
        padded.resize(bytes.len().next_multiple_of(BLOCK as usize), 0);
        dev.write_at(*at, &padded)?;
        written += padded.len() as u64;
    }
    if control.cancel.is_cancelled() {
        return Err(cancelled());
    }

    // 3. Metadata: everything after the primary descriptor, the backup
    // GPT, then (after a flush) the system area and primary descriptor.
    let pvd_end = (17 * BLOCK) as usize;
    dev.write_at(pvd_end as u64, &meta.head[pvd_end..])?;
    if let Some((at, tail)) = &meta.tail {
        dev.write_at(*at, tail)?;
        written += tail.len() as u64;
    }
    dev.flush()?;
    dev.write_at(0, &meta.head[..pvd_end])?;
    dev.flush()?;
    written += meta.head.len() as u64;
    Ok(IsoReport {
        plan,
        target: dev.name().to_path_buf(),
        bytes_written: written,
    })
}

/// Writes the image of `media` to the file `out`: into a temporary file
/// beside it, renamed over `out` only when complete, so `out` holds the
/// old file or the new image, never a partial one.
///
/// ```no_run
/// use dart_core::formats::iso::{write_iso, IsoOptions};
/// use dart_core::model::media::MediaSet;
/// use dart_core::progress::Control;
/// let media = MediaSet::open("media")?;
/// let opts = IsoOptions { label: "DaRT10".into(), hybrid: true, ..IsoOptions::default() };
/// let report = write_iso(&media, "dart.iso".as_ref(), &opts, &Control::default())?;
/// print!("{}", report.plan);
/// # Ok::<(), dart_core::Error>(())
/// ```
pub fn write_iso(
    media: &MediaSet,
    out: &Path,
    opts: &IsoOptions,
    control: &Control,
) -> Result<IsoReport> {
    if out.is_dir() {
        return Err(Error::invalid(
            "output",
            out.display(),
            "it is a directory; name the ISO file to write",
        ));
    }
    check_output(out, &media.inputs())?;
    let plan = plan_iso(media, opts)?;
    // Written beside the output and renamed into place: an error, a
    // cancel or a panic leaves the old file (if any) and no partial one.
    let partial = PartialFile::beside(out)?;
    let mut dev = FileDevice::create(partial.path(), plan.bytes, 512)?;
    let mut report = write_planned(&mut dev, media, plan, opts, control)?;
    drop(dev);
    partial.commit()?;
    report.target = out.to_path_buf();
    Ok(report)
}

/// Writes the image of the media set `media` straight onto every device
/// or file in `targets` in one pass, with no intermediate file (for a
/// hybrid image: onto USB sticks). Block devices pass the safety checks and
/// every target's size is checked first; targets that held something get
/// their first and last MiB zeroed before the build, so an interrupted
/// build leaves them booting nothing. New files named in `targets` are
/// removed when the build fails. No target may be an input of the set.
pub fn write_iso_onto(
    media: &MediaSet,
    targets: &[PathBuf],
    opts: &IsoOptions,
    control: &Control,
) -> Result<IsoReport> {
    let plan = plan_iso(media, opts)?;
    let (mut mirror, planned) = crate::write::open_mirror(targets, plan.bytes, &media.inputs())?;
    let created = RemoveOnDrop::new(
        planned
            .iter()
            .filter(|t| t.created)
            .map(|t| t.path.clone())
            .collect(),
    );
    let report = write_planned(&mut mirror, media, plan, opts, control)?;
    drop(mirror);
    created.disarm();
    Ok(report)
}

/// A dry run of [`write_iso`] (`output`) or [`write_iso_onto`]
/// (`devices`): the plan, after the checks those make before their first
/// write (the output is not an input; every device is free, large enough
/// and not an input). Nothing is written.
pub fn plan_iso_to(
    media: &MediaSet,
    output: Option<&Path>,
    devices: &[PathBuf],
    opts: &IsoOptions,
) -> Result<IsoPlan> {
    let plan = plan_iso(media, opts)?;
    if let Some(out) = output {
        check_output(out, &media.inputs())?;
    }
    if !devices.is_empty() {
        crate::write::check_targets(devices, plan.bytes, &media.inputs())?;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::iso::plan::plan_with;
    use std::process::Command;

    /// A file of several extents (the limit lowered to 8 KiB so the test
    /// stays small) reads back whole through xorriso and dart's reader.
    #[test]
    fn multi_extent_files_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("media");
        std::fs::create_dir_all(media.join("efi/boot")).unwrap();
        std::fs::write(media.join("efi/boot/bootx64.efi"), b"loader").unwrap();
        let big: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(media.join("big.bin"), &big).unwrap();
        let set = MediaSet::open(&media).unwrap();
        let opts = IsoOptions {
            timestamp: Some(1_700_000_000),
            ..IsoOptions::default()
        };
        let plan = plan_with(&set, &opts, 8192).unwrap();
        let big_plan = plan.files.iter().find(|f| f.path == "big.bin").unwrap();
        assert_eq!(big_plan.extents, 3);
        let out = dir.path().join("m.iso");
        let mut dev = FileDevice::create(&out, plan.bytes, 512).unwrap();
        write_planned(&mut dev, &set, plan, &opts, &Control::default()).unwrap();
        drop(dev);
        let back = crate::formats::iso::read_iso(&out).unwrap();
        let f = back.files.iter().find(|f| f.path == "big.bin").unwrap();
        assert_eq!(f.extents.len(), 3);
        assert_eq!(f.size, big.len() as u64);
        let extracted = dir.path().join("x.bin");
        let status = Command::new("xorriso")
            .args(["-osirrox", "on", "-indev"])
            .arg(&out)
            .args(["-extract", "/big.bin"])
            .arg(&extracted)
            .output()
            .expect("xorriso (apt: xorriso)");
        assert!(status.status.success(), "{status:?}");
        assert_eq!(std::fs::read(&extracted).unwrap(), big);
    }
}
