//! [`VarChange`]: one step of a plan, plain data, printable as a diff line
//! and serialisable for `--json`.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::Serialize;
use uuid::Uuid;

use super::boot::boot_number;
use super::vars::{var_key, Variable, EFI_GLOBAL_VARIABLE};
use super::LoadOption;

/// One change of one variable: its value before (`None`: absent) and
/// after (`None`: deleted). A store applies it only while its current
/// value is still `before`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarChange {
    /// The variable's name.
    pub name: String,
    /// The variable's vendor GUID.
    pub guid: Uuid,
    /// The value the plan was made from.
    pub before: Option<Variable>,
    /// The value to write; `None` deletes the variable.
    pub after: Option<Variable>,
}

impl VarChange {
    /// Sets `after`, which was `before` (`None`: a new variable).
    pub fn set(before: Option<Variable>, after: Variable) -> VarChange {
        VarChange {
            name: after.name.clone(),
            guid: after.guid,
            before,
            after: Some(after),
        }
    }

    /// Deletes `before`.
    pub fn delete(before: Variable) -> VarChange {
        VarChange {
            name: before.name.clone(),
            guid: before.guid,
            before: Some(before),
            after: None,
        }
    }

    /// `add`, `change`, `delete` (or `none` when both sides are absent).
    pub fn action(&self) -> &'static str {
        match (&self.before, &self.after) {
            (None, Some(_)) => "add",
            (Some(_), Some(_)) => "change",
            (Some(_), None) => "delete",
            (None, None) => "none",
        }
    }
}

/// The value of a variable for humans: a load option for `Boot####`, a
/// number list for `BootOrder`, a number for `BootNext`, else its size.
struct Value<'a>(&'a Variable);

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        let global = v.guid == EFI_GLOBAL_VARIABLE;
        if global && boot_number(&v.name).is_some() {
            return match LoadOption::decode(&v.data) {
                Ok(opt) => write!(f, "{opt}"),
                Err(e) => write!(f, "<{} bytes, not a load option: {e}>", v.data.len()),
            };
        }
        if global
            && (v.name == "BootOrder" || v.name == "BootNext")
            && v.data.len().is_multiple_of(2)
        {
            let numbers: Vec<String> = v
                .data
                .chunks_exact(2)
                .map(|c| format!("{:04X}", u16::from_le_bytes([c[0], c[1]])))
                .collect();
            return if numbers.is_empty() {
                f.write_str("(empty)")
            } else {
                f.write_str(&numbers.join(","))
            };
        }
        write!(f, "<{} bytes>", v.data.len())
    }
}

/// One line: `+ Boot0003 "DaRT Recovery" HD(...)/File(...)`,
/// `~ BootOrder 0001,0000 -> 0001,0000,0003`, `- BootNext 0003`.
impl fmt::Display for VarChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.guid == EFI_GLOBAL_VARIABLE {
            self.name.clone()
        } else {
            var_key(&self.name, self.guid)
        };
        match (&self.before, &self.after) {
            (None, Some(a)) => write!(f, "+ {name} {}", Value(a)),
            (Some(b), None) => write!(f, "- {name} {}", Value(b)),
            (Some(b), Some(a)) => {
                write!(f, "~ {name} {} -> {}", Value(b), Value(a))?;
                if a.attributes != b.attributes {
                    write!(
                        f,
                        " (attributes 0x{:x} -> 0x{:x})",
                        b.attributes, a.attributes
                    )?;
                }
                Ok(())
            }
            (None, None) => write!(f, "= {name}"),
        }
    }
}

/// `{name, guid, action, text, before, after}`; `text` is the
/// [`Display`](fmt::Display) line, the values carry their data in hex.
impl Serialize for VarChange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("VarChange", 6)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("guid", &self.guid)?;
        st.serialize_field("action", self.action())?;
        st.serialize_field("text", &self.to_string())?;
        st.serialize_field("before", &self.before)?;
        st.serialize_field("after", &self.after)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::uefi::DevicePathNode;

    fn order(numbers: &[u16]) -> Vec<u8> {
        numbers.iter().flat_map(|n| n.to_le_bytes()).collect()
    }

    #[test]
    fn changes_read_as_a_diff() {
        let opt = LoadOption::new(
            "DaRT Recovery",
            vec![
                DevicePathNode::gpt_partition(3, 0x800, 0x1000, Uuid::from_u128(1)),
                DevicePathNode::FilePath(r"\EFI\BOOT\BOOTX64.EFI".into()),
            ],
        );
        let add = VarChange::set(None, Variable::global("Boot0003", opt.encode().unwrap()));
        assert_eq!(
            add.to_string(),
            r#"+ Boot0003 "DaRT Recovery" HD(3,GPT,00000000-0000-0000-0000-000000000001,0x800,0x1000)/File(\EFI\BOOT\BOOTX64.EFI)"#
        );
        let reorder = VarChange::set(
            Some(Variable::global("BootOrder", order(&[1, 0]))),
            Variable::global("BootOrder", order(&[1, 0, 3])),
        );
        assert_eq!(
            reorder.to_string(),
            "~ BootOrder 0001,0000 -> 0001,0000,0003"
        );
        let next = VarChange::set(None, Variable::global("BootNext", order(&[3])));
        assert_eq!(next.to_string(), "+ BootNext 0003");
        assert_eq!(
            VarChange::delete(Variable::global("BootNext", order(&[3]))).to_string(),
            "- BootNext 0003"
        );
        let json = serde_json::to_value(&next).unwrap();
        assert_eq!(json["action"], "add");
        assert_eq!(json["after"]["data"], "0300");
        assert_eq!(json["guid"], "8be4df61-93ca-11d2-aa0d-00e098032b8c");
    }
}
