//! The boot-manager operations as plans: read the store, return the
//! [`VarChange`]s that do what was asked (nothing when it is already
//! done), and let the caller print them (a dry run) or
//! [`apply`](VariableStore::apply) them.
//!
//! Plans list `Boot####` first, then `BootOrder`, then `BootNext`, so a
//! store that applies them in order and stops half-way leaves at most an
//! unreferenced boot option.

use serde::Serialize;

use super::device_path::DevicePathNode;
use super::vars::{store_error, Variable, VariableStore, EFI_GLOBAL_VARIABLE};
use super::{LoadOption, UefiProblem, VarChange};
use crate::error::Result;

/// Where a boot option goes in `BootOrder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BootOrderPlacement {
    /// `BootOrder` is not changed.
    Keep,
    /// First in `BootOrder` (moved there when already listed).
    First,
    /// Last in `BootOrder` (moved there when already listed).
    Last,
}

impl BootOrderPlacement {
    /// `keep`, `first` or `last`.
    pub fn name(self) -> &'static str {
        match self {
            BootOrderPlacement::Keep => "keep",
            BootOrderPlacement::First => "first",
            BootOrderPlacement::Last => "last",
        }
    }
}

impl std::str::FromStr for BootOrderPlacement {
    type Err = crate::error::Error;
    fn from_str(s: &str) -> Result<BootOrderPlacement> {
        match s.trim().to_ascii_lowercase().as_str() {
            "keep" => Ok(BootOrderPlacement::Keep),
            "first" => Ok(BootOrderPlacement::First),
            "last" => Ok(BootOrderPlacement::Last),
            _ => Err(crate::error::Error::invalid(
                "boot order",
                s,
                "expected keep, first or last",
            )),
        }
    }
}

/// What [`plan_add_boot_option`] plans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootPlan {
    /// The option's number (`Boot0003` is 3).
    pub number: u16,
    /// The changes, `Boot####` first; empty when all is as asked.
    pub changes: Vec<VarChange>,
}

/// `Boot####` for `number`: four upper-case hex digits.
pub fn boot_name(number: u16) -> String {
    format!("Boot{number:04X}")
}

/// The number of a `Boot####` name (four hex digits, as the spec writes
/// them; lower-case digits are accepted too).
pub fn boot_number(name: &str) -> Option<u16> {
    let digits = name.strip_prefix("Boot")?;
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(digits, 16).ok()
}

fn numbers_of(data: &[u8]) -> Vec<u16> {
    data.chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

fn bytes_of(numbers: &[u16]) -> Vec<u8> {
    numbers.iter().flat_map(|n| n.to_le_bytes()).collect()
}

fn global(store: &(impl VariableStore + ?Sized), name: &str) -> Result<Option<Variable>> {
    store.get(name, EFI_GLOBAL_VARIABLE)
}

/// A u16 list variable (`BootOrder`); refuses an odd length.
fn u16_list(
    store: &(impl VariableStore + ?Sized),
    name: &'static str,
) -> Result<Option<(Variable, Vec<u16>)>> {
    let Some(var) = global(store, name)? else {
        return Ok(None);
    };
    if var.data.len() % 2 != 0 {
        return Err(store_error(
            store.name(),
            UefiProblem::BadField {
                field: name,
                offset: 0,
                found: format!("{} bytes", var.data.len()),
                expected: "an even number of bytes (a list of u16)".into(),
            },
        ));
    }
    let numbers = numbers_of(&var.data);
    Ok(Some((var, numbers)))
}

/// The numbers of every `Boot####` variable, sorted.
pub fn boot_numbers(store: &(impl VariableStore + ?Sized)) -> Result<Vec<u16>> {
    let mut numbers: Vec<u16> = store
        .list()?
        .iter()
        .filter(|(_, g)| *g == EFI_GLOBAL_VARIABLE)
        .filter_map(|(n, _)| boot_number(n))
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    Ok(numbers)
}

/// Every `Boot####` that holds a valid load option, by number; options
/// that do not decode are left out (see [`boot_numbers`] for all).
pub fn boot_options(store: &(impl VariableStore + ?Sized)) -> Result<Vec<(u16, LoadOption)>> {
    let mut out = Vec::new();
    for number in boot_numbers(store)? {
        if let Some(var) = global(store, &boot_name(number))? {
            if let Ok(opt) = LoadOption::decode(&var.data) {
                out.push((number, opt));
            }
        }
    }
    Ok(out)
}

/// `BootOrder` (empty when absent).
pub fn boot_order(store: &(impl VariableStore + ?Sized)) -> Result<Vec<u16>> {
    Ok(u16_list(store, "BootOrder")?
        .map(|(_, n)| n)
        .unwrap_or_default())
}

/// `BootNext`, when set (and two bytes long).
pub fn boot_next(store: &(impl VariableStore + ?Sized)) -> Result<Option<u16>> {
    Ok(
        global(store, "BootNext")?.and_then(|v| match v.data.as_slice() {
            [a, b] => Some(u16::from_le_bytes([*a, *b])),
            _ => None,
        }),
    )
}

/// The numbers of the options whose description is `description`.
pub fn find_by_description(
    store: &(impl VariableStore + ?Sized),
    description: &str,
) -> Result<Vec<u16>> {
    Ok(boot_options(store)?
        .into_iter()
        .filter(|(_, o)| o.description == description)
        .map(|(n, _)| n)
        .collect())
}

/// The numbers of the options that boot `path`.
pub fn find_by_path(
    store: &(impl VariableStore + ?Sized),
    path: &[DevicePathNode],
) -> Result<Vec<u16>> {
    Ok(boot_options(store)?
        .into_iter()
        .filter(|(_, o)| o.path == path)
        .map(|(n, _)| n)
        .collect())
}

/// Plans adding `option`: an existing `Boot####` with the same
/// description and path is reused (updated if its attributes or optional
/// data differ), else the lowest free number is taken. `BootOrder` changes
/// only as `order` asks, `BootNext` only when `boot_next`. Re-running it
/// after applying plans nothing.
pub fn plan_add_boot_option(
    store: &(impl VariableStore + ?Sized),
    option: &LoadOption,
    order: BootOrderPlacement,
    boot_next: bool,
) -> Result<BootPlan> {
    let data = option.encode().map_err(|p| store_error(store.name(), p))?;
    let existing = boot_options(store)?
        .into_iter()
        .find(|(_, o)| o.description == option.description && o.path == option.path)
        .map(|(n, _)| n);
    let number = match existing {
        Some(n) => n,
        None => {
            let taken = boot_numbers(store)?;
            (0..=u16::MAX)
                .find(|n| taken.binary_search(n).is_err())
                .ok_or_else(|| store_error(store.name(), UefiProblem::NoFreeBootNumber))?
        }
    };
    let mut changes = Vec::new();
    let name = boot_name(number);
    let before = global(store, &name)?;
    let wanted = Variable::global(&name, data);
    if before.as_ref() != Some(&wanted) {
        changes.push(VarChange::set(before, wanted));
    }
    if order != BootOrderPlacement::Keep {
        let current = u16_list(store, "BootOrder")?;
        let old: Vec<u16> = current.as_ref().map(|(_, n)| n.clone()).unwrap_or_default();
        let mut new: Vec<u16> = old.iter().copied().filter(|&n| n != number).collect();
        match order {
            BootOrderPlacement::First => new.insert(0, number),
            _ => new.push(number),
        }
        if new != old || current.is_none() {
            let before = current.map(|(v, _)| v);
            let attributes = before
                .as_ref()
                .map_or(super::vars::NV_BS_RT, |v| v.attributes);
            let mut after = Variable::global("BootOrder", bytes_of(&new));
            after.attributes = attributes;
            changes.push(VarChange::set(before, after));
        }
    }
    if boot_next {
        changes.extend(next_change(store, number)?);
    }
    Ok(BootPlan { number, changes })
}

/// The change that sets `BootNext` to `number`, if it is not already.
fn next_change(store: &(impl VariableStore + ?Sized), number: u16) -> Result<Option<VarChange>> {
    let before = global(store, "BootNext")?;
    let after = Variable::global("BootNext", number.to_le_bytes().to_vec());
    Ok((before.as_ref() != Some(&after)).then(|| VarChange::set(before, after)))
}

/// Plans removing `Boot####` `number`: the variable, its number in
/// `BootOrder`, and `BootNext` when it names it. Refuses a number that
/// nothing names.
pub fn plan_remove_boot_option(
    store: &(impl VariableStore + ?Sized),
    number: u16,
) -> Result<Vec<VarChange>> {
    let mut changes = Vec::new();
    if let Some(var) = global(store, &boot_name(number))? {
        changes.push(VarChange::delete(var));
    }
    if let Some((var, old)) = u16_list(store, "BootOrder")? {
        if old.contains(&number) {
            let new: Vec<u16> = old.into_iter().filter(|&n| n != number).collect();
            let mut after = var.clone();
            after.data = bytes_of(&new);
            changes.push(VarChange::set(Some(var), after));
        }
    }
    if let Some(var) = global(store, "BootNext")? {
        if var.data == number.to_le_bytes() {
            changes.push(VarChange::delete(var));
        }
    }
    if changes.is_empty() {
        return Err(store_error(
            store.name(),
            UefiProblem::NoSuchBootOption { number },
        ));
    }
    Ok(changes)
}

/// Plans setting `BootNext` to `number` (empty when it already is);
/// refuses a number without a `Boot####`.
pub fn plan_boot_next(
    store: &(impl VariableStore + ?Sized),
    number: u16,
) -> Result<Vec<VarChange>> {
    if global(store, &boot_name(number))?.is_none() {
        return Err(store_error(
            store.name(),
            UefiProblem::NoSuchBootOption { number },
        ));
    }
    Ok(next_change(store, number)?.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::uefi::vars::check_plan;
    use uuid::Uuid;

    #[test]
    fn boot_order_placements_parse_from_their_names() {
        for p in [
            BootOrderPlacement::Keep,
            BootOrderPlacement::First,
            BootOrderPlacement::Last,
        ] {
            assert_eq!(p.name().parse::<BootOrderPlacement>().unwrap(), p);
        }
        assert_eq!(
            " First ".parse::<BootOrderPlacement>().unwrap(),
            BootOrderPlacement::First
        );
        let e = "top".parse::<BootOrderPlacement>().unwrap_err();
        assert!(e.to_string().contains("top"), "{e}");
    }

    /// Variables in memory.
    #[derive(Default)]
    struct Mem(Vec<Variable>);

    impl VariableStore for Mem {
        fn name(&self) -> String {
            "memory".into()
        }
        fn get(&self, name: &str, guid: Uuid) -> Result<Option<Variable>> {
            Ok(self
                .0
                .iter()
                .find(|v| v.name == name && v.guid == guid)
                .cloned())
        }
        fn list(&self) -> Result<Vec<(String, Uuid)>> {
            Ok(self.0.iter().map(|v| (v.name.clone(), v.guid)).collect())
        }
        fn apply(&mut self, changes: &[VarChange]) -> Result<()> {
            check_plan(self, changes)?;
            for c in changes {
                self.0.retain(|v| !(v.name == c.name && v.guid == c.guid));
                self.0.extend(c.after.clone());
            }
            Ok(())
        }
    }

    fn option(description: &str, file: &str) -> LoadOption {
        LoadOption::new(
            description,
            vec![
                DevicePathNode::gpt_partition(1, 2048, 4096, Uuid::from_u128(9)),
                DevicePathNode::FilePath(file.into()),
            ],
        )
    }

    fn store() -> Mem {
        let mut m = Mem::default();
        for (n, d) in [(0u16, "UEFI Shell"), (1, "disk"), (2, "net")] {
            m.0.push(Variable::global(
                boot_name(n),
                option(d, r"\x.efi").encode().unwrap(),
            ));
        }
        m.0.push(Variable::global("BootOrder", bytes_of(&[1, 0, 2])));
        m
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(boot_name(0x3), "Boot0003");
        assert_eq!(boot_name(0xabcd), "BootABCD");
        assert_eq!(boot_number("Boot000A"), Some(10));
        assert_eq!(boot_number("BootOrder"), None);
        assert_eq!(boot_number("Boot12345"), None);
        assert_eq!(boot_number("Boot+123"), None);
    }

    #[test]
    fn adding_takes_the_lowest_free_number_and_is_idempotent() {
        let mut s = store();
        s.0.retain(|v| v.name != "Boot0001");
        let dart = option("DaRT Recovery", r"\EFI\BOOT\BOOTX64.EFI");
        let plan = plan_add_boot_option(&s, &dart, BootOrderPlacement::Last, true).unwrap();
        assert_eq!(plan.number, 1);
        let lines: Vec<String> = plan.changes.iter().map(|c| c.to_string()).collect();
        assert!(
            lines[0].starts_with(r#"+ Boot0001 "DaRT Recovery" HD(1,GPT,"#),
            "{lines:?}"
        );
        assert_eq!(lines[1], "~ BootOrder 0001,0000,0002 -> 0000,0002,0001");
        assert_eq!(lines[2], "+ BootNext 0001");
        s.apply(&plan.changes).unwrap();
        assert_eq!(boot_order(&s).unwrap(), [0, 2, 1]);
        assert_eq!(boot_next(&s).unwrap(), Some(1));
        let again = plan_add_boot_option(&s, &dart, BootOrderPlacement::Last, true).unwrap();
        assert_eq!(
            again,
            BootPlan {
                number: 1,
                changes: vec![]
            }
        );
        // First moves it, without a duplicate.
        let first = plan_add_boot_option(&s, &dart, BootOrderPlacement::First, false).unwrap();
        assert_eq!(first.changes.len(), 1);
        s.apply(&first.changes).unwrap();
        assert_eq!(boot_order(&s).unwrap(), [1, 0, 2]);
        // A plan made before a change is refused after it.
        let stale = plan_add_boot_option(
            &s,
            &option("other", r"\o.efi"),
            BootOrderPlacement::Last,
            false,
        )
        .unwrap();
        s.apply(&plan_remove_boot_option(&s, 1).unwrap()).unwrap();
        let err = s.apply(&stale.changes).unwrap_err();
        assert!(err.to_string().contains("changed since the plan"), "{err}");
    }

    #[test]
    fn keep_leaves_boot_order_and_a_changed_option_is_updated() {
        let s = store();
        let mut disk = option("disk", r"\x.efi");
        disk.optional_data = vec![1, 2];
        let plan = plan_add_boot_option(&s, &disk, BootOrderPlacement::Keep, false).unwrap();
        assert_eq!(plan.number, 1);
        assert_eq!(plan.changes.len(), 1);
        assert!(plan.changes[0].to_string().starts_with("~ Boot0001"));
        let new = plan_add_boot_option(
            &s,
            &option("new", r"\n.efi"),
            BootOrderPlacement::Keep,
            false,
        )
        .unwrap();
        assert_eq!(new.number, 3);
        assert_eq!(new.changes.len(), 1);
    }

    #[test]
    fn removing_cleans_order_and_next() {
        let mut s = store();
        s.apply(&plan_boot_next(&s, 2).unwrap()).unwrap();
        let plan = plan_remove_boot_option(&s, 2).unwrap();
        let lines: Vec<String> = plan.iter().map(|c| c.to_string()).collect();
        assert!(lines[0].starts_with("- Boot0002"));
        assert_eq!(lines[1], "~ BootOrder 0001,0000,0002 -> 0001,0000");
        assert_eq!(lines[2], "- BootNext 0002");
        s.apply(&plan).unwrap();
        assert_eq!(boot_numbers(&s).unwrap(), [0, 1]);
        assert!(plan_remove_boot_option(&s, 2).is_err());
        assert!(plan_boot_next(&s, 7).is_err());
        assert_eq!(find_by_description(&s, "disk").unwrap(), [1]);
        assert_eq!(
            find_by_path(&s, &option("", r"\x.efi").path).unwrap(),
            [0, 1]
        );
    }

    #[test]
    fn a_plan_changing_one_variable_twice_is_refused() {
        let mut s = store();
        let v = Variable::global("BootNext", vec![0, 0]);
        let err = s
            .apply(&[VarChange::set(None, v.clone()), VarChange::set(None, v)])
            .unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
        assert!(boot_next(&s).unwrap().is_none());
    }
}
