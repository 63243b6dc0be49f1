#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Never write what something else is using, under any name: an image file
//! backing a mounted loop device, a loop device under another (mounted)
//! loop device, a whole-disk loop device while an offset loop device of one
//! of its partitions is mounted, a device another process holds open for
//! writing; and never create a file for a mistyped `/dev` path. Every case
//! runs with real loop devices, is refused before a byte is written (the
//! dry run refuses too), names the holder, and leaves the target
//! byte-identical.

use dart_testkit as common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::*;
use dart_core::progress::Control;
use dart_core::write::{flash, plan_flash, FlashOptions};
use dart_core::Error;

const MIB: u64 = 1 << 20;

fn image(dir: &Path) -> PathBuf {
    let img = dir.join("image.bin");
    std::fs::write(&img, random_bytes(2 * MIB as usize, 7)).unwrap();
    img
}

/// The tools a test with a mounted loop device needs.
const LOOP_AND_MOUNT: &[&[&str]] = &[&["losetup"], &["mount"], &["mkfs.ext2", "mkfs.fat"]];

/// A file of `mib` MiB of zeros in `dir`.
fn zeros(dir: &Path, name: &str, mib: u64) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, vec![0u8; (mib * MIB) as usize]).unwrap();
    path
}

/// A file system on `dev`, mounted at `DIR/mnt` and settled (read-only).
fn mounted(dev: &str, dir: &Path) -> (Mount, PathBuf) {
    let mnt = dir.join("mnt");
    let mount = mkfs_and_mount(dev, &mnt);
    settle(&mount);
    (mount, mnt)
}

/// Flashes `img` onto `target` (after a dry run), expecting both to refuse
/// with reasons containing every needle; the target file stays unchanged.
fn expect_refused(img: &Path, target: &Path, backing: &Path, needles: &[&str]) -> String {
    let before = sha256_file(backing);
    let targets = [target.to_path_buf()];
    let opts = FlashOptions::default();
    let planned = plan_flash(img, &targets, &opts).unwrap_err();
    let err = flash(img, &targets, &opts, &Control::default()).unwrap_err();
    for e in [&planned, &err] {
        assert!(matches!(e, Error::UnsafeTarget { .. }), "{e}");
        let shown = e.to_string();
        for needle in needles {
            assert!(shown.contains(needle), "{needle:?} not in: {shown}");
        }
    }
    assert_eq!(sha256_file(backing), before, "the target was written");
    err.to_string()
}

#[test]
fn an_image_file_backing_a_mounted_loop_device_is_refused() {
    if !ready(
        "an_image_file_backing_a_mounted_loop_device_is_refused",
        LOOP_AND_MOUNT,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let backing = zeros(dir.path(), "disk.img", 16);
    let lp = Loop::attach(&backing, &[]);
    let (_mount, mnt) = mounted(lp.path(), dir.path());
    let msg = expect_refused(
        &img,
        &backing,
        &backing,
        &[
            &format!("it backs the loop device {}", lp.path()),
            &format!("mounted at {}", mnt.display()),
        ],
    );
    eprintln!("{msg}");
}

#[test]
fn a_loop_device_under_a_mounted_loop_device_is_refused() {
    if !ready(
        "a_loop_device_under_a_mounted_loop_device_is_refused",
        LOOP_AND_MOUNT,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let backing = zeros(dir.path(), "disk.img", 16);
    let lower = Loop::attach(&backing, &[]);
    let upper = Loop::attach(&lower.dev, &[]);
    let (_mount, mnt) = mounted(upper.path(), dir.path());
    let msg = expect_refused(
        &img,
        &lower.dev,
        &backing,
        &[&format!(
            "the loop device {}, which is mounted at {}, is built on it",
            upper.path(),
            mnt.display()
        )],
    );
    eprintln!("{msg}");
}

#[test]
fn a_whole_disk_loop_device_with_a_mounted_partition_loop_is_refused() {
    if !ready(
        "a_whole_disk_loop_device_with_a_mounted_partition_loop_is_refused",
        LOOP_AND_MOUNT,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let backing = zeros(dir.path(), "disk.img", 32);
    let whole = Loop::attach(&backing, &[]);
    // A "partition" at 8 MiB, attached on its own as admins do with
    // `losetup -o`.
    let part = Loop::attach(&backing, &["-o", "8388608", "--sizelimit", "16777216"]);
    let (_mount, mnt) = mounted(part.path(), dir.path());
    let msg = expect_refused(
        &img,
        &whole.dev,
        &backing,
        &[&format!(
            "the loop device {}, which is mounted at {}, shares its backing file",
            part.path(),
            mnt.display()
        )],
    );
    eprintln!("{msg}");
    // Past the partition's range, the same backing file is free.
    let _ = part;
}

/// A process that holds `path` open read-write until dropped.
struct Holder(Child);

impl Holder {
    /// Runs `command`, which prints `ready` once it holds what it holds.
    fn spawn(mut command: Command) -> Holder {
        let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "ready");
        Holder(child)
    }

    /// A process holding `path` open read-write.
    fn open(path: &Path) -> Holder {
        let mut sh = Command::new("sh");
        sh.arg("-c").arg(format!(
            "exec 3<>'{}'; echo ready; exec sleep 600",
            path.display()
        ));
        Holder::spawn(sh)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_device_another_process_holds_open_for_writing_is_refused() {
    if !ready(
        "a_device_another_process_holds_open_for_writing_is_refused",
        &[&["losetup"]],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let backing = zeros(dir.path(), "disk.img", 16);
    let lp = Loop::attach(&backing, &[]);
    let holder = Holder::open(&lp.dev);
    let pid = holder.0.id();
    let msg = expect_refused(
        &img,
        &lp.dev,
        &backing,
        &[&format!(
            "it is held open for writing by process {pid} (sleep)"
        )],
    );
    eprintln!("{msg}");
    // The same for an image file.
    let file = dir.path().join("held.img");
    std::fs::write(&file, vec![0u8; 4 * MIB as usize]).unwrap();
    let holder = Holder::open(&file);
    let pid = holder.0.id();
    expect_refused(
        &img,
        &file,
        &file,
        &[&format!(
            "it is held open for writing by process {pid} (sleep)"
        )],
    );
    drop(holder);
    // Released, both are written.
    flash(
        &img,
        std::slice::from_ref(&file),
        &FlashOptions::default(),
        &Control::default(),
    )
    .unwrap();
}

#[test]
fn a_missing_path_under_dev_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let typo = PathBuf::from("/dev/sdz9");
    assert!(!typo.exists());
    let targets = [typo.clone()];
    for e in [
        plan_flash(&img, &targets, &FlashOptions::default()).unwrap_err(),
        flash(
            &img,
            &targets,
            &FlashOptions::default(),
            &Control::default(),
        )
        .unwrap_err(),
        dart_core::write::open_mirror(&targets, MIB, &[])
            .map(|_| ())
            .unwrap_err(),
    ] {
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
        assert!(e.to_string().contains("/dev/sdz9"), "{e}");
    }
    assert!(!typo.exists(), "a file was created under /dev");
}

#[test]
fn a_device_mounted_only_in_another_mount_namespace_is_refused() {
    if !ready(
        "a_device_mounted_only_in_another_mount_namespace_is_refused",
        &[&["losetup"], &["unshare"], &["mkfs.ext2"]],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let backing = zeros(dir.path(), "disk.img", 16);
    let lp = Loop::attach(&backing, &[]);
    run("mkfs.ext2", &["-q", "-F", lp.path()]);
    let mnt = dir.path().join("private");
    std::fs::create_dir(&mnt).unwrap();
    // Mounted read-only in a mount namespace of its own: invisible in this
    // process's /proc/self/mountinfo.
    let mut unshare = Command::new("unshare");
    unshare
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mount -o ro {} '{}' && echo ready && exec sleep 600",
            lp.path(),
            mnt.display()
        ));
    let holder = Holder::spawn(unshare);
    assert!(
        !std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(mnt.to_str().unwrap()),
        "the mount leaked into this namespace"
    );
    let msg = expect_refused(
        &img,
        &lp.dev,
        &backing,
        &[&format!(
            "it is mounted at {} (in the mount namespace of process {}",
            mnt.display(),
            holder.0.id()
        )],
    );
    eprintln!("{msg}");
}

#[test]
fn an_output_that_holds_or_backs_an_input_is_refused() {
    use dart_core::disk::inputs::check_output;
    if !ready(
        "an_output_that_holds_or_backs_an_input_is_refused",
        LOOP_AND_MOUNT,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let backing = zeros(dir.path(), "disk.img", 16);
    let lp = Loop::attach(&backing, &[]);
    let mnt = dir.path().join("mnt");
    let _mount = mkfs_and_mount(lp.path(), &mnt);
    let input = mnt.join("media.iso");
    std::fs::write(&input, b"iso").unwrap();
    let e = check_output(&lp.dev, &[&input]).unwrap_err();
    assert!(
        e.to_string().contains("it holds the file system the input"),
        "{e}"
    );
    let e = check_output(&backing, &[&input]).unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("it backs the loop device {}", lp.path())),
        "{e}"
    );
    let e = check_output(&backing, &[&lp.dev]).unwrap_err();
    assert!(e.to_string().contains("under the input device"), "{e}");
    check_output(&dir.path().join("elsewhere.img"), &[&input, &lp.dev]).unwrap();
}
