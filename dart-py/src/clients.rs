//! The boot server's client database: `list_clients`, `approve_client`,
//! `deny_client`, `forget_client`, `import_clients`. Each converts its
//! arguments, calls one `dart_core::net::known` function and converts the
//! result or error.

use std::path::PathBuf;

use dart_core::net::known::{self, Approval, ClientKey, ClientState};
use dart_core::net::policy::Allow;
use pyo3::prelude::*;

use crate::error;
use crate::{convert, run};

fn key(client: &str) -> PyResult<ClientKey> {
    error::core(client.parse())
}

/// The clients recorded in the boot server root ``root`` (all, or those in
/// ``state``: ``"pending"``, ``"approved"`` or ``"denied"``), pending first,
/// as dicts; an empty list when the root has no client database.
#[pyfunction]
#[pyo3(signature = (root, *, state=None))]
pub(crate) fn list_clients<'py>(
    py: Python<'py>,
    root: PathBuf,
    state: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let state: Option<ClientState> = error::core(state.map(str::parse).transpose())?;
    let clients = run::detached(py, None, |_| known::list_clients(&root, state))?;
    convert::to_python(py, &clients)
}

/// Approves ``client`` (a MAC address or an SMBIOS UUID) in the client
/// database of ``root``, pending or not yet seen (pre-staging); ``allow``
/// (``"all"``, ``"recovery"``, ``"none"`` or a list of image names) and
/// ``boot`` give it images of its own, ``name`` a name for people. A
/// running server answers it without a restart. Returns its record.
#[pyfunction]
#[pyo3(signature = (root, client, *, name=None, allow=None, boot=None))]
pub(crate) fn approve_client<'py>(
    py: Python<'py>,
    root: PathBuf,
    client: &str,
    name: Option<String>,
    allow: Option<Bound<'py, PyAny>>,
    boot: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let key = key(client)?;
    let allow: Option<Allow> = allow
        .map(|a| convert::from_python(&a, "allow"))
        .transpose()?;
    let approval = Approval { name, allow, boot };
    let record = run::detached(py, None, |_| known::approve_client(&root, &key, &approval))?;
    convert::to_python(py, &record)
}

/// Denies ``client`` in the client database of ``root``: it is answered
/// nothing and not recorded as pending again. Returns its record.
#[pyfunction]
pub(crate) fn deny_client<'py>(
    py: Python<'py>,
    root: PathBuf,
    client: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let key = key(client)?;
    let record = run::detached(py, None, |_| known::deny_client(&root, &key))?;
    convert::to_python(py, &record)
}

/// Forgets ``client`` in the client database of ``root`` (if it asks
/// again it is pending again); raises ``InvalidInputError`` when there is
/// no such client.
#[pyfunction]
pub(crate) fn forget_client(py: Python<'_>, root: PathBuf, client: &str) -> PyResult<()> {
    let key = key(client)?;
    run::detached(py, None, |_| known::forget_client(&root, &key))
}

/// Pre-stages the clients of the CSV text ``csv`` (header
/// ``mac,uuid,name,allow,boot``; ``allow`` names separated by ``;``) in the
/// client database of ``root``, all or none; returns how many.
#[pyfunction]
pub(crate) fn import_clients(py: Python<'_>, root: PathBuf, csv: &str) -> PyResult<usize> {
    run::detached(py, None, |_| known::import_clients(&root, csv))
}
