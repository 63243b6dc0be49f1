//! `RecoveryImage`, `ImageInfo`, `build_image` and `build_variants`.

use std::ffi::OsString;
use std::path::PathBuf;

use dart_core::image::{self, ImageRecipe, ImageVariant};
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

/// The settings every variant of a build shares, as given from Python.
pub(crate) struct Settings {
    /// Image of the base to start from.
    pub(crate) base_index: Option<u32>,
    /// Drivers directory.
    pub(crate) drivers: Option<PathBuf>,
    /// Image name.
    pub(crate) name: Option<String>,
    /// Image description.
    pub(crate) description: Option<String>,
    /// Remote Connection port.
    pub(crate) remote_port: Option<u16>,
    /// Remote Connection welcome message.
    pub(crate) remote_message: Option<String>,
    /// WinPE scratch space in MB.
    pub(crate) scratch_space_mb: Option<u32>,
    /// The whole `winpeshl.ini`.
    pub(crate) winpeshl_ini: Option<String>,
    /// The whole `startnet.cmd`.
    pub(crate) startnet_cmd: Option<String>,
    /// Output compression name.
    pub(crate) compression: Option<String>,
    /// Keep the base's other images.
    pub(crate) keep_other_images: bool,
    /// Deterministic timestamp.
    pub(crate) deterministic: Option<i64>,
    /// Compression threads.
    pub(crate) threads: u32,
}

impl Settings {
    /// The core recipe of these settings.
    fn recipe(self, base: PathBuf, payloads: PathBuf) -> PyResult<ImageRecipe> {
        let mut recipe = ImageRecipe::new(base, payloads);
        recipe.base_index = self.base_index;
        recipe.drivers = self.drivers;
        recipe.name = self.name;
        recipe.description = self.description;
        recipe.remote.port = self.remote_port;
        recipe.remote.welcome_message = self.remote_message;
        recipe.scratch_space_mb = self.scratch_space_mb;
        recipe.startup.winpeshl_ini = self.winpeshl_ini;
        recipe.startup.startnet_cmd = self.startnet_cmd;
        recipe.compression = self
            .compression
            .map(|c| error::core(c.parse()))
            .transpose()?;
        recipe.keep_other_images = self.keep_other_images;
        recipe.deterministic = self.deterministic;
        recipe.threads = self.threads;
        Ok(recipe)
    }
}

/// Builds one recovery image from a base WinPE WIM, tool payloads and the
/// selected tools; returns the build report.
///
/// The GIL is released while the image is built. If `progress` raises, the
/// build is cancelled and `CancelledError` is raised from the callback's
/// exception; Ctrl-C cancels it too and the `KeyboardInterrupt` propagates.
/// A failed or cancelled build leaves no output.
#[pyfunction]
#[pyo3(signature = (
    base, payloads, tools, output, *, base_index=None, drivers=None, name=None, description=None,
    remote_port=None, remote_message=None, scratch_space_mb=None, winpeshl_ini=None, startnet_cmd=None,
    compression=None, keep_other_images=false, deterministic=None, threads=0, progress=None
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_image<'py>(
    py: Python<'py>,
    base: PathBuf,
    payloads: PathBuf,
    tools: &Bound<'py, PyAny>,
    output: PathBuf,
    base_index: Option<u32>,
    drivers: Option<PathBuf>,
    name: Option<String>,
    description: Option<String>,
    remote_port: Option<u16>,
    remote_message: Option<String>,
    scratch_space_mb: Option<u32>,
    winpeshl_ini: Option<String>,
    startnet_cmd: Option<String>,
    compression: Option<String>,
    keep_other_images: bool,
    deterministic: Option<i64>,
    threads: u32,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let settings = Settings {
        base_index,
        drivers,
        name,
        description,
        remote_port,
        remote_message,
        scratch_space_mb,
        winpeshl_ini,
        startnet_cmd,
        compression,
        keep_other_images,
        deterministic,
        threads,
    };
    let recipe = settings.recipe(base, payloads)?;
    let variants = [ImageVariant::new(convert::tools(tools)?, output)];
    let report = detached(py, progress, |control| {
        image::build_variants(&recipe, &variants, control)
    })?;
    convert::to_python(py, &report)
}

/// Builds several variants (support levels) of a recovery image in one pass;
/// `variants` is a list of `(tools, output)` tuples. Returns the build report.
#[pyfunction]
#[pyo3(signature = (
    base, payloads, variants, *, base_index=None, drivers=None, name=None, description=None,
    remote_port=None, remote_message=None, scratch_space_mb=None, winpeshl_ini=None, startnet_cmd=None,
    compression=None, keep_other_images=false, deterministic=None, threads=0, progress=None
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_variants<'py>(
    py: Python<'py>,
    base: PathBuf,
    payloads: PathBuf,
    variants: Vec<(Bound<'py, PyAny>, PathBuf)>,
    base_index: Option<u32>,
    drivers: Option<PathBuf>,
    name: Option<String>,
    description: Option<String>,
    remote_port: Option<u16>,
    remote_message: Option<String>,
    scratch_space_mb: Option<u32>,
    winpeshl_ini: Option<String>,
    startnet_cmd: Option<String>,
    compression: Option<String>,
    keep_other_images: bool,
    deterministic: Option<i64>,
    threads: u32,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let settings = Settings {
        base_index,
        drivers,
        name,
        description,
        remote_port,
        remote_message,
        scratch_space_mb,
        winpeshl_ini,
        startnet_cmd,
        compression,
        keep_other_images,
        deterministic,
        threads,
    };
    let recipe = settings.recipe(base, payloads)?;
    let variants = variants
        .into_iter()
        .map(|(tools, output)| Ok(ImageVariant::new(convert::tools(&tools)?, output)))
        .collect::<PyResult<Vec<_>>>()?;
    let report = detached(py, progress, |control| {
        image::build_variants(&recipe, &variants, control)
    })?;
    convert::to_python(py, &report)
}
