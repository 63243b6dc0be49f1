//! The directory tree of a media set as it will be laid out on FAT: one node
//! per directory (merged case-insensitively, as Windows would see them),
//! with each child's long and short name.

use std::collections::{HashMap, HashSet};

use super::dirent::{self, check_long_name, short_name, slot_count};
use crate::error::{Error, Result};
use crate::model::media::MediaSet;

/// What a child of a directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A directory: index into [`Tree::dirs`].
    Dir(usize),
    /// A file: index into the media set's `files()`.
    File(usize),
}

/// One entry of a directory.
#[derive(Debug, Clone)]
pub(crate) struct Child {
    pub long: String,
    pub short: [u8; 11],
    pub needs_lfn: bool,
    pub kind: Kind,
}

impl Child {
    /// Directory slots the entry takes.
    pub fn slots(&self) -> usize {
        slot_count(&self.long, self.needs_lfn)
    }
}

/// One directory.
#[derive(Debug, Clone, Default)]
pub(crate) struct DirNode {
    /// Index of the parent (the root is its own parent).
    pub parent: usize,
    pub children: Vec<Child>,
    /// Lower-cased child names, for collisions.
    names: HashMap<String, usize>,
    shorts: HashSet<[u8; 11]>,
}

/// The tree; `dirs[0]` is the root.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub dirs: Vec<DirNode>,
}

impl Tree {
    /// Lays out the media set. File names that FAT cannot hold, and a file
    /// and a directory whose names differ only in case, are errors naming
    /// the path.
    pub fn build(media: &MediaSet) -> Result<Tree> {
        let mut tree = Tree {
            dirs: vec![DirNode::default()],
        };
        for (index, file) in media.files().iter().enumerate() {
            let parts: Vec<&str> = file.path.split('/').filter(|p| !p.is_empty()).collect();
            let mut dir = 0usize;
            for (depth, part) in parts.iter().enumerate() {
                check_long_name(part).map_err(|why| {
                    Error::invalid("media file name", &file.path, why.to_string())
                })?;
                let is_file = depth + 1 == parts.len();
                let key = part.to_lowercase();
                match tree.dirs[dir].names.get(&key).copied() {
                    Some(pos) => match (tree.dirs[dir].children[pos].kind, is_file) {
                        (Kind::Dir(d), false) => dir = d,
                        _ => {
                            return Err(Error::invalid(
                                "media file name",
                                &file.path,
                                "another file or directory of the media has the same name apart from case, \
                                 which FAT cannot hold",
                            ))
                        }
                    },
                    None => {
                        let kind = if is_file {
                            Kind::File(index)
                        } else {
                            tree.dirs.push(DirNode {
                                parent: dir,
                                ..DirNode::default()
                            });
                            Kind::Dir(tree.dirs.len() - 1)
                        };
                        let node = &mut tree.dirs[dir];
                        let (short, needs_lfn) = short_name(part, &mut node.shorts);
                        node.names.insert(key, node.children.len());
                        node.children.push(Child {
                            long: part.to_string(),
                            short,
                            needs_lfn,
                            kind,
                        });
                        if let Kind::Dir(d) = kind {
                            dir = d;
                        }
                    }
                }
            }
        }
        Ok(tree)
    }

    /// Bytes the entries of directory `d` take: its children plus "." and
    /// ".." (subdirectories) or the volume label (root), at least one slot.
    pub fn dir_bytes(&self, d: usize, has_label: bool) -> u64 {
        let own = if d == 0 { usize::from(has_label) } else { 2 };
        let slots: usize = own
            + self.dirs[d]
                .children
                .iter()
                .map(Child::slots)
                .sum::<usize>();
        (slots.max(1) * dirent::ENTRY_SIZE) as u64
    }

    /// Clusters every directory and file needs with `cluster`-byte clusters.
    pub fn clusters_needed(&self, media: &MediaSet, cluster: u32, has_label: bool) -> u64 {
        let c = u64::from(cluster);
        let dirs: u64 = (0..self.dirs.len())
            .map(|d| self.dir_bytes(d, has_label).div_ceil(c))
            .sum();
        let files: u64 = media.files().iter().map(|f| f.size.div_ceil(c)).sum();
        dirs + files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_merge_and_collisions_are_named() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "Boot/bcd",
            "boot/boot.sdi",
            "EFI/Boot/bootx64.efi",
            "bootmgr",
        ] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"x").unwrap();
        }
        let media = MediaSet::from_dir(dir.path()).unwrap();
        let tree = Tree::build(&media).unwrap();
        // root, Boot (merged with boot), EFI, EFI/Boot
        assert_eq!(tree.dirs.len(), 4);
        assert_eq!(tree.dirs[0].children.len(), 3);
        std::fs::write(dir.path().join("efi.txt"), b"x").unwrap();
        std::fs::create_dir_all(dir.path().join("x")).unwrap();
        std::fs::write(dir.path().join("X.d"), b"").unwrap();
        std::fs::create_dir_all(dir.path().join("Bootmgr")).unwrap();
        std::fs::write(dir.path().join("Bootmgr/a"), b"").unwrap();
        let media = MediaSet::from_dir(dir.path()).unwrap();
        let err = Tree::build(&media).unwrap_err();
        assert!(err.to_string().contains("ootmgr"), "{err}");
    }
}
