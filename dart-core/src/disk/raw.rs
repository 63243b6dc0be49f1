//! The raw-device core behind [`FileDevice`](super::FileDevice) and
//! [`LinuxBlockDevice`](super::linux::LinuxBlockDevice): positioned reads
//! and writes on an open file, with `O_DIRECT` alignment handled.
//!
//! With `O_DIRECT` the kernel only accepts requests whose offset, length and
//! buffer address are multiples of the alignment (a block device's logical
//! sector size, a file system's `STATX_DIOALIGN`):
//!
//! - an aligned request goes straight to `pread`/`pwrite` on the caller's
//!   buffer, without a copy, whatever its size: the fast path every writer
//!   uses;
//! - any other request is bounced through an [`AlignedBuf`] of at most
//!   [`BOUNCE_LIMIT`] bytes at a time, with a read-modify-write of the
//!   partial sectors at either edge.
//!
//! Short transfers and `EINTR` are retried until the request is complete.
//! Without `O_DIRECT` (a file system that refuses it) requests go to the
//! page cache as they are.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{check_range, AlignedBuf, BlockDevice};
use crate::error::{Error, Result};

/// The largest bounce buffer used for an unaligned request; longer unaligned
/// requests are done in pieces of this size.
pub const BOUNCE_LIMIT: usize = 1 << 20;

/// An open file used as a disk: its name, size, sector size, and how its
/// I/O is aligned.
#[derive(Debug)]
pub(crate) struct RawDevice {
    path: PathBuf,
    file: File,
    len: u64,
    sector_size: u32,
    /// `O_DIRECT` alignment, or `None` for buffered I/O.
    direct: Option<usize>,
    /// What a failed write or flush leaves behind, for the error message.
    partly_written: &'static str,
}

impl RawDevice {
    /// A device over `file` (opened from `path`) of `len` bytes.
    pub(crate) fn new(
        path: &Path,
        file: File,
        len: u64,
        sector_size: u32,
        direct: Option<usize>,
        partly_written: &'static str,
    ) -> Self {
        RawDevice {
            path: path.to_path_buf(),
            file,
            len,
            sector_size,
            direct,
            partly_written,
        }
    }

    /// The open file.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    fn error(&self, action: &'static str, offset: u64, source: io::Error) -> Error {
        Error::Device {
            action,
            device: self.path.clone(),
            offset,
            source,
            state: if action == "reading" {
                "nothing was written"
            } else {
                self.partly_written
            },
        }
    }
}

impl BlockDevice for RawDevice {
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
        let done = match self.direct {
            Some(align) => read_any(&self.file, align, offset, buf),
            None => self.file.read_exact_at(buf, offset),
        };
        done.map_err(|e| self.error("reading", offset, e))
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> Result<()> {
        check_range(&self.path, "writing", offset, buf.len(), self.len)?;
        let done = match self.direct {
            Some(align) => write_any(&self.file, align, offset, buf),
            None => self.file.write_all_at(buf, offset),
        };
        done.map_err(|e| self.error("writing", offset, e))
    }
    fn flush(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| self.error("flushing", 0, e))
    }
}

/// Implements [`BlockDevice`] for a type with a `raw: RawDevice` field by
/// handing every call to it.
macro_rules! delegate_block_device {
    ($ty:ty) => {
        impl $crate::disk::BlockDevice for $ty {
            fn name(&self) -> &std::path::Path {
                $crate::disk::BlockDevice::name(&self.raw)
            }
            fn len(&self) -> u64 {
                $crate::disk::BlockDevice::len(&self.raw)
            }
            fn sector_size(&self) -> u32 {
                $crate::disk::BlockDevice::sector_size(&self.raw)
            }
            fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> $crate::error::Result<()> {
                $crate::disk::BlockDevice::read_at(&mut self.raw, offset, buf)
            }
            fn write_at(&mut self, offset: u64, buf: &[u8]) -> $crate::error::Result<()> {
                $crate::disk::BlockDevice::write_at(&mut self.raw, offset, buf)
            }
            fn flush(&mut self) -> $crate::error::Result<()> {
                $crate::disk::BlockDevice::flush(&mut self.raw)
            }
        }
    };
}
pub(crate) use delegate_block_device;

/// Positioned I/O that may transfer less than asked, like `pread`/`pwrite`.
///
/// [`File`] implements it with `pread`/`pwrite`; the tests implement it with
/// a model that checks every request is aligned.
pub(crate) trait RawIo {
    fn pread(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    fn pwrite(&self, buf: &[u8], offset: u64) -> io::Result<usize>;
}

impl RawIo for File {
    fn pread(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.read_at(buf, offset)
    }
    fn pwrite(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.write_at(buf, offset)
    }
}

/// Whether a request can go to `O_DIRECT` as it is.
fn is_aligned(ptr: *const u8, offset: u64, len: usize, sector: usize) -> bool {
    (ptr as usize).is_multiple_of(sector)
        && offset.is_multiple_of(sector as u64)
        && len.is_multiple_of(sector)
}

/// `pread` until `buf` is full, retrying `EINTR`; end of device is an error.
fn pread_full<R: RawIo + ?Sized>(io: &R, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match io.pread(buf, offset) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the device ended at byte {offset}"),
                ))
            }
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `pwrite` until all of `buf` is written, retrying `EINTR`.
fn pwrite_full<R: RawIo + ?Sized>(io: &R, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match io.pwrite(buf, offset) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("the device accepted no bytes at {offset}"),
                ))
            }
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The sector-aligned span `[start, end)` covering `offset..offset + len`.
fn aligned_span(offset: u64, len: usize, sector: usize) -> (u64, u64) {
    let sector = sector as u64;
    let start = offset - offset % sector;
    let end = (offset + len as u64).div_ceil(sector) * sector;
    (start, end)
}

/// A bounce buffer for a span of `span` bytes: at most [`BOUNCE_LIMIT`]
/// bytes, a whole number of sectors.
fn bounce_for(span: u64, sector: usize) -> AlignedBuf {
    let limit = (BOUNCE_LIMIT / sector).max(1) * sector;
    let len = usize::try_from(span).map_or(limit, |span| span.min(limit));
    AlignedBuf::new(len)
}

/// Reads `buf.len()` bytes at `offset`, directly when aligned, else through a
/// bounce buffer.
pub(crate) fn read_any<R: RawIo + ?Sized>(
    io: &R,
    sector: usize,
    offset: u64,
    buf: &mut [u8],
) -> io::Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    if is_aligned(buf.as_ptr(), offset, buf.len(), sector) {
        return pread_full(io, buf, offset);
    }
    let end = offset + buf.len() as u64;
    let (span_start, span_end) = aligned_span(offset, buf.len(), sector);
    let mut bounce = bounce_for(span_end - span_start, sector);
    let mut pos = span_start;
    while pos < span_end {
        let chunk_end = span_end.min(pos + bounce.len() as u64);
        let chunk = &mut bounce[..(chunk_end - pos) as usize];
        pread_full(io, chunk, pos)?;
        let data_start = pos.max(offset);
        let data_end = chunk_end.min(end);
        buf[(data_start - offset) as usize..(data_end - offset) as usize]
            .copy_from_slice(&chunk[(data_start - pos) as usize..(data_end - pos) as usize]);
        pos = chunk_end;
    }
    Ok(())
}

/// Writes `buf` at `offset`, directly when aligned, else through a bounce
/// buffer with a read-modify-write of partial sectors at the edges.
pub(crate) fn write_any<R: RawIo + ?Sized>(
    io: &R,
    sector: usize,
    offset: u64,
    buf: &[u8],
) -> io::Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    if is_aligned(buf.as_ptr(), offset, buf.len(), sector) {
        return pwrite_full(io, buf, offset);
    }
    let end = offset + buf.len() as u64;
    let (span_start, span_end) = aligned_span(offset, buf.len(), sector);
    let mut bounce = bounce_for(span_end - span_start, sector);
    let mut pos = span_start;
    while pos < span_end {
        let chunk_end = span_end.min(pos + bounce.len() as u64);
        let n = (chunk_end - pos) as usize;
        let chunk = &mut bounce[..n];
        let data_start = pos.max(offset);
        let data_end = chunk_end.min(end);
        // Keep the bytes of partly overwritten sectors at the chunk's edges.
        let head_partial = data_start > pos;
        if head_partial {
            pread_full(io, &mut chunk[..sector], pos)?;
        }
        let tail_partial = data_end < chunk_end;
        if tail_partial && !(head_partial && n == sector) {
            pread_full(io, &mut chunk[n - sector..], chunk_end - sector as u64)?;
        }
        chunk[(data_start - pos) as usize..(data_end - pos) as usize]
            .copy_from_slice(&buf[(data_start - offset) as usize..(data_end - offset) as usize]);
        pwrite_full(io, chunk, pos)?;
        pos = chunk_end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::cell::{Cell, RefCell};

    /// A device in memory that behaves like `O_DIRECT`: it rejects unaligned
    /// requests, and it can transfer at most `max_io` bytes per call and fail
    /// every other call with `EINTR`, to exercise the retry loops.
    struct StrictIo {
        bytes: RefCell<Vec<u8>>,
        sector: usize,
        max_io: usize,
        interrupt: bool,
        calls: Cell<usize>,
        /// Buffer addresses passed to pwrite, to check the zero-copy path.
        write_ptrs: RefCell<Vec<usize>>,
    }

    impl StrictIo {
        fn new(len: usize, sector: usize) -> StrictIo {
            let bytes = (0..len).map(|i| (i % 251) as u8).collect();
            StrictIo {
                bytes: RefCell::new(bytes),
                sector,
                max_io: usize::MAX,
                interrupt: false,
                calls: Cell::new(0),
                write_ptrs: RefCell::new(Vec::new()),
            }
        }

        fn check(&self, ptr: *const u8, offset: u64, len: usize) -> io::Result<()> {
            self.calls.set(self.calls.get() + 1);
            assert!(
                is_aligned(ptr, offset, len, self.sector),
                "unaligned request: ptr {ptr:p} offset {offset} len {len}"
            );
            if self.interrupt && self.calls.get() % 2 == 1 {
                return Err(io::Error::from_raw_os_error(libc::EINTR));
            }
            Ok(())
        }
    }

    impl RawIo for StrictIo {
        fn pread(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            self.check(buf.as_ptr(), offset, buf.len())?;
            let bytes = self.bytes.borrow();
            let start = (offset as usize).min(bytes.len());
            let n = buf.len().min(self.max_io).min(bytes.len() - start);
            buf[..n].copy_from_slice(&bytes[start..start + n]);
            Ok(n)
        }
        fn pwrite(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
            self.check(buf.as_ptr(), offset, buf.len())?;
            self.write_ptrs.borrow_mut().push(buf.as_ptr() as usize);
            let mut bytes = self.bytes.borrow_mut();
            let start = offset as usize;
            let n = buf.len().min(self.max_io).min(bytes.len() - start);
            bytes[start..start + n].copy_from_slice(&buf[..n]);
            Ok(n)
        }
    }

    /// Writes and reads at awkward offsets and lengths and compares with a model.
    fn exercise(io: &StrictIo) {
        let len = io.bytes.borrow().len();
        let mut model = io.bytes.borrow().clone();
        let cases: &[(usize, usize)] = &[
            (0, 1),
            (1, 1),
            (511, 2),
            (1000, 3000),
            (4095, 1),
            (4096, 4096),
            (4097, 8190),
            (3, BOUNCE_LIMIT + 5000),
            (len - 1, 1),
            (len - 700, 700),
            (0, len),
        ];
        for (i, &(off, n)) in cases.iter().enumerate() {
            let data: Vec<u8> = (0..n).map(|j| (j * 7 + i * 13 + 1) as u8).collect();
            // Unaligned memory too: a slice one byte into a vector.
            let mut holder = vec![0u8; n + 1];
            holder[1..].copy_from_slice(&data);
            write_any(io, io.sector, off as u64, &holder[1..]).unwrap();
            model[off..off + n].copy_from_slice(&data);
            assert_eq!(
                *io.bytes.borrow(),
                model,
                "after writing {n} bytes at {off}"
            );

            let mut back = vec![0u8; n + 3];
            read_any(io, io.sector, off as u64, &mut back[3..]).unwrap();
            assert_eq!(
                &back[3..],
                &model[off..off + n],
                "reading {n} bytes at {off}"
            );
        }
    }

    #[test]
    fn unaligned_requests_are_bounced_with_aligned_io() {
        for sector in [512, 4096] {
            exercise(&StrictIo::new(3 << 20, sector));
        }
    }

    #[test]
    fn short_transfers_and_eintr_are_retried() {
        for sector in [512, 4096] {
            let mut io = StrictIo::new(3 << 20, sector);
            io.max_io = sector;
            io.interrupt = true;
            exercise(&io);
        }
    }

    #[test]
    fn aligned_requests_use_the_callers_buffer() {
        let io = StrictIo::new(8 << 20, 512);
        let mut buf = AlignedBuf::new(4 << 20);
        buf.iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (i % 13) as u8);
        write_any(&io, 512, 1 << 20, &buf).unwrap();
        assert_eq!(io.calls.get(), 1);
        assert_eq!(*io.write_ptrs.borrow(), vec![buf.as_ptr() as usize]);
        assert_eq!(&io.bytes.borrow()[1 << 20..5 << 20], &buf[..]);

        let mut back = AlignedBuf::new(4 << 20);
        read_any(&io, 512, 1 << 20, &mut back).unwrap();
        assert_eq!(io.calls.get(), 2);
        assert_eq!(&back[..], &buf[..]);
    }

    #[test]
    fn partial_sector_write_keeps_the_rest_of_the_sector() {
        let io = StrictIo::new(8192, 4096);
        let before = io.bytes.borrow().clone();
        write_any(&io, 4096, 4000, b"0123456789").unwrap();
        let after = io.bytes.borrow().clone();
        assert_eq!(&after[4000..4010], b"0123456789");
        assert_eq!(&after[..4000], &before[..4000]);
        assert_eq!(&after[4010..], &before[4010..]);
    }

    #[test]
    fn reading_past_the_end_of_the_backing_store_is_an_error() {
        let io = StrictIo::new(4096, 512);
        let mut buf = AlignedBuf::new(8192);
        let err = read_any(&io, 512, 0, &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn spans_cover_requests() {
        assert_eq!(aligned_span(0, 1, 512), (0, 512));
        assert_eq!(aligned_span(511, 2, 512), (0, 1024));
        assert_eq!(aligned_span(4096, 4096, 4096), (4096, 8192));
        assert_eq!(aligned_span(4097, 1, 4096), (4096, 8192));
    }
}
