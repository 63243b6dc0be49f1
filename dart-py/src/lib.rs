//! # dart-py
//!
//! The Python extension module `dart._dart`: thin wrappers over dart-core.
//! Each function converts its arguments, calls one dart-core function and
//! converts the result or error; the package `dart` re-exports it with type
//! stubs and builds `dart.Tools` from [`tool_flags`].
//!
//! | module | owns |
//! |---|---|
//! | `error` | the exception tree and the mapping from core errors |
//! | `run` | releasing the GIL for long calls; progress callbacks and Ctrl-C |
//! | `convert` | tool sets, JSON-shaped values |
//! | `image` | `RecoveryImage`, `ImageInfo`, `build_image`, `build_variants` |
//! | `media` | `MediaSet` |
//! | `net` | `stage`, `read_catalog`, `BootServer` (the network boot server) |

use std::collections::BTreeMap;
use std::path::PathBuf;

use dart_core::tools::{SupportLevels, Tools, TOOL_INFO};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

mod convert;
mod deploy;
mod error;
mod flash;
mod image;
mod media;
mod net;
mod run;

use error::{
    CancelledError, DartError, DiskError, ImageError, InvalidInputError, IoError, MediaError,
    NotFoundError, ToolError,
};

/// The library version.
#[pyfunction]
fn version() -> &'static str {
    dart_core::VERSION
}

/// Every tool flag as `(NAME, value)`, in flag order (`("EXPLORER", 32)`);
/// `dart.Tools` is built from it.
#[pyfunction]
fn tool_flags() -> Vec<(&'static str, u32)> {
    Tools::all()
        .iter_names()
        .map(|(name, flag)| (name, flag.bits()))
        .collect()
}

/// What the library knows about every tool, in flag order: dicts with
/// `name`, `display_name`, `powershell_switch`, `flag`, `sensitive` and
/// `image_path`.
#[pyfunction]
fn tool_info(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let list = PyList::empty(py);
    for t in &TOOL_INFO {
        let d = PyDict::new(py);
        d.set_item("name", t.name)?;
        d.set_item("display_name", t.display_name)?;
        d.set_item("powershell_switch", t.powershell_switch)?;
        d.set_item("flag", t.flag.bits())?;
        d.set_item("sensitive", t.sensitive)?;
        d.set_item("image_path", t.image_path())?;
        list.append(d)?;
    }
    Ok(list)
}

/// Parses a tool list (`"explorer, Registry Editor"`, `"all"`, `"none"`)
/// into `dart.Tools` flags.
#[pyfunction]
fn parse_tools(names: &str) -> PyResult<u32> {
    error::core(names.parse::<Tools>()).map(|t| t.bits())
}

/// The tools of a support level, as `dart.Tools` flags. The levels are the
/// built-in ones plus those of `definitions_json`, a JSON object
/// `{"name": ["tool", ...], ...}`.
#[pyfunction]
#[pyo3(signature = (name, definitions_json=None))]
fn support_level(name: &str, definitions_json: Option<&str>) -> PyResult<u32> {
    let mut levels = SupportLevels::builtin();
    if let Some(json) = definitions_json {
        error::core(levels.define_from_json(json))?;
    }
    error::core(levels.get(name)).map(|t| t.bits())
}

/// The built-in support levels, name to `dart.Tools` flags.
#[pyfunction]
fn support_levels() -> BTreeMap<String, u32> {
    SupportLevels::builtin()
        .iter()
        .map(|(name, tools)| (name.to_string(), tools.bits()))
        .collect()
}

/// Ranks the three deployment methods for a site and recommends a
/// combination. The site facts are given as one dict or as keywords
/// (`plan(active_directory=True, support_staff="central")`).
#[pyfunction]
#[pyo3(signature = (facts=None, /, **kwargs))]
fn plan<'py>(
    py: Python<'py>,
    facts: Option<Bound<'py, PyAny>>,
    kwargs: Option<Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let facts = match (facts, kwargs) {
        (Some(_), Some(_)) => {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "give the site facts as one dict or as keywords, not both",
            ))
        }
        (Some(dict), None) => dict,
        (None, Some(kwargs)) => kwargs.into_any(),
        (None, None) => PyDict::new(py).into_any(),
    };
    let facts: dart_core::plan::SiteFacts = convert::from_python(&facts, "site facts")?;
    convert::to_python(py, &dart_core::plan::plan(&facts))
}

/// Writes a synthetic WinPE-like media set, tool payloads and drivers under
/// `dir` (for tests and demos; no Microsoft binary is used). Options left
/// `None` take dart-core's defaults (4 MiB base, 256 KiB per payload, LZX).
/// Returns the paths it wrote.
#[pyfunction]
#[pyo3(signature = (dir, *, base_bytes=None, payload_bytes=None, grub=true, compression=None))]
fn generate_fixture<'py>(
    py: Python<'py>,
    dir: PathBuf,
    base_bytes: Option<u64>,
    payload_bytes: Option<u64>,
    grub: bool,
    compression: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut options = dart_core::fixture::FixtureOptions {
        grub,
        ..Default::default()
    };
    if let Some(bytes) = base_bytes {
        options.base_bytes = bytes;
    }
    if let Some(bytes) = payload_bytes {
        options.payload_bytes = bytes;
    }
    if let Some(c) = compression {
        options.compression = error::core(c.parse())?;
    }
    let fixture = run::detached(py, None, |_| dart_core::fixture::generate(&dir, &options))?;
    convert::to_python(py, &fixture)
}

/// Save and deploy Windows PE recovery images (the extension module of `dart`).
#[pymodule]
fn _dart(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.setattr("__version__", dart_core::VERSION)?;
    m.add("DartError", py.get_type::<DartError>())?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("IoError", py.get_type::<IoError>())?;
    m.add("ImageError", py.get_type::<ImageError>())?;
    m.add("ToolError", py.get_type::<ToolError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add("MediaError", py.get_type::<MediaError>())?;
    m.add("CancelledError", py.get_type::<CancelledError>())?;
    m.add("DiskError", py.get_type::<DiskError>())?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(tool_flags, m)?)?;
    m.add_function(wrap_pyfunction!(tool_info, m)?)?;
    m.add_function(wrap_pyfunction!(parse_tools, m)?)?;
    m.add_function(wrap_pyfunction!(support_level, m)?)?;
    m.add_function(wrap_pyfunction!(support_levels, m)?)?;
    m.add_function(wrap_pyfunction!(plan, m)?)?;
    m.add_function(wrap_pyfunction!(generate_fixture, m)?)?;
    m.add_function(wrap_pyfunction!(image::build_image, m)?)?;
    m.add_function(wrap_pyfunction!(image::build_variants, m)?)?;
    m.add_function(wrap_pyfunction!(deploy::write_usb, m)?)?;
    m.add_function(wrap_pyfunction!(deploy::write_iso, m)?)?;
    m.add_function(wrap_pyfunction!(deploy::plan_iso, m)?)?;
    m.add_function(wrap_pyfunction!(deploy::read_iso, m)?)?;
    m.add_function(wrap_pyfunction!(flash::flash, m)?)?;
    m.add_function(wrap_pyfunction!(flash::verify, m)?)?;
    m.add_function(wrap_pyfunction!(flash::create_bmap, m)?)?;
    m.add_function(wrap_pyfunction!(deploy::read_disk, m)?)?;
    m.add_function(wrap_pyfunction!(deploy::plan_recovery, m)?)?;
    m.add_function(wrap_pyfunction!(deploy::add_recovery, m)?)?;
    m.add_function(wrap_pyfunction!(deploy::update_recovery, m)?)?;
    m.add_class::<image::RecoveryImage>()?;
    m.add_class::<image::ImageInfo>()?;
    m.add_class::<media::MediaSet>()?;
    m.add_function(wrap_pyfunction!(net::stage, m)?)?;
    m.add_function(wrap_pyfunction!(net::read_catalog, m)?)?;
    m.add_class::<net::BootServer>()?;
    Ok(())
}
