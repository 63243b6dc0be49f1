//! A stand-in installed Windows system: the disk a recovery partition is
//! registered on.
//!
//! GPT: an EFI system partition (FAT32) holding `\EFI\Microsoft\Boot\BCD`
//! (the store of an installed Windows: `{bootmgr}`, a "Windows 11" loader
//! as `{default}` whose `recoverysequence` names a Windows RE entry) and,
//! as `\EFI\BOOT\BOOTX64.EFI`, a GRUB program printing
//! [`INSTALLED_MARKER`]; then a "Windows" basic-data partition of a known
//! pattern, and free space. MBR: an active FAT32 "System Reserved"
//! partition holding `\Boot\BCD` (the BIOS store), then "Windows".

use std::path::Path;

use dart_core::disk::{BlockDevice, FileDevice, Region};
use dart_core::formats::bcd::names::{self, element, object_type};
use dart_core::formats::bcd::{Device, ElementValue, PartitionId, Store, WinPeEntry};
use dart_core::formats::fat::{write_volume, FatOptions};
use dart_core::formats::partition::{apply, Layout, Partition, PartitionKind, Scheme, MIB};
use dart_core::model::media::{Firmware, MediaSet};
use dart_core::progress::Control;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::fixture::{build_grub_loader_printing, FIXTURE_FILETIME};

/// What the installed system's own loader prints.
pub const INSTALLED_MARKER: &str = "DART-INSTALLED-OS";
/// The "Windows 11" loader's id in the installed store.
pub const WINDOWS_LOADER: Uuid = Uuid::from_u128(0x3b6c1a2e_7f0d_4e55_9d1e_1c0ffee00001);
/// The Windows RE entry's id in the installed store.
pub const WINRE_LOADER: Uuid = Uuid::from_u128(0x3b6c1a2e_7f0d_4e55_9d1e_1c0ffee00002);

/// The disk [`installed_system`] built.
#[derive(Debug, Clone)]
pub struct InstalledSystem {
    /// The table as written.
    pub layout: Layout,
    /// The partition holding the boot store.
    pub system: Partition,
    /// The "Windows" partition.
    pub windows: Partition,
    /// The store's path on the system partition.
    pub store_path: &'static str,
    /// The store's bytes as written.
    pub store: Vec<u8>,
    /// Whether the ESP's loader is a real GRUB program (UEFI only).
    pub bootable: bool,
}

/// The store of an installed Windows whose system partition is `windows`.
pub fn installed_store(firmware: Firmware, windows: PartitionId) -> Result<Vec<u8>> {
    let mut store = Store::new_at(firmware, FIXTURE_FILETIME)?;
    let (ext, winre_dir) = match firmware {
        Firmware::Uefi => ("efi", r"\Recovery\WindowsRE"),
        _ => ("exe", r"\Recovery\WindowsRE"),
    };
    let winre = WinPeEntry {
        description: "Windows Recovery Environment".into(),
        wim: format!(r"{winre_dir}\Winre.wim"),
        sdi: format!(r"{winre_dir}\boot.sdi"),
        device: Device::Partition(windows),
        firmware: Some(firmware),
        locale: "en-US".into(),
        id: Some(WINRE_LOADER),
    };
    store.add_winpe_object(&winre)?;
    store.create_object(WINDOWS_LOADER, object_type::OSLOADER)?;
    let part = ElementValue::Device(Device::Partition(windows));
    let text = |s: &str| ElementValue::String(s.to_string());
    for (code, value) in [
        (element::DEVICE, part.clone()),
        (
            element::PATH,
            text(&format!(r"\Windows\system32\winload.{ext}")),
        ),
        (element::DESCRIPTION, text("Windows 11")),
        (element::LOCALE, text("en-US")),
        (
            element::INHERIT,
            ElementValue::ObjectList(vec![names::BOOTLOADERSETTINGS]),
        ),
        (
            element::RECOVERYSEQUENCE,
            ElementValue::ObjectList(vec![WINRE_LOADER]),
        ),
        (element::RECOVERYENABLED, ElementValue::Boolean(true)),
        (element::OSDEVICE, part),
        (element::SYSTEMROOT, text(r"\Windows")),
    ] {
        store.set_element_value(WINDOWS_LOADER, code, &value)?;
    }
    store.set_display_order(&[WINDOWS_LOADER])?;
    store.set_default(WINDOWS_LOADER)?;
    Ok(store.to_bytes())
}

/// Builds the stand-in installed system in a new image file of
/// `disk_bytes` (see the module documentation).
pub fn installed_system(path: &Path, scheme: Scheme, disk_bytes: u64) -> Result<InstalledSystem> {
    let mut dev = FileDevice::create(path, disk_bytes, 512)?;
    let mut layout = Layout::new(scheme, disk_bytes, 512);
    let (system, firmware, store_path, label) = match scheme {
        Scheme::Gpt => (
            layout.add(PartitionKind::EfiSystem, 40 * MIB, "EFI system partition")?,
            Firmware::Uefi,
            "EFI/Microsoft/Boot/BCD",
            "SYSTEM",
        ),
        Scheme::Mbr => {
            let p = layout.add(PartitionKind::Fat32, 40 * MIB, "")?;
            (p, Firmware::Bios, "Boot/BCD", "SYSRESERVED")
        }
    };
    if scheme == Scheme::Mbr {
        if let Some(p) = layout
            .partitions
            .iter_mut()
            .find(|p| p.number == system.number)
        {
            p.bootable = true;
        }
    }
    let windows = layout.add(PartitionKind::BasicData, 16 * MIB, "Windows")?;
    apply(&mut dev, &layout)?;
    let windows_id = match scheme {
        Scheme::Gpt => PartitionId::Gpt {
            disk: layout.disk_guid,
            partition: windows.guid,
        },
        Scheme::Mbr => PartitionId::Mbr {
            signature: layout.mbr_signature,
            offset: windows.start,
        },
    };
    let store = installed_store(firmware, windows_id)?;
    let work = tempfile::tempdir().map_err(|e| Error::write(&std::env::temp_dir(), e))?;
    let root = work.path().join("system");
    let store_file = root.join(store_path);
    let mkdir = |d: &Path| std::fs::create_dir_all(d).map_err(|e| Error::write(d, e));
    mkdir(store_file.parent().unwrap_or(&root))?;
    std::fs::write(&store_file, &store).map_err(|e| Error::write(&store_file, e))?;
    let mut bootable = false;
    if scheme == Scheme::Gpt {
        let loader = root.join("EFI/BOOT/BOOTX64.EFI");
        mkdir(loader.parent().unwrap_or(&root))?;
        bootable = build_grub_loader_printing(&loader, INSTALLED_MARKER)?;
        if !bootable {
            std::fs::write(&loader, b"stand-in loader").map_err(|e| Error::write(&loader, e))?;
        }
    }
    let media = MediaSet::from_dir(&root)?;
    {
        let mut region = Region::new(&mut dev, system.start, system.size)?;
        let opts = FatOptions {
            label: label.into(),
            timestamp: Some(1_700_000_000),
        };
        write_volume(&mut region, &media, &opts, &Control::default())?;
    }
    let pattern: Vec<u8> = (0..MIB).map(|i| (i * 7 % 251) as u8).collect();
    dev.write_at(windows.start, &pattern)?;
    dev.flush()?;
    Ok(InstalledSystem {
        layout,
        system,
        windows,
        store_path,
        store,
        bootable,
    })
}
