//! [`check_medium`]: can this medium boot, and does its boot menu point at
//! what is on it?
//!
//! The error users meet most with hand-made WinPE media is 0xc000000f
//! ("the boot configuration data is missing or contains errors"): a store
//! entry names a WIM or `boot.sdi` that is not on the medium, or a loader
//! path the WIM lacks. The check reads each store the medium carries
//! (`\boot\BCD` for BIOS, `\EFI\Microsoft\Boot\BCD` for UEFI) and, for each
//! entry of its menu, checks the ramdisk's WIM and `boot.sdi` on the
//! medium, the loader path inside that WIM (`.exe` for BIOS, `.efi` for
//! UEFI), and that the default is in the menu; each problem names the
//! entry by its description. It reports which CA signed each UEFI boot
//! manager on the medium ([`crate::formats::authenticode`]).

use serde::Serialize;

use super::medium::{MediumSpec, BIOS_BCD};
use crate::error::Result;
use crate::formats::authenticode::{signatures, Signature};
use crate::formats::bcd::{names, Device, ElementValue, Object, Store};
use crate::image::RecoveryImage;
use crate::model::arch::Architecture;
use crate::model::media::{Firmware, MediaKind, MediaSet, BOOT_WIM, UEFI_BCD};

/// What [`check_medium`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MediumCheck {
    /// Problems that stop the medium (or an entry of it) from booting.
    pub problems: Vec<String>,
    /// Things that boot but deserve a look.
    pub warnings: Vec<String>,
    /// Each store and its menu.
    pub stores: Vec<StoreCheck>,
    /// Each UEFI boot manager and its signatures.
    pub boot_managers: Vec<BootManagerCheck>,
}

/// One store of the medium.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreCheck {
    /// Its path on the medium.
    pub path: String,
    /// The firmware that reads it.
    pub firmware: Firmware,
    /// The menu: (description, WIM path), in order.
    pub entries: Vec<(String, String)>,
    /// The default entry's description.
    pub default: Option<String>,
}

/// One boot manager file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootManagerCheck {
    /// Its path on the medium.
    pub path: String,
    /// Its signatures (empty: unsigned).
    pub signatures: Vec<Signature>,
    /// Why the signatures could not be read, if they could not.
    pub unreadable: Option<String>,
}

impl MediumCheck {
    /// Whether nothing stops the medium from booting.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks the medium `spec` describes for `arch` on `firmware` (see the
/// module documentation). Reads only.
pub fn check_medium(
    spec: impl Into<MediumSpec>,
    arch: Architecture,
    firmware: Firmware,
) -> Result<MediumCheck> {
    let medium = spec.into().prepare()?;
    let set = &medium.set;
    let mut out = MediumCheck::default();
    if firmware == Firmware::Bios && !arch.has_bios() {
        out.problems
            .push(format!("{arch} machines have no BIOS firmware"));
    }
    let mut wims_checked: Vec<String> = Vec::new();
    for (path, fw) in [(BIOS_BCD, Firmware::Bios), (UEFI_BCD, Firmware::Uefi)] {
        let Some(f) = set.find(path) else { continue };
        let store = match set
            .source(f)
            .read_all()
            .and_then(|b| Store::parse(&b, &set.root().join(&f.path)))
        {
            Ok(s) => s,
            Err(e) => {
                out.problems.push(format!("{}: {e}", f.path));
                continue;
            }
        };
        out.stores.push(check_store(
            set,
            &f.path,
            fw,
            &store,
            &mut out.problems,
            &mut out.warnings,
            &mut wims_checked,
        ));
    }
    // Files the firmware needs; the WIMs are what the stores name (checked
    // above), sources/boot.wim only when no store names any.
    let menus_name_wims = out.stores.iter().any(|s| !s.entries.is_empty());
    for file in MediaSet::required_files(arch, firmware) {
        if file == BOOT_WIM && menus_name_wims {
            continue;
        }
        if set.find(&file).is_none() {
            out.problems.push(format!(
                "{} cannot boot {arch} on {firmware} firmware: {file} is missing",
                set.root().display()
            ));
        }
    }
    for f in set.files() {
        let lower = f.path.to_ascii_lowercase();
        let is_manager = (lower.starts_with("efi/boot/boot") && lower.ends_with(".efi"))
            || lower == "bootmgr.efi"
            || lower == "efi/microsoft/boot/bootmgfw.efi";
        if !is_manager {
            continue;
        }
        let (sigs, unreadable) = match set.source(f).read_all() {
            Ok(bytes) => match signatures(&bytes) {
                Ok(s) => (s, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            },
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        out.boot_managers.push(BootManagerCheck {
            path: f.path.clone(),
            signatures: sigs,
            unreadable,
        });
    }
    Ok(out)
}

fn description(o: &Object) -> String {
    o.description
        .clone()
        .unwrap_or_else(|| names::render_id(&o.id))
}

fn check_store(
    set: &MediaSet,
    path: &str,
    fw: Firmware,
    store: &Store,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
    wims_checked: &mut Vec<String>,
) -> StoreCheck {
    let order = store.display_order();
    let default = store.default_entry();
    let mut entries = Vec::new();
    if let Some(d) = default {
        if !order.contains(&d) {
            let name = store
                .object(d)
                .map_or_else(|| names::render_id(&d), |o| description(&o));
            problems.push(format!(
                "{path}: the default entry \"{name}\" is not in the menu (displayorder)"
            ));
        }
    }
    if order.is_empty() {
        problems.push(format!("{path}: the menu (displayorder) is empty"));
    }
    for id in order
        .iter()
        .chain(default.iter().filter(|d| !order.contains(d)))
    {
        let Some(o) = store.object(*id) else {
            problems.push(format!(
                "{path}: the menu names {}, which the store does not hold",
                names::render_id(id)
            ));
            continue;
        };
        let name = description(&o);
        let at = |what: String| format!("{path}: entry \"{name}\": {what}");
        let Some(ElementValue::Device(Device::Ramdisk {
            container,
            path: wim,
            options,
        })) = o.element(names::element::DEVICE).cloned()
        else {
            warnings.push(at("not a ramdisk (WIM) entry; not checked".into()));
            continue;
        };
        entries.push((name.clone(), wim.clone()));
        if *container != Device::Boot {
            warnings.push(at(format!(
                "the WIM {wim} is on another partition; not checked"
            )));
            continue;
        }
        let on_medium = |p: &str| set.find(p.trim_start_matches('\\')).is_some();
        if !on_medium(&wim) {
            problems.push(at(format!(
                "the WIM {wim} is not on the medium (Windows Boot Manager stops with 0xc000000f)"
            )));
        }
        match options.and_then(|opt| store.object(opt)) {
            Some(opt) => match opt.element(names::element::RAMDISKSDIPATH) {
                Some(ElementValue::String(sdi)) if on_medium(sdi) => {}
                Some(ElementValue::String(sdi)) => {
                    problems.push(at(format!("its boot.sdi {sdi} is not on the medium")))
                }
                _ => problems.push(at(
                    "its ramdisk options name no boot.sdi (ramdisksdipath)".into()
                )),
            },
            None => problems.push(at(
                "its ramdisk options object is missing, so there is no boot.sdi".into(),
            )),
        }
        let loader = match o.element(names::element::PATH) {
            Some(ElementValue::String(p)) => p.clone(),
            _ => {
                problems.push(at("it has no loader path (path)".into()));
                continue;
            }
        };
        let want = if fw == Firmware::Uefi { ".efi" } else { ".exe" };
        if !loader.to_ascii_lowercase().ends_with(want) {
            problems.push(at(format!(
                "its loader {loader} is not a {want} file, which the {fw} boot manager needs"
            )));
        }
        check_wim(set, &wim, &loader, &at, problems, warnings, wims_checked);
    }
    StoreCheck {
        path: path.to_string(),
        firmware: fw,
        entries,
        default: default
            .and_then(|d| store.object(d))
            .map(|o| description(&o)),
    }
}

/// The loader inside the WIM, and the DVD boot files tools look for.
fn check_wim(
    set: &MediaSet,
    wim: &str,
    loader: &str,
    at: &dyn Fn(String) -> String,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
    wims_checked: &mut Vec<String>,
) {
    let Some(f) = set.find(wim.trim_start_matches('\\')) else {
        return;
    };
    let source = set.source(f);
    if set.kind() == MediaKind::Iso
        && !source
            .path()
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wim"))
    {
        warnings.push(at(format!(
            "{wim} is inside an ISO image; its contents were not checked"
        )));
        return;
    }
    let files = match RecoveryImage::open(source.path()).and_then(|w| {
        let i = w.default_index();
        w.list_files(i)
    }) {
        Ok(f) => f,
        Err(e) => {
            problems.push(at(format!("{wim} cannot be read: {e}")));
            return;
        }
    };
    let has = |p: &str| {
        let p = p.replace('\\', "/").to_ascii_lowercase();
        let p = p.trim_start_matches('/');
        files.iter().any(|f| {
            f.trim_start_matches('/')
                .trim_end_matches('/')
                .to_ascii_lowercase()
                == p
        })
    };
    if !has(loader) {
        problems.push(at(format!(
            "{wim} has no {loader} (its boot image lacks the loader this store starts)"
        )));
    }
    let key = wim.to_ascii_lowercase();
    if !wims_checked.contains(&key) {
        wims_checked.push(key);
        if !has(r"\Windows\Boot\DVD") {
            warnings.push(format!("{wim} lacks \\Windows\\Boot\\DVD: wimboot and template-based tools find no store or boot.sdi in it"));
        }
    }
}
