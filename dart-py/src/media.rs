//! `MediaSet`: the file tree that boots a recovery image.

use std::ffi::OsString;
use std::path::PathBuf;

use dart_core::model::media;
use pyo3::prelude::*;

use crate::convert;
use crate::error;
use crate::run::detached;

/// A bootable file tree on disk (Windows PE media: `bootmgr`, `boot/bcd`,
/// `efi/boot/boot*.efi`, `sources/boot.wim`, ...). Lookups are case-insensitive.
#[pyclass(frozen, module = "dart._dart")]
pub struct MediaSet {
    /// The core media set.
    inner: media::MediaSet,
}

#[pymethods]
impl MediaSet {
    /// Opens a media directory or an ISO image (read in place).
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<MediaSet> {
        let inner = detached(py, None, |_| media::MediaSet::open(&path))?;
        Ok(MediaSet { inner })
    }

    /// The root directory, or the ISO image file.
    #[getter]
    fn root(&self) -> OsString {
        self.inner.root().as_os_str().to_os_string()
    }

    /// What holds the files: `"directory"` or `"iso"`.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.inner.kind() {
            media::MediaKind::Directory => "directory",
            media::MediaKind::Iso => "iso",
        }
    }

    /// Every file as `(path relative to the root, size in bytes)`, sorted by
    /// lower-cased path.
    fn files(&self) -> Vec<(String, u64)> {
        self.inner
            .files()
            .into_iter()
            .map(|f| (f.path.clone(), f.size))
            .collect()
    }

    /// Total bytes of all files.
    #[getter]
    fn total_bytes(&self) -> u64 {
        self.inner.total_bytes()
    }

    /// The recovery image (`sources/boot.wim`) as a file on disk; `None`
    /// when absent or inside an ISO image.
    #[getter]
    fn boot_wim(&self) -> Option<OsString> {
        self.inner.boot_wim().map(PathBuf::into_os_string)
    }

    /// Architectures (`x86`, `x64`, `arm64`) that have a UEFI fallback loader in the set.
    fn uefi_architectures(&self) -> Vec<&'static str> {
        self.inner
            .uefi_architectures()
            .into_iter()
            .map(|a| a.name())
            .collect()
    }

    /// Checks that the set can boot `arch` on `firmware` (`bios`, `uefi` or
    /// `both`); raises `MediaError` naming the first missing file.
    #[pyo3(signature = (arch, firmware = "both"))]
    fn validate(&self, arch: &str, firmware: &str) -> PyResult<()> {
        let arch = error::core(arch.parse())?;
        let firmware = error::core(firmware.parse())?;
        error::core(self.inner.validate(arch, firmware))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "MediaSet({}, files={})",
            convert::repr(py, self.inner.root().as_os_str())?,
            self.inner.files().len()
        ))
    }
}
