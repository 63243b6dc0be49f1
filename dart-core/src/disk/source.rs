//! [`FileSource`]: the bytes of one source file, which may be a whole file
//! on disk or byte ranges inside another file (a file of an ISO image).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::beneath::RootDir;
use crate::error::{Error, Result};

/// Where the bytes of one file come from: ranges of a file on disk, read
/// in order.
///
/// ```
/// use dart_core::disk::FileSource;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("f");
/// std::fs::write(&path, b"0123456789")?;
/// let part = FileSource::ranges(&path, vec![(6, 2), (1, 3)]);
/// assert_eq!(part.read_all()?, b"67123");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSource {
    path: PathBuf,
    /// `(offset, len)` ranges of `path`; `None` is the whole file.
    ranges: Option<Vec<(u64, u64)>>,
    len: u64,
    /// For a file of a directory tree: the tree's root and the file's path
    /// in it, opened beneath the root without following symbolic links.
    beneath: Option<(PathBuf, PathBuf)>,
}

impl FileSource {
    /// The whole file at `path`, `len` bytes long.
    pub fn whole(path: impl Into<PathBuf>, len: u64) -> FileSource {
        FileSource {
            path: path.into(),
            ranges: None,
            len,
            beneath: None,
        }
    }

    /// The whole file `relative` of the directory tree `root`, `len` bytes
    /// long, opened without following any symbolic link below `root` (a
    /// link planted after the tree was scanned is refused, not followed).
    pub fn beneath(root: &Path, relative: &Path, len: u64) -> FileSource {
        FileSource {
            path: root.join(relative),
            ranges: None,
            len,
            beneath: Some((root.to_path_buf(), relative.to_path_buf())),
        }
    }

    /// The `(offset, len)` ranges of the file at `path`, in order.
    pub fn ranges(path: impl Into<PathBuf>, ranges: Vec<(u64, u64)>) -> FileSource {
        let len = ranges.iter().map(|r| r.1).sum();
        FileSource {
            path: path.into(),
            ranges: Some(ranges),
            len,
            beneath: None,
        }
    }

    /// The file the bytes are read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of the source.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the source has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Opens a reader positioned at the first byte.
    pub fn open(&self) -> Result<SourceReader> {
        let file = match &self.beneath {
            Some((root, relative)) => RootDir::open(root)
                .and_then(|dir| dir.open_file(relative))
                .map_err(|e| Error::read(&self.path, e))?,
            None => File::open(&self.path).map_err(|e| Error::read(&self.path, e))?,
        };
        let ranges = match &self.ranges {
            Some(r) => r.clone(),
            None => vec![(0, self.len)],
        };
        Ok(SourceReader {
            file,
            ranges,
            next: 0,
            left: 0,
        })
    }

    /// Reads the whole source into memory (for small files only).
    pub fn read_all(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0).min(1 << 24));
        self.open()?
            .read_to_end(&mut out)
            .map_err(|e| Error::read(&self.path, e))?;
        Ok(out)
    }
}

/// A reader over a [`FileSource`]'s ranges.
#[derive(Debug)]
pub struct SourceReader {
    file: File,
    ranges: Vec<(u64, u64)>,
    next: usize,
    left: u64,
}

impl Read for SourceReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.left == 0 {
            let Some(&(offset, len)) = self.ranges.get(self.next) else {
                return Ok(0);
            };
            self.next += 1;
            self.file.seek(SeekFrom::Start(offset))?;
            self.left = len;
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 && want > 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file ends before the range recorded for it",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
