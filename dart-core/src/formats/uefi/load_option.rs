//! EFI_LOAD_OPTION, the value of a `Boot####` variable (UEFI spec 2.10
//! §3.1.3 "Load Options"):
//!
//! ```text
//! UINT32   Attributes;           // LOAD_OPTION_ACTIVE = 1, ...
//! UINT16   FilePathListLength;   // bytes of FilePathList
//! CHAR16   Description[];        // NUL-terminated
//! EFI_DEVICE_PATH_PROTOCOL FilePathList[];
//! UINT8    OptionalData[];       // the rest of the variable
//! ```

use std::fmt;

use serde::Serialize;

use super::bytes::{encode_utf16z, slice, u16_at, u32_at, utf16z};
use super::device_path::{decode_path, encode_path, DevicePathNode, PathText};
use super::UefiProblem;

/// The option is active: the boot manager may boot it.
pub const LOAD_OPTION_ACTIVE: u32 = 0x0000_0001;
/// The option forces a reconnect of all drivers.
pub const LOAD_OPTION_FORCE_RECONNECT: u32 = 0x0000_0002;
/// The option is hidden from boot menus.
pub const LOAD_OPTION_HIDDEN: u32 = 0x0000_0008;

/// One decoded load option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadOption {
    /// `LOAD_OPTION_*` bits.
    pub attributes: u32,
    /// What boot menus show.
    pub description: String,
    /// Where the loader is: usually a hard-drive node and a file path.
    pub path: Vec<DevicePathNode>,
    /// Bytes passed to the loader (often empty).
    #[serde(with = "super::vars::hex")]
    pub optional_data: Vec<u8>,
}

impl LoadOption {
    /// An active option booting `path`, without optional data.
    pub fn new(description: impl Into<String>, path: Vec<DevicePathNode>) -> LoadOption {
        LoadOption {
            attributes: LOAD_OPTION_ACTIVE,
            description: description.into(),
            path,
            optional_data: Vec::new(),
        }
    }

    /// Decodes an EFI_LOAD_OPTION. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<LoadOption, UefiProblem> {
        let attributes = u32_at(bytes, 0, "load option")?;
        let path_len = usize::from(u16_at(bytes, 4, "load option")?);
        let (description, used) = utf16z(bytes, 6, "description")?;
        let path_at = 6 + used;
        let path = decode_path(slice(bytes, path_at, path_len, "file path list")?)?;
        Ok(LoadOption {
            attributes,
            description,
            path,
            optional_data: bytes.get(path_at + path_len..).unwrap_or_default().to_vec(),
        })
    }

    /// Encodes the option; refuses a description holding a NUL and a path
    /// longer than 65535 bytes.
    pub fn encode(&self) -> Result<Vec<u8>, UefiProblem> {
        let path = encode_path(&self.path)?;
        let path_len = u16::try_from(path.len()).map_err(|_| UefiProblem::Unencodable {
            field: "file path list",
            reason: format!("{} bytes exceed FilePathListLength's 65535", path.len()),
        })?;
        let mut out = Vec::with_capacity(6 + self.description.len() * 2 + path.len());
        out.extend_from_slice(&self.attributes.to_le_bytes());
        out.extend_from_slice(&path_len.to_le_bytes());
        out.extend_from_slice(&encode_utf16z(&self.description, "description")?);
        out.extend_from_slice(&path);
        out.extend_from_slice(&self.optional_data);
        Ok(out)
    }

    /// Whether `LOAD_OPTION_ACTIVE` is set.
    pub fn is_active(&self) -> bool {
        self.attributes & LOAD_OPTION_ACTIVE != 0
    }
}

/// `"description" HD(...)/File(...)`, with ` (inactive)` when not active.
impl fmt::Display for LoadOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}", self.description, PathText(&self.path))?;
        if !self.is_active() {
            f.write_str(" (inactive)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::uefi::device_path::HdSignature;
    use proptest::prelude::*;
    use uuid::Uuid;

    #[test]
    fn a_load_option_has_the_spec_layout() {
        let opt = LoadOption::new("DaRT", vec![DevicePathNode::FilePath(r"\a.efi".into())]);
        let bytes = opt.encode().unwrap();
        assert_eq!(&bytes[..4], &[1, 0, 0, 0]);
        let path_len = 4 + 14 + 4;
        assert_eq!(&bytes[4..6], &[path_len, 0]);
        assert_eq!(&bytes[6..16], b"D\0a\0R\0T\0\0\0");
        assert_eq!(bytes.len(), 16 + usize::from(path_len));
        assert_eq!(LoadOption::decode(&bytes).unwrap(), opt);
        assert_eq!(opt.to_string(), r#""DaRT" File(\a.efi)"#);
    }

    #[test]
    fn hostile_load_options_are_refused() {
        assert!(LoadOption::decode(&[]).is_err());
        assert!(LoadOption::decode(&[1, 0, 0, 0, 4, 0, b'A', 0]).is_err());
        // FilePathListLength past the end.
        assert!(LoadOption::decode(&[1, 0, 0, 0, 9, 0, 0, 0, 0x7f, 0xff, 4, 0]).is_err());
        // Unpaired surrogate in the description.
        assert!(LoadOption::decode(&[1, 0, 0, 0, 4, 0, 0, 0xd8, 0, 0, 0x7f, 0xff, 4, 0]).is_err());
        let bad = LoadOption::new("a\0b", vec![]);
        assert!(matches!(bad.encode(), Err(UefiProblem::Unencodable { .. })));
    }

    proptest! {
        #[test]
        fn load_options_round_trip(
            attributes in any::<u32>(),
            description in "[^\u{0}]{0,30}",
            nodes in proptest::collection::vec(crate::formats::uefi::device_path::tests::arb_node(), 0..4),
            optional_data in proptest::collection::vec(any::<u8>(), 0..40),
            guid in any::<u128>(),
        ) {
            let mut path = nodes;
            path.push(DevicePathNode::HardDrive {
                partition_number: 1,
                start_lba: 2048,
                size_lba: 4096,
                signature: HdSignature::Gpt(Uuid::from_u128(guid)),
            });
            let opt = LoadOption { attributes, description, path, optional_data };
            let bytes = opt.encode().unwrap();
            prop_assert_eq!(LoadOption::decode(&bytes).unwrap(), opt);
        }

        #[test]
        fn hostile_load_options_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(opt) = LoadOption::decode(&bytes) {
                prop_assert_eq!(opt.encode().unwrap(), bytes);
            }
        }
    }
}
