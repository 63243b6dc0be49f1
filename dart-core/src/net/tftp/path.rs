//! Resolving a requested TFTP file name to a regular file under the server
//! root, safely.
//!
//! PXE clients name files the Windows way (`\Boot\BCD`) and rarely agree
//! with the disk on case, so [`resolve`]:
//!
//! - splits on both `\` and `/`, skips empty components (a leading separator
//!   or doubled separators are fine);
//! - refuses `.` and `..` (and any component made only of dots), control
//!   characters, `:` (drive letters, NTFS streams), components over 255 bytes
//!   and names over 1024 bytes;
//! - looks each component up case-insensitively (Unicode lowercase
//!   equality), preferring the exact-case entry and refusing as ambiguous
//!   when several entries differ only in case;
//! - never leaves the root and never goes through a symbolic link, inside
//!   the root or out of it: a staged image holds none, and a link planted
//!   in the root is refused wherever it appears;
//! - returns only regular files, as a path relative to the root made of the
//!   names found on disk.
//!
//! The server then opens that path beneath the root without following any
//! link (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`), so a
//! component swapped for a link between the lookup and the open is refused
//! too.
//!
//! Nothing is decoded: `%2e%2e` is a file literally named that, and
//! look-alikes such as `．．` (FULLWIDTH FULL STOP) or `∕` (DIVISION SLASH)
//! are ordinary characters, not dots or separators.
//!
//! The check is made at lookup time; the server root must not be writable by
//! the clients it serves (a concurrent rename could otherwise race it).

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Longest requested name accepted, in bytes.
pub const MAX_NAME: usize = 1024;

/// Longest single component accepted, in bytes.
pub const MAX_COMPONENT: usize = 255;

/// Why a requested name does not resolve to a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The name is unsafe or malformed; nothing was looked up.
    #[error("TFTP file name \"{}\" is refused: {reason}", .name.escape_debug())]
    Refused {
        /// The requested name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// No such file under the root.
    #[error("TFTP file name \"{}\" does not name a file under the server root", .name.escape_debug())]
    NotFound {
        /// The requested name.
        name: String,
    },
    /// Several entries match a component ignoring case, none exactly.
    #[error(
        "TFTP file name \"{}\" is ambiguous: {count} entries match \"{}\" ignoring case and none matches exactly",
        .name.escape_debug(),
        .component.escape_debug()
    )]
    Ambiguous {
        /// The requested name.
        name: String,
        /// The component that matched several entries.
        component: String,
        /// How many entries matched.
        count: usize,
    },
    /// The root or a directory under it could not be read.
    #[error("reading the server root for TFTP file name \"{}\": {source}", .name.escape_debug())]
    Io {
        /// The requested name.
        name: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// The components of `requested` (split on `/` and `\\`, empty ones
/// skipped) when the name passes the rules of the [module docs](self) that
/// need no lookup: length, control characters, `:`, dot-only and over-long
/// components, at least one component. Every name a server answers, from
/// disk or generated, passes this first.
pub fn check_name(requested: &str) -> Result<Vec<&str>, PathError> {
    let refuse = |reason| {
        Err(PathError::Refused {
            name: requested.to_owned(),
            reason,
        })
    };
    if requested.len() > MAX_NAME {
        return refuse("it is longer than 1024 bytes");
    }
    if requested.chars().any(char::is_control) {
        return refuse("it contains a control character");
    }
    if requested.contains(':') {
        return refuse("it contains ':' (a drive letter or stream name)");
    }
    let components: Vec<&str> = requested
        .split(['/', '\\'])
        .filter(|c| !c.is_empty())
        .collect();
    if components.is_empty() {
        return refuse("it names no file");
    }
    for c in &components {
        if c.bytes().all(|b| b == b'.') {
            return refuse("a component is '.', '..' or only dots");
        }
        if c.len() > MAX_COMPONENT {
            return refuse("a component is longer than 255 bytes");
        }
    }
    Ok(components)
}

/// Resolves `requested` (a file name from a TFTP request) to a regular file
/// under `root`; see the [module docs](self) for the rules.
///
/// Returns the file's path relative to `root`, with the names as they are
/// on disk.
pub fn resolve(root: &Path, requested: &str) -> Result<PathBuf, PathError> {
    let not_found = || PathError::NotFound {
        name: requested.to_owned(),
    };
    let io_err = |source| PathError::Io {
        name: requested.to_owned(),
        source,
    };
    let refuse = |reason| {
        Err(PathError::Refused {
            name: requested.to_owned(),
            reason,
        })
    };
    let components = check_name(requested)?;

    if !fs::metadata(root).map_err(io_err)?.is_dir() {
        return Err(io_err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "the server root is not a directory",
        )));
    }
    let mut current = root.to_path_buf();
    let mut relative = PathBuf::new();
    for component in components {
        let entry = match lookup(&current, component).map_err(io_err)? {
            Lookup::Found(path) => path,
            Lookup::Missing => return Err(not_found()),
            Lookup::Ambiguous(count) => {
                return Err(PathError::Ambiguous {
                    name: requested.to_owned(),
                    component: component.to_owned(),
                    count,
                })
            }
        };
        let meta = fs::symlink_metadata(&entry).map_err(io_err)?;
        if meta.file_type().is_symlink() {
            return refuse("it goes through a symbolic link");
        }
        if let Some(name) = entry.file_name() {
            relative.push(name);
        }
        current = entry;
    }
    let meta = fs::symlink_metadata(&current).map_err(|_| not_found())?;
    if !meta.is_file() {
        return refuse("it is not a regular file");
    }
    Ok(relative)
}

enum Lookup {
    Found(PathBuf),
    Missing,
    Ambiguous(usize),
}

/// Finds `name` in directory `dir`: the exact-case entry if there is one,
/// else the single entry equal ignoring case.
fn lookup(dir: &Path, name: &str) -> io::Result<Lookup> {
    let exact = dir.join(name);
    match fs::symlink_metadata(&exact) {
        Ok(_) => return Ok(Lookup::Found(exact)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        // Not a directory (a file used as one), or the like: no such file.
        Err(_) => return Ok(Lookup::Missing),
    }
    if !dir.is_dir() {
        return Ok(Lookup::Missing);
    }
    let want = name.to_lowercase();
    let mut found = None;
    let mut count = 0usize;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        // Entries that are not UTF-8 cannot be named by a (UTF-8) request.
        let Some(s) = OsStr::to_str(&file_name) else {
            continue;
        };
        if s.to_lowercase() == want {
            count += 1;
            found = Some(entry.path());
        }
    }
    Ok(match (count, found) {
        (1, Some(path)) => Lookup::Found(path),
        (0, _) | (_, None) => Lookup::Missing,
        (n, _) => Lookup::Ambiguous(n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::os::unix::fs::symlink;

    proptest! {
        /// What passes the name rules has no dot-only component, no `:`,
        /// no control character, and components that rebuild the name
        /// without its separators: a generated file's name is as safe as
        /// a file's on disk.
        #[test]
        fn checked_names_hold_no_way_out(name in "[a-zA-Z0-9./\\\\:\\x00-\\x1f ．]{0,40}") {
            if let Ok(parts) = check_name(&name) {
                prop_assert!(!parts.is_empty());
                prop_assert!(!name.contains(':') && !name.chars().any(char::is_control));
                for p in &parts {
                    prop_assert!(!p.bytes().all(|b| b == b'.'), "{name:?}");
                    prop_assert!(!p.contains(['/', '\\']));
                }
                let joined: String = parts.concat();
                let stripped: String = name.chars().filter(|c| *c != '/' && *c != '\\').collect();
                prop_assert_eq!(joined, stripped);
            }
        }
    }

    struct Tree {
        root: tempfile::TempDir,
        _outside: tempfile::TempDir,
    }

    fn tree() -> Tree {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let r = root.path();
        for (path, body) in [
            ("Boot/BCD", "bcd"),
            ("Boot/boot.sdi", "sdi"),
            ("Sources/boot.wim", "wim"),
            ("EFI/Boot/bootx64.efi", "efi"),
        ] {
            let p = r.join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, body).unwrap();
        }
        fs::write(outside.path().join("secret.txt"), "secret").unwrap();
        symlink("/etc/passwd", r.join("Boot/passwd")).unwrap();
        symlink(outside.path().join("secret.txt"), r.join("Boot/secret.txt")).unwrap();
        symlink(outside.path(), r.join("escape")).unwrap();
        symlink("../../..", r.join("EFI/Boot/up")).unwrap();
        symlink("/nonexistent/dangling", r.join("dangling")).unwrap();
        // Links that stay inside the root are refused too.
        symlink("EFI/Boot/bootx64.efi", r.join("bootmgfw.efi")).unwrap();
        symlink("EFI", r.join("efi-link")).unwrap();
        Tree {
            root,
            _outside: outside,
        }
    }

    fn read(root: &Path, name: &str) -> String {
        let path = resolve(root, name).unwrap_or_else(|e| panic!("{name:?}: {e}"));
        assert!(path.is_relative(), "{path:?}");
        fs::read_to_string(root.join(path)).unwrap()
    }

    #[test]
    fn windows_style_names_resolve() {
        let t = tree();
        let r = t.root.path();
        assert_eq!(read(r, "\\Boot\\BCD"), "bcd");
        assert_eq!(read(r, "/boot/bcd"), "bcd");
        assert_eq!(read(r, "boot\\\\BCD"), "bcd");
        assert_eq!(read(r, "BOOT/BcD"), "bcd");
        assert_eq!(read(r, "Boot/BCD"), "bcd");
        assert_eq!(read(r, "boot/boot.sdi"), "sdi");
        assert_eq!(read(r, "\\SOURCES\\BOOT.WIM"), "wim");
        assert_eq!(read(r, "efi/boot/BOOTX64.EFI"), "efi");
        assert_eq!(
            resolve(r, "\\EFI\\BOOT\\BOOTX64.EFI").unwrap(),
            Path::new("EFI/Boot/bootx64.efi"),
            "the names as they are on disk"
        );
    }

    #[test]
    fn case_only_differences_are_ambiguous_without_an_exact_match() {
        let t = tree();
        let r = t.root.path();
        fs::write(r.join("Sources/BOOT.WIM"), "other").unwrap();
        assert_eq!(read(r, "Sources/boot.wim"), "wim");
        assert_eq!(read(r, "Sources/BOOT.WIM"), "other");
        let err = resolve(r, "Sources/Boot.wim").unwrap_err();
        assert!(
            matches!(&err, PathError::Ambiguous { count: 2, component, .. } if component == "Boot.wim"),
            "{err}"
        );
        assert!(err.to_string().contains("Sources/Boot.wim"), "{err}");
        // The same for directories: with "Boot" and "boot", "BOOT" is ambiguous.
        fs::create_dir(r.join("boot")).unwrap();
        fs::write(r.join("boot/BCD"), "lower").unwrap();
        assert_eq!(read(r, "Boot/BCD"), "bcd");
        assert_eq!(read(r, "boot/bcd"), "lower");
        assert!(matches!(
            resolve(r, "BOOT/BCD"),
            Err(PathError::Ambiguous { count: 2, .. })
        ));
    }

    #[test]
    fn hostile_names_are_refused_or_not_found() {
        let t = tree();
        let r = t.root.path();
        let long = "a".repeat(300);
        let long_path = format!("{}/x", "abcdefgh/".repeat(120));
        let hostile = [
            "../etc/passwd",
            "..\\..\\windows",
            "....//....//etc/passwd",
            "/etc/passwd",
            "etc/passwd",
            "C:\\Windows\\win.ini",
            "c:boot/bcd",
            "Boot/BCD:stream",
            "boot/bcd\0.txt",
            "boot/bcd\n",
            "boot/\u{7f}bcd",
            "boot/\u{85}bcd",
            long.as_str(),
            long_path.as_str(),
            "%2e%2e/%2e%2e/etc/passwd",
            "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
            "．．/．．/etc/passwd",
            "..∕..∕etc∕passwd",
            "..⧵..⧵etc⧵passwd",
            "Boot∕BCD",
            "Boot/../../x",
            "Boot/../Boot/BCD",
            "Boot/./BCD",
            ".",
            "..",
            "...",
            "",
            "/",
            "\\\\",
            "Boot",
            "EFI\\Boot",
            "Boot/passwd",
            "Boot/secret.txt",
            "escape/secret.txt",
            "ESCAPE/SECRET.TXT",
            "EFI/Boot/up/etc/passwd",
            "efi-link/Boot/up/etc/passwd",
            "dangling",
            "Boot/BCD/x",
            "bootmgfw.efi",
            "efi-link/Boot/bootx64.efi",
        ];
        for name in hostile {
            match resolve(r, name) {
                Err(
                    e @ (PathError::Refused { .. }
                    | PathError::NotFound { .. }
                    | PathError::Ambiguous { .. }),
                ) => {
                    let shown = e.to_string();
                    assert!(!shown.chars().any(char::is_control), "{shown:?}");
                }
                other => panic!("{name:?} gave {other:?}"),
            }
        }
        for (name, reason) in [
            ("Boot/passwd", "symbolic link"),
            ("escape/secret.txt", "symbolic link"),
            ("EFI/Boot/up/etc/passwd", "symbolic link"),
            ("bootmgfw.efi", "symbolic link"),
            ("efi-link/Boot/bootx64.efi", "symbolic link"),
            ("../etc/passwd", "'..'"),
            ("Boot/./BCD", "'.'"),
            ("C:\\Windows\\win.ini", "':'"),
            ("boot/bcd\0.txt", "control"),
            (long.as_str(), "255"),
            (long_path.as_str(), "1024"),
            ("Boot", "regular file"),
        ] {
            let err = resolve(r, name).unwrap_err();
            assert!(err.to_string().contains(reason), "{name:?}: {err}");
        }
        let err = resolve(r, "boot/bcd\0.txt").unwrap_err();
        assert!(err.to_string().contains("boot/bcd\\0.txt"), "{err}");
    }

    #[test]
    fn missing_root_is_an_io_error() {
        let t = tree();
        let err = resolve(&t.root.path().join("nope"), "Boot/BCD").unwrap_err();
        assert!(matches!(err, PathError::Io { .. }), "{err}");
    }

    #[test]
    fn random_names_stay_inside_the_root() {
        let t = tree();
        let r = t.root.path();
        for (path, body) in [("a", "a"), ("B/c", "c"), ("a.b", "ab"), ("B/.x", "x")] {
            let p = r.join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, body).unwrap();
        }
        symlink("/etc", r.join("e")).unwrap();

        // Single characters plus a few whole names, so that some lookups
        // succeed and some go through the outward link `e`.
        let tokens: Vec<String> = ('a'..='e')
            .chain('A'..='E')
            .chain(['.', '/', '\\', '．', '∕', '⧵', 'İ', '\u{212A}'])
            .map(String::from)
            .chain(["a", "A", "b/c", "B\\C", "a.b", "..", "e"].map(String::from))
            .collect();
        let name =
            prop::collection::vec(prop::sample::select(tokens), 0..8).prop_map(|v| v.concat());
        let found = std::cell::Cell::new(0u32);
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(1000));
        runner
            .run(&name, |name| {
                if let Ok(path) = resolve(r, &name) {
                    prop_assert!(path.is_relative(), "{name:?} -> {path:?}");
                    let full = r.join(&path);
                    prop_assert!(
                        full.symlink_metadata().unwrap().is_file(),
                        "{name:?} -> {path:?}"
                    );
                    found.set(found.get() + 1);
                }
                Ok(())
            })
            .unwrap();
        assert!(found.get() > 10, "only {} names resolved", found.get());
    }
}
