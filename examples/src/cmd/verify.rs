//! `dart verify`: compare a device or file with an image by reading it back.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dart_core::write::verify_files;

use crate::progress;

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

/// `dart verify`.
pub fn run(a: VerifyArgs) -> Result<()> {
    let r = verify_files(
        &a.image,
        &a.target,
        a.bmap.as_deref(),
        &progress::percent_lines(),
    )?;
    outln!(
        "{} matches {}: {} bytes compared",
        r.target.display(),
        r.image.display(),
        r.bytes_compared
    );
    Ok(())
}
