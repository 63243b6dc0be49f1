//! [`DeviceIo`]: `std::io` traits over a [`BlockDevice`], for crates such as
//! `fatfs` that take `Read + Write + Seek` storage.

use std::io::{self, Read, Seek, SeekFrom, Write};

use super::BlockDevice;

/// A cursor over a block device implementing `Read`, `Write` and `Seek`.
#[derive(Debug)]
pub struct DeviceIo<D> {
    dev: D,
    pos: u64,
}

impl<D: BlockDevice> DeviceIo<D> {
    /// A cursor at offset 0.
    pub fn new(dev: D) -> DeviceIo<D> {
        DeviceIo { dev, pos: 0 }
    }

    /// Gives back the device.
    pub fn into_inner(self) -> D {
        self.dev
    }
}

fn to_io(e: crate::Error) -> io::Error {
    match e {
        crate::Error::Device { source, .. } => source,
        other => io::Error::other(other.to_string()),
    }
}

impl<D: BlockDevice> Read for DeviceIo<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.dev.len().saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        self.dev.read_at(self.pos, &mut buf[..n]).map_err(to_io)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<D: BlockDevice> Write for DeviceIo<D> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.dev.len().saturating_sub(self.pos);
        if left == 0 && !buf.is_empty() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "end of device"));
        }
        let n = (buf.len() as u64).min(left) as usize;
        self.dev.write_at(self.pos, &buf[..n]).map_err(to_io)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.dev.flush().map_err(to_io)
    }
}

impl<D: BlockDevice> Seek for DeviceIo<D> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.dev.len().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match new {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the device",
            )),
        }
    }
}
