//! The planner: which deployment method suits a site.

use std::ffi::c_char;

use dart_core::plan::{self, SiteFacts};

use crate::args::{arg_str, out_ptr};
use crate::error::dart_result;
use crate::panic::guard;
use crate::strings::put_json;

/// Ranks the deployment methods for a site. `facts_json` is a JSON object of
/// site facts (unknown keys are an error); `out` receives the plan as JSON.
///
/// # Safety
/// `facts_json` is nul-terminated; `out` receives a string to free with `dart_string_free`.
#[no_mangle]
pub unsafe extern "C" fn dart_plan_json(
    facts_json: *const c_char,
    out: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let json = unsafe { arg_str(facts_json, "facts_json") }?;
        let facts = SiteFacts::from_json(json)?;
        out_ptr(out, "out")?;
        put_json(out, &plan::plan(&facts))
    })
}
