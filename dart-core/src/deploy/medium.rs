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
//! medium"): the BIOS menu lists every image (the BIOS boot manager is
//! 32-bit and starts both); the UEFI store lists the images of one
//! architecture, and a medium that needs UEFI menus for two architectures
//! is refused unless they are the same set, because both UEFI loaders
//! read the one `\EFI\Microsoft\Boot\BCD`.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::formats::bcd::{names, ElementValue, Store, WinPeEntry};
use crate::image::RecoveryImage;
use crate::model::arch::Architecture;
use crate::model::media::{Firmware, MediaSet, BOOT_WIM, UEFI_BCD};

/// The BIOS store on a medium.
pub const BIOS_BCD: &str = "boot/bcd";

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
    /// Generated files live here until the medium is written.
    _scratch: Option<tempfile::TempDir>,
}

impl Medium {
    /// Every path the medium reads from (see [`MediaSet::inputs`]).
    pub fn inputs(&self) -> Vec<&Path> {
        self.set.inputs()
    }
}

/// A file name for a menu entry: lower-case ASCII letters, digits and
/// dashes.
fn slug(description: &str) -> String {
    let mut out = String::new();
    for c in description.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t = out.trim_matches('-');
    if t.is_empty() {
        "image".into()
    } else {
        t.chars().take(40).collect()
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
            return Ok(Medium {
                set,
                menu: Vec::new(),
                templates: Vec::new(),
                _scratch: None,
            });
        }
        if self.images.is_empty() {
            return Ok(Medium {
                set,
                menu: Vec::new(),
                templates: Vec::new(),
                _scratch: None,
            });
        }
        compose(set, self)
    }
}

/// An image of the menu, checked.
struct Planned {
    image: MenuImage,
    slug: String,
    architecture: Architecture,
    index: u32,
    opened: RecoveryImage,
}

fn plan_images(spec: &MediumSpec) -> Result<Vec<Planned>> {
    let mut out: Vec<Planned> = Vec::new();
    for image in &spec.images {
        let d = image.description.trim();
        if d.is_empty() || d.chars().any(char::is_control) || d.chars().count() > 120 {
            return Err(Error::invalid(
                "image description",
                d,
                "expected 1 to 120 characters without control characters",
            ));
        }
        if let Some(other) = out
            .iter()
            .find(|p| p.image.description.eq_ignore_ascii_case(d))
        {
            return Err(Error::invalid(
                "image description",
                d,
                format!(
                    "{} already uses it; each entry needs its own",
                    other.image.wim.display()
                ),
            ));
        }
        let mut s = slug(d);
        let base = s.clone();
        let mut n = 2;
        while out.iter().any(|p| p.slug == s) || s == "boot" {
            s = format!("{base}-{n}");
            n += 1;
        }
        let opened = RecoveryImage::open(&image.wim)?;
        let index = opened.default_index();
        let architecture = opened.image(index)?.architecture.ok_or_else(|| {
            Error::invalid(
                "image",
                image.wim.display(),
                format!("image {index} of the WIM has no WINDOWS/ARCH property, so the menu cannot tell which firmware starts it"),
            )
        })?;
        out.push(Planned {
            image: MenuImage {
                description: d.to_string(),
                wim: image.wim.clone(),
            },
            slug: s,
            architecture,
            index,
            opened,
        });
    }
    if let Some(def) = &spec.default {
        if !out
            .iter()
            .any(|p| p.image.description.eq_ignore_ascii_case(def.trim()))
        {
            return Err(Error::invalid(
                "default",
                def,
                format!(
                    "no image has this description; the images are: {}",
                    out.iter()
                        .map(|p| p.image.description.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(out)
}

/// The store to clone entries from, and where it came from.
fn template(
    set: &MediaSet,
    store_path: &str,
    firmware: Firmware,
    images: &[Planned],
    scratch: &Path,
) -> Result<(Store, String)> {
    if let Some(f) = set.find(store_path) {
        let bytes = set.source(f).read_all()?;
        if let Ok(store) = Store::parse(&bytes, &set.root().join(&f.path)) {
            if store.object(names::BOOTMGR).is_some() {
                return Ok((store, format!("media {}", f.path)));
            }
        }
    }
    let inside = match firmware {
        Firmware::Uefi => r"\Windows\Boot\DVD\EFI\BCD",
        _ => r"\Windows\Boot\DVD\PCAT\BCD",
    };
    for (i, p) in images.iter().enumerate() {
        let dest = scratch.join(format!("template-{}-{i}", firmware.name()));
        if p.opened.extract_file(p.index, inside, &dest)? {
            if let Ok(store) = Store::open(&dest) {
                if store.object(names::BOOTMGR).is_some() {
                    return Ok((store, format!("{}{inside}", p.image.wim.display())));
                }
            }
        }
    }
    Ok((Store::new(firmware)?, "new".into()))
}

fn compose(mut set: MediaSet, spec: &MediumSpec) -> Result<Medium> {
    let images = plan_images(spec)?;
    let scratch =
        tempfile::tempdir().map_err(|e| Error::write(Path::new("scratch directory"), e))?;
    let bios = set.find("bootmgr").is_some();
    let uefi_loaders: Vec<Architecture> = Architecture::ALL
        .into_iter()
        .filter(|a| set.find(&a.efi_loader_path()).is_some())
        .collect();
    // The UEFI menu: the images of the medium's UEFI architecture.
    let uefi_arch = match uefi_loaders.as_slice() {
        [] => None,
        [one] => Some(*one),
        several => {
            let archs: Vec<Architecture> = images.iter().map(|p| p.architecture).collect();
            match several.iter().find(|a| archs.iter().all(|x| x == *a)) {
                Some(a) => Some(*a),
                None => {
                    return Err(Error::invalid(
                        "image",
                        archs.iter().map(|a| a.name()).collect::<Vec<_>>().join(","),
                        "the media carry UEFI loaders for several architectures, which all read the one \\EFI\\Microsoft\\Boot\\BCD; give images of one architecture, or media with the loader of one",
                    ))
                }
            }
        }
    };
    set.remove_file(BOOT_WIM);
    for p in &images {
        set.put_file(&format!("sources/{}.wim", p.slug), &p.image.wim)?;
    }
    let mut menu: Vec<MenuEntry> = images
        .iter()
        .map(|p| MenuEntry {
            description: p.image.description.clone(),
            path: format!(r"\sources\{}.wim", p.slug),
            architecture: p.architecture,
            bios_id: None,
            uefi_id: None,
            default: false,
        })
        .collect();
    let default_desc = spec
        .default
        .clone()
        .unwrap_or_else(|| images[0].image.description.clone());
    let mut templates = Vec::new();
    let stores = [
        (Firmware::Bios, BIOS_BCD, bios.then_some(None)),
        (Firmware::Uefi, UEFI_BCD, uefi_arch.map(Some)),
    ];
    for (firmware, path, wanted) in stores {
        let Some(only_arch) = wanted else { continue };
        let (mut store, from) = template(&set, path, firmware, &images, scratch.path())?;
        let old = store.display_order();
        let mut listed = 0;
        for (p, entry) in images.iter().zip(menu.iter_mut()) {
            if only_arch.is_some_and(|a| a != p.architecture) {
                continue;
            }
            let e = WinPeEntry {
                firmware: Some(firmware),
                id: Some(entry_id(firmware, &p.image.description, &entry.path)),
                ..WinPeEntry::new(&p.image.description, &entry.path)
            };
            let id = store.add_winpe(&e, false)?;
            store.set_element_value(
                id,
                names::element::BOOTMENUPOLICY,
                &ElementValue::Integer(0),
            )?;
            let text = format!("{{{id}}}");
            match firmware {
                Firmware::Uefi => entry.uefi_id = Some(text),
                _ => entry.bios_id = Some(text),
            }
            if p.image
                .description
                .eq_ignore_ascii_case(default_desc.trim())
            {
                store.set_default(id)?;
            }
            listed += 1;
        }
        if listed == 0 {
            continue;
        }
        for id in old {
            store.remove(id)?;
        }
        if store.default_entry().is_none() {
            if let Some(first) = store.display_order().first().copied() {
                store.set_default(first)?;
            }
        }
        if let Some(t) = spec.timeout {
            store.set_timeout(t)?;
        }
        let file = scratch.path().join(firmware.name());
        std::fs::write(&file, store.to_bytes()).map_err(|e| Error::write(&file, e))?;
        set.put_file(path, &file)?;
        templates.push((path.to_string(), from));
    }
    for entry in &mut menu {
        entry.default = entry.description.eq_ignore_ascii_case(default_desc.trim());
    }
    Ok(Medium {
        set,
        menu,
        templates,
        _scratch: Some(scratch),
    })
}

/// A menu entry's id, the same for the same entry every time (so a dry
/// run names the ids a write will use, and equal inputs give equal
/// media): a name-based UUID (version 8) from SHA-256.
fn entry_id(firmware: Firmware, description: &str, path: &str) -> uuid::Uuid {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in ["dart menu entry", firmware.name(), description, path] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_plain_file_names() {
        assert_eq!(slug("DaRT 10 (full, x64)"), "dart-10-full-x64");
        assert_eq!(slug("***"), "image");
        assert_eq!(slug("Ünïcode"), "n-code");
    }

    #[test]
    fn an_image_argument_needs_a_description_and_a_path() {
        let i: MenuImage = "DaRT (full)=out/full.wim".parse().unwrap();
        assert_eq!(i.description, "DaRT (full)");
        assert_eq!(i.wim, PathBuf::from("out/full.wim"));
        assert!("nopath=".parse::<MenuImage>().is_err());
        assert!("=x.wim".parse::<MenuImage>().is_err());
        assert!("x.wim".parse::<MenuImage>().is_err());
    }
}
