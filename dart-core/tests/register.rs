#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Registering a recovery partition in the installed Windows Boot
//! Manager's store: on a stand-in installed system (GPT with an ESP, MBR
//! with an active partition), checked with libhivex, idempotent, removed
//! exactly, refused on BitLocker disks and on stale plans with the disk
//! byte-identical, and crash-safe at every write.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dart_core::deploy::managed::unregister_recovery_at;
use dart_core::deploy::recovery::{add_recovery, plan_add_recovery};
use dart_core::deploy::register::{
    entry_id, partition_id, plan_register, plan_unregister, register, register_recovery_at,
    Placement, RegisterOptions,
};
use dart_core::disk::fault::FaultyDevice;
use dart_core::disk::{BlockDevice, FileDevice, MemoryDevice, Region};
use dart_core::formats::bcd::names::{self, element};
use dart_core::formats::bcd::{Device, ElementValue, EntryList, PartitionId, Store};
use dart_core::formats::fat::{self, FatOptions};
use dart_core::formats::partition::{read_layout, RecoveryOptions, Scheme, MIB};
use dart_core::model::media::MediaSet;
use dart_core::progress::Control;
use dart_core::ErrorKind;
use dart_testkit::hivex::{dart_dump, hivex_dump};
use dart_testkit::installed::{installed_system, InstalledSystem, WINDOWS_LOADER, WINRE_LOADER};
use uuid::Uuid;

/// An installed system with a recovery partition added (not registered).
fn system_with_recovery(dir: &Path, scheme: Scheme) -> (PathBuf, InstalledSystem, u32) {
    let media = dart_testkit::loader_media(&dir.join("media"), 0x42, 64 << 10);
    let disk = dir.join(format!("disk-{}.img", scheme.name()));
    let sys = installed_system(&disk, scheme, 112 * MIB).unwrap();
    let mut dev = FileDevice::open_writable(&disk, 512).unwrap();
    let opts = RecoveryOptions {
        size: Some(48 * MIB),
        headroom: None,
    };
    let plan = plan_add_recovery(&mut dev, &media, &opts).unwrap();
    add_recovery(
        &mut dev,
        &media,
        &plan,
        &FatOptions::default(),
        &Control::default(),
    )
    .unwrap();
    (disk, sys, plan.partition.number)
}

fn store_on(disk: &Path, sys: &InstalledSystem, path: &str) -> Option<Vec<u8>> {
    let mut dev = FileDevice::open(disk, 512).unwrap();
    let mut region = Region::new(&mut dev, sys.system.start, sys.system.size).unwrap();
    fat::read_file(&mut region, path).ok()
}

/// Checks the store file with libhivex (python3-hivex) against dart's own
/// reading, and returns it.
fn checked_store(disk: &Path, sys: &InstalledSystem, dir: &Path) -> Store {
    let bytes = store_on(disk, sys, sys.store_path).unwrap();
    let file = dir.join("BCD.checked");
    std::fs::write(&file, &bytes).unwrap();
    let store = Store::open(&file).unwrap();
    assert_eq!(
        hivex_dump(&file),
        dart_dump(store.hive()),
        "libhivex reads another store"
    );
    store
}

/// The disk's bytes, to compare before and after.
fn sha(disk: &Path) -> Vec<u8> {
    std::fs::read(disk).unwrap()
}

fn recovery_id(disk: &Path, number: u32) -> PartitionId {
    let mut dev = FileDevice::open(disk, 512).unwrap();
    let layout = read_layout(&mut dev).unwrap();
    let p = layout
        .partitions
        .iter()
        .find(|p| p.number == number)
        .unwrap();
    partition_id(&layout, p)
}

fn ramdisk(store: &Store, id: Uuid) -> (Device, String, Option<Uuid>) {
    match store.object(id).unwrap().element(element::DEVICE) {
        Some(ElementValue::Device(Device::Ramdisk {
            container,
            path,
            options,
        })) => ((**container).clone(), path.clone(), *options),
        other => panic!("not a ramdisk entry: {other:?}"),
    }
}

#[test]
fn a_gpt_system_gets_a_tools_entry_on_its_esp_and_loses_exactly_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let (disk, sys, number) = system_with_recovery(dir.path(), Scheme::Gpt);
    let windows_before = {
        let mut dev = FileDevice::open(&disk, 512).unwrap();
        let mut b = vec![0u8; sys.windows.size as usize];
        dev.read_at(sys.windows.start, &mut b).unwrap();
        b
    };
    let original = Store::parse(&sys.store, "orig".as_ref()).unwrap();

    let report = register_recovery_at(&disk, &RegisterOptions::default(), false).unwrap();
    assert!(report.written, "{}", report.plan);
    assert!(report.plan.writes_backup);
    let text = report.plan.to_string();
    assert!(text.contains("toolsdisplayorder"), "{text}");
    assert!(text.contains("DaRT Recovery"), "{text}");

    let store = checked_store(&disk, &sys, dir.path());
    let pid = recovery_id(&disk, number);
    let id = entry_id(&pid);
    assert!(store.list(EntryList::Tools).contains(&id));
    assert!(!store.list(EntryList::Menu).contains(&id));
    assert_eq!(
        store.default_entry(),
        Some(WINDOWS_LOADER),
        "the default changed"
    );
    let (container, path, options) = ramdisk(&store, id);
    assert_eq!(container, Device::Partition(pid));
    assert_eq!(path, r"\sources\boot.wim");
    let sdi = store.object(options.unwrap()).unwrap();
    assert_eq!(
        sdi.element(element::RAMDISKSDIDEVICE),
        Some(&ElementValue::Device(Device::Partition(pid)))
    );
    assert_eq!(
        sdi.element(element::RAMDISKSDIPATH),
        Some(&ElementValue::String(r"\boot\boot.sdi".into()))
    );
    // Cloned from the Windows RE entry: a UEFI loader path, winpe yes.
    let entry = store.object(id).unwrap();
    assert_eq!(
        entry.element(element::PATH),
        Some(&ElementValue::String(
            r"\windows\system32\boot\winload.efi".into()
        ))
    );
    assert_eq!(
        entry.element(element::WINPE),
        Some(&ElementValue::Boolean(true))
    );
    // The backup is the untouched store.
    assert_eq!(
        store_on(&disk, &sys, "EFI/Microsoft/Boot/BCD.dart-backup").unwrap(),
        sys.store
    );

    // Re-running changes nothing, not one byte.
    let before = sha(&disk);
    let again = register_recovery_at(&disk, &RegisterOptions::default(), false).unwrap();
    assert!(
        !again.written && again.plan.changes.is_empty(),
        "{}",
        again.plan
    );
    assert!(sha(&disk) == before, "the disk changed");

    // Updating the partition in place keeps the entry valid: same ids, no change.
    let media = dir.path().join("media");
    std::fs::write(media.join("sources/boot.wim"), vec![0x43; 5000]).unwrap();
    let u = dart_core::deploy::update_recovery_at(
        &disk,
        media.as_path(),
        &FatOptions::default(),
        &Control::default(),
    )
    .unwrap();
    assert_eq!(u.replaced, ["sources/boot.wim"]);
    let after_update = register_recovery_at(&disk, &RegisterOptions::default(), true).unwrap();
    assert!(
        after_update.plan.changes.is_empty(),
        "{}",
        after_update.plan
    );
    assert_eq!(
        after_update.plan.entry.as_deref(),
        Some(names::render_id(&id).as_str())
    );

    // As Windows RE: {default}'s recovery sequence, and out of the tools.
    let winre = RegisterOptions {
        placement: Placement::Winre,
        ..RegisterOptions::default()
    };
    let r = register_recovery_at(&disk, &winre, false).unwrap();
    assert!(
        r.plan.notes.iter().any(|n| n.contains("ReAgent.xml")),
        "{}",
        r.plan
    );
    let store = checked_store(&disk, &sys, dir.path());
    assert_eq!(store.recovery_sequence(WINDOWS_LOADER), Some(vec![id]));
    assert!(!store.list(EntryList::Tools).contains(&id));
    // The backup stays the original store.
    assert_eq!(
        store_on(&disk, &sys, "EFI/Microsoft/Boot/BCD.dart-backup").unwrap(),
        sys.store
    );

    // Unregistering restores Windows RE and removes what dart added.
    let dry = unregister_recovery_at(&disk, false, None, true).unwrap();
    assert!(dry.dry_run && dry.registration.removes_backup);
    let gone = unregister_recovery_at(&disk, false, None, false).unwrap();
    assert!(!gone.dry_run && !gone.registration.changes.is_empty());
    let store = checked_store(&disk, &sys, dir.path());
    assert_eq!(
        store.recovery_sequence(WINDOWS_LOADER),
        Some(vec![WINRE_LOADER])
    );
    assert_eq!(
        store.view(),
        original.view(),
        "unregister left changes behind"
    );
    assert!(store_on(&disk, &sys, "EFI/Microsoft/Boot/BCD.dart-backup").is_none());
    let windows_after = {
        let mut dev = FileDevice::open(&disk, 512).unwrap();
        let mut b = vec![0u8; sys.windows.size as usize];
        dev.read_at(sys.windows.start, &mut b).unwrap();
        b
    };
    assert!(
        windows_before == windows_after,
        "the Windows partition changed"
    );
}

#[test]
fn a_bios_mbr_system_gets_a_menu_entry_in_boot_bcd_on_the_active_partition() {
    let dir = tempfile::tempdir().unwrap();
    let (disk, sys, number) = system_with_recovery(dir.path(), Scheme::Mbr);
    assert_eq!(sys.store_path, "Boot/BCD");
    let opts = RegisterOptions {
        placement: Placement::Menu,
        description: "DaRT 10 (x64)".into(),
        ..RegisterOptions::default()
    };
    let r = register_recovery_at(&disk, &opts, false).unwrap();
    assert!(r.written);
    assert_eq!(r.plan.store.firmware.name(), "bios");
    let store = checked_store(&disk, &sys, dir.path());
    let pid = recovery_id(&disk, number);
    assert!(matches!(pid, PartitionId::Mbr { offset, .. } if offset % MIB == 0));
    let id = entry_id(&pid);
    assert_eq!(store.list(EntryList::Menu), vec![WINDOWS_LOADER, id]);
    assert_eq!(store.default_entry(), Some(WINDOWS_LOADER));
    let entry = store.object(id).unwrap();
    assert_eq!(entry.description.as_deref(), Some("DaRT 10 (x64)"));
    assert_eq!(
        entry.element(element::PATH),
        Some(&ElementValue::String(
            r"\windows\system32\boot\winload.exe".into()
        ))
    );
    assert_eq!(ramdisk(&store, id).0, Device::Partition(pid));
    // The volume is still a clean FAT32 volume.
    let mut dev = FileDevice::open(&disk, 512).unwrap();
    let mut region = Region::new(&mut dev, sys.system.start, sys.system.size).unwrap();
    let names: Vec<String> = fat::list(&mut region)
        .unwrap()
        .into_iter()
        .map(|e| e.path.to_lowercase())
        .collect();
    assert!(
        names.iter().any(|n| n == "boot/bcd.dart-backup"),
        "{names:?}"
    );
}

#[test]
fn bitlocker_disks_missing_stores_and_stale_plans_are_refused_with_the_disk_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (disk, sys, _) = system_with_recovery(dir.path(), Scheme::Gpt);

    // A BitLocker volume on "Windows".
    {
        let mut dev = FileDevice::open_writable(&disk, 512).unwrap();
        dev.write_at(sys.windows.start + 3, b"-FVE-FS-").unwrap();
        dev.flush().unwrap();
    }
    let before = sha(&disk);
    let e = register_recovery_at(&disk, &RegisterOptions::default(), false).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("BitLocker")
            && msg.contains("manage-bde -protectors -disable C: -RebootCount 1"),
        "{msg}"
    );
    assert!(msg.contains("nothing was written"), "{msg}");
    assert!(sha(&disk) == before, "a refused registration wrote");
    let e = unregister_recovery_at(&disk, false, None, false).unwrap_err();
    assert!(e.to_string().contains("BitLocker"), "{e}");
    let suspended = RegisterOptions {
        bitlocker_suspended: true,
        ..RegisterOptions::default()
    };
    assert!(
        register_recovery_at(&disk, &suspended, false)
            .unwrap()
            .written
    );

    // A stale plan: the store changed between planning and writing.
    let mut dev = FileDevice::open_writable(&disk, 512).unwrap();
    let layout = read_layout(&mut dev).unwrap();
    let rec = layout.partitions.last().unwrap().clone();
    let plan = plan_unregister(&mut dev, true).unwrap();
    let mut other = Store::parse(
        &store_on(&disk, &sys, sys.store_path).unwrap(),
        "x".as_ref(),
    )
    .unwrap();
    other.set_timeout(5).unwrap();
    {
        let mut region = Region::new(&mut dev, sys.system.start, sys.system.size).unwrap();
        other.save_on_volume(&mut region, sys.store_path).unwrap();
    }
    let before = sha(&disk);
    let e = register(&mut dev, &plan).unwrap_err();
    assert!(e.to_string().contains("changed since"), "{e}");
    assert!(sha(&disk) == before, "the disk changed");

    // No store on the ESP: the error says where dart looked.
    {
        let staging = tempfile::tempdir().unwrap();
        std::fs::write(staging.path().join("x.txt"), b"x").unwrap();
        let mut region = Region::new(&mut dev, sys.system.start, sys.system.size).unwrap();
        fat::update_files(
            &mut region,
            &MediaSet::from_dir(staging.path()).unwrap(),
            &FatOptions::default(),
            &Control::default(),
        )
        .unwrap();
    }
    let before = sha(&disk);
    let e = plan_register(&mut dev, &layout, &rec, &suspended).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Disk);
    let msg = e.to_string();
    assert!(msg.contains(r"holds no \EFI\Microsoft\Boot\BCD"), "{msg}");
    drop(dev);
    assert!(sha(&disk) == before, "the disk changed");
}

#[test]
fn a_registration_is_old_or_new_after_a_crash_at_any_write() {
    let dir = tempfile::tempdir().unwrap();
    let (disk, sys, _) = system_with_recovery(dir.path(), Scheme::Gpt);
    let base = std::fs::read(&disk).unwrap();
    let backup = "EFI/Microsoft/Boot/BCD.dart-backup";
    let read = |image: Vec<u8>, path: &str| {
        let mut d = MemoryDevice::from_bytes(image, 512);
        let mut region = Region::new(&mut d, sys.system.start, sys.system.size).unwrap();
        fat::read_file(&mut region, path).ok()
    };

    let mut probe = FaultyDevice::new(MemoryDevice::from_bytes(base.clone(), 512));
    let layout = read_layout(&mut probe).unwrap();
    let rec = layout.partitions.last().unwrap().clone();
    let plan = plan_register(&mut probe, &layout, &rec, &RegisterOptions::default()).unwrap();
    register(&mut probe, &plan).unwrap();
    let new_store = read(probe.image_flushed_only(), sys.store_path).unwrap();
    assert_ne!(new_store, sys.store);
    let total = probe.operations();
    assert!(total >= 8, "{total} operations");
    let mut outcomes = BTreeMap::new();
    for k in 0..total {
        let mut dev = FaultyDevice::new(MemoryDevice::from_bytes(base.clone(), 512));
        dev.crash_at(Some(k));
        if register(&mut dev, &plan).is_ok() {
            continue; // the crash point was a read
        }
        for image in [dev.image_with_unflushed(), dev.image_flushed_only()] {
            let store = read(image.clone(), sys.store_path).expect("the store is gone");
            let which = if store == sys.store {
                "old"
            } else if store == new_store {
                "new"
            } else {
                panic!("crash at {k}: the store is neither old nor new")
            };
            *outcomes.entry(which).or_insert(0) += 1;
            if let Some(b) = read(image.clone(), backup) {
                assert_eq!(b, sys.store, "crash at {k}: a damaged backup");
            }
            if which == "new" {
                assert!(
                    read(image, backup).is_some(),
                    "crash at {k}: new store without backup"
                );
            }
        }
    }
    assert!(
        outcomes.contains_key("old") && outcomes.contains_key("new"),
        "{outcomes:?}"
    );
}

/// The whole managed-PC flow on a stand-in installed system under OVMF:
/// add the partition, register it, add a UEFI boot entry and BootNext in a
/// copy of OVMF's variable file; the first start opens the recovery image
/// (BootNext), the second the installed system (BootNext was consumed).
/// Re-running the setup changes nothing.
#[test]
fn boot_next_opens_the_recovery_partition_once_then_the_installed_system() {
    use dart_core::deploy::managed::{set_up_recovery_at, RecoverySetup};
    use dart_core::deploy::uefi_entry::{UefiEntryOptions, VarsTarget};
    use dart_core::formats::uefi::{boot_next, boot_options, OvmfVars};
    use dart_testkit::fixture::BOOT_MARKER;
    use dart_testkit::installed::INSTALLED_MARKER;
    use dart_testkit::qemu::{boot_with_vars, AfterMarker, OVMF_VARS};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let media = dart_testkit::bootable_media(&dir.path().join("fx"));
    let disk = dir.path().join("pc.img");
    let sys = installed_system(&disk, Scheme::Gpt, 112 * MIB).unwrap();
    assert!(
        sys.bootable,
        "grub-mkstandalone is needed for the stand-in loader"
    );
    let vars = dir.path().join("vars.fd");
    std::fs::copy(OVMF_VARS, &vars).unwrap();
    let mut uefi = UefiEntryOptions::new(VarsTarget::File(vars.clone()), "DaRT Recovery");
    uefi.boot_next = true;
    let setup = RecoverySetup {
        register: Some(RegisterOptions::default()),
        uefi_entry: Some(uefi.clone()),
        update_if_present: true,
        sizing: RecoveryOptions {
            size: Some(48 * MIB),
            headroom: None,
        },
    };
    // A dry run writes nothing, to the disk or the variables.
    let disk_before = sha(&disk);
    let vars_before = sha(&vars);
    let dry = set_up_recovery_at(
        &disk,
        &media,
        &setup,
        &FatOptions::default(),
        &Control::default(),
        true,
    )
    .unwrap();
    let text = dry.to_string();
    assert!(
        text.contains("+ Boot0000") && text.contains("BootNext"),
        "{text}"
    );
    assert!(text.contains("toolsdisplayorder"), "{text}");
    assert!(
        sha(&disk) == disk_before && sha(&vars) == vars_before,
        "a dry run wrote"
    );

    let report = set_up_recovery_at(
        &disk,
        &media,
        &setup,
        &FatOptions::default(),
        &Control::default(),
        false,
    )
    .unwrap();
    let number = report.uefi_entry.as_ref().unwrap().number.unwrap();
    let printed = dart_testkit::uefi_vars::fw_print(&vars);
    assert!(
        printed.contains("DaRT Recovery") && printed.contains("BootNext"),
        "{printed}"
    );
    // virt-fw-vars prints the hard-drive node by number only; the GUID in
    // it is checked by the firmware itself below, which finds the
    // partition by it (a short-form HD() path).
    let part = report.added.as_ref().unwrap().partition.clone();
    assert!(
        printed.contains(&format!(
            "Partition(nr={})/FilePath(\\EFI\\BOOT\\BOOTX64.EFI)",
            part.number
        )),
        "{printed}"
    );

    let first = boot_with_vars(
        Some(&disk),
        &vars,
        &[BOOT_MARKER, INSTALLED_MARKER],
        AfterMarker::WaitForPowerOff,
        Duration::from_secs(180),
    )
    .unwrap();
    assert_eq!(
        first.marker.as_deref(),
        Some(BOOT_MARKER),
        "first start:\n{}",
        first.console_tail
    );
    let store = OvmfVars::open(&vars).unwrap();
    assert_eq!(
        boot_next(&store).unwrap(),
        None,
        "the firmware did not consume BootNext"
    );
    assert!(boot_options(&store)
        .unwrap()
        .iter()
        .any(|(n, o)| *n == number && o.description == "DaRT Recovery"));
    let second = boot_with_vars(
        Some(&disk),
        &vars,
        &[BOOT_MARKER, INSTALLED_MARKER],
        AfterMarker::WaitForPowerOff,
        Duration::from_secs(180),
    )
    .unwrap();
    assert_eq!(
        second.marker.as_deref(),
        Some(INSTALLED_MARKER),
        "second start:\n{}",
        second.console_tail
    );

    // Software distribution re-runs the same request: nothing changes but BootNext.
    uefi.boot_next = false;
    let again = RecoverySetup {
        uefi_entry: Some(uefi),
        ..setup
    };
    let vars_now = sha(&vars);
    let r = set_up_recovery_at(
        &disk,
        &media,
        &again,
        &FatOptions::default(),
        &Control::default(),
        false,
    )
    .unwrap();
    assert!(r.added.is_none(), "a second partition was planned");
    assert!(
        r.updated.as_ref().unwrap().replaced.is_empty()
            && r.updated.as_ref().unwrap().added.is_empty()
    );
    assert!(r.registration.as_ref().unwrap().changes.is_empty(), "{r}");
    assert!(r.uefi_entry.as_ref().unwrap().changes.is_empty(), "{r}");
    assert!(
        sha(&vars) == vars_now,
        "an idempotent re-run rewrote the variables"
    );
}

#[test]
fn a_dry_run_names_the_partition_and_entry_ids_the_write_uses() {
    use dart_core::deploy::managed::{set_up_recovery_at, RecoverySetup};
    let dir = tempfile::tempdir().unwrap();
    let media = dart_testkit::loader_media(&dir.path().join("media"), 0x42, 64 << 10);
    let disk = dir.path().join("pc.img");
    installed_system(&disk, Scheme::Gpt, 112 * MIB).unwrap();
    let setup = RecoverySetup {
        sizing: RecoveryOptions {
            size: Some(48 * MIB),
            headroom: None,
        },
        register: Some(RegisterOptions::default()),
        ..RecoverySetup::default()
    };
    let run = |dry| {
        set_up_recovery_at(
            &disk,
            media.root(),
            &setup,
            &FatOptions::default(),
            &Control::default(),
            dry,
        )
        .unwrap()
    };
    let dry = run(true);
    let done = run(false);
    assert_eq!(
        dry.added.as_ref().unwrap().partition,
        done.added.as_ref().unwrap().partition
    );
    assert_eq!(
        dry.registration.as_ref().unwrap().entry,
        done.registration.as_ref().unwrap().entry
    );
}

#[test]
fn a_backup_left_without_an_entry_is_removed_by_unregister() {
    let dir = tempfile::tempdir().unwrap();
    let (disk, sys, _) = system_with_recovery(dir.path(), Scheme::Mbr);
    register_recovery_at(&disk, &RegisterOptions::default(), false).unwrap();
    // Someone restored the original store by hand; the backup is still there.
    {
        let original = Store::parse(&sys.store, "orig".as_ref()).unwrap();
        let mut dev = FileDevice::open_writable(&disk, 512).unwrap();
        let mut region = Region::new(&mut dev, sys.system.start, sys.system.size).unwrap();
        original
            .save_on_volume(&mut region, sys.store_path)
            .unwrap();
    }
    let r = unregister_recovery_at(&disk, false, None, false).unwrap();
    assert!(
        r.registration.changes.is_empty() && r.registration.removes_backup,
        "{r}"
    );
    assert!(store_on(&disk, &sys, "Boot/BCD.dart-backup").is_none());
    assert!(store_on(&disk, &sys, sys.store_path).is_some());
}
