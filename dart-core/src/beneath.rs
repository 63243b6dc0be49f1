//! Opening files beneath a directory without following symbolic links.
//!
//! The boot servers serve a root to unauthenticated clients, and staging
//! copies media trees that someone else may have prepared: a symbolic link
//! planted in either (to `/etc/shadow`, say) must never be read through.
//! Checking the path first and opening it afterwards leaves a window in
//! which a component can be swapped for a link, so the open itself refuses
//! links: [`open_file`] resolves a relative path from a directory handle
//! with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` where the kernel has
//! it (Linux 5.6 and later), and otherwise walks the path one component at
//! a time with `O_NOFOLLOW`. Either way no symbolic link is followed, no
//! component may be `..`, and the result is a regular file or an error.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once `openat2` turned out to be missing (before Linux 5.6) or
/// filtered.
static OPENAT2_MISSING: AtomicBool = AtomicBool::new(false);

/// A directory opened as the root files are opened beneath.
#[derive(Debug)]
pub(crate) struct RootDir {
    fd: OwnedFd,
}

impl RootDir {
    /// Opens `path` (which may itself be reached through symbolic links:
    /// the caller chose it) as a root.
    pub(crate) fn open(path: &Path) -> io::Result<RootDir> {
        let fd = open_at(
            None,
            path.as_os_str().as_bytes(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )?;
        Ok(RootDir { fd })
    }

    /// Opens the regular file `relative` beneath the root for reading; see
    /// [`open_file`].
    pub(crate) fn open_file(&self, relative: &Path) -> io::Result<File> {
        open_file(self.fd.as_fd(), relative)
    }
}

/// Opens the regular file `relative` (a relative path without `.` or `..`)
/// beneath the directory `dir` for reading, following no symbolic link.
/// A link anywhere on the way fails with `ELOOP` (or `ENOTDIR`/`EXDEV`), a
/// directory or device with `InvalidInput`.
pub(crate) fn open_file(dir: BorrowedFd<'_>, relative: &Path) -> io::Result<File> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(name) => parts.push(name.as_bytes()),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the path must be relative, without '.' or '..'",
                ))
            }
        }
    }
    if parts.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path names no file",
        ));
    }
    let fd = if OPENAT2_MISSING.load(Ordering::Relaxed) {
        walk_no_follow(dir, &parts)?
    } else {
        match openat2_beneath(dir, &parts.join(&b'/')) {
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOSYS | libc::EPERM | libc::E2BIG)
                ) =>
            {
                // An older kernel (or a sandbox filtering the call): ask
                // once, then always walk.
                OPENAT2_MISSING.store(true, Ordering::Relaxed);
                walk_no_follow(dir, &parts)?
            }
            other => other?,
        }
    };
    let file = File::from(fd);
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file",
        ));
    }
    Ok(file)
}

/// The kernel's `struct open_how` (linux/openat2.h), version 0.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(dir, path, O_RDONLY, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
/// RESOLVE_NO_MAGICLINKS)`.
fn openat2_beneath(dir: BorrowedFd<'_>, path: &[u8]) -> io::Result<OwnedFd> {
    let path = c_path(path)?;
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK;
    let how = OpenHow {
        flags: u64::try_from(flags).unwrap_or(0),
        mode: 0,
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: the path is NUL-terminated and `how` is a valid open_how of the
    // size passed; the kernel reads both and returns a new descriptor or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    owned(i32::try_from(fd).unwrap_or(-1))
}

/// The same without `openat2`: each directory opened with `O_NOFOLLOW |
/// O_DIRECTORY` from the one before, the file with `O_NOFOLLOW`.
fn walk_no_follow(dir: BorrowedFd<'_>, parts: &[&[u8]]) -> io::Result<OwnedFd> {
    let (last, dirs) = parts
        .split_last()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let mut current: Option<OwnedFd> = None;
    for name in dirs {
        let from = current.as_ref().map_or(dir, |fd| fd.as_fd());
        current = Some(open_at(
            Some(from),
            name,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )?);
    }
    let from = current.as_ref().map_or(dir, |fd| fd.as_fd());
    open_at(
        Some(from),
        last,
        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK,
    )
}

/// `openat(dir or AT_FDCWD, path, flags)`.
fn open_at(dir: Option<BorrowedFd<'_>>, path: &[u8], flags: libc::c_int) -> io::Result<OwnedFd> {
    let path = c_path(path)?;
    let dirfd = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: the path is NUL-terminated; openat returns a new descriptor or
    // -1 and touches nothing else.
    let fd = unsafe { libc::openat(dirfd, path.as_ptr(), flags) };
    owned(fd)
}

fn c_path(path: &[u8]) -> io::Result<CString> {
    CString::new(path)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the path contains a NUL byte"))
}

/// A descriptor a syscall returned, or its error.
fn owned(fd: libc::c_int) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a non-negative return of open/openat/openat2 is a new
    // descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, tempfile::TempDir) {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("Boot/Fonts")).unwrap();
        std::fs::write(r.join("Boot/BCD"), "bcd").unwrap();
        std::fs::write(outside.path().join("secret"), "secret").unwrap();
        symlink(outside.path().join("secret"), r.join("Boot/secret")).unwrap();
        symlink(outside.path(), r.join("out")).unwrap();
        symlink("BCD", r.join("Boot/bcd-link")).unwrap();
        symlink("Boot", r.join("boot-link")).unwrap();
        (root, outside)
    }

    fn read(root: &RootDir, rel: &str) -> io::Result<String> {
        let mut s = String::new();
        root.open_file(Path::new(rel))?.read_to_string(&mut s)?;
        Ok(s)
    }

    #[test]
    fn plain_files_open_and_links_never_do() {
        let (root, _outside) = tree();
        let dir = RootDir::open(root.path()).unwrap();
        assert_eq!(read(&dir, "Boot/BCD").unwrap(), "bcd");
        for rel in [
            "Boot/secret",
            "out/secret",
            "Boot/bcd-link",
            "boot-link/BCD",
        ] {
            assert!(read(&dir, rel).is_err(), "{rel} was read");
        }
        for rel in ["../x", "Boot/../Boot/BCD", "/etc/passwd", "", "Boot/Fonts"] {
            assert!(read(&dir, rel).is_err(), "{rel} was read");
        }
    }

    #[test]
    fn the_walk_without_openat2_refuses_links_too() {
        let (root, _outside) = tree();
        let dir = RootDir::open(root.path()).unwrap();
        let open = |rel: &str| {
            let parts: Vec<&[u8]> = rel.split('/').map(str::as_bytes).collect();
            walk_no_follow(dir.fd.as_fd(), &parts)
        };
        assert!(open("Boot/BCD").is_ok());
        for rel in [
            "Boot/secret",
            "out/secret",
            "Boot/bcd-link",
            "boot-link/BCD",
        ] {
            assert!(open(rel).is_err(), "{rel} was opened");
        }
    }
}
