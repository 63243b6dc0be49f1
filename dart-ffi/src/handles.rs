//! The exported functions: tools, images, recipes and builds, media sets,
//! the planner and fixtures.

use std::ffi::{c_char, c_void};
use std::path::PathBuf;
use std::sync::Arc;

use dart_core::arch::Architecture;
use dart_core::fixture::{self, FixtureOptions};
use dart_core::image::{self, ImageRecipe, ImageVariant, RecoveryImage};
use dart_core::media::{Firmware, MediaSet};
use dart_core::plan::{self, SiteFacts};
use dart_core::progress::{Control, Phase, Progress};
use dart_core::tools::{SupportLevels, Tools};

use crate::guard::{arg_str, dart_result, guard, opt_str, out_ptr, put_json, put_string, FfiError};

// ---------------------------------------------------------------- tools

/// Tool flag: Computer Management.
pub const DART_TOOL_COMPUTER_MANAGEMENT: u32 = 1 << 0;
/// Tool flag: Crash Analyzer.
pub const DART_TOOL_CRASH_ANALYZER: u32 = 1 << 1;
/// Tool flag: Defender.
pub const DART_TOOL_DEFENDER: u32 = 1 << 2;
/// Tool flag: Disk Commander.
pub const DART_TOOL_DISK_COMMANDER: u32 = 1 << 3;
/// Tool flag: Disk Wipe.
pub const DART_TOOL_DISK_WIPE: u32 = 1 << 4;
/// Tool flag: Explorer.
pub const DART_TOOL_EXPLORER: u32 = 1 << 5;
/// Tool flag: File Restore.
pub const DART_TOOL_FILE_RESTORE: u32 = 1 << 6;
/// Tool flag: File Search.
pub const DART_TOOL_FILE_SEARCH: u32 = 1 << 7;
/// Tool flag: Hotfix Uninstall.
pub const DART_TOOL_HOTFIX_UNINSTALL: u32 = 1 << 8;
/// Tool flag: Locksmith.
pub const DART_TOOL_LOCKSMITH: u32 = 1 << 9;
/// Tool flag: Registry Editor.
pub const DART_TOOL_REGISTRY_EDITOR: u32 = 1 << 10;
/// Tool flag: Remote Connection.
pub const DART_TOOL_REMOTE_CONNECTION: u32 = 1 << 11;
/// Tool flag: SFC Scan.
pub const DART_TOOL_SFC_SCAN: u32 = 1 << 12;
/// Tool flag: Solution Wizard.
pub const DART_TOOL_SOLUTION_WIZARD: u32 = 1 << 13;
/// Tool flag: TCP/IP Config.
pub const DART_TOOL_TCPIP_CONFIG: u32 = 1 << 14;

fn tools_from_bits(bits: u32) -> Result<Tools, FfiError> {
    Ok(Tools::from_bits_checked(bits)?)
}

/// Parses a comma-separated tool list ("explorer, Registry Editor", "all").
///
/// # Safety
/// `list` is a nul-terminated string; `out` points to a `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn dart_tools_parse(list: *const c_char, out: *mut u32) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let list = unsafe { arg_str(list, "list") }?;
        let tools: Tools = list.parse()?;
        *out_ptr(out, "out")? = tools.bits();
        Ok(())
    })
}

/// Formats tool flags as a comma-separated list of names.
///
/// # Safety
/// `out` points to a `char *` that receives a string to free with `dart_string_free`.
#[no_mangle]
pub unsafe extern "C" fn dart_tools_format(tools: u32, out: *mut *mut c_char) -> dart_result {
    guard(|| {
        let t = tools_from_bits(tools)?;
        put_string(out_ptr(out, "out")?, t.to_string());
        Ok(())
    })
}

/// The tools of a built-in support level ("remote", "end-user", "help-desk", "full").
///
/// # Safety
/// `name` is a nul-terminated string; `out` points to a `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn dart_support_level(name: *const c_char, out: *mut u32) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let name = unsafe { arg_str(name, "name") }?;
        *out_ptr(out, "out")? = SupportLevels::builtin().get(name)?.bits();
        Ok(())
    })
}

// ---------------------------------------------------------------- images

/// An opened WIM file.
pub struct dart_image {
    inner: RecoveryImage,
}

/// Opens a WIM read-only and reads its images.
///
/// # Safety
/// `path` is a nul-terminated string; `out` points to a `dart_image *`.
#[no_mangle]
pub unsafe extern "C" fn dart_image_open(
    path: *const c_char,
    out: *mut *mut dart_image,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let path = unsafe { arg_str(path, "path") }?;
        let out = out_ptr(out, "out")?;
        let inner = RecoveryImage::open(path)?;
        *out = Box::into_raw(Box::new(dart_image { inner }));
        Ok(())
    })
}

/// Frees an image handle. NULL is accepted.
///
/// # Safety
/// `image` is NULL or a handle from `dart_image_open` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn dart_image_free(image: *mut dart_image) {
    if !image.is_null() {
        // SAFETY: the handle came from Box::into_raw in dart_image_open.
        drop(unsafe { Box::from_raw(image) });
    }
}

fn image_ref<'a>(image: *const dart_image) -> Result<&'a RecoveryImage, FfiError> {
    // SAFETY: a non-NULL handle is a live dart_image (caller's contract).
    unsafe { image.as_ref() }
        .map(|i| &i.inner)
        .ok_or(FfiError::Null("image"))
}

/// Number of images in the WIM (0 if `image` is NULL).
///
/// # Safety
/// `image` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dart_image_count(image: *const dart_image) -> u32 {
    image_ref(image).map(|i| i.info().image_count).unwrap_or(0)
}

/// The 1-based boot index, 0 when none (or `image` is NULL).
///
/// # Safety
/// `image` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn dart_image_boot_index(image: *const dart_image) -> u32 {
    image_ref(image)
        .ok()
        .and_then(|i| i.info().boot_index)
        .unwrap_or(0)
}

/// The name of image `index` (1-based); "" when it has none.
///
/// # Safety
/// `image` is a live handle; `out` receives a string to free with `dart_string_free`.
#[no_mangle]
pub unsafe extern "C" fn dart_image_name(
    image: *const dart_image,
    index: u32,
    out: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        let info = image_ref(image)?.image(index)?;
        put_string(out_ptr(out, "out")?, info.name.clone().unwrap_or_default());
        Ok(())
    })
}

/// Whether image `index` (1-based) is Windows PE.
///
/// # Safety
/// `image` is a live handle; `out` points to a `bool`.
#[no_mangle]
pub unsafe extern "C" fn dart_image_is_winpe(
    image: *const dart_image,
    index: u32,
    out: *mut bool,
) -> dart_result {
    guard(|| {
        let winpe = image_ref(image)?.image(index)?.is_winpe;
        *out_ptr(out, "out")? = winpe;
        Ok(())
    })
}

/// Everything known about the WIM, as JSON.
///
/// # Safety
/// `image` is a live handle; `out` receives a string to free with `dart_string_free`.
#[no_mangle]
pub unsafe extern "C" fn dart_image_info_json(
    image: *const dart_image,
    out: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        let info = image_ref(image)?.info();
        out_ptr(out, "out")?;
        put_json(out, info)
    })
}

// ---------------------------------------------------------------- recipes

/// The shared settings of a build (see `ImageRecipe` in dart-core).
pub struct dart_recipe {
    inner: ImageRecipe,
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
        *out = Box::into_raw(Box::new(dart_recipe {
            inner: ImageRecipe::new(base, payloads),
        }));
        Ok(())
    })
}

/// Frees a recipe. NULL is accepted.
///
/// # Safety
/// `recipe` is NULL or a handle from `dart_recipe_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn dart_recipe_free(recipe: *mut dart_recipe) {
    if !recipe.is_null() {
        // SAFETY: the handle came from Box::into_raw in dart_recipe_new.
        drop(unsafe { Box::from_raw(recipe) });
    }
}

fn recipe_mut<'a>(recipe: *mut dart_recipe) -> Result<&'a mut ImageRecipe, FfiError> {
    // SAFETY: a non-NULL handle is a live dart_recipe not used by another thread (caller's contract).
    unsafe { recipe.as_mut() }
        .map(|r| &mut r.inner)
        .ok_or(FfiError::Null("recipe"))
}

fn recipe_ref<'a>(recipe: *const dart_recipe) -> Result<&'a ImageRecipe, FfiError> {
    // SAFETY: a non-NULL handle is a live dart_recipe (caller's contract).
    unsafe { recipe.as_ref() }
        .map(|r| &r.inner)
        .ok_or(FfiError::Null("recipe"))
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
        recipe_mut(recipe)?.base_index = (index != 0).then_some(index);
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
        let (name, description) =
            unsafe { (opt_str(name, "name")?, opt_str(description, "description")?) };
        let r = recipe_mut(recipe)?;
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
        let dir = unsafe { opt_str(dir, "dir") }?;
        recipe_mut(recipe)?.drivers = dir.map(PathBuf::from);
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
        let message = unsafe { opt_str(message, "message") }?;
        let r = recipe_mut(recipe)?;
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
        recipe_mut(recipe)?.scratch_space_mb = (mb != 0).then_some(mb);
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
        recipe_mut(recipe)?.compression = compression;
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
        let (w, s) = unsafe {
            (
                opt_str(winpeshl_ini, "winpeshl_ini")?,
                opt_str(startnet_cmd, "startnet_cmd")?,
            )
        };
        let r = recipe_mut(recipe)?;
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
        recipe_mut(recipe)?.keep_other_images = keep;
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
        recipe_mut(recipe)?.deterministic = Some(unix_seconds);
        Ok(())
    })
}

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
        let phase = std::ffi::CString::new(phase.name()).unwrap_or_default();
        let item = std::ffi::CString::new(item.replace('\0', " ")).unwrap_or_default();
        // SAFETY: the caller's callback with its own user pointer and two
        // nul-terminated strings that live for the duration of the call.
        let go_on =
            unsafe { (self.callback)(self.user, phase.as_ptr(), item.as_ptr(), done, total) };
        if !go_on {
            self.control.cancel.cancel();
        }
    }
}

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
        let report = image::build_image(
            recipe_ref(recipe)?,
            &ImageVariant::new(tools_from_bits(tools)?, output),
        )?;
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
        let report =
            image::build_variants(recipe_ref(recipe)?, &variants, &control_for(progress, user))?;
        put_json(report_json, &report)
    })
}

// ---------------------------------------------------------------- media

/// A bootable media tree on disk.
pub struct dart_media {
    inner: MediaSet,
}

/// Scans a media directory.
///
/// # Safety
/// `dir` is nul-terminated; `out` points to a `dart_media *`.
#[no_mangle]
pub unsafe extern "C" fn dart_media_open(
    dir: *const c_char,
    out: *mut *mut dart_media,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let dir = unsafe { arg_str(dir, "dir") }?;
        let out = out_ptr(out, "out")?;
        *out = Box::into_raw(Box::new(dart_media {
            inner: MediaSet::open(dir)?,
        }));
        Ok(())
    })
}

/// Frees a media handle. NULL is accepted.
///
/// # Safety
/// `media` is NULL or a handle from `dart_media_open` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn dart_media_free(media: *mut dart_media) {
    if !media.is_null() {
        // SAFETY: the handle came from Box::into_raw in dart_media_open.
        drop(unsafe { Box::from_raw(media) });
    }
}

/// Checks that the media boots `arch` ("x86", "x64", "arm64") on `firmware`
/// ("bios", "uefi", "both"); `DART_ERR_MEDIA` names the missing file.
///
/// # Safety
/// `media` is a live handle; strings are nul-terminated.
#[no_mangle]
pub unsafe extern "C" fn dart_media_validate(
    media: *const dart_media,
    arch: *const c_char,
    firmware: *const c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let (arch, firmware) = unsafe { (arg_str(arch, "arch")?, arg_str(firmware, "firmware")?) };
        // SAFETY: a non-NULL handle is a live dart_media.
        let media = unsafe { media.as_ref() }.ok_or(FfiError::Null("media"))?;
        media
            .inner
            .validate(arch.parse::<Architecture>()?, firmware.parse::<Firmware>()?)?;
        Ok(())
    })
}

// ---------------------------------------------------------------- planner

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

// ---------------------------------------------------------------- fixtures

/// Writes a synthetic WinPE-like media set, payloads and drivers under `dir`
/// (for tests and demos). `report_json` may be NULL.
///
/// # Safety
/// `dir` is nul-terminated; `report_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dart_fixture_generate(
    dir: *const c_char,
    base_bytes: u64,
    payload_bytes: u64,
    grub: bool,
    report_json: *mut *mut c_char,
) -> dart_result {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let dir = unsafe { arg_str(dir, "dir") }?;
        let options = FixtureOptions {
            base_bytes,
            payload_bytes,
            grub,
            ..FixtureOptions::default()
        };
        let fx = fixture::generate(dir, &options)?;
        put_json(report_json, &fx)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_constants_match_the_core() {
        let pairs = [
            (DART_TOOL_COMPUTER_MANAGEMENT, Tools::COMPUTER_MANAGEMENT),
            (DART_TOOL_CRASH_ANALYZER, Tools::CRASH_ANALYZER),
            (DART_TOOL_DEFENDER, Tools::DEFENDER),
            (DART_TOOL_DISK_COMMANDER, Tools::DISK_COMMANDER),
            (DART_TOOL_DISK_WIPE, Tools::DISK_WIPE),
            (DART_TOOL_EXPLORER, Tools::EXPLORER),
            (DART_TOOL_FILE_RESTORE, Tools::FILE_RESTORE),
            (DART_TOOL_FILE_SEARCH, Tools::FILE_SEARCH),
            (DART_TOOL_HOTFIX_UNINSTALL, Tools::HOTFIX_UNINSTALL),
            (DART_TOOL_LOCKSMITH, Tools::LOCKSMITH),
            (DART_TOOL_REGISTRY_EDITOR, Tools::REGISTRY_EDITOR),
            (DART_TOOL_REMOTE_CONNECTION, Tools::REMOTE_CONNECTION),
            (DART_TOOL_SFC_SCAN, Tools::SFC_SCAN),
            (DART_TOOL_SOLUTION_WIZARD, Tools::SOLUTION_WIZARD),
            (DART_TOOL_TCPIP_CONFIG, Tools::TCPIP_CONFIG),
        ];
        for (c, t) in pairs {
            assert_eq!(c, t.bits(), "{t:?}");
        }
        assert_eq!(pairs.len(), Tools::all().iter().count());
    }
}
