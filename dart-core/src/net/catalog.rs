//! The images a boot server offers: names, roles, versions, boot files.
//!
//! The catalog lives in the server root as [`CATALOG_FILE`] (JSON). Each
//! image version is a directory of its own, `images/<name>/<version>/`,
//! written completely before the catalog names it (see
//! [`stage`](crate::deploy::stage::stage)). Replacing an image is therefore one
//! atomic rename of the catalog file: a client that read the old catalog
//! (got the old boot file at DHCP) keeps reading the old version's files,
//! which stay on disk as a [retired](Catalog::retired) version until later
//! updates prune them, and a TFTP transfer already running keeps its open
//! file even when its version is pruned.

use std::fs::File;
use std::io::Write;
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

use super::client_arch::ClientArch;
pub use super::image_role::ImageRole;
use crate::error::{Error, Result};
use crate::model::arch::Architecture;
use crate::model::media::{MediaSet, BIOS_BCD, BOOT_SDI, BOOT_WIM, UEFI_BCD};

/// The catalog's file name in the server root.
pub const CATALOG_FILE: &str = "dart-catalog.json";
/// The directory in the server root that holds the staged images.
pub const IMAGES_DIR: &str = "images";

/// One staged version of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogImage {
    /// The image's name (letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// Recovery or imaging.
    pub role: ImageRole,
    /// 1 for the first staging, one more for each replacement.
    pub version: u32,
    /// The processor architecture the image boots on.
    pub arch: Architecture,
    /// The version's directory, relative to the root (`images/NAME/VERSION`).
    pub dir: String,
    /// The UEFI PXE boot file, relative to the root, if the media has one.
    pub uefi_boot: Option<String>,
    /// The BIOS PXE boot file, relative to the root, if the media has one.
    pub bios_boot: Option<String>,
    /// The BIOS PXE loader that waits for F12 before it boots
    /// (`pxeboot.com`), relative to the root, if the media has one and it
    /// is not [`bios_boot`](Self::bios_boot); offered to clients whose
    /// policy asks for the key press.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bios_prompt_boot: Option<String>,
    /// What a generated boot menu needs of this image (its WIM, `boot.sdi`
    /// and template stores); `None` for media without a WIM (catalogs
    /// written before menus existed are read as staged: see
    /// [`MenuParts::find`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub menu: Option<MenuParts>,
    /// Number of files.
    pub files: usize,
    /// Total bytes.
    pub bytes: u64,
    /// When it was staged, in seconds since the Unix epoch.
    pub staged_at: u64,
}

/// The files of a staged image that a boot menu entry names, and the
/// stores its entries are cloned from; paths relative to the root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuParts {
    /// The WIM booted from a RAM disk (`images/NAME/VERSION/sources/boot.wim`).
    pub wim: String,
    /// The RAM disk's `boot.sdi`.
    pub sdi: String,
    /// The media's BIOS store (`boot/bcd`), the template of BIOS menus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bios_store: Option<String>,
    /// The media's UEFI store (`efi/microsoft/boot/bcd`), the template of
    /// UEFI menus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uefi_store: Option<String>,
}

impl MenuParts {
    /// Looks the parts up in a media set staged into `dir` (relative to the
    /// root): `sources/boot.wim` and `boot/boot.sdi` are needed, the
    /// stores are taken when present. Names are matched without case, as
    /// the media's are.
    pub fn find(media: &MediaSet, dir: &str) -> Option<MenuParts> {
        let at = |p: &str| media.find(p).map(|f| format!("{dir}/{}", f.path));
        Some(MenuParts {
            wim: at(BOOT_WIM)?,
            sdi: at(BOOT_SDI)?,
            bios_store: at(BIOS_BCD),
            uefi_store: at(UEFI_BCD),
        })
    }
}

impl CatalogImage {
    /// The boot file for a client of this PXE architecture, if this image
    /// serves it: BIOS clients get [`bios_boot`](Self::bios_boot), UEFI
    /// clients of the image's architecture [`uefi_boot`](Self::uefi_boot).
    pub fn boot_file(&self, arch: ClientArch) -> Option<&str> {
        if arch.same_as(ClientArch::BIOS) {
            return self.bios_boot.as_deref();
        }
        if arch.same_as(ClientArch(self.arch.pxe_uefi_client_arch())) {
            return self.uefi_boot.as_deref();
        }
        None
    }
}

/// The images on offer: the current version of each, and older versions
/// still on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// The current version of each image, sorted by name.
    pub images: Vec<CatalogImage>,
    /// Replaced versions kept on disk so that clients that started on them
    /// can finish; pruned by later stagings.
    #[serde(default)]
    pub retired: Vec<CatalogImage>,
}

impl Catalog {
    /// Reads the catalog of a server root; a root without one has an empty
    /// catalog.
    pub fn load(root: &Path) -> Result<Catalog> {
        let path = root.join(CATALOG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Catalog::default()),
            Err(e) => return Err(Error::read(&path, e)),
        };
        serde_json::from_str(&text).map_err(|e| {
            Error::invalid(
                "image catalog",
                path.display(),
                format!("{e}; restage the images or restore the file"),
            )
        })
    }

    /// Writes the catalog into `root` atomically: a temporary file, synced,
    /// renamed over the old catalog, and the directory synced. A failure
    /// leaves the old catalog in place.
    pub fn save(&self, root: &Path) -> Result<()> {
        let path = root.join(CATALOG_FILE);
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::invalid("image catalog", path.display(), e.to_string()))?;
        let untouched = "the previous catalog was left in place";
        let io = |action, e| Error::Io {
            action,
            path: path.clone(),
            source: e,
            untouched,
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".dart-catalog")
            .tempfile_in(root)
            .map_err(|e| io("creating a temporary file next to", e))?;
        tmp.write_all(&text)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| io("writing", e))?;
        tmp.persist(&path)
            .map_err(|e| io("renaming the new catalog onto", e.error))?;
        sync_dir(root).map_err(|e| io("syncing the directory of", e))
    }

    /// The current version of the image called `name` (compared without
    /// regard to case, as every image name is).
    pub fn current(&self, name: &str) -> Option<&CatalogImage> {
        self.images
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case(name))
    }

    /// The image version (current or retired) whose directory holds `path`
    /// (relative to the root).
    pub fn owner(&self, path: &Path) -> Option<&CatalogImage> {
        let parts: Vec<&str> = path
            .components()
            .take(3)
            .filter_map(|c| match c {
                Component::Normal(s) => s.to_str(),
                _ => None,
            })
            .collect();
        let [images, name, version] = parts.as_slice() else {
            return None;
        };
        if !images.eq_ignore_ascii_case(IMAGES_DIR) {
            return None;
        }
        self.images
            .iter()
            .chain(&self.retired)
            .find(|i| i.name.eq_ignore_ascii_case(name) && i.version.to_string() == *version)
    }
}

/// Syncs a directory, so that a rename in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A catalog image of `name` for tests.
#[cfg(test)]
pub(crate) fn sample_image(
    name: &str,
    role: ImageRole,
    arch: Architecture,
    version: u32,
) -> CatalogImage {
    CatalogImage {
        name: name.into(),
        role,
        version,
        arch,
        dir: format!("images/{name}/{version}"),
        uefi_boot: Some(format!("images/{name}/{version}/efi/boot/bootx64.efi")),
        bios_boot: None,
        bios_prompt_boot: None,
        menu: Some(MenuParts {
            wim: format!("images/{name}/{version}/sources/boot.wim"),
            sdi: format!("images/{name}/{version}/boot/boot.sdi"),
            bios_store: None,
            uefi_store: None,
        }),
        files: 1,
        bytes: 1,
        staged_at: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(name: &str, role: ImageRole, arch: Architecture, version: u32) -> CatalogImage {
        sample_image(name, role, arch, version)
    }

    #[test]
    fn owner_maps_files_to_current_and_retired_versions() {
        let catalog = Catalog {
            images: vec![image("rescue", ImageRole::Recovery, Architecture::X64, 2)],
            retired: vec![image("rescue", ImageRole::Recovery, Architecture::X64, 1)],
        };
        let owner = |p: &str| catalog.owner(Path::new(p)).map(|i| i.version);
        assert_eq!(owner("images/rescue/2/sources/boot.wim"), Some(2));
        assert_eq!(owner("Images/RESCUE/1/efi/boot/bootx64.efi"), Some(1));
        assert_eq!(owner("images/rescue/3/x"), None);
        assert_eq!(owner("images/rescue"), None);
        assert_eq!(owner("dart-catalog.json"), None);
        assert_eq!(owner("other/rescue/2/x"), None);
    }

    #[test]
    fn save_is_atomic_and_load_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Catalog::load(dir.path()).unwrap(), Catalog::default());
        let catalog = Catalog {
            images: vec![image("rescue", ImageRole::Recovery, Architecture::X64, 1)],
            retired: Vec::new(),
        };
        catalog.save(dir.path()).unwrap();
        assert_eq!(Catalog::load(dir.path()).unwrap(), catalog);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [CATALOG_FILE], "no temporary file left behind");
        std::fs::write(dir.path().join(CATALOG_FILE), "{ not json").unwrap();
        let e = Catalog::load(dir.path()).unwrap_err();
        assert!(e.to_string().contains(CATALOG_FILE), "{e}");
    }
}
