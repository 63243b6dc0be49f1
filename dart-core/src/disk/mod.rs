//! Block devices: the one interface every writer in the crate ends in.
//!
//! [`BlockDevice`] reads and writes bytes at offsets of a disk, a disk image
//! file, a region of memory or a range of another device ([`Region`]).
//! Backends:
//!
//! | backend | for |
//! |---|---|
//! | [`MemoryDevice`] | tests and layouts built in memory |
//! | [`FileDevice`] | disk image files (`usb.img`, `disk.raw`) |
//! | [`linux::LinuxBlockDevice`] | `/dev/sdX`, `/dev/loopN`, ...: `O_DIRECT`, `BLKGETSIZE64`, `BLKSSZGET` |
//! | [`fault::FaultyDevice`] | crash-safety tests: stops at the n-th write or flush |
//! | [`Mirror`] | several targets written as one (a layout built once onto N sticks) |
//!
//! [`open_target`] opens whatever path the caller named for writing, and runs
//! the safety checks of [`safety`] first when the path is a block device.
//!
//! ```
//! use dart_core::disk::{BlockDevice, MemoryDevice};
//! let mut disk = MemoryDevice::new(1 << 20, 512);
//! disk.write_at(4096, b"hello")?;
//! let mut buf = [0u8; 5];
//! disk.read_at(4096, &mut buf)?;
//! assert_eq!(&buf, b"hello");
//! # Ok::<(), dart_core::Error>(())
//! ```

pub mod fault;
pub mod in_use;
pub mod inputs;
pub mod linux;
pub mod partial;
pub mod safety;

mod aligned;
mod file;
mod io;
mod memory;
mod mirror;
mod open;
mod raw;
mod region;
mod source;
pub(crate) mod stream;

pub use aligned::{AlignedBuf, DIRECT_ALIGN};
pub use file::FileDevice;
pub use io::DeviceIo;
pub use memory::MemoryDevice;
pub use mirror::Mirror;
pub use open::{missing, names_a_device, open_read, open_read_direct, open_target, TargetSpec};
pub use region::Region;
pub use source::{FileSource, SourceReader};

use std::path::Path;

use crate::error::{Error, Result};

/// A disk-like target addressed in bytes.
///
/// Reads and writes may start at any offset and have any length; backends
/// that need alignment (`O_DIRECT`) take care of it themselves, so callers
/// only need to align for speed, not for correctness. A request outside
/// `0..len()` is an error that names the device.
pub trait BlockDevice: Send {
    /// The path or name used in messages.
    fn name(&self) -> &Path;

    /// Size in bytes.
    fn len(&self) -> u64;

    /// Whether the device has no bytes at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The logical sector size in bytes (512 or 4096).
    fn sector_size(&self) -> u32;

    /// Fills `buf` with the bytes at `offset`.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()>;

    /// Writes `buf` at `offset`.
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> Result<()>;

    /// Makes every completed write durable.
    fn flush(&mut self) -> Result<()>;
}

/// Forwards [`BlockDevice`] through a pointer type (`&mut D`, `Box<D>`).
macro_rules! forward_block_device {
    ($($ptr:ty),*) => {$(
        impl<D: BlockDevice + ?Sized> BlockDevice for $ptr {
            fn name(&self) -> &Path {
                (**self).name()
            }
            fn len(&self) -> u64 {
                (**self).len()
            }
            fn sector_size(&self) -> u32 {
                (**self).sector_size()
            }
            fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
                (**self).read_at(offset, buf)
            }
            fn write_at(&mut self, offset: u64, buf: &[u8]) -> Result<()> {
                (**self).write_at(offset, buf)
            }
            fn flush(&mut self) -> Result<()> {
                (**self).flush()
            }
        }
    )*};
}

forward_block_device!(&mut D, Box<D>);

/// Checks that `offset..offset+len` lies inside a device of `size` bytes.
pub(crate) fn check_range(
    name: &Path,
    action: &'static str,
    offset: u64,
    len: usize,
    size: u64,
) -> Result<()> {
    let end = offset.checked_add(len as u64);
    match end {
        Some(end) if end <= size => Ok(()),
        _ => Err(Error::Device {
            action,
            device: name.to_path_buf(),
            offset,
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{len} bytes at offset {offset} run past the end of the device ({size} bytes)"
                ),
            ),
            state: "nothing was written",
        }),
    }
}

/// Reads `len` bytes at `offset` into a new vector.
pub fn read_vec(dev: &mut dyn BlockDevice, offset: u64, len: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    dev.read_at(offset, &mut buf)?;
    Ok(buf)
}

/// SHA-256 of `len` bytes at `offset`, read in 4 MiB pieces.
pub fn hash_range(dev: &mut dyn BlockDevice, offset: u64, len: u64) -> Result<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 4 << 20];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        dev.read_at(offset + done, &mut buf[..n])?;
        hasher.update(&buf[..n]);
        done += n as u64;
    }
    Ok(hasher.finalize().into())
}
