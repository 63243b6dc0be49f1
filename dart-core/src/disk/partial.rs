//! Outputs that are all or nothing: a failure, a cancel or a panic leaves
//! no partial file behind.
//!
//! - [`PartialFile`]: a new file written under a temporary name beside its
//!   final path and renamed into place by [`PartialFile::commit`]; the old
//!   file at that path (if any) stays untouched until then.
//! - [`RemoveOnDrop`]: files a call created in place (new image files
//!   written directly, as flashing does), removed unless the call
//!   [`disarm`](RemoveOnDrop::disarm)s the guard.
//!
//! Both clean up in `Drop`, so they also run when a panic unwinds.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Temporary names made by this process, for uniqueness.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new file under a temporary name, renamed to its destination on
/// [`commit`](Self::commit) and removed if dropped before.
#[derive(Debug)]
pub struct PartialFile {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl PartialFile {
    /// Reserves a temporary name beside `dest` (hidden, in the same
    /// directory, so the rename is atomic); nothing is created yet.
    pub fn beside(dest: &Path) -> Result<PartialFile> {
        let name = dest
            .file_name()
            .ok_or_else(|| Error::invalid("output", dest.display(), "it names no file"))?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dest.with_file_name(format!(
            ".{}.dart-partial-{}-{n}",
            name.to_string_lossy(),
            std::process::id()
        ));
        Ok(PartialFile {
            tmp,
            dest: dest.to_path_buf(),
            committed: false,
        })
    }

    /// The temporary path to write.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// The final path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Syncs the temporary file and renames it to its destination
    /// (replacing what was there).
    pub fn commit(mut self) -> Result<()> {
        File::open(&self.tmp)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&self.tmp, &self.dest))
            .map_err(|e| Error::write(&self.dest, e))?;
        self.committed = true;
        if let Some(dir) = self.dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The rename is done; a failed directory sync only weakens its
            // durability across a power cut.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Files created in place by a call, removed when the guard is dropped
/// armed.
#[derive(Debug, Default)]
pub struct RemoveOnDrop {
    paths: Vec<PathBuf>,
}

impl RemoveOnDrop {
    /// A guard over `paths`.
    pub fn new(paths: Vec<PathBuf>) -> RemoveOnDrop {
        RemoveOnDrop { paths }
    }

    /// Keeps the files: the call succeeded.
    pub fn disarm(mut self) {
        self.paths.clear();
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for p in &self.paths {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_file_is_renamed_on_commit_and_removed_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.iso");
        std::fs::write(&dest, b"old").unwrap();
        let p = PartialFile::beside(&dest).unwrap();
        std::fs::write(p.path(), b"new").unwrap();
        drop(p);
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let p = PartialFile::beside(&dest).unwrap();
        std::fs::write(p.path(), b"new").unwrap();
        p.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_panic_removes_the_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        let tmp = std::panic::catch_unwind(|| {
            let p = PartialFile::beside(&dest).unwrap();
            std::fs::write(p.path(), b"half").unwrap();
            let guard = RemoveOnDrop::new(vec![dir.path().join("created.img")]);
            std::fs::write(dir.path().join("created.img"), b"x").unwrap();
            let _keep = guard;
            panic!("in the middle of {}", p.path().display());
        });
        assert!(tmp.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
