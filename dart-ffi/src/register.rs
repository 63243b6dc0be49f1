//! The recovery partition on managed PCs: set up (add or update, register
//! in the installed boot store, UEFI boot entry) in one call, register,
//! unregister, and `BootNext`. Each function converts its arguments, calls
//! one `dart_core` function and returns its report as JSON.

use std::ffi::{c_char, c_void};
use std::path::PathBuf;

use dart_core::deploy::managed::{set_up_recovery_at, unregister_recovery_at, RecoverySetup};
use dart_core::deploy::register::{register_recovery_at, RegisterOptions};
use dart_core::deploy::uefi_entry::{set_boot_next_at, UefiEntryOptions, VarsTarget};
use dart_core::formats::fat::FatOptions;
use dart_core::formats::partition::RecoveryOptions;
use serde::Deserialize;

use crate::args::{arg_str, opt_str};
use crate::deploy::medium;
use crate::error::{dart_result, FfiError};
use crate::panic::guard;
use crate::progress::{control_for, dart_progress_fn};
use crate::strings::put_json;

/// `options_json` of `dart_recovery_set_up`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct SetupJson {
    size: Option<u64>,
    headroom: Option<u64>,
    register: Option<RegisterJson>,
    uefi_entry: Option<UefiJson>,
    update_if_present: bool,
}

/// `register` of [`SetupJson`].
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RegisterJson {
    description: Option<String>,
    placement: Option<String>,
    bitlocker_suspended: bool,
}

/// `uefi_entry` of [`SetupJson`].
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct UefiJson {
    vars_file: Option<PathBuf>,
    efivarfs: bool,
    description: Option<String>,
    boot_order: Option<String>,
    boot_next: bool,
}

fn invalid(field: &'static str, value: &str, reason: &str) -> FfiError {
    FfiError::Core(dart_core::Error::InvalidSetting {
        field,
        value: value.to_string(),
        reason: reason.to_string(),
    })
}

/// The variable store named by a file (or NULL) and the efivarfs flag.
fn vars_target(file: Option<PathBuf>, efivarfs: bool) -> Result<Option<VarsTarget>, FfiError> {
    match (file, efivarfs) {
        (Some(f), true) => Err(invalid(
            "UEFI variables",
            &f.display().to_string(),
            "give an OVMF variable file or efivarfs, not both",
        )),
        (Some(f), false) => Ok(Some(VarsTarget::File(f))),
        (None, true) => Ok(Some(VarsTarget::live())),
        (None, false) => Ok(None),
    }
}

fn register_options(r: RegisterJson) -> Result<RegisterOptions, FfiError> {
    let mut opts = RegisterOptions {
        bitlocker_suspended: r.bitlocker_suspended,
        ..RegisterOptions::default()
    };
    if let Some(d) = r.description {
        opts.description = d;
    }
    if let Some(p) = r.placement {
        opts.placement = p.parse()?;
    }
    Ok(opts)
}

/// `options_json` as the core's request.
fn setup_options(json: Option<&str>) -> Result<RecoverySetup, FfiError> {
    let parsed: SetupJson = match json {
        None => SetupJson::default(),
        Some(j) => {
            serde_json::from_str(j).map_err(|e| invalid("set-up options", j, &e.to_string()))?
        }
    };
    let register = parsed.register.map(register_options).transpose()?;
    let uefi_entry = match parsed.uefi_entry {
        None => None,
        Some(u) => {
            let vars = vars_target(u.vars_file, u.efivarfs)?.ok_or_else(|| {
                invalid(
                    "uefi_entry",
                    "{}",
                    "name the variables: \"vars_file\" (an OVMF variable file) or \"efivarfs\": true",
                )
            })?;
            let description = u
                .description
                .or_else(|| register.as_ref().map(|r| r.description.clone()))
                .unwrap_or_else(|| RegisterOptions::default().description);
            let mut opts = UefiEntryOptions::new(vars, &description);
            if let Some(o) = u.boot_order {
                opts.boot_order = o.parse()?;
            }
            opts.boot_next = u.boot_next;
            Some(opts)
        }
    };
    Ok(RecoverySetup {
        sizing: RecoveryOptions {
            size: parsed.size,
            headroom: parsed.headroom,
        },
        register,
        uefi_entry,
        update_if_present: parsed.update_if_present,
    })
}

/// Sets up the recovery partition on `disk` (an installed system's disk or
/// image) in one call that plans everything, and refuses, before its first
/// write: adds a partition holding `media_dir` (with `wim`, unless NULL, as
/// its `sources/boot.wim`) in free space, or updates the existing one in
/// place; registers it in the installed boot store; adds a UEFI boot entry.
/// Re-running it with the same media changes nothing.
///
/// `options_json` may be NULL (add the partition only) or a JSON object with
/// any of `size`, `headroom` (bytes), `update_if_present` (bool),
/// `register` (`{}` or an object with `description`, `placement`
/// (`"tools"`, `"menu"`, `"winre"`), `bitlocker_suspended`), `uefi_entry`
/// (an object with `vars_file` (an OVMF variable file) or `efivarfs: true`
/// (the running system's variables), `description` (default: the
/// registration's), `boot_order` (`"keep"`, `"first"`, `"last"`),
/// `boot_next` (bool)). With `dry_run` nothing is written and the report
/// is the plan. `progress` may be NULL; returning `false` from it cancels.
/// `report_json` may be NULL.
///
/// A BitLocker volume on the disk (unless `bitlocker_suspended`) or a disk
/// without a boot store is refused with `DART_ERR_DISK`; a damaged or full
/// variable store with `DART_ERR_UEFI_VARIABLES`.
///
/// # Safety
/// Strings are NULL (where allowed) or nul-terminated; `report_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_recovery_set_up(
    disk: *const c_char,
    media_dir: *const c_char,
    wim: *const c_char,
    options_json: *const c_char,
    dry_run: bool,
    progress: dart_progress_fn,
    user: *mut c_void,
    report_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (disk, media_dir, wim, options) = unsafe {
            (
                arg_str(disk, "disk")?,
                arg_str(media_dir, "media_dir")?,
                opt_str(wim, "wim")?,
                opt_str(options_json, "options_json")?,
            )
        };
        let setup = setup_options(options)?;
        let report = set_up_recovery_at(
            disk.as_ref(),
            medium(media_dir, wim),
            &setup,
            &FatOptions::default(),
            &control_for(progress, user),
            dry_run,
        )?;
        put_json(report_json, &report)
    })
}

/// Registers `disk`'s existing recovery partition in the installed boot
/// store: `description` may be NULL ("DaRT Recovery"), `placement` NULL
/// ("tools") or "tools", "menu", "winre". With `dry_run` nothing is
/// written. `report_json` may be NULL.
///
/// # Safety
/// Strings are NULL (where allowed) or nul-terminated; `report_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_recovery_register(
    disk: *const c_char,
    description: *const c_char,
    placement: *const c_char,
    bitlocker_suspended: bool,
    dry_run: bool,
    report_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (disk, description, placement) = unsafe {
            (
                arg_str(disk, "disk")?,
                opt_str(description, "description")?,
                opt_str(placement, "placement")?,
            )
        };
        let opts = register_options(RegisterJson {
            description: description.map(Into::into),
            placement: placement.map(Into::into),
            bitlocker_suspended,
        })?;
        let report = register_recovery_at(disk.as_ref(), &opts, dry_run)?;
        put_json(report_json, &report)
    })
}

/// Removes what dart added for `disk`'s recovery partition: its boot-store
/// entry (restoring the recovery sequence it replaced) and, when
/// `vars_file` (an OVMF variable file) is given or `use_efivarfs` is true
/// (the running system's variables), its UEFI boot options. The partition
/// stays. With `dry_run` nothing is written. `report_json` may be NULL.
///
/// # Safety
/// Strings are NULL (where allowed) or nul-terminated; `report_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_recovery_unregister(
    disk: *const c_char,
    bitlocker_suspended: bool,
    vars_file: *const c_char,
    use_efivarfs: bool,
    dry_run: bool,
    report_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (disk, vars_file) =
            unsafe { (arg_str(disk, "disk")?, opt_str(vars_file, "vars_file")?) };
        let vars = vars_target(vars_file.map(Into::into), use_efivarfs)?;
        let report =
            unregister_recovery_at(disk.as_ref(), bitlocker_suspended, vars.as_ref(), dry_run)?;
        put_json(report_json, &report)
    })
}

/// Sets `BootNext` to the UEFI boot option of `disk`'s recovery partition,
/// so the next start opens it once: in `vars_file` (an OVMF variable file),
/// or, when NULL, the running system's variables (efivarfs). With `dry_run`
/// nothing is written. A store without a boot option for the partition is
/// refused with `DART_ERR_DISK`, a damaged one with
/// `DART_ERR_UEFI_VARIABLES`. `report_json` may be NULL.
///
/// # Safety
/// Strings are NULL (where allowed) or nul-terminated; `report_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_recovery_boot_next(
    disk: *const c_char,
    vars_file: *const c_char,
    dry_run: bool,
    report_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (disk, vars_file) =
            unsafe { (arg_str(disk, "disk")?, opt_str(vars_file, "vars_file")?) };
        let vars = vars_file.map_or_else(VarsTarget::live, |f| VarsTarget::File(f.into()));
        let plan = set_boot_next_at(disk.as_ref(), &vars, dry_run)?;
        put_json(report_json, &plan)
    })
}
