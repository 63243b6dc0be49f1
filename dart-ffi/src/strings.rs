//! Strings handed to C: the library version, and strings returned through
//! `char **` out-pointers (freed with [`dart_string_free`]).

use std::ffi::{c_char, CStr, CString};

use crate::args::out_ptr;
use crate::error::FfiError;
use crate::panic::catch;

/// The library version, nul-terminated.
static VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"",
    };

/// The library version, a static string ("" if the library panicked).
#[no_mangle]
pub extern "C" fn dart_version() -> *const c_char {
    catch(|| VERSION.as_ptr())
}

/// Frees a string returned through a `char **` out-pointer. NULL is accepted.
///
/// # Safety
/// `s` must be NULL or a pointer this library returned and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn dart_string_free(s: *mut c_char) {
    catch(|| {
        if !s.is_null() {
            // SAFETY: the caller passes a pointer from CString::into_raw (see
            // put_string) that has not been freed.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

/// Writes a new string to an out-pointer (freed with `dart_string_free`).
pub(crate) fn put_string(out: &mut *mut c_char, value: String) {
    *out = CString::new(value.replace('\0', " "))
        .unwrap_or_default()
        .into_raw();
}

/// Serialises a value to JSON for a `char **` out-pointer; NULL skips it.
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
