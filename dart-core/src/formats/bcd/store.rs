//! [`Store`]: a BCD store held in memory, with the edits dart makes.

use std::fs::File;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::element::ElementValue;
use super::names::{self, element, object_type};
use super::{template, Device};
use crate::disk::partial::PartialFile;
use crate::disk::BlockDevice;
use crate::error::{Error, Result};
use crate::formats::fat::{put_files, read_file, FatOptions};
use crate::formats::regf::{Hive, HiveProblem, KeyId, ValueType};
use crate::model::media::Firmware;
use crate::model::media::MediaSet;
use crate::progress::Control;

/// The largest store file dart reads (real stores are tens of KiB).
const MAX_STORE: u64 = 64 << 20;
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
fn device_path(field: &'static str, path: &str) -> Result<String> {
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

    /// Reads the store file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                what: "BCD store",
                path: path.to_path_buf(),
            },
            _ => Error::read(path, e),
        })?;
        if !meta.is_file() || meta.len() > MAX_STORE {
            return Err(Error::invalid(
                "BCD store",
                path.display(),
                format!("expected a regular file of at most {MAX_STORE} bytes"),
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
        Store::parse(&bytes, path)
    }

    /// The store as a hive file (the next generation of the one read).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.hive.to_bytes()
    }

    /// Writes the store to `path`: a temporary file beside it, synced,
    /// then renamed over the old store, whose permissions it keeps. A
    /// failure leaves the old file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let partial = self.write_beside(path)?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(partial.path(), meta.permissions())
                .map_err(|e| self.io("keeping the permissions of", path, e))?;
        }
        partial.commit()
    }

    /// Writes the store to `path`, which must not exist: the new file
    /// appears complete or not at all, and a file that appears at `path`
    /// meanwhile is never replaced.
    pub fn save_new(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let partial = self.write_beside(path)?;
        File::open(partial.path())
            .and_then(|f| f.sync_all())
            .map_err(|e| self.io("syncing the new store for", path, e))?;
        // link(2) fails when the name exists, unlike rename(2).
        std::fs::hard_link(partial.path(), path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::invalid(
                "BCD store",
                path.display(),
                "it already exists and was left as it was",
            ),
            _ => self.io("creating", path, e),
        })?;
        Ok(())
    }

    fn write_beside(&self, path: &Path) -> Result<PartialFile> {
        let partial = PartialFile::beside(path)?;
        std::fs::write(partial.path(), self.to_bytes())
            .map_err(|e| self.io("writing the new store beside", path, e))?;
        Ok(partial)
    }

    fn io(&self, action: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
            untouched: "the old store (if any) was left as it was",
        }
    }

    /// Writes the store as the file `path` (`efi/microsoft/boot/bcd`) of
    /// the FAT32 volume on `dev`, crash-safely: the new bytes go to free
    /// clusters and one directory-entry write switches the file over
    /// ([`put_files`](crate::formats::fat::put_files)), so a crash leaves
    /// the old store or the new one. Every other file is kept.
    pub fn save_on_volume(&self, dev: &mut dyn BlockDevice, path: &str) -> Result<()> {
        let rel = path.replace('\\', "/");
        let rel = rel.trim_start_matches('/');
        if rel.is_empty()
            || rel
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(Error::invalid(
                "store path on the volume",
                path,
                "expected a path such as efi/microsoft/boot/bcd",
            ));
        }
        let staging = tempfile::tempdir().map_err(|e| Error::Io {
            action: "creating a staging directory for",
            path: PathBuf::from(rel),
            source: e,
            untouched: "the volume was not written",
        })?;
        let file = staging.path().join(rel);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::write(&file, e))?;
        }
        std::fs::write(&file, self.to_bytes()).map_err(|e| Error::write(&file, e))?;
        let media = MediaSet::from_dir(staging.path())?;
        put_files(dev, &media, &FatOptions::default(), &Control::default())?;
        Ok(())
    }

    /// Reads the store in the file `path` of the FAT32 volume on `dev`.
    pub fn open_on_volume(dev: &mut dyn BlockDevice, path: &str) -> Result<Store> {
        let bytes = read_file(dev, path)?;
        Store::parse(&bytes, &dev.name().join(path.replace('\\', "/")))
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
        self.hive.child(objects, &format!("{{{id}}}"))
    }

    /// Every object, in stored order; keys whose names are not `{guid}`
    /// are skipped.
    pub fn objects(&self) -> Vec<Object> {
        let Some(objects) = self.objects_key() else {
            return Vec::new();
        };
        self.hive
            .children(objects)
            .iter()
            .filter_map(|&k| {
                let name = &self.hive.key(k).name;
                let id =
                    Uuid::parse_str(name.trim_start_matches('{').trim_end_matches('}')).ok()?;
                Some(self.decode(id, k))
            })
            .collect()
    }

    /// The object `id`.
    pub fn object(&self, id: Uuid) -> Option<Object> {
        self.object_key(&id).map(|k| self.decode(id, k))
    }

    fn decode(&self, id: Uuid, key: KeyId) -> Object {
        let h = &self.hive;
        let kind = h
            .find(key, &["Description"])
            .and_then(|d| h.key(d).value("Type"))
            .filter(|v| v.data.len() == 4)
            .map_or(0, |v| {
                u32::from_le_bytes([v.data[0], v.data[1], v.data[2], v.data[3]])
            });
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

    /// Sets element `code` of object `id` to `value` (the element must have
    /// the format `value` has).
    pub fn set_element_value(&mut self, id: Uuid, code: u32, value: &ElementValue) -> Result<()> {
        if self.object_key(&id).is_none() {
            return Err(self.problem(StoreProblem::NoSuchObject(names::render_id(&id))));
        }
        self.set_element(&id, code, value)
    }

    /// The boot manager's default entry.
    pub fn default_entry(&self) -> Option<Uuid> {
        match self.object(names::BOOTMGR)?.element(element::DEFAULT)? {
            ElementValue::Object(u) => Some(*u),
            _ => None,
        }
    }

    /// The boot manager's menu, in order.
    pub fn display_order(&self) -> Vec<Uuid> {
        self.bootmgr_list(element::DISPLAYORDER)
    }

    fn bootmgr_list(&self, code: u32) -> Vec<Uuid> {
        match self
            .object(names::BOOTMGR)
            .and_then(|o| o.element(code).cloned())
        {
            Some(ElementValue::ObjectList(l)) => l,
            _ => Vec::new(),
        }
    }

    /// The boot manager's timeout in seconds.
    pub fn timeout(&self) -> Option<u64> {
        match self.object(names::BOOTMGR)?.element(element::TIMEOUT)? {
            ElementValue::Integer(n) => Some(*n),
            _ => None,
        }
    }

    fn require_bootmgr(&self) -> Result<()> {
        if self.object_key(&names::BOOTMGR).is_none() {
            return Err(self.problem(StoreProblem::Refused(
                "it has no {bootmgr} object to hold a menu".into(),
            )));
        }
        Ok(())
    }

    /// Sets the menu timeout (seconds, at most 999 as bcdedit allows).
    pub fn set_timeout(&mut self, seconds: u64) -> Result<()> {
        if seconds > 999 {
            return Err(Error::invalid(
                "timeout",
                seconds,
                "expected 0 to 999 seconds",
            ));
        }
        self.require_bootmgr()?;
        self.set_element(
            &names::BOOTMGR,
            element::TIMEOUT,
            &ElementValue::Integer(seconds),
        )
    }

    fn require_entry(&self, id: &Uuid) -> Result<()> {
        match self.object(*id) {
            Some(o)
                if o.kind >> 28 == 1
                    && o.kind != object_type::BOOTMGR
                    && o.kind != object_type::FWBOOTMGR =>
            {
                Ok(())
            }
            Some(o) => Err(self.problem(StoreProblem::Refused(format!(
                "{} is a {} object, not a boot entry",
                names::render_id(id),
                names::object_title(o.kind)
            )))),
            None => Err(self.problem(StoreProblem::NoSuchObject(names::render_id(id)))),
        }
    }

    /// Makes `id` the default entry (and puts it first in the menu when
    /// the menu lacks it).
    pub fn set_default(&mut self, id: Uuid) -> Result<()> {
        self.require_bootmgr()?;
        self.require_entry(&id)?;
        let mut order = self.display_order();
        if !order.contains(&id) {
            order.insert(0, id);
            self.set_element(
                &names::BOOTMGR,
                element::DISPLAYORDER,
                &ElementValue::ObjectList(order),
            )?;
        }
        self.set_element(&names::BOOTMGR, element::DEFAULT, &ElementValue::Object(id))
    }

    /// Sets the menu. Every id must be a boot entry of the store, once;
    /// the default must stay in it.
    pub fn set_display_order(&mut self, ids: &[Uuid]) -> Result<()> {
        self.require_bootmgr()?;
        for (i, id) in ids.iter().enumerate() {
            self.require_entry(id)?;
            if ids[..i].contains(id) {
                return Err(Error::invalid(
                    "display order",
                    names::render_id(id),
                    "an entry appears twice",
                ));
            }
        }
        if let Some(d) = self.default_entry() {
            if !ids.contains(&d) {
                return Err(Error::invalid(
                    "display order",
                    ids.iter()
                        .map(names::render_id)
                        .collect::<Vec<_>>()
                        .join(","),
                    format!(
                        "it leaves out the default entry {}; set another default first",
                        names::render_id(&d)
                    ),
                ));
            }
        }
        self.set_element(
            &names::BOOTMGR,
            element::DISPLAYORDER,
            &ElementValue::ObjectList(ids.to_vec()),
        )
    }

    /// Adds a WinPE ramdisk entry at the end of the menu (and makes it the
    /// default when `default` is set, or when the store has none); returns
    /// its id. See the module `template` for what the entry holds.
    pub fn add_winpe(&mut self, entry: &WinPeEntry, default: bool) -> Result<Uuid> {
        self.require_bootmgr()?;
        let wim = device_path("WIM path", &entry.wim)?;
        let sdi = device_path("boot.sdi path", &entry.sdi)?;
        if entry.description.trim().is_empty() || entry.description.chars().any(char::is_control) {
            return Err(Error::invalid(
                "description",
                &entry.description,
                "expected a non-empty menu text without control characters",
            ));
        }
        if !matches!(entry.device, Device::Boot | Device::Partition(_)) {
            return Err(Error::invalid(
                "device",
                entry.device.render(&names::render_id),
                "the WIM must be on the boot device or on a partition",
            ));
        }
        let firmware = match entry.firmware {
            Some(Firmware::Both) => {
                return Err(Error::invalid(
                    "firmware",
                    "both",
                    "a store is for one firmware: bios or uefi",
                ))
            }
            Some(f) => f,
            None => template::firmware_of(self).ok_or_else(|| {
                Error::invalid(
                    "firmware",
                    "(not given)",
                    "the store has no entry that shows whether it is for bios or uefi; give it",
                )
            })?,
        };
        let entry = WinPeEntry {
            wim,
            sdi,
            firmware: Some(firmware),
            ..entry.clone()
        };
        let id = template::add_winpe(self, &entry, firmware)?;
        let mut order = self.display_order();
        order.push(id);
        self.set_element(
            &names::BOOTMGR,
            element::DISPLAYORDER,
            &ElementValue::ObjectList(order),
        )?;
        if default || self.default_entry().is_none() {
            self.set_default(id)?;
        }
        Ok(id)
    }

    /// Removes the entry `id`: from the menu, as the default (the first
    /// entry left becomes the default), and the device-options objects
    /// that nothing references any more.
    pub fn remove(&mut self, id: Uuid) -> Result<()> {
        if id == names::BOOTMGR {
            return Err(self.problem(StoreProblem::Refused(
                "{bootmgr} is the boot manager itself and cannot be removed".into(),
            )));
        }
        let key = self
            .object_key(&id)
            .ok_or_else(|| self.problem(StoreProblem::NoSuchObject(names::render_id(&id))))?;
        let options = referenced_options(&self.decode(id, key));
        self.hive.remove_key(key);
        for code in [element::DISPLAYORDER, element::TOOLSDISPLAYORDER] {
            let list = self.bootmgr_list(code);
            if list.contains(&id) {
                let left: Vec<Uuid> = list.into_iter().filter(|u| *u != id).collect();
                self.set_element(&names::BOOTMGR, code, &ElementValue::ObjectList(left))?;
            }
        }
        if self.default_entry() == Some(id) {
            match self.display_order().first() {
                Some(&first) => self.set_element(
                    &names::BOOTMGR,
                    element::DEFAULT,
                    &ElementValue::Object(first),
                )?,
                None => self.remove_element(&names::BOOTMGR, element::DEFAULT),
            }
        }
        for o in options {
            let still_used = self.objects().iter().any(|obj| references(obj, &o));
            let is_options = self
                .object(o)
                .is_some_and(|obj| obj.kind == object_type::DEVICE);
            if is_options && !still_used {
                if let Some(k) = self.object_key(&o) {
                    self.hive.remove_key(k);
                }
            }
        }
        Ok(())
    }
}

/// The options objects an object's device elements name.
fn referenced_options(obj: &Object) -> Vec<Uuid> {
    obj.elements
        .iter()
        .filter_map(|(_, v)| match v {
            ElementValue::Device(Device::Ramdisk {
                options: Some(o), ..
            }) => Some(*o),
            _ => None,
        })
        .collect()
}

/// Whether `obj` refers to `target` by any element.
pub(crate) fn references(obj: &Object, target: &Uuid) -> bool {
    obj.elements.iter().any(|(_, v)| match v {
        ElementValue::Object(u) => u == target,
        ElementValue::ObjectList(l) => l.contains(target),
        ElementValue::Device(Device::Ramdisk { options, .. }) => options.as_ref() == Some(target),
        ElementValue::Device(Device::Other(raw) | Device::Locate(raw)) => {
            raw.len() >= 16 && raw[..16] == target.to_bytes_le()
        }
        _ => false,
    })
}

/// The current time as a FILETIME.
pub(crate) fn filetime_now() -> u64 {
    const UNIX_TO_1601: u64 = 11_644_473_600;
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (since.as_secs() + UNIX_TO_1601) * 10_000_000 + u64::from(since.subsec_nanos() / 100)
}
