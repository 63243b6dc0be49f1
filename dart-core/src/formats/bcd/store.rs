//! [`Store`]: a BCD store held in memory, with the edits dart makes.

use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::element::ElementValue;
use super::names::{self, element};
use super::{template, Device};
use crate::error::{Error, Result};
use crate::formats::regf::{Hive, HiveProblem, KeyId, ValueType};
use crate::model::media::Firmware;

/// The largest store file dart reads (real stores are tens of KiB).
pub(crate) const MAX_STORE: u64 = 64 << 20;
/// The name Windows gives the root key of a store it creates.
pub(crate) const ROOT_NAME: &str = "NewStoreRoot";
/// `KeyName` of a store that is not the running system's (Windows mounts
/// the system store as `BCD00000000` and others from `BCD00000001` on;
/// a Microsoft media store read by grub4dos' `bcd.h` notes holds this).
pub(crate) const MEDIA_KEY_NAME: &str = "BCD00000001";
/// Access bits Windows 8 and later leave on every key of a store.
pub(crate) const ACCESS_BITS: u32 = 2;

/// Why a store cannot be read or edited as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreProblem {
    /// The hive is damaged or dirty.
    Hive(HiveProblem),
    /// The hive has no `Objects` key: it is not a BCD store.
    NotAStore,
    /// An object id that the store does not hold.
    NoSuchObject(String),
    /// An edit the store's contents do not allow.
    Refused(String),
}

impl std::fmt::Display for StoreProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreProblem::Hive(p) => write!(f, "it is not a usable registry hive: {p}"),
            StoreProblem::NotAStore => {
                f.write_str("it is a registry hive without an Objects key, not a BCD store")
            }
            StoreProblem::NoSuchObject(id) => write!(f, "it holds no object {id}"),
            StoreProblem::Refused(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for StoreProblem {}

/// One object, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The object's GUID.
    pub id: Uuid,
    /// The object type (`Description\Type`).
    pub kind: u32,
    /// The description element, when it has one.
    pub description: Option<String>,
    /// The elements, by code, in stored order.
    pub elements: Vec<(u32, ElementValue)>,
}

impl Object {
    /// The element `code`.
    pub fn element(&self, code: u32) -> Option<&ElementValue> {
        self.elements
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v)
    }
}

/// What [`Store::add_winpe`] adds: a WinPE image booted from a RAM disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WinPeEntry {
    /// The menu text.
    pub description: String,
    /// The WIM's path on its device (`\sources\boot.wim`).
    pub wim: String,
    /// The path of `boot.sdi` (`\boot\boot.sdi`).
    pub sdi: String,
    /// The device holding the WIM and `boot.sdi` ([`Device::Boot`] for
    /// media, a partition for a recovery partition).
    pub device: Device,
    /// The firmware the store is for; `None`: as the store's other entries.
    pub firmware: Option<Firmware>,
    /// The locale (`en-US`).
    pub locale: String,
    /// The new object's id; `None`: a random one.
    pub id: Option<Uuid>,
}

impl WinPeEntry {
    /// An entry for `wim` on the boot device, with `\boot\boot.sdi`.
    pub fn new(description: &str, wim: &str) -> WinPeEntry {
        WinPeEntry {
            description: description.to_string(),
            wim: wim.to_string(),
            sdi: r"\boot\boot.sdi".into(),
            device: Device::Boot,
            firmware: None,
            locale: "en-US".into(),
            id: None,
        }
    }
}

/// Checks a path on a boot device: starts with `\`, no `/`, no `..`.
pub(crate) fn device_path(field: &'static str, path: &str) -> Result<String> {
    let p = path.trim();
    let ok = p.starts_with('\\')
        && p.len() > 1
        && !p.contains('/')
        && !p.split('\\').any(|c| c == "..")
        && !p.chars().any(char::is_control);
    if ok {
        Ok(p.to_string())
    } else {
        Err(Error::invalid(
            field,
            path,
            r"expected a path on the boot device such as \sources\boot.wim (backslashes, starting with \, no ..)",
        ))
    }
}

/// A BCD store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub(crate) hive: Hive,
    /// Where it came from, for messages.
    pub(crate) origin: PathBuf,
}

impl Store {
    /// A new store with the objects Windows media stores carry (boot
    /// manager, memory tester, the inheritable settings, the media's
    /// device options) and no boot entries yet.
    pub fn new(firmware: Firmware) -> Result<Store> {
        Store::new_at(firmware, filetime_now())
    }

    /// [`Store::new`] with every key stamped `timestamp` (FILETIME), for
    /// reproducible output.
    pub fn new_at(firmware: Firmware, timestamp: u64) -> Result<Store> {
        if firmware == Firmware::Both {
            return Err(Error::invalid(
                "firmware",
                "both",
                "a store is for one firmware: bios (\\boot\\bcd) or uefi (\\efi\\microsoft\\boot\\bcd)",
            ));
        }
        let mut store = Store {
            hive: template::empty_hive(timestamp),
            origin: PathBuf::from("<new store>"),
        };
        template::media_objects(&mut store, firmware).map_err(|p| store.problem(p))?;
        Ok(store)
    }

    /// Reads a store from bytes; `origin` names it in messages.
    pub fn parse(bytes: &[u8], origin: &Path) -> Result<Store> {
        let bad = |problem| Error::BadStore {
            path: origin.to_path_buf(),
            problem,
        };
        let hive = Hive::parse(bytes).map_err(|p| bad(StoreProblem::Hive(p)))?;
        if hive.child(Hive::ROOT, "Objects").is_none() {
            return Err(bad(StoreProblem::NotAStore));
        }
        Ok(Store {
            hive,
            origin: origin.to_path_buf(),
        })
    }

    /// The hive under the store.
    pub fn hive(&self) -> &Hive {
        &self.hive
    }

    pub(crate) fn problem(&self, problem: StoreProblem) -> Error {
        Error::BadStore {
            path: self.origin.clone(),
            problem,
        }
    }

    fn hive_problem(&self, problem: HiveProblem) -> Error {
        self.problem(StoreProblem::Hive(problem))
    }

    pub(crate) fn objects_key(&self) -> Option<KeyId> {
        self.hive.child(Hive::ROOT, "Objects")
    }

    pub(crate) fn object_key(&self, id: &Uuid) -> Option<KeyId> {
        let objects = self.objects_key()?;
        let mut name = Uuid::encode_buffer();
        self.hive
            .child(objects, id.braced().encode_lower(&mut name))
    }

    /// Every object, in stored order; keys whose names are not `{guid}`
    /// are skipped.
    pub fn objects(&self) -> Vec<Object> {
        self.objects_where(|_| true)
    }

    /// The objects of type `kind`, in stored order, decoding only those.
    pub(crate) fn objects_of_kind(&self, kind: u32) -> Vec<Object> {
        self.objects_where(|k| k == kind)
    }

    fn objects_where(&self, wanted: impl Fn(u32) -> bool) -> Vec<Object> {
        let Some(objects) = self.objects_key() else {
            return Vec::new();
        };
        self.hive
            .children(objects)
            .iter()
            .filter_map(|&k| {
                if !wanted(self.kind_of(k)) {
                    return None;
                }
                let name = &self.hive.key(k).name;
                let id =
                    Uuid::parse_str(name.trim_start_matches('{').trim_end_matches('}')).ok()?;
                Some(self.decode(id, k))
            })
            .collect()
    }

    /// The objects of type `kind` (any type: `None`) whose element `code`
    /// passes `test`, in stored order, decoding only that element of each.
    pub(crate) fn ids_where_element(
        &self,
        kind: impl Into<Option<u32>>,
        code: u32,
        test: impl Fn(&ElementValue) -> bool,
    ) -> Vec<Uuid> {
        let kind = kind.into();
        let Some(objects) = self.objects_key() else {
            return Vec::new();
        };
        let name = format!("{code:08X}");
        self.hive
            .children(objects)
            .iter()
            .filter_map(|&k| {
                if kind.is_some_and(|kind| self.kind_of(k) != kind) {
                    return None;
                }
                let e = self.hive.find(k, &["Elements", &name])?;
                let v = self.hive.key(e).value("Element")?;
                if !test(&ElementValue::decode(code, v)) {
                    return None;
                }
                let name = &self.hive.key(k).name;
                Uuid::parse_str(name.trim_start_matches('{').trim_end_matches('}')).ok()
            })
            .collect()
    }

    /// Whether some object names `target` in an element, as
    /// [`value_references`] judges; only elements whose format can name an
    /// object (devices, objects, object lists) are decoded.
    pub(crate) fn is_referenced(&self, target: &Uuid) -> bool {
        let Some(objects) = self.objects_key() else {
            return false;
        };
        let h = &self.hive;
        h.children(objects).iter().any(|&k| {
            let Some(els) = h.child(k, "Elements") else {
                return false;
            };
            h.children(els).iter().any(|&e| {
                let Ok(code) = u32::from_str_radix(&h.key(e).name, 16) else {
                    return false;
                };
                if !matches!(super::element::format_of(code), 1 | 3 | 4) {
                    return false;
                }
                h.key(e)
                    .value("Element")
                    .is_some_and(|v| value_references(&ElementValue::decode(code, v), target))
            })
        })
    }

    /// The type of the object `id` (`Description\Type`), if it exists.
    pub(crate) fn kind_of_object(&self, id: &Uuid) -> Option<u32> {
        self.object_key(id).map(|k| self.kind_of(k))
    }

    /// The type (`Description\Type`) of the object at `key`; 0 when it
    /// has none.
    fn kind_of(&self, key: KeyId) -> u32 {
        let h = &self.hive;
        h.find(key, &["Description"])
            .and_then(|d| h.key(d).value("Type"))
            .filter(|v| v.data.len() == 4)
            .map_or(0, |v| {
                u32::from_le_bytes([v.data[0], v.data[1], v.data[2], v.data[3]])
            })
    }

    /// The object `id`.
    pub fn object(&self, id: Uuid) -> Option<Object> {
        self.object_key(&id).map(|k| self.decode(id, k))
    }

    pub(crate) fn decode(&self, id: Uuid, key: KeyId) -> Object {
        let h = &self.hive;
        let kind = self.kind_of(key);
        let mut elements = Vec::new();
        if let Some(els) = h.child(key, "Elements") {
            for &e in h.children(els) {
                let Ok(code) = u32::from_str_radix(&h.key(e).name, 16) else {
                    continue;
                };
                if let Some(v) = h.key(e).value("Element") {
                    elements.push((code, ElementValue::decode(code, v)));
                }
            }
        }
        elements.sort_by_key(|(c, _)| *c);
        let description = elements.iter().find_map(|(c, v)| match (c, v) {
            (&element::DESCRIPTION, ElementValue::String(s)) => Some(s.clone()),
            _ => None,
        });
        Object {
            id,
            kind,
            description,
            elements,
        }
    }

    /// Element `code` of object `id`, decoding only that element.
    pub(crate) fn element(&self, id: &Uuid, code: u32) -> Option<ElementValue> {
        let k = self.object_key(id)?;
        let e = self.hive.find(k, &["Elements", &format!("{code:08X}")])?;
        self.hive
            .key(e)
            .value("Element")
            .map(|v| ElementValue::decode(code, v))
    }

    /// The raw value of element `code` of object `id`.
    pub(crate) fn raw_element(&self, id: &Uuid, code: u32) -> Option<Vec<u8>> {
        let k = self.object_key(id)?;
        let e = self.hive.find(k, &["Elements", &format!("{code:08X}")])?;
        self.hive.key(e).value("Element").map(|v| v.data.clone())
    }

    /// Sets element `code` of object `id`.
    pub(crate) fn set_element(&mut self, id: &Uuid, code: u32, value: &ElementValue) -> Result<()> {
        let (kind, data) = value.encode();
        self.set_raw_element(id, code, kind, data)
    }

    pub(crate) fn set_raw_element(
        &mut self,
        id: &Uuid,
        code: u32,
        kind: ValueType,
        data: Vec<u8>,
    ) -> Result<()> {
        let key = self
            .object_key(id)
            .ok_or_else(|| self.problem(StoreProblem::NoSuchObject(names::render_id(id))))?;
        let e = self
            .hive
            .add_path(key, &["Elements", &format!("{code:08X}")])
            .map_err(|p| self.hive_problem(p))?;
        self.hive.set_value(e, "Element", kind, data);
        Ok(())
    }

    /// Removes element `code` of object `id` (nothing when absent).
    pub(crate) fn remove_element(&mut self, id: &Uuid, code: u32) {
        if let Some(k) = self.object_key(id) {
            if let Some(e) = self.hive.find(k, &["Elements", &format!("{code:08X}")]) {
                self.hive.remove_key(e);
            }
        }
    }

    /// Adds an empty object of type `kind`.
    pub(crate) fn add_object(&mut self, id: &Uuid, kind: u32) -> Result<KeyId> {
        let objects = self
            .hive
            .add_key(Hive::ROOT, "Objects")
            .map_err(|p| self.hive_problem(p))?;
        if self.object_key(id).is_some() {
            return Err(self.problem(StoreProblem::Refused(format!(
                "it already holds an object {}",
                names::render_id(id)
            ))));
        }
        let key = self
            .hive
            .add_key(objects, &format!("{{{id}}}"))
            .map_err(|p| self.hive_problem(p))?;
        let desc = self
            .hive
            .add_key(key, "Description")
            .map_err(|p| self.hive_problem(p))?;
        self.hive
            .set_value(desc, "Type", ValueType::DWORD, kind.to_le_bytes().to_vec());
        self.hive
            .add_key(key, "Elements")
            .map_err(|p| self.hive_problem(p))?;
        Ok(key)
    }

    /// Creates an empty object `id` of type `kind` (bcdedit `/create`),
    /// refusing an id the store already holds.
    pub fn create_object(&mut self, id: Uuid, kind: u32) -> Result<()> {
        self.add_object(&id, kind).map(|_| ())
    }

    /// Removes element `code` of object `id` (nothing happens when it has
    /// none).
    pub fn delete_element_value(&mut self, id: Uuid, code: u32) -> Result<()> {
        if self.object_key(&id).is_none() {
            return Err(self.problem(StoreProblem::NoSuchObject(names::render_id(&id))));
        }
        self.remove_element(&id, code);
        Ok(())
    }

    /// Sets element `code` of object `id` to `value` (the element must have
    /// the format `value` has).
    pub fn set_element_value(&mut self, id: Uuid, code: u32, value: &ElementValue) -> Result<()> {
        if self.object_key(&id).is_none() {
            return Err(self.problem(StoreProblem::NoSuchObject(names::render_id(&id))));
        }
        self.set_element(&id, code, value)
    }
}

/// The current time as a FILETIME.
pub(crate) fn filetime_now() -> u64 {
    const UNIX_TO_1601: u64 = 11_644_473_600;
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (since.as_secs() + UNIX_TO_1601) * 10_000_000 + u64::from(since.subsec_nanos() / 100)
}

/// Whether an element value names `target`: as an object, in an object
/// list, as a RAM disk's options, or in the first 16 bytes of a device this
/// crate does not model.
pub(crate) fn value_references(value: &ElementValue, target: &Uuid) -> bool {
    match value {
        ElementValue::Object(u) => u == target,
        ElementValue::ObjectList(l) => l.contains(target),
        ElementValue::Device(Device::Ramdisk { options, .. }) => options.as_ref() == Some(target),
        ElementValue::Device(Device::Other(raw) | Device::Locate(raw)) => {
            raw.len() >= 16 && raw[..16] == target.to_bytes_le()
        }
        _ => false,
    }
}
