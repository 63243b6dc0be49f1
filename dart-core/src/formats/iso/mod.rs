//! ISO 9660 images for CD/DVD: a writer (ISO 9660 + Joliet + El Torito
//! BIOS and UEFI entries, optionally hybrid so the same file boots from a
//! USB stick) and a reader that lets an existing ISO serve as a media
//! source.
//!
//! The writer plans first ([`plan_iso`]: every block placed, printable),
//! then streams file data from the sources ([`write_iso`]); memory holds
//! only the metadata, whatever the size of the files. The UEFI entry points
//! at the media's `efi/microsoft/boot/efisys.bin`, or at a FAT image dart
//! builds from `efi/boot/`. Files of 4 GiB or more are recorded as several
//! extents. With a fixed [`IsoOptions::timestamp`] the output is
//! byte-identical for identical inputs.
//!
//! ```no_run
//! use dart_core::formats::iso::{read_iso, write_iso, IsoOptions};
//! use dart_core::model::media::MediaSet;
//! use dart_core::progress::Control;
//! let media = MediaSet::open("media")?;
//! let opts = IsoOptions { hybrid: true, timestamp: Some(1_700_000_000), ..IsoOptions::default() };
//! write_iso(&media, "dart.iso".as_ref(), &opts, &Control::default())?;
//! let back = read_iso("dart.iso".as_ref())?;
//! assert_eq!(back.files.len(), media.files().len());
//! # Ok::<(), dart_core::Error>(())
//! ```

pub mod el_torito;
pub mod hybrid;
mod media;
pub mod names;
pub mod plan;
pub mod read;
pub mod record;
pub mod volume;
mod writer;

pub use plan::{plan_iso, EfiImage, IsoOptions, IsoPlan, PlannedBoot, PlannedFile};
pub use read::{read_iso, Extent, IsoContents, IsoFile};
pub use writer::{plan_iso_to, write_iso, write_iso_onto, write_iso_to, IsoReport};
