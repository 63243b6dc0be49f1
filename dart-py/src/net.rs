//! The network boot server: `stage`, `read_catalog` and `BootServer`. Each
//! converts its arguments, calls one `dart_core::net` function and converts
//! the result or error.
//!
//! `BootServer` calls its `on_event` callback from the server's threads,
//! each time attaching to the interpreter; it therefore stops the server
//! with the GIL released (a server thread waiting for the GIL to report an
//! event could not otherwise end).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use dart_core::deploy::{self, StageOptions};
use dart_core::net::settings::{EventRecord, ServeSettings};
use dart_core::net::{self, AccessPolicy, BootEvent, Catalog};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::{self, DartError};
use crate::{convert, run};

/// The JSON text `json.dumps` makes of a Python value.
fn json_text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    value
        .py()
        .import("json")?
        .call_method1("dumps", (value,))?
        .extract()
}

/// Stages the media `media` (a directory or an ISO image) into the boot
/// server root `root` as the next version of the image `name`, and returns
/// its catalog entry. The files are copied first and the catalog switched
/// atomically after, so a running server never sees a half-copied image; a
/// failure or a cancel leaves the catalog as it was.
#[pyfunction]
#[pyo3(signature = (media, root, name, *, role="recovery", arch=None, bios_loader=None, keep=2, wim=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn stage<'py>(
    py: Python<'py>,
    media: PathBuf,
    root: PathBuf,
    name: String,
    role: &str,
    arch: Option<&str>,
    bios_loader: Option<String>,
    keep: usize,
    wim: Option<PathBuf>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = crate::deploy::medium(media, wim, None, None, None);
    let options = StageOptions {
        name,
        role: error::core(role.parse())?,
        arch: error::core(arch.map(str::parse).transpose())?,
        bios_loader,
        keep,
    };
    let entry = run::detached(py, progress, |control| {
        deploy::stage_from(&spec, &root, &options, control)
    })?;
    convert::to_python(py, &entry)
}

/// Reads the catalog of the boot server root `root`: the current version of
/// each image (`images`) and older versions kept on disk (`retired`).
#[pyfunction]
pub(crate) fn read_catalog(py: Python<'_>, root: PathBuf) -> PyResult<Bound<'_, PyAny>> {
    let catalog = run::detached(py, None, |_| Catalog::load(&root))?;
    convert::to_python(py, &catalog)
}

/// Calls `callback` with an event as a dict, from a server thread. An
/// exception it raises is reported through `sys.unraisablehook` (printed
/// by default) and the server goes on; nothing unwinds into the server.
fn report(callback: &Py<PyAny>, event: &BootEvent) {
    let record = EventRecord::from(event);
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // No report once the interpreter is shutting down.
        Python::try_attach(|py| {
            let called = convert::to_python(py, &record)
                .and_then(|dict| callback.call1(py, (dict,)).map(drop));
            if let Err(err) = called {
                err.write_unraisable(py, Some(callback.bind(py)));
            }
        })
    }));
}

/// A running network boot server: TFTP and, when `proxy_dhcp` names a
/// network interface, proxy-DHCP, serving the images staged in `root` under
/// an access policy. Stop it with `stop()` or use it in a `with` block.
#[pyclass(frozen, module = "dart._dart")]
pub struct BootServer {
    /// The server; `None` once stopped.
    inner: Mutex<Option<net::BootServer>>,
}

impl BootServer {
    fn lock(&self) -> MutexGuard<'_, Option<net::BootServer>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the running server, or raises `DartError` once stopped.
    /// The lock is only held while the GIL is, and never across a call back
    /// into Python.
    fn with<T>(&self, f: impl FnOnce(&net::BootServer) -> T) -> PyResult<T> {
        match self.lock().as_ref() {
            Some(server) => Ok(f(server)),
            None => Err(DartError::new_err("the boot server has been stopped")),
        }
    }
}

#[pymethods]
impl BootServer {
    /// Checks the settings and starts serving, on threads of the server's
    /// own; returns at once. A wrong setting raises `InvalidInputError`
    /// naming it; a port that cannot be bound, `IoError`.
    #[new]
    #[pyo3(signature = (root, *, policy=None, policy_file=None, tftp="0.0.0.0:69", tftp_reply_ports=None, max_transfers=None, proxy_dhcp=None, server_ip=None, http=None, boot_url=None, on_event=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        root: PathBuf,
        policy: Option<Bound<'_, PyAny>>,
        policy_file: Option<PathBuf>,
        tftp: &str,
        tftp_reply_ports: Option<(u16, u16)>,
        max_transfers: Option<usize>,
        proxy_dhcp: Option<String>,
        server_ip: Option<String>,
        http: Option<String>,
        boot_url: Option<String>,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<BootServer> {
        if let Some(callback) = &on_event {
            if !callback.bind(py).is_callable() {
                return Err(PyTypeError::new_err(
                    "on_event must be a callable (event: dict) or None",
                ));
            }
        }
        // The settings as the JSON object dart-core parses (None is null).
        let settings = PyDict::new(py);
        settings.set_item("root", root.as_os_str())?;
        settings.set_item("policy", policy)?;
        settings.set_item("policy_file", policy_file.as_deref().map(Path::as_os_str))?;
        settings.set_item("tftp", tftp)?;
        settings.set_item("tftp_reply_ports", tftp_reply_ports)?;
        settings.set_item("max_transfers", max_transfers)?;
        settings.set_item("proxy_dhcp", proxy_dhcp)?;
        settings.set_item("server_ip", server_ip)?;
        settings.set_item("http", http)?;
        settings.set_item("boot_url", boot_url)?;
        let settings = error::core(ServeSettings::from_json(&json_text(settings.as_any())?))?;
        let events = on_event.map(|callback| {
            Box::new(move |event: BootEvent| report(&callback, &event))
                as Box<dyn Fn(BootEvent) + Send + Sync>
        });
        let server = error::core(settings.start(events))?;
        Ok(BootServer {
            inner: Mutex::new(Some(server)),
        })
    }

    /// Where TFTP listens, as `(host, port)` (the port the system chose
    /// when `tftp` gave port 0).
    #[getter]
    fn tftp_address(&self) -> PyResult<(String, u16)> {
        let addr = self.with(net::BootServer::tftp_addr)?;
        addr.map(|a| (a.ip().to_string(), a.port()))
            .ok_or_else(|| DartError::new_err("the boot server has been stopped"))
    }

    /// Where HTTP listens, as `(host, port)`, or `None` when the server
    /// serves no HTTP.
    #[getter]
    fn http_address(&self) -> PyResult<Option<(String, u16)>> {
        let addr = self.with(net::BootServer::http_addr)?;
        Ok(addr.map(|a| (a.ip().to_string(), a.port())))
    }

    /// TFTP transfers running now (0 once stopped).
    #[getter]
    fn active_transfers(&self) -> usize {
        self.with(net::BootServer::active_transfers).unwrap_or(0)
    }

    /// Replaces the access policy (a dict, as the `policy` argument);
    /// requests after this call are judged by the new one. A policy that
    /// does not parse, or has unnamed or duplicate rules, raises
    /// `InvalidInputError` and the old policy stays.
    fn set_policy(&self, policy: &Bound<'_, PyAny>) -> PyResult<()> {
        let policy = error::core(AccessPolicy::from_json(&json_text(policy)?))?;
        self.with(|server| server.set_policy(policy))
    }

    /// The catalog the server offers now (as `read_catalog`).
    fn catalog<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let catalog = self.with(net::BootServer::catalog)?;
        convert::to_python(py, &catalog)
    }

    /// Stops proxy-DHCP and TFTP; running transfers end. Returns when every
    /// server thread has ended: no `on_event` call happens after it.
    /// Stopping a stopped server does nothing.
    fn stop(&self, py: Python<'_>) {
        let server = self.lock().take();
        if let Some(server) = server {
            py.detach(move || server.stop());
        }
    }

    /// Returns the server itself.
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Stops the server; an exception from the block propagates.
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<Bound<'_, PyAny>>,
        exc_value: Option<Bound<'_, PyAny>>,
        traceback: Option<Bound<'_, PyAny>>,
    ) {
        let _ = (exc_type, exc_value, traceback);
        self.stop(py);
    }

    fn __repr__(&self) -> String {
        match self.with(net::BootServer::tftp_addr) {
            Ok(Some(addr)) => format!("BootServer(tftp={addr})"),
            _ => "BootServer(stopped)".to_string(),
        }
    }
}

impl Drop for BootServer {
    /// A server dropped while running is stopped with the GIL released.
    /// Without an interpreter (at exit) no server thread can be waiting
    /// for the GIL, and the server stops as the closure holding it drops.
    fn drop(&mut self) {
        let server = self
            .inner
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(server) = server {
            Python::try_attach(|py| py.detach(|| server.stop()));
        }
    }
}
