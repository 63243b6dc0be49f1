//! # dart-py
//!
//! The Python extension module `dart._dart`: thin wrappers over dart-core.
//! Each function converts its arguments, calls one dart-core function and
//! converts the result or error; the package `dart` re-exports it (and
//! defines the `dart.Tools` flags, which a test checks against
//! [`tool_flags`]).
//!
//! | module | owns |
//! |---|---|
//! | `error` | the exception tree and the mapping from core errors |
//! | `run` | releasing the GIL for long calls; progress callbacks and Ctrl-C |
//! | `convert` | tool sets, JSON-shaped values |
//! | `image` | `RecoveryImage`, `ImageInfo` |
//! | `recipe` | the build keywords, deserialised into dart-core's `ImageRecipe` |
//! | `compose` | `build_image`, `build_variants` (one build under both) |
//! | `media` | `MediaSet` |
//! | `net` | `stage`, `read_catalog`, `BootServer` (the network boot server) |
//! | `bcd` | `BcdStore` (BCD stores: create, open, list, edit, save) |
//! | `register` | the recovery partition on managed PCs: `set_up_recovery`, `register_recovery`, `unregister_recovery`, `set_boot_next` |

use std::collections::BTreeMap;

use dart_core::model::tools::{SupportLevels, Tools, TOOL_INFO};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

mod bcd;
mod clients;
mod compose;
mod convert;
mod deploy;
mod error;
mod flash;
mod image;
mod media;
mod net;
mod recipe;
mod register;
mod run;

use error::{
    BootStoreError, CancelledError, DartError, DiskError, ImageError, InvalidInputError, IoError,
    MediaError, NotFoundError, ToolError, UefiVariablesError,
};

/// The library version.
#[pyfunction]
fn version() -> &'static str {
    dart_core::VERSION
}

/// Every tool flag as `(NAME, value)`, in flag order (`("EXPLORER", 32)`),
/// as `dart.Tools` defines them.
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
    m.add("BootStoreError", py.get_type::<BootStoreError>())?;
    m.add("UefiVariablesError", py.get_type::<UefiVariablesError>())?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(tool_flags, m)?)?;
    m.add_function(wrap_pyfunction!(tool_info, m)?)?;
    m.add_function(wrap_pyfunction!(parse_tools, m)?)?;
    m.add_function(wrap_pyfunction!(support_level, m)?)?;
    m.add_function(wrap_pyfunction!(support_levels, m)?)?;
    m.add_function(wrap_pyfunction!(plan, m)?)?;
    m.add_function(wrap_pyfunction!(compose::build_image, m)?)?;
    m.add_function(wrap_pyfunction!(compose::build_variants, m)?)?;
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
    m.add_function(wrap_pyfunction!(register::set_up_recovery, m)?)?;
    m.add_function(wrap_pyfunction!(register::register_recovery, m)?)?;
    m.add_function(wrap_pyfunction!(register::unregister_recovery, m)?)?;
    m.add_function(wrap_pyfunction!(register::set_boot_next, m)?)?;
    m.add_class::<image::RecoveryImage>()?;
    m.add_class::<image::ImageInfo>()?;
    m.add_class::<media::MediaSet>()?;
    m.add_function(wrap_pyfunction!(net::stage, m)?)?;
    m.add_function(wrap_pyfunction!(net::read_catalog, m)?)?;
    m.add_class::<net::BootServer>()?;
    m.add_function(wrap_pyfunction!(clients::list_clients, m)?)?;
    m.add_function(wrap_pyfunction!(clients::approve_client, m)?)?;
    m.add_function(wrap_pyfunction!(clients::deny_client, m)?)?;
    m.add_function(wrap_pyfunction!(clients::forget_client, m)?)?;
    m.add_function(wrap_pyfunction!(clients::import_clients, m)?)?;
    m.add_class::<bcd::BcdStore>()?;
    Ok(())
}
