//! `BcdStore`: a BCD store (the boot menu of Windows Boot Manager) held in
//! memory, read from and saved to a file, listed and edited.
//!
//! Edits change only the object; the file changes when `save` writes it
//! (beside the old file, synced, then renamed over it). Object ids are
//! given as `{guid}` (braces optional), a bcdedit alias (`{bootmgr}`) or
//! `{default}`, and returned as `{guid}`. Store calls are fast (a store is
//! tens of KiB), so they keep the GIL.
//!
//! The class docstring holds this example, which `tests/test_bcd.py` runs
//! as a doctest (`path` is a file name):
//!
//! ```python
//! >>> import dart
//! >>> store = dart.BcdStore.new("uefi")
//! >>> full = store.add_winpe("DaRT (full)", r"\sources\full.wim", default=True)
//! >>> store.set_timeout(10)
//! >>> store.save(path)
//! >>> again = dart.BcdStore.open(path)
//! >>> again.default == full, again.timeout
//! (True, 10)
//! >>> [o["description"] for o in again.objects() if o["id"] == full]
//! ['DaRT (full)']
//! ```

use std::path::PathBuf;

use dart_core::formats::bcd::{Store, WinPeEntry};
use dart_core::model::media::Firmware;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::convert;
use crate::error;

/// `{guid}`, as ids are returned.
fn braced(id: impl std::fmt::Display) -> String {
    format!("{{{id}}}")
}

/// A BCD store held in memory; the file changes only when `save` writes it.
///
/// Object ids are given as `{guid}` (braces optional), a bcdedit alias
/// (`{bootmgr}`) or `{default}`, and returned as `{guid}`. A damaged or
/// dirty store, or an edit it does not allow, raises `BootStoreError`; a
/// malformed argument `InvalidInputError`; both name the input.
///
/// >>> import dart
/// >>> store = dart.BcdStore.new("uefi")
/// >>> full = store.add_winpe("DaRT (full)", r"\sources\full.wim", default=True)
/// >>> store.set_timeout(10)
/// >>> store.save(path)
/// >>> again = dart.BcdStore.open(path)
/// >>> again.default == full, again.timeout
/// (True, 10)
/// >>> [o["description"] for o in again.objects() if o["id"] == full]
/// ['DaRT (full)']
#[pyclass(module = "dart._dart")]
pub struct BcdStore {
    /// The core store.
    inner: Store,
}

#[pymethods]
impl BcdStore {
    /// A new store for `firmware` (`"bios"` or `"uefi"`) with the objects
    /// Windows media stores carry and no boot entries.
    #[staticmethod]
    fn new(firmware: &str) -> PyResult<BcdStore> {
        let firmware = error::core(firmware.parse::<Firmware>())?;
        let inner = error::core(Store::new(firmware))?;
        Ok(BcdStore { inner })
    }

    /// Reads the store file at `path`. A damaged or dirty hive, or a hive
    /// that is not a BCD store, raises `BootStoreError`.
    #[staticmethod]
    fn open(path: PathBuf) -> PyResult<BcdStore> {
        let inner = error::core(Store::open(&path))?;
        Ok(BcdStore { inner })
    }

    /// Writes the store to `path`: a temporary file beside it, synced, then
    /// renamed over the old file. A failure leaves the old file as it was.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        error::core(self.inner.save(&path))
    }

    /// The store as JSON text: `{"objects": [...]}` (see `objects()`).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&self.inner.view())
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Every object as a dict (`id`, `alias`, `type`, `name`,
    /// `description`, `elements`: dicts of `code`, `name`, `value`), the
    /// boot manager first, then the menu's entries in order, then the rest.
    fn objects<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_python(py, &self.inner.view().objects)
    }

    /// The store listed as `bcdedit /enum all` lists it.
    fn text(&self) -> String {
        self.inner.to_text()
    }

    /// Adds a WinPE entry booting the WIM `wim` (a path on the boot device
    /// such as `\sources\boot.wim`) from a RAM disk, at the end of the
    /// menu, and returns its id. It becomes the default when `default` is
    /// set or the store has no default. `sdi` is the path of `boot.sdi`
    /// (default `\boot\boot.sdi`); `firmware` (`"bios"` or `"uefi"`) picks
    /// the loader (default: as the store's other entries).
    #[pyo3(signature = (description, wim, sdi=None, firmware=None, default=false))]
    fn add_winpe(
        &mut self,
        description: &str,
        wim: &str,
        sdi: Option<String>,
        firmware: Option<&str>,
        default: bool,
    ) -> PyResult<String> {
        let mut entry = WinPeEntry::new(description, wim);
        if let Some(sdi) = sdi {
            entry.sdi = sdi;
        }
        entry.firmware = error::core(firmware.map(str::parse::<Firmware>).transpose())?;
        error::core(self.inner.add_winpe(&entry, default)).map(braced)
    }

    /// Removes the object `id`: from the menu, as the default (the first
    /// entry left becomes the default), and the device-options objects
    /// nothing references any more.
    fn remove(&mut self, id: &str) -> PyResult<()> {
        let id = error::core(self.inner.resolve(id))?;
        error::core(self.inner.remove(id))
    }

    /// Sets the menu timeout in seconds (0 to 999).
    fn set_timeout(&mut self, seconds: u64) -> PyResult<()> {
        error::core(self.inner.set_timeout(seconds))
    }

    /// Makes the boot entry `id` the default (and puts it first in the
    /// menu when the menu lacks it).
    fn set_default(&mut self, id: &str) -> PyResult<()> {
        let id = error::core(self.inner.resolve(id))?;
        error::core(self.inner.set_default(id))
    }

    /// Sets the menu to the boot entries `ids`, in order. Each must be an
    /// entry of the store, once; the default must stay in the menu.
    fn set_display_order(&mut self, ids: Vec<String>) -> PyResult<()> {
        let ids = ids
            .iter()
            .map(|id| self.inner.resolve(id))
            .collect::<dart_core::Result<Vec<_>>>();
        error::core(self.inner.set_display_order(&error::core(ids)?))
    }

    /// The default entry's id, or `None`.
    #[getter]
    fn default(&self) -> Option<String> {
        self.inner.default_entry().map(braced)
    }

    /// The menu's entry ids, in order.
    #[getter]
    fn display_order(&self) -> Vec<String> {
        self.inner.display_order().into_iter().map(braced).collect()
    }

    /// The menu timeout in seconds, or `None` when the store sets none.
    #[getter]
    fn timeout(&self) -> Option<u64> {
        self.inner.timeout()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "BcdStore(objects={}, default={}, timeout={})",
            self.inner.objects().len(),
            convert::repr(py, self.default())?,
            convert::repr(py, self.timeout())?
        ))
    }
}
