//! What dart puts into stores: the objects of a new store, and WinPE
//! entries, cloned from the store's own WinPE entry when it has one.
//!
//! **Template first.** No open-source tool is known to make a store from
//! nothing that Windows Boot Manager accepts; the ones that work (wimboot,
//! ntloader, go-bcdedit) patch a store Microsoft's tools made. So when a
//! store holds a WinPE entry (an OS loader with `winpe yes` on a ramdisk),
//! a new entry is a copy of that entry's key, every element and key field
//! kept, with only `description`, `device`, `osdevice` (ramdisk values are
//! patched in place when the new path fits, as ntloader does) and the
//! `.exe`/`.efi` suffix of `path` changed. Its `boot.sdi` comes from a
//! device-options object with the same device and path when the store
//! has one, else from a copy of the template's options object.
//!
//! **From nothing** (a store without a WinPE entry), the entry has what the
//! "Windows Setup" entry of Microsoft's media has (public `bcdedit /enum
//! all` listings; see DESIGN.md, 'Stores from nothing'): device and osdevice
//! `ramdisk=[boot]\sources\x.wim,{options}`, path
//! `\windows\system32\boot\winload.exe` (BIOS) or `.efi` (UEFI),
//! description, locale, inherit `{bootloadersettings}`, systemroot
//! `\windows`, detecthal and winpe `Yes`, ems `No`, and bootmenupolicy
//! `Legacy`: with the `Standard` policy the boot manager leaves the menu to
//! the Windows it starts, which WinPE does not draw, so a medium with
//! several images would show no menu.

use uuid::Uuid;

use super::element::ElementValue;
use super::names::{self, element as el, object_type};
use super::store::{
    Object, Store, StoreProblem, WinPeEntry, ACCESS_BITS, MEDIA_KEY_NAME, ROOT_NAME,
};
use super::Device;
use crate::error::Result;
use crate::formats::regf::{utf16z, Hive, HiveProblem, ValueType};
use crate::model::media::Firmware;

/// A hive with the keys every store has and no objects.
pub(crate) fn empty_hive(timestamp: u64) -> Hive {
    let mut hive = Hive::new(ROOT_NAME, timestamp);
    hive.key_mut(Hive::ROOT).access = ACCESS_BITS;
    // Two fixed names under a fresh root: these cannot fail.
    if let Ok(desc) = hive.add_key(Hive::ROOT, "Description") {
        hive.set_value(desc, "KeyName", ValueType::SZ, utf16z(MEDIA_KEY_NAME));
    }
    let _ = hive.add_key(Hive::ROOT, "Objects");
    hive
}

fn list(ids: &[Uuid]) -> ElementValue {
    ElementValue::ObjectList(ids.to_vec())
}

fn text(s: &str) -> ElementValue {
    ElementValue::String(s.to_string())
}

/// An object's elements, by code.
type Elements = Vec<(u32, ElementValue)>;

/// The objects of a Microsoft media store, without boot entries.
pub(crate) fn media_objects(store: &mut Store, firmware: Firmware) -> Result<(), StoreProblem> {
    let inherit_any = object_type::INHERIT_ANY;
    let inherit_loader = object_type::INHERIT_OSLOADER;
    let bad_memory = Uuid::from_u128(0x5189b25c_5558_4bf2_bca4_289b11bd29e2);
    let resume_settings = Uuid::from_u128(0x1afa9c49_16ab_4a5c_901b_212802da9460);
    let memtest = match firmware {
        Firmware::Uefi => r"\efi\microsoft\boot\memtest.efi",
        _ => r"\boot\memtest.exe",
    };
    let objects: Vec<(Uuid, u32, Elements)> = vec![
        (
            names::BOOTMGR,
            object_type::BOOTMGR,
            vec![
                (el::DESCRIPTION, text("Windows Boot Manager")),
                (el::LOCALE, text("en-US")),
                (el::INHERIT, list(&[names::GLOBALSETTINGS])),
                (el::DISPLAYORDER, list(&[])),
                (el::TOOLSDISPLAYORDER, list(&[names::MEMDIAG])),
                (el::TIMEOUT, ElementValue::Integer(30)),
            ],
        ),
        (
            names::MEMDIAG,
            object_type::MEMDIAG,
            vec![
                (el::DEVICE, ElementValue::Device(Device::Boot)),
                (el::PATH, text(memtest)),
                (el::DESCRIPTION, text("Windows Memory Diagnostic")),
                (el::LOCALE, text("en-US")),
                (el::INHERIT, list(&[names::GLOBALSETTINGS])),
            ],
        ),
        (
            names::GLOBALSETTINGS,
            inherit_any,
            vec![(
                el::INHERIT,
                list(&[names::DBGSETTINGS, names::EMSSETTINGS, bad_memory]),
            )],
        ),
        (
            names::DBGSETTINGS,
            inherit_any,
            vec![
                (el::DEBUGTYPE, ElementValue::Integer(0)),
                (el::DEBUGPORT, ElementValue::Integer(1)),
                (el::BAUDRATE, ElementValue::Integer(115_200)),
            ],
        ),
        (
            names::EMSSETTINGS,
            inherit_any,
            vec![(el::BOOTEMS, ElementValue::Boolean(false))],
        ),
        (bad_memory, inherit_any, vec![]),
        (
            names::BOOTLOADERSETTINGS,
            inherit_loader,
            vec![(
                el::INHERIT,
                list(&[names::GLOBALSETTINGS, names::HYPERVISORSETTINGS]),
            )],
        ),
        (
            names::HYPERVISORSETTINGS,
            inherit_loader,
            vec![
                (el::HYPERVISORDEBUGTYPE, ElementValue::Integer(0)),
                (el::HYPERVISORDEBUGPORT, ElementValue::Integer(1)),
                (el::HYPERVISORBAUDRATE, ElementValue::Integer(115_200)),
            ],
        ),
        (
            resume_settings,
            0x2020_0004,
            vec![(el::INHERIT, list(&[names::GLOBALSETTINGS]))],
        ),
        (
            names::MEDIA_OPTIONS,
            object_type::DEVICE,
            vec![
                (el::RAMDISKSDIDEVICE, ElementValue::Device(Device::Boot)),
                (el::RAMDISKSDIPATH, text(r"\boot\boot.sdi")),
            ],
        ),
    ];
    for (id, kind, elements) in objects {
        store.add_object(&id, kind).map_err(|e| refused(&e))?;
        for (code, value) in elements {
            store
                .set_element(&id, code, &value)
                .map_err(|e| refused(&e))?;
        }
    }
    Ok(())
}

fn refused(e: &crate::Error) -> StoreProblem {
    StoreProblem::Refused(e.to_string())
}

/// The firmware the store's entries are for, from their loader paths.
pub(crate) fn firmware_of(store: &Store) -> Option<Firmware> {
    let loaders = store.objects_of_kind(object_type::OSLOADER);
    let testers = store.objects_of_kind(object_type::MEMDIAG);
    for o in loaders.iter().chain(&testers) {
        if let Some(ElementValue::String(p)) = o.element(el::PATH) {
            let p = p.to_ascii_lowercase();
            if p.ends_with(".efi") {
                return Some(Firmware::Uefi);
            }
            if p.ends_with(".exe") {
                return Some(Firmware::Bios);
            }
        }
    }
    None
}

/// The store's WinPE entry to clone: the default if it is one, else the
/// first in the menu, else the first in the store.
fn winpe_template(store: &Store) -> Option<Object> {
    let is_winpe = |o: &Object| {
        o.kind == object_type::OSLOADER
            && o.element(el::WINPE) == Some(&ElementValue::Boolean(true))
            && matches!(
                o.element(el::DEVICE),
                Some(ElementValue::Device(Device::Ramdisk { .. }))
            )
    };
    let by_id = |id: Uuid| store.object(id).filter(is_winpe);
    store
        .default_entry()
        .and_then(by_id)
        .or_else(|| store.display_order().into_iter().find_map(by_id))
        .or_else(|| {
            store
                .objects_of_kind(object_type::OSLOADER)
                .into_iter()
                .find(is_winpe)
        })
}

fn loader_path(firmware: Firmware) -> &'static str {
    match firmware {
        Firmware::Uefi => r"\windows\system32\boot\winload.efi",
        _ => r"\windows\system32\boot\winload.exe",
    }
}

/// `path` with its `.exe`/`.efi` suffix set for `firmware`.
fn with_suffix(path: &str, firmware: Firmware) -> String {
    let lower = path.to_ascii_lowercase();
    let want = if firmware == Firmware::Uefi {
        "efi"
    } else {
        "exe"
    };
    if lower.ends_with(".exe") || lower.ends_with(".efi") {
        format!("{}{want}", &path[..path.len() - 3])
    } else {
        loader_path(firmware).to_string()
    }
}

/// Finds or makes the device-options object for `sdi` on `device`.
/// A new object gets `new_id`.
fn options_for(
    store: &mut Store,
    entry: &WinPeEntry,
    template: Option<Uuid>,
    new_id: Uuid,
) -> Result<Uuid> {
    // Options objects with this boot.sdi path (one element decoded per
    // object), then the device compared.
    let device = ElementValue::Device(entry.device.clone());
    let candidates = store.ids_where_element(
        object_type::DEVICE,
        el::RAMDISKSDIPATH,
        |v| matches!(v, ElementValue::String(p) if p.eq_ignore_ascii_case(&entry.sdi)),
    );
    let on_device = |id: &Uuid| store.element(id, el::RAMDISKSDIDEVICE).as_ref() == Some(&device);
    let preferred = template.filter(|t| candidates.contains(t) && on_device(t));
    let found = preferred.or_else(|| candidates.iter().copied().find(|id| on_device(id)));
    if let Some(id) = found {
        return Ok(id);
    }
    let id = new_id;
    match template.and_then(|t| store.object_key(&t)) {
        Some(key) => {
            let objects_key = store.objects_key();
            let objects_key = objects_key.ok_or_else(|| store.problem(StoreProblem::NotAStore))?;
            store
                .hive
                .duplicate_key(key, objects_key, &format!("{{{id}}}"))
                .map_err(|p| hive_err(store, p))?;
        }
        None => {
            store.add_object(&id, object_type::DEVICE)?;
        }
    }
    store.set_element(
        &id,
        el::RAMDISKSDIDEVICE,
        &ElementValue::Device(entry.device.clone()),
    )?;
    store.set_element(&id, el::RAMDISKSDIPATH, &text(&entry.sdi))?;
    Ok(id)
}

fn hive_err(store: &Store, p: HiveProblem) -> crate::Error {
    store.problem(StoreProblem::Hive(p))
}

/// Adds the entry (checked by [`Store::add_winpe`]); returns its id.
pub(crate) fn add_winpe(store: &mut Store, entry: &WinPeEntry, firmware: Firmware) -> Result<Uuid> {
    let template = winpe_template(store);
    let template_options = template.as_ref().and_then(|t| match t.element(el::DEVICE) {
        Some(ElementValue::Device(Device::Ramdisk { options, .. })) => *options,
        _ => None,
    });
    let id = entry.id.unwrap_or_else(Uuid::new_v4);
    // An entry with a given id gets options with an id derived from it,
    // so equal requests give equal stores.
    let options_id = match entry.id {
        Some(id) => super::derived_id(&["dart ramdisk options", &id.to_string()]),
        None => Uuid::new_v4(),
    };
    let options = options_for(store, entry, template_options, options_id)?;
    let ramdisk = Device::Ramdisk {
        container: Box::new(entry.device.clone()),
        path: entry.wim.clone(),
        options: Some(options),
    };
    if store.object_key(&id).is_some() {
        return Err(store.problem(StoreProblem::Refused(format!(
            "it already holds an object {}",
            names::render_id(&id)
        ))));
    }
    match template {
        Some(t) => {
            let key = store.object_key(&t.id).ok_or_else(|| {
                store.problem(StoreProblem::NoSuchObject(names::render_id(&t.id)))
            })?;
            let objects = store
                .objects_key()
                .ok_or_else(|| store.problem(StoreProblem::NotAStore))?;
            store
                .hive
                .duplicate_key(key, objects, &format!("{{{id}}}"))
                .map_err(|p| hive_err(store, p))?;
            for code in [el::DEVICE, el::OSDEVICE] {
                let bytes = match store.raw_element(&t.id, code) {
                    Some(old) => ramdisk.encode_like(&old),
                    None => ramdisk.encode(),
                };
                store.set_raw_element(&id, code, ValueType::BINARY, bytes)?;
            }
            let path = match t.element(el::PATH) {
                Some(ElementValue::String(p)) => with_suffix(p, firmware),
                _ => loader_path(firmware).to_string(),
            };
            store.set_element(&id, el::PATH, &text(&path))?;
            store.set_element(&id, el::DESCRIPTION, &text(&entry.description))?;
        }
        None => {
            store.add_object(&id, object_type::OSLOADER)?;
            let elements = [
                (el::DEVICE, ElementValue::Device(ramdisk.clone())),
                (el::PATH, text(loader_path(firmware))),
                (el::DESCRIPTION, text(&entry.description)),
                (el::LOCALE, text(&entry.locale)),
                (el::INHERIT, list(&[names::BOOTLOADERSETTINGS])),
                (el::OSDEVICE, ElementValue::Device(ramdisk)),
                (el::SYSTEMROOT, text(r"\windows")),
                (el::BOOTMENUPOLICY, ElementValue::Integer(0)),
                (el::DETECTHAL, ElementValue::Boolean(true)),
                (el::WINPE, ElementValue::Boolean(true)),
                (el::EMS, ElementValue::Boolean(false)),
            ];
            for (code, value) in elements {
                store.set_element(&id, code, &value)?;
            }
        }
    }
    Ok(id)
}
