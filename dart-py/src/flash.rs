//! The image writer: flash, verify, block maps. Each function converts its
//! arguments, calls one `dart_core::write` function with the GIL released,
//! and returns its report as a dict.

use std::path::PathBuf;

use dart_core::write;
use pyo3::prelude::*;

use crate::{convert, run};

/// Writes `image` onto every path in `targets` in one pass over the image,
/// skipping what holds no data (the block map `bmap`, or the image file's
/// holes). Paths that do not exist become new image files. ``verify`` reads
/// every target back and compares it; a difference raises ``DiskError``
/// naming the first differing byte.
#[pyfunction]
#[pyo3(signature = (image, targets, *, verify=false, bmap=None, progress=None))]
pub(crate) fn flash<'py>(
    py: Python<'py>,
    image: PathBuf,
    targets: Vec<PathBuf>,
    verify: bool,
    bmap: Option<PathBuf>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let report = run::detached(py, progress, |control| {
        write::flash_files(&image, &targets, verify, bmap.as_deref(), control)
    })?;
    convert::to_python(py, &report)
}

/// Reads `target` back and compares it with `image`; raises ``DiskError``
/// naming the first differing byte.
#[pyfunction]
#[pyo3(signature = (image, target, *, bmap=None, progress=None))]
pub(crate) fn verify<'py>(
    py: Python<'py>,
    image: PathBuf,
    target: PathBuf,
    bmap: Option<PathBuf>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let report = run::detached(py, progress, |control| {
        write::verify_files(&image, &target, bmap.as_deref(), control)
    })?;
    convert::to_python(py, &report)
}

/// Writes the block map of `image` to `output` (bmaptool's XML format).
#[pyfunction]
pub(crate) fn create_bmap(
    py: Python<'_>,
    image: PathBuf,
    output: PathBuf,
) -> PyResult<Bound<'_, PyAny>> {
    let map = run::detached(py, None, |_| write::write_bmap(&image, &output))?;
    convert::to_python(py, &map)
}
