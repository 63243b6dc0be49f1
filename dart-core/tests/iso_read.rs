//! The ISO 9660 reader against images made by independent tools (xorriso,
//! genisoimage, mkudffs, Debian's ipxe.iso) and against hand-built images.
//! Tools are required: a missing one fails the test with the Debian package
//! that provides it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;

use dart_core::formats::iso::read::{read_iso, read_iso_from, NameSource};
use dart_core::formats::iso::{Extent, IsoContents, IsoFile};
use dart_core::Error;

const SECTOR: usize = 2048;
const IPXE_ISO: &str = "/usr/lib/ipxe/ipxe.iso";

/// Runs a tool, failing with the package that provides it if it is missing.
fn run(cmd: &mut Command, package: &str) {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {program} ({e}); install the Debian package {package}")
    });
    assert!(
        out.status.success(),
        "{program} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Extracts `iso` into `dir` with xorriso (ISO 9660 names as recorded, with
/// the version removed), then makes the tree writable so it can be removed.
fn xorriso_extract(iso: &Path, dir: &Path) {
    run(
        Command::new("xorriso")
            .args(["-ecma119_map", "stripped", "-osirrox", "on", "-indev"])
            .arg(iso)
            .args(["-extract", "/"])
            .arg(dir),
        "xorriso",
    );
    run(
        Command::new("chmod").arg("-R").arg("u+w").arg(dir),
        "coreutils",
    );
}

/// Files (with contents) and directories of a tree, as relative paths.
fn scan(root: &Path) -> (BTreeMap<String, Vec<u8>>, BTreeSet<String>) {
    let mut files = BTreeMap::new();
    let mut dirs = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            if entry.file_type().unwrap().is_dir() {
                dirs.insert(rel);
                stack.push(path);
            } else {
                files.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    (files, dirs)
}

/// A file's bytes, read by seeking to its extents in the image.
fn file_bytes(iso: &Path, file: &IsoFile) -> Vec<u8> {
    let mut f = File::open(iso).unwrap();
    let mut out = Vec::new();
    for extent in &file.extents {
        f.seek(SeekFrom::Start(extent.offset)).unwrap();
        let mut buf = vec![0u8; extent.len as usize];
        f.read_exact(&mut buf).unwrap();
        out.extend(buf);
    }
    assert_eq!(out.len() as u64, file.size, "{}", file.path);
    out
}

/// Asserts that the reader's view of `iso` equals the tree at `dir`.
fn assert_same_tree(iso: &Path, contents: &IsoContents, dir: &Path) {
    let (files, dirs) = scan(dir);
    let read_paths: BTreeSet<_> = contents.files.iter().map(|f| f.path.clone()).collect();
    let want_paths: BTreeSet<_> = files.keys().cloned().collect();
    assert_eq!(read_paths, want_paths, "file paths of {}", iso.display());
    let read_dirs: BTreeSet<_> = contents.directories.iter().cloned().collect();
    assert_eq!(read_dirs, dirs, "directories of {}", iso.display());
    for file in &contents.files {
        assert!(
            file_bytes(iso, file) == files[&file.path],
            "contents of {} in {}",
            file.path,
            iso.display()
        );
    }
    let mut sorted = contents.files.clone();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(sorted, contents.files, "files are sorted by path");
}

/// Reads `iso` and checks it against xorriso's extraction of it.
fn assert_matches_xorriso(iso: &Path) -> IsoContents {
    let contents = read_iso(iso).unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("x");
    xorriso_extract(iso, &dir);
    assert_same_tree(iso, &contents, &dir);
    contents
}

/// A tree with nested directories, long names, an empty file and a few MB.
fn sample_tree(root: &Path) {
    let long = "A long file name with Mixed Case and spaces 0123456789.txt";
    assert!(long.len() <= 64);
    let deep = root.join("Alpha/Beta/Gamma/Delta");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::create_dir_all(root.join("Empty dir")).unwrap();
    std::fs::write(root.join("readme.txt"), b"hello from the root\n").unwrap();
    std::fs::write(root.join("empty.bin"), b"").unwrap();
    std::fs::write(root.join("Alpha").join(long), b"long name\n").unwrap();
    std::fs::write(deep.join("leaf.dat"), b"deep leaf").unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 123)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(root.join("Alpha/Beta/big.bin"), big).unwrap();
}

fn mkisofs(args: &[&str], tree: &Path, iso: &Path) {
    run(
        Command::new("xorriso")
            .args(["-as", "mkisofs"])
            .args(args)
            .arg("-o")
            .arg(iso)
            .arg(tree),
        "xorriso",
    );
}

#[test]
fn debian_ipxe_iso_matches_xorriso() {
    let iso = Path::new(IPXE_ISO);
    assert!(
        iso.exists(),
        "{IPXE_ISO} is missing; install the Debian package ipxe"
    );
    let contents = assert_matches_xorriso(iso);
    assert_eq!(contents.names, NameSource::Joliet);
    assert!(contents.files.iter().any(|f| f.path == "isolinux.bin"));
    assert_eq!(contents.volume_bytes, 845 * SECTOR as u64);
    let platforms: Vec<u8> = contents.boot_entries.iter().map(|e| e.platform).collect();
    assert!(platforms.contains(&0), "{:?}", contents.boot_entries);
    assert!(platforms.contains(&0xEF), "{:?}", contents.boot_entries);
    for entry in &contents.boot_entries {
        assert!(entry.bootable);
        assert_eq!(entry.media_type, 0);
    }
}

#[test]
fn xorriso_joliet_image_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    sample_tree(&tree);
    let iso = tmp.path().join("joliet.iso");
    mkisofs(&["-J", "-V", "Joliet Test"], &tree, &iso);
    let contents = read_iso(&iso).unwrap();
    assert_eq!(contents.names, NameSource::Joliet);
    assert_eq!(contents.volume_id, "Joliet Test");
    assert_same_tree(&iso, &contents, &tree);
    assert!(contents.boot_entries.is_empty());
}

#[test]
fn xorriso_rock_ridge_image_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    sample_tree(&tree);
    let iso = tmp.path().join("rr.iso");
    mkisofs(&["-R"], &tree, &iso);
    let contents = read_iso(&iso).unwrap();
    assert_eq!(contents.names, NameSource::RockRidge);
    assert_same_tree(&iso, &contents, &tree);
}

#[test]
fn xorriso_plain_iso9660_image_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    sample_tree(&tree);
    let iso = tmp.path().join("plain.iso");
    mkisofs(&["--norock"], &tree, &iso);
    let contents = assert_matches_xorriso(&iso);
    assert_eq!(contents.names, NameSource::Iso9660);
    assert!(contents.files.iter().any(|f| f.path == "README.TXT"));
    assert!(contents
        .files
        .iter()
        .any(|f| f.path == "ALPHA/BETA/GAMMA/DELTA/LEAF.DAT"));
    for path in contents
        .files
        .iter()
        .map(|f| &f.path)
        .chain(&contents.directories)
    {
        assert_eq!(*path, path.to_uppercase());
    }
    // Same contents as the source tree, whatever the names became.
    let (files, _) = scan(&tree);
    let mut want: Vec<_> = files.into_values().collect();
    let mut got: Vec<_> = contents.files.iter().map(|f| file_bytes(&iso, f)).collect();
    want.sort();
    got.sort();
    assert!(want == got);
}

#[test]
fn genisoimage_relocated_deep_directories_are_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    let deep = tree.join("a/b/c/d/e/f/g/h/i/j");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("Deep file.txt"), b"nine levels down").unwrap();
    std::fs::write(tree.join("top.txt"), b"top").unwrap();
    let iso = tmp.path().join("deep.iso");
    run(
        Command::new("genisoimage")
            .args(["-quiet", "-R", "-J", "-o"])
            .arg(&iso)
            .arg(&tree),
        "genisoimage",
    );
    // With Joliet, the tree is not relocated.
    let joliet = read_iso(&iso).unwrap();
    assert_eq!(joliet.names, NameSource::Joliet);
    assert_same_tree(&iso, &joliet, &tree);

    // Rock Ridge only: the deep directory sits in rr_moved behind a CL link.
    let iso = tmp.path().join("deep-rr.iso");
    run(
        Command::new("genisoimage")
            .args(["-quiet", "-R", "-o"])
            .arg(&iso)
            .arg(&tree),
        "genisoimage",
    );
    let contents = assert_matches_xorriso(&iso);
    assert_eq!(contents.names, NameSource::RockRidge);
    assert!(contents
        .files
        .iter()
        .any(|f| f.path == "a/b/c/d/e/f/g/h/i/j/Deep file.txt"));
}

// ---- hand-built images ----

/// A directory record.
fn record(extent: u32, size: u32, flags: u8, ident: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    dart_core::formats::iso::record::DirRecord {
        lba: extent,
        len: size,
        time: [0; 7],
        flags,
        name: ident,
    }
    .write(&mut r);
    r
}

/// An image of `sectors` sectors: PVD at 16, terminator at 17, and a root
/// directory at 18 holding `entries` (after "." and "..").
fn hand_built(sectors: u32, entries: &[Vec<u8>]) -> Vec<u8> {
    let mut image = vec![0u8; sectors as usize * SECTOR];
    let pvd = &mut image[16 * SECTOR..17 * SECTOR];
    pvd[0] = 1;
    pvd[1..6].copy_from_slice(b"CD001");
    pvd[6] = 1;
    pvd[40..48].copy_from_slice(b"HANDMADE");
    pvd[80..84].copy_from_slice(&sectors.to_le_bytes());
    pvd[128..130].copy_from_slice(&2048u16.to_le_bytes());
    let root = record(18, 2048, 2, &[0]);
    pvd[156..156 + root.len()].copy_from_slice(&root);
    let term = &mut image[17 * SECTOR..18 * SECTOR];
    term[0] = 255;
    term[1..6].copy_from_slice(b"CD001");
    term[6] = 1;
    let mut dir = record(18, 2048, 2, &[0]);
    dir.extend(record(18, 2048, 2, &[1]));
    for e in entries {
        dir.extend_from_slice(e);
    }
    image[18 * SECTOR..18 * SECTOR + dir.len()].copy_from_slice(&dir);
    image
}

fn fill(image: &mut [u8], sector: usize, byte: u8, len: usize) {
    image[sector * SECTOR..sector * SECTOR + len].fill(byte);
}

fn read_bytes(image: &[u8]) -> dart_core::Result<IsoContents> {
    read_iso_from(&mut std::io::Cursor::new(image), Path::new("hand.iso"))
}

fn bad_iso_detail(result: dart_core::Result<IsoContents>) -> String {
    match result {
        Err(Error::BadIso { detail, .. }) => detail,
        other => panic!("expected BadIso, got {other:?}"),
    }
}

#[test]
fn multi_extent_file_is_joined() {
    let mut image = hand_built(
        23,
        &[
            record(19, 2048, 0x80, b"BIG.BIN;1"),
            record(21, 2048, 0x80, b"BIG.BIN;1"),
            record(20, 100, 0x00, b"BIG.BIN;1"),
            record(22, 3, 0x01, b"HIDDEN.TXT;1"),
        ],
    );
    fill(&mut image, 19, b'a', 2048);
    fill(&mut image, 21, b'b', 2048);
    fill(&mut image, 20, b'c', 100);
    image[22 * SECTOR..22 * SECTOR + 3].copy_from_slice(b"shh");
    let tmp = tempfile::tempdir().unwrap();
    let iso = tmp.path().join("multi.iso");
    std::fs::write(&iso, &image).unwrap();
    let contents = read_iso(&iso).unwrap();
    assert_eq!(contents.names, NameSource::Iso9660);
    assert_eq!(contents.volume_id, "HANDMADE");
    assert_eq!(contents.files.len(), 2);
    let big = &contents.files[0];
    assert_eq!(big.path, "BIG.BIN");
    assert_eq!(big.size, 4196);
    assert_eq!(
        big.extents,
        [
            Extent {
                offset: 19 * 2048,
                len: 2048
            },
            Extent {
                offset: 21 * 2048,
                len: 2048
            },
            Extent {
                offset: 20 * 2048,
                len: 100
            },
        ]
    );
    let data = file_bytes(&iso, big);
    assert!(data[..2048].iter().all(|&b| b == b'a'));
    assert!(data[2048..4096].iter().all(|&b| b == b'b'));
    assert!(data[4096..].iter().all(|&b| b == b'c'));
    assert_eq!(contents.files[1].path, "HIDDEN.TXT");
    assert_eq!(file_bytes(&iso, &contents.files[1]), b"shh");
}

#[test]
fn unfinished_multi_extent_file_is_refused() {
    let image = hand_built(
        21,
        &[
            record(19, 2048, 0x80, b"BIG.BIN;1"),
            record(20, 5, 0x00, b"OTHER.TXT;1"),
        ],
    );
    let detail = bad_iso_detail(read_bytes(&image));
    assert!(detail.contains("BIG.BIN"), "{detail}");
    let image = hand_built(20, &[record(19, 2048, 0x80, b"BIG.BIN;1")]);
    let detail = bad_iso_detail(read_bytes(&image));
    assert!(detail.contains("BIG.BIN"), "{detail}");
}

#[test]
fn extent_past_the_end_is_refused_naming_the_file() {
    let image = hand_built(
        20,
        &[
            record(19, 10, 0, b"OK.TXT;1"),
            record(19, 4096, 0, b"TOOLONG.BIN;1"),
        ],
    );
    let tmp = tempfile::tempdir().unwrap();
    let iso = tmp.path().join("short.iso");
    std::fs::write(&iso, &image).unwrap();
    let err = read_iso(&iso).unwrap_err();
    assert!(matches!(err, Error::BadIso { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("TOOLONG.BIN"), "{message}");
    assert!(message.contains("past the end"), "{message}");
    assert!(message.contains("short.iso"), "{message}");

    // An image cut right after the last extent it uses is fine, even though
    // its volume size says it is longer.
    let mut image = hand_built(40, &[record(19, 10, 0, b"OK.TXT;1")]);
    image.truncate(19 * SECTOR + 10);
    let contents = read_bytes(&image).unwrap();
    assert_eq!(contents.files[0].path, "OK.TXT");
    assert_eq!(contents.volume_bytes, 40 * SECTOR as u64);
}

#[test]
fn udf_only_image_is_refused_naming_udf() {
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("udf.img");
    File::create(&img).unwrap().set_len(4 << 20).unwrap();
    run(Command::new("mkudffs").arg(&img), "udftools");
    let err = read_iso(&img).unwrap_err();
    assert!(matches!(err, Error::BadIso { .. }), "{err:?}");
    assert!(err.to_string().contains("UDF"), "{err}");

    // The same from a hand-made volume recognition sequence.
    let mut image = vec![0u8; 20 * SECTOR];
    for (sector, id) in [(16, b"BEA01"), (17, b"NSR02"), (18, b"TEA01")] {
        image[sector * SECTOR + 1..sector * SECTOR + 6].copy_from_slice(id);
        image[sector * SECTOR + 6] = 1;
    }
    let detail = bad_iso_detail(read_bytes(&image));
    assert!(detail.contains("UDF"), "{detail}");
}

/// A "UDF bridge" image whose ISO 9660 tree holds only a README (as
/// `oscdimg -u2` makes them) is refused naming UDF; one whose ISO 9660 tree
/// is complete reads normally.
#[test]
fn udf_bridge_with_readme_only_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let readme = dir.path().join("readme");
    std::fs::create_dir(&readme).unwrap();
    std::fs::write(
        readme.join("README.TXT"),
        "This disc contains a UDF file system.",
    )
    .unwrap();
    let iso = dir.path().join("bridge.iso");
    run(
        Command::new("genisoimage")
            .args(["-quiet", "-udf", "-o"])
            .arg(&iso)
            .arg(&readme),
        "genisoimage",
    );
    let detail = bad_iso_detail(read_iso(&iso));
    assert!(
        detail.contains("UDF") && detail.contains("README.TXT"),
        "{detail}"
    );

    let full = dir.path().join("full");
    sample_tree(&full);
    let iso = dir.path().join("full.iso");
    run(
        Command::new("genisoimage")
            .args(["-quiet", "-udf", "-J", "-o"])
            .arg(&iso)
            .arg(&full),
        "genisoimage",
    );
    let contents = read_iso(&iso).unwrap();
    assert!(contents.files.len() > 1);
}

#[test]
fn truncated_and_garbage_inputs_are_refused() {
    let ipxe = std::fs::read(IPXE_ISO)
        .unwrap_or_else(|e| panic!("{IPXE_ISO}: {e}; install the Debian package ipxe"));
    for len in [
        0,
        100,
        2048,
        32 * 1024,
        34 * 1024,
        40_000,
        100_000,
        1_000_000,
    ] {
        let detail = bad_iso_detail(read_bytes(&ipxe[..len]));
        assert!(!detail.is_empty());
    }
    let detail = bad_iso_detail(read_bytes(&ipxe[..1_000_000]));
    assert!(detail.contains("past the end"), "{detail}");

    let mut state = 0x1234_5678_9ABC_DEF1u64;
    let garbage: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let detail = bad_iso_detail(read_bytes(&garbage));
    assert_eq!(detail, "no ISO 9660 volume descriptor at sector 16");
    bad_iso_detail(read_bytes(&[0u8; 40 * 1024]));

    // Random bytes over the directory area of a real image: errors or a
    // result, never a panic.
    for round in 0..200 {
        let mut image = ipxe.clone();
        for _ in 0..1 + round % 16 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = 16 * SECTOR + (state as usize >> 8) % (24 * SECTOR);
            image[at] = state as u8;
        }
        if let Err(e) = read_bytes(&image) {
            assert!(matches!(e, Error::BadIso { .. }), "{e:?}");
        }
    }
}

#[test]
fn missing_file_is_not_found() {
    let err = read_iso(&PathBuf::from("/nonexistent/dart/image.iso")).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

/// The fuzz seeds (`fuzz/corpus/iso_image/`, images from sector 16 on) are
/// valid images, so the fuzzer starts from inputs that reach every part of
/// the reader.
#[test]
fn fuzz_seeds_are_readable_images() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/iso_image");
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let mut image = vec![0u8; 16 * SECTOR];
        image.extend(std::fs::read(&path).unwrap());
        let result = read_bytes(&image);
        if name == "udf-vrs" {
            assert!(bad_iso_detail(result).contains("UDF"));
        } else {
            let contents = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!contents.files.is_empty(), "{name}");
        }
        seen.insert(name);
    }
    for name in [
        "joliet-rr-eltorito",
        "rock-ridge",
        "plain",
        "genisoimage-rr-moved",
        "multi-extent",
        "udf-vrs",
    ] {
        assert!(seen.contains(name), "missing seed {name}");
    }
}
