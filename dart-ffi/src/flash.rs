//! The image writer: flash an image onto devices or files, verify a copy,
//! create block maps. Each function converts its arguments, calls one
//! `dart_core::write` function and returns its report as JSON.

use std::ffi::{c_char, c_void};
use std::path::PathBuf;

use dart_core::write;

use crate::args::{arg_str, opt_str};
use crate::error::{dart_result, FfiError};
use crate::panic::guard;
use crate::progress::{control_for, dart_progress_fn};
use crate::strings::put_json;

/// Writes `image` onto the `n_targets` devices or files in `targets`, in one
/// pass over the image: only the ranges that hold data (from the block map
/// file `bmap`, or the image file's holes when `bmap` is NULL). A path that
/// does not exist becomes a new image file. With `verify`, every target is
/// read back (bypassing the page cache) and compared; a difference fails
/// with `DART_ERR_DISK` naming the first differing byte. Mounted or in-use
/// devices, the running system's disk and targets smaller than the image
/// are refused with `DART_ERR_DISK` before anything is written. `progress`
/// (may be NULL) counts flushed bytes; returning `false` cancels, which
/// leaves the targets invalid (their first and last MiB zeroed).
/// `report_json` may be NULL.
///
/// # Safety
/// `image` and each of the `n_targets` strings of `targets` are
/// nul-terminated; `bmap` is NULL or nul-terminated; `report_json` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_flash(
    image: *const c_char,
    targets: *const *const c_char,
    n_targets: usize,
    verify: bool,
    bmap: *const c_char,
    progress: dart_progress_fn,
    user: *mut c_void,
    report_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (image, bmap) = unsafe { (arg_str(image, "image")?, opt_str(bmap, "bmap")?) };
        if targets.is_null() {
            return Err(FfiError::Null("targets"));
        }
        // SAFETY: the caller passes an array of n_targets pointers.
        let list = unsafe { std::slice::from_raw_parts(targets, n_targets) };
        let paths = list
            .iter()
            // SAFETY: each element is a nul-terminated string (contract).
            .map(|p| unsafe { arg_str(*p, "targets[i]") }.map(PathBuf::from))
            .collect::<Result<Vec<_>, _>>()?;
        let report = write::flash_files(
            image.as_ref(),
            &paths,
            verify,
            bmap.map(AsRef::as_ref),
            &control_for(progress, user),
        )?;
        put_json(report_json, &report)
    })
}

/// Reads `target` back (bypassing the page cache) and compares it with
/// `image` over the image's mapped ranges (from `bmap`, or its holes) and
/// its first and last MiB. A difference fails with `DART_ERR_DISK` naming
/// the first differing byte. `report_json` may be NULL.
///
/// # Safety
/// `image` and `target` are nul-terminated; `bmap` is NULL or
/// nul-terminated; `report_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_verify(
    image: *const c_char,
    target: *const c_char,
    bmap: *const c_char,
    progress: dart_progress_fn,
    user: *mut c_void,
    report_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (image, target, bmap) = unsafe {
            (
                arg_str(image, "image")?,
                arg_str(target, "target")?,
                opt_str(bmap, "bmap")?,
            )
        };
        let report = write::verify_files(
            image.as_ref(),
            target.as_ref(),
            bmap.map(AsRef::as_ref),
            &control_for(progress, user),
        )?;
        put_json(report_json, &report)
    })
}

/// Writes the block map of `image` to `output` in bmaptool's XML format
/// (SHA-256 per range). `report_json` (may be NULL) receives the map.
///
/// # Safety
/// `image` and `output` are nul-terminated; `report_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_bmap_create(
    image: *const c_char,
    output: *const c_char,
    report_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (image, output) = unsafe { (arg_str(image, "image")?, arg_str(output, "output")?) };
        let map = write::write_bmap(image.as_ref(), output.as_ref())?;
        put_json(report_json, &map)
    })
}
