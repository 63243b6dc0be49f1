//! The arguments every command that writes media shares: the media tree,
//! a built image in place of its `sources/boot.wim` (`--wim`), or several
//! images behind a boot menu (`--image`, `--default`, `--timeout`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dart_core::deploy::{BootManager, Medium, MediumSpec, MenuImage};
use dart_core::model::arch::Architecture;

/// The media and the images on them.
#[derive(Args, Debug, Clone)]
pub struct MediumArgs {
    /// The media: a directory or an ISO image (its boot files are used).
    #[arg(long)]
    pub media: PathBuf,
    /// A built image to use in place of the media's sources/boot.wim.
    #[arg(long)]
    pub wim: Option<PathBuf>,
    /// The UEFI boot manager to put on the medium: 2011 (Microsoft Windows Production PCA 2011) or 2023 (Windows UEFI CA 2023, from the image's EFI_EX); default: the media's.
    #[arg(long, value_name = "2011|2023")]
    pub boot_manager: Option<BootManager>,
}

/// Several images behind a boot menu (removable media only).
#[derive(Args, Debug, Clone, Default)]
pub struct MenuArgs {
    /// An image for the boot menu, "DESCRIPTION=PATH.wim"; repeat for each entry, in menu order.
    #[arg(
        long = "image",
        value_name = "DESCRIPTION=PATH",
        conflicts_with = "wim"
    )]
    pub images: Vec<MenuImage>,
    /// The description of the default entry (default: the first image).
    #[arg(long, requires = "images")]
    pub default: Option<String>,
    /// Seconds the boot menu waits.
    #[arg(long, requires = "images")]
    pub timeout: Option<u64>,
    /// The one architecture the medium boots on UEFI (x64, x86, arm64); default: x64 when an image is x64.
    #[arg(long, requires = "images")]
    pub uefi_arch: Option<Architecture>,
}

impl MediumArgs {
    /// The spec, with a menu when one is given.
    pub fn spec(&self, menu: Option<&MenuArgs>) -> MediumSpec {
        let menu = menu.cloned().unwrap_or_default();
        MediumSpec {
            wim: self.wim.clone(),
            images: menu.images,
            default: menu.default,
            timeout: menu.timeout,
            uefi_arch: menu.uefi_arch,
            boot_manager: self.boot_manager,
            ..MediumSpec::new(&self.media)
        }
    }
}

/// Prints the menu a medium carries (nothing for media kept as they are).
pub fn print_menu(medium: &Medium) {
    for n in &medium.notes {
        outln!("note: {n}");
    }
    for (store, from) in &medium.templates {
        outln!("{store}: entries cloned from {from}");
    }
    for e in &medium.menu {
        let ids = [("bios", &e.bios_id), ("uefi", &e.uefi_id)]
            .iter()
            .filter_map(|(f, id)| id.as_ref().map(|i| format!("{f} {i}")))
            .collect::<Vec<_>>()
            .join(", ");
        outln!(
            "menu: {}{} -> {} ({}; {})",
            e.description,
            if e.default { " [default]" } else { "" },
            e.path,
            e.architecture,
            if ids.is_empty() {
                "in no menu".to_string()
            } else {
                ids
            }
        );
    }
}

/// Prepares the medium once to show its menu and notes before a write.
pub fn show_menu(spec: &MediumSpec) -> Result<()> {
    if spec.images.is_empty() && spec.boot_manager.is_none() {
        return Ok(());
    }
    print_menu(&spec.prepare()?);
    Ok(())
}
