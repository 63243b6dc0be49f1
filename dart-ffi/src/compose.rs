//! Building recovery images from a `dart_recipe`: one image, or several
//! variants in one pass.

use std::ffi::{c_char, c_void};

use dart_core::image::{self, ImageVariant};

use crate::args::arg_str;
use crate::error::{dart_result, FfiError};
use crate::handle::borrow;
use crate::panic::guard;
use crate::progress::{control_for, dart_progress_fn};
use crate::recipe::dart_recipe;
use crate::strings::put_json;
use crate::tools::tools_from_bits;

/// Builds one recovery image with `tools` into `output`. `report_json` may be
/// NULL; otherwise it receives the build report (free with `dart_string_free`).
///
/// # Safety
/// `recipe` is a live handle; `output` is nul-terminated; `report_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_build_image(
    recipe: *const dart_recipe,
    tools: u32,
    output: *const c_char,
    report_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let output = unsafe { arg_str(output, "output") }?;
        let variant = ImageVariant::new(tools_from_bits(tools)?, output);
        // SAFETY: forwarded from the caller's contract.
        let recipe = unsafe { borrow(recipe, "recipe") }?;
        let report = image::build_image(recipe, &variant)?;
        put_json(report_json, &report)
    })
}

/// Builds `count` variants in one pass: `tools[i]` goes to `outputs[i]`.
/// `progress` may be NULL; returning `false` from it cancels the build,
/// which then returns `DART_ERR_CANCELLED` and leaves no output.
///
/// # Safety
/// `recipe` is a live handle; `tools` and `outputs` point to `count` elements;
/// `report_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_build_variants(
    recipe: *const dart_recipe,
    tools: *const u32,
    outputs: *const *const c_char,
    count: usize,
    progress: dart_progress_fn,
    user: *mut c_void,
    report_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        if count > 0 && (tools.is_null() || outputs.is_null()) {
            return Err(FfiError::Null(if tools.is_null() {
                "tools"
            } else {
                "outputs"
            }));
        }
        let (tools, outputs) = if count == 0 {
            (&[][..], &[][..])
        } else {
            // SAFETY: non-NULL and `count` elements long (caller's contract).
            unsafe {
                (
                    std::slice::from_raw_parts(tools, count),
                    std::slice::from_raw_parts(outputs, count),
                )
            }
        };
        let variants = tools
            .iter()
            .zip(outputs)
            .map(|(t, o)| {
                // SAFETY: each output is a nul-terminated string (caller's contract).
                let output = unsafe { arg_str(*o, "outputs[i]") }?;
                Ok(ImageVariant::new(tools_from_bits(*t)?, output))
            })
            .collect::<Result<Vec<_>, FfiError>>()?;
        // SAFETY: forwarded from the caller's contract.
        let recipe = unsafe { borrow(recipe, "recipe") }?;
        let report = image::build_variants(recipe, &variants, &control_for(progress, user))?;
        put_json(report_json, &report)
    })
}
