//! Deployment to disks: USB sticks and images, partition tables, the
//! recovery partition. Each function converts its arguments, calls one
//! `dart_core` function with the GIL released, and returns its report as a
//! dict.

use std::path::PathBuf;

use dart_core::deploy::{self, MediumSpec, MenuImage, UsbOptions};
use dart_core::formats::fat::FatOptions;
use dart_core::formats::iso::{self, IsoOptions};

/// `uefi_arch` and `boot_manager` of the Python arguments, parsed.
pub(crate) fn boot_choice(
    mut spec: MediumSpec,
    uefi_arch: Option<&str>,
    boot_manager: Option<&str>,
) -> PyResult<MediumSpec> {
    spec.uefi_arch = error::core(uefi_arch.map(str::parse).transpose())?;
    spec.boot_manager = error::core(boot_manager.map(str::parse).transpose())?;
    Ok(spec)
}

/// The medium of the Python arguments: the media, an optional built image
/// for `sources/boot.wim`, or several `(description, wim)` images behind a
/// menu.
pub(crate) fn medium(
    media: PathBuf,
    wim: Option<PathBuf>,
    images: Option<Vec<(String, PathBuf)>>,
    default: Option<String>,
    timeout: Option<u64>,
) -> MediumSpec {
    MediumSpec {
        wim,
        images: images
            .unwrap_or_default()
            .into_iter()
            .map(|(description, wim)| MenuImage { description, wim })
            .collect(),
        default,
        timeout,
        ..MediumSpec::new(media)
    }
}
use dart_core::formats::partition::{self, RecoveryOptions, Scheme};
use pyo3::prelude::*;

use crate::{convert, error, run};

/// Writes a bootable USB stick from the media directory `media` onto
/// `target`: a block device or an existing image file, or a new image file
/// of `size` bytes. ``scheme`` is ``"mbr"`` (BIOS and UEFI) or ``"gpt"``
/// (UEFI). A mounted or in-use device, or the running system's disk, raises
/// ``DiskError`` before anything is written. ``wim`` puts a built image in
/// place of the media's ``sources/boot.wim``; ``images`` (a list of
/// ``(description, wim)``) puts several behind a boot menu, with
/// ``default`` (a description) and ``timeout`` (seconds); ``uefi_arch``
/// (``"x64"``, ``"x86"``) is the one architecture the medium boots on UEFI;
/// ``boot_manager`` (``"2011"`` or ``"2023"``) picks the UEFI boot manager.
#[pyfunction]
#[pyo3(signature = (media, target, *, size=None, scheme="mbr", label="DART", timestamp=None, wim=None, images=None, default=None, timeout=None, uefi_arch=None, boot_manager=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_usb<'py>(
    py: Python<'py>,
    media: PathBuf,
    target: PathBuf,
    size: Option<u64>,
    scheme: &str,
    label: &str,
    timestamp: Option<u64>,
    wim: Option<PathBuf>,
    images: Option<Vec<(String, PathBuf)>>,
    default: Option<String>,
    timeout: Option<u64>,
    uefi_arch: Option<&str>,
    boot_manager: Option<&str>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = boot_choice(
        medium(media, wim, images, default, timeout),
        uefi_arch,
        boot_manager,
    )?;
    let opts = UsbOptions {
        scheme: error::core(scheme.parse::<Scheme>())?,
        label: label.to_string(),
        timestamp,
    };
    let report = run::detached(py, progress, |control| {
        deploy::write_usb_to(&target, size, &spec, &opts, control)
    })?;
    convert::to_python(py, &report)
}

fn iso_options(
    label: &str,
    hybrid: bool,
    boot_info_table: Option<bool>,
    bios_loader: Option<String>,
    timestamp: Option<u64>,
) -> IsoOptions {
    IsoOptions {
        label: label.to_string(),
        hybrid,
        boot_info_table,
        bios_loader,
        timestamp,
    }
}

/// Writes a bootable ISO image of `media` (a directory or an ISO image) to
/// `output`, which is replaced only once the new image is complete.
/// ``hybrid`` adds an MBR and a GPT so the file also boots from a USB stick.
/// ``wim``, ``images``, ``default`` and ``timeout`` as for ``write_usb``.
#[pyfunction]
#[pyo3(signature = (media, output, *, label="DART", hybrid=false, boot_info_table=None, bios_loader=None, timestamp=None, wim=None, images=None, default=None, timeout=None, uefi_arch=None, boot_manager=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_iso<'py>(
    py: Python<'py>,
    media: PathBuf,
    output: PathBuf,
    label: &str,
    hybrid: bool,
    boot_info_table: Option<bool>,
    bios_loader: Option<String>,
    timestamp: Option<u64>,
    wim: Option<PathBuf>,
    images: Option<Vec<(String, PathBuf)>>,
    default: Option<String>,
    timeout: Option<u64>,
    uefi_arch: Option<&str>,
    boot_manager: Option<&str>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = boot_choice(
        medium(media, wim, images, default, timeout),
        uefi_arch,
        boot_manager,
    )?;
    let opts = iso_options(label, hybrid, boot_info_table, bios_loader, timestamp);
    let report = run::detached(py, progress, |control| {
        deploy::write_iso_from(&spec, &output, &opts, control)
    })?;
    convert::to_python(py, &report)
}

/// Lays out the ISO image of `media` without writing: boot entries, blocks,
/// files.
#[pyfunction]
#[pyo3(signature = (media, *, label="DART", hybrid=false, boot_info_table=None, bios_loader=None, timestamp=None, wim=None, images=None, default=None, timeout=None, uefi_arch=None, boot_manager=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan_iso<'py>(
    py: Python<'py>,
    media: PathBuf,
    label: &str,
    hybrid: bool,
    boot_info_table: Option<bool>,
    bios_loader: Option<String>,
    timestamp: Option<u64>,
    wim: Option<PathBuf>,
    images: Option<Vec<(String, PathBuf)>>,
    default: Option<String>,
    timeout: Option<u64>,
    uefi_arch: Option<&str>,
    boot_manager: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = boot_choice(
        medium(media, wim, images, default, timeout),
        uefi_arch,
        boot_manager,
    )?;
    let opts = iso_options(label, hybrid, boot_info_table, bios_loader, timestamp);
    let plan = run::detached(py, None, |_| deploy::plan_iso_from(&spec, &opts))?;
    convert::to_python(py, &plan)
}

/// Reads the file tree and El Torito entries of an ISO image (read-only).
/// A UDF-only image raises ``MediaError`` naming UDF.
#[pyfunction]
pub(crate) fn read_iso(py: Python<'_>, path: PathBuf) -> PyResult<Bound<'_, PyAny>> {
    let contents = run::detached(py, None, |_| iso::read_iso(&path))?;
    convert::to_python(py, &contents)
}

/// Reads the partition table of a disk or image (read-only): the layout
/// firmware would use and both GPT copies.
#[pyfunction]
pub(crate) fn read_disk(py: Python<'_>, disk: PathBuf) -> PyResult<Bound<'_, PyAny>> {
    let state = run::detached(py, None, |_| partition::read_disk_at(&disk))?;
    convert::to_python(py, &state)
}

/// Plans a recovery partition for `media` on `disk` without writing.
#[pyfunction]
#[pyo3(signature = (disk, media, *, size=None, headroom=None, wim=None))]
pub(crate) fn plan_recovery(
    py: Python<'_>,
    disk: PathBuf,
    media: PathBuf,
    size: Option<u64>,
    headroom: Option<u64>,
    wim: Option<PathBuf>,
) -> PyResult<Bound<'_, PyAny>> {
    let spec = medium(media, wim, None, None, None);
    let opts = RecoveryOptions { size, headroom };
    let plan = run::detached(py, None, |_| {
        deploy::plan_add_recovery_at(&disk, &spec, &opts)
    })?;
    convert::to_python(py, &plan)
}

/// Adds a recovery partition holding `media` to `disk`, in free space;
/// ``wim`` puts a built image in place of the media's ``sources/boot.wim``.
#[pyfunction]
#[pyo3(signature = (disk, media, *, size=None, headroom=None, label="DART", timestamp=None, wim=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn add_recovery<'py>(
    py: Python<'py>,
    disk: PathBuf,
    media: PathBuf,
    size: Option<u64>,
    headroom: Option<u64>,
    label: &str,
    timestamp: Option<u64>,
    wim: Option<PathBuf>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = medium(media, wim, None, None, None);
    let opts = RecoveryOptions { size, headroom };
    let fat = FatOptions {
        label: label.to_string(),
        timestamp,
    };
    let report = run::detached(py, progress, |control| {
        deploy::add_recovery_at(&disk, &spec, &opts, &fat, control)
    })?;
    convert::to_python(py, &report)
}

/// Replaces the media on `disk`'s recovery partition in place: unchanged
/// files are skipped, and each file is its old or its new version if the
/// machine stops half way.
#[pyfunction]
#[pyo3(signature = (disk, media, *, timestamp=None, wim=None, progress=None))]
pub(crate) fn update_recovery<'py>(
    py: Python<'py>,
    disk: PathBuf,
    media: PathBuf,
    timestamp: Option<u64>,
    wim: Option<PathBuf>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = medium(media, wim, None, None, None);
    let fat = FatOptions {
        timestamp,
        ..FatOptions::default()
    };
    let report = run::detached(py, progress, |control| {
        deploy::update_recovery_at(&disk, &spec, &fat, control)
    })?;
    convert::to_python(py, &report)
}
