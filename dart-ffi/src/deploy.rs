//! Deployment to removable media and disks: USB sticks and images, ISO
//! images, partition tables, the recovery partition. Each function converts its arguments, calls one
//! `dart_core` function and returns its report as JSON.

use std::ffi::{c_char, c_void};

use dart_core::deploy::{self, UsbOptions};
use dart_core::formats::fat::FatOptions;
use dart_core::formats::iso::{self, IsoOptions};
use dart_core::formats::partition::{self, RecoveryOptions, Scheme};

use crate::args::{arg_str, opt_str, out_ptr};
use crate::error::dart_result;
use crate::panic::guard;
use crate::progress::{control_for, dart_progress_fn};
use crate::strings::put_json;

/// "Use the library's default" for a size argument.
pub const DART_SIZE_DEFAULT: u64 = u64::MAX;

/// The medium of a media path and an optional built image.
pub(crate) fn medium(media: &str, wim: Option<&str>) -> deploy::MediumSpec {
    deploy::MediumSpec {
        wim: wim.map(Into::into),
        ..deploy::MediumSpec::new(media)
    }
}

fn size_arg(v: u64) -> Option<u64> {
    (v != DART_SIZE_DEFAULT).then_some(v)
}

/// Writes a bootable USB stick from the media directory `media_dir` onto
/// `target`: a block device or existing image file (`create_size` =
/// `DART_SIZE_DEFAULT`), or a new image file of `create_size` bytes.
/// `wim` may be NULL (the media's own `sources/boot.wim`) or a built image
/// to put there instead.
/// `scheme` is "mbr" (default when NULL) or "gpt"; `label` may be NULL
/// ("DART"). `progress` may be NULL; returning `false` from it cancels.
/// `report_json` may be NULL.
///
/// A mounted or in-use device, or the running system's disk, is refused
/// with `DART_ERR_DISK` before anything is written.
///
/// # Safety
/// Strings are NULL (where allowed) or nul-terminated; `report_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_usb_write(
    media_dir: *const c_char,
    wim: *const c_char,
    target: *const c_char,
    create_size: u64,
    scheme: *const c_char,
    label: *const c_char,
    progress: dart_progress_fn,
    user: *mut c_void,
    report_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (media_dir, wim, target, scheme, label) = unsafe {
            (
                arg_str(media_dir, "media_dir")?,
                opt_str(wim, "wim")?,
                arg_str(target, "target")?,
                opt_str(scheme, "scheme")?,
                opt_str(label, "label")?,
            )
        };
        let mut opts = UsbOptions::default();
        if let Some(s) = scheme {
            opts.scheme = s.parse::<Scheme>()?;
        }
        if let Some(l) = label {
            opts.label = l.to_string();
        }
        let report = deploy::write_usb_to(
            target.as_ref(),
            size_arg(create_size),
            medium(media_dir, wim),
            &opts,
            &control_for(progress, user),
        )?;
        put_json(report_json, &report)
    })
}

fn iso_options(json: Option<&str>) -> dart_core::Result<IsoOptions> {
    match json {
        None => Ok(IsoOptions::default()),
        Some(j) => serde_json::from_str(j).map_err(|e| dart_core::Error::InvalidSetting {
            field: "ISO options",
            value: j.to_string(),
            reason: e.to_string(),
        }),
    }
}

/// Writes a bootable ISO image of `media` (a directory or an ISO image) to
/// the file `output`, replaced only once the new image is complete. `wim`
/// may be NULL (the media's own `sources/boot.wim`) or a built image to
/// put there instead.
/// `options_json` may be NULL (defaults) or a JSON object with any of
/// `label` (string), `hybrid` (bool: MBR + GPT so the file also boots from
/// USB), `boot_info_table` (bool or null), `bios_loader` (path in the
/// media or null), `timestamp` (Unix seconds for byte-identical output, or
/// null). `progress` may be NULL; returning `false` from it cancels.
/// `report_json` may be NULL; it receives the layout written.
///
/// # Safety
/// Strings are NULL (where allowed) or nul-terminated; `report_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_iso_write(
    media: *const c_char,
    wim: *const c_char,
    output: *const c_char,
    options_json: *const c_char,
    progress: dart_progress_fn,
    user: *mut c_void,
    report_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (media, wim, output, options) = unsafe {
            (
                arg_str(media, "media")?,
                opt_str(wim, "wim")?,
                arg_str(output, "output")?,
                opt_str(options_json, "options_json")?,
            )
        };
        let opts = iso_options(options)?;
        let report = deploy::write_iso_from(
            medium(media, wim),
            output.as_ref(),
            &opts,
            &control_for(progress, user),
        )?;
        put_json(report_json, &report)
    })
}

/// Reads the file tree and boot entries of an ISO image (read-only): `out`
/// receives JSON. A UDF-only image fails with `DART_ERR_MEDIA` naming UDF.
///
/// # Safety
/// `iso` is nul-terminated; `out` receives a string to free with `dart_string_free`.
#[no_mangle]
pub unsafe extern "C" fn dart_iso_read_json(
    iso: *const c_char,
    out: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let iso = unsafe { arg_str(iso, "iso") }?;
        out_ptr(out, "out")?;
        put_json(out, &iso::read_iso(iso.as_ref())?)
    })
}

/// Reads the partition table of a disk or image: `out` receives JSON with
/// the layout firmware would use and both GPT copies.
///
/// # Safety
/// `disk` is nul-terminated; `out` receives a string to free with `dart_string_free`.
#[no_mangle]
pub unsafe extern "C" fn dart_disk_read_json(
    disk: *const c_char,
    out: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let disk = unsafe { arg_str(disk, "disk") }?;
        out_ptr(out, "out")?;
        put_json(out, &partition::read_disk_at(disk.as_ref())?)
    })
}

/// Plans a recovery partition for `media_dir` (with the built image `wim`
/// in place of its `sources/boot.wim` unless NULL) on `disk` without writing:
/// `out` receives the plan (layout before and after, BitLocker volumes,
/// notes) as JSON. `size` and `headroom` are bytes or `DART_SIZE_DEFAULT`.
///
/// # Safety
/// Strings are nul-terminated; `out` receives a string to free with `dart_string_free`.
#[no_mangle]
pub unsafe extern "C" fn dart_recovery_plan_json(
    disk: *const c_char,
    media_dir: *const c_char,
    wim: *const c_char,
    size: u64,
    headroom: u64,
    out: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (disk, media_dir, wim) = unsafe {
            (
                arg_str(disk, "disk")?,
                arg_str(media_dir, "media_dir")?,
                opt_str(wim, "wim")?,
            )
        };
        out_ptr(out, "out")?;
        let opts = RecoveryOptions {
            size: size_arg(size),
            headroom: size_arg(headroom),
        };
        put_json(
            out,
            &deploy::plan_add_recovery_at(disk.as_ref(), medium(media_dir, wim), &opts)?,
        )
    })
}

/// Adds a recovery partition holding `media_dir` (with `wim`, unless NULL,
/// as its `sources/boot.wim`) to `disk` in free space
/// (plan as in `dart_recovery_plan_json`, then write). `report_json` may
/// be NULL.
///
/// # Safety
/// Strings are nul-terminated; `report_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_recovery_add(
    disk: *const c_char,
    media_dir: *const c_char,
    wim: *const c_char,
    size: u64,
    headroom: u64,
    progress: dart_progress_fn,
    user: *mut c_void,
    report_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (disk, media_dir, wim) = unsafe {
            (
                arg_str(disk, "disk")?,
                arg_str(media_dir, "media_dir")?,
                opt_str(wim, "wim")?,
            )
        };
        let opts = RecoveryOptions {
            size: size_arg(size),
            headroom: size_arg(headroom),
        };
        let report = deploy::add_recovery_at(
            disk.as_ref(),
            medium(media_dir, wim),
            &opts,
            &FatOptions::default(),
            &control_for(progress, user),
        )?;
        put_json(report_json, &report)
    })
}

/// Replaces the media on `disk`'s recovery partition in place with
/// `media_dir` (and `wim`, unless NULL, as its `sources/boot.wim`;
/// unchanged files are skipped; each file is old or new after
/// a crash). `report_json` may be NULL.
///
/// # Safety
/// Strings are nul-terminated; `report_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_recovery_update(
    disk: *const c_char,
    media_dir: *const c_char,
    wim: *const c_char,
    progress: dart_progress_fn,
    user: *mut c_void,
    report_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (disk, media_dir, wim) = unsafe {
            (
                arg_str(disk, "disk")?,
                arg_str(media_dir, "media_dir")?,
                opt_str(wim, "wim")?,
            )
        };
        let report = deploy::update_recovery_at(
            disk.as_ref(),
            medium(media_dir, wim),
            &FatOptions::default(),
            &control_for(progress, user),
        )?;
        put_json(report_json, &report)
    })
}
