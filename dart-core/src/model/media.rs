//! [`MediaSet`]: the file tree that boots a recovery image.
//!
//! WinPE media hold `bootmgr` and `boot/bcd` (BIOS), `efi/boot/boot*.efi` and
//! `efi/microsoft/boot/bcd` (UEFI), `boot/boot.sdi` and `sources/boot.wim`.
//! Windows file systems are case-insensitive, so lookups are too: a media set
//! with `EFI/Boot/BOOTX64.EFI` satisfies `efi/boot/bootx64.efi`.
//!
//! A media set is plain data: read from a directory here
//! ([`MediaSet::from_dir`]), or from an ISO image by the ISO reader
//! ([`MediaSet::from_iso`], in place, never extracted); [`MediaSet::open`]
//! (also in the ISO module, the one that knows both) takes either.
//!
//! ```no_run
//! use dart_core::model::arch::Architecture;
//! use dart_core::model::media::{Firmware, MediaSet};
//! let media = MediaSet::open("media")?; // or "winpe.iso"

//! media.validate(Architecture::X64, Firmware::Both)?;
//! println!("{} files, {} bytes", media.files().len(), media.total_bytes());
//! # Ok::<(), dart_core::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::disk::FileSource;
use crate::error::{Error, Result};
use crate::model::arch::Architecture;

/// The firmware a medium must boot on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    /// Legacy BIOS.
    Bios,
    /// UEFI.
    Uefi,
    /// Both.
    Both,
}

impl Firmware {
    fn includes_bios(self) -> bool {
        matches!(self, Firmware::Bios | Firmware::Both)
    }
    fn includes_uefi(self) -> bool {
        matches!(self, Firmware::Uefi | Firmware::Both)
    }
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Firmware::Bios => "bios",
            Firmware::Uefi => "uefi",
            Firmware::Both => "both",
        }
    }
}

impl FromStr for Firmware {
    type Err = Error;
    fn from_str(s: &str) -> Result<Firmware> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bios" | "legacy" => Ok(Firmware::Bios),
            "uefi" | "efi" => Ok(Firmware::Uefi),
            "both" | "all" => Ok(Firmware::Both),
            _ => Err(Error::invalid("firmware", s, "expected bios, uefi or both")),
        }
    }
}

impl fmt::Display for Firmware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Path of the recovery image inside a media set.
pub const BOOT_WIM: &str = "sources/boot.wim";
/// Files every WinPE medium needs whatever the firmware.
pub const COMMON_FILES: [&str; 2] = [BOOT_SDI, BOOT_WIM];
/// The RAM disk image a WinPE boot needs beside its WIM.
pub const BOOT_SDI: &str = "boot/boot.sdi";
/// The BIOS boot manager's store.
pub const BIOS_BCD: &str = "boot/bcd";
/// Files a BIOS boot needs.
pub const BIOS_FILES: [&str; 2] = ["bootmgr", BIOS_BCD];
/// The UEFI boot configuration.
pub const UEFI_BCD: &str = "efi/microsoft/boot/bcd";

/// One file of a media set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaFile {
    /// Path relative to the root, `/`-separated, as found on disk.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// What holds a media set's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// A directory tree.
    Directory,
    /// An ISO 9660 image, read in place.
    Iso,
}

/// A bootable file tree: a directory, or the files inside an ISO image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaSet {
    root: PathBuf,
    kind: MediaKind,
    /// Lower-cased relative path -> file.
    files: BTreeMap<String, MediaFile>,
    /// For ISO sources: lower-cased relative path -> `(offset, len)`
    /// ranges of the image.
    #[serde(skip)]
    extents: BTreeMap<String, Vec<(u64, u64)>>,
    /// For directory sources: lower-cased relative path -> the path whose
    /// bytes it has, without symbolic links (a link's target in the tree).
    #[serde(skip)]
    real: BTreeMap<String, PathBuf>,
    /// Files put into the set from outside its root (a built WIM, a
    /// generated store): lower-cased relative path -> the whole file.
    #[serde(skip)]
    overrides: BTreeMap<String, PathBuf>,
}

impl MediaSet {
    /// Scans a directory. A symbolic link to a file inside the tree counts
    /// as a copy of that file; a link that leaves the tree, leads nowhere or
    /// to a directory is refused ([`Error::UnsafeSource`], naming it), as
    /// are device files, FIFOs and sockets. Files are read later without
    /// following links ([`FileSource::beneath`]).
    pub fn from_dir(root: impl AsRef<Path>) -> Result<MediaSet> {
        let root = root.as_ref();
        if !root.is_dir() {
            return Err(Error::NotFound {
                what: "media directory",
                path: root.to_path_buf(),
            });
        }
        let canonical = std::fs::canonicalize(root).map_err(|e| Error::read(root, e))?;
        let mut scanned = Scan {
            root: &canonical,
            files: BTreeMap::new(),
            real: BTreeMap::new(),
        };
        scanned.dir(root, "")?;
        Ok(MediaSet {
            root: root.to_path_buf(),
            kind: MediaKind::Directory,
            files: scanned.files,
            extents: BTreeMap::new(),
            real: scanned.real,
            overrides: BTreeMap::new(),
        })
    }

    /// A media set of the files inside the ISO image `image`: each file's
    /// path, size and `(offset, len)` ranges of the image. For the ISO
    /// reader.
    pub(crate) fn from_iso_files(
        image: &Path,
        files: impl IntoIterator<Item = (String, u64, Vec<(u64, u64)>)>,
    ) -> MediaSet {
        let mut by_key = BTreeMap::new();
        let mut extents = BTreeMap::new();
        for (path, size, ranges) in files {
            let key = normalise(&path);
            extents.insert(key.clone(), ranges);
            by_key.insert(key, MediaFile { path, size });
        }
        MediaSet {
            root: image.to_path_buf(),
            kind: MediaKind::Iso,
            files: by_key,
            extents,
            real: BTreeMap::new(),
            overrides: BTreeMap::new(),
        }
    }

    /// The root directory, or the ISO image file.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What holds the files.
    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    /// Every file, sorted by lower-cased path.
    pub fn files(&self) -> Vec<&MediaFile> {
        self.files.values().collect()
    }

    /// Total bytes of all files.
    pub fn total_bytes(&self) -> u64 {
        self.files.values().map(|f| f.size).sum()
    }

    /// A file by path, case-insensitively; `\` and `/` both separate.
    pub fn find(&self, path: &str) -> Option<&MediaFile> {
        self.files.get(&normalise(path))
    }

    /// The files of the set whose lower-cased path starts with `prefix`
    /// (`"efi/boot/"`), read from the same source.
    pub fn subset(&self, prefix: &str) -> MediaSet {
        let prefix = normalise(prefix);
        let keep = |key: &String| key.starts_with(&prefix);
        MediaSet {
            root: self.root.clone(),
            kind: self.kind,
            files: self
                .files
                .iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, f)| (k.clone(), f.clone()))
                .collect(),
            extents: self
                .extents
                .iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, e)| (k.clone(), e.clone()))
                .collect(),
            real: self
                .real
                .iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, r)| (k.clone(), r.clone()))
                .collect(),
            overrides: self
                .overrides
                .iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, r)| (k.clone(), r.clone()))
                .collect(),
        }
    }

    /// Puts the regular file `file` into the set as `path` (relative,
    /// `/`-separated), replacing the set's own file of that name (whose
    /// spelling is kept). The file is read when the set is written; it
    /// counts as an input of every command that writes the set.
    pub fn put_file(&mut self, path: &str, file: &Path) -> Result<()> {
        let key = normalise(path);
        if key.is_empty()
            || key
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(Error::invalid(
                "path on the media",
                path,
                "expected a relative path such as sources/boot.wim",
            ));
        }
        let meta = std::fs::metadata(file).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                what: "file to put on the media",
                path: file.to_path_buf(),
            },
            _ => Error::read(file, e),
        })?;
        if !meta.is_file() {
            return Err(Error::UnsafeSource {
                path: file.to_path_buf(),
                reason: "it is not a regular file".into(),
            });
        }
        let parent = key.rsplit_once('/').map(|(d, _)| d);
        if let Some(dir) = parent {
            let clash = |k: &String| *k == dir || dir.starts_with(&format!("{k}/"));
            if let Some(f) = self.files.keys().find(|k| clash(k)) {
                return Err(Error::invalid(
                    "path on the media",
                    path,
                    format!("the media has a file {f} where this path needs a directory"),
                ));
            }
        }
        let spelled = self.files.get(&key).map_or_else(
            || path.trim_start_matches('/').replace('\\', "/"),
            |f| f.path.clone(),
        );
        self.files.insert(
            key.clone(),
            MediaFile {
                path: spelled,
                size: meta.len(),
            },
        );
        self.overrides.insert(key, file.to_path_buf());
        Ok(())
    }

    /// Removes `path` from the set (nothing when absent).
    pub fn remove_file(&mut self, path: &str) {
        let key = normalise(path);
        self.files.remove(&key);
        self.overrides.remove(&key);
    }

    /// Every path the set reads from: its root (directory or ISO image)
    /// and each file put in with [`MediaSet::put_file`]. A command that
    /// writes the set must not write to any of them.
    pub fn inputs(&self) -> Vec<&Path> {
        std::iter::once(self.root.as_path())
            .chain(self.overrides.values().map(PathBuf::as_path))
            .collect()
    }

    /// Where the bytes of a file of the set are read from.
    pub fn source(&self, file: &MediaFile) -> FileSource {
        if let Some(path) = self.overrides.get(&normalise(&file.path)) {
            return FileSource::whole(path, file.size);
        }
        match self.kind {
            MediaKind::Directory => {
                let key = normalise(&file.path);
                let relative = self
                    .real
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| PathBuf::from(&file.path));
                FileSource::beneath(&self.root, &relative, file.size)
            }
            MediaKind::Iso => FileSource::ranges(
                &self.root,
                self.extents
                    .get(&normalise(&file.path))
                    .cloned()
                    .unwrap_or_default(),
            ),
        }
    }

    /// The modification time of a file in a directory source; `None` for
    /// ISO sources and when the file system does not say.
    pub fn modified(&self, file: &MediaFile) -> Option<std::time::SystemTime> {
        if let Some(path) = self.overrides.get(&normalise(&file.path)) {
            return std::fs::metadata(path).and_then(|m| m.modified()).ok();
        }
        match self.kind {
            MediaKind::Directory => std::fs::metadata(self.root.join(&file.path))
                .and_then(|m| m.modified())
                .ok(),
            MediaKind::Iso => None,
        }
    }

    /// The recovery image (`sources/boot.wim`) as a file on disk: its path
    /// in a directory source; `None` when absent or inside an ISO (read it
    /// through [`MediaSet::source`]).
    pub fn boot_wim(&self) -> Option<PathBuf> {
        if let Some(path) = self.overrides.get(BOOT_WIM) {
            return Some(path.clone());
        }
        match self.kind {
            MediaKind::Directory => self.find(BOOT_WIM).map(|f| self.root.join(&f.path)),
            MediaKind::Iso => None,
        }
    }

    /// Architectures that have a UEFI fallback loader in the set.
    pub fn uefi_architectures(&self) -> Vec<Architecture> {
        Architecture::ALL
            .into_iter()
            .filter(|a| self.find(&a.efi_loader_path()).is_some())
            .collect()
    }

    /// The files `arch` on `firmware` needs, relative to the root.
    pub fn required_files(arch: Architecture, firmware: Firmware) -> Vec<String> {
        let mut req: Vec<String> = COMMON_FILES.iter().map(|s| s.to_string()).collect();
        if firmware.includes_bios() && arch.has_bios() {
            req.extend(BIOS_FILES.iter().map(|s| s.to_string()));
        }
        if firmware.includes_uefi() {
            req.push(arch.efi_loader_path());
            req.push(UEFI_BCD.to_string());
        }
        req
    }

    /// Checks that the set can boot `arch` on `firmware`; the error names the
    /// first missing file. BIOS for arm64 is an error of its own.
    pub fn validate(&self, arch: Architecture, firmware: Firmware) -> Result<()> {
        if firmware == Firmware::Bios && !arch.has_bios() {
            return Err(Error::invalid(
                "firmware",
                "bios",
                format!("{arch} machines have no BIOS firmware"),
            ));
        }
        for file in MediaSet::required_files(arch, firmware) {
            if self.find(&file).is_none() {
                return Err(Error::MissingMediaFile {
                    root: self.root.clone(),
                    file,
                    needed_for: format!("{arch} on {firmware} firmware"),
                });
            }
        }
        Ok(())
    }
}

/// Assembles a media tree in `out`: every file of `base`, a directory or an
/// ISO image (hard-linked when possible, else copied), with
/// `sources/boot.wim` replaced by `boot_wim`, the recovery image to deploy.
/// `out` must not exist yet.
///
/// ```no_run
/// use dart_core::model::media::assemble;
/// let media = assemble("winpe-media".as_ref(), "dart-end-user.wim".as_ref(), "deploy".as_ref())?;
/// assert!(media.boot_wim().is_some());
/// # Ok::<(), dart_core::Error>(())
/// ```
pub fn assemble(base: &Path, boot_wim: &Path, out: &Path) -> Result<MediaSet> {
    let set = MediaSet::open(base)?;
    if !boot_wim.is_file() {
        return Err(Error::NotFound {
            what: "recovery image",
            path: boot_wim.to_path_buf(),
        });
    }
    if out.exists() {
        return Err(Error::invalid(
            "output directory",
            out.display(),
            "it already exists; choose a new directory",
        ));
    }
    let wim_len = std::fs::metadata(boot_wim)
        .map_err(|e| Error::read(boot_wim, e))?
        .len();
    let mut files: Vec<(FileSource, PathBuf)> = set
        .files
        .iter()
        .filter(|(key, _)| key.as_str() != BOOT_WIM)
        .map(|(_, f)| (set.source(f), out.join(&f.path)))
        .collect();
    let wim_rel = set
        .find(BOOT_WIM)
        .map_or(BOOT_WIM.to_string(), |f| f.path.clone());
    files.push((FileSource::whole(boot_wim, wim_len), out.join(wim_rel)));
    let copied = files.iter().try_for_each(|(from, to)| {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::write(parent, e))?;
        }
        if (set.kind == MediaKind::Directory || from.path() == boot_wim)
            && std::fs::hard_link(from.path(), to).is_ok()
        {
            return Ok(());
        }
        let mut reader = from.open()?;
        let mut file = std::fs::File::create(to).map_err(|e| Error::write(to, e))?;
        std::io::copy(&mut reader, &mut file).map_err(|e| Error::write(to, e))?;
        Ok(())
    });
    if let Err(e) = copied {
        let _ = std::fs::remove_dir_all(out);
        return Err(e);
    }
    MediaSet::from_dir(out)
}

fn normalise(path: &str) -> String {
    path.replace('\\', "/")
        .trim_start_matches('/')
        .to_ascii_lowercase()
}

/// A directory scan in progress.
struct Scan<'a> {
    /// The canonical root: links must stay inside it.
    root: &'a Path,
    files: BTreeMap<String, MediaFile>,
    real: BTreeMap<String, PathBuf>,
}

impl Scan<'_> {
    fn dir(&mut self, dir: &Path, prefix: &str) -> Result<()> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::read(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::read(dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::read(&path, e))?;
            let kind = meta.file_type();
            if kind.is_dir() {
                self.dir(&path, &rel)?;
            } else if kind.is_file() {
                self.add(rel.clone(), PathBuf::from(rel), meta.len());
            } else if kind.is_symlink() {
                let (target, size) = self.link_target(&path)?;
                self.add(rel, target, size);
            } else {
                return Err(Error::UnsafeSource {
                    path,
                    reason:
                        "it is a device file, FIFO or socket; a media tree holds regular files only"
                            .into(),
                });
            }
        }
        Ok(())
    }

    fn add(&mut self, rel: String, real: PathBuf, size: u64) {
        let key = normalise(&rel);
        self.real.insert(key.clone(), real);
        self.files.insert(key, MediaFile { path: rel, size });
    }

    /// The path in the tree of the regular file the link `path` leads to,
    /// and its size.
    fn link_target(&self, path: &Path) -> Result<(PathBuf, u64)> {
        let refuse = |reason: String| Error::UnsafeSource {
            path: path.to_path_buf(),
            reason,
        };
        let shown =
            std::fs::read_link(path).map_or_else(|_| "?".to_string(), |t| t.display().to_string());
        let target = std::fs::canonicalize(path).map_err(|_| {
            refuse(format!(
                "it is a symbolic link to {shown}, which does not exist"
            ))
        })?;
        let Ok(inside) = target.strip_prefix(self.root) else {
            return Err(refuse(format!(
                "it is a symbolic link to {}, outside the media tree {}; copy the file into the tree instead",
                target.display(),
                self.root.display()
            )));
        };
        let meta = std::fs::metadata(&target).map_err(|e| Error::read(&target, e))?;
        if !meta.is_file() {
            return Err(refuse(format!(
                "it is a symbolic link to {shown}, which is not a regular file (links to directories are not followed)"
            )));
        }
        Ok((inside.to_path_buf(), meta.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"x").unwrap();
        }
        dir
    }

    #[test]
    fn complete_media_validates_case_insensitively() {
        let d = tree(&[
            "BOOTMGR",
            "Boot/BCD",
            "boot/boot.sdi",
            "EFI/Boot/BOOTX64.EFI",
            "efi/microsoft/boot/bcd",
            "Sources/boot.wim",
        ]);
        let m = MediaSet::from_dir(d.path()).unwrap();
        m.validate(Architecture::X64, Firmware::Both).unwrap();
        assert_eq!(m.uefi_architectures(), vec![Architecture::X64]);
        assert!(m.boot_wim().unwrap().ends_with("Sources/boot.wim"));
    }

    #[test]
    fn missing_file_is_named() {
        let d = tree(&[
            "bootmgr",
            "boot/bcd",
            "boot/boot.sdi",
            "sources/boot.wim",
            "efi/microsoft/boot/bcd",
        ]);
        let m = MediaSet::from_dir(d.path()).unwrap();
        m.validate(Architecture::X64, Firmware::Bios).unwrap();
        let err = m.validate(Architecture::X64, Firmware::Uefi).unwrap_err();
        assert!(err.to_string().contains("efi/boot/bootx64.efi"), "{err}");
        let err = m.validate(Architecture::X86, Firmware::Both).unwrap_err();
        assert!(err.to_string().contains("bootia32.efi"), "{err}");
        assert!(m.validate(Architecture::Arm64, Firmware::Bios).is_err());
    }
}
