//! [`BootManager`]: which UEFI boot manager goes on a medium (2011 or
//! 2023 CA), and putting it there from the media or an image.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::image::RecoveryImage;
use crate::model::arch::Architecture;
use crate::model::media::MediaSet;

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

pub(super) fn choice_name(c: BootManager) -> &'static str {
    match c {
        BootManager::Pca2011 => "2011",
        BootManager::Uefi2023 => "2023",
    }
}

/// Puts the UEFI boot manager for `arch` on the medium as `choice`: for
/// 2011 the media's own, else the WIM's `bootmgfw.efi`; for 2023 the WIM's
/// `bootmgfw_EX.efi` with its fonts and `boot.stl`. Returns whether the
/// medium has one afterwards.
pub(super) fn place_boot_manager(
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
