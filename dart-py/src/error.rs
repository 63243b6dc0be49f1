//! The exception tree of `dart._dart` and the one mapping from core errors to it.
//!
//! Every exception derives from [`DartError`]; each [`ErrorKind`] of
//! dart-core has one subclass. The message is the core error's `Display`
//! text, which names the wrong input and what was left untouched.

use dart_core::{Error, ErrorKind};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::PyErr;

create_exception!(
    dart._dart,
    DartError,
    PyException,
    "Base class of every error the dart library raises."
);
create_exception!(
    dart._dart,
    NotFoundError,
    DartError,
    "An input file or directory does not exist."
);
create_exception!(
    dart._dart,
    IoError,
    DartError,
    "The operating system refused a read or a write."
);
create_exception!(
    dart._dart,
    ImageError,
    DartError,
    "A WIM file is not a WIM, is damaged or lacks the image asked for, or composing it failed."
);
create_exception!(
    dart._dart,
    ToolError,
    DartError,
    "A tool or support level name is unknown, or a selected tool has no payload."
);
create_exception!(
    dart._dart,
    InvalidInputError,
    DartError,
    "A setting or argument has a value it does not accept."
);
create_exception!(
    dart._dart,
    MediaError,
    DartError,
    "A media set lacks a file it needs to boot."
);
create_exception!(
    dart._dart,
    CancelledError,
    DartError,
    "A long operation was cancelled; its partial output was removed."
);

create_exception!(
    dart._dart,
    DiskError,
    DartError,
    "A disk or device: mounted or in use, too small, full, unreadable, or its partition table or file system cannot be used."
);

create_exception!(
    dart._dart,
    BootStoreError,
    DartError,
    "A BCD store is damaged, dirty (Windows left changes in its log files), not a BCD store, lacks the object named, or does not allow the edit."
);

create_exception!(
    dart._dart,
    UefiVariablesError,
    DartError,
    "A UEFI variable store (efivarfs or an OVMF variable file) is damaged, full, changed since the plan was made, or lacks the boot option named."
);

/// The exception of a core error's kind, carrying the core error's message.
pub(crate) fn to_py(error: Error) -> PyErr {
    let message = error.to_string();
    match error.kind() {
        ErrorKind::NotFound => NotFoundError::new_err(message),
        ErrorKind::Io => IoError::new_err(message),
        ErrorKind::Image => ImageError::new_err(message),
        ErrorKind::Tool => ToolError::new_err(message),
        ErrorKind::InvalidInput => InvalidInputError::new_err(message),
        ErrorKind::Media => MediaError::new_err(message),
        ErrorKind::Cancelled => CancelledError::new_err(message),
        ErrorKind::Disk => DiskError::new_err(message),
        ErrorKind::BootStore => BootStoreError::new_err(message),
        ErrorKind::UefiVariables => UefiVariablesError::new_err(message),
        _ => DartError::new_err(message),
    }
}

/// Converts a core result into a Python one.
pub(crate) fn core<T>(result: dart_core::Result<T>) -> Result<T, PyErr> {
    result.map_err(to_py)
}
