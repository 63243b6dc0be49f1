//! `dart_media`: a bootable media tree on disk, and checking that it boots.

use std::ffi::c_char;

use dart_core::model::arch::Architecture;
use dart_core::model::media::{Firmware, MediaSet};

use crate::args::{arg_str, out_ptr};
use crate::error::dart_result;
use crate::handle::{borrow, free, into_handle, Handle};
use crate::panic::{catch, guard};

/// A bootable media tree on disk.
pub struct dart_media {
    _private: [u8; 0],
}

impl Handle for dart_media {
    type Target = MediaSet;
}

/// Scans a media directory.
///
/// # Safety
/// `dir` is nul-terminated; `out` points to a `dart_media *`.
#[no_mangle]
pub unsafe extern "C" fn dart_media_open(
    dir: *const c_char,
    out: *mut *mut dart_media,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let dir = unsafe { arg_str(dir, "dir") }?;
        let out = out_ptr(out, "out")?;
        *out = into_handle(MediaSet::open(dir)?);
        Ok(())
    })
}

/// Frees a media handle. NULL is accepted.
///
/// # Safety
/// `media` is NULL or a handle from `dart_media_open` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn dart_media_free(media: *mut dart_media) {
    // SAFETY: forwarded from the caller's contract.
    catch(|| unsafe { free(media) })
}

/// Checks that the media boots `arch` ("x86", "x64", "arm64") on `firmware`
/// ("bios", "uefi", "both"); `DART_ERR_MEDIA` names the missing file.
///
/// # Safety
/// `media` is a live handle; strings are nul-terminated.
#[no_mangle]
pub unsafe extern "C" fn dart_media_validate(
    media: *const dart_media,
    arch: *const c_char,
    firmware: *const c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (arch, firmware, media) = unsafe {
            (
                arg_str(arch, "arch")?,
                arg_str(firmware, "firmware")?,
                borrow(media, "media")?,
            )
        };
        media.validate(arch.parse::<Architecture>()?, firmware.parse::<Firmware>()?)?;
        Ok(())
    })
}
