//! [`MemoryDevice`]: a disk held in memory.

use std::path::{Path, PathBuf};

use super::{check_range, BlockDevice};
use crate::error::Result;

/// A disk held in a `Vec<u8>`; for tests and small layouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryDevice {
    name: PathBuf,
    bytes: Vec<u8>,
    sector_size: u32,
}

impl MemoryDevice {
    /// A zero-filled disk of `len` bytes with `sector_size`-byte sectors.
    pub fn new(len: usize, sector_size: u32) -> MemoryDevice {
        MemoryDevice::from_bytes(vec![0; len], sector_size)
    }

    /// A disk holding `bytes`.
    pub fn from_bytes(bytes: Vec<u8>, sector_size: u32) -> MemoryDevice {
        MemoryDevice {
            name: PathBuf::from("<memory>"),
            bytes,
            sector_size,
        }
    }

    /// The disk's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The disk's bytes, for tests that damage them on purpose.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// Consumes the device, returning its bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl BlockDevice for MemoryDevice {
    fn name(&self) -> &Path {
        &self.name
    }
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn sector_size(&self) -> u32 {
        self.sector_size
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(&self.name, "reading", offset, buf.len(), self.len())?;
        let start = offset as usize;
        buf.copy_from_slice(&self.bytes[start..start + buf.len()]);
        Ok(())
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> Result<()> {
        check_range(&self.name, "writing", offset, buf.len(), self.len())?;
        let start = offset as usize;
        self.bytes[start..start + buf.len()].copy_from_slice(buf);
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}
