//! Result codes, the thread-local error message, panic catching and the
//! string conversions every exported function shares.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use dart_core::{Error, ErrorKind};

/// Result of every fallible call. `DART_OK` is 0.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum dart_result {
    /// Success.
    DART_OK = 0,
    /// An input path does not exist.
    DART_ERR_NOT_FOUND = 1,
    /// The operating system refused a read or write.
    DART_ERR_IO = 2,
    /// A WIM is not a WIM, is damaged, lacks the image, or composing failed.
    DART_ERR_IMAGE = 3,
    /// Unknown tool or support level, or a missing tool payload.
    DART_ERR_TOOL = 4,
    /// A setting or argument is out of range or malformed.
    DART_ERR_INVALID_INPUT = 5,
    /// A media set is incomplete.
    DART_ERR_MEDIA = 6,
    /// The operation was cancelled by the progress callback.
    DART_ERR_CANCELLED = 7,
    /// A required pointer argument was NULL.
    DART_ERR_NULL_ARGUMENT = 8,
    /// A string argument was not valid UTF-8.
    DART_ERR_UTF8 = 9,
    /// The library panicked (a bug); the call had no effect that can be relied on.
    DART_ERR_PANIC = 10,
    /// A disk or device: I/O failed, it is mounted or in use, too small, full,
    /// or its partition table or file system cannot be used.
    DART_ERR_DISK = 11,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// The message of the last error on this thread ("" if none). The pointer
/// stays valid until the next failing call on the same thread; do not free it.
#[no_mangle]
pub extern "C" fn dart_last_error_message() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The library version, a static string.
#[no_mangle]
pub extern "C" fn dart_version() -> *const c_char {
    static VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"",
        };
    VERSION.as_ptr()
}

/// Frees a string returned through a `char **` out-pointer. NULL is accepted.
///
/// # Safety
/// `s` must be NULL or a pointer this library returned and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn dart_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: the caller passes a pointer from CString::into_raw (see
        // put_string) that has not been freed.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// An error at the boundary: a core error or an argument problem.
pub(crate) enum FfiError {
    Core(Error),
    Null(&'static str),
    Utf8(&'static str),
    Invalid(String),
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        FfiError::Core(e)
    }
}

fn code_of(kind: ErrorKind) -> dart_result {
    match kind {
        ErrorKind::NotFound => dart_result::DART_ERR_NOT_FOUND,
        ErrorKind::Io => dart_result::DART_ERR_IO,
        ErrorKind::Image => dart_result::DART_ERR_IMAGE,
        ErrorKind::Tool => dart_result::DART_ERR_TOOL,
        ErrorKind::InvalidInput => dart_result::DART_ERR_INVALID_INPUT,
        ErrorKind::Media => dart_result::DART_ERR_MEDIA,
        ErrorKind::Cancelled => dart_result::DART_ERR_CANCELLED,
        ErrorKind::Disk => dart_result::DART_ERR_DISK,
        _ => dart_result::DART_ERR_IO,
    }
}

/// Runs an exported body: catches panics, records the error message.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), FfiError>) -> dart_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => dart_result::DART_OK,
        Ok(Err(FfiError::Core(e))) => {
            set_last_error(&e.to_string());
            code_of(e.kind())
        }
        Ok(Err(FfiError::Null(name))) => {
            set_last_error(&format!("argument {name} is NULL"));
            dart_result::DART_ERR_NULL_ARGUMENT
        }
        Ok(Err(FfiError::Utf8(name))) => {
            set_last_error(&format!("argument {name} is not valid UTF-8"));
            dart_result::DART_ERR_UTF8
        }
        Ok(Err(FfiError::Invalid(msg))) => {
            set_last_error(&msg);
            dart_result::DART_ERR_INVALID_INPUT
        }
        Err(_) => {
            set_last_error("internal error: dart panicked; please report this bug");
            dart_result::DART_ERR_PANIC
        }
    }
}

/// A required string argument.
///
/// # Safety
/// `p` must be NULL or point to a nul-terminated string valid for `'a`.
pub(crate) unsafe fn arg_str<'a>(
    p: *const c_char,
    name: &'static str,
) -> Result<&'a str, FfiError> {
    if p.is_null() {
        return Err(FfiError::Null(name));
    }
    // SAFETY: non-NULL, and the caller guarantees a nul-terminated string.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| FfiError::Utf8(name))
}

/// An optional string argument (NULL means none).
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn opt_str<'a>(
    p: *const c_char,
    name: &'static str,
) -> Result<Option<&'a str>, FfiError> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { arg_str(p, name) }.map(Some)
    }
}

/// A required out-pointer.
pub(crate) fn out_ptr<'a, T>(p: *mut T, name: &'static str) -> Result<&'a mut T, FfiError> {
    // SAFETY: a non-NULL out-pointer from the caller points to writable
    // memory for a T (the documented contract of every out-parameter).
    unsafe { p.as_mut() }.ok_or(FfiError::Null(name))
}

/// Writes a new string to an out-pointer (freed with `dart_string_free`).
pub(crate) fn put_string(out: &mut *mut c_char, value: String) {
    *out = CString::new(value.replace('\0', " "))
        .unwrap_or_default()
        .into_raw();
}

/// Serialises a value to JSON for a `char **` out-pointer.
pub(crate) fn put_json<T: serde::Serialize>(
    out: *mut *mut c_char,
    value: &T,
) -> Result<(), FfiError> {
    if out.is_null() {
        return Ok(());
    }
    let json = serde_json::to_string_pretty(value).map_err(|e| FfiError::Invalid(e.to_string()))?;
    put_string(out_ptr(out, "json")?, json);
    Ok(())
}
