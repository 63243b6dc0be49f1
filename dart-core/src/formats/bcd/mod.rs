//! BCD stores: the boot menus of Windows Boot Manager, read, written and
//! edited without Windows.
//!
//! A store is a registry hive ([`crate::formats::regf`]): under the root,
//! `Description` (`KeyName`) and `Objects\{guid}` with
//! `Description\Type` (the object type) and `Elements\XXXXXXXX\Element`
//! (one typed [`ElementValue`] per element code). [`Store`] reads any store
//! ([`Store::open`]), lists its objects ([`Store::objects`], printed as
//! bcdedit prints them), and edits it: [`Store::add_winpe`] (a WinPE
//! ramdisk entry, cloned from the store's own WinPE entry when it has one),
//! [`Store::remove`], [`Store::set_timeout`], [`Store::set_default`],
//! [`Store::set_display_order`]. [`Store::save`] writes beside the old file,
//! syncs and renames, so a crash leaves the old store or the new one.
//!
//! ```
//! use dart_core::formats::bcd::{Store, WinPeEntry};
//! use dart_core::model::media::Firmware;
//! let mut store = Store::new(Firmware::Uefi)?;
//! let id = store.add_winpe(&WinPeEntry::new("DaRT (full)", r"\sources\full.wim"), true)?;
//! store.set_timeout(10)?;
//! let bytes = store.to_bytes();
//! let back = Store::parse(&bytes, "BCD".as_ref())?;
//! assert_eq!(back.default_entry(), Some(id));
//! assert_eq!(back.object(id).unwrap().description.as_deref(), Some("DaRT (full)"));
//! # Ok::<(), dart_core::Error>(())
//! ```

mod device;
mod element;
mod file;
mod menu;
pub mod names;
mod store;
mod template;
mod view;

pub use device::{Device, PartitionId};
pub use element::{format_of, ElementValue, ElementView};
pub use menu::{derived_id, labelled, EntryList};
pub use store::{Object, Store, StoreProblem, WinPeEntry};
pub use view::{ObjectView, StoreChange, StoreView};

/// Reads a store from arbitrary bytes, lists it and writes it back; for
/// the fuzz target and its seed-corpus test. Panics only when a hive or
/// store dart accepts does not survive its own round trip.
#[cfg(feature = "fuzzing")]
pub fn fuzz_one(data: &[u8]) {
    use crate::formats::regf::Hive;
    let origin = std::path::Path::new("fuzz");
    if let Ok(hive) = Hive::parse(data) {
        match Hive::parse(&hive.to_bytes()) {
            Ok(again) => assert_eq!(again.walk(Hive::ROOT).len(), hive.walk(Hive::ROOT).len()),
            Err(e) => panic!("a hive dart wrote does not read back: {e}"),
        }
    }
    if let Ok(store) = Store::parse(data, origin) {
        let by_id = |mut v: StoreView| {
            v.objects.sort_by(|a, b| a.id.cmp(&b.id));
            v
        };
        let view = by_id(store.view());
        let _ = store.to_text();
        match Store::parse(&store.to_bytes(), origin) {
            Ok(back) => assert_eq!(by_id(back.view()), view),
            Err(e) => panic!("a store dart wrote does not read back: {e}"),
        }
    }
}
