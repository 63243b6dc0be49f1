//! The image writer: stream an image onto one or more block devices or
//! files, skipping what holds no data, and verify the copies by reading
//! them back.
//!
//! | piece | what |
//! |---|---|
//! | [`flash()`] | one pass over the image, N targets, edges written last, optional verify |
//! | [`verify()`] | read a target back (direct I/O) and compare with the image |
//! | [`bmap`] | bmaptool's XML block maps, read and written |
//! | [`ImageSource`] | the image: size, data ranges, [`create_bmap`](ImageSource::create_bmap) |
//!
//! What is skipped: ranges a block map leaves out, or holes of the image
//! file (`SEEK_DATA`/`SEEK_HOLE`); these keep whatever the target held, as
//! with `bmaptool copy`. All-zero blocks are skipped only on image files
//! this writer creates, where they read back as zeros anyway.

pub mod bmap;
mod flash;
mod source;

pub use bmap::Bmap;
pub use flash::{
    check_targets, flash, flash_files, open_mirror, plan_flash, remove_created, verify,
    verify_files, FlashOptions, FlashPlan, FlashReport, PlannedTarget, VerifyReport, CHUNK, EDGE,
    LEFT_INVALID,
};
pub use source::{write_bmap, ImageSource, MAP_BLOCK};
