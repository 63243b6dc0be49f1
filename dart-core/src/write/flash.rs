//! Flashing an image onto one or more targets in one pass over the source,
//! and verifying them by reading back.
//!
//! The order makes an interrupted write obvious: the first and last MiB of
//! each target (MBR, GPT copies, the ISO system area and volume descriptors)
//! are zeroed first and written last, so a target cut short anywhere boots
//! nothing instead of something half written.

use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;

use serde::Serialize;

use super::bmap::Bmap;
use super::source::ImageSource;
use crate::disk::inputs::check_output;
use crate::disk::partial::RemoveOnDrop;
use crate::disk::{open_target, AlignedBuf, BlockDevice, Mirror, TargetSpec};
use crate::error::{Error, Result};
use crate::progress::{Control, Phase};

/// Bytes per read and write.
pub const CHUNK: usize = 4 << 20;
/// Bytes zeroed first and written last at each end of a target.
pub const EDGE: u64 = 1 << 20;
/// Written bytes between flushes (progress counts flushed bytes).
const FLUSH_EVERY: u64 = 16 << 20;
/// Buffers circulating between the reader and the writers.
const BUFFERS: usize = 4;
/// What a cancelled or failed flash leaves on a target.
pub const LEFT_INVALID: &str =
    "the targets were left invalid (their first and last MiB are zeroed, so they boot nothing); write them again";

/// How an image is flashed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlashOptions {
    /// Read every written range back and compare it with the image.
    pub verify: bool,
    /// Write only the ranges this block map lists; without one, only the
    /// ranges that hold data in the image file (its holes are skipped).
    pub bmap: Option<Bmap>,
}

/// One target of a flash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedTarget {
    /// The device or file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub len: u64,
    /// Whether it is an image file created by this flash (its unmapped
    /// ranges and all-zero blocks read as zeros without being written).
    pub created: bool,
}

/// What a flash will do; print it with `{}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlashPlan {
    /// The image.
    pub image: PathBuf,
    /// Bytes of the image.
    pub image_len: u64,
    /// Ranges `(offset, len)` written, in order.
    pub ranges: Vec<(u64, u64)>,
    /// Bytes in those ranges.
    pub mapped_bytes: u64,
    /// Where the map came from: `bmap` or `holes`.
    pub map_source: &'static str,
    /// The targets.
    pub targets: Vec<PlannedTarget>,
}

impl fmt::Display for FlashPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "image {}: {} bytes, {} bytes mapped in {} ranges (map from {})",
            self.image.display(),
            self.image_len,
            self.mapped_bytes,
            self.ranges.len(),
            self.map_source
        )?;
        for t in &self.targets {
            writeln!(
                f,
                "  target {}: {} bytes{}",
                t.path.display(),
                t.len,
                if t.created { " (new image file)" } else { "" }
            )?;
        }
        Ok(())
    }
}

/// What a flash did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlashReport {
    /// The plan carried out.
    pub plan: FlashPlan,
    /// Bytes written to each target (all-zero blocks of new files are not
    /// written).
    pub bytes_written: Vec<u64>,
    /// Whether every target was read back and matched the image.
    pub verified: bool,
}

/// What a verification checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The image.
    pub image: PathBuf,
    /// The device or file read back.
    pub target: PathBuf,
    /// Bytes compared.
    pub bytes_compared: u64,
}

/// Byte ranges `(offset, len)`.
type Ranges = Vec<(u64, u64)>;
/// Targets opened so far (`None`: a new file not created yet).
type Opened = Vec<Option<Box<dyn BlockDevice>>>;

/// The mapped ranges of `source`, from `bmap` when given.
fn mapped_ranges(source: &ImageSource, bmap: Option<&Bmap>) -> Result<Vec<(u64, u64)>> {
    match bmap {
        Some(map) => {
            if map.image_size != source.len() {
                return Err(Error::invalid(
                    "block map",
                    source.path().display(),
                    format!(
                        "the map describes an image of {} bytes but the image has {}",
                        map.image_size,
                        source.len()
                    ),
                ));
            }
            Ok(map.byte_ranges())
        }
        None => source.data_ranges(),
    }
}

/// Plans a flash without writing: checks the image, the map and every
/// target (safety checks for block devices, sizes).
pub fn plan_flash(image: &Path, targets: &[PathBuf], opts: &FlashOptions) -> Result<FlashPlan> {
    let source = ImageSource::open(image)?;
    let (plan, _) = open_all(&source, targets, opts, false)?;
    Ok(plan)
}

/// Opens every target (creating new image files only when `create`);
/// nothing is written.
fn open_all(
    source: &ImageSource,
    targets: &[PathBuf],
    opts: &FlashOptions,
    create: bool,
) -> Result<(FlashPlan, Opened)> {
    let ranges = mapped_ranges(source, opts.bmap.as_ref())?;
    let (planned, devices) = open_targets(targets, source.len(), &[source.path()], create)?;
    let mapped_bytes = ranges.iter().map(|r| r.1).sum();
    Ok((
        FlashPlan {
            image: source.path().to_path_buf(),
            image_len: source.len(),
            ranges,
            mapped_bytes,
            map_source: if opts.bmap.is_some() { "bmap" } else { "holes" },
            targets: planned,
        },
        devices,
    ))
}

/// Opens `targets` for an image of `len` bytes: existing block devices and
/// files (safety checks first; each must hold `len` bytes) and, when
/// `create`, new image files of `len` bytes rounded up to 512. No target
/// may be, hold, back or overlap one of `inputs`. Nothing is written; on an
/// error, files created here are removed.
fn open_targets(
    targets: &[PathBuf],
    len: u64,
    inputs: &[&Path],
    create: bool,
) -> Result<(Vec<PlannedTarget>, Opened)> {
    if targets.is_empty() {
        return Err(Error::invalid(
            "targets",
            "none",
            "name at least one device or image file to write",
        ));
    }
    let what = inputs.first().map_or_else(
        || "the image".to_string(),
        |p| format!("the image {}", p.display()),
    );
    let mut planned = Vec::new();
    let mut devices = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        if targets[..i].contains(t) {
            return Err(Error::invalid(
                "targets",
                t.display(),
                "the same target is named twice",
            ));
        }
        check_output(t, inputs)?;
        let exists = t.exists();
        let target_len = if exists {
            let dev = open_target(t, &TargetSpec::default())?;
            let available = dev.len();
            if available < len {
                return Err(Error::TargetTooSmall {
                    target: t.display().to_string(),
                    what: what.clone(),
                    needed: len,
                    available,
                });
            }
            devices.push(Some(dev));
            available
        } else {
            if crate::disk::names_a_device(t) {
                return Err(crate::disk::missing(t));
            }
            if let Some(parent) = t.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !parent.is_dir() {
                    return Err(Error::NotFound {
                        what: "directory of the target",
                        path: parent.to_path_buf(),
                    });
                }
            }
            devices.push(None);
            len.next_multiple_of(512).max(512)
        };
        planned.push(PlannedTarget {
            path: t.clone(),
            len: target_len,
            created: !exists,
        });
    }
    if create {
        for (dev, t) in devices.iter_mut().zip(&planned) {
            if dev.is_none() {
                let spec = TargetSpec {
                    create_len: Some(t.len),
                    ..TargetSpec::default()
                };
                match open_target(&t.path, &spec) {
                    Ok(d) => *dev = Some(d),
                    Err(e) => {
                        remove_created(&planned);
                        return Err(e);
                    }
                }
            }
        }
    }
    Ok((planned, devices))
}

/// Opens `targets` as one [`Mirror`] device of at least `len` bytes, for
/// building a layout (a USB stick, an ISO image) onto all of them in one
/// pass. Block devices pass the safety checks; paths that do not exist
/// become image files of `len` bytes. Returns the mirror and the targets
/// (so the caller can remove created files when the build fails).
///
/// Targets that existed get their first and last MiB zeroed first, so a
/// build that stops half way leaves them booting nothing.
pub fn open_mirror(
    targets: &[PathBuf],
    len: u64,
    inputs: &[&Path],
) -> Result<(Mirror, Vec<PlannedTarget>)> {
    let (planned, devices) = open_targets(targets, len, inputs, true)?;
    let mut devices: Vec<Box<dyn BlockDevice>> = devices.into_iter().flatten().collect();
    let prepared = devices
        .iter_mut()
        .zip(&planned)
        .filter(|(_, t)| !t.created)
        .try_for_each(|(dev, _)| {
            let (edges, _) = split_edges(&[], dev.len());
            let zeros = AlignedBuf::new(EDGE as usize);
            for (o, l) in edges {
                dev.write_at(o, &zeros[..l as usize])?;
            }
            dev.flush()
        });
    match prepared.and_then(|()| Mirror::new(devices)) {
        Ok(m) => Ok((m, planned)),
        Err(e) => {
            remove_created(&planned);
            Err(e)
        }
    }
}

/// Checks `targets` for an image of `len` bytes read from `inputs`, as the
/// writers do before their first write (in-use checks, sizes, no output
/// that is an input, no new file under `/dev`), and writes nothing: what a
/// dry run reports. Targets that do not exist are planned as new files.
pub fn check_targets(
    targets: &[PathBuf],
    len: u64,
    inputs: &[&Path],
) -> Result<Vec<PlannedTarget>> {
    Ok(open_targets(targets, len, inputs, false)?.0)
}

/// Removes the image files a failed write created.
pub fn remove_created(targets: &[PlannedTarget]) {
    for t in targets.iter().filter(|t| t.created) {
        let _ = std::fs::remove_file(&t.path);
    }
}

/// Splits `ranges` into the edges (first and last [`EDGE`] bytes of the
/// image, written last) and the body.
fn split_edges(ranges: &[(u64, u64)], len: u64) -> (Ranges, Ranges) {
    let head = EDGE.min(len);
    let tail_start = len.saturating_sub(EDGE).max(head);
    let mut body = Vec::new();
    for &(o, l) in ranges {
        let (s, e) = (o.max(head), (o + l).min(tail_start));
        if s < e {
            body.push((s, e - s));
        }
    }
    let mut edges = vec![(0, head)];
    if tail_start < len {
        edges.push((tail_start, len - tail_start));
    }
    (edges, body)
}

struct Chunk {
    offset: u64,
    len: usize,
    zero: bool,
    buf: AlignedBuf,
}

enum Ack {
    /// A writer finished with a chunk.
    Done,
    /// A writer failed; it stops.
    Failed(Error),
}

/// Writes `image` onto every target in one pass over the image: mapped
/// ranges only (from `opts.bmap`, or the image file's data ranges), in 4 MiB
/// direct writes overlapped with reading; the first and last MiB last.
/// Block devices pass the safety checks first, and every target's size is
/// checked before anything is written. New image files get the image's
/// size, rounded up to 512 bytes. With `opts.verify`, every target is then
/// read back (bypassing the page cache) and compared with the image; a
/// mismatch names the first differing byte.
///
/// Progress (phase "writing image") counts bytes flushed to every target.
/// Cancellation or a failure leaves the targets invalid ([`LEFT_INVALID`])
/// and removes image files this call created.
///
/// ```no_run
/// use dart_core::write::{flash, FlashOptions};
/// use dart_core::progress::Control;
/// let opts = FlashOptions { verify: true, ..FlashOptions::default() };
/// let report = flash("dart.iso".as_ref(), &["/dev/sdX".into(), "/dev/sdY".into()], &opts, &Control::default())?;
/// print!("{}", report.plan);
/// # Ok::<(), dart_core::Error>(())
/// ```
pub fn flash(
    image: &Path,
    targets: &[PathBuf],
    opts: &FlashOptions,
    control: &Control,
) -> Result<FlashReport> {
    let source = ImageSource::open(image)?;
    if control.cancel.is_cancelled() {
        return Err(Error::Cancelled {
            operation: "flashing the image",
            untouched: "nothing was written",
        });
    }
    let (plan, devices) = open_all(&source, targets, opts, true)?;
    // New image files go again on an error, a cancel or a panic.
    let created = created_guard(&plan.targets);
    let mut devices: Vec<Box<dyn BlockDevice>> = devices.into_iter().flatten().collect();
    let bytes_written = write_all(&source, &plan, &mut devices, control)?;
    if opts.verify {
        for (dev, t) in devices.iter_mut().zip(&plan.targets) {
            verify_device(&source, &mut **dev, &plan.ranges, &t.path, control)?;
        }
    }
    drop(devices);
    created.disarm();
    Ok(FlashReport {
        verified: opts.verify,
        plan,
        bytes_written,
    })
}

/// A guard that removes the targets this call created.
fn created_guard(targets: &[PlannedTarget]) -> RemoveOnDrop {
    RemoveOnDrop::new(
        targets
            .iter()
            .filter(|t| t.created)
            .map(|t| t.path.clone())
            .collect(),
    )
}

fn cancelled() -> Error {
    Error::Cancelled {
        operation: "flashing the image",
        untouched: LEFT_INVALID,
    }
}

fn write_all(
    source: &ImageSource,
    plan: &FlashPlan,
    devices: &mut [Box<dyn BlockDevice>],
    control: &Control,
) -> Result<Vec<u64>> {
    let (edges, body) = split_edges(&plan.ranges, plan.image_len);
    // 1. Invalidate the edges of targets that held something before.
    let zeros = AlignedBuf::new(EDGE as usize);
    for (dev, t) in devices.iter_mut().zip(&plan.targets) {
        if !t.created {
            for &(o, l) in &edges {
                dev.write_at(o, &zeros[..l as usize])?;
            }
            dev.flush()?;
        }
    }
    // 2. The body, one reader (this thread) and one writer per target.
    let total: u64 = body.iter().map(|r| r.1).sum::<u64>() + edges.iter().map(|r| r.1).sum::<u64>();
    let flushed: Vec<AtomicU64> = devices.iter().map(|_| AtomicU64::new(0)).collect();
    let written: Vec<AtomicU64> = devices.iter().map(|_| AtomicU64::new(0)).collect();
    let created: Vec<bool> = plan.targets.iter().map(|t| t.created).collect();
    let report = |done: u64| {
        control.progress.report(
            Phase::WritingImage,
            &plan.image.display().to_string(),
            done,
            total,
        )
    };
    report(0);
    std::thread::scope(|s| -> Result<()> {
        let (ack_tx, ack_rx) = mpsc::channel::<Ack>();
        let mut senders = Vec::new();
        for (i, dev) in devices.iter_mut().enumerate() {
            let (tx, rx) = mpsc::sync_channel::<Arc<Chunk>>(2);
            senders.push(tx);
            let ack = ack_tx.clone();
            let (flushed, written, fresh) = (&flushed[i], &written[i], created[i]);
            s.spawn(move || writer(&mut **dev, rx, ack, flushed, written, fresh));
        }
        drop(ack_tx);
        let result = read_body(source, &body, &senders, &ack_rx, control, &flushed, &report);
        drop(senders);
        // Drain: every writer ends when its channel closes.
        let mut first_error = result.err();
        for ack in ack_rx.iter() {
            if let Ack::Failed(e) = ack {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })?;
    if control.cancel.is_cancelled() {
        return Err(cancelled());
    }
    // 3. The edges, then a flush: only now does a target boot.
    let body_bytes: u64 = body.iter().map(|r| r.1).sum();
    let mut buf = AlignedBuf::new(EDGE as usize);
    for &(o, l) in &edges {
        source.read_at(o, &mut buf[..l as usize])?;
        for (i, dev) in devices.iter_mut().enumerate() {
            let n = (l as usize).next_multiple_of(512).min(buf.len());
            let n = n.min((dev.len() - o) as usize);
            buf[l as usize..n].fill(0);
            dev.write_at(o, &buf[..n])?;
            written[i].fetch_add(n as u64, Ordering::Relaxed);
        }
    }
    for dev in devices.iter_mut() {
        dev.flush()?;
    }
    report(body_bytes + edges.iter().map(|r| r.1).sum::<u64>());
    Ok(written.iter().map(|w| w.load(Ordering::Relaxed)).collect())
}

#[allow(clippy::too_many_arguments)]
fn read_body(
    source: &ImageSource,
    body: &[(u64, u64)],
    senders: &[SyncSender<Arc<Chunk>>],
    acks: &Receiver<Ack>,
    control: &Control,
    flushed: &[AtomicU64],
    report: &dyn Fn(u64),
) -> Result<()> {
    let mut free: Vec<AlignedBuf> = (0..BUFFERS).map(|_| AlignedBuf::new(CHUNK)).collect();
    let mut in_flight: VecDeque<Arc<Chunk>> = VecDeque::new();
    let mut last_report = 0u64;
    for &(start, len) in body {
        let mut done = 0u64;
        while done < len {
            if control.cancel.is_cancelled() {
                return Err(cancelled());
            }
            let mut buf = match free.pop() {
                Some(b) => b,
                None => reclaim(&mut in_flight, acks)?,
            };
            let n = (len - done).min(CHUNK as u64) as usize;
            source.read_at(start + done, &mut buf[..n])?;
            let zero = is_zero(&buf[..n]);
            // Direct writes want whole sectors; pad the image's last piece.
            let padded = n.next_multiple_of(512).min(buf.len());
            buf[n..padded].fill(0);
            let chunk = Arc::new(Chunk {
                offset: start + done,
                len: padded,
                zero,
                buf,
            });
            for tx in senders {
                if tx.send(Arc::clone(&chunk)).is_err() {
                    // The writer failed; its error arrives on the ack channel.
                    return drain_failure(acks);
                }
            }
            in_flight.push_back(chunk);
            done += n as u64;
            let now = flushed
                .iter()
                .map(|f| f.load(Ordering::Relaxed))
                .min()
                .unwrap_or(0);
            if now != last_report {
                report(now);
                last_report = now;
            }
        }
    }
    Ok(())
}

/// Waits until the oldest chunk in flight is released by every writer and
/// returns its buffer.
fn reclaim(in_flight: &mut VecDeque<Arc<Chunk>>, acks: &Receiver<Ack>) -> Result<AlignedBuf> {
    loop {
        if let Some(front) = in_flight.front() {
            if Arc::strong_count(front) == 1 {
                if let Some(chunk) = in_flight.pop_front().and_then(|c| Arc::try_unwrap(c).ok()) {
                    return Ok(chunk.buf);
                }
            }
        }
        match acks.recv() {
            Ok(Ack::Done) => {}
            Ok(Ack::Failed(e)) => return Err(e),
            Err(_) => return Ok(AlignedBuf::new(CHUNK)),
        }
    }
}

fn drain_failure(acks: &Receiver<Ack>) -> Result<()> {
    for ack in acks.iter() {
        if let Ack::Failed(e) = ack {
            return Err(e);
        }
    }
    Err(cancelled())
}

fn writer(
    dev: &mut dyn BlockDevice,
    rx: Receiver<Arc<Chunk>>,
    ack: mpsc::Sender<Ack>,
    flushed: &AtomicU64,
    written: &AtomicU64,
    fresh: bool,
) {
    let mut pending = 0u64;
    let mut run = || -> Result<()> {
        for chunk in rx.iter() {
            if !(fresh && chunk.zero) {
                dev.write_at(chunk.offset, &chunk.buf[..chunk.len])?;
                written.fetch_add(chunk.len as u64, Ordering::Relaxed);
            }
            pending += chunk.len as u64;
            drop(chunk);
            if pending >= FLUSH_EVERY {
                dev.flush()?;
                flushed.fetch_add(pending, Ordering::Relaxed);
                pending = 0;
            }
            let _ = ack.send(Ack::Done);
        }
        dev.flush()?;
        flushed.fetch_add(pending, Ordering::Relaxed);
        Ok(())
    };
    if let Err(e) = run() {
        let _ = ack.send(Ack::Failed(e));
    }
}

fn is_zero(buf: &[u8]) -> bool {
    let (pre, words, post) = {
        // SAFETY: u64 has no invalid bit patterns; align_to only reinterprets
        // the aligned middle of the slice.
        unsafe { buf.align_to::<u64>() }
    };
    pre.iter().all(|&b| b == 0) && words.iter().all(|&w| w == 0) && post.iter().all(|&b| b == 0)
}

/// Reads `ranges` of `dev` back (direct I/O where the device uses it) and
/// compares them with the image; a device reader thread runs ahead of the
/// comparison. (Reading back while later pieces are still being written
/// was measured slower: reads and writes then contend for the device.) A difference is [`Error::VerifyMismatch`] naming the first
/// differing byte.
fn verify_device(
    source: &ImageSource,
    dev: &mut dyn BlockDevice,
    ranges: &[(u64, u64)],
    target: &Path,
    control: &Control,
) -> Result<u64> {
    let mut all: Vec<(u64, u64)> = ranges.to_vec();
    let (edges, _) = split_edges(&[], source.len());
    all.extend(edges);
    all.sort_unstable();
    // Merge overlaps so each byte is compared once.
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (o, l) in all {
        match merged.last_mut() {
            Some(m) if m.0 + m.1 >= o => m.1 = (o + l).max(m.0 + m.1) - m.0,
            _ => merged.push((o, l)),
        }
    }
    let total: u64 = merged.iter().map(|r| r.1).sum();
    let name = target.display().to_string();
    let (full_tx, full_rx) = mpsc::sync_channel::<Result<(u64, usize, AlignedBuf)>>(2);
    let (free_tx, free_rx) = mpsc::sync_channel::<AlignedBuf>(3);
    for _ in 0..3 {
        let _ = free_tx.send(AlignedBuf::new(CHUNK));
    }
    std::thread::scope(|s| {
        let merged = &merged;
        s.spawn(move || {
            for &(o, l) in merged {
                let mut done = 0u64;
                while done < l {
                    let Ok(mut buf) = free_rx.recv() else { return };
                    let n = (l - done).min(CHUNK as u64) as usize;
                    let r = dev
                        .read_at(o + done, &mut buf[..n])
                        .map(|()| (o + done, n, buf));
                    let failed = r.is_err();
                    if full_tx.send(r).is_err() || failed {
                        return;
                    }
                    done += n as u64;
                }
            }
        });
        let mut expected = vec![0u8; CHUNK];
        let mut compared = 0u64;
        for item in full_rx.iter() {
            let (offset, n, got) = item?;
            if control.cancel.is_cancelled() {
                return Err(Error::Cancelled {
                    operation: "verifying the target",
                    untouched: "the target was written but not fully verified",
                });
            }
            source.read_at(offset, &mut expected[..n])?;
            if let Some(at) = got[..n]
                .iter()
                .zip(&expected[..n])
                .position(|(a, b)| a != b)
            {
                return Err(Error::VerifyMismatch {
                    target: target.to_path_buf(),
                    image: source.path().to_path_buf(),
                    offset: offset + at as u64,
                });
            }
            compared += n as u64;
            control
                .progress
                .report(Phase::Verifying, &name, compared, total);
            let _ = free_tx.send(got);
        }
        drop(free_tx);
        Ok(compared)
    })
}

/// Compares `target` with `image` over the image's mapped ranges (from
/// `bmap`, or the image file's data ranges) plus its first and last MiB,
/// reading the target with direct I/O.
pub fn verify(
    image: &Path,
    target: &Path,
    bmap: Option<&Bmap>,
    control: &Control,
) -> Result<VerifyReport> {
    let source = ImageSource::open(image)?;
    let ranges = mapped_ranges(&source, bmap)?;
    let mut dev = crate::disk::open_read_direct(target)?;
    if dev.len() < source.len() {
        return Err(Error::TargetTooSmall {
            target: target.display().to_string(),
            what: format!("a copy of {}", image.display()),
            needed: source.len(),
            available: dev.len(),
        });
    }
    let bytes_compared = verify_device(&source, &mut *dev, &ranges, target, control)?;
    Ok(VerifyReport {
        image: image.to_path_buf(),
        target: target.to_path_buf(),
        bytes_compared,
    })
}

/// [`flash`] with the block map read from the bmap file `bmap`, if any.
pub fn flash_files(
    image: &Path,
    targets: &[PathBuf],
    verify: bool,
    bmap: Option<&Path>,
    control: &Control,
) -> Result<FlashReport> {
    let opts = FlashOptions {
        verify,
        bmap: bmap.map(Bmap::read).transpose()?,
    };
    flash(image, targets, &opts, control)
}

/// [`verify`] with the block map read from the bmap file `bmap`, if any.
pub fn verify_files(
    image: &Path,
    target: &Path,
    bmap: Option<&Path>,
    control: &Control,
) -> Result<VerifyReport> {
    let map = bmap.map(Bmap::read).transpose()?;
    verify(image, target, map.as_ref(), control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_cut_from_the_body() {
        let len = 10 * EDGE;
        let (edges, body) = split_edges(&[(0, 3 * EDGE), (5 * EDGE, 5 * EDGE)], len);
        assert_eq!(edges, vec![(0, EDGE), (9 * EDGE, EDGE)]);
        assert_eq!(body, vec![(EDGE, 2 * EDGE), (5 * EDGE, 4 * EDGE)]);
        let (edges, body) = split_edges(&[(0, 1000)], 1000);
        assert_eq!(edges, vec![(0, 1000)]);
        assert!(body.is_empty());
    }

    #[test]
    fn zero_check() {
        let mut b = vec![0u8; 4099];
        assert!(is_zero(&b));
        b[4098] = 1;
        assert!(!is_zero(&b));
        b[4098] = 0;
        b[1] = 1;
        assert!(!is_zero(&b));
    }
}
