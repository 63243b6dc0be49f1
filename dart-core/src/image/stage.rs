//! A staging directory: the file tree that is overlaid onto the base image.
//!
//! The tree mirrors the image from its root (`DaRT/Tools/<tool>`,
//! `DaRT/Drivers`, `Windows/System32/winpeshl.ini`, ...), so one wimlib "add"
//! of the stage onto `/` composes the image, and directories that already
//! exist in the base keep their metadata.
//!
//! Normally payloads are linked (symbolic links that wimlib follows), so
//! nothing is copied. In deterministic mode they are copied and every file
//! and directory gets the same timestamp, because the image records them.

use std::fs::{self, File, FileTimes};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::startup::ConfigFile;
use crate::error::{Error, Result};

/// How payload trees enter the stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StageMode {
    /// Symbolic links, followed at capture time.
    Link,
    /// Copies whose timestamps are set to this many Unix seconds.
    CopyWithTime(i64),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::Io {
        action: "staging",
        path: path.to_path_buf(),
        source: e,
        untouched: "nothing was written to the output",
    }
}

/// Puts `source` (a directory) at `dest` inside the stage.
pub(crate) fn add_tree(source: &Path, dest: &Path, mode: StageMode) -> Result<()> {
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    match mode {
        StageMode::Link => {
            let abs = fs::canonicalize(source).map_err(io(source))?;
            std::os::unix::fs::symlink(&abs, dest).map_err(io(dest))
        }
        StageMode::CopyWithTime(_) => copy_tree(source, dest),
    }
}

fn copy_tree(source: &Path, dest: &Path) -> Result<()> {
    fs::create_dir_all(dest).map_err(io(dest))?;
    let mut entries = fs::read_dir(source)
        .map_err(|e| Error::read(source, e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::read(source, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let from = entry.path();
        let to = dest.join(entry.file_name());
        let meta = fs::metadata(&from).map_err(|e| Error::read(&from, e))?;
        if meta.is_dir() {
            copy_tree(&from, &to)?;
        } else if meta.is_file() {
            fs::copy(&from, &to).map_err(io(&to))?;
        }
    }
    Ok(())
}

/// Writes the configuration files into the stage.
pub(crate) fn add_config(stage: &Path, files: &[ConfigFile]) -> Result<()> {
    for f in files {
        let path = stage.join(f.path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        fs::write(&path, f.contents.as_bytes()).map_err(io(&path))?;
    }
    Ok(())
}

/// Gives every file and directory under `root` the same access and
/// modification time (children first, so directory times stick).
pub(crate) fn pin_times(root: &Path, unix_seconds: i64) -> Result<()> {
    let time = if unix_seconds >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix_seconds as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(unix_seconds.unsigned_abs())
    };
    pin_times_at(root, time)
}

fn pin_times_at(path: &Path, time: SystemTime) -> Result<()> {
    let meta = fs::symlink_metadata(path).map_err(io(path))?;
    if meta.is_dir() {
        for entry in fs::read_dir(path).map_err(io(path))? {
            pin_times_at(&entry.map_err(io(path))?.path(), time)?;
        }
    }
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let file = File::open(path).map_err(io(path))?;
    file.set_times(FileTimes::new().set_accessed(time).set_modified(time))
        .map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_times_stick_on_files_and_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/a.txt"), b"a").unwrap();
        let stage = dir.path().join("stage");
        add_tree(
            &src,
            &stage.join("DaRT/Tools/x"),
            StageMode::CopyWithTime(1_000_000_000),
        )
        .unwrap();
        pin_times(&stage, 1_000_000_000).unwrap();
        for p in ["DaRT", "DaRT/Tools/x/sub", "DaRT/Tools/x/sub/a.txt"] {
            let m = fs::metadata(stage.join(p)).unwrap();
            assert_eq!(
                m.modified().unwrap(),
                UNIX_EPOCH + Duration::from_secs(1_000_000_000),
                "{p}"
            );
        }
    }
}
