//! Deployment to disks: USB sticks and images, partition tables, the
//! recovery partition. Each function converts its arguments, calls one
//! `dart_core` function with the GIL released, and returns its report as a
//! dict.

use std::path::PathBuf;

use dart_core::deploy::{self, UsbOptions};
use dart_core::formats::fat::FatOptions;
use dart_core::formats::iso::{self, IsoOptions};
use dart_core::formats::partition::{self, RecoveryOptions, Scheme};
use pyo3::prelude::*;

use crate::{convert, error, run};

/// Writes a bootable USB stick from the media directory `media` onto
/// `target`: a block device or an existing image file, or a new image file
/// of `size` bytes. ``scheme`` is ``"mbr"`` (BIOS and UEFI) or ``"gpt"``
/// (UEFI). A mounted or in-use device, or the running system's disk, raises
/// ``DiskError`` before anything is written.
#[pyfunction]
#[pyo3(signature = (media, target, *, size=None, scheme="mbr", label="DART", timestamp=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_usb<'py>(
    py: Python<'py>,
    media: PathBuf,
    target: PathBuf,
    size: Option<u64>,
    scheme: &str,
    label: &str,
    timestamp: Option<u64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = UsbOptions {
        scheme: error::core(scheme.parse::<Scheme>())?,
        label: label.to_string(),
        timestamp,
    };
    let report = run::detached(py, progress, |control| {
        deploy::write_usb_to(&target, size, &media, &opts, control)
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
#[pyfunction]
#[pyo3(signature = (media, output, *, label="DART", hybrid=false, boot_info_table=None, bios_loader=None, timestamp=None, progress=None))]
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
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = iso_options(label, hybrid, boot_info_table, bios_loader, timestamp);
    let report = run::detached(py, progress, |control| {
        iso::write_iso_from(&media, &output, &opts, control)
    })?;
    convert::to_python(py, &report)
}

/// Lays out the ISO image of `media` without writing: boot entries, blocks,
/// files.
#[pyfunction]
#[pyo3(signature = (media, *, label="DART", hybrid=false, boot_info_table=None, bios_loader=None, timestamp=None))]
pub(crate) fn plan_iso<'py>(
    py: Python<'py>,
    media: PathBuf,
    label: &str,
    hybrid: bool,
    boot_info_table: Option<bool>,
    bios_loader: Option<String>,
    timestamp: Option<u64>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = iso_options(label, hybrid, boot_info_table, bios_loader, timestamp);
    let plan = run::detached(py, None, |_| iso::plan_iso_from(&media, &opts))?;
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
#[pyo3(signature = (disk, media, *, size=None, headroom=None))]
pub(crate) fn plan_recovery(
    py: Python<'_>,
    disk: PathBuf,
    media: PathBuf,
    size: Option<u64>,
    headroom: Option<u64>,
) -> PyResult<Bound<'_, PyAny>> {
    let opts = RecoveryOptions { size, headroom };
    let plan = run::detached(py, None, |_| {
        deploy::plan_add_recovery_at(&disk, &media, &opts)
    })?;
    convert::to_python(py, &plan)
}

/// Adds a recovery partition holding `media` to `disk`, in free space.
#[pyfunction]
#[pyo3(signature = (disk, media, *, size=None, headroom=None, label="DART", timestamp=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn add_recovery<'py>(
    py: Python<'py>,
    disk: PathBuf,
    media: PathBuf,
    size: Option<u64>,
    headroom: Option<u64>,
    label: &str,
    timestamp: Option<u64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = RecoveryOptions { size, headroom };
    let fat = FatOptions {
        label: label.to_string(),
        timestamp,
    };
    let report = run::detached(py, progress, |control| {
        deploy::add_recovery_at(&disk, &media, &opts, &fat, control)
    })?;
    convert::to_python(py, &report)
}

/// Replaces the media on `disk`'s recovery partition in place: unchanged
/// files are skipped, and each file is its old or its new version if the
/// machine stops half way.
#[pyfunction]
#[pyo3(signature = (disk, media, *, timestamp=None, progress=None))]
pub(crate) fn update_recovery<'py>(
    py: Python<'py>,
    disk: PathBuf,
    media: PathBuf,
    timestamp: Option<u64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let fat = FatOptions {
        timestamp,
        ..FatOptions::default()
    };
    let report = run::detached(py, progress, |control| {
        deploy::update_recovery_at(&disk, &media, &fat, control)
    })?;
    convert::to_python(py, &report)
}
