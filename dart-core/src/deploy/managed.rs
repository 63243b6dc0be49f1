//! The recovery partition on managed PCs, as one request: add the
//! partition (or update it when it is there), register it in the installed
//! boot manager's store, add a UEFI boot entry, in one call that plans
//! everything before it writes anything. Re-running it with the same
//! media changes nothing, so software distribution can run it on every
//! PC on every cycle.
//!
//! ```no_run
//! use dart_core::deploy::managed::{set_up_recovery_at, RecoverySetup};
//! use dart_core::deploy::register::RegisterOptions;
//! use dart_core::formats::fat::FatOptions;
//! use dart_core::progress::Control;
//! let setup = RecoverySetup {
//!     register: Some(RegisterOptions::default()),
//!     update_if_present: true,
//!     ..RecoverySetup::default()
//! };
//! let report = set_up_recovery_at("disk.img".as_ref(), std::path::Path::new("media"), &setup, &FatOptions::default(), &Control::default(), false)?;
//! print!("{report}");
//! # Ok::<(), dart_core::Error>(())
//! ```

use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::medium::MediumSpec;
use super::recovery::{add_recovery, find_recovery_partition, plan_add_recovery, update_recovery};
use super::register::{
    plan_register, plan_unregister, register, RegisterOptions, RegistrationPlan,
};
use super::uefi_entry::{
    apply_uefi_plan, media_loader, open_checked, plan_remove_uefi_entries, plan_uefi_entry,
    UefiEntryOptions, UefiEntryPlan, VarsTarget,
};
use crate::disk::inputs::check_output;
use crate::disk::safety::check_writable;
use crate::disk::{open_read, open_target, BlockDevice, TargetSpec};
use crate::error::{Error, Result};
use crate::formats::fat::{FatOptions, FatReport, UpdateReport};
use crate::formats::partition::{human, read_layout, RecoveryOptions, RecoveryPlan};
use crate::progress::Control;

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct RecoverySetup {
    /// Size of a new partition.
    pub sizing: RecoveryOptions,
    /// Register the partition in the installed boot manager's store.
    pub register: Option<RegisterOptions>,
    /// Add a UEFI boot entry for it.
    pub uefi_entry: Option<UefiEntryOptions>,
    /// When the disk already has a dart recovery partition, update it in
    /// place (and keep its registration) instead of adding another.
    pub update_if_present: bool,
}

/// What [`set_up_recovery_at`] did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct RecoverySetupReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// The recovery partition's number.
    pub partition: u32,
    /// The plan of a new partition (`None`: it existed and was updated).
    pub added: Option<RecoveryPlan>,
    /// The new partition's file system.
    pub fat: Option<FatReport>,
    /// The in-place update of an existing partition.
    pub updated: Option<UpdateReport>,
    /// The boot-store registration.
    pub registration: Option<RegistrationPlan>,
    /// The UEFI boot entry.
    pub uefi_entry: Option<UefiEntryPlan>,
}

impl fmt::Display for RecoverySetupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb =
            |done: &'static str, planned: &'static str| if self.dry_run { planned } else { done };
        if let Some(plan) = &self.added {
            write!(f, "{plan}")?;
            writeln!(
                f,
                "{} partition {} ({})",
                verb("added", "would add"),
                plan.partition.number,
                human(plan.partition.size)
            )?;
        } else {
            match &self.updated {
                Some(u) => writeln!(
                    f,
                    "updated partition {}: {} replaced, {} added, {} removed, {} unchanged",
                    self.partition,
                    u.replaced.len(),
                    u.added.len(),
                    u.removed.len(),
                    u.unchanged
                )?,
                None => writeln!(
                    f,
                    "{} partition {} in place",
                    verb("updated", "would update"),
                    self.partition
                )?,
            }
        }
        if let Some(r) = &self.registration {
            write!(f, "{r}")?;
        }
        if let Some(u) = &self.uefi_entry {
            write!(f, "{u}")?;
        }
        if self.registration.is_none() && self.uefi_entry.is_none() {
            writeln!(
                f,
                "note: nothing points at the partition yet; --register adds it to the installed Windows boot menu, --uefi-entry adds a firmware boot entry"
            )?;
        }
        if self.dry_run {
            writeln!(f, "dry run: nothing was written")?;
        }
        Ok(())
    }
}

/// Adds (or updates) the recovery partition on `disk` with `media` and
/// registers it as `setup` asks. Every plan is made, and every refusal
/// happens, before the first write; `dry_run` stops there.
pub fn set_up_recovery_at(
    disk: &Path,
    media: impl Into<MediumSpec>,
    setup: &RecoverySetup,
    fat_opts: &FatOptions,
    control: &Control,
    dry_run: bool,
) -> Result<RecoverySetupReport> {
    let medium = media.into().prepare()?;
    check_output(disk, &medium.inputs())?;
    if let Some(VarsTarget::File(vars)) = setup.uefi_entry.as_ref().map(|u| &u.vars) {
        let mut inputs = medium.inputs();
        inputs.push(disk);
        check_output(vars, &inputs)?;
    }
    let mut dev = if dry_run {
        check_writable(disk)?;
        open_read(disk)?
    } else {
        open_target(disk, &TargetSpec::default())?
    };
    let dev: &mut dyn BlockDevice = &mut *dev;

    // 1. Plans, nothing written.
    let existing = if setup.update_if_present {
        existing_recovery(dev)?
    } else {
        None
    };
    let (layout, partition, add_plan) = match existing {
        Some(p) => (read_layout(dev)?, p, None),
        None => {
            let plan = plan_add_recovery(dev, &medium.set, &setup.sizing)?;
            (plan.after.clone(), plan.partition.clone(), Some(plan))
        }
    };
    let registration = match &setup.register {
        Some(opts) => Some(plan_register(dev, &layout, &partition, opts)?),
        None => None,
    };
    let mut uefi = None;
    if let Some(opts) = &setup.uefi_entry {
        let loader = media_loader(&medium.set).ok_or_else(|| {
            Error::invalid(
                "media",
                medium.set.root().display(),
                "the media have no UEFI loader (efi/boot/boot*.efi) for a UEFI boot entry to start",
            )
        })?;
        let store = open_checked(&opts.vars, disk)?;
        let plan = plan_uefi_entry(&*store, &layout, &partition, &loader, opts)?;
        uefi = Some((store, plan));
    }
    let mut report = RecoverySetupReport {
        dry_run,
        partition: partition.number,
        added: add_plan.clone(),
        fat: None,
        updated: None,
        registration: registration.clone(),
        uefi_entry: uefi.as_ref().map(|(_, p)| p.clone()),
    };
    if dry_run {
        return Ok(report);
    }

    // 2. Writes: the partition, the store, the variables.
    match &add_plan {
        Some(plan) => {
            let r = add_recovery(dev, &medium.set, plan, fat_opts, control)?;
            report.fat = Some(r.fat);
        }
        None => report.updated = Some(update_recovery(dev, &medium.set, fat_opts, control)?),
    }
    if let Some(plan) = &registration {
        register(dev, plan)?;
    }
    if let Some((mut store, plan)) = uefi {
        apply_uefi_plan(&mut *store, &plan)?;
    }
    Ok(report)
}

/// The disk's dart recovery partition, if it has exactly one.
fn existing_recovery(
    dev: &mut dyn BlockDevice,
) -> Result<Option<crate::formats::partition::Partition>> {
    match find_recovery_partition(dev) {
        Ok(p) => Ok(Some(p)),
        Err(Error::DiskLayout { detail, .. })
            if detail.starts_with("no FAT32 recovery partition") =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// What [`unregister_recovery_at`] did.
#[derive(Debug, Clone, Serialize)]
pub struct UnregisterReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// The boot-store changes.
    pub registration: RegistrationPlan,
    /// The UEFI variable changes.
    pub uefi_entry: Option<UefiEntryPlan>,
}

impl fmt::Display for UnregisterReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.registration)?;
        if let Some(u) = &self.uefi_entry {
            write!(f, "{u}")?;
        }
        if self.dry_run {
            writeln!(f, "dry run: nothing was written")?;
        }
        Ok(())
    }
}

/// Removes what dart added for the recovery partition of `disk`: its
/// entry in the boot store (restoring the recovery sequence it replaced,
/// removing the backup) and, with `vars`, its UEFI boot options. The
/// partition itself stays.
pub fn unregister_recovery_at(
    disk: &Path,
    bitlocker_suspended: bool,
    vars: Option<&VarsTarget>,
    dry_run: bool,
) -> Result<UnregisterReport> {
    let mut dev = if dry_run {
        open_read(disk)?
    } else {
        open_target(disk, &TargetSpec::default())?
    };
    let dev: &mut dyn BlockDevice = &mut *dev;
    let registration = plan_unregister(dev, bitlocker_suspended)?;
    let mut uefi = None;
    if let Some(v) = vars {
        let store = open_checked(v, disk)?;
        let plan = match existing_recovery(dev)? {
            Some(p) => plan_remove_uefi_entries(&*store, &read_layout(dev)?, &p)?,
            None => UefiEntryPlan {
                store: store.name(),
                number: None,
                option: None,
                changes: Vec::new(),
            },
        };
        uefi = Some((store, plan));
    }
    let report = UnregisterReport {
        dry_run,
        registration: registration.clone(),
        uefi_entry: uefi.as_ref().map(|(_, p)| p.clone()),
    };
    if dry_run {
        return Ok(report);
    }
    register(dev, &registration)?;
    if let Some((mut store, plan)) = uefi {
        apply_uefi_plan(&mut *store, &plan)?;
    }
    Ok(report)
}
