//! [`open_target`] and [`open_read`]: open whatever path the caller named as
//! a [`BlockDevice`], a block device or a disk image file.

use std::fs;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use super::linux::LinuxBlockDevice;
use super::{safety, BlockDevice, FileDevice};
use crate::error::{Error, Result};

/// How [`open_target`] opens a write target.
///
/// ```
/// use dart_core::disk::TargetSpec;
/// // A new 64 MiB image file with 512-byte sectors.
/// let spec = TargetSpec { create_len: Some(64 << 20), ..TargetSpec::default() };
/// assert_eq!(spec.sector_size, 512);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetSpec {
    /// Create (or re-create) an image file of this many bytes. `None` opens
    /// an existing block device or image file as it is. Must be `None` for a
    /// block device, whose size is fixed.
    pub create_len: Option<u64>,
    /// The logical sector size of an image file: 512 or 4096 (a power of two
    /// from 512 to 4096). Ignored for block devices, which report their own.
    pub sector_size: u32,
}

impl Default for TargetSpec {
    /// Open an existing target with 512-byte sectors.
    fn default() -> Self {
        TargetSpec {
            create_len: None,
            sector_size: 512,
        }
    }
}

/// Opens the write target the caller named.
///
/// - A block device (symlinks such as `/dev/disk/by-id/...` are followed) is
///   checked with [`safety::check_writable`] (refused when it or a partition
///   is mounted, used as swap, held, or holds the running system), then
///   opened read-write with `O_DIRECT | O_EXCL` as a
///   [`LinuxBlockDevice`]. `spec.create_len` must be `None`.
/// - An existing regular file is opened as a [`FileDevice`] image of
///   `spec.sector_size`-byte sectors. With `spec.create_len` set, the file
///   is truncated and re-created sparse at that size: asking for a size is
///   asking for a new image, and the path is the one the caller named.
/// - A missing path is created as an image when `spec.create_len` is set,
///   and is [`Error::NotFound`] otherwise.
/// - Anything else (a directory, a character device, a FIFO) is refused
///   with [`Error::UnsafeTarget`]; it is never truncated.
pub fn open_target(path: &Path, spec: &TargetSpec) -> Result<Box<dyn BlockDevice>> {
    let ss = spec.sector_size;
    if !ss.is_power_of_two() || !(512..=4096).contains(&ss) {
        return Err(Error::invalid(
            "sector size",
            ss,
            "must be a power of two from 512 to 4096 (512 or 4096 in practice)",
        ));
    }
    if let Some(len) = spec.create_len {
        if len == 0 || len % u64::from(ss) != 0 {
            return Err(Error::invalid(
                "size",
                len,
                format!("an image must be a non-zero multiple of the {ss}-byte sector size"),
            ));
        }
    }

    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return match spec.create_len {
                Some(len) if !names_a_device(path) => {
                    Ok(Box::new(FileDevice::create(path, len, ss)?))
                }
                _ => Err(missing(path)),
            };
        }
        Err(e) => return Err(opening(path, e)),
    };
    let file_type = meta.file_type();
    if file_type.is_block_device() {
        if let Some(len) = spec.create_len {
            return Err(Error::invalid(
                "size",
                len,
                format!(
                    "{} is a block device, whose size is fixed; give no size to write to it",
                    path.display()
                ),
            ));
        }
        safety::check_writable(path)?;
        return Ok(Box::new(LinuxBlockDevice::open_writable(path)?));
    }
    if file_type.is_file() {
        if names_a_device(path) {
            return Err(Error::UnsafeTarget {
                device: path.to_path_buf(),
                reason: "it is a regular file under /dev, not a device (left from a mistyped device name?); remove it and name the device".into(),
            });
        }
        safety::check_writable(path)?;
        return Ok(match spec.create_len {
            Some(len) => Box::new(FileDevice::create(path, len, ss)?),
            None => Box::new(FileDevice::open_writable(path, ss)?),
        });
    }
    Err(Error::UnsafeTarget {
        device: path.to_path_buf(),
        reason: format!(
            "it is {}, not a block device or a disk image file",
            describe(&file_type)
        ),
    })
}

/// Opens a block device or disk image read-only.
///
/// A block device is opened as a [`LinuxBlockDevice`] (`O_DIRECT`, its own
/// sector size); anything else must be a regular image file, opened as a
/// [`FileDevice`] with 512-byte sectors. Nothing is ever written through the
/// returned device (writes fail with the operating system's error).
pub fn open_read(path: &Path) -> Result<Box<dyn BlockDevice>> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::NotFound {
                what: "disk image or device",
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(opening(path, e)),
    };
    let file_type = meta.file_type();
    if file_type.is_block_device() {
        return Ok(Box::new(LinuxBlockDevice::open(path)?));
    }
    if file_type.is_file() {
        return Ok(Box::new(FileDevice::open(path, 512)?));
    }
    Err(opening(
        path,
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "it is {}, not a block device or a disk image file",
                describe(&file_type)
            ),
        ),
    ))
}

/// Like [`open_read`], but image files are read with direct I/O too, so
/// that every read comes from the disk and not the page cache.
pub fn open_read_direct(path: &Path) -> Result<Box<dyn BlockDevice>> {
    match fs::metadata(path) {
        Ok(meta) if meta.file_type().is_file() => Ok(Box::new(FileDevice::open_direct(path, 512)?)),
        _ => open_read(path),
    }
}

/// Whether `path` is in `/dev` (or below it), where only devices live: a
/// path there that does not exist is a mistyped device name, never a new
/// image file.
pub fn names_a_device(path: &Path) -> bool {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::canonicalize(dir).is_ok_and(|d| d.starts_with("/dev"))
}

/// The error for a write target that does not exist.
pub fn missing(path: &Path) -> Error {
    if names_a_device(path) {
        Error::NotFound {
            what: "device",
            path: path.to_path_buf(),
        }
    } else {
        Error::NotFound {
            what: "write target",
            path: path.to_path_buf(),
        }
    }
}

/// An [`Error::Device`] for a target that could not be opened.
fn opening(path: &Path, source: io::Error) -> Error {
    Error::Device {
        action: "opening",
        device: path.to_path_buf(),
        offset: 0,
        source,
        state: "nothing was written",
    }
}

/// "a directory", "a character device", ...
fn describe(file_type: &fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn creates_and_reopens_an_image() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usb.img");
        let spec = TargetSpec {
            create_len: Some(1 << 20),
            sector_size: 4096,
        };
        let mut dev = open_target(&path, &spec).unwrap();
        assert_eq!(dev.len(), 1 << 20);
        assert_eq!(dev.sector_size(), 4096);
        dev.write_at(12345, b"hello").unwrap();
        dev.flush().unwrap();
        drop(dev);

        let mut dev = open_target(&path, &TargetSpec::default()).unwrap();
        assert_eq!(dev.sector_size(), 512);
        assert_eq!(
            super::super::read_vec(&mut *dev, 12345, 5).unwrap(),
            b"hello"
        );

        let mut dev = open_read(&path).unwrap();
        assert_eq!(dev.len(), 1 << 20);
        assert_eq!(
            super::super::read_vec(&mut *dev, 12345, 5).unwrap(),
            b"hello"
        );
        assert!(dev.write_at(0, b"x").is_err());
    }

    #[test]
    fn missing_target_without_size_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.img");
        let err = open_target(&path, &TargetSpec::default()).err().unwrap();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
        assert!(!path.exists());
        let err = open_read(&path).err().unwrap();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    }

    #[test]
    fn directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let spec = TargetSpec {
            create_len: Some(1 << 20),
            ..TargetSpec::default()
        };
        let err = open_target(dir.path(), &spec).err().unwrap();
        assert!(err.to_string().contains("it is a directory"), "{err}");
        let err = open_read(dir.path()).err().unwrap();
        assert!(err.to_string().contains("it is a directory"), "{err}");
    }

    #[test]
    fn character_devices_are_refused() {
        let err = open_target(Path::new("/dev/null"), &TargetSpec::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("a character device"), "{err}");
    }

    #[test]
    fn bad_specs_are_invalid_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.img");
        for spec in [
            TargetSpec {
                create_len: None,
                sector_size: 1000,
            },
            TargetSpec {
                create_len: Some(1000),
                sector_size: 512,
            },
            TargetSpec {
                create_len: Some(0),
                sector_size: 512,
            },
        ] {
            let err = open_target(&path, &spec).err().unwrap();
            assert!(
                matches!(err, Error::InvalidSetting { .. }),
                "{spec:?}: {err}"
            );
        }
        assert!(!path.exists());
    }
}
