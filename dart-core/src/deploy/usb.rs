//! A bootable USB stick (or USB disk image) from a media set.
//!
//! Two layouts: MBR with one active FAT32 partition (type 0x0C), which UEFI
//! firmware boots from `efi/boot/boot*.efi` and BIOS firmware through the
//! volume's boot code; or GPT with one FAT32 EFI System Partition. The stick
//! may carry loaders for several architectures (`bootia32.efi` and
//! `bootx64.efi` side by side). The file system is written first and the
//! partition table last, so an interrupted write leaves the old table.
//!
//! ```no_run
//! use dart_core::deploy::usb::{write_usb, UsbOptions};
//! use dart_core::disk::FileDevice;
//! use dart_core::model::media::MediaSet;
//! use dart_core::progress::Control;
//! let media = MediaSet::from_dir("media")?;
//! let mut image = FileDevice::create("usb.img", 512 << 20, 512)?;
//! let report = write_usb(&mut image, &media, &UsbOptions::default(), &Control::default())?;
//! println!("{}", report.layout);
//! # Ok::<(), dart_core::Error>(())
//! ```

use serde::Serialize;

use crate::disk::{BlockDevice, Region};
use crate::error::{Error, Result};
use crate::formats::fat::{self, FatOptions, FatReport};
use crate::formats::partition::{apply, Layout, PartitionKind, Scheme, MIB};
use crate::model::media::MediaSet;
use crate::progress::Control;

/// How to lay out the stick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsbOptions {
    /// MBR (default: boots BIOS and UEFI machines) or GPT (UEFI only).
    pub scheme: Scheme,
    /// FAT volume label (at most 11 characters).
    pub label: String,
    /// Deterministic mode: every timestamp and identifier derives from this
    /// Unix time, so the same inputs give the same bytes.
    pub timestamp: Option<u64>,
}

impl Default for UsbOptions {
    fn default() -> Self {
        UsbOptions {
            scheme: Scheme::Mbr,
            label: "DART".into(),
            timestamp: None,
        }
    }
}

/// What [`write_usb`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct UsbReport {
    /// The partition table written.
    pub layout: Layout,
    /// The file system written.
    pub fat: FatReport,
}

/// The layout [`write_usb`] would write on a target of `disk_size` bytes;
/// an error, naming `target`, when the media do not fit.
pub fn plan_usb(
    target: &str,
    disk_size: u64,
    sector_size: u32,
    media: &MediaSet,
    opts: &UsbOptions,
) -> Result<Layout> {
    fat::check_media(media)?;
    if media.uefi_architectures().is_empty() && media.find("bootmgr").is_none() {
        return Err(Error::MissingMediaFile {
            root: media.root().to_path_buf(),
            file: "efi/boot/bootx64.efi (or another UEFI loader, or bootmgr)".into(),
            needed_for: "a bootable USB stick".into(),
        });
    }
    let mut layout = Layout::new(opts.scheme, disk_size, sector_size);
    if let Some(ts) = opts.timestamp {
        let seed = [ts.to_le_bytes().as_slice(), opts.label.as_bytes()].concat();
        layout.disk_guid = match opts.scheme {
            Scheme::Gpt => crate::formats::partition::derived_guid(&seed, "disk"),
            Scheme::Mbr => layout.disk_guid,
        };
        let sig = crate::formats::partition::derived_guid(&seed, "mbr").as_bytes()[..4].to_vec();
        layout.mbr_signature = u32::from_le_bytes([sig[0], sig[1], sig[2], sig[3]]);
    }
    let content = fat::volume_size_for(media, sector_size);
    let available = layout.usable_end().saturating_sub(MIB) / MIB * MIB;
    let needed_disk = content + 2 * MIB;
    if available < content {
        return Err(Error::TargetTooSmall {
            target: target.to_string(),
            what: format!(
                "{} files of media on FAT32 plus the partition table",
                media.files().len()
            ),
            needed: needed_disk,
            available: disk_size,
        });
    }
    let kind = match opts.scheme {
        Scheme::Mbr => PartitionKind::Fat32,
        Scheme::Gpt => PartitionKind::EfiSystem,
    };
    layout.add(kind, available, &opts.label)?;
    if let Some(p) = layout.partitions.first_mut() {
        p.bootable = opts.scheme == Scheme::Mbr;
        if let (Some(ts), Scheme::Gpt) = (opts.timestamp, opts.scheme) {
            p.guid = crate::formats::partition::derived_guid(&ts.to_le_bytes(), "partition");
        }
    }
    Ok(layout)
}

/// Writes a bootable stick: FAT32 volume first, then the partition table.
/// Everything is checked before the first write.
pub fn write_usb(
    dev: &mut dyn BlockDevice,
    media: &MediaSet,
    opts: &UsbOptions,
    control: &Control,
) -> Result<UsbReport> {
    let name = dev.name().display().to_string();
    let layout = plan_usb(&name, dev.len(), dev.sector_size(), media, opts)?;
    let fat_opts = FatOptions {
        label: opts.label.clone(),
        timestamp: opts.timestamp,
    };
    let Some(part) = layout.partitions.first() else {
        return Err(Error::DiskLayout {
            disk: dev.name().to_path_buf(),
            detail: "the planned layout has no partition".into(),
        });
    };
    let fat = {
        let mut region = Region::new(&mut *dev, part.start, part.size)?;
        fat::write_volume(&mut region, media, &fat_opts, control)?
    };
    apply(dev, &layout)?;
    Ok(UsbReport { layout, fat })
}

/// [`write_usb`] onto the device or image file at `target`: an existing
/// block device or image, or a new image of `create_len` bytes (removed
/// again when the write fails). Block devices pass the safety checks of
/// [`crate::disk::safety`] first.
pub fn write_usb_to(
    target: &std::path::Path,
    create_len: Option<u64>,
    media: impl Into<super::MediumSpec>,
    opts: &UsbOptions,
    control: &Control,
) -> Result<UsbReport> {
    let medium = media.into().prepare()?;
    let media = &medium.set;
    crate::disk::inputs::check_output(target, &medium.inputs())?;
    // Check what can be checked before a file is created.
    if let Some(len) = create_len {
        plan_usb(&target.display().to_string(), len, 512, media, opts)?;
    }
    let Some(len) = create_len else {
        let mut dev = crate::disk::open_target(target, &crate::disk::TargetSpec::default())?;
        return write_usb(&mut *dev, media, opts, control);
    };
    // A new image: written beside the target and renamed into place, so an
    // error, a cancel or a panic leaves what was there (or nothing).
    if crate::disk::names_a_device(target) || crate::disk::safety::is_block_device(target) {
        return Err(Error::invalid(
            "size",
            len,
            format!(
                "{} names a device, whose size is fixed; give no size to write to it",
                target.display()
            ),
        ));
    }
    if target.exists() {
        crate::disk::safety::check_writable(target)?;
    }
    let partial = crate::disk::partial::PartialFile::beside(target)?;
    let spec = crate::disk::TargetSpec {
        create_len: Some(len),
        ..crate::disk::TargetSpec::default()
    };
    let mut dev = crate::disk::open_target(partial.path(), &spec)?;
    let report = write_usb(&mut *dev, media, opts, control)?;
    drop(dev);
    partial.commit()?;
    Ok(report)
}
