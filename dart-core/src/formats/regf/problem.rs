//! [`HiveProblem`]: why bytes are not a usable registry hive.

/// Why bytes are not a hive dart can use. Every variant names the field or
/// cell offset (relative to the hive bins data, as regf tools print them).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HiveProblem {
    /// Fewer bytes than the base block and the hive bins it declares.
    Truncated {
        /// Bytes needed.
        needed: u64,
        /// Bytes present.
        found: u64,
    },
    /// The base block does not start with `regf`.
    NotAHive,
    /// A base-block field holds a value dart does not read.
    Header {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// The base block's checksum does not match its bytes.
    Checksum {
        /// The stored checksum.
        stored: u32,
        /// The XOR of the first 508 bytes.
        computed: u32,
    },
    /// Primary and secondary sequence numbers differ: Windows was writing
    /// the hive and its `.LOG1`/`.LOG2` hold changes not yet in it.
    Dirty {
        /// The primary sequence number.
        primary: u32,
        /// The secondary sequence number.
        secondary: u32,
    },
    /// A hive bin header is damaged.
    Bin {
        /// The bin's offset.
        offset: u32,
        /// What is wrong.
        detail: &'static str,
    },
    /// A reference that does not land on an allocated cell.
    BadReference {
        /// What referred ("root key", "subkey list", ...).
        what: &'static str,
        /// The offset it named.
        offset: u32,
    },
    /// A cell whose contents do not match what refers to it.
    BadCell {
        /// The cell's offset.
        offset: u32,
        /// What is wrong.
        detail: String,
    },
    /// A key or value name the registry does not allow.
    Name {
        /// The name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// The key tree loops or is deeper than Windows allows (512).
    BadTree {
        /// The key cell's offset.
        offset: u32,
        /// What is wrong.
        detail: &'static str,
    },
}

impl std::fmt::Display for HiveProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HiveProblem::Truncated { needed, found } => write!(
                f,
                "it is truncated: {found} bytes where the base block declares {needed}"
            ),
            HiveProblem::NotAHive => f.write_str("it does not start with the signature \"regf\""),
            HiveProblem::Header { field, value } => {
                write!(f, "base block field {field} holds {value:#x}, which dart does not read")
            }
            HiveProblem::Checksum { stored, computed } => write!(
                f,
                "base block checksum is {stored:#010x} but its bytes give {computed:#010x}"
            ),
            HiveProblem::Dirty { primary, secondary } => write!(
                f,
                "it is dirty (sequence numbers {primary} and {secondary} differ): Windows left changes in its .LOG1/.LOG2 files that are not in the hive; let Windows load it once (or replay the logs) and try again"
            ),
            HiveProblem::Bin { offset, detail } => {
                write!(f, "hive bin at offset {offset:#x}: {detail}")
            }
            HiveProblem::BadReference { what, offset } => write!(
                f,
                "{what} names offset {offset:#x}, which is not an allocated cell"
            ),
            HiveProblem::BadCell { offset, detail } => write!(f, "cell at {offset:#x}: {detail}"),
            HiveProblem::Name { name, detail } => write!(f, "key name {name:?}: {detail}"),
            HiveProblem::BadTree { offset, detail } => {
                write!(f, "key at {offset:#x}: {detail}")
            }
        }
    }
}

impl std::error::Error for HiveProblem {}

/// Serialised as its message.
impl serde::Serialize for HiveProblem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
