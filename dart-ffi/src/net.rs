//! The network boot server: stage images into a server root, read its
//! catalog, run the boot server (TFTP and proxy-DHCP under an access
//! policy). Each function converts its arguments, calls one
//! `dart_core::net` function and converts the result.

use std::ffi::{c_char, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use dart_core::deploy::{self, StageOptions};
use dart_core::net::settings::{EventRecord, ServeSettings};
use dart_core::net::{AccessPolicy, BootEvent, BootServer, Catalog};

use crate::args::{arg_str, opt_str, out_ptr};
use crate::error::dart_result;
use crate::handle::{borrow, into_handle, take, Handle};
use crate::panic::{catch, guard};
use crate::progress::{control_for, dart_progress_fn};
use crate::strings::put_json;

fn stage_options(json: &str) -> dart_core::Result<StageOptions> {
    serde_json::from_str(json).map_err(|e| dart_core::Error::InvalidSetting {
        field: "stage options",
        value: json.to_string(),
        reason: e.to_string(),
    })
}

/// Stages the media `media` (a directory or an ISO image; with the built
/// image `wim` as its `sources/boot.wim` unless NULL) into the boot
/// server root `root` as the next version of an image, and names it in the
/// root's catalog. `options_json` is a JSON object: `name` (required: 1 to
/// 64 letters, digits, `.`, `_` or `-`), and optionally `role`
/// (`"recovery"`, the default, any client may boot it; or `"imaging"`,
/// only clients a policy rule lists), `arch` (`"x86"`, `"x64"`, `"arm64"`;
/// default: the one the media has a UEFI loader for), `bios_loader` (path
/// in the media; default: `boot/pxeboot.n12` and the like if present),
/// `keep` (versions kept on disk, at least 2; default 2).
///
/// The files are copied into `images/NAME/VERSION` first and the catalog
/// is switched atomically after, so a running server never sees a
/// half-copied image. `progress` (may be NULL) is called on the calling
/// thread; returning `false` cancels (`DART_ERR_CANCELLED`), which removes
/// the partial copy and leaves the catalog as it was. `entry_json` (may be
/// NULL) receives the new catalog entry (free with `dart_string_free`).
///
/// # Safety
/// `media`, `root` and `options_json` are nul-terminated; `entry_json` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_stage(
    media: *const c_char,
    wim: *const c_char,
    root: *const c_char,
    options_json: *const c_char,
    progress: dart_progress_fn,
    user: *mut c_void,
    entry_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (media, wim, root, options) = unsafe {
            (
                arg_str(media, "media")?,
                opt_str(wim, "wim")?,
                arg_str(root, "root")?,
                arg_str(options_json, "options_json")?,
            )
        };
        let options = stage_options(options)?;
        let spec = deploy::MediumSpec {
            wim: wim.map(Into::into),
            ..deploy::MediumSpec::new(media)
        };
        let entry =
            deploy::stage_from(spec, root.as_ref(), &options, &control_for(progress, user))?;
        put_json(entry_json, &entry)
    })
}

/// Reads the catalog of the boot server root `root`: `out` receives JSON
/// `{"images": [...], "retired": [...]}` (the current version of each
/// image, and older versions kept on disk). A root without a catalog has an
/// empty one.
///
/// # Safety
/// `root` is nul-terminated; `out` receives a string to free with `dart_string_free`.
#[no_mangle]
pub unsafe extern "C" fn dart_catalog_json(
    root: *const c_char,
    out: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let root = unsafe { arg_str(root, "root") }?;
        out_ptr(out, "out")?;
        put_json(out, &Catalog::load(root.as_ref())?)
    })
}

/// A running boot server.
pub struct dart_boot_server {
    _private: [u8; 0],
}

impl Handle for dart_boot_server {
    type Target = BootServer;
}

/// Event callback of a boot server: `event_json` is one JSON object (one
/// line) with `kind` (`"offered"`, `"denied"`, `"tftp-started"`,
/// `"tftp-finished"`, `"tftp-denied"`, `"tftp-aborted"`, `"tftp-failed"`,
/// `"dhcp-offered"`, `"dhcp-silent"`, `"dhcp-malformed"`, `"dhcp-failed"`,
/// `"other"`), `message` (a log line) and, when known, `client`, `target`
/// (image or file), `rule` (the policy rule) and `at` (`"dhcp"` or
/// `"tftp"`, for denials). The string is valid only during the call.
///
/// It is called from the server's own threads, possibly from several at
/// once: it must be thread-safe, should return quickly (a slow callback
/// slows the transfer that reports), and must not call
/// `dart_boot_server_stop` on its server (which waits for those threads).
pub type dart_event_fn = Option<unsafe extern "C" fn(user: *mut c_void, event_json: *const c_char)>;

/// The C callback and its user pointer, called from the server's threads.
struct EventTarget {
    callback: unsafe extern "C" fn(*mut c_void, *const c_char),
    user: *mut c_void,
}

// SAFETY: the caller of dart_boot_server_start vouches that the callback
// and its user pointer may be used from any thread, concurrently, until
// dart_boot_server_stop returns (the documented contract of dart_event_fn);
// this type only passes them to the callback.
unsafe impl Send for EventTarget {}
// SAFETY: as above.
unsafe impl Sync for EventTarget {}

impl EventTarget {
    /// Reports one event; nothing unwinds out of it into the server thread
    /// or the C callback.
    fn report(&self, event: &BootEvent) {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let Ok(json) = serde_json::to_string(&EventRecord::from(event)) else {
                return;
            };
            // JSON escapes NUL, so the conversion cannot fail.
            let Ok(json) = CString::new(json) else {
                return;
            };
            // SAFETY: the caller's callback with its own user pointer and a
            // nul-terminated string that lives for the duration of the call.
            unsafe { (self.callback)(self.user, json.as_ptr()) };
        }));
    }
}

/// Starts a boot server. `settings_json` is a JSON object: `root`
/// (required: the server root with the staged images and the catalog),
/// `policy` (the access policy, inline) or `policy_file` (a JSON file),
/// `tftp` (where TFTP listens, default `"0.0.0.0:69"`; port 0 lets the
/// system choose, see `dart_boot_server_tftp_port`), `tftp_reply_ports`
/// (`[first, last]`), `max_transfers`, `proxy_dhcp` (a network interface
/// name: also answer PXE clients with proxy-DHCP there), `server_ip`
/// (this server's address for PXE clients; default: the interface's),
/// `http` (also serve over HTTP there, e.g. `"0.0.0.0:80"`; see
/// `dart_boot_server_http_port`) and `boot_url` (point UEFI HTTP Boot and
/// iPXE clients at a `dart export` of the root served at that URL). A
/// wrong setting fails with `DART_ERR_INVALID_INPUT` naming it; a port that
/// cannot be bound with `DART_ERR_IO`.
///
/// TFTP and proxy-DHCP run on threads of their own; this call returns at
/// once. `event` (may be NULL) is called for each event, from those threads,
/// with `user` (see `dart_event_fn`). `out_server` receives the handle, which
/// may be used from any thread; stop it with `dart_boot_server_stop`.
///
/// # Safety
/// `settings_json` is nul-terminated; `out_server` points to a
/// `dart_boot_server *`; `event` and `user` may be used from any thread until
/// `dart_boot_server_stop` returns.
#[no_mangle]
pub unsafe extern "C" fn dart_boot_server_start(
    settings_json: *const c_char,
    event: dart_event_fn,
    user: *mut c_void,
    out_server: *mut *mut dart_boot_server,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let json = unsafe { arg_str(settings_json, "settings_json") }?;
        let out = out_ptr(out_server, "out_server")?;
        let settings = ServeSettings::from_json(json)?;
        let events = event.map(|callback| {
            let target = EventTarget { callback, user };
            Box::new(move |e: BootEvent| target.report(&e)) as Box<dyn Fn(BootEvent) + Send + Sync>
        });
        *out = into_handle(settings.start(events)?);
        Ok(())
    })
}

/// The UDP port TFTP listens on (the one the system chose when the
/// settings gave port 0).
///
/// # Safety
/// `server` is a live handle; `out_port` points to a `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn dart_boot_server_tftp_port(
    server: *const dart_boot_server,
    out_port: *mut u16,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let addr = unsafe { borrow(server, "server") }?.tftp_addr();
        *out_ptr(out_port, "out_port")? = addr.map_or(0, |a| a.port());
        Ok(())
    })
}

/// The TCP port HTTP listens on (the one the system chose when the
/// settings gave port 0), or 0 when the server serves no HTTP.
///
/// # Safety
/// `server` is a live handle; `out_port` points to a `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn dart_boot_server_http_port(
    server: *const dart_boot_server,
    out_port: *mut u16,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let addr = unsafe { borrow(server, "server") }?.http_addr();
        *out_ptr(out_port, "out_port")? = addr.map_or(0, |a| a.port());
        Ok(())
    })
}

/// Replaces the access policy (JSON, as the `policy` setting); requests
/// after this call are judged by the new one. A policy that does not parse,
/// or has unnamed or duplicate rules, fails with `DART_ERR_INVALID_INPUT`
/// and the old policy stays.
///
/// # Safety
/// `server` is a live handle; `policy_json` is nul-terminated.
#[no_mangle]
pub unsafe extern "C" fn dart_boot_server_set_policy(
    server: *const dart_boot_server,
    policy_json: *const c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (json, server) = unsafe {
            (
                arg_str(policy_json, "policy_json")?,
                borrow(server, "server")?,
            )
        };
        server.set_policy(AccessPolicy::from_json(json)?);
        Ok(())
    })
}

/// The catalog the server offers now, as JSON (as `dart_catalog_json`).
///
/// # Safety
/// `server` is a live handle; `out` receives a string to free with `dart_string_free`.
#[no_mangle]
pub unsafe extern "C" fn dart_boot_server_catalog_json(
    server: *const dart_boot_server,
    out: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let server = unsafe { borrow(server, "server") }?;
        out_ptr(out, "out")?;
        put_json(out, &server.catalog())
    })
}

/// TFTP transfers running now; 0 if `server` is NULL, or if the library
/// panicked (then `dart_last_error_message` says so).
///
/// # Safety
/// `server` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dart_boot_server_active_transfers(
    server: *const dart_boot_server,
) -> usize {
    // SAFETY: forwarded from the caller's contract.
    catch(|| unsafe { borrow(server, "server") }.map_or(0, BootServer::active_transfers))
}

/// Stops the server and frees the handle: proxy-DHCP and TFTP stop,
/// running transfers end, and the call returns when every server thread
/// has ended (no event callback runs after it). NULL is accepted.
///
/// # Safety
/// `server` is NULL or a handle from `dart_boot_server_start` not yet
/// stopped; no other call on it may run concurrently, and it must not be
/// called from the server's event callback.
#[no_mangle]
pub unsafe extern "C" fn dart_boot_server_stop(server: *mut dart_boot_server) {
    catch(|| {
        // SAFETY: forwarded from the caller's contract.
        if let Some(server) = unsafe { take(server) } {
            server.stop();
        }
    })
}
