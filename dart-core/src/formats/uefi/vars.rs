//! The variable model: [`Variable`], the attribute bits, and the
//! [`VariableStore`] trait that efivarfs ([`super::Efivarfs`]) and OVMF
//! variable files ([`super::OvmfVars`]) implement.

use std::path::PathBuf;

use serde::Serialize;
use uuid::Uuid;

use super::{UefiProblem, VarChange};
use crate::error::{Error, Result};

/// EFI_GLOBAL_VARIABLE, the vendor GUID of `Boot####`, `BootOrder`,
/// `BootNext`, `Lang`, ...
pub const EFI_GLOBAL_VARIABLE: Uuid = Uuid::from_u128(0x8be4df61_93ca_11d2_aa0d_00e098032b8c);

/// EFI_VARIABLE_NON_VOLATILE.
pub const EFI_VARIABLE_NON_VOLATILE: u32 = 0x01;
/// EFI_VARIABLE_BOOTSERVICE_ACCESS.
pub const EFI_VARIABLE_BOOTSERVICE_ACCESS: u32 = 0x02;
/// EFI_VARIABLE_RUNTIME_ACCESS.
pub const EFI_VARIABLE_RUNTIME_ACCESS: u32 = 0x04;
/// EFI_VARIABLE_HARDWARE_ERROR_RECORD.
pub const EFI_VARIABLE_HARDWARE_ERROR_RECORD: u32 = 0x08;
/// EFI_VARIABLE_AUTHENTICATED_WRITE_ACCESS (deprecated by the spec).
pub const EFI_VARIABLE_AUTHENTICATED_WRITE_ACCESS: u32 = 0x10;
/// EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS.
pub const EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS: u32 = 0x20;
/// EFI_VARIABLE_APPEND_WRITE.
pub const EFI_VARIABLE_APPEND_WRITE: u32 = 0x40;
/// NV|BS|RT (7), the attributes of `Boot####`, `BootOrder` and `BootNext`.
pub const NV_BS_RT: u32 =
    EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS;

/// One UEFI variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variable {
    /// The name (`Boot0003`).
    pub name: String,
    /// The vendor GUID.
    pub guid: Uuid,
    /// `EFI_VARIABLE_*` bits.
    pub attributes: u32,
    /// The value.
    #[serde(with = "hex")]
    pub data: Vec<u8>,
}

impl Variable {
    /// A variable of [`EFI_GLOBAL_VARIABLE`] with attributes NV|BS|RT.
    pub fn global(name: impl Into<String>, data: Vec<u8>) -> Variable {
        Variable {
            name: name.into(),
            guid: EFI_GLOBAL_VARIABLE,
            attributes: NV_BS_RT,
            data,
        }
    }

    /// `Name-guid`, as efivarfs names the variable.
    pub fn key(&self) -> String {
        var_key(&self.name, self.guid)
    }
}

/// `Name-guid`, as efivarfs names a variable.
pub fn var_key(name: &str, guid: Uuid) -> String {
    format!("{name}-{guid}")
}

/// A place that holds UEFI variables: read them, and apply a plan of
/// [`VarChange`]s made from what was read.
pub trait VariableStore {
    /// What to call the store in messages (its path).
    fn name(&self) -> String;

    /// The variable `name` of vendor `guid`, if present.
    fn get(&self, name: &str, guid: Uuid) -> Result<Option<Variable>>;

    /// The names and GUIDs of every variable.
    fn list(&self) -> Result<Vec<(String, Uuid)>>;

    /// Applies `changes` in the order given, after checking that every
    /// change's `before` still matches the store (otherwise nothing is
    /// written and the error is [`UefiProblem::Stale`]).
    fn apply(&mut self, changes: &[VarChange]) -> Result<()>;
}

/// An [`Error::BadVariableStore`] for the store called `name`.
pub(crate) fn store_error(name: impl Into<PathBuf>, problem: UefiProblem) -> Error {
    Error::BadVariableStore {
        path: name.into(),
        problem,
    }
}

/// Checks a plan against the store before anything is written: no
/// variable changed twice, and every `before` is the current value.
pub(crate) fn check_plan(
    store: &(impl VariableStore + ?Sized),
    changes: &[VarChange],
) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for c in changes {
        let key = var_key(&c.name, c.guid);
        if !seen.insert(key.clone()) {
            return Err(store_error(
                store.name(),
                UefiProblem::DuplicateChange { name: key },
            ));
        }
        for v in [&c.before, &c.after].into_iter().flatten() {
            if v.name != c.name || v.guid != c.guid {
                return Err(store_error(
                    store.name(),
                    UefiProblem::Unencodable {
                        field: "change",
                        reason: format!("the change of {key} carries the value of {}", v.key()),
                    },
                ));
            }
        }
        if store.get(&c.name, c.guid)? != c.before {
            return Err(store_error(store.name(), UefiProblem::Stale { name: key }));
        }
    }
    Ok(())
}

/// Serde helper: bytes as a lower-case hex string.
pub(crate) mod hex {
    /// Writes `bytes` as hex.
    pub(crate) fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&text)
    }
}
