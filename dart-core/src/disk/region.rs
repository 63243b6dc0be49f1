//! [`Region`]: a byte range of another device, such as one partition.

use std::path::Path;

use super::{check_range, BlockDevice};
use crate::error::Result;

/// The bytes `start..start+len` of a device, addressed from 0.
///
/// ```
/// use dart_core::disk::{BlockDevice, MemoryDevice, Region};
/// let mut disk = MemoryDevice::new(1 << 20, 512);
/// let mut part = Region::new(&mut disk, 4096, 8192)?;
/// part.write_at(0, b"partition start")?;
/// assert_eq!(part.len(), 8192);
/// assert_eq!(&disk.bytes()[4096..4111], b"partition start");
/// # Ok::<(), dart_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Region<D> {
    inner: D,
    start: u64,
    len: u64,
}

impl<D: BlockDevice> Region<D> {
    /// A view of `len` bytes from `start`; an error when it overruns `inner`.
    pub fn new(inner: D, start: u64, len: u64) -> Result<Region<D>> {
        check_range(inner.name(), "opening a region of", start, 0, inner.len())?;
        let usize_len = usize::try_from(len).unwrap_or(usize::MAX);
        check_range(
            inner.name(),
            "opening a region of",
            start,
            usize_len,
            inner.len(),
        )?;
        Ok(Region { inner, start, len })
    }

    /// The region's first byte on the underlying device.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Gives back the underlying device.
    pub fn into_inner(self) -> D {
        self.inner
    }
}

impl<D: BlockDevice> BlockDevice for Region<D> {
    fn name(&self) -> &Path {
        self.inner.name()
    }
    fn len(&self) -> u64 {
        self.len
    }
    fn sector_size(&self) -> u32 {
        self.inner.sector_size()
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(self.inner.name(), "reading", offset, buf.len(), self.len)?;
        self.inner.read_at(self.start + offset, buf)
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> Result<()> {
        check_range(self.inner.name(), "writing", offset, buf.len(), self.len)?;
        self.inner.write_at(self.start + offset, buf)
    }
    fn flush(&mut self) -> Result<()> {
        self.inner.flush()
    }
}
