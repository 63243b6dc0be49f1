//! A UEFI boot entry for the recovery partition: a `Boot####` load option
//! whose device path is the partition (hard-drive node: number, start,
//! size, GPT partition GUID or MBR signature) and the media's UEFI loader
//! on it, optionally in `BootOrder`, and `BootNext` so that the next start
//! opens the recovery image once.
//!
//! The variables live in efivarfs on a running system
//! ([`VarsTarget::Live`]) or in an OVMF variable file for offline images
//! and tests ([`VarsTarget::File`]). Plans are data ([`UefiEntryPlan`]: the
//! variable changes, printable as a diff); applying re-checks that every
//! variable is still as planned.
//!
//! ```no_run
//! use dart_core::deploy::uefi_entry::{set_boot_next_at, VarsTarget};
//! let plan = set_boot_next_at("disk.img".as_ref(), &VarsTarget::File("OVMF_VARS.fd".into()), false)?;
//! for change in &plan.changes {
//!     println!("{change}");
//! }
//! # Ok::<(), dart_core::Error>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::recovery::find_recovery_partition;
use crate::disk::open_read;
use crate::error::{Error, Result};
use crate::formats::partition::{read_layout, Layout, Partition, Scheme};
use crate::formats::uefi::{
    boot_options, plan_add_boot_option, plan_boot_next, BootOrderPlacement, DevicePathNode,
    Efivarfs, HdSignature, LoadOption, OvmfVars, VarChange, VariableStore, EFIVARS_DIR,
};
use crate::model::arch::Architecture;

/// Where the UEFI variables are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "lowercase")]
pub enum VarsTarget {
    /// The running system's variables through efivarfs (normally
    /// `/sys/firmware/efi/efivars`).
    Live(PathBuf),
    /// An OVMF variable-store file (`OVMF_VARS_4M.fd` copy of a VM).
    File(PathBuf),
}

impl VarsTarget {
    /// The running system's variables.
    pub fn live() -> VarsTarget {
        VarsTarget::Live(PathBuf::from(EFIVARS_DIR))
    }

    /// The path named.
    pub fn path(&self) -> &Path {
        match self {
            VarsTarget::Live(p) | VarsTarget::File(p) => p,
        }
    }

    /// Opens the store (reads only).
    pub fn open(&self) -> Result<Box<dyn VariableStore>> {
        match self {
            VarsTarget::Live(dir) => {
                if !dir.is_dir() {
                    return Err(Error::NotFound {
                        what: "efivarfs directory (this system was not started by UEFI firmware, or efivarfs is not mounted; give an OVMF variable file instead)",
                        path: dir.clone(),
                    });
                }
                Ok(Box::new(Efivarfs::new(dir.clone())))
            }
            VarsTarget::File(file) => Ok(Box::new(OvmfVars::open(file)?)),
        }
    }
}

/// What to add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UefiEntryOptions {
    /// The variables.
    pub vars: VarsTarget,
    /// The boot option's description (what firmware menus show).
    pub description: String,
    /// Where the option goes in `BootOrder` ([`BootOrderPlacement::Keep`]:
    /// not listed, so ordinary starts are unchanged).
    pub boot_order: BootOrderPlacement,
    /// Set `BootNext`: the next start opens the recovery image, once.
    pub boot_next: bool,
}

impl UefiEntryOptions {
    /// An option described `description` in `vars`, not in `BootOrder`,
    /// without `BootNext`.
    pub fn new(vars: VarsTarget, description: &str) -> UefiEntryOptions {
        UefiEntryOptions {
            vars,
            description: description.to_string(),
            boot_order: BootOrderPlacement::Keep,
            boot_next: false,
        }
    }
}

/// The planned variable changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UefiEntryPlan {
    /// The variable store (its path).
    pub store: String,
    /// The boot option's number (`Boot0003` is 3).
    pub number: Option<u16>,
    /// The load option, as efibootmgr prints it.
    pub option: Option<String>,
    /// The changes, `Boot####` first; empty when all is as asked.
    pub changes: Vec<VarChange>,
}

impl fmt::Display for UefiEntryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "UEFI variables: {}", self.store)?;
        if self.changes.is_empty() {
            writeln!(f, "variables: no changes")?;
        }
        for c in &self.changes {
            writeln!(f, "{c}")?;
        }
        Ok(())
    }
}

/// The hard-drive node naming partition `p` of `layout`.
pub fn partition_node(layout: &Layout, p: &Partition) -> DevicePathNode {
    let ss = u64::from(layout.sector_size);
    DevicePathNode::HardDrive {
        partition_number: p.number,
        start_lba: p.start / ss,
        size_lba: p.size / ss,
        signature: match layout.scheme {
            Scheme::Gpt => HdSignature::Gpt(p.guid),
            Scheme::Mbr => HdSignature::Mbr(layout.mbr_signature),
        },
    }
}

/// The load option that starts `loader` (`\EFI\BOOT\BOOTX64.EFI`) on the
/// recovery partition `p`.
pub fn recovery_load_option(
    layout: &Layout,
    p: &Partition,
    loader: &str,
    description: &str,
) -> LoadOption {
    LoadOption::new(
        description,
        vec![
            partition_node(layout, p),
            DevicePathNode::FilePath(loader.to_string()),
        ],
    )
}

/// The loader path on the partition for `arch`: `\EFI\BOOT\BOOTX64.EFI`.
pub fn loader_path(arch: Architecture) -> String {
    format!(r"\EFI\BOOT\{}", arch.efi_fallback_name())
}

fn describe(store: &dyn VariableStore) -> String {
    store.name()
}

/// Plans the boot option for recovery partition `p` (reads `store` only).
pub fn plan_uefi_entry(
    store: &dyn VariableStore,
    layout: &Layout,
    p: &Partition,
    loader: &str,
    opts: &UefiEntryOptions,
) -> Result<UefiEntryPlan> {
    if opts.description.trim().is_empty() || opts.description.chars().any(char::is_control) {
        return Err(Error::invalid(
            "boot option description",
            &opts.description,
            "expected a non-empty text without control characters",
        ));
    }
    let option = recovery_load_option(layout, p, loader, &opts.description);
    let plan = plan_add_boot_option(store, &option, opts.boot_order, opts.boot_next)?;
    Ok(UefiEntryPlan {
        store: describe(store),
        number: Some(plan.number),
        option: Some(option.to_string()),
        changes: plan.changes,
    })
}

/// The boot options that start something on partition `p` (by its
/// hard-drive node's signature and start).
fn options_on(store: &dyn VariableStore, layout: &Layout, p: &Partition) -> Result<Vec<u16>> {
    let want = partition_node(layout, p);
    let same = |n: &DevicePathNode| match (n, &want) {
        (
            DevicePathNode::HardDrive {
                start_lba: a,
                signature: sa,
                ..
            },
            DevicePathNode::HardDrive {
                start_lba: b,
                signature: sb,
                ..
            },
        ) => a == b && sa == sb,
        _ => false,
    };
    Ok(boot_options(store)?
        .into_iter()
        .filter(|(_, o)| o.path.first().is_some_and(same))
        .map(|(n, _)| n)
        .collect())
}

fn recovery_on(disk: &Path) -> Result<(Layout, Partition)> {
    let mut dev = open_read(disk)?;
    let p = find_recovery_partition(&mut *dev)?;
    let layout = read_layout(&mut *dev)?;
    Ok((layout, p))
}

fn no_option(disk: &Path, store: &dyn VariableStore, p: &Partition) -> Error {
    Error::DiskLayout {
        disk: disk.to_path_buf(),
        detail: format!(
            "{} holds no boot option for the recovery partition {}; add one first (add-recovery --uefi-entry)",
            store.name(),
            p.number
        ),
    }
}

/// Applies a plan to the store it was made from.
pub fn apply_uefi_plan(store: &mut dyn VariableStore, plan: &UefiEntryPlan) -> Result<()> {
    if plan.changes.is_empty() {
        return Ok(());
    }
    store.apply(&plan.changes)
}

/// Sets `BootNext` to the boot option of the recovery partition on
/// `disk`, so the next start opens it once (`dry_run`: plans only).
pub fn set_boot_next_at(disk: &Path, vars: &VarsTarget, dry_run: bool) -> Result<UefiEntryPlan> {
    let (layout, p) = recovery_on(disk)?;
    let mut store = vars.open()?;
    let number = *options_on(&*store, &layout, &p)?
        .first()
        .ok_or_else(|| no_option(disk, &*store, &p))?;
    let plan = UefiEntryPlan {
        store: describe(&*store),
        number: Some(number),
        option: None,
        changes: plan_boot_next(&*store, number)?,
    };
    if !dry_run {
        apply_uefi_plan(&mut *store, &plan)?;
    }
    Ok(plan)
}

/// Plans removing every boot option that starts something on partition
/// `p` of `layout` (and its `BootOrder` and `BootNext` mentions). Nothing
/// to remove is not an error.
pub fn plan_remove_uefi_entries(
    store: &dyn VariableStore,
    layout: &Layout,
    p: &Partition,
) -> Result<UefiEntryPlan> {
    let numbers = options_on(store, layout, p)?;
    let global = crate::formats::uefi::EFI_GLOBAL_VARIABLE;
    let mut changes = Vec::new();
    for n in &numbers {
        if let Some(v) = store.get(&crate::formats::uefi::boot_name(*n), global)? {
            changes.push(VarChange::delete(v));
        }
    }
    if let Some(order) = store.get("BootOrder", global)? {
        let mut after = order.clone();
        after.data = order
            .data
            .chunks_exact(2)
            .filter(|c| !numbers.contains(&u16::from_le_bytes([c[0], c[1]])))
            .flatten()
            .copied()
            .collect();
        if after.data != order.data {
            changes.push(VarChange::set(Some(order), after));
        }
    }
    if let Some(next) = store.get("BootNext", global)? {
        if next.data.len() == 2
            && numbers.contains(&u16::from_le_bytes([next.data[0], next.data[1]]))
        {
            changes.push(VarChange::delete(next));
        }
    }
    Ok(UefiEntryPlan {
        store: describe(store),
        number: numbers.first().copied(),
        option: None,
        changes,
    })
}

/// The boot options on partition `p` of `layout` in `store`.
pub fn recovery_boot_options(
    store: &dyn VariableStore,
    layout: &Layout,
    p: &Partition,
) -> Result<Vec<u16>> {
    options_on(store, layout, p)
}

/// Used by the setup flow: a store opened for planning, kept for applying.
pub(crate) fn open_checked(vars: &VarsTarget, disk: &Path) -> Result<Box<dyn VariableStore>> {
    if let VarsTarget::File(file) = vars {
        crate::disk::inputs::check_output(file, &[disk])?;
    }
    vars.open()
}

/// The loader on a device's recovery partition media: the first UEFI
/// architecture the media boot.
pub(crate) fn media_loader(media: &crate::model::media::MediaSet) -> Option<String> {
    media.uefi_architectures().first().map(|a| loader_path(*a))
}
