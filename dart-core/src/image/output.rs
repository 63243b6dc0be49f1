//! Writing a WIM so that the output path holds either nothing (or its old
//! contents) or the complete new file: wimlib writes a temporary file next to
//! the output, which is fixed up, synced and renamed into place.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tempfile::NamedTempFile;
use wimlib::progress::{ProgressMsg, ProgressStatus};
use wimlib::{Image, Wim, WriteFlags};

use super::header::{self, WimHeader, RESHDR_FLAG_COMPRESSED};
use super::wim;
use crate::error::{Error, Result};
use crate::progress::{Control, Phase};

/// A temporary file beside `output`, removed unless [`PendingOutput::commit`] runs.
pub(crate) struct PendingOutput {
    temp: NamedTempFile,
    output: PathBuf,
}

impl PendingOutput {
    /// Creates the temporary file in the output's directory.
    pub(crate) fn new(output: &Path) -> Result<PendingOutput> {
        let dir = match output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".dart-partial")
            .tempfile_in(&dir)
            .map_err(|e| Error::Io {
                action: "creating a temporary file in",
                path: dir.clone(),
                source: e,
                untouched: "nothing was written",
            })?;
        Ok(PendingOutput {
            temp,
            output: output.to_path_buf(),
        })
    }

    /// The temporary file wimlib writes to.
    pub(crate) fn path(&self) -> &Path {
        self.temp.path()
    }

    /// Syncs the temporary file and renames it over the output.
    pub(crate) fn commit(self) -> Result<u64> {
        let file = self.temp.as_file();
        file.sync_all().map_err(|e| Error::write(&self.output, e))?;
        let bytes = file
            .metadata()
            .map_err(|e| Error::write(&self.output, e))?
            .len();
        let output = self.output;
        self.temp
            .persist(&output)
            .map_err(|e| Error::write(&output, e.error))?;
        if let Some(dir) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Make the rename durable; a failure here is not worth failing for.
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(bytes)
    }
}

/// Routes wimlib's write progress to `control` and aborts on cancellation.
pub(crate) fn watch(wim: &mut Wim, control: &Control, item: &str) {
    let progress = Arc::clone(&control.progress);
    let cancel = control.cancel.clone();
    let item = item.to_string();
    wim.register_progress_callback(move |msg| {
        if let ProgressMsg::WriteStreams {
            total_bytes,
            completed_bytes,
            ..
        } = msg
        {
            progress.report(Phase::WritingImage, &item, *completed_bytes, *total_bytes);
        }
        if cancel.is_cancelled() {
            ProgressStatus::Abort
        } else {
            ProgressStatus::Continue
        }
    });
}

/// Writes `image` (one image or all) into `pending`, mapping wimlib's errors.
pub(crate) fn write(
    image: Image<'_>,
    pending: &PendingOutput,
    flags: WriteFlags,
    threads: u32,
    control: &Control,
) -> Result<()> {
    let c = wim::c_path(pending.path())?;
    image
        .write(
            wim::tstr(&c),
            flags | WriteFlags::NO_CHECK_INTEGRITY,
            threads,
        )
        .map_err(|e| {
            if control.cancel.is_cancelled() || e == wimlib::Error::AbortedByProgress {
                Error::Cancelled {
                    operation: "writing the image",
                    untouched: "the partial output was removed",
                }
            } else {
                Error::Wim {
                    operation: "writing",
                    path: pending.output.clone(),
                    detail: e.to_string(),
                    untouched: "the partial output was removed and the base was not modified",
                }
            }
        })
}

/// Sets every `CREATIONTIME`/`LASTMODIFICATIONTIME` in the written file's XML
/// document to `unix_seconds` (the fields keep their width).
pub(crate) fn pin_xml_times(
    pending: &PendingOutput,
    unix_seconds: i64,
    creation_too: bool,
) -> Result<()> {
    let path = pending.path();
    let fail = |e: std::io::Error| Error::write(&pending.output, e);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(fail)?;
    let mut head = [0u8; header::HEADER_SIZE];
    file.read_exact(&mut head).map_err(fail)?;
    let hdr = WimHeader::parse(&head).map_err(|e| Error::CorruptWim {
        path: pending.output.clone(),
        detail: e.to_string(),
    })?;
    let xml = hdr.xml_data;
    if xml.flags & RESHDR_FLAG_COMPRESSED != 0 || xml.size_in_wim > 64 << 20 {
        return Err(Error::CorruptWim {
            path: pending.output.clone(),
            detail: "unexpected XML resource".into(),
        });
    }
    let len = usize::try_from(xml.size_in_wim).map_err(|_| Error::CorruptWim {
        path: pending.output.clone(),
        detail: "XML too large".into(),
    })?;
    let mut bytes = vec![0u8; len];
    file.seek(SeekFrom::Start(xml.offset)).map_err(fail)?;
    file.read_exact(&mut bytes).map_err(fail)?;
    let ts = header::unix_to_wim_timestamp(unix_seconds);
    header::set_xml_timestamps(&mut bytes, "LASTMODIFICATIONTIME", ts);
    if creation_too {
        header::set_xml_timestamps(&mut bytes, "CREATIONTIME", ts);
    }
    file.seek(SeekFrom::Start(xml.offset)).map_err(fail)?;
    file.write_all(&bytes).map_err(fail)?;
    Ok(())
}
