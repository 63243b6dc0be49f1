//! Inspecting WIM files: `RecoveryImage` and `ImageInfo`.

use std::ffi::OsString;
use std::path::PathBuf;

use dart_core::image;
use pyo3::prelude::*;

use crate::convert;
use crate::error;
use crate::run::detached;

/// One image inside a WIM file.
#[pyclass(frozen, get_all, module = "dart._dart")]
pub struct ImageInfo {
    /// 1-based index.
    index: u32,
    /// The `NAME` property.
    name: Option<String>,
    /// The `DESCRIPTION` property.
    description: Option<String>,
    /// `x86`, `x64` or `arm64`, from the `WINDOWS/ARCH` property.
    architecture: Option<String>,
    /// `WINDOWS/EDITIONID`.
    edition_id: Option<String>,
    /// `WINDOWS/INSTALLATIONTYPE`.
    installation_type: Option<String>,
    /// Whether the image says it is Windows PE.
    is_winpe: bool,
    /// Bytes of file data (`TOTALBYTES`).
    total_bytes: u64,
    /// Files (`FILECOUNT`).
    file_count: u64,
    /// Directories (`DIRCOUNT`).
    dir_count: u64,
    /// The DaRT tools a dart-built image records carrying, as `dart.Tools` flags.
    dart_tools: Option<u32>,
}

impl From<&image::ImageInfo> for ImageInfo {
    fn from(i: &image::ImageInfo) -> ImageInfo {
        ImageInfo {
            index: i.index,
            name: i.name.clone(),
            description: i.description.clone(),
            architecture: i.architecture.map(|a| a.name().to_string()),
            edition_id: i.edition_id.clone(),
            installation_type: i.installation_type.clone(),
            is_winpe: i.is_winpe,
            total_bytes: i.total_bytes,
            file_count: i.file_count,
            dir_count: i.dir_count,
            dart_tools: i.dart_tools.map(|t| t.bits()),
        }
    }
}

#[pymethods]
impl ImageInfo {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "ImageInfo(index={}, name={}, is_winpe={})",
            self.index,
            convert::repr(py, &self.name)?,
            convert::repr(py, self.is_winpe)?
        ))
    }
}

/// An opened, inspected WIM file (opened read-only).
#[pyclass(frozen, module = "dart._dart")]
pub struct RecoveryImage {
    /// The core image.
    inner: image::RecoveryImage,
}

#[pymethods]
impl RecoveryImage {
    /// Opens a WIM file read-only and reads what it holds.
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<RecoveryImage> {
        let inner = detached(py, None, |_| image::RecoveryImage::open(&path))?;
        Ok(RecoveryImage { inner })
    }

    /// Opens a WIM file read-only and reads what it holds (same as the constructor).
    #[staticmethod]
    fn open(py: Python<'_>, path: PathBuf) -> PyResult<RecoveryImage> {
        RecoveryImage::new(py, path)
    }

    /// The file.
    #[getter]
    fn path(&self) -> OsString {
        self.inner.info().path.clone().into_os_string()
    }

    /// The WIM's GUID, as lower-case hex.
    #[getter]
    fn guid(&self) -> &str {
        &self.inner.info().guid
    }

    /// Number of images.
    #[getter]
    fn image_count(&self) -> u32 {
        self.inner.info().image_count
    }

    /// 1-based bootable image, if any.
    #[getter]
    fn boot_index(&self) -> Option<u32> {
        self.inner.info().boot_index
    }

    /// The image used when none is named: the boot image, else 1.
    #[getter]
    fn default_index(&self) -> u32 {
        self.inner.default_index()
    }

    /// Default compression: `none`, `xpress`, `lzx` or `lzms`.
    #[getter]
    fn compression(&self) -> &'static str {
        self.inner.info().compression.name()
    }

    /// Compression chunk size in bytes.
    #[getter]
    fn chunk_size(&self) -> u32 {
        self.inner.info().chunk_size
    }

    /// File size in bytes.
    #[getter]
    fn file_size(&self) -> u64 {
        self.inner.info().file_size
    }

    /// Every image, in index order.
    #[getter]
    fn images(&self) -> Vec<ImageInfo> {
        self.inner
            .info()
            .images
            .iter()
            .map(ImageInfo::from)
            .collect()
    }

    /// One image by 1-based index.
    fn image(&self, index: u32) -> PyResult<ImageInfo> {
        error::core(self.inner.image(index)).map(ImageInfo::from)
    }

    /// Every path in an image, `/`-separated from the root, directories with a
    /// trailing `/`, sorted.
    fn list_files(&self, py: Python<'_>, index: u32) -> PyResult<Vec<String>> {
        detached(py, None, |_| self.inner.list_files(index))
    }

    /// Everything the image reports, as plain Python data.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_python(py, self.inner.info())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let info = self.inner.info();
        Ok(format!(
            "RecoveryImage({}, image_count={})",
            convert::repr(py, info.path.as_os_str())?,
            info.image_count
        ))
    }
}
