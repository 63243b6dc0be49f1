//! `dart catalog ROOT`: the images of a boot server root.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use dart_core::net::catalog::Catalog;

/// `dart catalog` arguments.
#[derive(Args)]
pub struct CatalogArgs {
    /// The boot server root.
    root: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `dart catalog`.
pub fn run(a: CatalogArgs) -> Result<()> {
    print(&a.root, a.json)
}

/// Prints the catalog of `root`: one line per image, then the retired
/// versions still kept, or JSON.
pub fn print(root: &Path, json: bool) -> Result<()> {
    let catalog = Catalog::load(root)?;
    if json {
        out_json!(&catalog)?;
        return Ok(());
    }
    if catalog.images.is_empty() {
        outln!("{}: no images staged", root.display());
    }
    for i in &catalog.images {
        outln!(
            "{:<20} {:<8} v{:<4} {:<6} {}",
            i.name,
            i.role.name(),
            i.version,
            i.arch.name(),
            i.uefi_boot
                .as_deref()
                .or(i.bios_boot.as_deref())
                .unwrap_or("")
        );
    }
    for i in &catalog.retired {
        outln!(
            "{:<20} {:<8} v{:<4} retired (kept for clients that started on it)",
            i.name,
            i.role.name(),
            i.version
        );
    }
    Ok(())
}
