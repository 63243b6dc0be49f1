//! The one recipe type that crosses into Python: the keywords of
//! `build_image` and `build_variants`, deserialised into dart-core's
//! [`ImageRecipe`].
//!
//! A keyword names a field of `ImageRecipe` as it serialises (`base_index`,
//! `drivers`, `name`, `scratch_space_mb`, `compression`, `threads`, ...) or,
//! for the four in [`NESTED`], a field of its Remote Connection or startup
//! settings. The keywords are laid over the serialised default recipe and
//! the result is deserialised, so `ImageRecipe` stays the one list of
//! settings. An unknown keyword is a `TypeError`, as for any Python
//! function; a value the recipe does not take is an `InvalidInputError`
//! naming the keyword.

use std::path::PathBuf;

use dart_core::image::{Compression, ImageRecipe};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::{Map, Value};

use crate::error::{self, InvalidInputError};

/// Keywords that name a field of a nested settings struct:
/// `(keyword, struct, field)`.
const NESTED: [(&str, &str, &str); 4] = [
    ("remote_port", "remote", "port"),
    ("remote_message", "remote", "welcome_message"),
    ("winpeshl_ini", "startup", "winpeshl_ini"),
    ("startnet_cmd", "startup", "startnet_cmd"),
];

/// The recipe of a build: `base` and `payloads` with the build keywords
/// given to `function` (named in a `TypeError`).
pub(crate) fn recipe(
    function: &str,
    base: PathBuf,
    payloads: PathBuf,
    settings: Option<&Bound<'_, PyDict>>,
) -> PyResult<ImageRecipe> {
    let mut recipe = ImageRecipe::new("", "");
    let mut fields =
        serde_json::to_value(&recipe).map_err(|e| PyValueError::new_err(e.to_string()))?;
    for (keyword, value) in keywords(settings)? {
        let slot = slot(&mut fields, &keyword).ok_or_else(|| {
            PyTypeError::new_err(format!(
                "{function}() got an unexpected keyword argument '{keyword}'"
            ))
        })?;
        *slot = if keyword == "compression" {
            compression(value)?
        } else {
            value
        };
        // Deserialised as each keyword is laid on, so that an error names it.
        recipe = serde_json::from_value(fields.clone()).map_err(|e| {
            InvalidInputError::new_err(format!(
                "invalid value for {keyword}: {e}; nothing was done"
            ))
        })?;
    }
    recipe.base = base;
    recipe.payloads = payloads;
    Ok(recipe)
}

/// The keywords as JSON (path-like values become strings).
fn keywords(settings: Option<&Bound<'_, PyDict>>) -> PyResult<Map<String, Value>> {
    let Some(settings) = settings else {
        return Ok(Map::new());
    };
    let py = settings.py();
    let kwargs = PyDict::new(py);
    kwargs.set_item("default", py.import("os")?.getattr("fspath")?)?;
    let text: String = py
        .import("json")?
        .call_method("dumps", (settings,), Some(&kwargs))?
        .extract()?;
    serde_json::from_str(&text).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Where a keyword's value goes in the serialised recipe; `None` for a
/// keyword that names no setting.
fn slot<'a>(fields: &'a mut Value, keyword: &str) -> Option<&'a mut Value> {
    let (parent, field) = NESTED
        .iter()
        .find(|(k, ..)| *k == keyword)
        .map_or((None, keyword), |(_, parent, field)| {
            (Some(*parent), *field)
        });
    let mut object = fields.as_object_mut()?;
    if let Some(parent) = parent {
        object = object.get_mut(parent)?.as_object_mut()?;
    }
    object.get_mut(field).filter(|v| !v.is_object())
}

/// A compression name, read by the core's parser (which takes its aliases).
fn compression(value: Value) -> PyResult<Value> {
    match value {
        Value::String(name) => {
            let compression: Compression = error::core(name.parse())?;
            Ok(Value::from(compression.name()))
        }
        other => Ok(other),
    }
}
