//! Element values: the typed data under `Elements\XXXXXXXX\Element`.
//!
//! An element code is `class (bits 28-31) | format (bits 24-27) | subtype`;
//! the format fixes the registry type and layout of the value:
//!
//! | format | meaning | registry value |
//! |---|---|---|
//! | 1 | device | `REG_BINARY`, [`Device`] |
//! | 2 | string | `REG_SZ` |
//! | 3 | object | `REG_SZ` `{guid}` |
//! | 4 | object list | `REG_MULTI_SZ` of `{guid}` |
//! | 5 | integer | `REG_BINARY`, 8 bytes little-endian |
//! | 6 | boolean | `REG_BINARY`, 1 byte |
//! | 7 | integer list | `REG_BINARY`, 8 bytes each |
//!
//! A value whose registry type or size does not fit its format is kept
//! as [`ElementValue::Raw`] and printed as hex.

use serde::Serialize;
use uuid::Uuid;

use super::device::{hex, Device};
use super::names;
use crate::formats::regf::{from_multi_sz, from_utf16z, multi_sz, utf16z, Value, ValueType};

/// A decoded element value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElementValue {
    /// Format 1.
    Device(Device),
    /// Format 2.
    String(String),
    /// Format 3.
    Object(Uuid),
    /// Format 4.
    ObjectList(Vec<Uuid>),
    /// Format 5.
    Integer(u64),
    /// Format 6.
    Boolean(bool),
    /// Format 7.
    IntegerList(Vec<u64>),
    /// Anything that does not fit its format, kept as stored.
    Raw {
        /// The registry type.
        kind: u32,
        /// The bytes.
        data: Vec<u8>,
    },
}

/// The format nibble of an element code.
pub fn format_of(code: u32) -> u32 {
    (code >> 24) & 0xF
}

fn guid(text: &str) -> Option<Uuid> {
    let t = text.trim();
    if !(t.starts_with('{') && t.ends_with('}')) {
        return None;
    }
    Uuid::parse_str(&t[1..t.len() - 1]).ok()
}

impl ElementValue {
    /// Decodes the stored value of element `code`.
    pub fn decode(code: u32, value: &Value) -> ElementValue {
        let d = &value.data;
        let raw = || ElementValue::Raw {
            kind: value.kind.0,
            data: d.clone(),
        };
        let kind = value.kind;
        match format_of(code) {
            1 if kind == ValueType::BINARY => ElementValue::Device(Device::decode(d)),
            2 if kind == ValueType::SZ => ElementValue::String(from_utf16z(d)),
            3 if kind == ValueType::SZ => {
                guid(&from_utf16z(d)).map_or_else(raw, ElementValue::Object)
            }
            4 if kind == ValueType::MULTI_SZ => from_multi_sz(d)
                .iter()
                .map(|s| guid(s))
                .collect::<Option<Vec<_>>>()
                .map_or_else(raw, ElementValue::ObjectList),
            5 if kind == ValueType::BINARY && !d.is_empty() && d.len() <= 8 => {
                let mut b = [0u8; 8];
                b[..d.len()].copy_from_slice(d);
                ElementValue::Integer(u64::from_le_bytes(b))
            }
            6 if kind == ValueType::BINARY && d.len() == 1 => ElementValue::Boolean(d[0] != 0),
            7 if kind == ValueType::BINARY && !d.is_empty() && d.len().is_multiple_of(8) => {
                ElementValue::IntegerList(
                    d.chunks_exact(8)
                        .map(|c| {
                            u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
                        })
                        .collect(),
                )
            }
            _ => raw(),
        }
    }

    /// The registry type and bytes to store.
    pub fn encode(&self) -> (ValueType, Vec<u8>) {
        let braced = |u: &Uuid| format!("{{{u}}}");
        match self {
            ElementValue::Device(d) => (ValueType::BINARY, d.encode()),
            ElementValue::String(s) => (ValueType::SZ, utf16z(s)),
            ElementValue::Object(u) => (ValueType::SZ, utf16z(&braced(u))),
            ElementValue::ObjectList(l) => (
                ValueType::MULTI_SZ,
                multi_sz(&l.iter().map(braced).collect::<Vec<_>>()),
            ),
            ElementValue::Integer(n) => (ValueType::BINARY, n.to_le_bytes().to_vec()),
            ElementValue::Boolean(b) => (ValueType::BINARY, vec![u8::from(*b)]),
            ElementValue::IntegerList(l) => (
                ValueType::BINARY,
                l.iter().flat_map(|n| n.to_le_bytes()).collect(),
            ),
            ElementValue::Raw { kind, data } => (ValueType(*kind), data.clone()),
        }
    }

    /// As bcdedit prints it; `id` renders object references.
    pub fn render(&self, code: u32, id: &dyn Fn(&Uuid) -> String) -> Vec<String> {
        match self {
            ElementValue::Device(d) => vec![d.render(id)],
            ElementValue::String(s) => vec![s.clone()],
            ElementValue::Object(u) => vec![id(u)],
            ElementValue::ObjectList(l) => l.iter().map(id).collect(),
            ElementValue::Integer(n) => vec![integer(code, *n)],
            ElementValue::Boolean(b) => vec![if *b { "Yes" } else { "No" }.into()],
            ElementValue::IntegerList(l) => l.iter().map(|n| format!("{n:#x}")).collect(),
            ElementValue::Raw { data, .. } => vec![hex(data)],
        }
    }

    /// The JSON form: devices, objects and raw bytes as their printed
    /// text, numbers as numbers, booleans as booleans.
    pub fn to_json(&self, code: u32, id: &dyn Fn(&Uuid) -> String) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            ElementValue::Integer(n) => J::from(*n),
            ElementValue::Boolean(b) => J::from(*b),
            ElementValue::IntegerList(l) => J::from(l.clone()),
            ElementValue::ObjectList(l) => J::from(l.iter().map(id).collect::<Vec<_>>()),
            other => J::from(other.render(code, id).join(" ")),
        }
    }
}

/// Integers bcdedit prints by name.
fn integer(code: u32, n: u64) -> String {
    let named = match (code, n) {
        (names::element::BOOTMENUPOLICY, 0) => "Legacy",
        (names::element::BOOTMENUPOLICY, 1) => "Standard",
        (0x2500_0020, 0) => "OptIn",
        (0x2500_0020, 1) => "OptOut",
        (0x2500_0020, 2) => "AlwaysOff",
        (0x2500_0020, 3) => "AlwaysOn",
        (names::element::DEBUGTYPE | names::element::HYPERVISORDEBUGTYPE, 0) => "Serial",
        (names::element::DEBUGTYPE | names::element::HYPERVISORDEBUGTYPE, 1) => "1394",
        (names::element::DEBUGTYPE | names::element::HYPERVISORDEBUGTYPE, 2) => "USB",
        (names::element::DEBUGTYPE | names::element::HYPERVISORDEBUGTYPE, 3) => "Net",
        _ => return n.to_string(),
    };
    named.to_string()
}

/// One element, decoded, for listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElementView {
    /// `0x11000001`.
    pub code: String,
    /// bcdedit's name, or `custom:11000001` when dart does not know it.
    pub name: String,
    /// The value ([`ElementValue::to_json`]).
    pub value: serde_json::Value,
}
