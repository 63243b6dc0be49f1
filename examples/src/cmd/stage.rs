//! `dart stage`: stage media into a boot server root as a new version of an
//! image in its catalog.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dart_core::deploy::{stage_from, StageOptions};
use dart_core::model::arch::Architecture;
use dart_core::net::ImageRole;

use super::medium::MediumArgs;
use crate::progress;

/// `dart stage` arguments.
#[derive(Args)]
pub struct StageArgs {
    #[command(flatten)]
    medium: MediumArgs,
    /// The boot server root.
    #[arg(long)]
    root: PathBuf,
    /// The image's name in the catalog (staging it again makes a new version).
    #[arg(long)]
    name: String,
    /// recovery (any client may boot it) or imaging (only clients a policy rule lists).
    #[arg(long, default_value = "recovery")]
    role: String,
    /// x86, x64 or arm64 (default: the one the media has a UEFI loader for).
    #[arg(long)]
    arch: Option<String>,
    /// The BIOS PXE loader's path in the media (default: boot/pxeboot.n12 if present).
    #[arg(long)]
    bios_loader: Option<String>,
    /// Versions to keep on disk, the new one included.
    #[arg(long, default_value_t = 2)]
    keep: usize,
    /// Print the catalog entry as JSON.
    #[arg(long)]
    json: bool,
}

/// `dart stage`.
pub fn run(a: StageArgs) -> Result<()> {
    let options = StageOptions {
        name: a.name,
        role: a.role.parse::<ImageRole>()?,
        arch: a.arch.map(|s| s.parse::<Architecture>()).transpose()?,
        bios_loader: a.bios_loader,
        keep: a.keep,
    };
    let entry = stage_from(
        a.medium.spec(None),
        &a.root,
        &options,
        &progress::percent_lines(),
    )?;
    if a.json {
        out_json!(&entry)?;
    } else {
        outln!(
            "staged {} image {} version {} ({}, {} files, {} bytes) in {}",
            entry.role.name(),
            entry.name,
            entry.version,
            entry.arch,
            entry.files,
            entry.bytes,
            a.root.join(&entry.dir).display()
        );
        for (what, file) in [("UEFI", &entry.uefi_boot), ("BIOS", &entry.bios_boot)] {
            if let Some(file) = file {
                outln!("   {what} PXE boot file: {file}");
            }
        }
    }
    Ok(())
}
