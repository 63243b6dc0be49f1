//! [`MediumSpec`]: what goes onto a medium, from a media tree (or ISO) and
//! the built images: the media as they are, the media with a built WIM in
//! place of `sources/boot.wim`, or several images behind a boot menu.
//!
//! [`MediumSpec::prepare`] turns the spec into a [`Medium`]: a
//! [`MediaSet`] whose extra files (WIMs, generated stores, loaders taken
//! from a WIM) are read from where they are, never copied first, plus a
//! report of the menu. Every writer of media (USB, ISO, recovery
//! partition, staging) takes a spec, so each of them accepts `--wim` and
//! `--image` the same way.
//!
//! **Several images.** Each WIM goes to `\sources\<slug>.wim`; the files
//! the images share (`bootmgr`, `boot.sdi`, fonts, EFI loaders) are the
//! media's own, once. dart writes `\boot\BCD` (when the media boot on
//! BIOS) and `\EFI\Microsoft\Boot\BCD` (when they boot on UEFI) with one
//! entry per image in the given order, cloned from the media's own store
//! (or the store inside the WIM, `\Windows\Boot\DVD\{PCAT,EFI}\BCD`, or a
//! new one: see [`crate::formats::bcd`]); the media's own entries and
//! `sources/boot.wim` are left out. Entries get `bootmenupolicy Legacy`:
//! with `Standard` the boot manager leaves the menu to the Windows it
//! starts, and WinPE draws none.
//!
//! **Both architectures.** See DESIGN.md ("32-bit and 64-bit on one
//! medium"): the BIOS menu lists every x86 and x64 image (the BIOS boot
//! manager is 32-bit and starts both), labelled by architecture when both
//! are present; a medium boots one UEFI architecture ([`MediumSpec::uefi_arch`]):
//! its loader, a UEFI menu of its images, and no loader for another, since
//! every UEFI loader reads the one `\EFI\Microsoft\Boot\BCD` and the boot
//! manager does not hide entries it cannot start.
//!
//! | module | owns |
//! |---|---|
//! | `menu` | several images behind one menu: stores cloned, entries added |
//! | `boot_manager` | the UEFI boot manager (2011 or 2023 CA) put on the medium |

mod boot_manager;
mod menu;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::image::RecoveryImage;
use crate::model::arch::Architecture;
pub use crate::model::media::BIOS_BCD;
use crate::model::media::{MediaSet, BOOT_WIM};
pub use boot_manager::BootManager;
use boot_manager::{choice_name, place_boot_manager};

/// One image of a boot menu: `DESCRIPTION=PATH.wim` on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuImage {
    /// The menu text.
    pub description: String,
    /// The WIM file.
    pub wim: PathBuf,
}

impl FromStr for MenuImage {
    type Err = Error;
    fn from_str(s: &str) -> Result<MenuImage> {
        match s.split_once('=') {
            Some((d, p)) if !d.trim().is_empty() && !p.trim().is_empty() => Ok(MenuImage {
                description: d.trim().to_string(),
                wim: PathBuf::from(p.trim()),
            }),
            _ => Err(Error::invalid(
                "image",
                s,
                "expected DESCRIPTION=PATH.wim, e.g. \"DaRT (full)=dart-full.wim\"",
            )),
        }
    }
}

/// What goes onto a medium.
///
/// ```no_run
/// use dart_core::deploy::MediumSpec;
/// let spec = MediumSpec {
///     images: vec!["DaRT (full)=full.wim".parse()?, "DaRT (basic)=basic.wim".parse()?],
///     default: Some("DaRT (basic)".into()),
///     timeout: Some(10),
///     ..MediumSpec::new("winpe-media")
/// };
/// let medium = spec.prepare()?;
/// for entry in &medium.menu {
///     println!("{} -> {}", entry.description, entry.path);
/// }
/// # Ok::<(), dart_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediumSpec {
    /// The media tree or ISO image whose boot files are used.
    pub media: PathBuf,
    /// A built image to use in place of the media's `sources/boot.wim`.
    pub wim: Option<PathBuf>,
    /// Several images behind a boot menu, in menu order.
    pub images: Vec<MenuImage>,
    /// The description of the default entry (the first image when unset).
    pub default: Option<String>,
    /// Seconds the menu waits (the store's own value when unset).
    pub timeout: Option<u64>,
    /// The one architecture the medium boots on UEFI (see the module
    /// documentation); unset: x64 when an image is x64, else the images'.
    pub uefi_arch: Option<Architecture>,
    /// Which UEFI boot manager goes on the medium; unset: the media's.
    pub boot_manager: Option<BootManager>,
}

impl MediumSpec {
    /// The media at `media` as they are.
    pub fn new(media: impl Into<PathBuf>) -> MediumSpec {
        MediumSpec {
            media: media.into(),
            ..MediumSpec::default()
        }
    }
}

impl From<&Path> for MediumSpec {
    fn from(p: &Path) -> MediumSpec {
        MediumSpec::new(p)
    }
}

impl From<&PathBuf> for MediumSpec {
    fn from(p: &PathBuf) -> MediumSpec {
        MediumSpec::new(p)
    }
}

impl From<PathBuf> for MediumSpec {
    fn from(p: PathBuf) -> MediumSpec {
        MediumSpec::new(p)
    }
}

impl From<&MediumSpec> for MediumSpec {
    fn from(s: &MediumSpec) -> MediumSpec {
        s.clone()
    }
}

/// One entry of the menu dart wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MenuEntry {
    /// The menu text.
    pub description: String,
    /// Where the WIM is on the medium (`\sources\full.wim`).
    pub path: String,
    /// The image's architecture.
    pub architecture: Architecture,
    /// Its id in `\boot\BCD`, when the medium boots on BIOS.
    pub bios_id: Option<String>,
    /// Its id in `\EFI\Microsoft\Boot\BCD`, when the UEFI menu lists it.
    pub uefi_id: Option<String>,
    /// Whether it is the default.
    pub default: bool,
}

/// A prepared medium: the files to write and the menu.
#[derive(Debug)]
pub struct Medium {
    /// The files.
    pub set: MediaSet,
    /// The boot menu dart wrote (empty when the media's stores are kept).
    pub menu: Vec<MenuEntry>,
    /// Where each store came from, per store path ("media", "WIM", "new").
    pub templates: Vec<(String, String)>,
    /// What dart chose and why: loaders taken from a WIM or left off,
    /// entries left out of a menu.
    pub notes: Vec<String>,
    /// Generated files live here until the medium is written.
    _scratch: Option<tempfile::TempDir>,
}

impl Medium {
    /// Every path the medium reads from (see [`MediaSet::inputs`]).
    pub fn inputs(&self) -> Vec<&Path> {
        self.set.inputs()
    }
}

impl MediumSpec {
    /// Checks the spec and assembles the medium; nothing is written but
    /// generated stores in a scratch directory.
    pub fn prepare(&self) -> Result<Medium> {
        let mut set = MediaSet::open(&self.media)?;
        if self.wim.is_some() && !self.images.is_empty() {
            return Err(Error::invalid(
                "image",
                self.images[0].description.clone(),
                "give either one built image (wim) or several images behind a menu, not both",
            ));
        }
        if self.images.is_empty() && (self.default.is_some() || self.timeout.is_some()) {
            return Err(Error::invalid(
                "default",
                self.default
                    .clone()
                    .unwrap_or_else(|| format!("timeout {:?}", self.timeout)),
                "a default entry and a timeout need images behind a menu",
            ));
        }
        if let Some(wim) = &self.wim {
            RecoveryImage::open(wim)?;
            set.put_file(BOOT_WIM, wim)?;
            return single(set, self);
        }
        if self.images.is_empty() {
            return single(set, self);
        }
        menu::compose(set, self)
    }
}

fn scratch_dir() -> Result<tempfile::TempDir> {
    tempfile::tempdir().map_err(|e| Error::write(Path::new("scratch directory"), e))
}

/// The media as they are or with one built WIM; a boot manager choice
/// applies to the UEFI loaders they carry (or to `uefi_arch`).
fn single(mut set: MediaSet, spec: &MediumSpec) -> Result<Medium> {
    let mut notes = Vec::new();
    let scratch = scratch_dir()?;
    if let Some(choice) = spec.boot_manager {
        let wim = match set.boot_wim() {
            Some(p) => RecoveryImage::open(p)?,
            None => {
                return Err(Error::invalid(
                    "boot manager",
                    choice_name(choice),
                    "the media's sources/boot.wim is inside an ISO image or missing; give the built image with wim so the boot manager can be taken from it",
                ))
            }
        };
        let index = wim.default_index();
        let archs: Vec<Architecture> = match spec.uefi_arch {
            Some(a) => vec![a],
            None => Architecture::ALL
                .into_iter()
                .filter(|a| set.find(&a.efi_loader_path()).is_some())
                .collect(),
        };
        if archs.is_empty() {
            return Err(Error::invalid(
                "boot manager",
                choice_name(choice),
                "the media carry no UEFI loader (efi/boot/boot*.efi) to replace; name the architecture with uefi_arch",
            ));
        }
        for arch in archs {
            let wims = [(&wim, index)];
            if !place_boot_manager(&mut set, choice, arch, &wims, scratch.path(), &mut notes)? {
                return Err(Error::invalid(
                    "boot manager",
                    choice_name(choice),
                    format!(
                        "the image has no \\Windows\\Boot\\EFI\\bootmgfw.efi to use as {}",
                        arch.efi_loader_path()
                    ),
                ));
            }
        }
    }
    Ok(Medium {
        set,
        menu: Vec::new(),
        templates: Vec::new(),
        notes,
        _scratch: Some(scratch),
    })
}
