//! An ISO image as a [`MediaSet`]: the reader's output, in place.
//!
//! These constructors live here, not in `media`, so that the model
//! (`media`) never depends on a format: the ISO module knows both.

use std::path::Path;

use super::read::read_iso;
use crate::error::Result;
use crate::model::media::MediaSet;

impl MediaSet {
    /// Opens a media set from a directory or an ISO image file.
    pub fn open(path: impl AsRef<Path>) -> Result<MediaSet> {
        let path = path.as_ref();
        if path.is_file() {
            MediaSet::from_iso(path)
        } else {
            MediaSet::from_dir(path)
        }
    }

    /// Reads the file tree of an ISO image (Joliet names when present)
    /// without extracting it. A UDF-only image is an error naming UDF.
    pub fn from_iso(path: impl AsRef<Path>) -> Result<MediaSet> {
        let path = path.as_ref();
        let contents = read_iso(path)?;
        Ok(MediaSet::from_iso_files(
            path,
            contents.files.into_iter().map(|f| {
                let ranges = f.extents.iter().map(|e| (e.offset, e.len)).collect();
                (f.path, f.size, ranges)
            }),
        ))
    }
}
