//! The boot server's client database: list, approve, deny, forget, import.
//! Each function converts its arguments, calls one
//! `dart_core::net::known` function and returns its result as JSON.

use std::ffi::c_char;

use dart_core::net::known::{self, Approval, ClientKey, ClientState};

use crate::args::{arg_str, opt_str};
use crate::error::{dart_result, FfiError};
use crate::panic::guard;
use crate::strings::put_json;

fn key(client: &str) -> Result<ClientKey, FfiError> {
    Ok(client.parse::<ClientKey>()?)
}

/// The clients recorded in the boot server root `root` as a JSON array
/// (pending first; each an object with `mac` or `uuid`, `state`, and
/// optionally `name`, `allow`, `boot`, `arch`, then `first_seen` and
/// `last_seen` in seconds since the Unix epoch), written to `clients_json`
/// (free it with `dart_string_free`). `state` is NULL (all) or
/// `"pending"`, `"approved"` or `"denied"`. A root without a client
/// database has none (nothing is created).
///
/// # Safety
/// `root` is a nul-terminated string, `state` NULL or one, `clients_json`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn dart_clients_list(
    root: *const c_char,
    state: *const c_char,
    clients_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (root, state) = unsafe { (arg_str(root, "root")?, opt_str(state, "state")?) };
        let state: Option<ClientState> = state.map(str::parse).transpose()?;
        let clients = known::list_clients(root.as_ref(), state)?;
        put_json(clients_json, &clients)
    })
}

/// Approves `client` (a MAC address or an SMBIOS UUID) in the client
/// database of the boot server root `root` (made when missing), pending or
/// not yet seen (pre-staging). `approval_json` is NULL or a JSON object
/// with optional `name`, `allow` (`"all"`, `"recovery"`, `"none"` or an
/// array of image names) and `boot` (an image it may boot). A running
/// server answers the client without a restart. A refused approval changes
/// and creates nothing. `record_json` (may be NULL) gets the client's
/// record.
///
/// # Safety
/// Strings are NULL (where allowed) or nul-terminated; `record_json` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_clients_approve(
    root: *const c_char,
    client: *const c_char,
    approval_json: *const c_char,
    record_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (root, client, approval) = unsafe {
            (
                arg_str(root, "root")?,
                arg_str(client, "client")?,
                opt_str(approval_json, "approval_json")?,
            )
        };
        let approval: Approval = match approval {
            None => Approval::default(),
            Some(j) => serde_json::from_str(j).map_err(|e| dart_core::Error::InvalidSetting {
                field: "approval",
                value: j.to_string(),
                reason: e.to_string(),
            })?,
        };
        let record = known::approve_client(root.as_ref(), &key(client)?, &approval)?;
        put_json(record_json, &record)
    })
}

/// Denies `client` in the client database of `root`: it is answered
/// nothing and not recorded as pending again. `record_json` may be NULL.
///
/// # Safety
/// Strings are nul-terminated; `record_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_clients_deny(
    root: *const c_char,
    client: *const c_char,
    record_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (root, client) = unsafe { (arg_str(root, "root")?, arg_str(client, "client")?) };
        let record = known::deny_client(root.as_ref(), &key(client)?)?;
        put_json(record_json, &record)
    })
}

/// Forgets `client` in the client database of `root` (if it asks again it
/// is pending again); `DART_ERR_INVALID_INPUT` when there is no such
/// client.
///
/// # Safety
/// Strings are nul-terminated.
#[no_mangle]
pub unsafe extern "C" fn dart_clients_forget(
    root: *const c_char,
    client: *const c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (root, client) = unsafe { (arg_str(root, "root")?, arg_str(client, "client")?) };
        known::forget_client(root.as_ref(), &key(client)?)?;
        Ok(())
    })
}

/// Pre-stages the clients of the CSV text `csv` (header
/// `mac,uuid,name,allow,boot`; `allow` names separated by `;`) in the
/// client database of `root`: all or none. `count` (may be NULL) gets how
/// many were approved.
///
/// # Safety
/// Strings are nul-terminated; `count` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_clients_import(
    root: *const c_char,
    csv: *const c_char,
    count: *mut usize,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (root, csv) = unsafe { (arg_str(root, "root")?, arg_str(csv, "csv")?) };
        let n = known::import_clients(root.as_ref(), csv)?;
        if !count.is_null() {
            // SAFETY: the caller passes NULL or a writable pointer.
            unsafe { *count = n };
        }
        Ok(())
    })
}
