//! Inspecting WIM files: [`RecoveryImage`], [`WimInfo`], [`ImageInfo`].

use std::ffi::CString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use wimlib::{CompressionType, ImageIndex, IterateDirTreeFlags, Wim};

use super::wim;
use crate::error::{Error, Result};
use crate::model::arch::Architecture;
use crate::model::tools::Tools;

/// How file data in a WIM is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Stored uncompressed.
    None,
    /// XPRESS: fast, moderate ratio.
    Xpress,
    /// LZX: what Windows uses for boot.wim.
    Lzx,
    /// LZMS: best ratio, slow; not every Windows version reads it.
    Lzms,
}

impl Compression {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Xpress => "xpress",
            Compression::Lzx => "lzx",
            Compression::Lzms => "lzms",
        }
    }

    pub(crate) fn to_wimlib(self) -> CompressionType {
        match self {
            Compression::None => CompressionType::None,
            Compression::Xpress => CompressionType::Xpress,
            Compression::Lzx => CompressionType::Lzx,
            Compression::Lzms => CompressionType::Lzms,
        }
    }

    pub(crate) fn from_wimlib(c: CompressionType) -> Compression {
        match c {
            CompressionType::Xpress => Compression::Xpress,
            CompressionType::Lzx => Compression::Lzx,
            CompressionType::Lzms => Compression::Lzms,
            _ => Compression::None,
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Compression {
    type Err = Error;
    fn from_str(s: &str) -> Result<Compression> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Compression::None),
            "xpress" | "fast" => Ok(Compression::Xpress),
            "lzx" | "maximum" => Ok(Compression::Lzx),
            "lzms" | "recovery" => Ok(Compression::Lzms),
            _ => Err(Error::invalid(
                "compression",
                s,
                "expected none, xpress, lzx or lzms",
            )),
        }
    }
}

/// One image inside a WIM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// 1-based index.
    pub index: u32,
    /// The `NAME` property.
    pub name: Option<String>,
    /// The `DESCRIPTION` property.
    pub description: Option<String>,
    /// From the `WINDOWS/ARCH` property.
    pub architecture: Option<Architecture>,
    /// `WINDOWS/EDITIONID`.
    pub edition_id: Option<String>,
    /// `WINDOWS/INSTALLATIONTYPE`.
    pub installation_type: Option<String>,
    /// Whether the image says it is Windows PE.
    pub is_winpe: bool,
    /// Bytes of file data (`TOTALBYTES`).
    pub total_bytes: u64,
    /// Files (`FILECOUNT`).
    pub file_count: u64,
    /// Directories (`DIRCOUNT`).
    pub dir_count: u64,
    /// The DaRT tools a dart-built image records carrying (`DART/TOOLS`).
    pub dart_tools: Option<Tools>,
}

/// What a WIM file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WimInfo {
    /// The file.
    pub path: PathBuf,
    /// GUID, as lower-case hex.
    pub guid: String,
    /// Number of images.
    pub image_count: u32,
    /// 1-based bootable image, if any.
    pub boot_index: Option<u32>,
    /// Default compression.
    pub compression: Compression,
    /// Compression chunk size in bytes.
    pub chunk_size: u32,
    /// File size in bytes.
    pub file_size: u64,
    /// Every image, in index order.
    pub images: Vec<ImageInfo>,
}

/// An opened, inspected WIM file.
///
/// ```no_run
/// use dart_core::image::RecoveryImage;
/// let image = RecoveryImage::open("boot.wim")?;
/// for i in &image.info().images {
///     println!("{} {:?} winpe={}", i.index, i.name, i.is_winpe);
/// }
/// # Ok::<(), dart_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RecoveryImage {
    info: WimInfo,
}

pub(crate) fn property(wim: &Wim, index: ImageIndex, name: &str) -> Option<String> {
    let c = CString::new(name).ok()?;
    wim.select_image(index)
        .property(wim::tstr(&c))
        .map(|s| s.to_str().to_string())
        .filter(|s| !s.is_empty())
}

fn number(wim: &Wim, index: ImageIndex, name: &str) -> Option<u64> {
    let text = property(wim, index, name)?;
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.trim().parse().ok(),
    }
}

pub(crate) fn image_index(path: &Path, wim: &Wim, index: u32) -> Result<ImageIndex> {
    let count = wim.info().image_count;
    ImageIndex::new(index)
        .filter(|_| index <= count)
        .ok_or(Error::NoSuchImage {
            path: path.to_path_buf(),
            index,
            count,
        })
}

impl RecoveryImage {
    /// Opens a WIM file read-only and reads what it holds.
    pub fn open(path: impl AsRef<Path>) -> Result<RecoveryImage> {
        let path = path.as_ref();
        let wim = wim::open(path)?;
        let header = wim.info();
        let file_size = std::fs::metadata(path)
            .map_err(|e| Error::read(path, e))?
            .len();
        let images = (1..=header.image_count)
            .filter_map(ImageIndex::new)
            .map(|i| image_info(&wim, i))
            .collect::<Vec<_>>();
        Ok(RecoveryImage {
            info: WimInfo {
                path: path.to_path_buf(),
                guid: header.guid.simple().to_string(),
                image_count: header.image_count,
                boot_index: (header.boot_index != 0).then_some(header.boot_index),
                compression: Compression::from_wimlib(header.compression_type),
                chunk_size: header.chunk_size,
                file_size,
                images,
            },
        })
    }

    /// What the WIM holds.
    pub fn info(&self) -> &WimInfo {
        &self.info
    }

    /// One image by 1-based index.
    pub fn image(&self, index: u32) -> Result<&ImageInfo> {
        self.info
            .images
            .get((index as usize).wrapping_sub(1))
            .ok_or(Error::NoSuchImage {
                path: self.info.path.clone(),
                index,
                count: self.info.image_count,
            })
    }

    /// The image a recipe uses when none is named: the boot image, else 1.
    pub fn default_index(&self) -> u32 {
        self.info.boot_index.unwrap_or(1)
    }

    /// Every path in an image, `/`-separated from the root, directories with a
    /// trailing `/`, sorted. Reads the image's metadata resource.
    pub fn list_files(&self, index: u32) -> Result<Vec<String>> {
        let path = &self.info.path;
        let wim = wim::open(path)?;
        let idx = image_index(path, &wim, index)?;
        let mut out = Vec::new();
        let root = CString::new("/").map_err(|_| Error::invalid("path", "/", "NUL"))?;
        wim.select_image(idx)
            .iterate_dir_tree(wim::tstr(&root), IterateDirTreeFlags::RECURSIVE, |entry| {
                let full = entry.full_path.to_str().replace('\\', "/");
                if full.is_empty() || full == "/" {
                    return Ok(());
                }
                let dir = entry
                    .file_attributes
                    .contains(wimlib::FileAttributes::DIRECTORY);
                out.push(if dir { format!("{full}/") } else { full });
                Ok(())
            })
            .map_err(|e| wim::classify(path, "listing files", e))?;
        out.sort();
        Ok(out)
    }
}

impl RecoveryImage {
    /// Copies the file `inside` (`\Windows\Boot\DVD\EFI\BCD`, case does not
    /// matter) of image `index` to the new file `dest`; `Ok(false)` when
    /// the image has no such file. For small files (stores, boot
    /// managers): the copy is made in a scratch directory beside `dest`
    /// and renamed into place.
    pub fn extract_file(&self, index: u32, inside: &str, dest: &Path) -> Result<bool> {
        let path = &self.info.path;
        let wanted = inside.replace('\\', "/");
        let wanted = wanted.trim_start_matches('/');
        let exists = self
            .list_files(index)?
            .iter()
            .any(|f| f.trim_start_matches('/').eq_ignore_ascii_case(wanted));
        if !exists {
            return Ok(false);
        }
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let scratch = tempfile::tempdir_in(parent).map_err(|e| Error::write(parent, e))?;
        let wim = wim::open(path)?;
        let idx = image_index(path, &wim, index)?;
        let target = wim::c_path(scratch.path())?;
        let inner = wim::c_string("path inside the WIM", &format!("/{wanted}"))?;
        let list = [wimlib::string::ThinTStr::new(wim::tstr(&inner))];
        wim.select_image(idx)
            .extract_from_paths(
                &list,
                wim::tstr(&target),
                wimlib::ExtractFlags::NO_PRESERVE_DIR_STRUCTURE | wimlib::ExtractFlags::NO_ACLS,
            )
            .map_err(|e| wim::classify(path, "extracting a file from", e))?;
        let name = wanted.rsplit('/').next().unwrap_or(wanted);
        let found = std::fs::read_dir(scratch.path())
            .map_err(|e| Error::read(scratch.path(), e))?
            .filter_map(|e| e.ok())
            .find(|e| e.file_name().to_string_lossy().eq_ignore_ascii_case(name))
            .map(|e| e.path());
        match found {
            Some(f) => {
                std::fs::rename(&f, dest).map_err(|e| Error::write(dest, e))?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

fn image_info(wim: &Wim, idx: ImageIndex) -> ImageInfo {
    let edition_id = property(wim, idx, "WINDOWS/EDITIONID");
    let installation_type = property(wim, idx, "WINDOWS/INSTALLATIONTYPE");
    let is_winpe = [&edition_id, &installation_type].iter().any(|v| {
        v.as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("WindowsPE"))
    });
    ImageInfo {
        index: idx.get(),
        name: property(wim, idx, "NAME"),
        description: property(wim, idx, "DESCRIPTION"),
        architecture: number(wim, idx, "WINDOWS/ARCH")
            .and_then(|a| u32::try_from(a).ok())
            .and_then(Architecture::from_wim_arch_value),
        edition_id,
        installation_type,
        is_winpe,
        total_bytes: number(wim, idx, "TOTALBYTES").unwrap_or(0),
        file_count: number(wim, idx, "FILECOUNT").unwrap_or(0),
        dir_count: number(wim, idx, "DIRCOUNT").unwrap_or(0),
        dart_tools: property(wim, idx, "DART/TOOLS").and_then(|t| t.parse().ok()),
    }
}
