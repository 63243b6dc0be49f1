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
/// store dart accepts does not survive its own round trip. Each input is
/// parsed twice and written once (the store is the hive read, and the
/// store written is the hive written), so the target runs at the speed of
/// the reader and writer rather than of repeated work.
#[cfg(feature = "fuzzing")]
pub fn fuzz_one(data: &[u8]) {
    use crate::formats::regf::Hive;
    let Ok(hive) = Hive::parse(data) else {
        return;
    };
    let again = match Hive::parse(&hive.to_bytes()) {
        Ok(again) => again,
        Err(e) => panic!("a hive dart wrote does not read back: {e}"),
    };
    assert_eq!(again.walk(Hive::ROOT).len(), hive.walk(Hive::ROOT).len());
    if hive.child(Hive::ROOT, "Objects").is_none() {
        return;
    }
    let origin = std::path::PathBuf::from("fuzz");
    let store = Store {
        hive,
        origin: origin.clone(),
    };
    // Listing must not panic (the text listing builds the JSON one).
    let _ = store.to_text();
    let back = Store {
        hive: again,
        origin,
    };
    // The decoded objects (everything a listing shows derives from them)
    // in a canonical order: a hive may hold two keys for one id (names
    // differing in case), which the writer lays out sorted, so a read and
    // a re-read may order them otherwise.
    let canonical = |store: &Store| {
        let mut objects = store.objects();
        objects.sort_by(|a, b| {
            a.id.cmp(&b.id)
                .then_with(|| format!("{a:?}").cmp(&format!("{b:?}")))
        });
        objects
    };
    assert_eq!(
        canonical(&back),
        canonical(&store),
        "a store dart wrote reads back otherwise"
    );
}
