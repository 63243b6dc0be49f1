//! `dart bmap create`: block maps in bmaptool's format.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use dart_core::write::write_bmap;

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

/// `dart bmap ...`.
pub fn run(cmd: BmapCommand) -> Result<()> {
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
