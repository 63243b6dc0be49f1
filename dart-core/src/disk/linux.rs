//! [`LinuxBlockDevice`]: a Linux block device (`/dev/sdX`, `/dev/loopN`,
//! `/dev/nvme0n1`) opened with `O_DIRECT`.
//!
//! `O_DIRECT` bypasses the page cache, so a write that
//! [`BlockDevice::flush`](super::BlockDevice::flush) reported durable is on
//! the device, and writing a whole USB stick does not evict everything else
//! from memory. The price is alignment, which the raw-device core shared
//! with [`FileDevice`](super::FileDevice) handles (aligned requests go to
//! the caller's buffer, others are bounced through an
//! [`AlignedBuf`](super::AlignedBuf) of at most [`BOUNCE_LIMIT`] bytes). This
//! module adds what is particular to block devices: `O_EXCL`, the size and
//! logical sector size from the kernel (`BLKGETSIZE64`, `BLKSSZGET`).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

use super::raw::{delegate_block_device, RawDevice};
use super::DIRECT_ALIGN;
use crate::error::{Error, Result};

pub use super::raw::BOUNCE_LIMIT;

/// `BLKGETSIZE64`: `_IOR(0x12, 114, size_t)`; libc does not export it for
/// every Linux target, so it is built here like the kernel's `_IOR` does.
const BLKGETSIZE64: libc::Ioctl = ior(0x12, 114, std::mem::size_of::<usize>());

/// The kernel's `_IOR(type, nr, size)` for the architectures whose ioctl
/// numbers have a 2-bit direction field at bit 30 (x86, arm, riscv, ...).
#[cfg(not(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "sparc",
    target_arch = "sparc64"
)))]
const fn ior(ty: u64, nr: u64, size: usize) -> libc::Ioctl {
    const READ: u64 = 2;
    ((READ << 30) | ((size as u64) << 16) | (ty << 8) | nr) as libc::Ioctl
}

/// The kernel's `_IOR(type, nr, size)` for the architectures whose ioctl
/// numbers have a 3-bit direction field at bit 29 (mips, powerpc, sparc).
#[cfg(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "sparc",
    target_arch = "sparc64"
))]
const fn ior(ty: u64, nr: u64, size: usize) -> libc::Ioctl {
    const READ: u64 = 2;
    ((READ << 29) | ((size as u64) << 16) | (ty << 8) | nr) as libc::Ioctl
}

/// A Linux block device opened with `O_DIRECT`.
///
/// Open it read-only with [`LinuxBlockDevice::open`] or for writing with
/// [`LinuxBlockDevice::open_writable`]. Programs that write a device the user
/// named should go through [`open_target`](super::open_target), which runs
/// the [`safety`](super::safety) checks first.
///
/// Requests may have any offset and length (see the [module
/// documentation](self)); `len()` is the device size reported by
/// `BLKGETSIZE64` and `sector_size()` the logical sector size reported by
/// `BLKSSZGET`.
#[derive(Debug)]
pub struct LinuxBlockDevice {
    raw: RawDevice,
    writable: bool,
}

impl LinuxBlockDevice {
    /// Opens a block device read-only (`O_RDONLY | O_DIRECT`).
    pub fn open(path: impl AsRef<Path>) -> Result<LinuxBlockDevice> {
        LinuxBlockDevice::open_with(path.as_ref(), false)
    }

    /// Opens a block device for reading and writing
    /// (`O_RDWR | O_DIRECT | O_EXCL`).
    ///
    /// With `O_EXCL` the kernel refuses (`EBUSY`) while the device, or for a
    /// whole disk one of its partitions, is mounted or claimed by another
    /// exclusive user (device mapper, md, another writer). This does not
    /// replace [`safety::check_writable`](super::safety::check_writable),
    /// which says *why* a device is busy; it closes the window between that
    /// check and the open.
    pub fn open_writable(path: impl AsRef<Path>) -> Result<LinuxBlockDevice> {
        LinuxBlockDevice::open_with(path.as_ref(), true)
    }

    fn open_with(path: &Path, write: bool) -> Result<LinuxBlockDevice> {
        let opening = |source: io::Error| Error::Device {
            action: "opening",
            device: path.to_path_buf(),
            offset: 0,
            source,
            state: "nothing was written",
        };
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::NotFound {
                    what: "block device",
                    path: path.to_path_buf(),
                })
            }
            Err(e) => return Err(opening(e)),
        };
        if !meta.file_type().is_block_device() {
            return Err(opening(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a block device",
            )));
        }
        let mut flags = libc::O_DIRECT;
        if write {
            flags |= libc::O_EXCL;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(write)
            .custom_flags(flags)
            .open(path)
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::EBUSY) {
                    opening(io::Error::new(
                        io::ErrorKind::ResourceBusy,
                        format!("{e} (the device or one of its partitions is mounted or in use)"),
                    ))
                } else {
                    opening(e)
                }
            })?;
        let len = device_size(&file).map_err(opening)?;
        let sector_size = logical_sector_size(&file).map_err(opening)?;
        if !sector_size.is_power_of_two() || !(512..=DIRECT_ALIGN as u32).contains(&sector_size) {
            return Err(opening(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "logical sector size {sector_size} is not supported (expected a power of two from 512 to {DIRECT_ALIGN})"
                ),
            )));
        }
        Ok(LinuxBlockDevice {
            raw: RawDevice::new(
                path,
                file,
                len,
                sector_size,
                Some(sector_size as usize),
                "the device may be partly written",
            ),
            writable: write,
        })
    }

    /// Whether the device was opened for writing.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// The underlying file descriptor, opened with `O_DIRECT`.
    pub fn file(&self) -> &File {
        self.raw.file()
    }
}

delegate_block_device!(LinuxBlockDevice);

/// The device size in bytes (`BLKGETSIZE64`).
fn device_size(file: &File) -> io::Result<u64> {
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through its argument, which points to
    // `size`, a live, writable u64; the descriptor is open for the whole call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), BLKGETSIZE64, &mut size as *mut u64) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(size)
}

/// The logical sector size in bytes (`BLKSSZGET`).
fn logical_sector_size(file: &File) -> io::Result<u32> {
    let mut size: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int through its argument, which points to
    // `size`, a live, writable c_int; the descriptor is open for the whole call.
    let rc = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            libc::BLKSSZGET,
            &mut size as *mut libc::c_int,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    u32::try_from(size).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the kernel reported a logical sector size of {size}"),
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn blkgetsize64_matches_the_kernel_header() {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        assert_eq!(BLKGETSIZE64, 0x8008_1272_u32 as libc::Ioctl);
    }

    #[test]
    fn opening_a_regular_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.img");
        std::fs::write(&path, [0u8; 4096]).unwrap();
        let err = LinuxBlockDevice::open(&path).unwrap_err();
        assert!(err.to_string().contains("not a block device"), "{err}");
        let err = LinuxBlockDevice::open(dir.path().join("missing")).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    }
}
