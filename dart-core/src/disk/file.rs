//! [`FileDevice`]: a disk image file.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{check_range, BlockDevice};
use crate::error::{Error, Result};

/// A disk image in a regular file (`usb.img`, `disk.raw`).
///
/// The file's size is the disk's size; writes never grow it.
#[derive(Debug)]
pub struct FileDevice {
    path: PathBuf,
    file: File,
    len: u64,
    sector_size: u32,
}

impl FileDevice {
    /// Opens an existing image read-only.
    pub fn open(path: impl AsRef<Path>, sector_size: u32) -> Result<FileDevice> {
        FileDevice::open_with(path.as_ref(), sector_size, false)
    }

    /// Opens an existing image for reading and writing.
    pub fn open_writable(path: impl AsRef<Path>, sector_size: u32) -> Result<FileDevice> {
        FileDevice::open_with(path.as_ref(), sector_size, true)
    }

    fn open_with(path: &Path, sector_size: u32, write: bool) -> Result<FileDevice> {
        if !path.exists() {
            return Err(Error::NotFound {
                what: "disk image",
                path: path.to_path_buf(),
            });
        }
        let file = OpenOptions::new()
            .read(true)
            .write(write)
            .open(path)
            .map_err(|e| Error::read(path, e))?;
        let len = file.metadata().map_err(|e| Error::read(path, e))?.len();
        Ok(FileDevice {
            path: path.to_path_buf(),
            file,
            len,
            sector_size,
        })
    }

    /// Creates (or truncates) a sparse image of `len` bytes.
    pub fn create(path: impl AsRef<Path>, len: u64, sector_size: u32) -> Result<FileDevice> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| Error::write(path, e))?;
        file.set_len(len).map_err(|e| Error::write(path, e))?;
        Ok(FileDevice {
            path: path.to_path_buf(),
            file,
            len,
            sector_size,
        })
    }

    /// The underlying file.
    pub fn file(&self) -> &File {
        &self.file
    }
}

fn device_error(dev: &FileDevice, action: &'static str, offset: u64, e: std::io::Error) -> Error {
    Error::Device {
        action,
        device: dev.path.clone(),
        offset,
        source: e,
        state: if action == "reading" {
            "nothing was written"
        } else {
            "the image may be partly written"
        },
    }
}

impl BlockDevice for FileDevice {
    fn name(&self) -> &Path {
        &self.path
    }
    fn len(&self) -> u64 {
        self.len
    }
    fn sector_size(&self) -> u32 {
        self.sector_size
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_range(&self.path, "reading", offset, buf.len(), self.len)?;
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| device_error(self, "reading", offset, e))
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> Result<()> {
        check_range(&self.path, "writing", offset, buf.len(), self.len)?;
        self.file
            .write_all_at(buf, offset)
            .map_err(|e| device_error(self, "writing", offset, e))
    }
    fn flush(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| device_error(self, "flushing", 0, e))
    }
}
