//! The image being written: its length and which byte ranges hold data,
//! from a block map or from the file system's holes (`SEEK_DATA` /
//! `SEEK_HOLE`).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::bmap::{hex, Bmap, MappedRange};
use crate::error::{Error, Result};

/// Block size of the maps dart creates (bmaptool's default).
pub const MAP_BLOCK: u64 = 4096;

/// An image file opened for reading.
#[derive(Debug)]
pub struct ImageSource {
    path: PathBuf,
    file: File,
    len: u64,
}

impl ImageSource {
    /// Opens `path` read-only.
    pub fn open(path: &Path) -> Result<ImageSource> {
        let file = File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                what: "image",
                path: path.to_path_buf(),
            },
            _ => Error::read(path, e),
        })?;
        let meta = file.metadata().map_err(|e| Error::read(path, e))?;
        let len = if meta.file_type().is_file() {
            meta.len()
        } else {
            // A block device as the source: its size.
            crate::disk::open_read(path)?.len()
        };
        Ok(ImageSource {
            path: path.to_path_buf(),
            file,
            len,
        })
    }

    /// The image's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of the image.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the image is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fills `buf` from `offset`.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| Error::read(&self.path, e))
    }

    /// The ranges `(offset, len)` that hold data according to the file
    /// system, rounded out to [`MAP_BLOCK`]: everything outside them reads as
    /// zeros. A file system without `SEEK_DATA` gives one range.
    pub fn data_ranges(&self) -> Result<Vec<(u64, u64)>> {
        let fd = self.file.as_raw_fd();
        let mut out: Vec<(u64, u64)> = Vec::new();
        let mut pos: i64 = 0;
        let end = i64::try_from(self.len).unwrap_or(i64::MAX);
        while pos < end {
            // SAFETY: lseek on a file descriptor this struct owns; no memory
            // is passed.
            let data = unsafe { libc::lseek(fd, pos, libc::SEEK_DATA) };
            if data < 0 {
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::ENXIO) => break, // no data after pos
                    Some(libc::EINVAL) if out.is_empty() => return Ok(vec![(0, self.len)]),
                    _ => return Err(Error::read(&self.path, e)),
                }
            }
            // SAFETY: as above.
            let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
            if hole < 0 {
                return Err(Error::read(&self.path, std::io::Error::last_os_error()));
            }
            let start = (data as u64) / MAP_BLOCK * MAP_BLOCK;
            let stop = (hole as u64).next_multiple_of(MAP_BLOCK).min(self.len);
            match out.last_mut() {
                Some(last) if last.0 + last.1 >= start => {
                    last.1 = stop.max(last.0 + last.1) - last.0
                }
                _ => out.push((start, stop - start)),
            }
            pos = hole;
        }
        Ok(out)
    }

    /// A block map of the image's data ranges, with a SHA-256 per range
    /// (what `bmaptool create` makes).
    pub fn create_bmap(&self) -> Result<Bmap> {
        let mut ranges = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        for (offset, len) in self.data_ranges()? {
            let mut h = Sha256::new();
            let mut done = 0u64;
            while done < len {
                let n = (len - done).min(buf.len() as u64) as usize;
                self.read_at(offset + done, &mut buf[..n])?;
                h.update(&buf[..n]);
                done += n as u64;
            }
            ranges.push(MappedRange {
                first: offset / MAP_BLOCK,
                last: (offset + len).div_ceil(MAP_BLOCK) - 1,
                sha256: Some(hex(&h.finalize())),
            });
        }
        Ok(Bmap::new(self.len, MAP_BLOCK, ranges))
    }
}

/// Writes the block map of `image` to `output` (bmaptool's XML, SHA-256 per
/// range) and returns it. `output` is written whole or not at all.
pub fn write_bmap(image: &Path, output: &Path) -> Result<Bmap> {
    crate::disk::inputs::check_output(output, &[image])?;
    let map = ImageSource::open(image)?.create_bmap()?;
    let partial = crate::disk::partial::PartialFile::beside(output)?;
    std::fs::write(partial.path(), map.to_xml()).map_err(|e| Error::write(output, e))?;
    partial.commit()?;
    Ok(map)
}
