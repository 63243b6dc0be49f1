//! Conversions between Python values and dart-core types.

use dart_core::model::tools::Tools;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;
use pyo3::IntoPyObjectExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{self, InvalidInputError};

/// A tool set given as flags (an `int` or `dart.Tools`) or as names
/// (`"explorer,locksmith"`, parsed by dart-core).
pub(crate) fn tools(value: &Bound<'_, PyAny>) -> PyResult<Tools> {
    if let Ok(names) = value.cast::<PyString>() {
        return error::core(names.to_cow()?.parse());
    }
    let bits: u32 = value.extract()?;
    error::core(Tools::from_bits_checked(bits))
}

/// Python's `repr()` of a converted value, for `__repr__` methods.
pub(crate) fn repr<'py>(py: Python<'py>, value: impl IntoPyObject<'py>) -> PyResult<String> {
    Ok(value.into_bound_py_any(py)?.repr()?.to_cow()?.into_owned())
}

/// A serialisable core value as the Python object `json.loads` makes of it.
pub(crate) fn to_python<'py>(
    py: Python<'py>,
    value: &impl Serialize,
) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// A core value deserialised from the JSON `json.dumps` makes of a Python
/// object; `what` names it in the error.
pub(crate) fn from_python<T: DeserializeOwned>(
    value: &Bound<'_, PyAny>,
    what: &str,
) -> PyResult<T> {
    let text: String = value
        .py()
        .import("json")?
        .call_method1("dumps", (value,))?
        .extract()?;
    serde_json::from_str(&text)
        .map_err(|e| InvalidInputError::new_err(format!("invalid {what}: {e}; nothing was done")))
}
