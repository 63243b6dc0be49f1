//! Arguments from C: strings and out-pointers, checked at the boundary.

use std::ffi::{c_char, CStr};

use crate::error::FfiError;

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
