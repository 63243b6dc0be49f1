//! BCD stores and the registry hives under them: what dart writes is read
//! by libhivex exactly as dart reports it, edits keep what they do not
//! touch, damaged or dirty hives are refused, and a crash while a store is
//! replaced on a FAT volume leaves the old store or the new one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use dart_core::disk::fault::FaultyDevice;
use dart_core::disk::MemoryDevice;
use dart_core::formats::bcd::names::{self, element, object_type};
use dart_core::formats::bcd::{Device, ElementValue, Store, WinPeEntry};
use dart_core::formats::fat::{self, FatOptions};
use dart_core::formats::regf::{Hive, ValueType};
use dart_core::model::media::{Firmware, MediaSet};
use dart_core::progress::Control;
use dart_core::ErrorKind;
use dart_testkit::hivex::{dart_dump, hivex_dump};
use proptest::prelude::*;
use uuid::Uuid;

fn two_entry_store(firmware: Firmware) -> (Store, Uuid, Uuid) {
    let mut s = Store::new(firmware).unwrap();
    let full = s
        .add_winpe(&WinPeEntry::new("DaRT full", r"\sources\full.wim"), false)
        .unwrap();
    let basic = s
        .add_winpe(&WinPeEntry::new("DaRT basic", r"\sources\basic.wim"), true)
        .unwrap();
    (s, full, basic)
}

#[test]
fn libhivex_reads_every_store_dart_writes_as_dart_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    for firmware in [Firmware::Bios, Firmware::Uefi] {
        let (mut s, full, _) = two_entry_store(firmware);
        s.set_timeout(7).unwrap();
        let path = dir.path().join(format!("BCD-{firmware}"));
        s.save(&path).unwrap();
        let back = Store::open(&path).unwrap();
        assert_eq!(hivex_dump(&path), dart_dump(back.hive()));
        // The keys bcdedit would show: one per object under Objects.
        let theirs = hivex_dump(&path);
        let objects: Vec<_> = theirs
            .keys
            .iter()
            .filter(|k| k.starts_with("OBJECTS\\") && k.matches('\\').count() == 1)
            .cloned()
            .collect();
        let ours: Vec<_> = back
            .view()
            .objects
            .iter()
            .map(|o| format!("OBJECTS\\{}", o.id.to_uppercase()))
            .collect();
        let mut ours_sorted = ours.clone();
        ours_sorted.sort();
        assert_eq!(objects, ours_sorted);
        // And a loader path for the firmware.
        let want = if firmware == Firmware::Uefi {
            "winload.efi"
        } else {
            "winload.exe"
        };
        let path_el = back.object(full).unwrap();
        assert!(
            matches!(path_el.element(element::PATH), Some(ElementValue::String(p)) if p.ends_with(want)),
            "{path_el:?}"
        );
    }
}

#[test]
fn a_new_store_has_the_objects_of_microsoft_media_and_a_setup_like_entry() {
    let (s, full, basic) = two_entry_store(Firmware::Bios);
    let ids: Vec<String> = s
        .objects()
        .iter()
        .map(|o| names::render_id(&o.id))
        .collect();
    for alias in [
        "{bootmgr}",
        "{memdiag}",
        "{globalsettings}",
        "{dbgsettings}",
        "{emssettings}",
        "{badmemory}",
        "{bootloadersettings}",
        "{hypervisorsettings}",
        "{resumeloadersettings}",
        "{7619dcc8-fafe-11d9-b411-000476eba25f}",
    ] {
        assert!(
            ids.contains(&alias.to_string()),
            "{alias} missing from {ids:?}"
        );
    }
    assert_eq!(s.display_order(), vec![full, basic]);
    assert_eq!(s.default_entry(), Some(basic));
    let e = s.object(full).unwrap();
    assert_eq!(e.kind, object_type::OSLOADER);
    let codes: Vec<u32> = e.elements.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        codes,
        vec![
            0x1100_0001,
            0x1200_0002,
            0x1200_0004,
            0x1200_0005,
            0x1400_0006,
            0x2100_0001,
            0x2200_0002,
            0x2500_00C2,
            0x2600_0010,
            0x2600_0022,
            0x2600_00B0
        ]
    );
    let text = s.to_text();
    assert!(
        text.contains(r"ramdisk=[boot]\sources\full.wim,{7619dcc8-fafe-11d9-b411-000476eba25f}"),
        "{text}"
    );
    assert!(text.contains("identifier              {default}"), "{text}");
    let json = serde_json::to_value(s.view()).unwrap();
    let first = &json["objects"][0];
    assert_eq!(first["id"], "{9dea862c-5cdd-4e70-acc1-f32b344d4795}");
    assert_eq!(first["type"], "0x10100002");
    let timeout = first["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "timeout")
        .unwrap();
    assert_eq!(timeout["code"], "0x25000004");
    assert_eq!(timeout["value"], 30);
}

/// A store shaped like Microsoft's media: a "Windows Setup" entry with the
/// media GUIDs, a pre-sized ramdisk value, an element dart does not know,
/// its own security descriptor, a class name and key flags.
fn microsoft_like_template() -> (Store, Uuid) {
    let mut s = Store::new(Firmware::Bios).unwrap();
    let id = s
        .add_winpe(
            &WinPeEntry::new("Windows Setup", r"\sources\boot.wim"),
            true,
        )
        .unwrap();
    let mut bytes = s.to_bytes();
    let mut hive = Hive::parse(&bytes).unwrap();
    let objects = hive.child(Hive::ROOT, "Objects").unwrap();
    let key = hive.child(objects, &format!("{{{id}}}")).unwrap();
    let sd = vec![
        1, 0, 4, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    hive.security.push(sd);
    let sd_index = hive.security.len() - 1;
    {
        let k = hive.key_mut(key);
        k.security = Some(sd_index);
        k.class = Some(b"s\0e\0t\0u\0p\0".to_vec());
        k.flags |= 0x0008;
        k.timestamp = 0x01d0_1234_5678_9abc;
    }
    let els = hive.child(key, "Elements").unwrap();
    let unknown = hive.add_key(els, "250000FF").unwrap();
    hive.set_value(
        unknown,
        "Element",
        ValueType::BINARY,
        42u64.to_le_bytes().to_vec(),
    );
    let nic = hive.add_key(els, "16000048").unwrap();
    hive.set_value(nic, "Element", ValueType::BINARY, vec![1]);
    // Pre-size the ramdisk value as Microsoft's templates do (ntloader
    // requires 0x28A bytes).
    for code in ["11000001", "21000001"] {
        let e = hive.find(els, &[code]).unwrap();
        let v = hive.key(e).value("Element").unwrap().data.clone();
        let mut padded = v.clone();
        padded.resize(0x28A, 0);
        padded[0x18..0x1C].copy_from_slice(&((0x28A - 16) as u32).to_le_bytes());
        padded[0x3C..0x40].copy_from_slice(&((0x28A - 0x38) as u32).to_le_bytes());
        hive.set_value(e, "Element", ValueType::BINARY, padded);
    }
    bytes = hive.to_bytes();
    (Store::parse(&bytes, "template".as_ref()).unwrap(), id)
}

#[test]
fn a_new_entry_is_a_clone_of_the_template_entry_with_only_its_paths_changed() {
    let (mut s, setup) = microsoft_like_template();
    let before = s.object(setup).unwrap();
    let before_hive = s.hive().clone();
    let id = s
        .add_winpe(&WinPeEntry::new("DaRT basic", r"\sources\basic.wim"), false)
        .unwrap();
    let new = s.object(id).unwrap();
    // Every element of the template is there, with the same value, except
    // the four dart sets.
    let changed = [
        element::DEVICE,
        element::OSDEVICE,
        element::DESCRIPTION,
        element::PATH,
    ];
    for (code, value) in &before.elements {
        if !changed.contains(code) {
            assert_eq!(new.element(*code), Some(value), "element {code:#x}");
        }
    }
    assert_eq!(new.elements.len(), before.elements.len());
    assert_eq!(
        new.element(0x2500_00FF),
        Some(&ElementValue::Integer(42)),
        "the unknown element survives"
    );
    let expect = Device::Ramdisk {
        container: Box::new(Device::Boot),
        path: r"\sources\basic.wim".into(),
        options: Some(names::MEDIA_OPTIONS),
    };
    assert_eq!(
        new.element(element::DEVICE),
        Some(&ElementValue::Device(expect.clone()))
    );
    assert_eq!(
        new.element(element::OSDEVICE),
        Some(&ElementValue::Device(expect))
    );
    // Pre-sized values stay pre-sized; key fields are kept.
    let h = s.hive();
    let key = h
        .find(Hive::ROOT, &["Objects", &format!("{{{id}}}")])
        .unwrap();
    let tkey = h
        .find(Hive::ROOT, &["Objects", &format!("{{{setup}}}")])
        .unwrap();
    let dev = h.find(key, &["Elements", "11000001"]).unwrap();
    assert_eq!(h.key(dev).value("Element").unwrap().data.len(), 0x28A);
    assert_eq!(h.key(key).security, h.key(tkey).security);
    assert_eq!(h.key(key).class, h.key(tkey).class);
    assert_eq!(h.key(key).flags, h.key(tkey).flags);
    assert_eq!(h.key(key).timestamp, h.key(tkey).timestamp);
    // The template entry itself is untouched, key for key.
    let t_before = before_hive
        .find(Hive::ROOT, &["Objects", &format!("{{{setup}}}")])
        .unwrap();
    assert_eq!(
        before_hive
            .walk(t_before)
            .iter()
            .map(|k| before_hive.key(*k).values.clone())
            .collect::<Vec<_>>(),
        h.walk(tkey)
            .iter()
            .map(|k| h.key(*k).values.clone())
            .collect::<Vec<_>>()
    );
    // Printing names the unknown element by its code.
    assert!(s.to_text().contains("custom:250000ff"), "{}", s.to_text());
    // And libhivex reads it all the same.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("BCD");
    s.save(&path).unwrap();
    assert_eq!(
        hivex_dump(&path),
        dart_dump(Store::open(&path).unwrap().hive())
    );
}

#[test]
fn remove_moves_the_default_and_drops_options_nothing_uses() {
    let (mut s, full, basic) = two_entry_store(Firmware::Uefi);
    let mut own = WinPeEntry::new("own sdi", r"\sources\own.wim");
    own.sdi = r"\boot\own.sdi".into();
    let third = s.add_winpe(&own, false).unwrap();
    let opts_of = |s: &Store, id| match s.object(id).unwrap().element(element::DEVICE) {
        Some(ElementValue::Device(Device::Ramdisk { options, .. })) => options.unwrap(),
        other => panic!("{other:?}"),
    };
    let own_opts = opts_of(&s, third);
    assert_ne!(own_opts, names::MEDIA_OPTIONS);
    assert!(s.object(own_opts).is_some());
    s.remove(third).unwrap();
    assert!(s.object(own_opts).is_none(), "unreferenced options removed");
    assert!(
        s.object(names::MEDIA_OPTIONS).is_some(),
        "shared options kept"
    );
    s.remove(basic).unwrap();
    assert_eq!(s.default_entry(), Some(full));
    assert_eq!(s.display_order(), vec![full]);
    s.remove(full).unwrap();
    assert_eq!(s.default_entry(), None);
    assert!(s.display_order().is_empty());
    assert!(
        s.object(names::MEDIA_OPTIONS).is_none(),
        "the last entry's options go with it"
    );
    let err = s.remove(names::BOOTMGR).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BootStore);
}

#[test]
fn refused_edits_change_nothing() {
    let (mut s, full, basic) = two_entry_store(Firmware::Bios);
    let before = s.to_bytes();
    let errors = [
        s.set_display_order(&[full]).unwrap_err(), // leaves out the default
        s.set_display_order(&[full, basic, full]).unwrap_err(),
        s.set_timeout(5000).unwrap_err(),
        s.set_default(names::GLOBALSETTINGS).unwrap_err(),
        s.set_default(names::BOOTMGR).unwrap_err(),
        s.remove(Uuid::from_u128(99)).unwrap_err(),
        s.add_winpe(&WinPeEntry::new("x", "/sources/x.wim"), false)
            .unwrap_err(),
        s.add_winpe(&WinPeEntry::new("x", r"\sources\..\x.wim"), false)
            .unwrap_err(),
        s.add_winpe(&WinPeEntry::new("", r"\sources\x.wim"), false)
            .unwrap_err(),
        s.resolve("{nonsense}").unwrap_err(),
        s.resolve("{00000000-0000-0000-0000-000000000063}")
            .unwrap_err(),
    ];
    assert_eq!(s.to_bytes(), before);
    for e in &errors {
        let m = e.to_string();
        assert!(
            m.contains("nothing was written") || m.contains("left as it was"),
            "{m}"
        );
    }
    assert!(errors[0].to_string().contains("default"), "{}", errors[0]);
    assert!(errors[9].to_string().contains("{nonsense}"));
    assert_eq!(s.resolve("{default}").unwrap(), basic);
    assert_eq!(s.resolve("bootmgr").unwrap(), names::BOOTMGR);
    assert_eq!(s.resolve(&full.to_string()).unwrap(), full);
}

#[test]
fn a_dirty_or_damaged_hive_is_refused_with_the_reason() {
    let (s, _, _) = two_entry_store(Firmware::Bios);
    let good = s.to_bytes();
    let mut dirty = good.clone();
    dirty[4..8].copy_from_slice(&9u32.to_le_bytes());
    let sum = dirty[..508]
        .chunks_exact(4)
        .fold(0u32, |a, c| a ^ u32::from_le_bytes(c.try_into().unwrap()));
    dirty[508..512].copy_from_slice(&sum.to_le_bytes());
    let err = Store::parse(&dirty, "BCD".as_ref()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BootStore);
    assert!(err.to_string().contains("dirty"), "{err}");
    assert!(err.to_string().contains(".LOG1"), "{err}");

    let mut bad_sum = good.clone();
    bad_sum[508] ^= 1;
    assert!(Store::parse(&bad_sum, "BCD".as_ref())
        .unwrap_err()
        .to_string()
        .contains("checksum"));
    for cut in (0..good.len()).step_by(509) {
        let e = Store::parse(&good[..cut], "BCD".as_ref()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BootStore, "cut at {cut}");
    }
    let mut hive = Hive::new("x", 1);
    hive.add_key(Hive::ROOT, "Description").unwrap();
    let e = Store::parse(&hive.to_bytes(), "NTUSER.DAT".as_ref()).unwrap_err();
    assert!(e.to_string().contains("not a BCD store"), "{e}");
}

/// Replaces the first occurrence of `from` in `bytes` by `to` (same length).
fn patch(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("the pattern is in the hive");
    bytes[at..at + to.len()].copy_from_slice(to);
}

fn utf16(units: &[u16]) -> Vec<u8> {
    units.iter().flat_map(|u| u.to_le_bytes()).collect()
}

#[test]
fn two_subkeys_whose_names_differ_only_in_case_are_refused() {
    // One-byte names: "Alpha" and "Zulu1" become "Alpha" and "aLPHA".
    let mut hive = Hive::new("x", 1);
    hive.add_key(Hive::ROOT, "Alpha").unwrap();
    hive.add_key(Hive::ROOT, "Zulu1").unwrap();
    hive.add_key(Hive::ROOT, "Other").unwrap();
    let good = hive.to_bytes();
    assert!(Hive::parse(&good).is_ok());
    let mut twice = good.clone();
    patch(&mut twice, b"Zulu1", b"aLPHA");
    let e = Hive::parse(&twice).unwrap_err().to_string();
    assert!(e.contains("a second subkey called \"aLPHA\""), "{e}");

    // UTF-16 names: upper case beyond ASCII ("\u{e4}1" and "\u{c4}1").
    let mut hive = Hive::new("x", 1);
    hive.add_key(Hive::ROOT, "\u{e4}1").unwrap();
    hive.add_key(Hive::ROOT, "\u{e4}2").unwrap();
    let mut bytes = hive.to_bytes();
    assert!(Hive::parse(&bytes).is_ok());
    patch(&mut bytes, &utf16(&[0xe4, 0x32]), &utf16(&[0xc4, 0x31]));
    let e = Hive::parse(&bytes).unwrap_err().to_string();
    assert!(e.contains("a second subkey"), "{e}");

    // Two different unpaired surrogates read as the same name (each
    // becomes U+FFFD), so they are one name twice.
    let mut hive = Hive::new("x", 1);
    hive.add_key(Hive::ROOT, "\u{3a9}a").unwrap();
    hive.add_key(Hive::ROOT, "\u{3a9}b").unwrap();
    let mut bytes = hive.to_bytes();
    assert!(Hive::parse(&bytes).is_ok());
    patch(&mut bytes, &utf16(&[0x3a9, 0x61]), &utf16(&[0xd800, 0x61]));
    patch(&mut bytes, &utf16(&[0x3a9, 0x62]), &utf16(&[0xdc00, 0x61]));
    let e = Hive::parse(&bytes).unwrap_err().to_string();
    assert!(e.contains("a second subkey"), "{e}");
}

#[test]
fn keys_copy_within_a_hive_and_between_hives_with_every_field() {
    let mut hive = Hive::new("x", 1);
    let a = hive.add_path(Hive::ROOT, &["A", "B"]).unwrap();
    hive.set_value(a, "V", ValueType::DWORD, vec![1, 2, 3, 4]);
    hive.key_mut(a).class = Some(b"cls".to_vec());
    let top = hive.find(Hive::ROOT, &["A"]).unwrap();
    let copy = hive.duplicate_key(top, Hive::ROOT, "C").unwrap();
    let b = hive.find(copy, &["b"]).unwrap();
    assert_eq!(hive.key(b).value("v").unwrap().data, vec![1, 2, 3, 4]);
    assert_eq!(hive.key(b).class.as_deref(), Some(&b"cls"[..]));
    let e = hive.duplicate_key(top, a, "Loop").unwrap_err().to_string();
    assert!(e.contains("below itself"), "{e}");
    assert!(hive.find(a, &["Loop"]).is_none());

    let mut other = Hive::new("y", 2);
    let there = other.copy_key(&hive, top, Hive::ROOT, "A").unwrap();
    let b = other.find(there, &["B"]).unwrap();
    assert_eq!(other.key(b).value("V").unwrap().data, vec![1, 2, 3, 4]);
    let back = Hive::parse(&other.to_bytes()).unwrap();
    assert!(back.find(Hive::ROOT, &["a", "b"]).is_some());
}

#[test]
fn a_store_replaced_on_a_fat_volume_is_old_or_new_after_a_crash_at_any_write() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    std::fs::create_dir_all(media.join("efi/microsoft/boot")).unwrap();
    let (old, _, basic) = two_entry_store(Firmware::Uefi);
    std::fs::write(media.join("efi/microsoft/boot/bcd"), old.to_bytes()).unwrap();
    std::fs::write(media.join("other.txt"), b"kept").unwrap();
    let mut disk = MemoryDevice::new(40 << 20, 512);
    let opts = FatOptions {
        label: "ESP".into(),
        timestamp: Some(1_700_000_000),
    };
    fat::write_volume(
        &mut disk,
        &MediaSet::from_dir(&media).unwrap(),
        &opts,
        &Control::default(),
    )
    .unwrap();
    let base = disk.bytes().to_vec();
    let old_bytes = old.to_bytes();
    let mut new = old.clone();
    new.remove(basic).unwrap();
    let new_bytes = new.to_bytes();

    let mut probe = FaultyDevice::new(MemoryDevice::from_bytes(base.clone(), 512));
    new.save_on_volume(&mut probe, "EFI/Microsoft/Boot/BCD")
        .unwrap();
    let total = probe.operations();
    assert!(total >= 4, "{total} operations");
    let mut outcomes = BTreeMap::new();
    for k in 0..total {
        let mut dev = FaultyDevice::new(MemoryDevice::from_bytes(base.clone(), 512));
        dev.crash_at(Some(k));
        assert!(new
            .save_on_volume(&mut dev, "efi/microsoft/boot/bcd")
            .is_err());
        for image in [dev.image_with_unflushed(), dev.image_flushed_only()] {
            let mut after = MemoryDevice::from_bytes(image, 512);
            let got = fat::read_file(&mut after, "efi/microsoft/boot/bcd").unwrap();
            let which = if got == old_bytes {
                "old"
            } else if got == new_bytes {
                "new"
            } else {
                panic!("crash at {k}: the store is neither old nor new")
            };
            *outcomes.entry(which).or_insert(0) += 1;
            assert_eq!(fat::read_file(&mut after, "other.txt").unwrap(), b"kept");
            Store::open_on_volume(&mut after, "efi/microsoft/boot/bcd").unwrap();
        }
    }
    assert!(
        outcomes.contains_key("old") && outcomes.contains_key("new"),
        "{outcomes:?}"
    );
    let mut done = MemoryDevice::from_bytes(probe.image_flushed_only(), 512);
    assert_eq!(
        fat::read_file(&mut done, "efi/microsoft/boot/bcd").unwrap(),
        new_bytes
    );
}

/// A random hive: keys with values of every size class, names with case
/// and non-ASCII letters, classes, every minor version.
fn arb_hive() -> impl Strategy<Value = Hive> {
    let name = "[a-zA-Z0-9é{}-]{1,12}";
    let value = (
        "[a-zA-Z]{0,6}",
        prop_oneof![Just(1u32), Just(3), Just(4), Just(7), 0u32..20],
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..6),
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(any::<u8>(), 16_000..17_000),
        ],
    );
    let key = (
        name,
        0usize..8,
        proptest::collection::vec(value, 0..4),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 1..10)),
        any::<u64>(),
    );
    (3u32..=6, proptest::collection::vec(key, 0..24)).prop_map(|(minor, keys)| {
        let mut h = Hive::new("ROOT", 7);
        h.header.minor = minor;
        let mut ids = vec![Hive::ROOT];
        for (name, parent, values, class, time) in keys {
            let parent = ids[parent % ids.len()];
            let id = h.add_key(parent, &name).unwrap();
            for (vname, kind, data) in values {
                h.set_value(id, &vname, ValueType(kind), data);
            }
            h.key_mut(id).class = class;
            h.key_mut(id).timestamp = time;
            ids.push(id);
        }
        h
    })
}

/// A key as comparable data: timestamp, class, sorted values.
type KeyData = (u64, Option<Vec<u8>>, Vec<(String, u32, Vec<u8>)>);

/// A hive as comparable data: paths with their fields and values.
fn canonical(h: &Hive) -> BTreeMap<String, KeyData> {
    h.walk(Hive::ROOT)
        .into_iter()
        .map(|k| {
            let key = h.key(k);
            let mut values: Vec<_> = key
                .values
                .iter()
                .map(|v| (v.name.clone(), v.kind.0, v.data.clone()))
                .collect();
            values.sort();
            (h.path(k), (key.timestamp, key.class.clone(), values))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn every_hive_round_trips(h in arb_hive()) {
        let bytes = h.to_bytes();
        let back = Hive::parse(&bytes).unwrap();
        prop_assert_eq!(canonical(&back), canonical(&h));
        prop_assert_eq!(back.header.sequence, h.header.sequence + 1);
        // Written again, it is the same hive byte for byte but for the
        // sequence numbers and checksum.
        let again = back.to_bytes();
        prop_assert_eq!(again.len(), bytes.len());
        let differs = (12..again.len()).find(|&i| !(508..512).contains(&i) && again[i] != bytes[i]);
        prop_assert_eq!(differs, None);
    }

    #[test]
    fn damaged_hives_never_panic(cuts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let (s, _, _) = two_entry_store(Firmware::Bios);
        let mut bytes = s.to_bytes();
        for (i, b) in cuts {
            let at = 4096 + i.index(bytes.len() - 4096);
            bytes[at] = b;
        }
        if let Ok(store) = Store::parse(&bytes, "BCD".as_ref()) {
            let _ = store.to_text();
            let again = Store::parse(&store.to_bytes(), "BCD".as_ref()).unwrap();
            prop_assert_eq!(again.objects().len(), store.objects().len());
        }
    }
}

#[test]
fn libhivex_reads_big_data_lh_lists_and_classes() {
    let mut h = Hive::new("ROOT", 5);
    h.header.minor = 6;
    let k = h.add_path(Hive::ROOT, &["a", "B", "été"]).unwrap();
    h.set_value(
        k,
        "big",
        ValueType::BINARY,
        (0..40_000u32).map(|i| i as u8).collect(),
    );
    h.set_value(k, "", ValueType::DWORD, vec![1, 0, 0, 0]);
    h.key_mut(k).class = Some(b"c\0l\0".to_vec());
    for i in 0..40 {
        h.add_key(Hive::ROOT, &format!("k{i:02}")).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hive");
    std::fs::write(&path, h.to_bytes()).unwrap();
    assert_eq!(
        hivex_dump(&path),
        dart_dump(&Hive::parse(&std::fs::read(&path).unwrap()).unwrap())
    );
}

#[test]
fn saving_keeps_the_store_file_mode_and_save_new_never_replaces() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("BCD");
    let (s, _, _) = two_entry_store(Firmware::Bios);
    s.save_new(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    s.save(&path).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let before = std::fs::read(&path).unwrap();
    let e = Store::new(Firmware::Uefi)
        .unwrap()
        .save_new(&path)
        .unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file is left"
    );
}
