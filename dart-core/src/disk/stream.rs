//! The fast path for file data: a reader thread fills 4 MiB aligned
//! buffers from the source files while the caller's thread writes the
//! previous ones to the device, each as one large write. Three buffers
//! circulate, so memory stays at 12 MiB whatever the size of the media.

use std::io::Read;
use std::sync::mpsc::{self, Receiver, SyncSender};

use crate::disk::{AlignedBuf, BlockDevice, FileSource};
use crate::error::{Error, Result};
use crate::progress::{Control, Phase};

/// Bytes per write.
pub(crate) const CHUNK: usize = 4 << 20;
/// Buffers in flight between the reader and the writer.
const BUFFERS: usize = 3;

/// One file to copy onto the volume.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// The source bytes.
    pub source: FileSource,
    /// The path shown in progress reports and errors.
    pub name: String,
    /// Bytes to copy.
    pub size: u64,
    /// Where the data goes: (byte offset on the device, bytes), in file
    /// order, each a whole number of clusters.
    pub runs: Vec<(u64, u64)>,
}

/// Bytes done and total, for progress reports.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tally {
    pub done: u64,
    pub total: u64,
}

/// What the cancellation error says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CancelText {
    pub operation: &'static str,
    pub untouched: &'static str,
}

struct Chunk {
    job: usize,
    offset: u64,
    len: usize,
    padded: usize,
    buf: AlignedBuf,
}

/// Copies every job's data to its runs; returns the bytes written to the
/// device (file data plus the zero padding of last clusters).
pub(crate) fn copy_files(
    dev: &mut dyn BlockDevice,
    jobs: &[Job],
    cluster: u32,
    control: &Control,
    tally: &mut Tally,
    cancel: CancelText,
) -> Result<u64> {
    if jobs.iter().all(|j| j.size == 0) {
        return Ok(0);
    }
    let (full_tx, full_rx) = mpsc::sync_channel::<Result<Chunk>>(BUFFERS);
    let (free_tx, free_rx) = mpsc::sync_channel::<AlignedBuf>(BUFFERS);
    // Small files need no 4 MiB buffers.
    let largest = jobs.iter().map(|j| j.size).max().unwrap_or(0);
    let buf_len = (largest.next_multiple_of(u64::from(cluster)) as usize).min(CHUNK);
    for _ in 0..BUFFERS {
        // Cannot fail: the channel has room for every buffer.
        let _ = free_tx.send(AlignedBuf::new(buf_len));
    }
    std::thread::scope(|s| {
        s.spawn(move || reader(jobs, cluster, free_rx, full_tx));
        let result = writer(dev, jobs, control, tally, cancel, &full_rx, &free_tx);
        // Dropping the receiving ends stops the reader at its next send.
        drop(full_rx);
        drop(free_tx);
        result
    })
}

fn writer(
    dev: &mut dyn BlockDevice,
    jobs: &[Job],
    control: &Control,
    tally: &mut Tally,
    cancel: CancelText,
    full_rx: &Receiver<Result<Chunk>>,
    free_tx: &SyncSender<AlignedBuf>,
) -> Result<u64> {
    let mut written = 0u64;
    for chunk in full_rx.iter() {
        let chunk = chunk?;
        if control.cancel.is_cancelled() {
            return Err(Error::Cancelled {
                operation: cancel.operation,
                untouched: cancel.untouched,
            });
        }
        let job = &jobs[chunk.job];
        write_runs(dev, &job.runs, chunk.offset, &chunk.buf[..chunk.padded])?;
        written += chunk.padded as u64;
        tally.done += chunk.len as u64;
        control
            .progress
            .report(Phase::WritingFiles, &job.name, tally.done, tally.total);
        let _ = free_tx.send(chunk.buf);
    }
    if control.cancel.is_cancelled() {
        return Err(Error::Cancelled {
            operation: cancel.operation,
            untouched: cancel.untouched,
        });
    }
    Ok(written)
}

/// Writes `data`, which starts `file_offset` bytes into the file, to the
/// runs that hold those bytes.
fn write_runs(
    dev: &mut dyn BlockDevice,
    runs: &[(u64, u64)],
    file_offset: u64,
    mut data: &[u8],
) -> Result<()> {
    let mut run_start = 0u64;
    let mut pos = file_offset;
    for &(dev_off, len) in runs {
        if data.is_empty() {
            break;
        }
        let run_end = run_start + len;
        if pos < run_end {
            let n = (run_end - pos).min(data.len() as u64) as usize;
            dev.write_at(dev_off + (pos - run_start), &data[..n])?;
            data = &data[n..];
            pos += n as u64;
        }
        run_start = run_end;
    }
    Ok(())
}

fn reader(
    jobs: &[Job],
    cluster: u32,
    free_rx: Receiver<AlignedBuf>,
    full_tx: SyncSender<Result<Chunk>>,
) {
    for (index, job) in jobs.iter().enumerate() {
        if job.size == 0 {
            continue;
        }
        let mut file = match job.source.open() {
            Ok(f) => f,
            Err(e) => {
                let _ = full_tx.send(Err(e));
                return;
            }
        };
        let mut offset = 0u64;
        while offset < job.size {
            let Ok(mut buf) = free_rx.recv() else { return };
            let len = (job.size - offset).min(buf.len() as u64) as usize;
            if let Err(e) = file.read_exact(&mut buf[..len]) {
                let e = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    std::io::Error::new(
                        e.kind(),
                        "the file became shorter while it was being copied",
                    )
                } else {
                    e
                };
                let _ = full_tx.send(Err(Error::read(job.source.path(), e)));
                return;
            }
            let padded = len.next_multiple_of(cluster as usize).min(buf.len());
            buf[len..padded].fill(0);
            let chunk = Chunk {
                job: index,
                offset,
                len,
                padded,
                buf,
            };
            if full_tx.send(Ok(chunk)).is_err() {
                return;
            }
            offset += len as u64;
        }
    }
}

/// Whether the bytes in `runs` (the first `size` of them) equal the source
/// file; reads both in 4 MiB pieces and stops at the first difference.
pub(crate) fn same_content(
    dev: &mut dyn BlockDevice,
    runs: &[(u64, u64)],
    source: &FileSource,
    size: u64,
) -> Result<bool> {
    let mut file = source.open()?;
    let piece = (size as usize).clamp(1, CHUNK);
    let mut a = AlignedBuf::new(piece);
    let mut b = vec![0u8; piece];
    let mut left = size;
    for &(dev_off, len) in runs {
        let mut done = 0u64;
        while done < len && left > 0 {
            let n = (len - done).min(left).min(piece as u64) as usize;
            dev.read_at(dev_off + done, &mut a[..n])?;
            match file.read_exact(&mut b[..n]) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
                Err(e) => return Err(Error::read(source.path(), e)),
            }
            if a[..n] != b[..n] {
                return Ok(false);
            }
            done += n as u64;
            left -= n as u64;
        }
    }
    Ok(left == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::MemoryDevice;

    #[test]
    fn runs_split_chunks() {
        let mut dev = MemoryDevice::new(64 << 10, 512);
        write_runs(&mut dev, &[(4096, 1024), (1024, 1024)], 512, &[7u8; 1536]).unwrap();
        assert!(dev.bytes()[4096..4608].iter().all(|&b| b == 0));
        assert!(dev.bytes()[4608..5120].iter().all(|&b| b == 7));
        assert!(dev.bytes()[1024..2048].iter().all(|&b| b == 7));
    }

    #[test]
    fn copies_and_compares() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("f");
        let data: Vec<u8> = (0..(CHUNK + 1000)).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&src, &data).unwrap();
        let mut dev = MemoryDevice::new(16 << 20, 512);
        let job = Job {
            source: FileSource::whole(&src, data.len() as u64),
            name: "f".into(),
            size: data.len() as u64,
            runs: vec![(8 << 20, 4 << 20), (512, (1000u64).next_multiple_of(512))],
        };
        let mut tally = Tally {
            done: 0,
            total: data.len() as u64,
        };
        let cancel = CancelText {
            operation: "t",
            untouched: "u",
        };
        let n = copy_files(
            &mut dev,
            std::slice::from_ref(&job),
            512,
            &Control::default(),
            &mut tally,
            cancel,
        )
        .unwrap();
        assert_eq!(n, (CHUNK + 1024) as u64);
        assert_eq!(tally.done, data.len() as u64);
        assert!(same_content(&mut dev, &job.runs, &job.source, job.size).unwrap());
        dev.bytes_mut()[600] ^= 1;
        assert!(!same_content(&mut dev, &job.runs, &job.source, job.size).unwrap());
        let control = Control::default();
        control.cancel.cancel();
        let err = copy_files(&mut dev, &[job], 512, &control, &mut tally, cancel).unwrap_err();
        assert!(matches!(err, Error::Cancelled { .. }));
    }
}
