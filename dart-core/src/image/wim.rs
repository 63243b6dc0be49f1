//! The edge to wimlib: opening WIMs, converting paths and errors.
//!
//! Everything that touches the `wimlib` crate directly lives here or in the
//! modules of `image` that compose images; the rest of dart-core sees only our
//! own types and [`Error`].

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;

use wimlib::string::TStr;
use wimlib::{OpenFlags, Wim, WimLib};

use super::header::WimHeader;
use crate::error::{Error, Result};

/// The process-wide wimlib handle, initialised once with case-insensitive
/// path lookup (WIM images hold Windows file trees) and never cleaned up.
pub(crate) fn lib() -> &'static WimLib {
    static LIB: OnceLock<WimLib> = OnceLock::new();
    LIB.get_or_init(|| {
        let flags = wimlib::sys::WIMLIB_INIT_FLAG_DEFAULT_CASE_INSENSITIVE as std::ffi::c_int;
        // SAFETY: wimlib_global_init takes plain flags, is thread-safe (it
        // locks internally) and is a no-op once the library is initialised.
        // The flags are valid (one case flag only), so it cannot fail; if it
        // did, WimLib::default below initialises with default flags instead.
        let _ = unsafe { wimlib::sys::wimlib_global_init(flags) };
        WimLib::default()
    })
}

/// A path as the nul-terminated string wimlib takes.
pub(crate) fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::invalid("path", path.display(), "paths cannot contain NUL bytes"))
}

/// A string as the nul-terminated string wimlib takes.
pub(crate) fn c_string(field: &'static str, value: &str) -> Result<CString> {
    CString::new(value).map_err(|_| Error::invalid(field, value, "text cannot contain NUL bytes"))
}

/// Borrow a C string as wimlib's string type.
pub(crate) fn tstr(s: &CString) -> &TStr {
    TStr::from_impl(s.as_c_str())
}

/// Reads and checks the header of a would-be WIM file, so that missing,
/// foreign and truncated files get a precise error before wimlib sees them.
pub(crate) fn check_file(path: &Path) -> Result<WimHeader> {
    let mut file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound {
            what: "WIM file",
            path: path.to_path_buf(),
        },
        _ => Error::read(path, e),
    })?;
    let len = file.metadata().map_err(|e| Error::read(path, e))?.len();
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(Error::NotAWim {
            path: path.to_path_buf(),
            reason: "it is a directory".into(),
        });
    }
    let mut head = Vec::with_capacity(super::header::HEADER_SIZE);
    file.by_ref()
        .take(super::header::HEADER_SIZE as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::read(path, e))?;
    let header = WimHeader::parse(&head).map_err(|e| Error::NotAWim {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    header.check_fits(len).map_err(|e| Error::CorruptWim {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    Ok(header)
}

/// Opens a WIM read-only after checking its header.
pub(crate) fn open(path: &Path) -> Result<Wim> {
    check_file(path)?;
    let c = c_path(path)?;
    lib()
        .open_wim(tstr(&c), OpenFlags::empty())
        .map_err(|e| classify(path, "opening", e))
}

/// Turns a wimlib error into ours: data errors become [`Error::CorruptWim`].
pub(crate) fn classify(path: &Path, operation: &'static str, e: wimlib::Error) -> Error {
    use wimlib::Error as W;
    match e {
        W::NotAWimFile => Error::NotAWim {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
        W::Decompression
        | W::InvalidHeader
        | W::InvalidLookupTableEntry
        | W::InvalidMetadataResource
        | W::InvalidResourceHash
        | W::InvalidChunkSize
        | W::InvalidIntegrityTable
        | W::ImageCount
        | W::UnexpectedEndOfFile
        | W::Xml
        | W::MetadataNotFound
        | W::ResourceNotFound
        | W::Integrity
        | W::WimIsIncomplete => Error::CorruptWim {
            path: path.to_path_buf(),
            detail: format!("{operation}: {e}"),
        },
        _ => Error::Wim {
            operation,
            path: path.to_path_buf(),
            detail: e.to_string(),
            untouched: "nothing was written",
        },
    }
}
