//! The one error type of dart-core.
//!
//! Every variant names the input that was wrong (a path, a field, a tool name)
//! and says what was left untouched, so that a message can be shown to a user
//! as it is. [`Error::kind`] groups the variants into a small, stable set of
//! [`ErrorKind`]s that the C and Python bindings map to result codes and
//! exception classes.

use std::path::{Path, PathBuf};

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the library says when it cannot do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input file or directory does not exist.
    #[error("{what} {path} does not exist; nothing was written")]
    NotFound {
        /// What the path was supposed to be ("base WIM", "payload directory", ...).
        what: &'static str,
        /// The path that was given.
        path: PathBuf,
    },

    /// Reading or writing a file failed.
    #[error("{action} {path} failed: {source}; {untouched}")]
    Io {
        /// What was being done ("reading", "creating", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
        /// What the failure left untouched.
        untouched: &'static str,
    },

    /// A file that should be a WIM is not one.
    #[error("{path} is not a WIM file ({reason}); nothing was written")]
    NotAWim {
        /// The file.
        path: PathBuf,
        /// Why it is not a WIM (bad magic, too short, ...).
        reason: String,
    },

    /// A WIM file is damaged (truncated, bad tables, bad compression).
    #[error("WIM file {path} is damaged: {detail}; nothing was written")]
    CorruptWim {
        /// The file.
        path: PathBuf,
        /// What wimlib or the header parser found.
        detail: String,
    },

    /// An image index that the WIM does not contain.
    #[error(
        "{path} has {count} image(s); image index {index} does not exist; nothing was written"
    )]
    NoSuchImage {
        /// The WIM.
        path: PathBuf,
        /// The index asked for (1-based).
        index: u32,
        /// How many images the WIM holds.
        count: u32,
    },

    /// wimlib reported an error while composing or writing an image.
    #[error("{operation} on {path} failed: {detail}; {untouched}")]
    Wim {
        /// What was being done.
        operation: &'static str,
        /// The WIM or file involved.
        path: PathBuf,
        /// wimlib's description of the error.
        detail: String,
        /// What the failure left untouched.
        untouched: &'static str,
    },

    /// A tool name that is not one of the known recovery tools.
    #[error("unknown tool {name:?}; known tools: {known}")]
    UnknownTool {
        /// The name that was given.
        name: String,
        /// The known names, comma separated.
        known: String,
    },

    /// A support level that is not defined.
    #[error("unknown support level {name:?}; defined levels: {known}")]
    UnknownSupportLevel {
        /// The name that was given.
        name: String,
        /// The defined names, comma separated.
        known: String,
    },

    /// A selected tool has no payload directory.
    #[error("payload directory {dir} has no subdirectory {expected:?} for the selected tool {tool}; nothing was written")]
    MissingToolPayload {
        /// The tool's display name.
        tool: &'static str,
        /// The payload directory that was given.
        dir: PathBuf,
        /// The subdirectory that was expected.
        expected: &'static str,
    },

    /// A setting has a value outside what it accepts.
    #[error("invalid {field} {value:?}: {reason}; nothing was written")]
    InvalidSetting {
        /// The setting's name, as the user knows it.
        field: &'static str,
        /// The value that was given.
        value: String,
        /// What would be accepted.
        reason: String,
    },

    /// A media set lacks a file it needs to boot.
    #[error("media {root} cannot boot {needed_for}: {file} is missing")]
    MissingMediaFile {
        /// The media root.
        root: PathBuf,
        /// The missing file, relative to the root.
        file: String,
        /// Which architecture and firmware needed it.
        needed_for: String,
    },

    /// A source file that must not be read: a symbolic link that leaves
    /// its tree (or leads nowhere, or to a directory), a device file, a
    /// FIFO or a socket.
    #[error("refusing to read {path}: {reason}; nothing was written")]
    UnsafeSource {
        /// The file, as found in its tree.
        path: PathBuf,
        /// Why, naming the link's target when there is one.
        reason: String,
    },

    /// An output that is, holds, backs or overlaps an input of the same
    /// command (writing it would destroy what is being read).
    #[error("refusing to write {output}: {reason}; nothing was written")]
    OutputIsInput {
        /// The output the caller named.
        output: PathBuf,
        /// The input it collides with.
        input: PathBuf,
        /// How, naming the input.
        reason: String,
    },

    /// Reading, writing or flushing a block device or disk image failed.
    #[error("{action} {device} at byte {offset} failed: {source}; {state}")]
    Device {
        /// What was being done ("reading", "writing", "flushing", "opening").
        action: &'static str,
        /// The device or image file.
        device: PathBuf,
        /// The byte offset of the request.
        offset: u64,
        /// The operating system's error.
        source: std::io::Error,
        /// The state the target was left in.
        state: &'static str,
    },

    /// A write target that must not be written: mounted, in use, or the
    /// running system's disk.
    #[error("refusing to write to {device}: {reason}; nothing was written")]
    UnsafeTarget {
        /// The device.
        device: PathBuf,
        /// Why, naming the mount point, holder or partition.
        reason: String,
    },

    /// A target (device, image file or partition) is too small.
    #[error("{target} holds {available} bytes but {needed} bytes are needed for {what}; nothing was written")]
    TargetTooSmall {
        /// The device, image file or partition.
        target: String,
        /// What had to fit.
        what: String,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },

    /// A disk has no free region big enough for a new partition.
    #[error("disk {disk} has no free region of {needed} bytes for {what}; free regions: {free}; nothing was written")]
    NoFreeSpace {
        /// The disk.
        disk: PathBuf,
        /// What the region was for.
        what: String,
        /// Bytes needed.
        needed: u64,
        /// The free regions, as "start..end (size)" list, or "none".
        free: String,
    },

    /// A file too big for the target file system.
    #[error(
        "{file} is {size} bytes but {fs} holds files of at most {limit} bytes; nothing was written"
    )]
    FileTooLarge {
        /// The file.
        file: PathBuf,
        /// Its size.
        size: u64,
        /// The file system ("FAT32").
        fs: &'static str,
        /// The largest size it holds.
        limit: u64,
    },

    /// A partition table or file system on a disk that cannot be used:
    /// damaged, ambiguous, or of an unknown kind.
    #[error("disk {disk}: {detail}; nothing was written")]
    DiskLayout {
        /// The disk or image file.
        disk: PathBuf,
        /// What is wrong, in one sentence.
        detail: String,
    },

    /// An ISO image that cannot be used as a source: damaged, truncated, or
    /// of a kind dart does not read (UDF only).
    #[error("ISO image {path} cannot be read: {detail}; nothing was written")]
    BadIso {
        /// The image file.
        path: PathBuf,
        /// What is wrong, in one sentence.
        detail: String,
    },

    /// A block map file that cannot be used.
    #[error("block map {path} cannot be used: {detail}; nothing was written")]
    BadBmap {
        /// The bmap file.
        path: PathBuf,
        /// What is wrong, in one sentence.
        detail: String,
    },

    /// A target read back differs from the image written to it.
    #[error("verifying {target} failed: byte {offset} differs from the image {image}; the target is not a faithful copy, write it again")]
    VerifyMismatch {
        /// The device or file read back.
        target: PathBuf,
        /// The image.
        image: PathBuf,
        /// The first differing byte.
        offset: u64,
    },

    /// A BCD store that cannot be read, or an edit it does not allow.
    #[error("BCD store {path}: {problem}; the store was left as it was")]
    BadStore {
        /// The store file (or `<new store>`).
        path: PathBuf,
        /// What is wrong, typed.
        problem: crate::formats::bcd::StoreProblem,
    },

    /// A UEFI variable store (an OVMF variable file, efivarfs) that cannot
    /// be read, or an edit of it that cannot be made.
    #[error("UEFI variable store {path}: {problem}; the store was left as it was")]
    BadVariableStore {
        /// The variable file, the efivarfs directory or variable file.
        path: PathBuf,
        /// What is wrong, typed.
        problem: crate::formats::uefi::UefiProblem,
    },

    /// The client database of a boot server cannot be read or written.
    #[error(
        "client database {path}: {action} it failed: {reason}; its last committed state was kept"
    )]
    ClientStore {
        /// What was being done (`reading`, `writing`, …).
        action: &'static str,
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        reason: String,
    },

    /// A long operation was cancelled by the caller.
    #[error("{operation} was cancelled; {untouched}")]
    Cancelled {
        /// What was cancelled.
        operation: &'static str,
        /// What the cancellation left untouched.
        untouched: &'static str,
    },
}

/// The coarse kind of an [`Error`]; stable, for bindings and programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An input path does not exist.
    NotFound,
    /// The operating system refused a read or write.
    Io,
    /// A WIM file is not a WIM, is damaged, lacks the image, or wimlib failed.
    Image,
    /// A tool or support level name is unknown, or a tool payload is missing.
    Tool,
    /// A setting is out of range.
    InvalidInput,
    /// A media set is incomplete.
    Media,
    /// The caller cancelled the operation.
    Cancelled,
    /// A disk or device: I/O failed, it is unsafe to write, too small, full,
    /// or its partition table or file system cannot be used.
    Disk,
    /// A BCD store is damaged, dirty, or does not allow the edit.
    BootStore,
    /// A UEFI variable store is damaged, full, changed since the plan was
    /// made, or lacks the boot option named.
    UefiVariables,
}

impl Error {
    /// The coarse kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Io { .. } => ErrorKind::Io,
            Error::NotAWim { .. }
            | Error::CorruptWim { .. }
            | Error::NoSuchImage { .. }
            | Error::Wim { .. } => ErrorKind::Image,
            Error::UnknownTool { .. }
            | Error::UnknownSupportLevel { .. }
            | Error::MissingToolPayload { .. } => ErrorKind::Tool,
            Error::InvalidSetting { .. } | Error::OutputIsInput { .. } => ErrorKind::InvalidInput,
            Error::MissingMediaFile { .. } | Error::UnsafeSource { .. } => ErrorKind::Media,
            Error::Cancelled { .. } => ErrorKind::Cancelled,
            Error::Device { .. }
            | Error::UnsafeTarget { .. }
            | Error::TargetTooSmall { .. }
            | Error::NoFreeSpace { .. }
            | Error::DiskLayout { .. }
            | Error::VerifyMismatch { .. } => ErrorKind::Disk,
            Error::BadBmap { .. } => ErrorKind::InvalidInput,
            Error::FileTooLarge { .. } | Error::BadIso { .. } => ErrorKind::Media,
            Error::BadStore { .. } => ErrorKind::BootStore,
            Error::BadVariableStore { .. } => ErrorKind::UefiVariables,
            Error::ClientStore { .. } => ErrorKind::Io,
        }
    }

    /// An [`Error::Io`] for a read that wrote nothing.
    pub(crate) fn read(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            action: "reading",
            path: path.to_path_buf(),
            source,
            untouched: "nothing was written",
        }
    }

    /// An [`Error::Io`] for a failed write of an output that has been removed.
    pub(crate) fn write(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            action: "writing",
            path: path.to_path_buf(),
            source,
            untouched: "the partial output was removed and existing files were left as they were",
        }
    }

    /// An [`Error::InvalidSetting`].
    pub(crate) fn invalid(
        field: &'static str,
        value: impl ToString,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidSetting {
            field,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}
