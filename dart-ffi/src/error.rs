//! Result codes and the thread-local message of the last error.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use dart_core::{Error, ErrorKind};

use crate::panic::catch;

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
    /// A BCD store is damaged, dirty (Windows left changes in its log
    /// files), not a BCD store, lacks the object named, or does not allow
    /// the edit.
    DART_ERR_BOOT_STORE = 12,
    /// A UEFI variable store (efivarfs or an OVMF variable file) is
    /// damaged, full, changed since the plan was made, or lacks the boot
    /// option named.
    DART_ERR_UEFI_VARIABLES = 13,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error. It never panics: when the
/// thread-local slot is gone (the thread is ending) the message is dropped.
pub(crate) fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = c;
        }
    });
}

/// The message of the last error on this thread ("" if none, and "" if the
/// library panicked while reading it). The pointer stays valid until the
/// next failing call on the same thread; do not free it.
#[no_mangle]
pub extern "C" fn dart_last_error_message() -> *const c_char {
    catch(|| LAST_ERROR.with(|e| e.borrow().as_ptr()))
}

/// An error at the boundary: a core error or an argument problem.
pub(crate) enum FfiError {
    /// The core refused or failed.
    Core(Error),
    /// A required pointer argument (named) was NULL.
    Null(&'static str),
    /// A string argument (named) was not valid UTF-8.
    Utf8(&'static str),
    /// An argument was malformed; the message says how.
    Invalid(String),
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        FfiError::Core(e)
    }
}

impl FfiError {
    /// Records the message as the last error and returns the result code.
    pub(crate) fn record(self) -> dart_result {
        match self {
            FfiError::Core(e) => {
                set_last_error(&e.to_string());
                code_of(e.kind())
            }
            FfiError::Null(name) => {
                set_last_error(&format!("argument {name} is NULL"));
                dart_result::DART_ERR_NULL_ARGUMENT
            }
            FfiError::Utf8(name) => {
                set_last_error(&format!("argument {name} is not valid UTF-8"));
                dart_result::DART_ERR_UTF8
            }
            FfiError::Invalid(msg) => {
                set_last_error(&msg);
                dart_result::DART_ERR_INVALID_INPUT
            }
        }
    }
}

/// The result code of a core error kind.
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
        ErrorKind::BootStore => dart_result::DART_ERR_BOOT_STORE,
        ErrorKind::UefiVariables => dart_result::DART_ERR_UEFI_VARIABLES,
        _ => dart_result::DART_ERR_IO,
    }
}
