//! `dart flash`: write an image onto devices or files in one pass, skipping
//! unmapped ranges, optionally verifying by reading back.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dart_core::write::{flash_files, plan_flash, Bmap, FlashOptions};

use crate::progress;

/// `dart flash` arguments.
#[derive(Args)]
pub struct FlashArgs {
    /// The image: an ISO, a USB or disk image.
    image: PathBuf,
    /// Devices or image files to write (all in one pass over the image).
    #[arg(required = true)]
    targets: Vec<PathBuf>,
    /// Read every target back and compare it with the image.
    #[arg(long)]
    verify: bool,
    /// Write only the ranges of this block map (bmaptool's XML).
    #[arg(long)]
    bmap: Option<PathBuf>,
    /// Print what would be written and write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `dart flash`.
pub fn run(a: FlashArgs) -> Result<()> {
    if a.dry_run {
        let opts = FlashOptions {
            verify: a.verify,
            bmap: a.bmap.as_deref().map(Bmap::read).transpose()?,
        };
        out!("{}", plan_flash(&a.image, &a.targets, &opts)?);
        outln!("dry run: nothing was written");
        return Ok(());
    }
    let report = flash_files(
        &a.image,
        &a.targets,
        a.verify,
        a.bmap.as_deref(),
        &progress::percent_lines(),
    )?;
    out!("{}", report.plan);
    for (t, n) in report.plan.targets.iter().zip(&report.bytes_written) {
        outln!(
            "wrote {} bytes to {}{}",
            n,
            t.path.display(),
            if report.verified { ", verified" } else { "" }
        );
    }
    Ok(())
}
