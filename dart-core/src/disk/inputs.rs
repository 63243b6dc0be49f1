//! An output never touches an input of the same command.
//!
//! `dart bmap create in.iso -o in.iso` or `dart media iso --media in.iso -o
//! in.iso` would replace the very file being read, and `dart media usb
//! --media x.iso --device x.iso` would overwrite it while reading it.
//! [`check_output`] refuses an output that *is* an input (the same file,
//! under any name), *contains* one (a block device holding the file system,
//! or the loop device, an input lives on), *backs* one (an image file behind
//! a loop device that is, or holds, an input), or overlaps one (two block
//! devices that share sectors: a disk and its partition, a loop device and
//! the device under it). It also refuses an output inside an input
//! directory. Every writer of the crate runs it before its first write.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::in_use::{loop_devices, FileId, LoopDevice};
use super::safety::{read_dev, sys_dir, DevNum};
use crate::error::{Error, Result};

/// How deep devices built on devices are followed.
const MAX_DEPTH: usize = 16;

/// What a path is, for this check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    /// A regular file or directory: its identity and the device its file
    /// system is on.
    Entry { id: FileId, on: DevNum, dir: bool },
    /// A block device.
    Device(DevNum),
    /// Something else, or nothing.
    Other,
}

fn node(path: &Path) -> Node {
    let Ok(meta) = fs::metadata(path) else {
        return Node::Other;
    };
    let kind = meta.file_type();
    if kind.is_block_device() {
        Node::Device(DevNum::from_dev_t(meta.rdev()))
    } else if kind.is_file() || kind.is_dir() {
        Node::Entry {
            id: FileId {
                dev: meta.dev(),
                ino: meta.ino(),
            },
            on: DevNum::from_dev_t(meta.dev()),
            dir: kind.is_dir(),
        }
    } else {
        Node::Other
    }
}

/// Refuses `output` when it is, contains, backs or overlaps one of
/// `inputs`, or lies inside an input directory; see the
/// [module docs](self). The error names the input. An output that does not
/// exist yet can only collide by lying inside an input directory.
pub fn check_output(output: &Path, inputs: &[&Path]) -> Result<()> {
    let loops = loop_devices();
    let out = node(output);
    for input in inputs {
        if let Some(reason) = collision(output, out, input, &loops) {
            return Err(Error::OutputIsInput {
                output: output.to_path_buf(),
                input: input.to_path_buf(),
                reason,
            });
        }
    }
    Ok(())
}

/// Why `output` (whose node is `out`) may not be written while `input` is
/// read, if it may not.
fn collision(output: &Path, out: Node, input: &Path, loops: &[LoopDevice]) -> Option<String> {
    let inp = node(input);
    let shown = input.display();
    if let Node::Entry { dir: true, .. } = inp {
        if inside(output, input) {
            return Some(format!("it is inside the input directory {shown}"));
        }
    }
    match (out, inp) {
        (Node::Entry { id: a, .. }, Node::Entry { id: b, .. }) if a == b => Some(format!(
            "it is the input {shown} (under this or another name)"
        )),
        (Node::Device(a), Node::Device(b)) if a == b => {
            Some(format!("it is the input device {shown}"))
        }
        (Node::Device(d), Node::Device(e)) => {
            let under_input = below(e, loops);
            if under_input.contains(&d) || partitions_of(d).iter().any(|p| under_input.contains(p))
            {
                Some(format!(
                    "the input device {shown} lies on it ({e} is built on {d})"
                ))
            } else if below(d, loops).contains(&e) {
                Some(format!(
                    "it lies on the input device {shown} ({d} is built on {e})"
                ))
            } else {
                None
            }
        }
        (Node::Device(d), Node::Entry { on, .. }) => {
            let under = below(on, loops);
            let mut ours = partitions_of(d);
            ours.push(d);
            ours.iter()
                .any(|p| under.contains(p))
                .then(|| format!("it holds the file system the input {shown} is on (device {on})"))
        }
        (Node::Entry { id, dir: false, .. }, Node::Device(e)) => {
            let under = below(e, loops);
            backed_by(id, loops)
                .into_iter()
                .find(|l| under.contains(&l.dev))
                .map(|l| {
                    format!(
                        "it backs the loop device {}, under the input device {shown}",
                        l.path.display()
                    )
                })
        }
        (Node::Entry { id, dir: false, .. }, Node::Entry { on, .. }) => {
            let under = below(on, loops);
            backed_by(id, loops)
                .into_iter()
                .find(|l| under.contains(&l.dev))
                .map(|l| {
                    format!(
                        "it backs the loop device {}, which holds the file system the input {shown} is on",
                        l.path.display()
                    )
                })
        }
        _ => None,
    }
}

/// Whether `path` (which may not exist yet) is inside the directory `dir`.
fn inside(path: &Path, dir: &Path) -> bool {
    let Ok(dir) = fs::canonicalize(dir) else {
        return false;
    };
    // The deepest existing ancestor, canonical, plus the rest.
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        let Some(name) = existing.file_name().map(|n| n.to_os_string()) else {
            return false;
        };
        rest.push(name);
        if !existing.pop() || existing.as_os_str().is_empty() {
            existing = PathBuf::from(".");
            break;
        }
    }
    let Ok(mut full) = fs::canonicalize(&existing) else {
        return false;
    };
    for name in rest.into_iter().rev() {
        full.push(name);
    }
    full.starts_with(&dir) && full != dir
}

/// The loop devices whose backing file is `id`.
fn backed_by(id: FileId, loops: &[LoopDevice]) -> Vec<&LoopDevice> {
    loops
        .iter()
        .filter(|l| l.backing_file == Some(id))
        .collect()
}

/// The partitions of the block device `dev`.
fn partitions_of(dev: DevNum) -> Vec<DevNum> {
    let Ok(sys) = sys_dir(dev) else {
        return Vec::new();
    };
    let Ok(entries) = fs::read_dir(&sys) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("partition").is_file())
        .filter_map(|p| read_dev(&p))
        .collect()
}

/// `dev` and every device its sectors live on: the disk of a partition,
/// the members of a device-mapper or md device, the device or the file
/// system under a loop device's backing, recursively.
fn below(dev: DevNum, loops: &[LoopDevice]) -> BTreeSet<DevNum> {
    let mut out = BTreeSet::new();
    walk(dev, loops, &mut out, 0);
    out
}

fn walk(dev: DevNum, loops: &[LoopDevice], out: &mut BTreeSet<DevNum>, depth: usize) {
    if depth > MAX_DEPTH || !out.insert(dev) {
        return;
    }
    if let Some(l) = loops.iter().find(|l| l.dev == dev) {
        if let Some(under) = l.backing_device {
            walk(under, loops, out, depth + 1);
        }
        if let Ok(meta) = fs::metadata(&l.backing) {
            if meta.is_file() {
                walk(DevNum::from_dev_t(meta.dev()), loops, out, depth + 1);
            }
        }
    }
    let Ok(sys) = sys_dir(dev) else {
        return;
    };
    if sys.join("partition").is_file() {
        if let Some(parent) = sys.parent().and_then(read_dev) {
            walk(parent, loops, out, depth + 1);
        }
    }
    if let Ok(slaves) = fs::read_dir(sys.join("slaves")) {
        for slave in slaves.filter_map(|e| e.ok()) {
            if let Some(member) = read_dev(&slave.path()) {
                walk(member, loops, out, depth + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_under_two_names_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("in.iso");
        fs::write(&a, b"iso").unwrap();
        let b = dir.path().join("alias.iso");
        fs::hard_link(&a, &b).unwrap();
        let link = dir.path().join("link.iso");
        std::os::unix::fs::symlink(&a, &link).unwrap();
        for out in [&a, &b, &link] {
            let e = check_output(out, &[&a]).unwrap_err();
            assert!(matches!(e, Error::OutputIsInput { .. }), "{e}");
            assert!(e.to_string().contains("in.iso"), "{e}");
        }
        let other = dir.path().join("out.iso");
        check_output(&other, &[&a]).unwrap();
        fs::write(&other, b"old").unwrap();
        check_output(&other, &[&a]).unwrap();
    }

    #[test]
    fn an_output_inside_an_input_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("media");
        fs::create_dir_all(media.join("sources")).unwrap();
        let e = check_output(&media.join("new/dart.iso"), &[&media]).unwrap_err();
        assert!(e.to_string().contains("inside the input directory"), "{e}");
        check_output(&dir.path().join("dart.iso"), &[&media]).unwrap();
        check_output(&dir.path().join("media2/x"), &[&media]).unwrap();
    }
}
