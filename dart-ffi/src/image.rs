//! `dart_image`: an opened WIM file and what it holds.

use std::ffi::c_char;

use dart_core::image::RecoveryImage;

use crate::args::{arg_str, out_ptr};
use crate::error::dart_result;
use crate::handle::{borrow, free, into_handle, Handle};
use crate::panic::{catch, guard};
use crate::strings::{put_json, put_string};

/// An opened WIM file.
pub struct dart_image {
    _private: [u8; 0],
}

impl Handle for dart_image {
    type Target = RecoveryImage;
}

/// Opens a WIM read-only and reads its images.
///
/// # Safety
/// `path` is a nul-terminated string; `out` points to a `dart_image *`.
#[no_mangle]
pub unsafe extern "C" fn dart_image_open(
    path: *const c_char,
    out: *mut *mut dart_image,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let path = unsafe { arg_str(path, "path") }?;
        let out = out_ptr(out, "out")?;
        *out = into_handle(RecoveryImage::open(path)?);
        Ok(())
    })
}

/// Frees an image handle. NULL is accepted.
///
/// # Safety
/// `image` is NULL or a handle from `dart_image_open` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn dart_image_free(image: *mut dart_image) {
    // SAFETY: forwarded from the caller's contract.
    catch(|| unsafe { free(image) })
}

/// Number of images in the WIM; 0 if `image` is NULL, or if the library
/// panicked (then `dart_last_error_message` says so).
///
/// # Safety
/// `image` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dart_image_count(image: *const dart_image) -> u32 {
    // SAFETY: forwarded from the caller's contract.
    catch(|| unsafe { borrow(image, "image") }.map_or(0, |i| i.info().image_count))
}

/// The 1-based boot index; 0 when there is none, if `image` is NULL, or if
/// the library panicked (then `dart_last_error_message` says so).
///
/// # Safety
/// `image` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dart_image_boot_index(image: *const dart_image) -> u32 {
    catch(|| {
        // SAFETY: forwarded from the caller's contract.
        unsafe { borrow(image, "image") }
            .ok()
            .and_then(|i| i.info().boot_index)
            .unwrap_or(0)
    })
}

/// The name of image `index` (1-based); "" when it has none.
///
/// # Safety
/// `image` is a live handle; `out` receives a string to free with `dart_string_free`.
#[no_mangle]
pub unsafe extern "C" fn dart_image_name(
    image: *const dart_image,
    index: u32,
    out: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let info = unsafe { borrow(image, "image") }?.image(index)?;
        put_string(out_ptr(out, "out")?, info.name.clone().unwrap_or_default());
        Ok(())
    })
}

/// Whether image `index` (1-based) is Windows PE.
///
/// # Safety
/// `image` is a live handle; `out` points to a `bool`.
#[no_mangle]
pub unsafe extern "C" fn dart_image_is_winpe(
    image: *const dart_image,
    index: u32,
    out: *mut bool,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let winpe = unsafe { borrow(image, "image") }?.image(index)?.is_winpe;
        *out_ptr(out, "out")? = winpe;
        Ok(())
    })
}

/// Everything known about the WIM, as JSON.
///
/// # Safety
/// `image` is a live handle; `out` receives a string to free with `dart_string_free`.
#[no_mangle]
pub unsafe extern "C" fn dart_image_info_json(
    image: *const dart_image,
    out: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let info = unsafe { borrow(image, "image") }?.info();
        out_ptr(out, "out")?;
        put_json(out, info)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getters_on_null_return_their_documented_value() {
        // SAFETY: NULL is allowed.
        unsafe {
            assert_eq!(dart_image_count(std::ptr::null()), 0);
            assert_eq!(dart_image_boot_index(std::ptr::null()), 0);
            dart_image_free(std::ptr::null_mut());
        }
    }
}
