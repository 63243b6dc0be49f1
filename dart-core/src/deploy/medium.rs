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
    /// The one architecture the medium boots on UEFI (see the module
    /// documentation); unset: x64 when an image is x64, else the images'.
    pub uefi_arch: Option<Architecture>,
    /// Which UEFI boot manager goes on the medium; unset: the media's.
    pub boot_manager: Option<BootManager>,
}

/// The UEFI boot manager put on a medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BootManager {
    /// Signed by "Microsoft Windows Production PCA 2011": the media's
    /// `efi/boot/boot<arch>.efi`, else the WIM's
    /// `\Windows\Boot\EFI\bootmgfw.efi`.
    #[serde(rename = "2011")]
    Pca2011,
    /// Signed by "Windows UEFI CA 2023": the WIM's
    /// `\Windows\Boot\EFI_EX\bootmgfw_EX.efi`, with its fonts
    /// (`Fonts_EX`) and `boot.stl` as Microsoft's `Make2023BootableMedia`
    /// places them. PCs that do not trust the 2023 CA yet do not start it.
    #[serde(rename = "2023")]
    Uefi2023,
}

impl FromStr for BootManager {
    type Err = Error;
    fn from_str(s: &str) -> Result<BootManager> {
        match s.trim() {
            "2011" | "pca2011" => Ok(BootManager::Pca2011),
            "2023" | "ca2023" => Ok(BootManager::Uefi2023),
            _ => Err(Error::invalid(
                "boot manager",
                s,
                "expected 2011 (Microsoft Windows Production PCA 2011) or 2023 (Windows UEFI CA 2023)",
            )),
        }
    }
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
            return single(set, self);
        }
        if self.images.is_empty() {
            return single(set, self);
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

fn choice_name(c: BootManager) -> &'static str {
    match c {
        BootManager::Pca2011 => "2011",
        BootManager::Uefi2023 => "2023",
    }
}

/// Puts the UEFI boot manager for `arch` on the medium as `choice`: for
/// 2011 the media's own, else the WIM's `bootmgfw.efi`; for 2023 the WIM's
/// `bootmgfw_EX.efi` with its fonts and `boot.stl`. Returns whether the
/// medium has one afterwards.
fn place_boot_manager(
    set: &mut MediaSet,
    choice: BootManager,
    arch: Architecture,
    wims: &[(&RecoveryImage, u32)],
    scratch: &Path,
    notes: &mut Vec<String>,
) -> Result<bool> {
    let loader = arch.efi_loader_path();
    let extract = |inside: &str, name: &str| -> Result<Option<PathBuf>> {
        for (w, index) in wims {
            let dest = scratch.join(format!("{}-{name}", arch.name()));
            if w.extract_file(*index, inside, &dest)? {
                return Ok(Some(dest));
            }
        }
        Ok(None)
    };
    match choice {
        BootManager::Pca2011 => {
            if set.find(&loader).is_some() {
                return Ok(true);
            }
            match extract(r"\Windows\Boot\EFI\bootmgfw.efi", "bootmgfw.efi")? {
                Some(f) => {
                    set.put_file(&loader, &f)?;
                    notes.push(format!(
                        "{loader}: the boot manager of the {arch} image (\\Windows\\Boot\\EFI\\bootmgfw.efi)"
                    ));
                    Ok(true)
                }
                None => Ok(false),
            }
        }
        BootManager::Uefi2023 => {
            let Some(f) = extract(r"\Windows\Boot\EFI_EX\bootmgfw_EX.efi", "bootmgfw_EX.efi")?
            else {
                return Err(Error::invalid(
                    "boot manager",
                    "2023",
                    format!("no {arch} image carries \\Windows\\Boot\\EFI_EX\\bootmgfw_EX.efi (images with the April 2024 updates or later do)"),
                ));
            };
            set.put_file(&loader, &f)?;
            notes.push(format!(
                "{loader}: the 2023-CA boot manager of the {arch} image (\\Windows\\Boot\\EFI_EX\\bootmgfw_EX.efi)"
            ));
            // The fonts it expects, as Microsoft's Make2023BootableMedia
            // copies them: Fonts_EX\x_EX.ttf -> efi/microsoft/boot/fonts/x.ttf.
            for (w, index) in wims {
                let fonts: Vec<String> = w
                    .list_files(*index)?
                    .into_iter()
                    .filter(|p| {
                        let l = p.to_ascii_lowercase();
                        l.starts_with("/windows/boot/fonts_ex/") && l.ends_with("_ex.ttf")
                    })
                    .collect();
                for font in &fonts {
                    let name = font.rsplit('/').next().unwrap_or(font);
                    let plain = format!("{}.ttf", &name[..name.len() - "_EX.ttf".len()]);
                    let dest = scratch.join(format!("font-{plain}"));
                    if w.extract_file(*index, font, &dest)? {
                        set.put_file(&format!("efi/microsoft/boot/fonts/{plain}"), &dest)?;
                    }
                }
                if !fonts.is_empty() {
                    notes.push(format!(
                        "efi/microsoft/boot/fonts: {} font(s) of the 2023 boot manager",
                        fonts.len()
                    ));
                    break;
                }
            }
            if set.find("efi/microsoft/boot/boot.stl").is_none() {
                if let Some(stl) = extract(r"\Windows\Boot\EFI\boot.stl", "boot.stl")? {
                    set.put_file("efi/microsoft/boot/boot.stl", &stl)?;
                    notes.push("efi/microsoft/boot/boot.stl: taken from the image".into());
                }
            }
            Ok(true)
        }
    }
}

/// `description (64-bit)` unless it already says which.
fn labelled(description: &str, arch: Architecture) -> String {
    let l = description.to_ascii_lowercase();
    let said = ["x64", "x86", "64-bit", "32-bit", "arm64", "amd64", "i386"]
        .iter()
        .any(|w| l.contains(w));
    if said {
        return description.to_string();
    }
    let bits = match arch {
        Architecture::X86 => "32-bit",
        Architecture::X64 => "64-bit",
        Architecture::Arm64 => "ARM64",
    };
    format!("{description} ({bits})")
}

fn compose(mut set: MediaSet, spec: &MediumSpec) -> Result<Medium> {
    let images = plan_images(spec)?;
    let scratch = scratch_dir()?;
    let mut notes = Vec::new();
    let bios = set.find("bootmgr").is_some();
    let archs: Vec<Architecture> = images.iter().map(|p| p.architecture).collect();
    let uefi_arch = spec.uefi_arch.unwrap_or_else(|| {
        if archs.contains(&Architecture::X64) {
            Architecture::X64
        } else {
            archs[0]
        }
    });
    // One UEFI architecture per medium: both UEFI loaders would read the
    // one \EFI\Microsoft\Boot\BCD, and the boot manager does not hide
    // entries of another architecture.
    for other in Architecture::ALL.into_iter().filter(|a| *a != uefi_arch) {
        let path = other.efi_loader_path();
        if set.find(&path).is_some() {
            set.remove_file(&path);
            notes.push(format!(
                "{path} left off: both UEFI loaders would read the one \\EFI\\Microsoft\\Boot\\BCD, whose menu is for {uefi_arch}; {other} UEFI PCs boot this medium through BIOS only"
            ));
        }
    }
    let uefi_wims: Vec<(&RecoveryImage, u32)> = images
        .iter()
        .filter(|p| p.architecture == uefi_arch)
        .map(|p| (&p.opened, p.index))
        .collect();
    let has_uefi = if uefi_wims.is_empty() {
        notes.push(format!("no {uefi_arch} image: the medium has no UEFI menu"));
        set.remove_file(&uefi_arch.efi_loader_path());
        false
    } else {
        let choice = spec.boot_manager.unwrap_or(BootManager::Pca2011);
        place_boot_manager(
            &mut set,
            choice,
            uefi_arch,
            &uefi_wims,
            scratch.path(),
            &mut notes,
        )?
    };
    let uefi_arch = has_uefi.then_some(uefi_arch);
    for p in images.iter().filter(|p| Some(p.architecture) != uefi_arch) {
        notes.push(format!(
            "\"{}\" ({}) is in the BIOS menu only",
            p.image.description, p.architecture
        ));
    }
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
    let mixed = archs.iter().any(|a| *a != archs[0]);
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
            let fits = match only_arch {
                Some(a) => a == p.architecture,
                None => p.architecture.has_bios(),
            };
            if !fits {
                continue;
            }
            // Microsoft's dual-architecture media label their entries.
            let text = if mixed && firmware == Firmware::Bios {
                labelled(&p.image.description, p.architecture)
            } else {
                p.image.description.clone()
            };
            let e = WinPeEntry {
                firmware: Some(firmware),
                id: Some(entry_id(firmware, &p.image.description, &entry.path)),
                ..WinPeEntry::new(&text, &entry.path)
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
        notes,
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
