//! The recovery partition on managed PCs: set up (add or update, register
//! in the installed boot store, UEFI boot entry) in one call, register,
//! unregister, and `BootNext`. Each function converts its arguments, calls
//! one `dart_core` function with the GIL released, and returns its report
//! as a dict.

use std::path::PathBuf;

use dart_core::deploy::managed::{set_up_recovery_at, unregister_recovery_at, RecoverySetup};
use dart_core::deploy::register::{register_recovery_at, RegisterOptions};
use dart_core::deploy::uefi_entry::{set_boot_next_at, UefiEntryOptions, VarsTarget};
use dart_core::formats::fat::FatOptions;
use dart_core::formats::partition::RecoveryOptions;
use dart_core::formats::uefi::BootOrderPlacement;
use pyo3::prelude::*;

use crate::deploy::medium;
use crate::{convert, error, run};

fn invalid(field: &'static str, value: String, reason: &str) -> PyErr {
    error::to_py(dart_core::Error::InvalidSetting {
        field,
        value,
        reason: reason.to_string(),
    })
}

/// The variable store of `uefi_vars` (an OVMF variable file) or
/// `uefi_efivarfs` (the running system's), or none.
fn vars_target(file: Option<PathBuf>, efivarfs: bool) -> PyResult<Option<VarsTarget>> {
    match (file, efivarfs) {
        (Some(f), true) => Err(invalid(
            "uefi_vars",
            f.display().to_string(),
            "give uefi_vars or uefi_efivarfs=True, not both",
        )),
        (Some(f), false) => Ok(Some(VarsTarget::File(f))),
        (None, true) => Ok(Some(VarsTarget::live())),
        (None, false) => Ok(None),
    }
}

fn register_options(
    description: &str,
    placement: &str,
    bitlocker_suspended: bool,
) -> PyResult<RegisterOptions> {
    Ok(RegisterOptions {
        description: description.to_string(),
        placement: error::core(placement.parse())?,
        bitlocker_suspended,
    })
}

/// Sets up the recovery partition on ``disk`` (an installed system's disk
/// or image) in one call that plans everything, and refuses, before its
/// first write: adds a partition holding ``media`` in free space (or, with
/// ``update_if_present``, updates the existing one in place), registers it
/// in the installed boot store (``register``), and adds a UEFI boot entry
/// (``uefi_vars``: an OVMF variable file, or ``uefi_efivarfs``: the running
/// system's variables). Re-running it with the same media changes nothing.
/// ``dry_run`` writes nothing and returns the plan.
#[pyfunction]
#[pyo3(signature = (disk, media, *, wim=None, images=None, default=None, timeout=None, size=None, headroom=None, label="DART", timestamp=None, register=false, description="DaRT Recovery", placement="tools", bitlocker_suspended=false, uefi_vars=None, uefi_efivarfs=false, uefi_description=None, boot_order="keep", boot_next=false, update_if_present=false, dry_run=false, progress=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn set_up_recovery<'py>(
    py: Python<'py>,
    disk: PathBuf,
    media: PathBuf,
    wim: Option<PathBuf>,
    images: Option<Vec<(String, PathBuf)>>,
    default: Option<String>,
    timeout: Option<u64>,
    size: Option<u64>,
    headroom: Option<u64>,
    label: &str,
    timestamp: Option<u64>,
    register: bool,
    description: &str,
    placement: &str,
    bitlocker_suspended: bool,
    uefi_vars: Option<PathBuf>,
    uefi_efivarfs: bool,
    uefi_description: Option<String>,
    boot_order: &str,
    boot_next: bool,
    update_if_present: bool,
    dry_run: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = medium(media, wim, images, default, timeout);
    let register_opts = register_options(description, placement, bitlocker_suspended)?;
    let boot_order: BootOrderPlacement = error::core(boot_order.parse())?;
    let uefi_entry = match vars_target(uefi_vars, uefi_efivarfs)? {
        Some(vars) => Some(UefiEntryOptions {
            boot_order,
            boot_next,
            ..UefiEntryOptions::new(vars, uefi_description.as_deref().unwrap_or(description))
        }),
        None if boot_next || boot_order != BootOrderPlacement::Keep => {
            return Err(invalid(
                "boot_next/boot_order",
                format!("boot_next={boot_next}, boot_order={}", boot_order.name()),
                "a UEFI boot entry needs its variables: uefi_vars (an OVMF variable file) or uefi_efivarfs=True",
            ))
        }
        None => None,
    };
    let setup = RecoverySetup {
        sizing: RecoveryOptions { size, headroom },
        register: register.then_some(register_opts),
        uefi_entry,
        update_if_present,
    };
    let fat = FatOptions {
        label: label.to_string(),
        timestamp,
    };
    let report = run::detached(py, progress, |control| {
        set_up_recovery_at(&disk, &spec, &setup, &fat, control, dry_run)
    })?;
    convert::to_python(py, &report)
}

/// Registers ``disk``'s existing recovery partition in the installed boot
/// store (``placement``: ``"tools"``, ``"menu"`` or ``"winre"``).
/// ``dry_run`` writes nothing and returns the plan.
#[pyfunction]
#[pyo3(signature = (disk, *, description="DaRT Recovery", placement="tools", bitlocker_suspended=false, dry_run=false))]
pub(crate) fn register_recovery<'py>(
    py: Python<'py>,
    disk: PathBuf,
    description: &str,
    placement: &str,
    bitlocker_suspended: bool,
    dry_run: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = register_options(description, placement, bitlocker_suspended)?;
    let report = run::detached(py, None, |_| register_recovery_at(&disk, &opts, dry_run))?;
    convert::to_python(py, &report)
}

/// Removes what dart added for ``disk``'s recovery partition: its boot-store
/// entry (restoring the recovery sequence it replaced) and, with
/// ``uefi_vars`` or ``uefi_efivarfs``, its UEFI boot options. The partition
/// stays. ``dry_run`` writes nothing and returns the plan.
#[pyfunction]
#[pyo3(signature = (disk, *, bitlocker_suspended=false, uefi_vars=None, uefi_efivarfs=false, dry_run=false))]
pub(crate) fn unregister_recovery(
    py: Python<'_>,
    disk: PathBuf,
    bitlocker_suspended: bool,
    uefi_vars: Option<PathBuf>,
    uefi_efivarfs: bool,
    dry_run: bool,
) -> PyResult<Bound<'_, PyAny>> {
    let vars = vars_target(uefi_vars, uefi_efivarfs)?;
    let report = run::detached(py, None, |_| {
        unregister_recovery_at(&disk, bitlocker_suspended, vars.as_ref(), dry_run)
    })?;
    convert::to_python(py, &report)
}

/// Sets ``BootNext`` to the UEFI boot option of ``disk``'s recovery
/// partition, so the next start opens it once: in ``uefi_vars`` (an OVMF
/// variable file) or, when ``None``, the running system's variables.
/// ``dry_run`` writes nothing and returns the plan.
#[pyfunction]
#[pyo3(signature = (disk, *, uefi_vars=None, dry_run=false))]
pub(crate) fn set_boot_next(
    py: Python<'_>,
    disk: PathBuf,
    uefi_vars: Option<PathBuf>,
    dry_run: bool,
) -> PyResult<Bound<'_, PyAny>> {
    let vars = uefi_vars.map_or_else(VarsTarget::live, VarsTarget::File);
    let plan = run::detached(py, None, |_| set_boot_next_at(&disk, &vars, dry_run))?;
    convert::to_python(py, &plan)
}
