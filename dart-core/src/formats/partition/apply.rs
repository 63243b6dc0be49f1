//! Writing a [`Layout`] to a disk so that a crash at any point leaves a
//! disk that reads as the old layout or the new one.
//!
//! Readers (firmware, kernels, [`read_disk`]) look at sector 0 first: an MBR
//! without the 0xEE protective entry means an MBR disk, whatever GPT
//! structures lie behind it; with it, a valid primary GPT wins over the
//! backup. The write order follows from that:
//!
//! * new GPT: backup array, flush, backup header, flush, primary array,
//!   flush, primary header, flush, protective MBR, flush. Until the primary
//!   header lands, the old primary (or the old MBR) is what reads; while the
//!   primary array is half written the primary is invalid and the new backup
//!   reads; the protective MBR switches an MBR disk over in one sector.
//! * new MBR: sector 0 in one write, flush; then old GPT headers are wiped so
//!   that no tool mistakes their remains for a table.

use serde::Serialize;

use super::gpt::{entries_to_array, GptEntry, GptHeader};
use super::layout::{Layout, Scheme, GPT_ENTRIES, GPT_ENTRY_SIZE};
use super::mbr::{looks_like_volume_boot_record, Mbr, MbrEntry, BOOT_CODE_LEN};
use super::read::read_disk;
use crate::disk::{read_vec, BlockDevice};
use crate::error::{Error, Result};

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// Writes issued.
    pub writes: u32,
    /// Flushes issued.
    pub flushes: u32,
}

struct Writer<'a> {
    dev: &'a mut dyn BlockDevice,
    report: ApplyReport,
}

impl Writer<'_> {
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        self.report.writes += 1;
        self.dev.write_at(offset, data)
    }
    fn flush(&mut self) -> Result<()> {
        self.report.flushes += 1;
        self.dev.flush()
    }
}

/// Writes `layout`'s partition table to `dev`, crash-safely (see the module
/// documentation). Only the table areas are written: sector 0, the GPT
/// headers and arrays. Partition contents are never touched.
///
/// The layout must pass [`Layout::check`] and match the device's size and
/// sector size; otherwise nothing is written.
pub fn apply(dev: &mut dyn BlockDevice, layout: &Layout) -> Result<ApplyReport> {
    layout.check().map_err(|e| rename(e, dev))?;
    let ss = dev.sector_size();
    let sectors = dev.len() / u64::from(ss);
    if layout.sector_size != ss || layout.sectors() != sectors {
        return Err(Error::DiskLayout {
            disk: dev.name().to_path_buf(),
            detail: format!(
                "the layout is for {} sectors of {} bytes but the disk has {sectors} sectors of {ss} bytes",
                layout.sectors(),
                layout.sector_size
            ),
        });
    }
    let lba0 = read_vec(dev, 0, ss as usize)?;
    let boot_code = match Mbr::parse(&lba0) {
        Some(m) if !looks_like_volume_boot_record(&lba0) => m.boot_code,
        _ => vec![0; BOOT_CODE_LEN],
    };
    let old = read_disk(dev).ok();
    let mut w = Writer {
        dev,
        report: ApplyReport {
            writes: 0,
            flushes: 0,
        },
    };
    match layout.scheme {
        Scheme::Gpt => write_gpt(&mut w, layout, boot_code)?,
        Scheme::Mbr => {
            let mut mbr = Mbr::empty(layout.mbr_signature);
            mbr.boot_code = boot_code;
            for p in &layout.partitions {
                let lba = |bytes: u64| u32::try_from(bytes / u64::from(ss)).unwrap_or(u32::MAX);
                mbr.entries[(p.number - 1) as usize] = MbrEntry {
                    bootable: p.bootable,
                    kind: p.kind.mbr_type().unwrap_or(0),
                    first_lba: lba(p.start),
                    sectors: lba(p.size),
                };
            }
            w.write(0, &sector_of(&mbr.to_bytes(), ss))?;
            w.flush()?;
            if let Some(old) = old.filter(|o| o.layout.scheme == Scheme::Gpt) {
                let zero = vec![0u8; ss as usize];
                for copy in [old.primary, old.backup].into_iter().flatten() {
                    w.write(copy.header_lba * u64::from(ss), &zero)?;
                }
                w.flush()?;
            }
        }
    }
    Ok(w.report)
}

fn sector_of(bytes: &[u8; 512], ss: u32) -> Vec<u8> {
    let mut s = vec![0u8; ss as usize];
    s[..512].copy_from_slice(bytes);
    s
}

fn rename(e: Error, dev: &dyn BlockDevice) -> Error {
    match e {
        Error::DiskLayout { detail, .. } => Error::DiskLayout {
            disk: dev.name().to_path_buf(),
            detail,
        },
        other => other,
    }
}

fn write_gpt(w: &mut Writer<'_>, layout: &Layout, boot_code: Vec<u8>) -> Result<()> {
    let ss = layout.sector_size;
    let ss64 = u64::from(ss);
    let sectors = layout.sectors();
    let array_sectors = layout.gpt_array_sectors();
    let entries: Vec<GptEntry> = layout
        .partitions
        .iter()
        .map(|p| GptEntry {
            index: p.number - 1,
            type_guid: p.kind.gpt_type().unwrap_or_default(),
            unique_guid: p.guid,
            first_lba: p.start / ss64,
            last_lba: p.end() / ss64 - 1,
            attributes: p.attributes.bits(),
            name: p.name.clone(),
        })
        .collect();
    let array = entries_to_array(&entries, GPT_ENTRIES);
    let mut padded = vec![0u8; (array_sectors * ss64) as usize];
    padded[..array.len()].copy_from_slice(&array);
    let last = sectors - 1;
    let primary = GptHeader {
        my_lba: 1,
        alternate_lba: last,
        first_usable: layout.first_usable() / ss64,
        last_usable: layout.usable_end() / ss64 - 1,
        disk_guid: layout.disk_guid,
        entries_lba: 2,
        num_entries: GPT_ENTRIES,
        entry_size: GPT_ENTRY_SIZE,
        entries_crc: crc32fast::hash(&array),
    };
    let backup = GptHeader {
        my_lba: last,
        alternate_lba: 1,
        entries_lba: last - array_sectors,
        ..primary.clone()
    };
    w.write(backup.entries_lba * ss64, &padded)?;
    w.flush()?;
    w.write(last * ss64, &backup.to_sector(ss))?;
    w.flush()?;
    w.write(2 * ss64, &padded)?;
    w.flush()?;
    w.write(ss64, &primary.to_sector(ss))?;
    w.flush()?;
    let mbr = Mbr::protective(sectors, boot_code, layout.mbr_signature);
    w.write(0, &sector_of(&mbr.to_bytes(), ss))?;
    w.flush()
}
