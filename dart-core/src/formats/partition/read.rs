//! Reading a disk's partition table: [`read_disk`] finds the scheme, both
//! GPT copies and their health; [`read_layout`] gives the layout firmware
//! would use, refusing a disk whose GPT copies disagree.

use serde::Serialize;
use uuid::Uuid;

use super::gpt::{parse_entries, GptEntry, GptHeader, GptProblem, HeaderProblem};
use super::kind::{GptAttributes, PartitionKind};
use super::layout::{Layout, Partition, Scheme};
use super::mbr::{looks_like_volume_boot_record, Mbr};
use crate::disk::{read_vec, BlockDevice};
use crate::error::{Error, Result};

/// One GPT copy as found on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GptCopy {
    /// LBA of its header.
    pub header_lba: u64,
    /// The layout it describes, or why it is unusable.
    pub layout: std::result::Result<Layout, GptProblem>,
}

/// Everything read from a disk's partition table area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskState {
    /// The layout firmware would use (a valid primary GPT, else the backup;
    /// or the MBR).
    pub layout: Layout,
    /// The primary GPT copy (GPT disks).
    pub primary: Option<GptCopy>,
    /// The backup GPT copy (GPT disks).
    pub backup: Option<GptCopy>,
}

impl DiskState {
    /// Whether both GPT copies are valid and describe the same partitions
    /// (always true on MBR disks).
    pub fn copies_agree(&self) -> bool {
        match (&self.primary, &self.backup) {
            (Some(p), Some(b)) => match (&p.layout, &b.layout) {
                (Ok(p), Ok(b)) => p == b,
                _ => true,
            },
            _ => true,
        }
    }

    /// Problems to report: an invalid or missing copy.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        for (name, copy) in [("primary", &self.primary), ("backup", &self.backup)] {
            if let Some(GptCopy {
                header_lba,
                layout: Err(why),
            }) = copy
            {
                w.push(format!(
                    "the {name} GPT at LBA {header_lba} is unusable: {why}"
                ));
            }
        }
        if !self.copies_agree() {
            w.push("the primary and backup GPT describe different partitions".into());
        }
        w
    }
}

fn layout_error(dev: &dyn BlockDevice, detail: String) -> Error {
    Error::DiskLayout {
        disk: dev.name().to_path_buf(),
        detail,
    }
}

/// Reads sector 0 and, on a GPT disk, both GPT copies.
///
/// Errors: a disk without an MBR or GPT ("unknown partition scheme"), a
/// file system written straight onto the disk, or a GPT whose two copies
/// are both unusable.
pub fn read_disk(dev: &mut dyn BlockDevice) -> Result<DiskState> {
    let ss = dev.sector_size();
    if ss != 512 && ss != 4096 {
        return Err(layout_error(
            dev,
            format!("sector size {ss} is neither 512 nor 4096 bytes"),
        ));
    }
    let sectors = dev.len() / u64::from(ss);
    if sectors < 3 {
        return Err(layout_error(
            dev,
            format!("{} bytes is too small to hold a partition table", dev.len()),
        ));
    }
    let lba0 = read_vec(dev, 0, ss as usize)?;
    let Some(mbr) = Mbr::parse(&lba0) else {
        return Err(layout_error(
            dev,
            "unknown partition scheme: sector 0 holds no MBR or protective MBR (no 0x55AA signature)".into(),
        ));
    };
    if !mbr.is_protective() && looks_like_volume_boot_record(&lba0) {
        return Err(layout_error(
            dev,
            "unknown partition scheme: sector 0 is a file system boot sector (a volume without a partition table)".into(),
        ));
    }
    if !mbr.is_protective() {
        return Ok(DiskState {
            layout: mbr_layout(dev, &mbr, sectors)?,
            primary: None,
            backup: None,
        });
    }
    let primary = read_copy(dev, 1, sectors)?;
    let alt = match &primary {
        (_, Some(h)) => h.alternate_lba,
        _ => sectors - 1,
    };
    let mut backup = read_copy(dev, alt, sectors)?;
    if backup.0.layout.is_err() && alt != sectors - 1 {
        backup = read_copy(dev, sectors - 1, sectors)?;
    }
    let layout = match (&primary.0.layout, &backup.0.layout) {
        (Ok(l), _) | (Err(_), Ok(l)) => l.clone(),
        (Err(p), Err(b)) => {
            return Err(layout_error(
                dev,
                format!(
                    "corrupt GPT: the primary copy is unusable ({p}) and so is the backup ({b})"
                ),
            ))
        }
    };
    let mut layout = layout;
    layout.mbr_signature = mbr.signature;
    Ok(DiskState {
        layout,
        primary: Some(with_signature(primary.0, mbr.signature)),
        backup: Some(with_signature(backup.0, mbr.signature)),
    })
}

fn with_signature(mut copy: GptCopy, sig: u32) -> GptCopy {
    if let Ok(l) = &mut copy.layout {
        l.mbr_signature = sig;
    }
    copy
}

/// The layout firmware would use; an error when the GPT copies disagree
/// (the disk is then ambiguous and nothing should be written to it).
pub fn read_layout(dev: &mut dyn BlockDevice) -> Result<Layout> {
    let state = read_disk(dev)?;
    if !state.copies_agree() {
        return Err(layout_error(
            dev,
            "corrupt GPT: the primary and backup partition tables are both valid but describe different partitions".into(),
        ));
    }
    Ok(state.layout)
}

fn read_copy(
    dev: &mut dyn BlockDevice,
    lba: u64,
    sectors: u64,
) -> Result<(GptCopy, Option<GptHeader>)> {
    let ss = dev.sector_size();
    let sector = read_vec(dev, lba * u64::from(ss), ss as usize)?;
    let header = match GptHeader::parse(&sector, lba, sectors, ss) {
        Ok(h) => h,
        Err(HeaderProblem::NoSignature) => {
            return Ok((
                GptCopy {
                    header_lba: lba,
                    layout: Err(GptProblem::NoHeader),
                },
                None,
            ))
        }
        Err(p) => {
            return Ok((
                GptCopy {
                    header_lba: lba,
                    layout: Err(GptProblem::Header(p)),
                },
                None,
            ))
        }
    };
    let array = read_vec(
        dev,
        header.entries_lba * u64::from(ss),
        header.array_bytes() as usize,
    )?;
    let layout = if crc32fast::hash(&array) != header.entries_crc {
        Err(GptProblem::ArrayChecksum)
    } else {
        parse_entries(&array, &header)
            .and_then(|entries| gpt_layout(&header, &entries, ss, sectors))
    };
    Ok((
        GptCopy {
            header_lba: lba,
            layout,
        },
        Some(header),
    ))
}

fn gpt_layout(
    h: &GptHeader,
    entries: &[GptEntry],
    ss: u32,
    sectors: u64,
) -> std::result::Result<Layout, GptProblem> {
    let ss64 = u64::from(ss);
    let layout = Layout {
        scheme: Scheme::Gpt,
        sector_size: ss,
        disk_size: sectors * ss64,
        disk_guid: h.disk_guid,
        mbr_signature: 0,
        partitions: entries
            .iter()
            .map(|e| Partition {
                number: e.index + 1,
                kind: PartitionKind::from_gpt(e.type_guid),
                start: e.first_lba * ss64,
                size: (e.last_lba - e.first_lba + 1) * ss64,
                name: e.name.clone(),
                guid: e.unique_guid,
                attributes: GptAttributes::from_bits_retain(e.attributes),
                bootable: false,
            })
            .collect(),
    };
    let mut sorted: Vec<&Partition> = layout.partitions.iter().collect();
    sorted.sort_by_key(|p| p.start);
    for pair in sorted.windows(2) {
        if pair[1].start < pair[0].end() {
            return Err(GptProblem::Overlap(pair[0].number, pair[1].number));
        }
    }
    Ok(layout)
}

fn mbr_layout(dev: &dyn BlockDevice, mbr: &Mbr, sectors: u64) -> Result<Layout> {
    let ss = u64::from(dev.sector_size());
    let mut partitions = Vec::new();
    for (i, e) in mbr.entries.iter().enumerate() {
        if e.kind == 0 || e.sectors == 0 {
            continue;
        }
        let end = u64::from(e.first_lba) + u64::from(e.sectors);
        if e.first_lba == 0 || end > sectors {
            return Err(layout_error(
                dev,
                format!(
                    "MBR partition {} spans sectors {}..{}, outside the disk's {sectors} sectors",
                    i + 1,
                    e.first_lba,
                    end
                ),
            ));
        }
        partitions.push(Partition {
            number: i as u32 + 1,
            kind: PartitionKind::from_mbr(e.kind),
            start: u64::from(e.first_lba) * ss,
            size: u64::from(e.sectors) * ss,
            name: String::new(),
            guid: Uuid::nil(),
            attributes: GptAttributes::empty(),
            bootable: e.bootable,
        });
    }
    let mut sorted: Vec<&Partition> = partitions.iter().collect();
    sorted.sort_by_key(|p| p.start);
    for pair in sorted.windows(2) {
        if pair[1].start < pair[0].end() {
            return Err(layout_error(
                dev,
                format!(
                    "MBR partitions {} and {} overlap",
                    pair[0].number, pair[1].number
                ),
            ));
        }
    }
    Ok(Layout {
        scheme: Scheme::Mbr,
        sector_size: dev.sector_size(),
        disk_size: sectors * ss,
        disk_guid: Uuid::nil(),
        mbr_signature: mbr.signature,
        partitions,
    })
}

/// [`read_disk`] for the disk or image at `path`, opened read-only.
pub fn read_disk_at(path: &std::path::Path) -> Result<DiskState> {
    let mut dev = crate::disk::open_read(path)?;
    read_disk(&mut *dev)
}
