//! [`Efivarfs`]: UEFI variables through Linux's efivarfs.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::vars::{check_plan, store_error, var_key, Variable, VariableStore};
use super::{UefiProblem, VarChange};
use crate::error::{Error, Result};

/// Where Linux mounts efivarfs.
pub const EFIVARS_DIR: &str = "/sys/firmware/efi/efivars";

/// `FS_IMMUTABLE_FL` of `linux/fs.h`.
const FS_IMMUTABLE_FL: libc::c_int = 0x10;
/// `EFIVARFS_MAGIC` of `linux/magic.h`.
const EFIVARFS_MAGIC: i64 = 0xde5e_81e4;

/// The variables of the running system through Linux's efivarfs
/// (`/sys/firmware/efi/efivars`), or of a directory laid out the same way
/// (as tests use).
///
/// Each variable is a file `Name-guid` holding the 4-byte little-endian
/// attributes, then the data. The kernel makes most of them immutable
/// (`chattr +i`) so a stray write cannot brick a machine: dart clears the
/// flag before a write or a delete and sets it again after a write.
/// efivarfs takes a variable in ONE write(2) call (attributes and data
/// together), so a value is never written in pieces.
///
/// A plan is applied in the order given. Plans from [`super::boot`] put
/// `Boot####` before `BootOrder` and `BootNext`, so a crash between two
/// writes leaves at most a boot option nothing refers to, never an order
/// naming a missing option.
#[derive(Debug, Clone)]
pub struct Efivarfs {
    dir: PathBuf,
}

impl Default for Efivarfs {
    fn default() -> Self {
        Efivarfs::new(EFIVARS_DIR)
    }
}

impl Efivarfs {
    /// The variables in `dir`; nothing is read yet.
    pub fn new(dir: impl Into<PathBuf>) -> Efivarfs {
        Efivarfs { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, name: &str, guid: Uuid) -> Result<PathBuf> {
        if name.is_empty() || name.contains(['/', '\0']) {
            return Err(store_error(
                &self.dir,
                UefiProblem::BadName { name: name.into() },
            ));
        }
        Ok(self.dir.join(var_key(name, guid)))
    }

    fn io(
        &self,
        action: &'static str,
        path: &Path,
        source: std::io::Error,
        untouched: &'static str,
    ) -> Error {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
            untouched,
        }
    }

    /// Whether the directory is a real efivarfs (which ignores O_TRUNC on
    /// a variable: a write replaces the whole value).
    fn is_efivarfs(&self) -> bool {
        let Ok(c) = std::ffi::CString::new(self.dir.as_os_str().as_encoded_bytes()) else {
            return false;
        };
        let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
        // SAFETY: `c` is a NUL-terminated path and `st` points to a
        // statfs-sized buffer the call fills.
        let rc = unsafe { libc::statfs(c.as_ptr(), st.as_mut_ptr()) };
        // SAFETY: statfs succeeded (rc == 0), so it filled `st`; zeroed
        // memory is a valid statfs anyway.
        let f_type = unsafe { st.assume_init() }.f_type;
        // f_type is a long on some targets and an int on others.
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
        let f_type = f_type as i64;
        rc == 0 && f_type == EFIVARFS_MAGIC
    }

    /// Writes one variable, clearing and restoring the immutable flag of
    /// an existing file.
    fn write(&self, var: &Variable, exists: bool, efivarfs: bool) -> Result<()> {
        let path = self.path_of(&var.name, var.guid)?;
        let untouched =
            "the variables before it in the plan were written, this one was left as it was";
        let mut buf = Vec::with_capacity(4 + var.data.len());
        buf.extend_from_slice(&var.attributes.to_le_bytes());
        buf.extend_from_slice(&var.data);
        let mut opts = OpenOptions::new();
        opts.write(true)
            .create(!exists)
            .custom_flags(libc::O_CLOEXEC);
        if !efivarfs {
            opts.truncate(true);
        }
        let restore = if exists {
            clear_immutable(&path)
                .map_err(|e| self.io("clearing the immutable flag of", &path, e, untouched))?
        } else {
            None
        };
        let result = opts
            .mode(0o644)
            .open(&path)
            .and_then(|mut f| {
                // ONE write(2): efivarfs takes attributes and data together.
                let n = f.write(&buf)?;
                if n != buf.len() {
                    return Err(std::io::Error::other(format!(
                        "the kernel took {n} of {} bytes",
                        buf.len()
                    )));
                }
                Ok(())
            })
            .map_err(|e| self.io("writing the variable", &path, e, untouched));
        if let Some(flags) = restore {
            set_flags(&path, flags).map_err(|e| {
                self.io(
                    "restoring the immutable flag of",
                    &path,
                    e,
                    "the variable was written",
                )
            })?;
        }
        result
    }

    fn delete(&self, name: &str, guid: Uuid) -> Result<()> {
        let path = self.path_of(name, guid)?;
        let untouched =
            "the variables before it in the plan were changed, this one was left as it was";
        let restore = clear_immutable(&path)
            .map_err(|e| self.io("clearing the immutable flag of", &path, e, untouched))?;
        std::fs::remove_file(&path).map_err(|e| {
            if let Some(flags) = restore {
                let _ = set_flags(&path, flags);
            }
            self.io("deleting the variable", &path, e, untouched)
        })
    }
}

/// Clears `FS_IMMUTABLE_FL`; `Some(old flags)` when it was set (to restore
/// them), `None` when it was not or the file system has no flags (tmpfs
/// answers ENOTTY or EOPNOTSUPP).
fn clear_immutable(path: &Path) -> std::io::Result<Option<libc::c_int>> {
    let Some(flags) = get_flags(path)? else {
        return Ok(None);
    };
    if flags & FS_IMMUTABLE_FL == 0 {
        return Ok(None);
    }
    set_flags(path, flags & !FS_IMMUTABLE_FL)?;
    Ok(Some(flags))
}

fn no_flags(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOTTY) | Some(libc::EOPNOTSUPP) | Some(libc::EINVAL)
    )
}

fn get_flags(path: &Path) -> std::io::Result<Option<libc::c_int>> {
    let file = File::open(path)?;
    let mut flags: libc::c_int = 0;
    // SAFETY: `file` is an open descriptor for the call's duration and
    // `flags` is a live c_int the kernel writes (FS_IOC_GETFLAGS stores an
    // int despite the `long` in its definition).
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) };
    if rc == 0 {
        return Ok(Some(flags));
    }
    let e = std::io::Error::last_os_error();
    if no_flags(&e) {
        Ok(None)
    } else {
        Err(e)
    }
}

fn set_flags(path: &Path, flags: libc::c_int) -> std::io::Result<()> {
    let file = File::open(path)?;
    // SAFETY: `file` is an open descriptor for the call's duration and
    // `flags` is a live c_int the kernel reads.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if no_flags(&e) {
        Ok(())
    } else {
        Err(e)
    }
}

impl VariableStore for Efivarfs {
    fn name(&self) -> String {
        self.dir.display().to_string()
    }

    fn get(&self, name: &str, guid: Uuid) -> Result<Option<Variable>> {
        let path = self.path_of(name, guid)?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::read(&path, e)),
        };
        let attributes = super::bytes::u32_at(&bytes, 0, "efivarfs attributes")
            .map_err(|p| store_error(&path, p))?;
        Ok(Some(Variable {
            name: name.to_string(),
            guid,
            attributes,
            data: bytes[4..].to_vec(),
        }))
    }

    fn list(&self) -> Result<Vec<(String, Uuid)>> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                what: "efivarfs directory (is this a UEFI system?)",
                path: self.dir.clone(),
            },
            _ => Error::read(&self.dir, e),
        })?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::read(&self.dir, e))?;
            let file = entry.file_name();
            let Some(file) = file.to_str() else { continue };
            // `Name-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`: the GUID is the last 36.
            let Some(split) = file.len().checked_sub(37) else {
                continue;
            };
            let (Some(name), Some(guid)) = (file.get(..split), file.get(split + 1..)) else {
                continue;
            };
            if file.as_bytes().get(split) != Some(&b'-') || name.is_empty() {
                continue;
            }
            if let Ok(guid) = Uuid::parse_str(guid) {
                out.push((name.to_string(), guid));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Writes the changes one by one in the given order, each value in one
    /// write(2); see [`Efivarfs`] for what a crash leaves.
    fn apply(&mut self, changes: &[VarChange]) -> Result<()> {
        check_plan(self, changes)?;
        let efivarfs = self.is_efivarfs();
        for c in changes {
            match &c.after {
                Some(v) => self.write(v, c.before.is_some(), efivarfs)?,
                None if c.before.is_some() => self.delete(&c.name, c.guid)?,
                None => {}
            }
        }
        Ok(())
    }
}
