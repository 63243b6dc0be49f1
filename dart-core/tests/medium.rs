//! Media with a built image (`--wim`) or several behind a boot menu
//! (`--image`): the stores dart writes are read back by dart and libhivex,
//! entries point at WIMs that are on the medium, shared files are stored
//! once, and the USB image boots under QEMU.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use dart_core::deploy::{write_usb_to, MediumSpec, UsbOptions};
use dart_core::disk::{FileDevice, Region};
use dart_core::formats::bcd::{names, Device, ElementValue, Store};
use dart_core::formats::fat;
use dart_core::formats::partition::{read_disk_at, Scheme};
use dart_core::model::media::MediaSet;
use dart_core::progress::Control;
use dart_testkit::hivex::{dart_dump, hivex_dump};
use dart_testkit::qemu::{boot, Attach, Firmware};

/// The fixture media and two "built images" (copies of its boot.wim).
fn media_and_images(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let media = dart_testkit::bootable_media(&dir.join("fx"));
    let full = dir.join("full.wim");
    let basic = dir.join("basic.wim");
    std::fs::copy(media.join("sources/boot.wim"), &full).unwrap();
    std::fs::copy(media.join("sources/boot.wim"), &basic).unwrap();
    (media, full, basic)
}

fn menu_spec(media: &Path, full: &Path, basic: &Path) -> MediumSpec {
    MediumSpec {
        images: vec![
            format!("DaRT 10 (full)={}", full.display())
                .parse()
                .unwrap(),
            format!("DaRT 10 (basic)={}", basic.display())
                .parse()
                .unwrap(),
        ],
        default: Some("DaRT 10 (basic)".into()),
        timeout: Some(7),
        ..MediumSpec::new(media)
    }
}

fn ramdisk_path(store: &Store, id: uuid::Uuid) -> String {
    match store.object(id).unwrap().element(names::element::DEVICE) {
        Some(ElementValue::Device(Device::Ramdisk {
            path, container, ..
        })) => {
            assert_eq!(**container, Device::Boot);
            path.clone()
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_menu_medium_has_one_entry_per_image_in_both_stores() {
    let dir = tempfile::tempdir().unwrap();
    let (media, full, basic) = media_and_images(dir.path());
    let spec = menu_spec(&media, &full, &basic);
    let medium = spec.prepare().unwrap();
    let set = &medium.set;
    assert!(
        set.find("sources/boot.wim").is_none(),
        "the media's own image is left out"
    );
    assert!(set.find("sources/dart-10-full.wim").is_some());
    assert!(set.find("sources/dart-10-basic.wim").is_some());
    // Shared files once: the medium is the media minus boot.wim plus the two images.
    let base = MediaSet::open(&media).unwrap();
    let wim_len = std::fs::metadata(&full).unwrap().len();
    let boot_len = base.find("sources/boot.wim").unwrap().size;
    let store_delta: i64 = ["boot/bcd", "efi/microsoft/boot/bcd"]
        .iter()
        .map(|p| set.find(p).unwrap().size as i64 - base.find(p).unwrap().size as i64)
        .sum();
    assert_eq!(
        set.total_bytes() as i64,
        base.total_bytes() as i64 - boot_len as i64 + 2 * wim_len as i64 + store_delta
    );
    for (path, template) in [
        ("boot/bcd", "media boot/bcd"),
        ("efi/microsoft/boot/bcd", "media efi/microsoft/boot/bcd"),
    ] {
        let f = set.find(path).unwrap();
        let bytes = set.source(f).read_all().unwrap();
        let store = Store::parse(&bytes, path.as_ref()).unwrap();
        let order = store.display_order();
        assert_eq!(order.len(), 2, "{path}: {}", store.to_text());
        let paths: Vec<String> = order.iter().map(|id| ramdisk_path(&store, *id)).collect();
        assert_eq!(
            paths,
            [r"\sources\dart-10-full.wim", r"\sources\dart-10-basic.wim"]
        );
        assert_eq!(store.default_entry(), Some(order[1]));
        assert_eq!(store.timeout(), Some(7));
        assert!(
            store.object(names::MEDIA_LOADER).is_none(),
            "{path}: the media's own entry is gone"
        );
        assert!(
            medium
                .templates
                .iter()
                .any(|(p, t)| p == path && t == template),
            "{:?}",
            medium.templates
        );
        // libhivex sees what dart sees.
        let file = dir.path().join(path.replace('/', "-"));
        std::fs::write(&file, &bytes).unwrap();
        assert_eq!(hivex_dump(&file), dart_dump(store.hive()));
    }
    // The same spec gives the same ids (a dry run shows what a write does).
    let again = spec.prepare().unwrap();
    assert_eq!(again.menu, medium.menu);
    assert!(medium.menu[1].default && !medium.menu[0].default);
}

#[test]
fn bad_menus_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (media, full, basic) = media_and_images(dir.path());
    let mut spec = menu_spec(&media, &full, &basic);
    spec.default = Some("nope".into());
    let e = spec.prepare().unwrap_err();
    assert!(
        e.to_string().contains("nope") && e.to_string().contains("DaRT 10 (full)"),
        "{e}"
    );
    let mut spec = menu_spec(&media, &full, &basic);
    spec.images[1].description = "dart 10 (FULL)".into();
    assert!(spec
        .prepare()
        .unwrap_err()
        .to_string()
        .contains("dart 10 (FULL)"));
    let mut spec = menu_spec(&media, &full, &basic);
    spec.images[1].wim = media.join("bootmgr");
    assert!(spec.prepare().unwrap_err().to_string().contains("bootmgr"));
    let spec = MediumSpec {
        wim: Some(full.clone()),
        ..menu_spec(&media, &full, &basic)
    };
    assert!(spec.prepare().is_err());
    // An output that is one of the images is refused by name.
    let spec = menu_spec(&media, &full, &basic);
    let e = write_usb_to(
        &basic,
        None,
        &spec,
        &UsbOptions::default(),
        &Control::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("basic.wim"), "{e}");
}

#[test]
fn a_built_image_replaces_boot_wim_without_copying_the_media() {
    let dir = tempfile::tempdir().unwrap();
    let (media, full, _) = media_and_images(dir.path());
    std::fs::write(dir.path().join("marker"), b"x").unwrap();
    let spec = MediumSpec {
        wim: Some(full.clone()),
        ..MediumSpec::new(&media)
    };
    let medium = spec.prepare().unwrap();
    let f = medium.set.find("sources/boot.wim").unwrap();
    assert_eq!(medium.set.source(f).path(), full.as_path());
    assert!(medium.inputs().contains(&full.as_path()));
    assert!(medium.menu.is_empty());
}

#[test]
fn a_usb_stick_with_a_menu_boots_and_holds_the_stores() {
    let dir = tempfile::tempdir().unwrap();
    let (media, full, basic) = media_and_images(dir.path());
    let usb = dir.path().join("usb.img");
    let spec = menu_spec(&media, &full, &basic);
    write_usb_to(
        &usb,
        Some(256 << 20),
        &spec,
        &UsbOptions {
            scheme: Scheme::Mbr,
            ..UsbOptions::default()
        },
        &Control::default(),
    )
    .unwrap();
    let state = read_disk_at(&usb).unwrap();
    let part = state.layout.partitions[0].clone();
    let mut dev = FileDevice::open(&usb, 512).unwrap();
    let mut vol = Region::new(&mut dev, part.start, part.size).unwrap();
    for path in ["boot/bcd", "efi/microsoft/boot/bcd"] {
        let store = Store::open_on_volume(&mut vol, path).unwrap();
        assert_eq!(store.display_order().len(), 2);
    }
    assert!(fat::read_file(&mut vol, "sources/dart-10-full.wim").is_ok());
    assert!(fat::read_file(&mut vol, "sources/boot.wim").is_err());
    let check = boot(&usb, Attach::Disk, Firmware::Uefi, Duration::from_secs(120)).unwrap();
    assert!(check.marker_seen, "{}", check.console_tail);
}

/// A small WinPE-like WIM of `arch` (WIM ARCH value) whose boot files are
/// the fixture's stand-in loader.
fn arch_wim(dir: &Path, media: &Path, arch_value: &str, name: &str) -> PathBuf {
    use dart_core::image::{capture, CaptureImage, Compression};
    let tree = dir.join(format!("tree-{name}"));
    for (p, body) in [
        ("Windows/System32/boot/winload.efi", b"stand-in".to_vec()),
        ("Windows/System32/boot/winload.exe", b"stand-in".to_vec()),
        (
            "Windows/Boot/EFI/bootmgfw.efi",
            std::fs::read(media.join("efi/boot/bootx64.efi")).unwrap(),
        ),
    ] {
        let f = tree.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, body).unwrap();
    }
    let out = dir.join(format!("{name}.wim"));
    let props = [
        ("WINDOWS/ARCH", arch_value),
        ("WINDOWS/EDITIONID", "WindowsPE"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    capture(
        &[CaptureImage {
            source: tree,
            name: name.into(),
            properties: props,
        }],
        &out,
        Compression::Xpress,
        Some(1),
        Some(1_700_000_000),
        &Control::default(),
    )
    .unwrap();
    out
}

#[test]
fn both_architectures_on_one_medium_never_put_a_foreign_entry_in_a_uefi_menu() {
    use dart_core::model::arch::Architecture;
    let dir = tempfile::tempdir().unwrap();
    let (media, full, _) = media_and_images(dir.path());
    let x86 = arch_wim(dir.path(), &media, "0", "pe32");
    let spec = MediumSpec {
        images: vec![
            format!("DaRT x64={}", full.display()).parse().unwrap(),
            format!("DaRT={}", x86.display()).parse().unwrap(),
        ],
        ..MediumSpec::new(&media)
    };
    let medium = spec.prepare().unwrap();
    let read = |p: &str| {
        let f = medium.set.find(p).unwrap();
        Store::parse(&medium.set.source(f).read_all().unwrap(), p.as_ref()).unwrap()
    };
    let bios = read("boot/bcd");
    let uefi = read("efi/microsoft/boot/bcd");
    let descriptions = |s: &Store| {
        s.display_order()
            .iter()
            .map(|id| s.object(*id).unwrap().description.unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(descriptions(&bios), ["DaRT x64", "DaRT (32-bit)"]);
    assert_eq!(descriptions(&uefi), ["DaRT x64"]);
    assert!(medium.set.find("efi/boot/bootx64.efi").is_some());
    assert!(medium.set.find("efi/boot/bootia32.efi").is_none());
    assert_eq!(medium.menu[1].architecture, Architecture::X86);
    assert!(medium.menu[1].uefi_id.is_none() && medium.menu[1].bios_id.is_some());
    assert!(
        medium.notes.iter().any(|n| n.contains("BIOS menu only")),
        "{:?}",
        medium.notes
    );

    // A 32-bit UEFI medium: the x86 image's own boot manager goes on as
    // BOOTIA32.EFI, the x64 loader is left off.
    let spec = MediumSpec {
        uefi_arch: Some(Architecture::X86),
        ..spec
    };
    let medium = spec.prepare().unwrap();
    let f = medium.set.find("efi/boot/bootia32.efi").unwrap();
    assert_eq!(
        medium.set.source(f).read_all().unwrap(),
        std::fs::read(media.join("efi/boot/bootx64.efi")).unwrap()
    );
    assert!(medium.set.find("efi/boot/bootx64.efi").is_none());
    assert!(
        medium
            .notes
            .iter()
            .any(|n| n.contains("bootx64.efi left off")),
        "{:?}",
        medium.notes
    );
}

#[test]
fn the_2023_boot_manager_comes_from_the_image() {
    use dart_core::deploy::BootManager;
    let dir = tempfile::tempdir().unwrap();
    let (media, full, basic) = media_and_images(dir.path());
    let spec = MediumSpec {
        boot_manager: Some(BootManager::Uefi2023),
        ..menu_spec(&media, &full, &basic)
    };
    let medium = spec.prepare().unwrap();
    assert!(
        medium.notes.iter().any(|n| n.contains("EFI_EX")),
        "{:?}",
        medium.notes
    );
    let f = medium.set.find("efi/boot/bootx64.efi").unwrap();
    assert!(
        !medium.set.source(f).path().starts_with(&media),
        "taken from the image, not the media"
    );
    // The one-image form too, and an image without EFI_EX is refused by name.
    let single = MediumSpec {
        boot_manager: Some(BootManager::Uefi2023),
        ..MediumSpec::new(&media)
    };
    assert!(single
        .prepare()
        .unwrap()
        .notes
        .iter()
        .any(|n| n.contains("EFI_EX")));
    let x86 = arch_wim(dir.path(), &media, "9", "no-ex");
    let bad = MediumSpec {
        wim: Some(x86),
        boot_manager: Some(BootManager::Uefi2023),
        ..MediumSpec::new(&media)
    };
    let e = bad.prepare().unwrap_err();
    assert!(e.to_string().contains("bootmgfw_EX.efi"), "{e}");
}

#[test]
fn the_check_names_each_broken_entry_and_the_signing_ca() {
    use dart_core::deploy::check_medium;
    use dart_core::model::arch::Architecture;
    use dart_core::model::media::Firmware;
    let dir = tempfile::tempdir().unwrap();
    let (media, _, _) = media_and_images(dir.path());
    let report = check_medium(&media, Architecture::X64, Firmware::Both).unwrap();
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.stores.len(), 2);
    assert_eq!(report.stores[0].entries[0].1, r"\sources\boot.wim");
    assert!(report
        .boot_managers
        .iter()
        .any(|b| b.path.ends_with("bootx64.efi") && b.signatures.is_empty()));
    // Break it: a store whose entries point at a WIM and a boot.sdi that
    // are not there, and a default outside the menu.
    let mut store = Store::open(media.join("efi/microsoft/boot/bcd")).unwrap();
    let e = dart_core::formats::bcd::WinPeEntry {
        sdi: r"\boot\missing.sdi".into(),
        ..dart_core::formats::bcd::WinPeEntry::new("Lost image", r"\sources\lost.wim")
    };
    store.add_winpe(&e, false).unwrap();
    store.save(media.join("efi/microsoft/boot/bcd")).unwrap();
    std::fs::remove_file(media.join("boot/boot.sdi")).unwrap();
    let report = check_medium(&media, Architecture::X64, Firmware::Uefi).unwrap();
    let all = report.problems.join("\n");
    assert!(
        all.contains("\"Lost image\"") && all.contains(r"\sources\lost.wim"),
        "{all}"
    );
    assert!(all.contains(r"\boot\missing.sdi"), "{all}");
    assert!(
        all.contains("\"Windows Setup\"") && all.contains(r"\boot\boot.sdi"),
        "{all}"
    );
}
