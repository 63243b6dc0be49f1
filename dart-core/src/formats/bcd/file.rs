//! Stores as files: read from and written to a path (crash-safely:
//! beside, synced, renamed) or a file of a FAT volume.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::store::{Store, MAX_STORE};
use crate::disk::partial::PartialFile;
use crate::disk::BlockDevice;
use crate::error::{Error, Result};
use crate::formats::fat::{put_files, read_file, FatOptions};
use crate::model::media::MediaSet;
use crate::progress::Control;

impl Store {
    /// Reads the store file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                what: "BCD store",
                path: path.to_path_buf(),
            },
            _ => Error::read(path, e),
        })?;
        if !meta.is_file() || meta.len() > MAX_STORE {
            return Err(Error::invalid(
                "BCD store",
                path.display(),
                format!("expected a regular file of at most {MAX_STORE} bytes"),
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
        Store::parse(&bytes, path)
    }

    /// The store as a hive file (the next generation of the one read).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.hive.to_bytes()
    }

    /// Writes the store to `path`: a temporary file beside it, synced,
    /// then renamed over the old store, whose permissions it keeps. A
    /// failure leaves the old file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let partial = self.write_beside(path)?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(partial.path(), meta.permissions())
                .map_err(|e| self.io("keeping the permissions of", path, e))?;
        }
        partial.commit()
    }

    /// Writes the store to `path`, which must not exist: the new file
    /// appears complete or not at all, and a file that appears at `path`
    /// meanwhile is never replaced.
    pub fn save_new(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let partial = self.write_beside(path)?;
        File::open(partial.path())
            .and_then(|f| f.sync_all())
            .map_err(|e| self.io("syncing the new store for", path, e))?;
        // link(2) fails when the name exists, unlike rename(2).
        std::fs::hard_link(partial.path(), path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::invalid(
                "BCD store",
                path.display(),
                "it already exists and was left as it was",
            ),
            _ => self.io("creating", path, e),
        })?;
        Ok(())
    }

    fn write_beside(&self, path: &Path) -> Result<PartialFile> {
        let partial = PartialFile::beside(path)?;
        std::fs::write(partial.path(), self.to_bytes())
            .map_err(|e| self.io("writing the new store beside", path, e))?;
        Ok(partial)
    }

    fn io(&self, action: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
            untouched: "the old store (if any) was left as it was",
        }
    }

    /// Writes the store as the file `path` (`efi/microsoft/boot/bcd`) of
    /// the FAT32 volume on `dev`, crash-safely: the new bytes go to free
    /// clusters and one directory-entry write switches the file over
    /// ([`put_files`](crate::formats::fat::put_files)), so a crash leaves
    /// the old store or the new one. Every other file is kept.
    pub fn save_on_volume(&self, dev: &mut dyn BlockDevice, path: &str) -> Result<()> {
        let rel = path.replace('\\', "/");
        let rel = rel.trim_start_matches('/');
        if rel.is_empty()
            || rel
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(Error::invalid(
                "store path on the volume",
                path,
                "expected a path such as efi/microsoft/boot/bcd",
            ));
        }
        let staging = tempfile::tempdir().map_err(|e| Error::Io {
            action: "creating a staging directory for",
            path: PathBuf::from(rel),
            source: e,
            untouched: "the volume was not written",
        })?;
        let file = staging.path().join(rel);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::write(&file, e))?;
        }
        std::fs::write(&file, self.to_bytes()).map_err(|e| Error::write(&file, e))?;
        let media = MediaSet::from_dir(staging.path())?;
        put_files(dev, &media, &FatOptions::default(), &Control::default())?;
        Ok(())
    }

    /// Reads the store in the file `path` of the FAT32 volume on `dev`.
    pub fn open_on_volume(dev: &mut dyn BlockDevice, path: &str) -> Result<Store> {
        let bytes = read_file(dev, path)?;
        Store::parse(&bytes, &dev.name().join(path.replace('\\', "/")))
    }
}
