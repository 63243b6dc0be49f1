//! `dart flash`, `dart verify`, `dart bmap create`: the image writer from
//! the command line.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use dart_core::write::{flash_files, plan_flash, verify_files, write_bmap, Bmap, FlashOptions};

use crate::disk_cmds::disk_progress;

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

/// `dart verify` arguments.
#[derive(Args)]
pub struct VerifyArgs {
    /// The image.
    image: PathBuf,
    /// The device or file to read back.
    target: PathBuf,
    /// Compare only the ranges of this block map.
    #[arg(long)]
    bmap: Option<PathBuf>,
}

/// `dart bmap ...`.
#[derive(Subcommand)]
pub enum BmapCommand {
    /// Write the block map of an image (bmaptool's format, SHA-256 per range).
    Create {
        /// The image.
        image: PathBuf,
        /// The bmap file to write.
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// `dart flash`.
pub fn run_flash(a: FlashArgs) -> Result<()> {
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
        &disk_progress(),
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

/// `dart verify`.
pub fn run_verify(a: VerifyArgs) -> Result<()> {
    let r = verify_files(&a.image, &a.target, a.bmap.as_deref(), &disk_progress())?;
    outln!(
        "{} matches {}: {} bytes compared",
        r.target.display(),
        r.image.display(),
        r.bytes_compared
    );
    Ok(())
}

/// `dart bmap ...`.
pub fn run_bmap(cmd: BmapCommand) -> Result<()> {
    match cmd {
        BmapCommand::Create { image, output } => {
            let map = write_bmap(&image, &output)?;
            outln!(
                "{}: {} of {} blocks of {} bytes mapped; wrote {}",
                image.display(),
                map.mapped_blocks(),
                map.blocks(),
                map.block_size,
                output.display()
            );
            Ok(())
        }
    }
}
