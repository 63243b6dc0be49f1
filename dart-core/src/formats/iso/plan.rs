//! Planning an ISO image: every block placed before a byte is written.
//!
//! [`plan_iso`] lays out the volume as plain data: the descriptors, boot
//! catalog, path tables and directories (built here, in memory: they grow
//! with the number of files, not their size), then the EFI boot image and
//! the file extents, then the backup GPT of a hybrid image. The writer only
//! streams file data into the places the plan gives.
//!
//! Block order: 0-15 system area (hybrid MBR + GPT), 16 primary descriptor,
//! 17 El Torito boot record, 18 Joliet descriptor, 19 terminator, 20 boot
//! catalog, path tables, ISO 9660 directories, Joliet directories, EFI
//! image (when built), files in path order, backup GPT (hybrid).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::media::{MediaFile, MediaSet};

use super::el_torito::{self, BootImage, BIOS_LOAD_SECTORS, PLATFORM_BIOS};
use super::hybrid::{self, TAIL_BLOCKS};
use super::names::{iso_order, name_entries};
use super::record::{
    path_record, path_record_size, DirRecord, Timestamp, BLOCK, FLAG_DIRECTORY, FLAG_MULTI_EXTENT,
};
use super::volume::{self, Hierarchy, VolumeInfo};

/// The largest extent: 4 GiB less one block. Larger files are recorded as
/// several extents (multi-extent files, ECMA-119 6.5.1).
pub const MAX_EXTENT: u64 = 0xFFFF_F800;
/// The largest BIOS loader patched with a boot-info-table (read whole).
pub const MAX_PATCHED_LOADER: u64 = 1 << 20;
/// Where BIOS loaders are looked for, in order, when none is named.
pub const BIOS_LOADERS: [&str; 4] = [
    "boot/etfsboot.com",
    "isolinux/isolinux.bin",
    "boot/isolinux/isolinux.bin",
    "isolinux.bin",
];
/// A ready FAT image for the UEFI entry, used when the media has one.
pub const EFISYS: &str = "efi/microsoft/boot/efisys.bin";
/// The directory whose files go into a built UEFI boot image.
pub const EFI_BOOT_DIR: &str = "efi/boot/";
/// Longest volume label.
pub const MAX_LABEL: usize = 32;

/// How an ISO image is written.
///
/// ```
/// use dart_core::formats::iso::IsoOptions;
/// let opts = IsoOptions { label: "DaRT10".into(), hybrid: true, ..IsoOptions::default() };
/// assert!(opts.boot_info_table.is_none()); // decided by the loader's name
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IsoOptions {
    /// Volume label: at most 32 characters. The ISO 9660 label is its
    /// upper-case d-character form, the Joliet label its first 16
    /// characters as given.
    pub label: String,
    /// Also write an MBR and a GPT pointing at the EFI boot image, so the
    /// file boots when written raw to a USB stick.
    pub hybrid: bool,
    /// Patch a boot-info-table into the BIOS loader (isolinux needs it,
    /// `etfsboot.com` must not have it). `None`: only when the loader is
    /// named `isolinux.bin`.
    pub boot_info_table: Option<bool>,
    /// The BIOS loader's path in the media; `None` takes the first of
    /// [`BIOS_LOADERS`] present. Media without one get no BIOS entry.
    pub bios_loader: Option<String>,
    /// Deterministic mode: `Some(unix seconds)` stamps every record with
    /// this time and derives every identifier from it, so equal inputs
    /// give byte-identical images. `None` uses the current time.
    pub timestamp: Option<u64>,
}

impl Default for IsoOptions {
    fn default() -> Self {
        IsoOptions {
            label: "DART".into(),
            hybrid: false,
            boot_info_table: None,
            bios_loader: None,
            timestamp: None,
        }
    }
}

/// Where the UEFI boot image comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EfiImage {
    /// A FAT image in the media (`efi/microsoft/boot/efisys.bin`), used as
    /// it is.
    Media(String),
    /// Built by dart's FAT writer from the media's `efi/boot/` files.
    Built {
        /// The files copied into it.
        files: Vec<String>,
    },
}

/// A planned El Torito entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedBoot {
    /// `bios` or `uefi`.
    pub platform: String,
    /// The loader or FAT image (`(built)` for a built EFI image).
    pub image: String,
    /// First block.
    pub lba: u32,
    /// Bytes.
    pub bytes: u64,
    /// 512-byte sectors the firmware loads.
    pub load_sectors: u16,
    /// Whether a boot-info-table is patched in.
    pub boot_info_table: bool,
}

/// A planned file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedFile {
    /// Path in the media.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// First block (0 for empty files).
    pub lba: u32,
    /// Extents it is recorded as (more than one from 4 GiB).
    pub extents: u32,
}

/// An ISO image laid out block by block; print it with `{}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsoPlan {
    /// The volume label as given.
    pub label: String,
    /// Bytes of the image.
    pub bytes: u64,
    /// El Torito entries, the default first.
    pub boot: Vec<PlannedBoot>,
    /// The UEFI image's source.
    pub efi: Option<EfiImage>,
    /// Whether MBR + GPT are written.
    pub hybrid: bool,
    /// Directories (including the root).
    pub directories: usize,
    /// Files, in the order their data is written.
    pub files: Vec<PlannedFile>,
    /// Everything but file data, in memory.
    #[serde(skip)]
    pub(crate) meta: Metadata,
}

/// The bytes the writer places besides file data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Metadata {
    /// Blocks 0..meta_blocks: system area, descriptors, catalog, path
    /// tables, directories.
    pub head: Vec<u8>,
    /// The patched BIOS loader and its byte offset, when patched.
    pub patched_loader: Option<(u64, Vec<u8>)>,
    /// Where a built EFI image goes: byte offset and bytes.
    pub built_efi: Option<(u64, u64)>,
    /// The hybrid backup GPT and its byte offset.
    pub tail: Option<(u64, Vec<u8>)>,
}

impl fmt::Display for IsoPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "ISO 9660 + Joliet image {:?}: {} bytes ({} blocks), {} files in {} directories{}",
            self.label,
            self.bytes,
            self.bytes / BLOCK,
            self.files.len(),
            self.directories,
            if self.hybrid {
                ", hybrid MBR + GPT"
            } else {
                ""
            }
        )?;
        for b in &self.boot {
            writeln!(
                f,
                "  El Torito {:4}: {} at block {}, {} bytes, loads {} sectors{}",
                b.platform,
                b.image,
                b.lba,
                b.bytes,
                b.load_sectors,
                if b.boot_info_table {
                    ", boot-info-table"
                } else {
                    ""
                }
            )?;
        }
        Ok(())
    }
}

/// One directory of the tree.
#[derive(Debug, Default)]
struct Dir {
    name: String,
    parent: usize,
    depth: usize,
    dirs: Vec<usize>,
    files: Vec<usize>,
}

/// A child record to place in a directory: name bytes and target.
struct Child {
    name: Vec<u8>,
    target: Target,
}

#[derive(Clone, Copy)]
enum Target {
    Dir(usize),
    File(usize),
}

/// Plans an image of `media`; the error names the bad option or file.
///
/// ```no_run
/// use dart_core::formats::iso::{plan_iso, IsoOptions};
/// use dart_core::model::media::MediaSet;
/// let media = MediaSet::open("media")?;
/// print!("{}", plan_iso(&media, &IsoOptions::default())?);
/// # Ok::<(), dart_core::Error>(())
/// ```
pub fn plan_iso(media: &MediaSet, opts: &IsoOptions) -> Result<IsoPlan> {
    plan_with(media, opts, MAX_EXTENT)
}

pub(crate) fn plan_with(media: &MediaSet, opts: &IsoOptions, max_extent: u64) -> Result<IsoPlan> {
    if opts.label.chars().count() > MAX_LABEL {
        return Err(Error::invalid(
            "volume label",
            &opts.label,
            format!("an ISO volume label has at most {MAX_LABEL} characters"),
        ));
    }
    let files = media.files();
    let time = Timestamp::from_unix(opts.timestamp.unwrap_or_else(now));

    // Boot images.
    let bios = match &opts.bios_loader {
        Some(p) => Some(media.find(p).ok_or_else(|| Error::MissingMediaFile {
            root: media.root().to_path_buf(),
            file: p.clone(),
            needed_for: "the BIOS El Torito entry".into(),
        })?),
        None => BIOS_LOADERS.iter().find_map(|p| media.find(p)),
    };
    let patch = bios.is_some_and(|f| {
        opts.boot_info_table
            .unwrap_or_else(|| f.path.to_ascii_lowercase().ends_with("isolinux.bin"))
    });
    if let Some(f) = bios.filter(|f| f.size == 0 || (patch && f.size > MAX_PATCHED_LOADER)) {
        return Err(Error::invalid(
            "BIOS loader",
            &f.path,
            format!(
                "a loader must hold 1 to {MAX_PATCHED_LOADER} bytes to take a boot-info-table, and at least 1 byte in any case; it holds {}",
                f.size
            ),
        ));
    }
    let efi = if let Some(f) = media.find(EFISYS) {
        Some(EfiImage::Media(f.path.clone()))
    } else {
        let sub = media.subset(EFI_BOOT_DIR);
        let names: Vec<String> = sub.files().iter().map(|f| f.path.clone()).collect();
        (!names.is_empty()).then_some(EfiImage::Built { files: names })
    };
    if bios.is_none() && efi.is_none() {
        return Err(Error::MissingMediaFile {
            root: media.root().to_path_buf(),
            file: format!("{} or {EFI_BOOT_DIR}*.efi", BIOS_LOADERS[0]),
            needed_for: "a bootable ISO image".into(),
        });
    }
    let built_efi_bytes = match &efi {
        Some(EfiImage::Built { .. }) => {
            crate::formats::fat::volume_size_for(&media.subset(EFI_BOOT_DIR), 512)
        }
        _ => 0,
    };

    // The directory tree.
    let mut dirs = vec![Dir::default()];
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (fi, f) in files.iter().enumerate() {
        let mut parent = 0;
        let mut key = String::new();
        let parts: Vec<&str> = f.path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            key.push_str(&part.to_lowercase());
            key.push('/');
            parent = match index.get(&key) {
                Some(&d) => d,
                None => {
                    let d = dirs.len();
                    dirs.push(Dir {
                        name: part.to_string(),
                        parent,
                        depth: dirs[parent].depth + 1,
                        ..Dir::default()
                    });
                    dirs[parent].dirs.push(d);
                    index.insert(key.clone(), d);
                    d
                }
            };
        }
        dirs[parent].files.push(fi);
    }
    let extents_of = |f: &MediaFile| f.size.div_ceil(max_extent).max(1);

    // Names and sorted children per directory, for both hierarchies.
    let mut iso_children: Vec<Vec<Child>> = Vec::with_capacity(dirs.len());
    let mut joliet_children: Vec<Vec<Child>> = Vec::with_capacity(dirs.len());
    for d in &dirs {
        let mut entries: Vec<(&str, bool)> = Vec::new();
        let mut targets = Vec::new();
        for &sub in &d.dirs {
            entries.push((dirs[sub].name.as_str(), true));
            targets.push(Target::Dir(sub));
        }
        for &fi in &d.files {
            let name = files[fi].path.rsplit('/').next().unwrap_or(&files[fi].path);
            entries.push((name, false));
            targets.push(Target::File(fi));
        }
        let names = name_entries(&entries);
        let mut iso: Vec<Child> = Vec::new();
        let mut jol: Vec<Child> = Vec::new();
        for (n, t) in names.into_iter().zip(targets) {
            iso.push(Child {
                name: n.iso,
                target: t,
            });
            jol.push(Child {
                name: n.joliet,
                target: t,
            });
        }
        iso.sort_by(|a, b| iso_order(&a.name, &b.name));
        jol.sort_by(|a, b| a.name.cmp(&b.name));
        iso_children.push(iso);
        joliet_children.push(jol);
    }
    let dir_bytes = |children: &[Child]| -> u64 {
        let mut used = 0u64; // bytes used in the current block
        let mut blocks = 1u64;
        let mut add = |size: u64| {
            if used + size > BLOCK {
                blocks += 1;
                used = 0;
            }
            used += size;
        };
        add(34);
        add(34);
        for c in children {
            let n = match c.target {
                Target::File(fi) => extents_of(files[fi]),
                Target::Dir(_) => 1,
            };
            for _ in 0..n {
                add(DirRecord::size(c.name.len()) as u64);
            }
        }
        blocks * BLOCK
    };

    // Path table order: breadth first, children by identifier.
    let order = |children: &[Vec<Child>]| -> Vec<usize> {
        let mut out = vec![0usize];
        let mut i = 0;
        while i < out.len() {
            let d = out[i];
            out.extend(children[d].iter().filter_map(|c| match c.target {
                Target::Dir(sub) => Some(sub),
                Target::File(_) => None,
            }));
            i += 1;
        }
        out
    };
    let iso_order_dirs = order(&iso_children);
    let joliet_order_dirs = order(&joliet_children);
    let name_of = |children: &[Vec<Child>], d: usize| -> Vec<u8> {
        if d == 0 {
            return vec![0];
        }
        let p = dirs[d].parent;
        children[p]
            .iter()
            .find(|c| matches!(c.target, Target::Dir(x) if x == d))
            .map(|c| c.name.clone())
            .unwrap_or_default()
    };
    let table_len = |children: &[Vec<Child>], ord: &[usize]| -> u64 {
        ord.iter()
            .map(|&d| path_record_size(name_of(children, d).len()) as u64)
            .sum()
    };
    let iso_table = table_len(&iso_children, &iso_order_dirs);
    let joliet_table = table_len(&joliet_children, &joliet_order_dirs);
    if iso_table > u64::from(u32::MAX) || dirs.len() > usize::from(u16::MAX) {
        return Err(Error::invalid(
            "media",
            media.root().display(),
            format!(
                "{} directories are more than an ISO 9660 path table holds (65535)",
                dirs.len()
            ),
        ));
    }

    // Blocks.
    let mut alloc = Blocks(20);
    let catalog_lba = alloc.take(BLOCK);
    let mut take = |bytes: u64| alloc.take(bytes);
    let tables = [
        take(iso_table),
        take(iso_table),
        take(joliet_table),
        take(joliet_table),
    ];
    let iso_dir_lba: Vec<(u64, u64)> = (0..dirs.len())
        .map(|d| {
            let len = dir_bytes(&iso_children[d]);
            (take(len), len)
        })
        .collect();
    let joliet_dir_lba: Vec<(u64, u64)> = (0..dirs.len())
        .map(|d| {
            let len = dir_bytes(&joliet_children[d]);
            (take(len), len)
        })
        .collect();
    let meta_blocks = alloc.0;
    let mut take = |bytes: u64| alloc.take(bytes);
    let built_efi_lba = (built_efi_bytes > 0).then(|| take(built_efi_bytes));
    let file_lba: Vec<u64> = files
        .iter()
        .map(|f| if f.size == 0 { 0 } else { take(f.size) })
        .collect();
    let tail_lba = opts.hybrid.then(|| take(TAIL_BLOCKS * BLOCK));
    let blocks = alloc.0;
    if blocks > u64::from(u32::MAX) {
        return Err(Error::invalid(
            "media",
            media.root().display(),
            "the image would exceed the 8 TiB an ISO 9660 volume addresses",
        ));
    }
    let lba32 = |b: u64| b as u32;

    // Boot entries.
    let file_index = |f: &MediaFile| files.iter().position(|x| x.path == f.path);
    let mut boot = Vec::new();
    let mut images = Vec::new();
    let mut patched_loader = None;
    if let Some(f) = bios {
        let lba = file_index(f).map_or(0, |i| file_lba[i]);
        images.push(BootImage {
            platform: PLATFORM_BIOS,
            lba: lba32(lba),
            sectors: BIOS_LOAD_SECTORS,
        });
        boot.push(PlannedBoot {
            platform: "bios".into(),
            image: f.path.clone(),
            lba: lba32(lba),
            bytes: f.size,
            load_sectors: BIOS_LOAD_SECTORS,
            boot_info_table: patch,
        });
        if patch {
            let mut bytes = media.source(f).read_all()?;
            el_torito::patch_boot_info_table(&mut bytes, 16, lba32(lba));
            patched_loader = Some((lba * BLOCK, bytes));
        }
    }
    let efi_place = match &efi {
        Some(EfiImage::Media(p)) => media
            .find(p)
            .and_then(|f| file_index(f).map(|i| (file_lba[i], f.size, f.path.clone()))),
        Some(EfiImage::Built { .. }) => {
            built_efi_lba.map(|l| (l, built_efi_bytes, "(built from efi/boot)".to_string()))
        }
        None => None,
    };
    if let Some((lba, bytes, image)) = &efi_place {
        let entry = BootImage::uefi(lba32(*lba), *bytes);
        images.push(entry);
        boot.push(PlannedBoot {
            platform: "uefi".into(),
            image: image.clone(),
            lba: entry.lba,
            bytes: *bytes,
            load_sectors: entry.sectors,
            boot_info_table: false,
        });
    }

    // Directory extents.
    let record_time = time.record_bytes();
    let write_dir = |children: &[Vec<Child>], places: &[(u64, u64)], d: usize| -> Vec<u8> {
        let mut out = Vec::with_capacity(places[d].1 as usize);
        let put = |out: &mut Vec<u8>, rec: DirRecord<'_>| {
            let size = DirRecord::size(rec.name.len());
            let used = out.len() % BLOCK as usize;
            if used + size > BLOCK as usize {
                out.resize(out.len() + BLOCK as usize - used, 0);
            }
            rec.write(out);
        };
        let me = places[d];
        let parent = places[dirs[d].parent];
        for (name, (lba, len)) in [(0u8, me), (1u8, parent)] {
            put(
                &mut out,
                DirRecord {
                    lba: lba32(lba),
                    len: len as u32,
                    time: record_time,
                    flags: FLAG_DIRECTORY,
                    name: &[name],
                },
            );
        }
        for c in &children[d] {
            match c.target {
                Target::Dir(sub) => put(
                    &mut out,
                    DirRecord {
                        lba: lba32(places[sub].0),
                        len: places[sub].1 as u32,
                        time: record_time,
                        flags: FLAG_DIRECTORY,
                        name: &c.name,
                    },
                ),
                Target::File(fi) => {
                    let size = files[fi].size;
                    let n = extents_of(files[fi]);
                    for e in 0..n {
                        let start = e * max_extent;
                        let len = (size - start.min(size)).min(max_extent);
                        put(
                            &mut out,
                            DirRecord {
                                lba: lba32(file_lba[fi] + start / BLOCK),
                                len: len as u32,
                                time: record_time,
                                flags: if e + 1 < n { FLAG_MULTI_EXTENT } else { 0 },
                                name: &c.name,
                            },
                        );
                    }
                }
            }
        }
        out.resize(me.1 as usize, 0);
        out
    };
    let path_table = |children: &[Vec<Child>], ord: &[usize], places: &[(u64, u64)], be: bool| {
        let number: BTreeMap<usize, u16> = ord
            .iter()
            .enumerate()
            .map(|(i, &d)| (d, (i + 1) as u16))
            .collect();
        let mut out = Vec::new();
        for &d in ord {
            let parent = number.get(&dirs[d].parent).copied().unwrap_or(1);
            path_record(
                &mut out,
                &name_of(children, d),
                lba32(places[d].0),
                parent,
                be,
            );
        }
        out
    };

    let mut head = vec![0u8; (meta_blocks * BLOCK) as usize];
    let mut place = |lba: u64, bytes: &[u8]| {
        let at = (lba * BLOCK) as usize;
        head[at..at + bytes.len()].copy_from_slice(bytes);
    };
    let info = VolumeInfo {
        label: opts.label.clone(),
        blocks: lba32(blocks),
        time,
    };
    let iso_h = Hierarchy {
        root_lba: lba32(iso_dir_lba[0].0),
        root_len: iso_dir_lba[0].1 as u32,
        path_table_len: iso_table as u32,
        l_table: lba32(tables[0]),
        m_table: lba32(tables[1]),
    };
    let joliet_h = Hierarchy {
        root_lba: lba32(joliet_dir_lba[0].0),
        root_len: joliet_dir_lba[0].1 as u32,
        path_table_len: joliet_table as u32,
        l_table: lba32(tables[2]),
        m_table: lba32(tables[3]),
    };
    place(16, &volume::descriptor(&info, &iso_h, false));
    place(17, &el_torito::boot_record(lba32(catalog_lba)));
    place(18, &volume::descriptor(&info, &joliet_h, true));
    place(19, &volume::terminator());
    place(catalog_lba, &el_torito::catalog(&images));
    let hierarchies = [
        (&iso_children, &iso_order_dirs, &iso_dir_lba),
        (&joliet_children, &joliet_order_dirs, &joliet_dir_lba),
    ];
    for (i, (children, ord, places)) in hierarchies.iter().enumerate() {
        place(tables[2 * i], &path_table(children, ord, places, false));
        place(tables[2 * i + 1], &path_table(children, ord, places, true));
    }
    for d in 0..dirs.len() {
        place(iso_dir_lba[d].0, &write_dir(&iso_children, &iso_dir_lba, d));
        place(
            joliet_dir_lba[d].0,
            &write_dir(&joliet_children, &joliet_dir_lba, d),
        );
    }
    let bytes = blocks * BLOCK;
    let seed = identity_seed(opts, bytes, &files);
    let tail = match (tail_lba, &efi_place) {
        (Some(tl), Some((efi_lba, efi_bytes, _))) => {
            let t = hybrid::tables(bytes, efi_lba * BLOCK, *efi_bytes, &seed);
            head[..t.head.len()].copy_from_slice(&t.head);
            Some((tl * BLOCK + TAIL_BLOCKS * BLOCK - t.tail.len() as u64, t.tail))
        }
        (Some(_), None) => {
            return Err(Error::invalid(
                "hybrid",
                "true",
                format!(
                    "a hybrid image boots from its EFI image, and the media has neither {EFISYS} nor files in {EFI_BOOT_DIR}"
                ),
            ))
        }
        _ => None,
    };

    Ok(IsoPlan {
        label: opts.label.clone(),
        bytes,
        boot,
        efi,
        hybrid: opts.hybrid,
        directories: dirs.len(),
        files: files
            .iter()
            .zip(&file_lba)
            .map(|(f, &lba)| PlannedFile {
                path: f.path.clone(),
                size: f.size,
                lba: lba32(lba),
                extents: extents_of(f) as u32,
            })
            .collect(),
        meta: Metadata {
            head,
            patched_loader,
            built_efi: built_efi_lba.map(|l| (l * BLOCK, built_efi_bytes)),
            tail,
        },
    })
}

/// The next free block.
struct Blocks(u64);

impl Blocks {
    /// Takes the blocks `bytes` need; returns the first.
    fn take(&mut self, bytes: u64) -> u64 {
        let at = self.0;
        self.0 += bytes.div_ceil(BLOCK);
        at
    }
}

/// Seed for the hybrid tables' GUIDs: the timestamp and the file list, so
/// equal inputs give equal identifiers.
fn identity_seed(opts: &IsoOptions, bytes: u64, files: &[&MediaFile]) -> Vec<u8> {
    let mut seed = opts.timestamp.unwrap_or_else(now).to_le_bytes().to_vec();
    seed.extend_from_slice(&bytes.to_le_bytes());
    seed.extend_from_slice(opts.label.as_bytes());
    for f in files {
        seed.extend_from_slice(f.path.as_bytes());
        seed.extend_from_slice(&f.size.to_le_bytes());
    }
    seed
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
