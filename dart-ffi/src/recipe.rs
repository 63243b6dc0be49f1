//! `dart_recipe`: the settings every image of a build shares (dart-core's
//! `ImageRecipe`), created from a base WIM and a payload directory and
//! changed by one setter per setting.

use std::ffi::c_char;
use std::path::PathBuf;

use dart_core::image::ImageRecipe;

use crate::args::{arg_str, opt_str, out_ptr};
use crate::error::dart_result;
use crate::handle::{borrow_mut, free, into_handle, Handle};
use crate::panic::{catch, guard};

/// The shared settings of a build (see `ImageRecipe` in dart-core).
pub struct dart_recipe {
    _private: [u8; 0],
}

impl Handle for dart_recipe {
    type Target = ImageRecipe;
}

/// Creates a recipe from a base WinPE WIM and a payload directory.
///
/// # Safety
/// `base` and `payloads` are nul-terminated strings; `out` points to a `dart_recipe *`.
#[no_mangle]
pub unsafe extern "C" fn dart_recipe_new(
    base: *const c_char,
    payloads: *const c_char,
    out: *mut *mut dart_recipe,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (base, payloads) = unsafe { (arg_str(base, "base")?, arg_str(payloads, "payloads")?) };
        let out = out_ptr(out, "out")?;
        *out = into_handle(ImageRecipe::new(base, payloads));
        Ok(())
    })
}

/// Frees a recipe. NULL is accepted.
///
/// # Safety
/// `recipe` is NULL or a handle from `dart_recipe_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn dart_recipe_free(recipe: *mut dart_recipe) {
    // SAFETY: forwarded from the caller's contract.
    catch(|| unsafe { free(recipe) })
}

/// Sets the base image index (1-based); 0 means the base's boot image.
///
/// # Safety
/// `recipe` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn dart_recipe_set_base_index(
    recipe: *mut dart_recipe,
    index: u32,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let r = unsafe { borrow_mut(recipe, "recipe") }?;
        r.base_index = (index != 0).then_some(index);
        Ok(())
    })
}

/// Sets the image name and description (either may be NULL for the default).
///
/// # Safety
/// `recipe` is a live handle; strings are NULL or nul-terminated.
#[no_mangle]
pub unsafe extern "C" fn dart_recipe_set_name(
    recipe: *mut dart_recipe,
    name: *const c_char,
    description: *const c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (name, description, r) = unsafe {
            (
                opt_str(name, "name")?,
                opt_str(description, "description")?,
                borrow_mut(recipe, "recipe")?,
            )
        };
        r.name = name.map(str::to_string);
        r.description = description.map(str::to_string);
        Ok(())
    })
}

/// Sets the drivers directory (NULL for none).
///
/// # Safety
/// `recipe` is a live handle; `dir` is NULL or nul-terminated.
#[no_mangle]
pub unsafe extern "C" fn dart_recipe_set_drivers(
    recipe: *mut dart_recipe,
    dir: *const c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (dir, r) = unsafe { (opt_str(dir, "dir")?, borrow_mut(recipe, "recipe")?) };
        r.drivers = dir.map(PathBuf::from);
        Ok(())
    })
}

/// Sets Remote Connection: `port` 0 lets Windows choose; `message` may be NULL.
///
/// # Safety
/// `recipe` is a live handle; `message` is NULL or nul-terminated.
#[no_mangle]
pub unsafe extern "C" fn dart_recipe_set_remote(
    recipe: *mut dart_recipe,
    port: u16,
    message: *const c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (message, r) = unsafe { (opt_str(message, "message")?, borrow_mut(recipe, "recipe")?) };
        r.remote.port = (port != 0).then_some(port);
        r.remote.welcome_message = message.map(str::to_string);
        Ok(())
    })
}

/// Sets WinPE scratch space in MB (32, 64, 128, 256 or 512; 0 for the default).
///
/// # Safety
/// `recipe` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn dart_recipe_set_scratch_space(
    recipe: *mut dart_recipe,
    mb: u32,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let r = unsafe { borrow_mut(recipe, "recipe") }?;
        r.scratch_space_mb = (mb != 0).then_some(mb);
        Ok(())
    })
}

/// Sets the output compression ("none", "xpress", "lzx", "lzms"; NULL keeps the base's).
///
/// # Safety
/// `recipe` is a live handle; `name` is NULL or nul-terminated.
#[no_mangle]
pub unsafe extern "C" fn dart_recipe_set_compression(
    recipe: *mut dart_recipe,
    name: *const c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let name = unsafe { opt_str(name, "name") }?;
        let compression = name.map(str::parse).transpose()?;
        // SAFETY: forwarded from the caller's contract.
        unsafe { borrow_mut(recipe, "recipe") }?.compression = compression;
        Ok(())
    })
}

/// Sets the startup files (NULL generates the default for each).
///
/// # Safety
/// `recipe` is a live handle; strings are NULL or nul-terminated.
#[no_mangle]
pub unsafe extern "C" fn dart_recipe_set_startup(
    recipe: *mut dart_recipe,
    winpeshl_ini: *const c_char,
    startnet_cmd: *const c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (w, s, r) = unsafe {
            (
                opt_str(winpeshl_ini, "winpeshl_ini")?,
                opt_str(startnet_cmd, "startnet_cmd")?,
                borrow_mut(recipe, "recipe")?,
            )
        };
        r.startup.winpeshl_ini = w.map(str::to_string);
        r.startup.startnet_cmd = s.map(str::to_string);
        Ok(())
    })
}

/// Keeps the base's other images in the output, boot index on the composed one.
///
/// # Safety
/// `recipe` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn dart_recipe_set_keep_other_images(
    recipe: *mut dart_recipe,
    keep: bool,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        unsafe { borrow_mut(recipe, "recipe") }?.keep_other_images = keep;
        Ok(())
    })
}

/// Turns on deterministic output with this timestamp (Unix seconds).
///
/// # Safety
/// `recipe` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn dart_recipe_set_deterministic(
    recipe: *mut dart_recipe,
    unix_seconds: i64,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        unsafe { borrow_mut(recipe, "recipe") }?.deterministic = Some(unix_seconds);
        Ok(())
    })
}
