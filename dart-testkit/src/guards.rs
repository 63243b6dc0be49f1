//! Loop devices and mounts made by a test, undone on drop even when the
//! test panics.

use std::path::{Path, PathBuf};

use std::fs;

use crate::env::{have_tool, output, run};

/// A loop device attached by this test; detached on drop.
pub struct Loop {
    /// The device node.
    pub dev: PathBuf,
}

impl Loop {
    /// Attaches `file` to a free loop device (`extra`: more `losetup`
    /// arguments, such as an offset).
    pub fn attach(file: &Path, extra: &[&str]) -> Loop {
        let mut args = vec!["--find", "--show"];
        args.extend_from_slice(extra);
        let file = file.to_str().unwrap();
        args.push(file);
        let dev = run("losetup", &args).trim().to_string();
        assert!(dev.starts_with("/dev/loop"), "losetup printed {dev:?}");
        Loop {
            dev: PathBuf::from(dev),
        }
    }

    /// The device node as text.
    pub fn path(&self) -> &str {
        self.dev.to_str().unwrap()
    }

    /// The kernel name, e.g. `loop3`.
    pub fn name(&self) -> String {
        self.dev.file_name().unwrap().to_string_lossy().into_owned()
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let out = output("losetup", &["-d", self.path()]);
        if !out.status.success() {
            eprintln!(
                "warning: losetup -d {} failed: {}",
                self.path(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
}

/// A file system mounted by this test; unmounted on drop.
pub struct Mount {
    /// The mount point.
    pub dir: PathBuf,
}

impl Drop for Mount {
    fn drop(&mut self) {
        let dir = self.dir.to_str().unwrap();
        if !output("umount", &[dir]).status.success() {
            let out = output("umount", &["-l", dir]);
            if !out.status.success() {
                eprintln!(
                    "warning: umount {dir} failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
    }
}

/// Makes a FAT file system on `dev` and mounts it on `dir`. A kernel built
/// without vfat (as in some CI VMs) gets ext2 instead: what matters here is
/// that something is mounted.
pub fn mkfs_and_mount(dev: &str, dir: &Path) -> Mount {
    fs::create_dir_all(dir).unwrap();
    let dir_text = dir.to_str().unwrap();
    if have_tool("mkfs.fat") {
        run("mkfs.fat", &[dev]);
        let out = output("mount", &["-t", "vfat", dev, dir_text]);
        if out.status.success() {
            return Mount {
                dir: dir.to_path_buf(),
            };
        }
        eprintln!(
            "mounting FAT failed ({}); using ext2",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    run("mkfs.ext2", &["-q", "-F", dev]);
    run("mount", &[dev, dir_text]);
    Mount {
        dir: dir.to_path_buf(),
    }
}

/// Writes back everything the mounted file system holds and remounts it
/// read-only, so the backing file stops changing: a read-write ext2 mount
/// rewrites its superblock on its own (seen on CI), which would fail the
/// tests' "the refused device is unchanged" checks. It stays mounted.
pub fn settle(mount: &Mount) {
    let dir = mount.dir.to_str().unwrap();
    run("sync", &["-f", dir]);
    run("mount", &["-o", "remount,ro", dir]);
    run("sync", &[]);
}
