//! The boot menu of a store: default, display order, timeout, and adding
//! and removing WinPE entries.

use uuid::Uuid;

use super::element::ElementValue;
use super::names::{self, element, object_type};
use super::store::{device_path, Object, Store, StoreProblem, WinPeEntry};
use super::{template, Device};
use crate::error::{Error, Result};
use crate::model::arch::Architecture;
use crate::model::media::Firmware;

/// One of the boot manager's lists of entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryList {
    /// `displayorder`: the boot menu.
    Menu,
    /// `toolsdisplayorder`: the Tools section of the menu (F10 / "Tools"),
    /// which does not slow ordinary boots.
    Tools,
}

impl EntryList {
    fn code(self) -> u32 {
        match self {
            EntryList::Menu => element::DISPLAYORDER,
            EntryList::Tools => element::TOOLSDISPLAYORDER,
        }
    }
}

/// `description (64-bit)` unless it already says which architecture:
/// Microsoft's dual-architecture media label the entries of their BIOS
/// menu so.
pub fn labelled(description: &str, arch: Architecture) -> String {
    let l = description.to_ascii_lowercase();
    let said = ["x64", "x86", "64-bit", "32-bit", "arm64", "amd64", "i386"]
        .iter()
        .any(|w| l.contains(w));
    if said {
        return description.to_string();
    }
    let bits = match arch {
        Architecture::X86 => "32-bit",
        Architecture::X64 => "64-bit",
        Architecture::Arm64 => "ARM64",
    };
    format!("{description} ({bits})")
}

/// An object id derived from names: the same parts give the same id every
/// time (a name-based UUID, version 8, from SHA-256 of the parts, each
/// ended by a NUL byte), so generated stores are deterministic and a dry
/// run names the ids a write will use.
pub fn derived_id(parts: &[&str]) -> Uuid {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in parts {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

impl Store {
    /// The boot manager's default entry.
    pub fn default_entry(&self) -> Option<Uuid> {
        match self.element(&names::BOOTMGR, element::DEFAULT)? {
            ElementValue::Object(u) => Some(u),
            _ => None,
        }
    }

    /// The boot manager's menu, in order.
    pub fn display_order(&self) -> Vec<Uuid> {
        self.bootmgr_list(element::DISPLAYORDER)
    }

    fn bootmgr_list(&self, code: u32) -> Vec<Uuid> {
        match self.element(&names::BOOTMGR, code) {
            Some(ElementValue::ObjectList(l)) => l,
            _ => Vec::new(),
        }
    }

    /// The boot manager's timeout in seconds.
    pub fn timeout(&self) -> Option<u64> {
        match self.element(&names::BOOTMGR, element::TIMEOUT)? {
            ElementValue::Integer(n) => Some(n),
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
        let id = self.add_winpe_object(entry)?;
        self.append_to(EntryList::Menu, id)?;
        if default || self.default_entry().is_none() {
            self.set_default(id)?;
        }
        Ok(id)
    }

    /// Adds a WinPE ramdisk entry without listing it anywhere (see
    /// [`Store::append_to`] and [`Store::set_recovery_sequence`]); returns
    /// its id.
    pub fn add_winpe_object(&mut self, entry: &WinPeEntry) -> Result<Uuid> {
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
        template::add_winpe(self, &entry, firmware)
    }

    /// The entries of one of the boot manager's lists, in order.
    pub fn list(&self, which: EntryList) -> Vec<Uuid> {
        self.bootmgr_list(which.code())
    }

    /// Appends `id` to one of the boot manager's lists (nothing changes
    /// when it is listed already).
    pub fn append_to(&mut self, which: EntryList, id: Uuid) -> Result<()> {
        self.require_bootmgr()?;
        if self.object_key(&id).is_none() {
            return Err(self.problem(StoreProblem::NoSuchObject(names::render_id(&id))));
        }
        let mut list = self.bootmgr_list(which.code());
        if list.contains(&id) {
            return Ok(());
        }
        list.push(id);
        self.set_element(
            &names::BOOTMGR,
            which.code(),
            &ElementValue::ObjectList(list),
        )
    }

    /// Removes `id` from one of the boot manager's lists (nothing changes
    /// when it is not listed).
    pub fn remove_from(&mut self, which: EntryList, id: Uuid) -> Result<()> {
        let list = self.bootmgr_list(which.code());
        if !list.contains(&id) {
            return Ok(());
        }
        let left: Vec<Uuid> = list.into_iter().filter(|u| *u != id).collect();
        self.set_element(
            &names::BOOTMGR,
            which.code(),
            &ElementValue::ObjectList(left),
        )
    }

    /// The `recoverysequence` of the entry `loader` (the entries Windows
    /// starts to recover it), if it has one.
    pub fn recovery_sequence(&self, loader: Uuid) -> Option<Vec<Uuid>> {
        match self.element(&loader, element::RECOVERYSEQUENCE)? {
            ElementValue::ObjectList(l) => Some(l),
            _ => None,
        }
    }

    /// Every id named by some entry's `recoverysequence`.
    pub fn recovery_sequence_members(&self) -> Vec<Uuid> {
        self.objects()
            .iter()
            .filter_map(|o| self.recovery_sequence(o.id))
            .flatten()
            .collect()
    }

    /// Sets (or, with `None`, removes) the `recoverysequence` of the entry
    /// `loader`; every id in it must name an object of the store.
    pub fn set_recovery_sequence(&mut self, loader: Uuid, ids: Option<&[Uuid]>) -> Result<()> {
        if self.object_key(&loader).is_none() {
            return Err(self.problem(StoreProblem::NoSuchObject(names::render_id(&loader))));
        }
        match ids {
            Some(ids) => {
                if let Some(missing) = ids.iter().find(|id| self.object_key(id).is_none()) {
                    return Err(self.problem(StoreProblem::NoSuchObject(names::render_id(missing))));
                }
                self.set_element(
                    &loader,
                    element::RECOVERYSEQUENCE,
                    &ElementValue::ObjectList(ids.to_vec()),
                )
            }
            None => {
                self.remove_element(&loader, element::RECOVERYSEQUENCE);
                Ok(())
            }
        }
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
        // Recovery sequences that name it, decoding only that element.
        let naming = self.ids_where_element(
            None,
            element::RECOVERYSEQUENCE,
            |v| matches!(v, ElementValue::ObjectList(l) if l.contains(&id)),
        );
        for obj in naming {
            if let Some(seq) = self.recovery_sequence(obj) {
                let left: Vec<Uuid> = seq.into_iter().filter(|u| *u != id).collect();
                self.set_recovery_sequence(
                    obj,
                    Some(&left).filter(|l| !l.is_empty()).map(|l| l.as_slice()),
                )?;
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
        // Options objects nothing names any more go with it.
        for o in options {
            let is_options = self.kind_of_object(&o) == Some(object_type::DEVICE);
            if is_options && !self.is_referenced(&o) {
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
