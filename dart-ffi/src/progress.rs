//! Progress callbacks from C: `dart_progress_fn` and the core `Control` that
//! reports to it and cancels when it returns `false`.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use dart_core::progress::{Control, Phase, Progress};

/// Progress callback: return `false` to cancel. Called on the calling thread.
pub type dart_progress_fn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        phase: *const c_char,
        item: *const c_char,
        done: u64,
        total: u64,
    ) -> bool,
>;

/// A C progress callback with its user pointer, as a core progress sink.
struct CProgress {
    callback: unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, u64, u64) -> bool,
    user: *mut c_void,
    control: Control,
}

// SAFETY: the callback and user pointer are only used during the build call
// that received them, on the caller's thread (wimlib reports progress on the
// thread that writes); the caller vouches for them for that duration.
unsafe impl Send for CProgress {}
// SAFETY: as above; no shared mutable state is touched by this type.
unsafe impl Sync for CProgress {}

impl Progress for CProgress {
    fn report(&self, phase: Phase, item: &str, done: u64, total: u64) {
        let phase = CString::new(phase.name()).unwrap_or_default();
        let item = CString::new(item.replace('\0', " ")).unwrap_or_default();
        // SAFETY: the caller's callback with its own user pointer and two
        // nul-terminated strings that live for the duration of the call.
        let go_on =
            unsafe { (self.callback)(self.user, phase.as_ptr(), item.as_ptr(), done, total) };
        if !go_on {
            self.control.cancel.cancel();
        }
    }
}

/// The core control of a call: progress goes to `progress` (if not NULL)
/// with `user`, and returning `false` from it cancels the call.
pub(crate) fn control_for(progress: dart_progress_fn, user: *mut c_void) -> Control {
    let mut control = Control::default();
    if let Some(callback) = progress {
        let adapter = CProgress {
            callback,
            user,
            control: control.clone(),
        };
        control.progress = Arc::new(adapter);
    }
    control
}
