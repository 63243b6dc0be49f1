//! The panic boundary: every exported body runs under [`catch`] (or
//! [`guard`], its form for calls that return a [`dart_result`]), so no panic
//! unwinds into C.
//!
//! What a call returns when its body panicked depends only on its return
//! type ([`PanicValue`]): `DART_ERR_PANIC` for a `dart_result`, 0 for a
//! count or index, an empty static string for a `const char *`, nothing for
//! `void`. A new return type needs its own implementation. Each exported function's
//! documentation repeats the value it returns. The last error message then
//! says that the library panicked.

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{dart_result, set_last_error, FfiError};

/// The last error message after a panic.
pub(crate) const PANIC_MESSAGE: &str = "internal error: dart panicked; please report this bug";

/// A return type of an exported function, and what it returns after a panic.
pub(crate) trait PanicValue {
    /// The value returned when the body panicked.
    fn on_panic() -> Self;
}

impl PanicValue for dart_result {
    fn on_panic() -> Self {
        dart_result::DART_ERR_PANIC
    }
}

impl PanicValue for () {
    fn on_panic() -> Self {}
}

impl PanicValue for u32 {
    fn on_panic() -> Self {
        0
    }
}

impl PanicValue for usize {
    fn on_panic() -> Self {
        0
    }
}

/// The string getters (`dart_version`, `dart_last_error_message`) return
/// static strings the caller must not free; after a panic they return "".
impl PanicValue for *const c_char {
    fn on_panic() -> Self {
        const EMPTY: &CStr = c"";
        EMPTY.as_ptr()
    }
}

/// Runs an exported body; a panic becomes [`PanicValue::on_panic`] and the
/// last error message [`PANIC_MESSAGE`].
pub(crate) fn catch<R: PanicValue>(body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(_) => {
            set_last_error(PANIC_MESSAGE);
            R::on_panic()
        }
    }
}

/// Runs a fallible exported body: `DART_OK`, or the error's code with its
/// message recorded, or `DART_ERR_PANIC` (see [`catch`]).
pub(crate) fn guard(body: impl FnOnce() -> Result<(), FfiError>) -> dart_result {
    catch(|| match body() {
        Ok(()) => dart_result::DART_OK,
        Err(e) => e.record(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::dart_last_error_message;

    fn last_error() -> String {
        // SAFETY: dart_last_error_message returns a valid nul-terminated string.
        unsafe { CStr::from_ptr(dart_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    /// The value a panicking body of return type `R` gives, and the message left.
    fn after_panic<R: PanicValue>() -> (R, String) {
        let value = catch::<R>(|| panic!("a bug"));
        (value, last_error())
    }

    #[test]
    fn a_panicking_getter_returns_its_documented_value() {
        let (count, message) = after_panic::<u32>();
        assert_eq!(count, 0);
        assert_eq!(message, PANIC_MESSAGE);
        assert_eq!(after_panic::<usize>().0, 0);
        let (text, _) = after_panic::<*const c_char>();
        assert!(!text.is_null());
        // SAFETY: on_panic gives a static nul-terminated string.
        assert_eq!(unsafe { CStr::from_ptr(text) }, c"");
        after_panic::<()>();
    }

    #[test]
    fn a_panicking_fallible_body_returns_err_panic() {
        assert_eq!(guard(|| panic!("a bug")), dart_result::DART_ERR_PANIC);
        assert_eq!(last_error(), PANIC_MESSAGE);
    }

    #[test]
    fn bodies_that_return_pass_through() {
        assert_eq!(catch(|| 7u32), 7);
        assert_eq!(guard(|| Ok(())), dart_result::DART_OK);
        assert_eq!(
            guard(|| Err(FfiError::Null("image"))),
            dart_result::DART_ERR_NULL_ARGUMENT
        );
        assert_eq!(last_error(), "argument image is NULL");
    }
}
