//! Removable media as an ISO image: the [`MediumSpec`] forms of the ISO
//! writer (media as they are, a built WIM in their place, or several
//! images behind a menu).

use std::path::{Path, PathBuf};

use super::medium::MediumSpec;
use crate::error::Result;
use crate::formats::iso::{self, IsoOptions, IsoPlan, IsoReport};
use crate::progress::Control;

/// Writes the ISO image of `media` to the file `out` (written beside it
/// and renamed into place); see [`iso::write_iso`].
///
/// ```no_run
/// use dart_core::deploy::{write_iso_from, MediumSpec};
/// use dart_core::formats::iso::IsoOptions;
/// let spec = MediumSpec { wim: Some("dart-full.wim".into()), ..MediumSpec::new("winpe-media") };
/// write_iso_from(spec, "dart.iso".as_ref(), &IsoOptions::default(), &Default::default())?;
/// # Ok::<(), dart_core::Error>(())
/// ```
pub fn write_iso_from(
    media: impl Into<MediumSpec>,
    out: &Path,
    opts: &IsoOptions,
    control: &Control,
) -> Result<IsoReport> {
    let medium = media.into().prepare()?;
    iso::write_iso(&medium.set, out, opts, control)
}

/// Writes the ISO image of `media` straight onto every device or file in
/// `targets`; see [`iso::write_iso_onto`].
pub fn write_iso_onto(
    media: impl Into<MediumSpec>,
    targets: &[PathBuf],
    opts: &IsoOptions,
    control: &Control,
) -> Result<IsoReport> {
    let medium = media.into().prepare()?;
    iso::write_iso_onto(&medium.set, targets, opts, control)
}

/// A dry run of [`write_iso_from`] (`output`) or [`write_iso_onto`]
/// (`devices`); see [`iso::plan_iso_to`]. Nothing is written.
pub fn plan_iso_to(
    media: impl Into<MediumSpec>,
    output: Option<&Path>,
    devices: &[PathBuf],
    opts: &IsoOptions,
) -> Result<IsoPlan> {
    let medium = media.into().prepare()?;
    iso::plan_iso_to(&medium.set, output, devices, opts)
}

/// The plan of the ISO image of `media`.
pub fn plan_iso_from(media: impl Into<MediumSpec>, opts: &IsoOptions) -> Result<IsoPlan> {
    let medium = media.into().prepare()?;
    iso::plan_iso(&medium.set, opts)
}
