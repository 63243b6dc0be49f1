//! Several images behind one boot menu: the images checked, the stores
//! cloned from a template, one entry per image in each store the medium
//! boots with (see the parent module).

use std::path::Path;

use super::boot_manager::{place_boot_manager, BootManager};
use super::{scratch_dir, Medium, MediumSpec, MenuEntry, MenuImage, BIOS_BCD};
use crate::error::{Error, Result};
use crate::formats::bcd::{derived_id, labelled, names, ElementValue, Store, WinPeEntry};
use crate::image::RecoveryImage;
use crate::model::arch::Architecture;
use crate::model::media::{Firmware, MediaSet, BOOT_WIM, UEFI_BCD};

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

pub(super) fn compose(mut set: MediaSet, spec: &MediumSpec) -> Result<Medium> {
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
    if !has_uefi && set.find(UEFI_BCD).is_some() {
        // Its entries name the media's own boot.wim, which is left out.
        set.remove_file(UEFI_BCD);
        notes.push(format!(
            "{UEFI_BCD} left off: no {uefi_arch} boot manager, so the medium boots on BIOS only"
        ));
    }
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
/// media).
fn entry_id(firmware: Firmware, description: &str, path: &str) -> uuid::Uuid {
    derived_id(&["dart menu entry", firmware.name(), description, path])
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

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
