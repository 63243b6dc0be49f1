//! Reading the directory tree of an existing ISO 9660 image, so that the
//! image can serve as a media source without being extracted.
//!
//! The reader understands ISO 9660 (ECMA-119) with 2048-byte blocks, the
//! Joliet supplementary tree, Rock Ridge `NM` names (with SUSP continuation
//! areas and deep-directory relocation through `CL`/`RE`), multi-extent
//! files, and the El Torito boot catalog. It returns, for every file, the
//! byte ranges ([`Extent`]s) that hold the file's data, so a caller reads a
//! file by seeking the image itself.
//!
//! Hidden files are listed like any other; associated files (flag 0x04) are
//! skipped, and so are Rock Ridge symbolic links, devices, FIFOs and sockets.
//!
//! Every structure read from the image is checked before it is used: a
//! directory extent may be at most 64 MiB, an image may list at most
//! 1,000,000 entries nested at most 64 deep, a path may be at most 4096
//! bytes, every extent must lie inside the image (the image may be shorter
//! than its recorded volume size as long as it holds every extent used), and
//! a directory that points back at one already read is refused. Damaged or
//! unsupported images give [`Error::BadIso`].

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{Error, Result};

/// The logical block (sector) size the reader supports.
const SECTOR: u64 = 2048;
/// The sector of the first volume descriptor.
const FIRST_DESCRIPTOR: u64 = 16;
/// How many volume descriptors are looked at before giving up on a terminator.
const MAX_DESCRIPTORS: u64 = 64;
/// The largest directory extent read.
const MAX_DIR_BYTES: u64 = 64 << 20;
/// The most files and directories an image may list.
const MAX_ENTRIES: usize = 1_000_000;
/// The deepest directory nesting followed.
const MAX_DEPTH: usize = 64;
/// The longest path, in bytes.
const MAX_PATH: usize = 4096;
/// The most bytes all paths together may take.
const MAX_TOTAL_PATH_BYTES: usize = 256 << 20;
/// The longest Rock Ridge name, in bytes.
const MAX_NAME: usize = 1024;
/// How many SUSP continuation areas one record may chain.
const MAX_CONTINUATIONS: usize = 16;
/// The largest SUSP continuation area.
const MAX_CONTINUATION_LEN: u64 = 64 << 10;
/// How many sectors of the El Torito boot catalog are read.
const MAX_CATALOG_SECTORS: u64 = 32;
/// The smallest directory record: 33 fixed bytes and a 1-byte identifier.
const MIN_RECORD: usize = 34;

/// Directory record flag: the entry is a directory.
const FLAG_DIRECTORY: u8 = 0x02;
/// Directory record flag: the entry is an associated file (skipped).
const FLAG_ASSOCIATED: u8 = 0x04;
/// Directory record flag: more extent records of this file follow.
const FLAG_MULTI_EXTENT: u8 = 0x80;

/// One byte range of a file inside the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Extent {
    /// Byte offset in the image.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
}

/// A file found in an ISO image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IsoFile {
    /// `/`-separated path relative to the image root, without a leading `/`.
    pub path: String,
    /// The file's size in bytes.
    pub size: u64,
    /// Where the data lies, in file order; the lengths add up to `size`.
    /// Empty for an empty file.
    pub extents: Vec<Extent>,
}

/// Which names the reader used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum NameSource {
    /// The Joliet supplementary tree (UCS-2 names, case preserved).
    Joliet,
    /// Rock Ridge `NM` names of the ISO 9660 tree.
    RockRidge,
    /// Plain ISO 9660 identifiers, with the `;1` version and a trailing `.`
    /// removed; case is kept as recorded.
    Iso9660,
}

/// An El Torito boot catalog entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BootEntry {
    /// Platform id: 0 = x86 BIOS, 0xEF = UEFI.
    pub platform: u8,
    /// Whether the entry is marked bootable (boot indicator 0x88).
    pub bootable: bool,
    /// Emulation type: 0 = no emulation, 1..=3 floppy, 4 = hard disk.
    pub media_type: u8,
    /// Load segment (0 means the BIOS default 0x7C0).
    pub load_segment: u16,
    /// Number of 512-byte virtual sectors loaded.
    pub sector_count: u16,
    /// Logical block (2048 bytes) where the boot image starts.
    pub load_rba: u32,
}

/// What an ISO image holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IsoContents {
    /// The volume identifier (from the Joliet descriptor when Joliet names
    /// are used and it has one, else from the primary descriptor), without
    /// trailing spaces.
    pub volume_id: String,
    /// Which names the paths come from.
    pub names: NameSource,
    /// Every file, sorted by path.
    pub files: Vec<IsoFile>,
    /// Every directory except the root, as `/`-separated relative paths,
    /// sorted.
    pub directories: Vec<String>,
    /// The El Torito boot entries, in catalog order. Empty when the image has
    /// no boot catalog, and also when the catalog is damaged (a broken catalog
    /// does not stop the files from being read).
    pub boot_entries: Vec<BootEntry>,
    /// The volume size recorded in the primary descriptor, in bytes. The file
    /// may be longer (hybrid images are often padded) or shorter (the reader
    /// only needs the extents it uses to be present).
    pub volume_bytes: u64,
}

/// Reads the directory tree of the ISO image at `path` (opened read-only).
///
/// Joliet names are preferred, then Rock Ridge names, then ISO 9660
/// identifiers. File data is not read; each [`IsoFile`] says where its bytes
/// lie in the image.
///
/// # Errors
///
/// [`Error::NotFound`] if `path` does not exist, [`Error::Io`] if it cannot be
/// read, and [`Error::BadIso`] if it is not an ISO 9660 image (for instance a
/// UDF-only image), is truncated, or holds inconsistent structures.
///
/// # Example
///
/// ```no_run
/// use std::path::Path;
///
/// let contents = dart_core::formats::iso::read_iso(Path::new("winpe.iso"))?;
/// println!("volume {}", contents.volume_id);
/// for file in &contents.files {
///     println!("{} ({} bytes in {} extent(s))", file.path, file.size, file.extents.len());
/// }
/// # Ok::<(), dart_core::Error>(())
/// ```
pub fn read_iso(path: &Path) -> Result<IsoContents> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotFound {
                what: "ISO image",
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(Error::read(path, e)),
    };
    read_iso_from(&mut file, path)
}

/// Reads the directory tree of an ISO image from any reader; `name` is used
/// in error messages.
///
/// # Errors
///
/// As [`read_iso`]: [`Error::Io`] when reading fails and [`Error::BadIso`]
/// when the bytes are not a readable ISO 9660 image.
pub fn read_iso_from<R: Read + Seek>(r: &mut R, name: &Path) -> Result<IsoContents> {
    let len = r.seek(SeekFrom::End(0)).map_err(|e| Error::read(name, e))?;
    let mut image = Image { r, name, len };
    let descriptors = image.descriptors()?;

    let primary = &descriptors.primary;
    let block_size = le16(primary, 128);
    if u64::from(block_size) != SECTOR {
        return Err(image.bad(format!(
            "its logical block size is {block_size} bytes, and dart reads images with 2048-byte blocks"
        )));
    }
    let volume_bytes = u64::from(le32(primary, 80)) * SECTOR;

    let (names, tree, volume_id) = match &descriptors.joliet {
        Some(joliet) => {
            let id = ucs2_name(primary_field(joliet, 40, 72));
            let id = id.trim_end_matches([' ', '\0']).to_string();
            let id = if id.is_empty() {
                ascii_field(primary_field(primary, 40, 72))
            } else {
                id
            };
            (NameSource::Joliet, joliet.as_slice(), id)
        }
        None => (
            NameSource::Iso9660,
            primary.as_slice(),
            ascii_field(primary_field(primary, 40, 72)),
        ),
    };
    let root = parse_record(primary_field(tree, 156, 190)).ok_or_else(|| {
        image.bad("the root directory record in the volume descriptor is malformed")
    })?;
    let root_offset = extent_offset(&root);
    let root_size = u64::from(root.size);

    let mut walk = Walk {
        image,
        names,
        susp_skip: 0,
        files: Vec::new(),
        directories: Vec::new(),
        paths: HashSet::new(),
        visited: HashSet::new(),
        directory_bytes: 0,
        path_bytes: 0,
    };
    if names == NameSource::Iso9660 {
        if let Some(skip) = walk.rock_ridge_in_root(root_offset, root_size)? {
            walk.names = NameSource::RockRidge;
            walk.susp_skip = skip;
        }
    }
    walk.walk(root_offset, root_size)?;

    let boot_entries = match descriptors.catalog {
        Some(lba) => walk.image.boot_entries(lba)?,
        None => Vec::new(),
    };
    let Walk {
        names,
        mut files,
        mut directories,
        ..
    } = walk;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    directories.sort();
    // oscdimg -u2 images keep every file in UDF and put only a README in
    // the ISO 9660 tree; listing that README as the media would mislead.
    if descriptors.udf && directories.is_empty() && files.len() <= 1 {
        let only = files
            .first()
            .map_or("nothing".to_string(), |f| f.path.clone());
        return Err(Error::BadIso {
            path: name.to_path_buf(),
            detail: format!(
                "it keeps its files in a UDF file system and its ISO 9660 tree holds only {only}; dart reads ISO 9660 and Joliet images (make the ISO with ISO 9660 or Joliet names, e.g. oscdimg -u1 or -j1)"
            ),
        });
    }
    Ok(IsoContents {
        volume_id,
        names,
        files,
        directories,
        boot_entries,
        volume_bytes,
    })
}

/// Fuzz entry: parses `data` as an ISO image placed from byte 32768 (sector
/// 16, the first volume descriptor) onwards, after a zeroed system area, so
/// the fuzzer does not spend its mutations on 32 KiB the reader never looks
/// at. Must never panic, hang or allocate without bound.
#[cfg(feature = "fuzzing")]
pub fn fuzz_one(data: &[u8]) {
    let mut bytes = vec![0u8; (FIRST_DESCRIPTOR * SECTOR) as usize];
    bytes.extend_from_slice(data);
    let _ = read_iso_from(&mut std::io::Cursor::new(bytes), Path::new("fuzz.iso"));
}

/// The image being read, with its length.
struct Image<'a, R> {
    r: &'a mut R,
    name: &'a Path,
    len: u64,
}

/// The volume descriptors the reader uses.
struct Descriptors {
    primary: Vec<u8>,
    joliet: Option<Vec<u8>>,
    catalog: Option<u32>,
    /// A UDF volume recognition sequence follows the ISO 9660 descriptors
    /// (a "UDF bridge" image).
    udf: bool,
}

impl<R: Read + Seek> Image<'_, R> {
    fn bad(&self, detail: impl Into<String>) -> Error {
        Error::BadIso {
            path: self.name.to_path_buf(),
            detail: detail.into(),
        }
    }

    /// Reads `len` bytes at `offset`, which must lie inside the image; `what`
    /// names the structure for the error message.
    fn read_at(&mut self, offset: u64, len: u64, what: impl FnOnce() -> String) -> Result<Vec<u8>> {
        let end = offset.checked_add(len);
        if end.is_none_or(|end| end > self.len) {
            return Err(self.bad(format!(
                "{} at byte {offset} ({len} bytes) ends past the end of the image ({} bytes)",
                what(),
                self.len
            )));
        }
        let size = usize::try_from(len)
            .map_err(|_| self.bad(format!("{} is too large ({len} bytes)", what())))?;
        self.r
            .seek(SeekFrom::Start(offset))
            .map_err(|e| Error::read(self.name, e))?;
        let mut buf = vec![0u8; size];
        self.r
            .read_exact(&mut buf)
            .map_err(|e| Error::read(self.name, e))?;
        Ok(buf)
    }

    /// Reads the volume descriptor set (and, without an ISO 9660 one, the
    /// UDF volume recognition sequence, to say why the image is refused).
    fn descriptors(&mut self) -> Result<Descriptors> {
        let start = FIRST_DESCRIPTOR * SECTOR;
        if self.len < start + SECTOR {
            return Err(self.bad(format!(
                "it is {} bytes long, too short to hold the volume descriptors that start at byte {start}",
                self.len
            )));
        }
        let mut primary = None;
        let mut joliet = None;
        let mut catalog = None;
        let mut saw_cd001 = false;
        let mut saw_udf = false;
        let mut terminated = false;
        for i in 0..MAX_DESCRIPTORS {
            let at = start + i * SECTOR;
            if at + SECTOR > self.len {
                break;
            }
            let d = self.read_at(at, SECTOR, || format!("volume descriptor {i}"))?;
            let kind = d.first().copied().unwrap_or(0);
            match d.get(1..6) {
                // After the terminator only a UDF recognition sequence
                // may follow.
                Some(b"CD001") if terminated => break,
                Some(b"CD001") => {
                    saw_cd001 = true;
                    match kind {
                        0 => {
                            let system = d.get(7..39).unwrap_or_default();
                            if catalog.is_none() && system.starts_with(b"EL TORITO SPECIFICATION") {
                                catalog = Some(le32(&d, 71));
                            }
                        }
                        1 if primary.is_none() => primary = Some(d),
                        2 if joliet.is_none() && is_joliet(&d) => joliet = Some(d),
                        255 => terminated = true,
                        _ => {}
                    }
                }
                Some(b"BEA01" | b"NSR02" | b"NSR03" | b"TEA01") => saw_udf = true,
                Some(b"BOOT2" | b"CDW02") => {}
                _ => break,
            }
        }
        match primary {
            Some(primary) => Ok(Descriptors {
                primary,
                joliet,
                catalog,
                udf: saw_udf,
            }),
            None if saw_cd001 => {
                Err(self.bad("its volume descriptors hold no primary volume descriptor"))
            }
            None if saw_udf => Err(self
                .bad("it holds only a UDF file system, and dart reads ISO 9660 and Joliet images")),
            None => Err(self.bad("no ISO 9660 volume descriptor at sector 16")),
        }
    }

    /// Reads the El Torito boot catalog at block `lba`. A catalog that lies
    /// outside the image or does not parse gives no entries.
    fn boot_entries(&mut self, lba: u32) -> Result<Vec<BootEntry>> {
        let start = u64::from(lba) * SECTOR;
        let available = self.len.saturating_sub(start);
        let bytes = available.min(MAX_CATALOG_SECTORS * SECTOR) / 32 * 32;
        if bytes < 64 {
            return Ok(Vec::new());
        }
        let catalog = self.read_at(start, bytes, || "the boot catalog".to_string())?;
        Ok(parse_catalog(&catalog).unwrap_or_default())
    }
}

/// Whether a supplementary volume descriptor carries a Joliet escape sequence.
fn is_joliet(d: &[u8]) -> bool {
    matches!(d.get(88..91), Some(b"%/@" | b"%/C" | b"%/E"))
}

/// Parses an El Torito boot catalog; `None` when it is damaged.
fn parse_catalog(catalog: &[u8]) -> Option<Vec<BootEntry>> {
    let mut entries = catalog.chunks_exact(32);
    let validation = entries.next()?;
    if validation.first() != Some(&1) || validation.get(30..32) != Some(&[0x55, 0xAA][..]) {
        return None;
    }
    let sum = validation
        .chunks_exact(2)
        .fold(0u16, |sum, w| sum.wrapping_add(le16(w, 0)));
    if sum != 0 {
        return None;
    }
    let platform = validation.get(1).copied().unwrap_or(0);
    let mut out = vec![section_entry(entries.next()?, platform)?];
    while let Some(header) = entries.next() {
        let (last, platform) = match header.first() {
            Some(0x90) => (false, header.get(1).copied().unwrap_or(0)),
            Some(0x91) => (true, header.get(1).copied().unwrap_or(0)),
            Some(0) => break,
            _ => return None,
        };
        for _ in 0..le16(header, 2) {
            let entry = entries.next()?;
            out.push(section_entry(entry, platform)?);
            let mut extended = entry.get(1).is_some_and(|m| m & 0x20 != 0);
            while extended {
                let extension = entries.next()?;
                if extension.first() != Some(&0x44) {
                    return None;
                }
                extended = extension.get(1).is_some_and(|f| f & 0x20 != 0);
            }
        }
        if last {
            break;
        }
    }
    Some(out)
}

/// Parses an initial/default or section entry.
fn section_entry(entry: &[u8], platform: u8) -> Option<BootEntry> {
    let bootable = match entry.first() {
        Some(0x88) => true,
        Some(0x00) => false,
        _ => return None,
    };
    Some(BootEntry {
        platform,
        bootable,
        media_type: entry.get(1).copied().unwrap_or(0) & 0x0F,
        load_segment: le16(entry, 2),
        sector_count: le16(entry, 6),
        load_rba: le32(entry, 8),
    })
}

/// A directory record, borrowed from the directory's bytes.
struct Record<'a> {
    extent: u32,
    xattr: u8,
    size: u32,
    flags: u8,
    interleaved: bool,
    ident: &'a [u8],
    system_use: &'a [u8],
}

/// Parses one directory record (`rec` is exactly the record's length).
fn parse_record(rec: &[u8]) -> Option<Record<'_>> {
    if rec.len() < MIN_RECORD {
        return None;
    }
    let name_len = usize::from(*rec.get(32)?);
    let name_end = 33 + name_len;
    let ident = rec.get(33..name_end)?;
    let su_start = name_end + usize::from(name_len % 2 == 0);
    Some(Record {
        extent: le32(rec, 2),
        xattr: *rec.get(1)?,
        size: le32(rec, 10),
        flags: *rec.get(25)?,
        interleaved: rec.get(26..28) != Some(&[0, 0][..]),
        ident,
        system_use: rec.get(su_start..).unwrap_or_default(),
    })
}

/// The byte offset of a record's data (after any extended attribute record).
fn extent_offset(rec: &Record<'_>) -> u64 {
    (u64::from(rec.extent) + u64::from(rec.xattr)) * SECTOR
}

/// What the Rock Ridge entries of one record say.
#[derive(Default)]
struct RockRidge {
    /// Any Rock Ridge entry was found.
    present: bool,
    /// The `NM` name, if any.
    name: Option<Vec<u8>>,
    /// `RE`: the directory was relocated; it is listed at its `CL` placeholder.
    relocated: bool,
    /// `CL`: the record stands for the relocated directory at this block.
    child_link: Option<u32>,
    /// `PX` file mode.
    mode: Option<u32>,
    /// The skip length of an `SP` entry at the start of the area.
    sp_skip: Option<usize>,
}

/// Walks one directory tree.
struct Walk<'a, R> {
    image: Image<'a, R>,
    names: NameSource,
    susp_skip: usize,
    files: Vec<IsoFile>,
    directories: Vec<String>,
    paths: HashSet<String>,
    visited: HashSet<u64>,
    directory_bytes: u64,
    path_bytes: usize,
}

/// A directory waiting to be read.
struct PendingDir {
    path: String,
    offset: u64,
    size: u64,
    depth: usize,
}

/// A multi-extent file whose last record has not been seen yet.
struct PendingFile<'a> {
    ident: &'a [u8],
    file: IsoFile,
}

impl<R: Read + Seek> Walk<'_, R> {
    fn bad(&self, detail: impl Into<String>) -> Error {
        self.image.bad(detail)
    }

    /// Looks for a SUSP `SP` entry and Rock Ridge entries in the root's "."
    /// record; returns the SUSP skip length when Rock Ridge is present.
    fn rock_ridge_in_root(&mut self, offset: u64, size: u64) -> Result<Option<usize>> {
        let len = size.min(SECTOR);
        if len < MIN_RECORD as u64 || offset.checked_add(len).is_none_or(|e| e > self.image.len) {
            return Ok(None);
        }
        let sector = self
            .image
            .read_at(offset, len, || "the root directory".to_string())?;
        let Some(rec_len) = sector.first().map(|&l| usize::from(l)) else {
            return Ok(None);
        };
        let Some(dot) = sector.get(..rec_len).and_then(parse_record) else {
            return Ok(None);
        };
        if dot.ident != [0] {
            return Ok(None);
        }
        let rr = self.system_use(dot.system_use, "the root directory")?;
        Ok(match rr.sp_skip {
            Some(skip) if rr.present => Some(skip),
            _ => None,
        })
    }

    /// Parses a System Use area, following `CE` continuation areas.
    fn system_use(&mut self, area: &[u8], path: &str) -> Result<RockRidge> {
        let mut rr = RockRidge::default();
        let mut area = area.to_vec();
        let mut first = true;
        let mut hops = 0;
        loop {
            let mut continuation = None;
            let mut pos = 0usize;
            while let Some(head) = area.get(pos..pos + 4) {
                let len = usize::from(head[2]);
                let Some(entry) = area.get(pos..pos + len).filter(|_| len >= 4) else {
                    break;
                };
                match &head[..2] {
                    b"ST" => break,
                    b"SP" if first && pos == 0 && entry.get(4..6) == Some(&[0xBE, 0xEF][..]) => {
                        rr.sp_skip = entry.get(6).map(|&s| usize::from(s));
                    }
                    b"CE" if len >= 28 => {
                        continuation = Some((le32(entry, 4), le32(entry, 12), le32(entry, 20)));
                    }
                    b"NM" if len >= 5 => {
                        rr.present = true;
                        let flags = entry.get(4).copied().unwrap_or(0);
                        if flags & 0x06 == 0 {
                            let name = rr.name.get_or_insert_with(Vec::new);
                            name.extend_from_slice(entry.get(5..).unwrap_or_default());
                            if name.len() > MAX_NAME {
                                return Err(self.bad(format!(
                                    "an entry in {} has a Rock Ridge name longer than {MAX_NAME} bytes",
                                    describe_dir(path)
                                )));
                            }
                        }
                    }
                    b"RE" => {
                        rr.present = true;
                        rr.relocated = true;
                    }
                    b"CL" if len >= 12 => {
                        rr.present = true;
                        rr.child_link = Some(le32(entry, 4));
                    }
                    b"PX" if len >= 12 => {
                        rr.present = true;
                        rr.mode = Some(le32(entry, 4));
                    }
                    b"ER" | b"RR" | b"SL" | b"TF" | b"PN" | b"PL" | b"SF" => rr.present = true,
                    _ => {}
                }
                pos += len;
            }
            first = false;
            let Some((block, offset, len)) = continuation else {
                return Ok(rr);
            };
            hops += 1;
            if hops > MAX_CONTINUATIONS {
                return Err(self.bad(format!(
                    "an entry in {} chains more than {MAX_CONTINUATIONS} Rock Ridge continuation areas",
                    describe_dir(path)
                )));
            }
            let len = u64::from(len);
            if len > MAX_CONTINUATION_LEN {
                return Err(self.bad(format!(
                    "an entry in {} has a Rock Ridge continuation area of {len} bytes",
                    describe_dir(path)
                )));
            }
            let at = u64::from(block) * SECTOR + u64::from(offset);
            area = self.image.read_at(at, len, || {
                format!("a Rock Ridge continuation area of {}", describe_dir(path))
            })?;
        }
    }

    /// Reads the tree whose root directory is at `offset`.
    fn walk(&mut self, offset: u64, size: u64) -> Result<()> {
        let mut stack = Vec::new();
        self.push_dir(&mut stack, String::new(), offset, size, 0)?;
        while let Some(dir) = stack.pop() {
            self.read_dir(&mut stack, &dir)?;
        }
        Ok(())
    }

    fn push_dir(
        &mut self,
        stack: &mut Vec<PendingDir>,
        path: String,
        offset: u64,
        size: u64,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(self.bad(format!(
                "directory {path} is nested more than {MAX_DEPTH} levels deep"
            )));
        }
        if size > MAX_DIR_BYTES {
            return Err(self.bad(format!(
                "{} is {size} bytes long, and dart reads directories of at most {} MiB",
                describe_dir(&path),
                MAX_DIR_BYTES >> 20
            )));
        }
        if size > 0 {
            if !self.visited.insert(offset) {
                return Err(self.bad(format!(
                    "{} points back at a directory already read, which would loop",
                    describe_dir(&path)
                )));
            }
            self.directory_bytes += size;
            if self.directory_bytes > self.image.len {
                return Err(self
                    .bad("its directories take more bytes than the image holds, so they overlap"));
            }
        }
        stack.push(PendingDir {
            path,
            offset,
            size,
            depth,
        });
        Ok(())
    }

    /// Reads one directory, adding its files and pushing its subdirectories.
    fn read_dir(&mut self, stack: &mut Vec<PendingDir>, dir: &PendingDir) -> Result<()> {
        if dir.size == 0 {
            return Ok(());
        }
        let buf = self
            .image
            .read_at(dir.offset, dir.size, || describe_dir(&dir.path))?;
        let sector = SECTOR as usize;
        let mut pending: Option<PendingFile<'_>> = None;
        let mut pos = 0usize;
        while let Some(&len) = buf.get(pos) {
            let len = usize::from(len);
            if len == 0 {
                pos = (pos / sector + 1) * sector;
                continue;
            }
            let Some(rec) = buf.get(pos..pos + len).and_then(parse_record) else {
                return Err(self.bad(format!(
                    "{} has a malformed directory record at byte {pos}",
                    describe_dir(&dir.path)
                )));
            };
            pos += len;
            if rec.ident == [0] || rec.ident == [1] || rec.flags & FLAG_ASSOCIATED != 0 {
                continue;
            }
            if let Some(mut multi) = pending.take() {
                if multi.ident != rec.ident {
                    return Err(self.bad(format!(
                        "file {} is flagged as continuing in another extent record, but the next record is another entry",
                        multi.file.path
                    )));
                }
                self.add_extent(&mut multi.file, &rec)?;
                if rec.flags & FLAG_MULTI_EXTENT != 0 {
                    pending = Some(multi);
                } else {
                    self.files.push(multi.file);
                }
                continue;
            }

            let mut rr = RockRidge::default();
            if self.names == NameSource::RockRidge {
                let area = rec.system_use.get(self.susp_skip..).unwrap_or_default();
                rr = self.system_use(area, &dir.path)?;
                if rr.relocated {
                    continue;
                }
            }
            let name = match (self.names, rr.name.take()) {
                (NameSource::Joliet, _) => strip_version(&ucs2_name(rec.ident)).to_string(),
                (_, Some(name)) => String::from_utf8_lossy(&name).into_owned(),
                (_, None) => iso_name(rec.ident),
            };
            if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
                return Err(self.bad(format!(
                    "{} holds an entry named {name:?}, which is not a usable file name",
                    describe_dir(&dir.path)
                )));
            }
            let path = if dir.path.is_empty() {
                name
            } else {
                format!("{}/{name}", dir.path)
            };
            self.claim_path(&path)?;

            // Rock Ridge entries that are neither files nor directories
            // (symbolic links, devices, FIFOs, sockets) are left out.
            let file_type = rr.mode.map(|mode| mode & 0o170_000);
            let is_dir = rec.flags & FLAG_DIRECTORY != 0 || rr.child_link.is_some();
            if !is_dir && file_type.is_some_and(|t| t != 0o100_000) {
                continue;
            }
            if is_dir {
                if rec.flags & FLAG_MULTI_EXTENT != 0 {
                    return Err(self.bad(format!(
                        "directory {path} is flagged as having several extents"
                    )));
                }
                let (offset, size) = match rr.child_link {
                    Some(lba) => self.relocated_dir(lba, &path)?,
                    None => (extent_offset(&rec), u64::from(rec.size)),
                };
                self.directories.push(path.clone());
                self.push_dir(stack, path, offset, size, dir.depth + 1)?;
            } else {
                let mut file = IsoFile {
                    path,
                    size: 0,
                    extents: Vec::new(),
                };
                self.add_extent(&mut file, &rec)?;
                if rec.flags & FLAG_MULTI_EXTENT != 0 {
                    pending = Some(PendingFile {
                        ident: rec.ident,
                        file,
                    });
                } else {
                    self.files.push(file);
                }
            }
        }
        if let Some(multi) = pending {
            return Err(self.bad(format!(
                "file {} is flagged as continuing in another extent record, but its directory ends",
                multi.file.path
            )));
        }
        Ok(())
    }

    /// Records a path, refusing duplicates and bounding counts and lengths.
    fn claim_path(&mut self, path: &str) -> Result<()> {
        if path.len() > MAX_PATH {
            return Err(self.bad(format!(
                "it holds a path longer than {MAX_PATH} bytes (starting {:?})",
                path.chars().take(80).collect::<String>()
            )));
        }
        if self.paths.len() >= MAX_ENTRIES {
            return Err(self.bad(format!(
                "it lists more than {MAX_ENTRIES} files and directories"
            )));
        }
        self.path_bytes += path.len();
        if self.path_bytes > MAX_TOTAL_PATH_BYTES {
            return Err(self.bad(format!(
                "its paths take more than {} MiB together",
                MAX_TOTAL_PATH_BYTES >> 20
            )));
        }
        if !self.paths.insert(path.to_string()) {
            return Err(self.bad(format!("it lists {path} more than once")));
        }
        Ok(())
    }

    /// Adds a record's extent to a file, checking that it lies in the image.
    fn add_extent(&self, file: &mut IsoFile, rec: &Record<'_>) -> Result<()> {
        if rec.interleaved {
            return Err(self.bad(format!(
                "file {} is recorded in interleaved mode, which dart does not read",
                file.path
            )));
        }
        let len = u64::from(rec.size);
        if len == 0 {
            return Ok(());
        }
        let offset = extent_offset(rec);
        if offset + len > self.image.len {
            return Err(self.bad(format!(
                "file {} has an extent at byte {offset} ({len} bytes) that ends past the end of the image ({} bytes)",
                file.path, self.image.len
            )));
        }
        file.size += len;
        file.extents.push(Extent { offset, len });
        Ok(())
    }

    /// The offset and size of a directory relocated by Rock Ridge, read from
    /// the "." record at the start of its extent.
    fn relocated_dir(&mut self, lba: u32, path: &str) -> Result<(u64, u64)> {
        let offset = u64::from(lba) * SECTOR;
        let sector = self
            .image
            .read_at(offset, SECTOR, || format!("the relocated directory {path}"))?;
        let dot = sector
            .first()
            .and_then(|&len| sector.get(..usize::from(len)))
            .and_then(parse_record)
            .filter(|dot| dot.ident == [0] && dot.flags & FLAG_DIRECTORY != 0);
        match dot {
            Some(dot) => Ok((extent_offset(&dot), u64::from(dot.size))),
            None => Err(self.bad(format!(
                "the Rock Ridge child link of {path} does not point at a directory"
            ))),
        }
    }
}

/// "directory X" or "the root directory", for messages.
fn describe_dir(path: &str) -> String {
    if path.is_empty() {
        "the root directory".to_string()
    } else {
        format!("directory {path}")
    }
}

/// A plain ISO 9660 identifier: `;1` version and a trailing `.` removed.
fn iso_name(ident: &[u8]) -> String {
    let name = String::from_utf8_lossy(ident);
    let name = strip_version(&name);
    name.strip_suffix('.').unwrap_or(name).to_string()
}

/// Removes a `;<digits>` version suffix.
fn strip_version(name: &str) -> &str {
    match name.rsplit_once(';') {
        Some((stem, version)) if version.bytes().all(|b| b.is_ascii_digit()) => stem,
        _ => name,
    }
}

/// Decodes a UCS-2 big-endian Joliet name (an odd last byte is ignored).
fn ucs2_name(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// An ASCII descriptor field without trailing spaces.
fn ascii_field(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches([' ', '\0'])
        .to_string()
}

/// `d[start..end]`, or nothing if `d` is shorter.
fn primary_field(d: &[u8], start: usize, end: usize) -> &[u8] {
    d.get(start..end).unwrap_or_default()
}

/// A little-endian `u16` at `at`, or 0 past the end.
fn le16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u16::from_le_bytes)
}

/// A little-endian `u32` at `at`, or 0 past the end.
fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    /// A directory record.
    fn record(extent: u32, size: u32, flags: u8, ident: &[u8], su: &[u8]) -> Vec<u8> {
        let pad = usize::from(ident.len().is_multiple_of(2));
        let mut r = vec![0u8; 33];
        r[2..6].copy_from_slice(&extent.to_le_bytes());
        r[6..10].copy_from_slice(&extent.to_be_bytes());
        r[10..14].copy_from_slice(&size.to_le_bytes());
        r[14..18].copy_from_slice(&size.to_be_bytes());
        r[25] = flags;
        r[28..30].copy_from_slice(&1u16.to_le_bytes());
        r[30..32].copy_from_slice(&1u16.to_be_bytes());
        r[32] = ident.len() as u8;
        r.extend_from_slice(ident);
        r.extend(std::iter::repeat_n(0, pad));
        r.extend_from_slice(su);
        if r.len() % 2 == 1 {
            r.push(0);
        }
        r[0] = r.len() as u8;
        r
    }

    fn put(image: &mut [u8], sector: u64, at: usize, bytes: &[u8]) {
        let start = (sector * SECTOR) as usize + at;
        image[start..start + bytes.len()].copy_from_slice(bytes);
    }

    fn descriptor(kind: u8) -> Vec<u8> {
        let mut d = vec![0u8; SECTOR as usize];
        d[0] = kind;
        d[1..6].copy_from_slice(b"CD001");
        d[6] = 1;
        d
    }

    /// A small image: root with HELLO.TXT (5 bytes), SUB/A.TXT (3 bytes),
    /// Rock Ridge names, and an El Torito catalog with one BIOS entry.
    fn small_iso() -> Vec<u8> {
        let sectors = 24u32;
        let mut image = vec![0u8; sectors as usize * SECTOR as usize];
        let mut pvd = descriptor(1);
        pvd[40..44].copy_from_slice(b"TEST");
        pvd[80..84].copy_from_slice(&sectors.to_le_bytes());
        pvd[128..130].copy_from_slice(&2048u16.to_le_bytes());
        let root = record(19, 2048, FLAG_DIRECTORY, &[0], &[]);
        pvd[156..156 + root.len()].copy_from_slice(&root);
        put(&mut image, 16, 0, &pvd);
        let mut boot = descriptor(0);
        boot[7..30].copy_from_slice(b"EL TORITO SPECIFICATION");
        boot[71..75].copy_from_slice(&22u32.to_le_bytes());
        put(&mut image, 17, 0, &boot);
        put(&mut image, 18, 0, &descriptor(255));

        let mut sp = vec![b'S', b'P', 7, 1, 0xBE, 0xEF, 0];
        sp.extend_from_slice(&[b'E', b'R', 18, 1, 10, 0, 0, 1]);
        sp.extend_from_slice(b"RRIP_1991A");
        let nm = |name: &[u8]| {
            let mut e = vec![b'N', b'M', 5 + name.len() as u8, 1, 0];
            e.extend_from_slice(name);
            e
        };
        let mut dir = Vec::new();
        dir.extend(record(19, 2048, FLAG_DIRECTORY, &[0], &sp));
        dir.extend(record(19, 2048, FLAG_DIRECTORY, &[1], &[]));
        dir.extend(record(21, 5, 0, b"HELLO.TXT;1", &nm(b"hello.txt")));
        dir.extend(record(20, 2048, FLAG_DIRECTORY, b"SUB", &nm(b"Sub")));
        put(&mut image, 19, 0, &dir);
        let mut sub = Vec::new();
        sub.extend(record(20, 2048, FLAG_DIRECTORY, &[0], &[]));
        sub.extend(record(19, 2048, FLAG_DIRECTORY, &[1], &[]));
        sub.extend(record(23, 3, 0, b"A.TXT;1", &nm(b"a.txt")));
        put(&mut image, 20, 0, &sub);
        put(&mut image, 21, 0, b"hello");
        put(&mut image, 23, 0, b"abc");

        let mut validation = [0u8; 32];
        validation[0] = 1;
        validation[30] = 0x55;
        validation[31] = 0xAA;
        let sum = validation.chunks_exact(2).fold(0u16, |s, w| {
            s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
        });
        validation[28..30].copy_from_slice(&0u16.wrapping_sub(sum).to_le_bytes());
        put(&mut image, 22, 0, &validation);
        let mut default = [0u8; 32];
        default[0] = 0x88;
        default[6..8].copy_from_slice(&4u16.to_le_bytes());
        default[8..12].copy_from_slice(&21u32.to_le_bytes());
        put(&mut image, 22, 32, &default);
        image
    }

    fn read(image: &[u8]) -> Result<IsoContents> {
        read_iso_from(&mut std::io::Cursor::new(image), Path::new("test.iso"))
    }

    #[test]
    fn small_image_reads() {
        let contents = read(&small_iso()).unwrap();
        assert_eq!(contents.volume_id, "TEST");
        assert_eq!(contents.names, NameSource::RockRidge);
        assert_eq!(contents.directories, vec!["Sub".to_string()]);
        let paths: Vec<_> = contents.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["Sub/a.txt", "hello.txt"]);
        assert_eq!(
            contents.files[1].extents,
            [Extent {
                offset: 21 * SECTOR,
                len: 5
            }]
        );
        assert_eq!(contents.boot_entries.len(), 1);
        assert_eq!(contents.boot_entries[0].load_rba, 21);
        assert!(contents.boot_entries[0].bootable);
        assert_eq!(contents.volume_bytes, 24 * SECTOR);
    }

    #[test]
    fn iso_names_are_stripped() {
        assert_eq!(iso_name(b"README.;1"), "README");
        assert_eq!(iso_name(b"A.TXT;1"), "A.TXT");
        assert_eq!(iso_name(b"DIR"), "DIR");
        assert_eq!(strip_version("x;y"), "x;y");
    }

    #[test]
    fn loop_is_refused() {
        let mut image = small_iso();
        // Point SUB at the root directory.
        let root = 19 * SECTOR as usize;
        let at = (root..root + 2048)
            .find(|&i| image[i + 33..i + 36] == *b"SUB")
            .unwrap();
        image[at + 2..at + 6].copy_from_slice(&19u32.to_le_bytes());
        let err = read(&image).unwrap_err().to_string();
        assert!(err.contains("loop"), "{err}");
    }

    #[test]
    fn broken_catalog_gives_no_entries() {
        let mut image = small_iso();
        image[22 * SECTOR as usize + 5] ^= 1;
        let contents = read(&image).unwrap();
        assert!(contents.boot_entries.is_empty());
        assert_eq!(contents.files.len(), 2);
    }

    proptest! {
        #[test]
        fn random_descriptors_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4 * 2048)) {
            let mut image = vec![0u8; 20 * SECTOR as usize];
            let start = 16 * SECTOR as usize;
            image[start..start + bytes.len()].copy_from_slice(&bytes);
            let _ = read(&image);
            fuzz_one(&bytes);
        }

        #[test]
        fn mutated_image_never_panics(
            flips in proptest::collection::vec((16 * 2048usize..24 * 2048, any::<u8>()), 1..16),
            cut in 0usize..24 * 2048,
        ) {
            let mut image = small_iso();
            for (at, byte) in flips {
                image[at] = byte;
            }
            let _ = read(&image);
            image.truncate(cut);
            let _ = read(&image);
        }
    }
}
