//! UEFI boot entries: load options and device paths, and the variable
//! stores that hold them — efivarfs on a running Linux system
//! ([`Efivarfs`]) and OVMF variable files offline ([`OvmfVars`]).
//!
//! - [`device_path`]: [`DevicePathNode`] (hard drive, file path, others
//!   kept byte for byte), [`decode_path`] / [`encode_path`], printed as
//!   efibootmgr prints them: `HD(3,GPT,<guid>,0x800,0x1000)/File(\EFI\BOOT\BOOTX64.EFI)`;
//! - [`LoadOption`]: EFI_LOAD_OPTION, the value of `Boot####`;
//! - [`VariableStore`], [`Variable`], [`VarChange`]: the variable model; a
//!   store applies a plan only while every change's `before` still holds;
//! - [`boot`]: `Boot####` / `BootOrder` / `BootNext` edits as plans
//!   ([`plan_add_boot_option`], [`plan_remove_boot_option`],
//!   [`plan_boot_next`]) that a dry run prints and `apply` writes.
//!
//! Every decoder here takes hostile bytes: a problem is a typed
//! [`UefiProblem`], never a panic.
//!
//! A load option, encoded and decoded:
//!
//! ```
//! use dart_core::formats::uefi::{DevicePathNode, LoadOption};
//! use uuid::Uuid;
//! let esp = Uuid::parse_str("a1b2c3d4-0000-4000-8000-000000000001").unwrap();
//! let option = LoadOption::new(
//!     "DaRT Recovery",
//!     vec![
//!         DevicePathNode::gpt_partition(3, 0x800, 0x1000, esp),
//!         DevicePathNode::FilePath(r"\EFI\BOOT\BOOTX64.EFI".into()),
//!     ],
//! );
//! let bytes = option.encode()?;
//! let back = LoadOption::decode(&bytes)?;
//! assert_eq!(back, option);
//! assert_eq!(
//!     back.to_string(),
//!     r#""DaRT Recovery" HD(3,GPT,a1b2c3d4-0000-4000-8000-000000000001,0x800,0x1000)/File(\EFI\BOOT\BOOTX64.EFI)"#
//! );
//! # Ok::<(), dart_core::formats::uefi::UefiProblem>(())
//! ```

pub mod boot;
mod bytes;
mod change;
pub mod device_path;
mod efivarfs;
mod load_option;
mod ovmf;
mod problem;
mod vars;

pub use boot::{
    boot_name, boot_next, boot_number, boot_numbers, boot_options, boot_order, find_by_description,
    find_by_path, plan_add_boot_option, plan_boot_next, plan_remove_boot_option,
    BootOrderPlacement, BootPlan,
};
pub use change::VarChange;
pub use device_path::{decode_path, encode_path, DevicePathNode, HdSignature, PathText};
pub use efivarfs::{Efivarfs, EFIVARS_DIR};
pub use load_option::{
    LoadOption, LOAD_OPTION_ACTIVE, LOAD_OPTION_FORCE_RECONNECT, LOAD_OPTION_HIDDEN,
};
pub use ovmf::{
    OvmfVars, EFI_AUTHENTICATED_VARIABLE_GUID, EFI_SYSTEM_NV_DATA_FV_GUID, EFI_VARIABLE_GUID,
    MAX_VARS_FILE,
};
pub use problem::UefiProblem;
pub use vars::{
    var_key, Variable, VariableStore, EFI_GLOBAL_VARIABLE, EFI_VARIABLE_APPEND_WRITE,
    EFI_VARIABLE_AUTHENTICATED_WRITE_ACCESS, EFI_VARIABLE_BOOTSERVICE_ACCESS,
    EFI_VARIABLE_HARDWARE_ERROR_RECORD, EFI_VARIABLE_NON_VOLATILE, EFI_VARIABLE_RUNTIME_ACCESS,
    EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS, NV_BS_RT,
};

/// Reads arbitrary bytes as a load option, a device path and an OVMF
/// variable file; for the fuzz target and its seed-corpus test. Panics
/// only when something dart accepts does not survive its own round trip.
#[cfg(feature = "fuzzing")]
pub fn fuzz_one(data: &[u8]) {
    if let Ok(opt) = LoadOption::decode(data) {
        let _ = opt.to_string();
        match opt.encode() {
            Ok(bytes) => assert_eq!(bytes, data, "a load option does not encode back"),
            Err(e) => panic!("a decoded load option does not encode: {e}"),
        }
    }
    if let Ok(path) = decode_path(data) {
        let _ = PathText(&path).to_string();
        assert_eq!(
            encode_path(&path).ok().as_deref(),
            Some(data),
            "a device path does not encode back"
        );
    }
    let origin = std::path::Path::new("fuzz");
    if let Ok(vars) = OvmfVars::parse(data, origin) {
        let bytes = match vars.to_bytes() {
            Ok(b) => b,
            Err(e) => panic!("a parsed variable file does not rewrite: {e}"),
        };
        assert_eq!(bytes.len(), data.len());
        let region = vars.store_region();
        assert_eq!(bytes[..region.start], data[..region.start]);
        assert_eq!(bytes[region.end..], data[region.end..]);
        match OvmfVars::parse(&bytes, origin) {
            Ok(back) => assert_eq!(back.variables(), vars.variables()),
            Err(e) => panic!("a variable file dart wrote does not read back: {e}"),
        }
        for (number, _) in boot_options(&vars).unwrap_or_default() {
            let _ = boot_name(number);
        }
    }
}
