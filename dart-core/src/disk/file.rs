//! [`FileDevice`]: a disk image file.

use std::fs::{File, OpenOptions};
use std::path::Path;

use super::raw::{delegate_block_device, RawDevice};
use crate::error::{Error, Result};

/// A disk image in a regular file (`usb.img`, `disk.raw`).
///
/// The file's size is the disk's size; writes never grow it. Images opened
/// for writing use `O_DIRECT` where the file system supports it (the page
/// cache is bypassed, as `dd oflag=direct` does), with unaligned requests
/// bounced through aligned buffers; elsewhere (tmpfs) they are buffered.
#[derive(Debug)]
pub struct FileDevice {
    raw: RawDevice,
}

/// The offset alignment `O_DIRECT` needs on `file`, from `statx`
/// (`STATX_DIOALIGN`, Linux 6.1+); 4096 when the kernel does not say. The
/// memory alignment of [`AlignedBuf`](super::AlignedBuf) (4096) covers
/// every file system.
fn direct_alignment(file: &File) -> usize {
    use std::os::fd::AsRawFd;
    // SAFETY: statx is plain old data; all-zero is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: a valid open descriptor, an empty path with AT_EMPTY_PATH (so
    // the descriptor itself is examined) and a pointer to a live statx.
    let rc = unsafe {
        libc::statx(
            file.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_DIOALIGN,
            &mut stx,
        )
    };
    let align = stx.stx_dio_offset_align as usize;
    if rc == 0
        && stx.stx_mask & libc::STATX_DIOALIGN != 0
        && align.is_power_of_two()
        && align <= super::DIRECT_ALIGN
    {
        align
    } else {
        super::DIRECT_ALIGN
    }
}

/// Opens `path` with `options`, adding `O_DIRECT` when the file system
/// accepts it; returns the file and whether it is direct.
fn open_maybe_direct(options: &OpenOptions, path: &Path) -> std::io::Result<(File, Option<usize>)> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut direct = options.clone();
    direct.custom_flags(libc::O_DIRECT);
    match direct.open(path) {
        Ok(f) => {
            let align = direct_alignment(&f);
            Ok((f, Some(align)))
        }
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => options.open(path).map(|f| (f, None)),
        Err(e) => Err(e),
    }
}

impl FileDevice {
    /// Opens an existing image read-only.
    pub fn open(path: impl AsRef<Path>, sector_size: u32) -> Result<FileDevice> {
        FileDevice::open_with(path.as_ref(), sector_size, false, false)
    }

    /// Opens an existing image for reading and writing.
    pub fn open_writable(path: impl AsRef<Path>, sector_size: u32) -> Result<FileDevice> {
        FileDevice::open_with(path.as_ref(), sector_size, true, true)
    }

    /// Opens an existing image read-only with direct I/O where the file
    /// system allows it, so reads come from the disk, not the page cache
    /// (for verifying what was written).
    pub fn open_direct(path: impl AsRef<Path>, sector_size: u32) -> Result<FileDevice> {
        FileDevice::open_with(path.as_ref(), sector_size, false, true)
    }

    fn open_with(path: &Path, sector_size: u32, write: bool, direct: bool) -> Result<FileDevice> {
        if !path.exists() {
            return Err(Error::NotFound {
                what: "disk image",
                path: path.to_path_buf(),
            });
        }
        let mut options = OpenOptions::new();
        options.read(true).write(write);
        let (file, direct) = if direct {
            open_maybe_direct(&options, path)
        } else {
            options.open(path).map(|f| (f, None))
        }
        .map_err(|e| Error::read(path, e))?;
        let len = file.metadata().map_err(|e| Error::read(path, e))?.len();
        Ok(FileDevice::over(path, file, len, sector_size, direct))
    }

    /// Creates (or truncates) a sparse image of `len` bytes.
    pub fn create(path: impl AsRef<Path>, len: u64, sector_size: u32) -> Result<FileDevice> {
        let path = path.as_ref();
        let existed = path.exists();
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(true);
        let (file, direct) =
            open_maybe_direct(&options, path).map_err(|e| Error::write(path, e))?;
        if let Err(e) = file.set_len(len) {
            // Too big for the file system (or the disk): what this call
            // made goes again.
            drop(file);
            if !existed {
                let _ = std::fs::remove_file(path);
            }
            return Err(Error::write(path, e));
        }
        Ok(FileDevice::over(path, file, len, sector_size, direct))
    }

    /// The device over an image file opened from `path`.
    fn over(path: &Path, file: File, len: u64, sector_size: u32, direct: Option<usize>) -> Self {
        FileDevice {
            raw: RawDevice::new(
                path,
                file,
                len,
                sector_size,
                direct,
                "the image may be partly written",
            ),
        }
    }

    /// The underlying file.
    pub fn file(&self) -> &File {
        self.raw.file()
    }
}

delegate_block_device!(FileDevice);
