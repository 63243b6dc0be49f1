//! `dart_bcd_store`: a BCD store (the boot menu of Windows Boot Manager)
//! held in memory, read from and saved to a file, listed and edited.
//!
//! Edits change only the handle; the file changes when
//! `dart_bcd_store_save` writes it (beside the old file, synced, then
//! renamed over it, so a crash leaves the old store or the new one). Object
//! ids are given as `{guid}` (braces optional), a bcdedit alias
//! (`{bootmgr}`) or `{default}`; ids are returned as `{guid}`. A store
//! that is damaged, dirty (Windows left changes in its log files) or does
//! not allow an edit gives `DART_ERR_BOOT_STORE`; a malformed argument
//! `DART_ERR_INVALID_INPUT`; both messages name the input.
//!
//! The same calls from Rust (this example runs as a doctest; the C test
//! `tests/c/test_dart.c` does it from C, and the header's comment on
//! `dart_bcd_store` shows it in C):
//!
//! ```
//! use std::ffi::{CStr, CString};
//! use std::ptr::{null, null_mut};
//! use dart::*;
//!
//! let path = std::env::temp_dir().join(format!("dart-doc-bcd-{}", std::process::id()));
//! let c_path = CString::new(path.to_str().unwrap()).unwrap();
//! // SAFETY: nul-terminated strings, valid out-pointers, each handle and string freed once.
//! unsafe {
//!     let mut store = null_mut();
//!     assert_eq!(dart_bcd_store_new(c"uefi".as_ptr(), &mut store), dart_result::DART_OK);
//!     let mut id = null_mut();
//!     let wim = c"\\sources\\full.wim".as_ptr();
//!     let r = dart_bcd_store_add_winpe(store, c"DaRT (full)".as_ptr(), wim, null(), null(), true, &mut id);
//!     assert_eq!(r, dart_result::DART_OK);
//!     assert_eq!(dart_bcd_store_set_timeout(store, 10), dart_result::DART_OK);
//!     assert_eq!(dart_bcd_store_save(store, c_path.as_ptr()), dart_result::DART_OK);
//!     dart_bcd_store_free(store);
//!
//!     let mut again = null_mut();
//!     assert_eq!(dart_bcd_store_open(c_path.as_ptr(), &mut again), dart_result::DART_OK);
//!     let mut json = null_mut();
//!     assert_eq!(dart_bcd_store_to_json(again, &mut json), dart_result::DART_OK);
//!     let id_text = CStr::from_ptr(id).to_str().unwrap();
//!     assert!(CStr::from_ptr(json).to_str().unwrap().contains(id_text));
//!     dart_string_free(json);
//!     dart_string_free(id);
//!     dart_bcd_store_free(again);
//! }
//! std::fs::remove_file(&path).unwrap();
//! ```

use std::ffi::c_char;

use dart_core::formats::bcd::{Store, WinPeEntry};
use dart_core::model::media::Firmware;

use crate::args::{arg_str, opt_str, out_ptr};
use crate::error::{dart_result, FfiError};
use crate::handle::{borrow, borrow_mut, free, into_handle, Handle};
use crate::panic::{catch, guard};
use crate::strings::{put_json, put_string};

/// A BCD store held in memory; the file changes only when
/// `dart_bcd_store_save` writes it.
///
/// ```c
/// dart_bcd_store *store = NULL;
/// char *id = NULL;
/// if (dart_bcd_store_new("uefi", &store) == DART_OK &&
///     dart_bcd_store_add_winpe(store, "DaRT (full)", "\\sources\\full.wim",
///                              NULL, NULL, true, &id) == DART_OK &&
///     dart_bcd_store_set_timeout(store, 10) == DART_OK &&
///     dart_bcd_store_save(store, "BCD") == DART_OK)
///     printf("added %s\n", id);
/// else
///     fprintf(stderr, "%s\n", dart_last_error_message());
/// dart_string_free(id);
/// dart_bcd_store_free(store);
/// ```
pub struct dart_bcd_store {
    _private: [u8; 0],
}

impl Handle for dart_bcd_store {
    type Target = Store;
}

/// Creates a new store for `firmware` ("bios" or "uefi") with the objects
/// Windows media stores carry (boot manager, memory tester, the
/// inheritable settings, the media's device options) and no boot entries.
///
/// # Safety
/// `firmware` is nul-terminated; `out` points to a `dart_bcd_store *`.
#[no_mangle]
pub unsafe extern "C" fn dart_bcd_store_new(
    firmware: *const c_char,
    out: *mut *mut dart_bcd_store,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let firmware = unsafe { arg_str(firmware, "firmware") }?;
        let out = out_ptr(out, "out")?;
        *out = into_handle(Store::new(firmware.parse::<Firmware>()?)?);
        Ok(())
    })
}

/// Reads the store file at `path`. A damaged or dirty hive, or a hive that
/// is not a BCD store, gives `DART_ERR_BOOT_STORE`.
///
/// # Safety
/// `path` is nul-terminated; `out` points to a `dart_bcd_store *`.
#[no_mangle]
pub unsafe extern "C" fn dart_bcd_store_open(
    path: *const c_char,
    out: *mut *mut dart_bcd_store,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let path = unsafe { arg_str(path, "path") }?;
        let out = out_ptr(out, "out")?;
        *out = into_handle(Store::open(path)?);
        Ok(())
    })
}

/// Frees a store handle (the file is not touched). NULL is accepted.
///
/// # Safety
/// `store` is NULL or a handle from `dart_bcd_store_new` or
/// `dart_bcd_store_open` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn dart_bcd_store_free(store: *mut dart_bcd_store) {
    // SAFETY: forwarded from the caller's contract.
    catch(|| unsafe { free(store) })
}

/// Writes the store to `path`: a temporary file beside it, synced, then
/// renamed over the old file. A failure leaves the old file as it was.
///
/// # Safety
/// `store` is a live handle; `path` is nul-terminated.
#[no_mangle]
pub unsafe extern "C" fn dart_bcd_store_save(
    store: *const dart_bcd_store,
    path: *const c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (path, store) = unsafe { (arg_str(path, "path")?, borrow(store, "store")?) };
        store.save(path)?;
        Ok(())
    })
}

/// The store as JSON: `{"objects": [{"id", "alias", "type", "name",
/// "description", "elements": [{"code", "name", "value"}]}]}`, the boot
/// manager first, then the menu's entries in order, then the rest.
///
/// # Safety
/// `store` is a live handle; `out` receives a string to free with `dart_string_free`.
#[no_mangle]
pub unsafe extern "C" fn dart_bcd_store_to_json(
    store: *const dart_bcd_store,
    out: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let view = unsafe { borrow(store, "store") }?.view();
        out_ptr(out, "out")?;
        put_json(out, &view)
    })
}

/// The store listed as `bcdedit /enum all` lists it.
///
/// # Safety
/// `store` is a live handle; `out` receives a string to free with `dart_string_free`.
#[no_mangle]
pub unsafe extern "C" fn dart_bcd_store_to_text(
    store: *const dart_bcd_store,
    out: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let text = unsafe { borrow(store, "store") }?.to_text();
        put_string(out_ptr(out, "out")?, text);
        Ok(())
    })
}

/// Adds a WinPE entry booting the WIM `wim` (a path on the boot device such
/// as `\sources\boot.wim`) from a RAM disk, at the end of the menu; it
/// becomes the default when `make_default` is set or the store has no
/// default. `sdi` is the path of `boot.sdi` (NULL: `\boot\boot.sdi`);
/// `firmware` ("bios" or "uefi") picks the loader (NULL: as the store's
/// other entries). `id_out` (may be NULL) receives the new entry's id as
/// `{guid}` (free with `dart_string_free`).
///
/// # Safety
/// `store` is a live handle; `description` and `wim` are nul-terminated;
/// `sdi` and `firmware` are NULL or nul-terminated; `id_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_bcd_store_add_winpe(
    store: *mut dart_bcd_store,
    description: *const c_char,
    wim: *const c_char,
    sdi: *const c_char,
    firmware: *const c_char,
    make_default: bool,
    id_out: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (description, wim, sdi, firmware) = unsafe {
            (
                arg_str(description, "description")?,
                arg_str(wim, "wim")?,
                opt_str(sdi, "sdi")?,
                opt_str(firmware, "firmware")?,
            )
        };
        let mut entry = WinPeEntry::new(description, wim);
        if let Some(sdi) = sdi {
            entry.sdi = sdi.to_string();
        }
        entry.firmware = firmware.map(str::parse::<Firmware>).transpose()?;
        // SAFETY: forwarded from the caller's contract.
        let store = unsafe { borrow_mut(store, "store") }?;
        let id = store.add_winpe(&entry, make_default)?;
        if !id_out.is_null() {
            put_string(out_ptr(id_out, "id_out")?, format!("{{{id}}}"));
        }
        Ok(())
    })
}

/// Removes the object `id`: from the menu, as the default (the first entry
/// left becomes the default), and the device-options objects nothing
/// references any more.
///
/// # Safety
/// `store` is a live handle; `id` is nul-terminated.
#[no_mangle]
pub unsafe extern "C" fn dart_bcd_store_remove(
    store: *mut dart_bcd_store,
    id: *const c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (id, store) = unsafe { (arg_str(id, "id")?, borrow_mut(store, "store")?) };
        let id = store.resolve(id)?;
        store.remove(id)?;
        Ok(())
    })
}

/// Sets the menu timeout in seconds (0 to 999).
///
/// # Safety
/// `store` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn dart_bcd_store_set_timeout(
    store: *mut dart_bcd_store,
    seconds: u64,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        unsafe { borrow_mut(store, "store") }?.set_timeout(seconds)?;
        Ok(())
    })
}

/// Makes the boot entry `id` the default (and puts it first in the menu
/// when the menu lacks it).
///
/// # Safety
/// `store` is a live handle; `id` is nul-terminated.
#[no_mangle]
pub unsafe extern "C" fn dart_bcd_store_set_default(
    store: *mut dart_bcd_store,
    id: *const c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (id, store) = unsafe { (arg_str(id, "id")?, borrow_mut(store, "store")?) };
        let id = store.resolve(id)?;
        store.set_default(id)?;
        Ok(())
    })
}

/// Sets the menu to the `n` boot entries of `ids`, in order. Each must be
/// an entry of the store, once; the default must stay in the menu. `ids`
/// may be NULL when `n` is 0.
///
/// # Safety
/// `store` is a live handle; `ids` points to `n` nul-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn dart_bcd_store_set_display_order(
    store: *mut dart_bcd_store,
    ids: *const *const c_char,
    n: usize,
) -> dart_result {
    guard(|| {
        let ids = match (ids.is_null(), n) {
            (_, 0) => &[][..],
            (true, _) => return Err(FfiError::Null("ids")),
            // SAFETY: non-NULL and `n` elements long (caller's contract).
            (false, _) => unsafe { std::slice::from_raw_parts(ids, n) },
        };
        // SAFETY: forwarded from the caller's contract.
        let store = unsafe { borrow_mut(store, "store") }?;
        let order = ids
            .iter()
            // SAFETY: each element is a nul-terminated string (caller's contract).
            .map(|p| Ok(store.resolve(unsafe { arg_str(*p, "ids[i]") }?)?))
            .collect::<Result<Vec<_>, FfiError>>()?;
        store.set_display_order(&order)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, CString};
    use std::ptr::{null, null_mut};

    use super::*;
    use crate::error::dart_last_error_message;
    use crate::strings::dart_string_free;

    fn last_error() -> String {
        // SAFETY: dart_last_error_message returns a valid nul-terminated string.
        unsafe { CStr::from_ptr(dart_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    /// Takes a string returned through `char **`.
    fn take_string(s: *mut c_char) -> String {
        assert!(!s.is_null());
        // SAFETY: s came from put_string and is freed right after.
        let text = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
        // SAFETY: s is a string of this library not yet freed.
        unsafe { dart_string_free(s) };
        text
    }

    #[test]
    fn a_store_is_built_edited_and_listed() {
        let mut store = null_mut();
        // SAFETY: valid strings and out-pointers throughout; handles freed once.
        unsafe {
            assert_eq!(
                dart_bcd_store_new(c"uefi".as_ptr(), &mut store),
                dart_result::DART_OK
            );
            let (mut a, mut b) = (null_mut(), null_mut());
            let r = dart_bcd_store_add_winpe(
                store,
                c"A".as_ptr(),
                c"\\sources\\a.wim".as_ptr(),
                null(),
                null(),
                false,
                &mut a,
            );
            assert_eq!(r, dart_result::DART_OK);
            let r = dart_bcd_store_add_winpe(
                store,
                c"B".as_ptr(),
                c"\\sources\\b.wim".as_ptr(),
                c"\\boot\\b.sdi".as_ptr(),
                c"bios".as_ptr(),
                true,
                &mut b,
            );
            assert_eq!(r, dart_result::DART_OK);
            let (a, b) = (take_string(a), take_string(b));
            assert!(a.starts_with('{') && a.ends_with('}') && a != b);
            let ids = [CString::new(b.clone()).unwrap(), CString::new(a).unwrap()];
            let ptrs = [ids[0].as_ptr(), ids[1].as_ptr()];
            assert_eq!(
                dart_bcd_store_set_display_order(store, ptrs.as_ptr(), 2),
                dart_result::DART_OK
            );
            let mut json = null_mut();
            assert_eq!(
                dart_bcd_store_to_json(store, &mut json),
                dart_result::DART_OK
            );
            let json = take_string(json);
            assert!(json.contains("\"A\"") && json.contains("\\\\boot\\\\b.sdi"));
            assert_eq!(
                dart_bcd_store_set_default(store, c"{globalsettings}".as_ptr()),
                dart_result::DART_ERR_BOOT_STORE
            );
            assert!(
                last_error().contains("not a boot entry"),
                "{}",
                last_error()
            );
            assert_eq!(
                dart_bcd_store_remove(store, c"nonsense".as_ptr()),
                dart_result::DART_ERR_INVALID_INPUT
            );
            assert!(last_error().contains("nonsense"));
            assert_eq!(
                dart_bcd_store_set_display_order(store, null(), 1),
                dart_result::DART_ERR_NULL_ARGUMENT
            );
            let mut text = null_mut();
            assert_eq!(
                dart_bcd_store_to_text(store, &mut text),
                dart_result::DART_OK
            );
            let text = take_string(text);
            assert!(text.contains("Windows Boot Manager") && text.contains("{default}"));
            dart_bcd_store_free(store);
        }
    }

    #[test]
    fn null_arguments_are_named() {
        let mut store = null_mut();
        // SAFETY: NULL is allowed everywhere here; the new handle is freed.
        unsafe {
            assert_eq!(
                dart_bcd_store_new(null(), &mut store),
                dart_result::DART_ERR_NULL_ARGUMENT
            );
            assert_eq!(last_error(), "argument firmware is NULL");
            assert_eq!(
                dart_bcd_store_new(c"both".as_ptr(), &mut store),
                dart_result::DART_ERR_INVALID_INPUT
            );
            assert!(store.is_null());
            assert_eq!(
                dart_bcd_store_set_timeout(null_mut(), 3),
                dart_result::DART_ERR_NULL_ARGUMENT
            );
            assert_eq!(last_error(), "argument store is NULL");
            assert_eq!(
                dart_bcd_store_new(c"bios".as_ptr(), &mut store),
                dart_result::DART_OK
            );
            assert_eq!(
                dart_bcd_store_to_json(store, null_mut()),
                dart_result::DART_ERR_NULL_ARGUMENT
            );
            dart_bcd_store_free(store);
            dart_bcd_store_free(null_mut());
        }
    }
}
