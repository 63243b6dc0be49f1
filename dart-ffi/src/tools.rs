//! Recovery tools: the flag constants, tool lists and support levels.

use std::ffi::c_char;

use dart_core::model::tools::{SupportLevels, Tools};

use crate::args::{arg_str, out_ptr};
use crate::error::{dart_result, FfiError};
use crate::panic::guard;
use crate::strings::put_string;

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

/// Tool flags from C; unknown bits are an error.
pub(crate) fn tools_from_bits(bits: u32) -> Result<Tools, FfiError> {
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
