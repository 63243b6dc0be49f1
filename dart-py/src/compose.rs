//! `build_image` and `build_variants`: two Python entry points over one
//! build, dart-core's `build_variants`.

use std::path::PathBuf;

use dart_core::image::{self, ImageRecipe, ImageVariant};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert;
use crate::recipe::recipe;
use crate::run::detached;

/// Builds one recovery image from a base WinPE WIM, tool payloads and the
/// selected tools; returns the build report. The keywords are the recipe's
/// settings (see `recipe`).
///
/// The GIL is released while the image is built. If `progress` raises, the
/// build is cancelled and `CancelledError` is raised from the callback's
/// exception; Ctrl-C cancels it too and the `KeyboardInterrupt` propagates.
/// A failed or cancelled build leaves no output.
#[pyfunction]
#[pyo3(signature = (base, payloads, tools, output, *, progress=None, **settings))]
pub(crate) fn build_image<'py>(
    py: Python<'py>,
    base: PathBuf,
    payloads: PathBuf,
    tools: &Bound<'py, PyAny>,
    output: PathBuf,
    progress: Option<Py<PyAny>>,
    settings: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let recipe = recipe("build_image", base, payloads, settings)?;
    let variants = vec![ImageVariant::new(convert::tools(tools)?, output)];
    build(py, &recipe, &variants, progress)
}

/// Builds several variants (support levels) of a recovery image in one pass;
/// `variants` is a list of `(tools, output)` tuples. Returns the build report.
#[pyfunction]
#[pyo3(signature = (base, payloads, variants, *, progress=None, **settings))]
pub(crate) fn build_variants<'py>(
    py: Python<'py>,
    base: PathBuf,
    payloads: PathBuf,
    variants: Vec<(Bound<'py, PyAny>, PathBuf)>,
    progress: Option<Py<PyAny>>,
    settings: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let recipe = recipe("build_variants", base, payloads, settings)?;
    let variants = variants
        .into_iter()
        .map(|(tools, output)| Ok(ImageVariant::new(convert::tools(&tools)?, output)))
        .collect::<PyResult<Vec<_>>>()?;
    build(py, &recipe, &variants, progress)
}

/// The one build under both entry points, with the GIL released.
fn build<'py>(
    py: Python<'py>,
    recipe: &ImageRecipe,
    variants: &[ImageVariant],
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let report = detached(py, progress, |control| {
        image::build_variants(recipe, variants, control)
    })?;
    convert::to_python(py, &report)
}
