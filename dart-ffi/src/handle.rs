//! Opaque handles: how a Rust value becomes a `dart_*` pointer and back.
//!
//! A handle type (`dart_image`, `dart_recipe`, `dart_media`,
//! `dart_boot_server`, `dart_bcd_store`) is a zero-sized marker that C sees as an incomplete
//! struct; a pointer to it is really a `Box` of the Rust value it stands
//! for, [`Handle::Target`]. These functions are the only code that boxes,
//! borrows and frees handles: every handle type implements [`Handle`] and
//! uses them.

use crate::error::FfiError;

/// A C handle type and the Rust value behind its pointers.
pub(crate) trait Handle {
    /// The value a handle pointer owns.
    type Target;
}

/// Boxes `value` and gives the pointer handed to C (freed with [`free`] or
/// taken back with [`take`]).
pub(crate) fn into_handle<H: Handle>(value: H::Target) -> *mut H {
    Box::into_raw(Box::new(value)).cast()
}

/// Borrows the value behind a handle; NULL is [`FfiError::Null`] naming the
/// argument.
///
/// # Safety
/// `handle` is NULL or a pointer from [`into_handle`] for `H` that is not
/// freed, and not mutated elsewhere, while the borrow lives.
pub(crate) unsafe fn borrow<'a, H: Handle>(
    handle: *const H,
    name: &'static str,
) -> Result<&'a H::Target, FfiError> {
    // SAFETY: a non-NULL handle points to a live, boxed H::Target (caller's contract).
    unsafe { handle.cast::<H::Target>().as_ref() }.ok_or(FfiError::Null(name))
}

/// Borrows the value behind a handle mutably; NULL is [`FfiError::Null`]
/// naming the argument.
///
/// # Safety
/// `handle` is NULL or a pointer from [`into_handle`] for `H` that is not
/// freed, and not used elsewhere, while the borrow lives.
pub(crate) unsafe fn borrow_mut<'a, H: Handle>(
    handle: *mut H,
    name: &'static str,
) -> Result<&'a mut H::Target, FfiError> {
    // SAFETY: a non-NULL handle points to a live, boxed H::Target that no
    // one else uses meanwhile (caller's contract).
    unsafe { handle.cast::<H::Target>().as_mut() }.ok_or(FfiError::Null(name))
}

/// Takes the value back from a handle, which is then gone; NULL gives `None`.
///
/// # Safety
/// `handle` is NULL or a pointer from [`into_handle`] for `H`, not yet
/// taken or freed, and not used again.
pub(crate) unsafe fn take<H: Handle>(handle: *mut H) -> Option<Box<H::Target>> {
    // SAFETY: a non-NULL handle came from Box::into_raw in into_handle and
    // is given up by the caller.
    (!handle.is_null()).then(|| unsafe { Box::from_raw(handle.cast::<H::Target>()) })
}

/// Frees a handle; NULL is accepted.
///
/// # Safety
/// As [`take`].
pub(crate) unsafe fn free<H: Handle>(handle: *mut H) {
    // SAFETY: forwarded from the caller's contract.
    drop(unsafe { take(handle) });
}

#[cfg(test)]
mod tests {
    use super::*;

    struct marker {
        _private: [u8; 0],
    }
    impl Handle for marker {
        type Target = Vec<u32>;
    }

    #[test]
    fn a_value_round_trips_through_a_handle() {
        let h: *mut marker = into_handle::<marker>(vec![1, 2]);
        // SAFETY: h is live and unshared.
        if let Ok(v) = unsafe { borrow_mut(h, "h") } {
            v.push(3);
        }
        // SAFETY: h is live.
        let seen = unsafe { borrow(h, "h") }.ok().cloned();
        assert_eq!(seen, Some(vec![1, 2, 3]));
        // SAFETY: h is live and not used again.
        assert_eq!(unsafe { take(h) }.map(|b| *b), Some(vec![1, 2, 3]));
    }

    #[test]
    fn null_handles_are_named_errors_or_nothing() {
        // SAFETY: NULL is allowed.
        let err = unsafe { borrow::<marker>(std::ptr::null(), "media") }.err();
        assert!(matches!(err, Some(FfiError::Null("media"))));
        // SAFETY: NULL is allowed.
        assert!(unsafe { borrow_mut::<marker>(std::ptr::null_mut(), "m") }.is_err());
        // SAFETY: NULL is allowed.
        assert!(unsafe { take::<marker>(std::ptr::null_mut()) }.is_none());
        // SAFETY: NULL is allowed.
        unsafe { free::<marker>(std::ptr::null_mut()) };
    }
}
