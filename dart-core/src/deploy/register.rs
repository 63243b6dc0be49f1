//! Registering a recovery partition with the installed Windows Boot
//! Manager, so that the PC can start it.
//!
//! On a real PC the firmware starts the Windows Boot Manager on the EFI
//! system partition, which reads `\EFI\Microsoft\Boot\BCD` (a BIOS/MBR disk:
//! `\Boot\BCD` on the active partition). [`plan_register`] finds that store
//! and plans a WinPE ramdisk entry for the recovery partition
//! (`ramdisk=[partition]\sources\boot.wim` with `boot.sdi` on the same
//! partition), cloned from the store's own WinPE entry (Windows RE's) when it
//! has one, and listed as asked ([`Placement`]). [`register`] carries the
//! plan out: the untouched store is kept once as `BCD.dart-backup` beside it,
//! and the store is replaced crash-safely (new clusters, one directory-entry
//! switch: a crash leaves the old store or the new one).
//!
//! dart's entry has an id derived from the recovery partition's identity
//! ([`entry_id`]), so a re-run finds it (and changes nothing when it is
//! still valid), [`plan_unregister`] removes exactly it, and updating the
//! partition in place keeps it valid.
//!
//! Refusals happen while planning, before anything is written: no store, a
//! store on a file system dart does not write (NTFS), a damaged store, and a
//! disk with BitLocker volumes unless the caller says protection is
//! suspended ([`RegisterOptions::bitlocker_suspended`]).
//!
//! ```no_run
//! use dart_core::deploy::register::{register_recovery_at, RegisterOptions, Placement};
//! let opts = RegisterOptions { placement: Placement::Tools, ..RegisterOptions::default() };
//! let report = register_recovery_at("disk.img".as_ref(), &opts, false)?;
//! print!("{}", report.plan);
//! # Ok::<(), dart_core::Error>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use uuid::Uuid;

use super::recovery::find_recovery_partition;
use crate::disk::{open_read, open_target, BlockDevice, Region, TargetSpec};
use crate::error::{Error, Result};
use crate::formats::bcd::names::{self, element};
use crate::formats::bcd::{
    Device, ElementValue, EntryList, PartitionId, Store, StoreChange, WinPeEntry,
};
use crate::formats::fat::{self, put_and_remove_files, FatOptions};
use crate::formats::partition::recovery::find_bitlocker;
use crate::formats::partition::{
    derived_guid, read_layout, Layout, Partition, PartitionKind, Scheme,
};
use crate::model::media::{Firmware, MediaSet};
use crate::progress::Control;

/// The store of a UEFI system, on the EFI system partition.
pub const UEFI_STORE: &str = "EFI/Microsoft/Boot/BCD";
/// The store of a BIOS system, on the active partition.
pub const BIOS_STORE: &str = "Boot/BCD";
/// What the store dart replaced is kept as, beside it.
pub const BACKUP_SUFFIX: &str = ".dart-backup";
/// The WIM on the recovery partition.
pub const RECOVERY_WIM: &str = r"\sources\boot.wim";
/// `boot.sdi` on the recovery partition.
pub const RECOVERY_SDI: &str = r"\boot\boot.sdi";

/// Where the boot manager lists the recovery entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// In `toolsdisplayorder`: Windows shows it under "Tools" (F10 /
    /// the boot menu's Tools section) without slowing ordinary boots.
    #[default]
    Tools,
    /// In `displayorder`: an entry of the boot menu.
    Menu,
    /// As `{default}`'s `recoverysequence`: Windows' own recovery path
    /// (failed-boot detection, Shift+Restart) starts it, which is how
    /// Microsoft documents using DaRT as the recovery image.
    Winre,
}

impl Placement {
    /// `tools`, `menu` or `winre`.
    pub fn name(self) -> &'static str {
        match self {
            Placement::Tools => "tools",
            Placement::Menu => "menu",
            Placement::Winre => "winre",
        }
    }
}

impl std::str::FromStr for Placement {
    type Err = Error;
    fn from_str(s: &str) -> Result<Placement> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tools" => Ok(Placement::Tools),
            "menu" => Ok(Placement::Menu),
            "winre" => Ok(Placement::Winre),
            _ => Err(Error::invalid(
                "placement",
                s,
                "expected tools, menu or winre",
            )),
        }
    }
}

/// How to register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterOptions {
    /// The menu text (`DaRT Recovery`).
    pub description: String,
    /// Where the entry is listed.
    pub placement: Placement,
    /// The admin suspended BitLocker protection on this system, so the
    /// boot store may change without Windows asking for the recovery key.
    pub bitlocker_suspended: bool,
}

impl Default for RegisterOptions {
    fn default() -> RegisterOptions {
        RegisterOptions {
            description: "DaRT Recovery".into(),
            placement: Placement::Tools,
            bitlocker_suspended: false,
        }
    }
}

/// The disk's Windows boot store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreLocation {
    /// The partition holding it.
    pub partition: u32,
    /// Its first byte.
    pub start: u64,
    /// Its length in bytes.
    pub size: u64,
    /// The store's path on that partition's FAT32 volume.
    pub path: String,
    /// The firmware that reads it.
    pub firmware: Firmware,
}

impl StoreLocation {
    /// The path of the backup beside the store.
    pub fn backup_path(&self) -> String {
        format!("{}{BACKUP_SUFFIX}", self.path)
    }
}

/// What registering (or unregistering) will change, before it is done.
#[derive(Debug, Clone, Serialize)]
pub struct RegistrationPlan {
    /// The disk.
    pub disk: PathBuf,
    /// The store that changes.
    pub store: StoreLocation,
    /// The recovery partition's number (`None` when unregistering from a
    /// disk that no longer has one).
    pub recovery_partition: Option<u32>,
    /// dart's entry, `{guid}`.
    pub entry: Option<String>,
    /// Where the entry is listed (`None`: unregistering).
    pub placement: Option<Placement>,
    /// The changes to the store, object by object.
    pub changes: Vec<StoreChange>,
    /// Whether the untouched store is kept as `BCD.dart-backup` (it is
    /// kept once: a backup that exists is never replaced).
    pub writes_backup: bool,
    /// Whether the backup is removed (unregistering).
    pub removes_backup: bool,
    /// Advice and what was deliberately not changed.
    pub notes: Vec<String>,
    #[serde(skip)]
    old: Vec<u8>,
    #[serde(skip)]
    new: Option<Vec<u8>>,
}

impl RegistrationPlan {
    /// Whether carrying out the plan writes anything.
    pub fn changes_anything(&self) -> bool {
        self.new.is_some() || self.writes_backup || self.removes_backup
    }
}

impl fmt::Display for RegistrationPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "boot store: {} \\{} on partition {} ({} firmware)",
            self.disk.display(),
            self.store.path.replace('/', "\\"),
            self.store.partition,
            self.store.firmware.name()
        )?;
        if self.changes.is_empty() {
            writeln!(f, "store: no changes")?;
        }
        for c in &self.changes {
            writeln!(f, "{c}")?;
        }
        if self.writes_backup {
            writeln!(
                f,
                "backup: the store as it is now is kept as \\{}",
                self.store.backup_path().replace('/', "\\")
            )?;
        }
        if self.removes_backup {
            writeln!(
                f,
                "backup: \\{} is removed",
                self.store.backup_path().replace('/', "\\")
            )?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}

/// What [`register`] or [`unregister`] did.
#[derive(Debug, Clone, Serialize)]
pub struct RegistrationReport {
    /// The plan that was carried out.
    pub plan: RegistrationPlan,
    /// Whether anything was written.
    pub written: bool,
}

/// The id of dart's entry for a recovery partition: derived from the
/// partition's identity, so the same partition always gets the same id.
pub fn entry_id(partition: &PartitionId) -> Uuid {
    let seed = match partition {
        PartitionId::Gpt { disk, partition } => {
            let mut b = disk.as_bytes().to_vec();
            b.extend_from_slice(partition.as_bytes());
            b
        }
        PartitionId::Mbr { signature, offset } => {
            let mut b = signature.to_le_bytes().to_vec();
            b.extend_from_slice(&offset.to_le_bytes());
            b
        }
    };
    derived_guid(&seed, "dart recovery partition boot entry")
}

/// How a store names partition `p` of the disk `layout` describes.
pub fn partition_id(layout: &Layout, p: &Partition) -> PartitionId {
    match layout.scheme {
        Scheme::Gpt => PartitionId::Gpt {
            disk: layout.disk_guid,
            partition: p.guid,
        },
        Scheme::Mbr => PartitionId::Mbr {
            signature: layout.mbr_signature,
            offset: p.start,
        },
    }
}

fn layout_error(disk: &Path, detail: String) -> Error {
    Error::DiskLayout {
        disk: disk.to_path_buf(),
        detail,
    }
}

/// Finds the disk's Windows boot store: `\EFI\Microsoft\Boot\BCD` on an
/// EFI system partition, else `\Boot\BCD` on the active partition of an
/// MBR disk. Reads only.
pub fn find_boot_store(dev: &mut dyn BlockDevice, layout: &Layout) -> Result<StoreLocation> {
    let disk = dev.name().to_path_buf();
    let mut tried = Vec::new();
    let candidates = layout
        .partitions
        .iter()
        .filter(|p| p.kind == PartitionKind::EfiSystem)
        .map(|p| (p, UEFI_STORE, Firmware::Uefi, "EFI system partition"))
        .chain(
            layout
                .partitions
                .iter()
                .filter(|p| layout.scheme == Scheme::Mbr && p.bootable)
                .map(|p| (p, BIOS_STORE, Firmware::Bios, "active partition")),
        );
    for (p, path, firmware, what) in candidates {
        let mut region = Region::new(&mut *dev, p.start, p.size)?;
        if !fat::is_fat32(&mut region) {
            tried.push(format!(
                "partition {} ({what}) is not FAT32 (dart does not write NTFS or FAT12/16)",
                p.number
            ));
            continue;
        }
        match fat::read_file(&mut region, path) {
            Ok(_) => {
                return Ok(StoreLocation {
                    partition: p.number,
                    start: p.start,
                    size: p.size,
                    path: path.to_string(),
                    firmware,
                })
            }
            Err(Error::NotFound { .. }) => tried.push(format!(
                "partition {} ({what}) holds no \\{}",
                p.number,
                path.replace('/', "\\")
            )),
            Err(e) => return Err(e),
        }
    }
    if tried.is_empty() {
        tried.push("the disk has no EFI system partition and no active MBR partition".into());
    }
    Err(layout_error(
        &disk,
        format!(
            "no Windows boot store was found to register the recovery partition in: {}",
            tried.join("; ")
        ),
    ))
}

fn read_store(dev: &mut dyn BlockDevice, loc: &StoreLocation) -> Result<(Vec<u8>, Store)> {
    let mut region = Region::new(&mut *dev, loc.start, loc.size)?;
    let bytes = fat::read_file(&mut region, &loc.path)?;
    let origin = dev
        .name()
        .join(format!("partition{}", loc.partition))
        .join(&loc.path);
    let store = Store::parse(&bytes, &origin)?;
    Ok((bytes, store))
}

fn read_backup(dev: &mut dyn BlockDevice, loc: &StoreLocation) -> Result<Option<Store>> {
    let mut region = Region::new(&mut *dev, loc.start, loc.size)?;
    match fat::read_file(&mut region, &loc.backup_path()) {
        Ok(bytes) => Ok(Store::parse(&bytes, Path::new(&loc.backup_path())).ok()),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn refuse_bitlocker(dev: &mut dyn BlockDevice, layout: &Layout, suspended: bool) -> Result<()> {
    let locked = find_bitlocker(dev, layout)?;
    if locked.is_empty() || suspended {
        return Ok(());
    }
    Err(Error::UnsafeTarget {
        device: dev.name().to_path_buf(),
        reason: format!(
            "partition(s) {} hold BitLocker volumes, and changing the boot store of a protected \
             system makes Windows ask for the recovery key at the next start; suspend protection \
             first (on Windows: manage-bde -protectors -disable C: -RebootCount 1), then say so \
             (--bitlocker-suspended, bitlocker_suspended=True)",
            locked
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// Whether `store`'s object `id` is a valid entry for the recovery
/// partition: its ramdisk device and boot.sdi on `pid`, the description
/// and firmware as asked.
fn entry_is_valid(
    store: &Store,
    id: Uuid,
    pid: &PartitionId,
    opts: &RegisterOptions,
    fw: Firmware,
) -> bool {
    let Some(o) = store.object(id) else {
        return false;
    };
    let on_partition = |v: Option<&ElementValue>| match v {
        Some(ElementValue::Device(Device::Ramdisk {
            container,
            path,
            options: Some(opt),
        })) => {
            **container == Device::Partition(*pid)
                && path.eq_ignore_ascii_case(RECOVERY_WIM)
                && store.object(*opt).is_some_and(|so| {
                    so.element(element::RAMDISKSDIDEVICE)
                        == Some(&ElementValue::Device(Device::Partition(*pid)))
                        && matches!(so.element(element::RAMDISKSDIPATH),
                            Some(ElementValue::String(p)) if p.eq_ignore_ascii_case(RECOVERY_SDI))
                })
        }
        _ => false,
    };
    let suffix = if fw == Firmware::Uefi { ".efi" } else { ".exe" };
    on_partition(o.element(element::DEVICE))
        && on_partition(o.element(element::OSDEVICE))
        && o.description.as_deref() == Some(opts.description.as_str())
        && matches!(o.element(element::PATH), Some(ElementValue::String(p)) if p.to_ascii_lowercase().ends_with(suffix))
}

/// Takes `id` out of every list and recovery sequence; a recovery sequence
/// it was the only member of goes back to what `backup` holds for that
/// entry (Windows RE, usually) when those objects still exist.
fn detach(store: &mut Store, id: Uuid, backup: Option<&Store>) -> Result<()> {
    store.remove_from(EntryList::Menu, id)?;
    store.remove_from(EntryList::Tools, id)?;
    for obj in store.objects() {
        let Some(seq) = store.recovery_sequence(obj.id) else {
            continue;
        };
        if !seq.contains(&id) {
            continue;
        }
        let restored = backup
            .and_then(|b| b.recovery_sequence(obj.id))
            .filter(|old| !old.contains(&id) && old.iter().all(|o| store.object(*o).is_some()));
        match restored {
            Some(old) => store.set_recovery_sequence(obj.id, Some(&old))?,
            None => {
                let left: Vec<Uuid> = seq.into_iter().filter(|u| *u != id).collect();
                store.set_recovery_sequence(
                    obj.id,
                    Some(&left).filter(|l| !l.is_empty()).map(Vec::as_slice),
                )?;
            }
        }
    }
    Ok(())
}

fn finish_plan(
    disk: &Path,
    loc: StoreLocation,
    old: Vec<u8>,
    before: &Store,
    after: &Store,
    backup_exists: bool,
    mut plan: RegistrationPlan,
) -> RegistrationPlan {
    let changes = before.view().changes_to(&after.view());
    let changed = !changes.is_empty();
    plan.disk = disk.to_path_buf();
    plan.changes = changes;
    plan.writes_backup = changed && !backup_exists && plan.placement.is_some();
    plan.new = changed.then(|| after.to_bytes());
    plan.old = old;
    plan.store = loc;
    plan
}

/// Plans registering the recovery partition `recovery` (a partition of
/// `layout`, which may be the layout a [`RecoveryPlan`](crate::formats::partition::RecoveryPlan)
/// will write) in the boot store of `dev`. Reads only.
pub fn plan_register(
    dev: &mut dyn BlockDevice,
    layout: &Layout,
    recovery: &Partition,
    opts: &RegisterOptions,
) -> Result<RegistrationPlan> {
    let disk = dev.name().to_path_buf();
    let current = read_layout(dev)?;
    refuse_bitlocker(dev, &current, opts.bitlocker_suspended)?;
    let loc = find_boot_store(dev, layout)?;
    let (old, store) = read_store(dev, &loc)?;
    let backup = read_backup(dev, &loc)?;
    let pid = partition_id(layout, recovery);
    let id = entry_id(&pid);
    let mut new = store.clone();
    let mut notes = Vec::new();

    if new.object(id).is_some() && !entry_is_valid(&new, id, &pid, opts, loc.firmware) {
        detach(&mut new, id, backup.as_ref())?;
        new.remove(id)?;
        notes.push(
            "dart's earlier entry no longer matched the partition and was replaced (same id)"
                .into(),
        );
    }
    if new.object(id).is_none() {
        let entry = WinPeEntry {
            description: opts.description.clone(),
            wim: RECOVERY_WIM.into(),
            sdi: RECOVERY_SDI.into(),
            device: Device::Partition(pid),
            firmware: Some(loc.firmware),
            locale: "en-US".into(),
            id: Some(id),
        };
        new.add_winpe_object(&entry)?;
    }
    match opts.placement {
        Placement::Tools | Placement::Menu => {
            let (want, other) = if opts.placement == Placement::Tools {
                (EntryList::Tools, EntryList::Menu)
            } else {
                (EntryList::Menu, EntryList::Tools)
            };
            if new.recovery_sequence_members().contains(&id) {
                let keep = new.list(want).contains(&id);
                detach(&mut new, id, backup.as_ref())?;
                if keep {
                    new.append_to(want, id)?;
                }
            }
            new.remove_from(other, id)?;
            new.append_to(want, id)?;
        }
        Placement::Winre => {
            let default = new.default_entry().ok_or_else(|| {
                layout_error(
                    &disk,
                    format!(
                        "the boot store \\{} has no default entry ({{default}}) whose recovery sequence could name the recovery partition",
                        loc.path.replace('/', "\\")
                    ),
                )
            })?;
            new.remove_from(EntryList::Menu, id)?;
            new.remove_from(EntryList::Tools, id)?;
            new.set_recovery_sequence(default, Some(&[id]))?;
            if new
                .object(default)
                .and_then(|o| o.element(element::RECOVERYENABLED).cloned())
                == Some(ElementValue::Boolean(false))
            {
                notes.push("{default} has recoveryenabled No: Windows will not start recovery on its own until it is enabled (bcdedit /set {default} recoveryenabled Yes); dart left it as it is".into());
            }
            notes.push(
                "Windows' own record of its recovery image, %SystemRoot%\\System32\\Recovery\\ReAgent.xml on the Windows (NTFS) volume, was not changed (dart does not write NTFS): reagentc /info still names the old image, and reagentc /enable or a feature update may point recoverysequence back at Windows RE. On Windows, run reagentc /setreimage /path <recovery partition>\\sources to make the record agree".into(),
            );
        }
    }
    let mut plan = RegistrationPlan {
        disk: disk.clone(),
        store: loc.clone(),
        recovery_partition: Some(recovery.number),
        entry: Some(names::render_id(&id)),
        placement: Some(opts.placement),
        changes: Vec::new(),
        writes_backup: false,
        removes_backup: false,
        notes,
        old: Vec::new(),
        new: None,
    };
    plan = finish_plan(&disk, loc, old, &store, &new, backup.is_some(), plan);
    Ok(plan)
}

/// Plans removing every entry dart added for a recovery partition of
/// `dev` (and the backup it kept), restoring the recovery sequence it
/// replaced from the backup. Reads only.
pub fn plan_unregister(
    dev: &mut dyn BlockDevice,
    bitlocker_suspended: bool,
) -> Result<RegistrationPlan> {
    let disk = dev.name().to_path_buf();
    let layout = read_layout(dev)?;
    refuse_bitlocker(dev, &layout, bitlocker_suspended)?;
    let loc = find_boot_store(dev, &layout)?;
    let (old, store) = read_store(dev, &loc)?;
    let backup = read_backup(dev, &loc)?;
    let mut new = store.clone();
    let mut found = None;
    for p in &layout.partitions {
        let id = entry_id(&partition_id(&layout, p));
        if new.object(id).is_some() {
            detach(&mut new, id, backup.as_ref())?;
            new.remove(id)?;
            found = Some((p.number, id));
        }
    }
    let mut notes = Vec::new();
    if found.is_none() {
        notes.push("the store holds no entry dart added for a partition of this disk".into());
    }
    let mut plan = RegistrationPlan {
        disk: disk.clone(),
        store: loc.clone(),
        recovery_partition: found.map(|f| f.0),
        entry: found.map(|f| names::render_id(&f.1)),
        placement: None,
        changes: Vec::new(),
        writes_backup: false,
        removes_backup: false,
        notes,
        old: Vec::new(),
        new: None,
    };
    let has_backup = backup.is_some() || {
        let mut region = Region::new(&mut *dev, loc.start, loc.size)?;
        fat::read_file(&mut region, &loc.backup_path()).is_ok()
    };
    plan = finish_plan(&disk, loc, old, &store, &new, true, plan);
    plan.removes_backup = has_backup;
    Ok(plan)
}

/// Carries out a plan of [`plan_register`] or [`plan_unregister`]. The
/// store must still be as planned (else nothing is written). The backup
/// is written first, then the store is replaced and the backup removed by
/// one crash-safe FAT update: a crash leaves the old store or the new one.
pub fn register(dev: &mut dyn BlockDevice, plan: &RegistrationPlan) -> Result<RegistrationReport> {
    if !plan.changes_anything() {
        return Ok(RegistrationReport {
            plan: plan.clone(),
            written: false,
        });
    }
    let disk = dev.name().to_path_buf();
    let layout = read_layout(dev)?;
    let same = layout.partitions.iter().any(|p| {
        p.number == plan.store.partition && p.start == plan.store.start && p.size == plan.store.size
    });
    if !same {
        return Err(layout_error(
            &disk,
            format!(
                "partition {} changed since the registration was planned; plan again",
                plan.store.partition
            ),
        ));
    }
    let (now, _) = read_store(dev, &plan.store)?;
    if now != plan.old {
        return Err(layout_error(
            &disk,
            format!(
                "the boot store \\{} changed since the registration was planned; plan again",
                plan.store.path.replace('/', "\\")
            ),
        ));
    }
    let mut region = Region::new(&mut *dev, plan.store.start, plan.store.size)?;
    let backup = plan.store.backup_path();
    if plan.writes_backup {
        put_bytes(&mut region, &[(&backup, &plan.old)], &[])?;
    }
    let files: Vec<(&str, &[u8])> = plan
        .new
        .as_deref()
        .map(|b| vec![(plan.store.path.as_str(), b)])
        .unwrap_or_default();
    let remove: Vec<&str> = if plan.removes_backup {
        vec![backup.as_str()]
    } else {
        Vec::new()
    };
    put_bytes(&mut region, &files, &remove)?;
    Ok(RegistrationReport {
        plan: plan.clone(),
        written: true,
    })
}

/// [`register`] for an unregistering plan (the same thing; named for
/// readers).
pub fn unregister(
    dev: &mut dyn BlockDevice,
    plan: &RegistrationPlan,
) -> Result<RegistrationReport> {
    register(dev, plan)
}

/// Writes `files` (path on the volume, bytes) onto the FAT32 volume on
/// `dev` crash-safely and removes `remove`.
fn put_bytes(dev: &mut dyn BlockDevice, files: &[(&str, &[u8])], remove: &[&str]) -> Result<()> {
    let staging = tempfile::tempdir().map_err(|e| Error::Io {
        action: "creating a staging directory for",
        path: dev.name().to_path_buf(),
        source: e,
        untouched: "the volume was not written",
    })?;
    for (path, bytes) in files {
        let file = staging.path().join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::write(&file, e))?;
        }
        std::fs::write(&file, bytes).map_err(|e| Error::write(&file, e))?;
    }
    let media = MediaSet::from_dir(staging.path())?;
    put_and_remove_files(
        dev,
        &media,
        remove,
        &FatOptions::default(),
        &Control::default(),
    )?;
    Ok(())
}

/// Plans registering the disk's existing recovery partition (read-only).
pub fn plan_register_at(disk: &Path, opts: &RegisterOptions) -> Result<RegistrationPlan> {
    let mut dev = open_read(disk)?;
    let recovery = find_recovery_partition(&mut *dev)?;
    let layout = read_layout(&mut *dev)?;
    plan_register(&mut *dev, &layout, &recovery, opts)
}

/// Registers the disk's existing recovery partition (`dry_run`: plans
/// only).
pub fn register_recovery_at(
    disk: &Path,
    opts: &RegisterOptions,
    dry_run: bool,
) -> Result<RegistrationReport> {
    if dry_run {
        let plan = plan_register_at(disk, opts)?;
        return Ok(RegistrationReport {
            plan,
            written: false,
        });
    }
    let mut dev = open_target(disk, &TargetSpec::default())?;
    let recovery = find_recovery_partition(&mut *dev)?;
    let layout = read_layout(&mut *dev)?;
    let plan = plan_register(&mut *dev, &layout, &recovery, opts)?;
    register(&mut *dev, &plan)
}
