//! Boot menus generated for each client: the BCD store Windows Boot
//! Manager reads over the network, listing exactly the images the policy
//! lets that client boot.
//!
//! Windows Deployment Services generates the store it hands each PXE
//! client; so does dart. A [`MenuSpec`] is plain data: the entries a
//! client gets ([`MenuSpec::for_client`]: every catalog image its
//! decision permits that its firmware can start, in catalog order, the
//! rule's preferred image as default), and [`MenuSpec::build_store`] turns
//! it into a store, cloned from a staged image's own store when there is
//! one (see [`crate::formats::bcd`]: template first). Each entry boots its
//! image's WIM as a RAM disk read over TFTP from the server
//! (`ramdisk=[boot]\images\NAME\VERSION\sources\boot.wim`), and its
//! `{ramdiskoptions}` carry the TFTP block and window size the server
//! offers, so the WIM is read with large blocks and windows without a
//! manual `bcdedit`.
//!
//! The store is one layer; the TFTP gate is the other: a store never
//! names an image the client may not boot, and the gate refuses that
//! image's files to the client anyway.
//!
//! ```
//! use dart_core::net::catalog::{Catalog, ImageRole};
//! use dart_core::net::menu::{MenuFirmware, MenuSpec, RamdiskTftp};
//! use dart_core::net::policy::{AccessPolicy, Client};
//! # use dart_core::net::catalog::{CatalogImage, MenuParts};
//! # use dart_core::model::arch::Architecture;
//! # let image = |name: &str, role| CatalogImage {
//! #     name: name.into(), role, version: 1, arch: Architecture::X64,
//! #     dir: format!("images/{name}/1"), uefi_boot: Some(format!("images/{name}/1/efi/boot/bootx64.efi")),
//! #     bios_boot: None, bios_prompt_boot: None, files: 3, bytes: 3, staged_at: 0,
//! #     menu: Some(MenuParts { wim: format!("images/{name}/1/sources/boot.wim"),
//! #         sdi: format!("images/{name}/1/boot/boot.sdi"), bios_store: None, uefi_store: None }),
//! # };
//! # let catalog = Catalog { images: vec![image("rescue", ImageRole::Recovery), image("deploy", ImageRole::Imaging)], retired: vec![] };
//!
//! let policy = AccessPolicy::default(); // recovery images for everyone
//! let decision = policy.decide(&Client::default());
//! let spec = MenuSpec::for_client(
//!     &catalog,
//!     &decision,
//!     MenuFirmware::Uefi(Architecture::X64),
//!     &policy.menu,
//!     RamdiskTftp { block_size: 1468, window_size: 16, variable_window: true },
//! );
//! assert_eq!(spec.items.len(), 1); // the imaging image is not listed
//! let store = spec.build_store(None)?;
//! let entry = store.object(spec.items[0].id).unwrap();
//! assert_eq!(entry.description.as_deref(), Some("rescue"));
//! # Ok::<(), dart_core::Error>(())
//! ```

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use uuid::Uuid;

use super::catalog::{Catalog, CatalogImage, ImageRole};
use super::client_arch::ClientArch;
use super::policy::{AccessPolicy, Client, Decision, MenuSettings};
use crate::error::Result;
use crate::formats::bcd::names::element;
use crate::formats::bcd::{derived_id, labelled, Device, ElementValue, Store, WinPeEntry};
use crate::model::arch::Architecture;
use crate::model::media::Firmware;

/// The firmware a menu is for: BIOS, or UEFI of one architecture (a UEFI
/// boot manager starts only loaders of its own architecture).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MenuFirmware {
    /// A BIOS client: `winload.exe`; x86 and x64 images.
    Bios,
    /// A UEFI client: `winload.efi`; images of this architecture.
    Uefi(Architecture),
}

impl MenuFirmware {
    /// The firmware of a PXE client of this architecture (DHCP option
    /// 93), or `None` for one no staged image can serve.
    pub fn of(arch: ClientArch) -> Option<MenuFirmware> {
        if arch.same_as(ClientArch::BIOS) {
            return Some(MenuFirmware::Bios);
        }
        Architecture::ALL
            .into_iter()
            .find(|a| arch.same_as(ClientArch(a.pxe_uefi_client_arch())))
            .map(MenuFirmware::Uefi)
    }

    /// Which store format: BIOS or UEFI.
    pub fn firmware(self) -> Firmware {
        match self {
            MenuFirmware::Bios => Firmware::Bios,
            MenuFirmware::Uefi(_) => Firmware::Uefi,
        }
    }

    /// Whether a client of this firmware can start `image`.
    pub fn starts(self, image: &CatalogImage) -> bool {
        match self {
            MenuFirmware::Bios => image.arch.has_bios(),
            MenuFirmware::Uefi(a) => image.arch == a,
        }
    }

    /// `bios`, `x64-uefi`, …: a file-name-safe word.
    pub fn name(self) -> String {
        match self {
            MenuFirmware::Bios => "bios".into(),
            MenuFirmware::Uefi(a) => format!("{}-uefi", a.name()),
        }
    }
}

impl fmt::Display for MenuFirmware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// How Windows Boot Manager reads a RAM disk over TFTP: written into each
/// entry's device options (`ramdisktftpblocksize`, `ramdisktftpwindowsize`,
/// `ramdisktftpvarwindow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct RamdiskTftp {
    /// Bytes per block; the server's largest `blksize`.
    pub block_size: u16,
    /// Blocks per window (RFC 7440).
    pub window_size: u16,
    /// Whether to ask for Microsoft's variable window extension, which
    /// the server speaks (`msftwindow`).
    pub variable_window: bool,
}

/// One entry of a generated menu.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct MenuItem {
    /// The catalog image.
    pub image: String,
    /// Its version.
    pub version: u32,
    /// Recovery or imaging.
    pub role: ImageRole,
    /// The menu text.
    pub description: String,
    /// The WIM's path on the boot device (the server's root).
    pub wim: String,
    /// `boot.sdi`'s path on the boot device.
    pub sdi: String,
    /// The entry's object id: derived from the firmware, image and version,
    /// so the same menu has the same ids every time.
    pub id: Uuid,
}

/// A generated menu, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct MenuSpec {
    /// The firmware it is for.
    pub firmware: MenuFirmware,
    /// The entries, in catalog order.
    pub items: Vec<MenuItem>,
    /// The default entry.
    pub default: Option<Uuid>,
    /// Seconds before the default boots.
    pub timeout: u64,
    /// RAM disk transfer settings.
    pub tftp: RamdiskTftp,
}

/// Largest template store read from a staged image (real ones are under
/// 64 KiB).
const MAX_TEMPLATE_BYTES: u64 = 4 << 20;

/// A staged store (`rel`, relative to `root`) as a template, if it is a
/// readable store of reasonable size; a damaged one is passed over (the
/// menu is then built from nothing, as for media without a store).
pub fn read_template(root: &Path, rel: &str) -> Option<Store> {
    let path = root.join(rel);
    let file = std::fs::File::open(&path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_TEMPLATE_BYTES).read_to_end(&mut bytes).ok()?;
    Store::parse(&bytes, &path).ok()
}

/// The menu `policy` gives `client` on `firmware` from the catalog in
/// `root`, and its store, as the boot server would send it (for previews:
/// `dart policy check --menu`). `max_blksize` is the TFTP server's largest
/// block size.
pub fn preview(
    root: &Path,
    policy: &AccessPolicy,
    client: &Client,
    firmware: MenuFirmware,
    max_blksize: u16,
) -> Result<(MenuSpec, Option<Store>)> {
    let catalog = Catalog::load(root)?;
    let decision = policy.decide_cautiously(client);
    let tftp = RamdiskTftp {
        block_size: max_blksize,
        window_size: policy.menu.tftp_window,
        variable_window: true,
    };
    let spec = MenuSpec::for_client(&catalog, &decision, firmware, &policy.menu, tftp);
    if spec.items.is_empty() {
        return Ok((spec, None));
    }
    let template = spec
        .template(&catalog, None)
        .and_then(|rel| read_template(root, &rel));
    let store = spec.build_store(template)?;
    Ok((spec, Some(store)))
}

/// The directory of generated stores, for the paths named in DHCP option
/// 252 ([`menu_path`]); nothing is stored there.
pub const MENU_DIR: &str = "dart/menu";

/// What a TFTP name asks for, when it asks for a boot store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreName {
    /// `\Boot\BCD`: Windows Boot Manager's own name, the same for BIOS
    /// and UEFI clients.
    Any,
    /// `\EFI\Microsoft\Boot\BCD`: a UEFI store.
    Uefi,
    /// A [`menu_path`]: the store for this firmware.
    For(MenuFirmware),
}

impl StoreName {
    /// Whether `name` (as a client sent it: `\` or `/`, any case, with or
    /// without a leading separator) names a boot store.
    pub fn parse(name: &str) -> Option<StoreName> {
        let name = name.replace('\\', "/");
        let name = name.trim_start_matches('/').to_ascii_lowercase();
        match name.as_str() {
            "boot/bcd" => return Some(StoreName::Any),
            "efi/microsoft/boot/bcd" => return Some(StoreName::Uefi),
            _ => {}
        }
        let file = name.strip_prefix(MENU_DIR)?.strip_prefix('/')?;
        let firmware = file.strip_suffix(".bcd")?;
        if firmware == "bios" {
            return Some(StoreName::For(MenuFirmware::Bios));
        }
        let arch = firmware.strip_suffix("-uefi")?;
        Architecture::ALL
            .into_iter()
            .find(|a| a.name() == arch)
            .map(|a| StoreName::For(MenuFirmware::Uefi(a)))
    }

    /// Whether a store for `firmware` answers this name.
    pub fn accepts(self, firmware: MenuFirmware) -> bool {
        match self {
            StoreName::Any => true,
            StoreName::Uefi => matches!(firmware, MenuFirmware::Uefi(_)),
            StoreName::For(f) => f == firmware,
        }
    }
}

/// The path of the generated store for `firmware`, as DHCP option 252
/// names it (`dart/menu/x64-uefi.bcd`); relative to the root.
pub fn menu_path(firmware: MenuFirmware) -> String {
    format!("{MENU_DIR}/{}.bcd", firmware.name())
}

/// A path relative to the root as a path on the boot device: `\` first
/// and between components.
fn device_path(rel: &str) -> String {
    let mut out = String::with_capacity(rel.len() + 1);
    for part in rel.split(['/', '\\']).filter(|p| !p.is_empty()) {
        out.push('\\');
        out.push_str(part);
    }
    out
}

impl MenuSpec {
    /// The menu of a client: each current catalog image that `decision`
    /// permits, that `firmware` can start and that has a WIM, in catalog
    /// order; the default is the rule's preferred image when listed, else
    /// the first recovery image, else the first entry (as
    /// [`Catalog::boot_for`] chooses); the timeout is the rule's, else the
    /// policy's.
    pub fn for_client(
        catalog: &Catalog,
        decision: &Decision,
        firmware: MenuFirmware,
        settings: &MenuSettings,
        tftp: RamdiskTftp,
    ) -> MenuSpec {
        let listed: Vec<&CatalogImage> = catalog
            .images
            .iter()
            .filter(|i| decision.permits(&i.name, i.role) && firmware.starts(i))
            .filter(|i| i.menu.is_some())
            .collect();
        let mixed = listed.iter().any(|i| i.arch != listed[0].arch);
        let items: Vec<MenuItem> = listed
            .iter()
            .filter_map(|i| {
                let parts = i.menu.as_ref()?;
                let description = if mixed && firmware == MenuFirmware::Bios {
                    labelled(&i.name, i.arch)
                } else {
                    i.name.clone()
                };
                let version = i.version.to_string();
                Some(MenuItem {
                    image: i.name.clone(),
                    version: i.version,
                    role: i.role,
                    description,
                    wim: device_path(&parts.wim),
                    sdi: device_path(&parts.sdi),
                    id: derived_id(&[
                        "dart network menu entry",
                        &firmware.name(),
                        &i.name.to_ascii_lowercase(),
                        &version,
                    ]),
                })
            })
            .collect();
        let preferred = decision
            .boot
            .as_deref()
            .and_then(|b| items.iter().find(|i| i.image.eq_ignore_ascii_case(b)));
        let default = preferred
            .or_else(|| items.iter().find(|i| i.role == ImageRole::Recovery))
            .or_else(|| items.first())
            .map(|i| i.id);
        MenuSpec {
            firmware,
            items,
            default,
            timeout: decision.timeout.unwrap_or(settings.timeout),
            tftp,
        }
    }

    /// The store for this menu. `template` is a staged image's store for
    /// the same firmware: its WinPE entry is what each entry is cloned
    /// from, and its other objects (the boot manager, memory test,
    /// settings) are kept; its own entries are removed. Without one the
    /// store has what a Microsoft media store has. The hive's timestamp is
    /// fixed, so equal menus give equal bytes.
    pub fn build_store(&self, template: Option<Store>) -> Result<Store> {
        let firmware = self.firmware.firmware();
        let mut store = match template {
            Some(store) => store,
            None => Store::new_at(firmware, 0)?,
        };
        let old = store.display_order();
        let mut ids = Vec::with_capacity(self.items.len());
        for item in &self.items {
            let entry = WinPeEntry {
                sdi: item.sdi.clone(),
                device: Device::Boot,
                firmware: Some(firmware),
                id: Some(item.id),
                ..WinPeEntry::new(&item.description, &item.wim)
            };
            // Listed all at once below, not one by one.
            let id = store.add_winpe_object(&entry)?;
            // With the Standard policy the boot manager leaves the menu to
            // the Windows it starts, which WinPE does not draw.
            store.set_element_value(id, element::BOOTMENUPOLICY, &ElementValue::Integer(0))?;
            if let Some(ElementValue::Device(Device::Ramdisk {
                options: Some(options),
                ..
            })) = store.element(&id, element::DEVICE)
            {
                self.tune(&mut store, options)?;
            }
            ids.push(id);
        }
        if let Some(id) = self.default {
            store.set_default(id)?;
        }
        for id in old {
            if !ids.contains(&id) {
                store.remove(id)?;
            }
        }
        store.set_display_order(&ids)?;
        store.set_timeout(self.timeout)?;
        Ok(store)
    }

    fn tune(&self, store: &mut Store, options: Uuid) -> Result<()> {
        let t = self.tftp;
        let values = [
            (
                element::RAMDISKTFTPBLOCKSIZE,
                ElementValue::Integer(u64::from(t.block_size)),
            ),
            (
                element::RAMDISKTFTPWINDOWSIZE,
                ElementValue::Integer(u64::from(t.window_size)),
            ),
            (
                element::RAMDISKTFTPVARWINDOW,
                ElementValue::Boolean(t.variable_window),
            ),
        ];
        for (code, value) in values {
            store.set_element_value(options, code, &value)?;
        }
        Ok(())
    }

    /// The store this menu's entries are best cloned from, relative to the
    /// root: the one of the image version in `offered` (the directory the
    /// client was offered at DHCP, whose boot manager it runs), else of the
    /// default entry's image, else of any listed image.
    pub fn template(&self, catalog: &Catalog, offered: Option<&str>) -> Option<String> {
        let store_of = |image: &CatalogImage| {
            let parts = image.menu.as_ref()?;
            match self.firmware {
                MenuFirmware::Bios => parts.bios_store.clone(),
                MenuFirmware::Uefi(_) => parts.uefi_store.clone(),
            }
        };
        let offered = offered.and_then(|dir| {
            catalog
                .images
                .iter()
                .chain(&catalog.retired)
                .find(|i| i.dir == dir)
        });
        let default = self
            .items
            .iter()
            .find(|i| Some(i.id) == self.default)
            .and_then(|i| catalog.current(&i.image));
        let listed = self.items.iter().filter_map(|i| catalog.current(&i.image));
        offered
            .into_iter()
            .chain(default)
            .chain(listed)
            .find_map(store_of)
    }

    /// The images listed, by name.
    pub fn images(&self) -> Vec<&str> {
        self.items.iter().map(|i| i.image.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::catalog::sample_image as image;
    use crate::net::policy::{AccessPolicy, Client, MacAddr};

    const TFTP: RamdiskTftp = RamdiskTftp {
        block_size: 1468,
        window_size: 16,
        variable_window: true,
    };

    fn catalog() -> Catalog {
        Catalog {
            images: vec![
                image("deploy", ImageRole::Imaging, Architecture::X64, 3),
                image("rescue", ImageRole::Recovery, Architecture::X64, 2),
                image("rescue-arm", ImageRole::Recovery, Architecture::Arm64, 1),
                image("rescue32", ImageRole::Recovery, Architecture::X86, 1),
            ],
            retired: vec![image("rescue", ImageRole::Recovery, Architecture::X64, 1)],
        }
    }

    fn policy() -> AccessPolicy {
        AccessPolicy::from_json(
            r#"{"menu": {"timeout": 12},
                "rules": [{"name": "bench", "mac": "02:00:00:00:00:01", "allow": "all",
                           "boot": "deploy", "timeout": 3}]}"#,
        )
        .unwrap()
    }

    fn bench() -> Client {
        Client {
            mac: Some(MacAddr([2, 0, 0, 0, 0, 1])),
            ..Client::default()
        }
    }

    #[test]
    fn a_menu_lists_what_the_client_may_boot_on_its_firmware() {
        let (catalog, policy) = (catalog(), policy());
        let stranger = policy.decide(&Client::default());
        let spec = |d, f| MenuSpec::for_client(&catalog, d, f, &policy.menu, TFTP);
        let uefi = spec(&stranger, MenuFirmware::Uefi(Architecture::X64));
        assert_eq!(uefi.images(), ["rescue"]);
        assert_eq!(uefi.items[0].version, 2, "the current version only");
        assert_eq!(uefi.items[0].wim, r"\images\rescue\2\sources\boot.wim");
        assert_eq!(uefi.items[0].sdi, r"\images\rescue\2\boot\boot.sdi");
        assert_eq!(uefi.timeout, 12);
        assert_eq!(uefi.default, Some(uefi.items[0].id));
        let bios = spec(&stranger, MenuFirmware::Bios);
        assert_eq!(bios.images(), ["rescue", "rescue32"]);
        assert_eq!(bios.items[0].description, "rescue (64-bit)");
        assert_eq!(bios.items[1].description, "rescue32 (32-bit)");
        let arm = spec(&stranger, MenuFirmware::Uefi(Architecture::Arm64));
        assert_eq!(arm.images(), ["rescue-arm"]);
        assert_eq!(arm.items[0].description, "rescue-arm");

        let bench = policy.decide(&bench());
        let b = spec(&bench, MenuFirmware::Uefi(Architecture::X64));
        assert_eq!(b.images(), ["deploy", "rescue"]);
        assert_eq!(b.default, Some(b.items[0].id), "the rule's boot image");
        assert_eq!(b.timeout, 3);
        assert_eq!(
            b.items[1].id, uefi.items[0].id,
            "ids depend on the image only"
        );
        assert_ne!(bios.items[0].id, uefi.items[0].id, "and on the firmware");
    }

    #[test]
    fn images_without_a_wim_and_clients_allowed_nothing_get_empty_menus() {
        let mut catalog = catalog();
        catalog.images[1].menu = None;
        let policy = policy();
        let stranger = policy.decide(&Client::default());
        let spec = MenuSpec::for_client(
            &catalog,
            &stranger,
            MenuFirmware::Uefi(Architecture::X64),
            &policy.menu,
            TFTP,
        );
        assert!(spec.items.is_empty() && spec.default.is_none());
        let none = AccessPolicy::from_json(r#"{"default": "none"}"#).unwrap();
        let spec = MenuSpec::for_client(
            &catalog,
            &none.decide(&Client::default()),
            MenuFirmware::Bios,
            &none.menu,
            TFTP,
        );
        assert!(spec.items.is_empty());
    }

    #[test]
    fn a_store_from_a_template_keeps_its_objects_and_replaces_its_entries() {
        let (catalog, policy) = (catalog(), policy());
        let mut template = Store::new_at(Firmware::Uefi, 0).unwrap();
        let setup = template
            .add_winpe(
                &WinPeEntry::new("Windows Setup", r"\sources\boot.wim"),
                true,
            )
            .unwrap();
        let spec = MenuSpec::for_client(
            &catalog,
            &policy.decide(&bench()),
            MenuFirmware::Uefi(Architecture::X64),
            &policy.menu,
            TFTP,
        );
        let store = spec.build_store(Some(template.clone())).unwrap();
        assert!(
            store.object(setup).is_none(),
            "the template's entry is gone"
        );
        assert!(
            store.object(crate::formats::bcd::names::MEMDIAG).is_some(),
            "other objects kept"
        );
        let ids: Vec<Uuid> = spec.items.iter().map(|i| i.id).collect();
        assert_eq!(store.display_order(), ids);
        assert_eq!(store.default_entry(), spec.default);
        assert_eq!(store.timeout(), Some(3));
        for item in &spec.items {
            let entry = store.object(item.id).unwrap();
            assert_eq!(entry.description.as_deref(), Some(item.image.as_str()));
            let Some(ElementValue::Device(Device::Ramdisk {
                container,
                path,
                options: Some(options),
            })) = entry.element(element::DEVICE).cloned()
            else {
                panic!("not a ramdisk: {entry:?}");
            };
            assert_eq!((*container, path), (Device::Boot, item.wim.clone()));
            assert_eq!(
                entry.element(element::PATH),
                Some(&ElementValue::String(
                    r"\windows\system32\boot\winload.efi".into()
                ))
            );
            let o = store.object(options).unwrap();
            assert_eq!(
                o.element(element::RAMDISKSDIPATH),
                Some(&ElementValue::String(item.sdi.clone()))
            );
            assert_eq!(
                o.element(element::RAMDISKTFTPBLOCKSIZE),
                Some(&ElementValue::Integer(1468))
            );
            assert_eq!(
                o.element(element::RAMDISKTFTPWINDOWSIZE),
                Some(&ElementValue::Integer(16))
            );
            assert_eq!(
                o.element(element::RAMDISKTFTPVARWINDOW),
                Some(&ElementValue::Boolean(true))
            );
        }
        let again = spec.build_store(Some(template)).unwrap();
        assert_eq!(
            again.to_bytes(),
            store.to_bytes(),
            "equal menus, equal bytes"
        );
    }

    #[test]
    fn a_store_without_a_template_is_a_media_store_with_the_entries() {
        let (catalog, policy) = (catalog(), policy());
        let spec = MenuSpec::for_client(
            &catalog,
            &policy.decide(&Client::default()),
            MenuFirmware::Bios,
            &policy.menu,
            TFTP,
        );
        let store = spec.build_store(None).unwrap();
        let back = Store::parse(&store.to_bytes(), "menu".as_ref()).unwrap();
        assert_eq!(back.display_order().len(), 2);
        let first = back.object(spec.items[0].id).unwrap();
        assert_eq!(
            first.element(element::PATH),
            Some(&ElementValue::String(
                r"\windows\system32\boot\winload.exe".into()
            ))
        );
        assert_eq!(spec.build_store(None).unwrap().to_bytes(), store.to_bytes());
    }
}
