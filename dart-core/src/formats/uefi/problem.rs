//! [`UefiProblem`]: what is wrong with a load option, a device path, a
//! variable store or a requested edit, naming the field and the offset.

/// What is wrong with UEFI bytes or an edit of UEFI variables; carried by
/// [`Error::BadVariableStore`](crate::Error::BadVariableStore).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UefiProblem {
    /// A structure runs past the end of the bytes that hold it.
    #[error("the {what} at byte {offset} needs {needed} bytes but only {available} are there")]
    Truncated {
        /// The structure ("device path node", "variable header", ...).
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left from `offset`.
        available: usize,
    },
    /// A field holds a value the format does not allow.
    #[error("the {field} at byte {offset} is {found}, expected {expected}")]
    BadField {
        /// The field ("FV signature", "node length", ...).
        field: &'static str,
        /// Where it is.
        offset: usize,
        /// What it holds.
        found: String,
        /// What it should hold.
        expected: String,
    },
    /// A UTF-16 string without its NUL terminator, or not valid UTF-16.
    #[error("the {field} at byte {offset} is not a NUL-terminated UTF-16 string")]
    BadString {
        /// The field ("description", "variable name", ...).
        field: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// A device path that does not end with an end-of-path node.
    #[error("the device path has no end node (type 0x7f, subtype 0xff) at its end")]
    MissingEndNode,
    /// A value that cannot be encoded (too long for its length field, or
    /// holding a NUL).
    #[error("the {field} cannot be encoded: {reason}")]
    Unencodable {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The variables do not fit in the store's region.
    #[error("the variables need {needed} bytes but the variable store holds {available}")]
    DoesNotFit {
        /// Bytes the variables need.
        needed: usize,
        /// Bytes the region holds.
        available: usize,
    },
    /// A planned change whose `before` no longer matches the store (it
    /// changed since the plan was made).
    #[error("variable {name} changed since the plan was made; plan again")]
    Stale {
        /// The variable, as `Name-guid`.
        name: String,
    },
    /// Two changes of one plan name the same variable.
    #[error("the plan changes variable {name} twice")]
    DuplicateChange {
        /// The variable, as `Name-guid`.
        name: String,
    },
    /// A variable name the store cannot hold (empty, or with `/` or NUL).
    #[error("{name:?} is not a usable variable name")]
    BadName {
        /// The name.
        name: String,
    },
    /// A boot option number that no variable names.
    #[error("there is no boot option Boot{number:04X}")]
    NoSuchBootOption {
        /// The number.
        number: u16,
    },
    /// Every number from Boot0000 to BootFFFF is taken.
    #[error("every boot option number is taken")]
    NoFreeBootNumber,
}
