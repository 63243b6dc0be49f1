//! [`LinuxBlockDevice`]: a Linux block device (`/dev/sdX`, `/dev/loopN`,
//! `/dev/nvme0n1`) opened with `O_DIRECT`.
//!
//! `O_DIRECT` bypasses the page cache, so a write that [`BlockDevice::flush`]
//! reported durable is on the device, and writing a whole USB stick does not
//! evict everything else from memory. The price is alignment: the kernel only
//! accepts requests whose offset, length and buffer address are multiples of
//! the logical sector size. [`LinuxBlockDevice`] hides that:
//!
//! - an aligned request (offset, length and buffer address all multiples of
//!   the logical sector size, as with an [`AlignedBuf`] at a sector offset)
//!   goes straight to `pread`/`pwrite` on the caller's buffer, without a copy,
//!   whatever its size: this is the fast path every writer uses;
//! - any other request is bounced through an [`AlignedBuf`] of at most
//!   [`BOUNCE_LIMIT`] bytes at a time, with a read-modify-write of the partial
//!   sectors at either edge.
//!
//! Short transfers and `EINTR` are retried until the request is complete.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::{check_range, AlignedBuf, BlockDevice, DIRECT_ALIGN};
use crate::error::{Error, Result};

/// The largest bounce buffer used for an unaligned request; longer unaligned
/// requests are done in pieces of this size.
pub const BOUNCE_LIMIT: usize = 1 << 20;

/// `BLKGETSIZE64`: `_IOR(0x12, 114, size_t)`; libc does not export it for
/// every Linux target, so it is built here like the kernel's `_IOR` does.
const BLKGETSIZE64: libc::Ioctl = ior(0x12, 114, std::mem::size_of::<usize>());

/// The kernel's `_IOR(type, nr, size)` for the architectures whose ioctl
/// numbers have a 2-bit direction field at bit 30 (x86, arm, riscv, ...).
#[cfg(not(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "sparc",
    target_arch = "sparc64"
)))]
const fn ior(ty: u64, nr: u64, size: usize) -> libc::Ioctl {
    const READ: u64 = 2;
    ((READ << 30) | ((size as u64) << 16) | (ty << 8) | nr) as libc::Ioctl
}

/// The kernel's `_IOR(type, nr, size)` for the architectures whose ioctl
/// numbers have a 3-bit direction field at bit 29 (mips, powerpc, sparc).
#[cfg(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "sparc",
    target_arch = "sparc64"
))]
const fn ior(ty: u64, nr: u64, size: usize) -> libc::Ioctl {
    const READ: u64 = 2;
    ((READ << 29) | ((size as u64) << 16) | (ty << 8) | nr) as libc::Ioctl
}

/// A Linux block device opened with `O_DIRECT`.
///
/// Open it read-only with [`LinuxBlockDevice::open`] or for writing with
/// [`LinuxBlockDevice::open_writable`]. Programs that write a device the user
/// named should go through [`open_target`](super::open_target), which runs
/// the [`safety`](super::safety) checks first.
///
/// Requests may have any offset and length (see the [module
/// documentation](self)); `len()` is the device size reported by
/// `BLKGETSIZE64` and `sector_size()` the logical sector size reported by
/// `BLKSSZGET`.
#[derive(Debug)]
pub struct LinuxBlockDevice {
    path: PathBuf,
    file: File,
    len: u64,
    sector_size: u32,
    writable: bool,
}

impl LinuxBlockDevice {
    /// Opens a block device read-only (`O_RDONLY | O_DIRECT`).
    pub fn open(path: impl AsRef<Path>) -> Result<LinuxBlockDevice> {
        LinuxBlockDevice::open_with(path.as_ref(), false)
    }

    /// Opens a block device for reading and writing
    /// (`O_RDWR | O_DIRECT | O_EXCL`).
    ///
    /// With `O_EXCL` the kernel refuses (`EBUSY`) while the device, or for a
    /// whole disk one of its partitions, is mounted or claimed by another
    /// exclusive user (device mapper, md, another writer). This does not
    /// replace [`safety::check_writable`](super::safety::check_writable),
    /// which says *why* a device is busy; it closes the window between that
    /// check and the open.
    pub fn open_writable(path: impl AsRef<Path>) -> Result<LinuxBlockDevice> {
        LinuxBlockDevice::open_with(path.as_ref(), true)
    }

    fn open_with(path: &Path, write: bool) -> Result<LinuxBlockDevice> {
        let opening = |source: io::Error| Error::Device {
            action: "opening",
            device: path.to_path_buf(),
            offset: 0,
            source,
            state: "nothing was written",
        };
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::NotFound {
                    what: "block device",
                    path: path.to_path_buf(),
                })
            }
            Err(e) => return Err(opening(e)),
        };
        if !meta.file_type().is_block_device() {
            return Err(opening(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a block device",
            )));
        }
        let mut flags = libc::O_DIRECT;
        if write {
            flags |= libc::O_EXCL;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(write)
            .custom_flags(flags)
            .open(path)
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::EBUSY) {
                    opening(io::Error::new(
                        io::ErrorKind::ResourceBusy,
                        format!("{e} (the device or one of its partitions is mounted or in use)"),
                    ))
                } else {
                    opening(e)
                }
            })?;
        let len = device_size(&file).map_err(opening)?;
        let sector_size = logical_sector_size(&file).map_err(opening)?;
        if !sector_size.is_power_of_two() || !(512..=DIRECT_ALIGN as u32).contains(&sector_size) {
            return Err(opening(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "logical sector size {sector_size} is not supported (expected a power of two from 512 to {DIRECT_ALIGN})"
                ),
            )));
        }
        Ok(LinuxBlockDevice {
            path: path.to_path_buf(),
            file,
            len,
            sector_size,
            writable: write,
        })
    }

    /// Whether the device was opened for writing.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// The underlying file descriptor, opened with `O_DIRECT`.
    pub fn file(&self) -> &File {
        &self.file
    }

    fn error(&self, action: &'static str, offset: u64, source: io::Error) -> Error {
        Error::Device {
            action,
            device: self.path.clone(),
            offset,
            source,
            state: if action == "writing" {
                "the device may be partly written"
            } else {
                "nothing was written"
            },
        }
    }
}

/// The device size in bytes (`BLKGETSIZE64`).
fn device_size(file: &File) -> io::Result<u64> {
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through its argument, which points to
    // `size`, a live, writable u64; the descriptor is open for the whole call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), BLKGETSIZE64, &mut size as *mut u64) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(size)
}

/// The logical sector size in bytes (`BLKSSZGET`).
fn logical_sector_size(file: &File) -> io::Result<u32> {
    let mut size: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int through its argument, which points to
    // `size`, a live, writable c_int; the descriptor is open for the whole call.
    let rc = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            libc::BLKSSZGET,
            &mut size as *mut libc::c_int,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    u32::try_from(size).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the kernel reported a logical sector size of {size}"),
        )
    })
}

impl BlockDevice for LinuxBlockDevice {
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
        read_any(&self.file, self.sector_size as usize, offset, buf)
            .map_err(|e| self.error("reading", offset, e))
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> Result<()> {
        check_range(&self.path, "writing", offset, buf.len(), self.len)?;
        write_any(&self.file, self.sector_size as usize, offset, buf)
            .map_err(|e| self.error("writing", offset, e))
    }
    fn flush(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| self.error("flushing", 0, e))
    }
}

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

    #[test]
    fn blkgetsize64_matches_the_kernel_header() {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        assert_eq!(BLKGETSIZE64, 0x8008_1272_u32 as libc::Ioctl);
    }

    #[test]
    fn opening_a_regular_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.img");
        std::fs::write(&path, [0u8; 4096]).unwrap();
        let err = LinuxBlockDevice::open(&path).unwrap_err();
        assert!(err.to_string().contains("not a block device"), "{err}");
        let err = LinuxBlockDevice::open(dir.path().join("missing")).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    }
}
