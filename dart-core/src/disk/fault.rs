//! [`FaultyDevice`]: a disk that crashes on purpose, to prove crash safety.
//!
//! The device counts every write and flush. At the operation chosen with
//! [`FaultyDevice::crash_at`] it fails with an I/O error, and so does every
//! later operation, as if the machine had lost power. Writes that were not
//! yet flushed when the crash came may or may not have reached the disk: the
//! test looks at both outcomes, [`FaultyDevice::image_with_unflushed`] and
//! [`FaultyDevice::image_flushed_only`].
//!
//! ```
//! use dart_core::disk::{BlockDevice, MemoryDevice};
//! use dart_core::disk::fault::FaultyDevice;
//! let mut dev = FaultyDevice::new(MemoryDevice::new(4096, 512));
//! dev.crash_at(Some(1));
//! dev.write_at(0, b"a")?;                 // operation 0 succeeds
//! assert!(dev.write_at(512, b"b").is_err()); // operation 1 crashes
//! assert_eq!(dev.image_flushed_only()[0], 0);
//! assert_eq!(dev.image_with_unflushed()[0], b'a');
//! # Ok::<(), dart_core::Error>(())
//! ```

use std::path::{Path, PathBuf};

use super::{check_range, BlockDevice, MemoryDevice};
use crate::error::{Error, Result};

/// A memory disk that fails at a chosen write or flush.
#[derive(Debug, Clone)]
pub struct FaultyDevice {
    name: PathBuf,
    durable: MemoryDevice,
    pending: Vec<(u64, Vec<u8>)>,
    operations: u64,
    crash_at: Option<u64>,
    crashed: bool,
}

impl FaultyDevice {
    /// Wraps a disk whose current bytes count as flushed.
    pub fn new(disk: MemoryDevice) -> FaultyDevice {
        FaultyDevice {
            name: PathBuf::from("<faulty memory disk>"),
            durable: disk,
            pending: Vec::new(),
            operations: 0,
            crash_at: None,
            crashed: false,
        }
    }

    /// Crash at the operation with this 0-based number (`None`: never).
    pub fn crash_at(&mut self, operation: Option<u64>) {
        self.crash_at = operation;
    }

    /// Writes and flushes seen so far, including the one that crashed.
    pub fn operations(&self) -> u64 {
        self.operations
    }

    /// Whether the crash has happened.
    pub fn crashed(&self) -> bool {
        self.crashed
    }

    /// The disk as it would be found if every write issued before the crash
    /// had reached it.
    pub fn image_with_unflushed(&self) -> Vec<u8> {
        let mut disk = self.durable.clone();
        for (offset, data) in &self.pending {
            let start = *offset as usize;
            disk.bytes_mut()[start..start + data.len()].copy_from_slice(data);
        }
        disk.into_bytes()
    }

    /// The disk as it would be found if no write since the last flush had
    /// reached it.
    pub fn image_flushed_only(&self) -> Vec<u8> {
        self.durable.bytes().to_vec()
    }

    fn step(&mut self, action: &'static str, offset: u64) -> Result<()> {
        let this = self.operations;
        self.operations += 1;
        if self.crashed || self.crash_at == Some(this) {
            self.crashed = true;
            return Err(Error::Device {
                action,
                device: self.name.clone(),
                offset,
                source: std::io::Error::other("injected crash"),
                state: "the disk stopped at an injected crash",
            });
        }
        Ok(())
    }
}

impl BlockDevice for FaultyDevice {
    fn name(&self) -> &Path {
        &self.name
    }
    fn len(&self) -> u64 {
        self.durable.len()
    }
    fn sector_size(&self) -> u32 {
        self.durable.sector_size()
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        if self.crashed {
            return self.step("reading", offset);
        }
        self.durable.read_at(offset, buf)?;
        let end = offset + buf.len() as u64;
        for (at, data) in &self.pending {
            let (a, b) = (*at, at + data.len() as u64);
            if b <= offset || a >= end {
                continue;
            }
            let lo = a.max(offset);
            let hi = b.min(end);
            buf[(lo - offset) as usize..(hi - offset) as usize]
                .copy_from_slice(&data[(lo - a) as usize..(hi - a) as usize]);
        }
        Ok(())
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> Result<()> {
        check_range(&self.name, "writing", offset, buf.len(), self.len())?;
        self.step("writing", offset)?;
        self.pending.push((offset, buf.to_vec()));
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        self.step("flushing", 0)?;
        for (offset, data) in std::mem::take(&mut self.pending) {
            self.durable.write_at(offset, &data)?;
        }
        Ok(())
    }
}
