#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `LinuxBlockDevice`, `open_target` and the safety checks against real
//! block devices: loop devices created by each test (`losetup --find`), and
//! the disk holding `/`.
//!
//! These tests need root and util-linux (`losetup`, `mount`); without them
//! they fail with a message saying so, unless `DART_SKIP_ROOT_TESTS=1` is
//! set, in which case they print that they were skipped and pass.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use dart_core::disk::linux::LinuxBlockDevice;
use dart_core::disk::safety::check_writable;
use dart_core::disk::{open_read, open_target, AlignedBuf, BlockDevice, TargetSpec};
use dart_core::Error;

use common::*;
use dart_testkit as common;

/// A file of `len` bytes holding a pattern that differs in every sector.
fn patterned_file(path: &Path, len: usize) -> Vec<u8> {
    let bytes: Vec<u8> = (0..len).map(|i| ((i / 512) as u8) ^ (i as u8)).collect();
    fs::write(path, &bytes).unwrap();
    bytes
}

// ---------------------------------------------------------------------------
// (a) reads and writes through LinuxBlockDevice

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn round_trip(sector: u32) {
    let test = format!("round_trip_{sector}");
    if !ready(&test, &[&["losetup"]]) {
        return;
    }
    const LEN: usize = 8 << 20;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("disk.img");
    let mut model = patterned_file(&file, LEN);
    let lp = Loop::attach(&file, &["--sector-size", &sector.to_string()]);

    // An idle loop device passes the safety checks, also through a symlink.
    check_writable(&lp.dev).unwrap();
    let link = dir.path().join("by-id-link");
    std::os::unix::fs::symlink(&lp.dev, &link).unwrap();
    check_writable(&link).unwrap();

    let mut dev = LinuxBlockDevice::open_writable(&lp.dev).unwrap();
    assert_eq!(dev.len(), LEN as u64);
    assert_eq!(dev.sector_size(), sector);
    assert!(dev.is_writable());

    let ss = sector as usize;
    let mut cases: Vec<(usize, usize)> = vec![
        (0, ss),       // one aligned sector
        (ss, 4 << 20), // 4 MiB aligned: the fast path
        (1, 1),        // one byte inside a sector
        (ss - 1, 2),   // across a sector boundary
        (1000, 3000),  // unaligned both ends
        (3 * ss + 17, 70_000),
        (LEN - 1, 1), // last byte
        (LEN - ss - 5, ss + 5),
        (7, (1 << 20) + 3 * ss), // longer than one bounce buffer
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ u64::from(sector));
    for _ in 0..150 {
        let off = rng.below(LEN as u64) as usize;
        let n = 1 + rng.below(((LEN - off) as u64).min(3 * 4096 + 100)) as usize;
        cases.push((off, n));
    }

    for (i, &(off, n)) in cases.iter().enumerate() {
        let data: Vec<u8> = (0..n)
            .map(|j| (j as u8).wrapping_mul(31) ^ (i as u8))
            .collect();
        if i % 2 == 0 {
            // An aligned buffer: offset and length decide the path.
            let mut buf = AlignedBuf::new(n);
            buf.copy_from_slice(&data);
            dev.write_at(off as u64, &buf).unwrap();
        } else {
            // A buffer one byte into a vector: never aligned in memory.
            let mut holder = vec![0u8; n + 1];
            holder[1..].copy_from_slice(&data);
            dev.write_at(off as u64, &holder[1..]).unwrap();
        }
        model[off..off + n].copy_from_slice(&data);

        let mut back = AlignedBuf::new(n);
        dev.read_at(off as u64, &mut back).unwrap();
        assert_eq!(&back[..], &data[..], "read back {n} bytes at {off}");
    }
    dev.flush().unwrap();

    // The backing file, read independently of the device, holds exactly the model.
    let on_disk = fs::read(&file).unwrap();
    assert_eq!(on_disk.len(), LEN);
    if let Some(first) = on_disk.iter().zip(&model).position(|(a, b)| a != b) {
        panic!("backing file differs from the expected contents at byte {first}");
    }

    // Reads at awkward places through the device agree with the file.
    for &(off, n) in &[(0usize, LEN), (5, 9), (ss + 3, 3 * ss), (LEN - 100, 100)] {
        let mut buf = vec![0u8; n + 1];
        dev.read_at(off as u64, &mut buf[1..]).unwrap();
        assert!(
            buf[1..] == on_disk[off..off + n],
            "reading {n} bytes at {off}"
        );
    }

    // Requests past the end fail and name the device.
    let err = dev.read_at(LEN as u64 - 1, &mut [0u8; 2]).unwrap_err();
    assert!(err.to_string().contains(lp.path()), "{err}");
    let err = dev.write_at(LEN as u64, b"x").unwrap_err();
    assert!(err.to_string().contains(lp.path()), "{err}");
    drop(dev);

    // open_target accepts the idle device (through the symlink too); open_read is read-only.
    let dev = open_target(&link, &TargetSpec::default()).unwrap();
    assert_eq!((dev.len(), dev.sector_size()), (LEN as u64, sector));
    drop(dev);
    let mut dev = open_read(&lp.dev).unwrap();
    assert_eq!((dev.len(), dev.sector_size()), (LEN as u64, sector));
    let mut head = [0u8; 10];
    dev.read_at(3, &mut head).unwrap();
    assert_eq!(&head[..], &model[3..13]);
    assert!(
        dev.write_at(0, b"x").is_err(),
        "a read-only device accepted a write"
    );
    drop(dev);

    // A size for a block device is a setting error.
    let spec = TargetSpec {
        create_len: Some(1 << 20),
        ..TargetSpec::default()
    };
    let err = open_target(&lp.dev, &spec).err().unwrap();
    assert!(matches!(err, Error::InvalidSetting { .. }), "{err}");
    assert!(
        fs::read(&file).unwrap() == model,
        "a refused open changed the device"
    );
}

#[test]
fn round_trip_512_byte_sectors() {
    round_trip(512);
}

#[test]
fn round_trip_4096_byte_sectors() {
    round_trip(4096);
}

// ---------------------------------------------------------------------------
// (b) a mounted device is refused

fn expect_refusal(err: Option<Error>, device: &Path, needles: &[&str]) -> String {
    let err = err.unwrap_or_else(|| panic!("{} was opened for writing", device.display()));
    assert!(matches!(err, Error::UnsafeTarget { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("refusing to write to {}:", device.display())),
        "{msg}"
    );
    assert!(msg.ends_with("nothing was written"), "{msg}");
    for needle in needles {
        assert!(msg.contains(needle), "{msg:?} does not name {needle:?}");
    }
    msg
}

#[test]
fn mounted_device_is_refused() {
    if !ready(
        "mounted_device_is_refused",
        &[
            &["losetup"],
            &["mount"],
            &["umount"],
            &["mkfs.fat", "mkfs.ext2"],
        ],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fat.img");
    fs::File::create(&file).unwrap().set_len(32 << 20).unwrap();
    let lp = Loop::attach(&file, &[]);
    let mnt = dir.path().join("mnt");
    let mount = mkfs_and_mount(lp.path(), &mnt);
    settle(&mount);
    let mnt_text = mnt.to_str().unwrap();
    let before = sha256_file(&file);

    let msg = expect_refusal(
        open_target(&lp.dev, &TargetSpec::default()).err(),
        &lp.dev,
        &[&format!("it is mounted at {mnt_text}")],
    );
    eprintln!("{msg}");

    // Through a symlink (as /dev/disk/by-id/... is) the refusal names the link.
    let link = dir.path().join("usb-link");
    std::os::unix::fs::symlink(&lp.dev, &link).unwrap();
    expect_refusal(check_writable(&link).err(), &link, &[mnt_text]);
    expect_refusal(
        open_target(&link, &TargetSpec::default()).err(),
        &link,
        &[mnt_text],
    );

    assert_eq!(sha256_file(&file), before, "the refused device was changed");
    drop(mount);
    drop(lp);
}

// ---------------------------------------------------------------------------
// (c) a device with a mounted partition is refused, naming the partition

/// An MBR with one FAT32 (LBA) partition of `count` sectors at `start`.
fn write_mbr(file: &Path, start: u32, count: u32) {
    let mut mbr = [0u8; 512];
    mbr[440..444].copy_from_slice(&0x0da7_0001u32.to_le_bytes());
    let entry = &mut mbr[446..462];
    entry[0] = 0x00; // not active
    entry[1..4].copy_from_slice(&[0xfe, 0xff, 0xff]);
    entry[4] = 0x0c; // FAT32 LBA
    entry[5..8].copy_from_slice(&[0xfe, 0xff, 0xff]);
    entry[8..12].copy_from_slice(&start.to_le_bytes());
    entry[12..16].copy_from_slice(&count.to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    let f = fs::OpenOptions::new().write(true).open(file).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &mbr, 0).unwrap();
}

#[test]
fn device_with_mounted_partition_is_refused() {
    if !ready(
        "device_with_mounted_partition_is_refused",
        &[
            &["losetup"],
            &["mount"],
            &["umount"],
            &["mkfs.fat", "mkfs.ext2"],
        ],
    ) {
        return;
    }
    const START: u32 = 2048;
    const COUNT: u32 = 16 << 11; // 16 MiB
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parted.img");
    fs::File::create(&file)
        .unwrap()
        .set_len(u64::from(START + COUNT) * 512 + (1 << 20))
        .unwrap();
    write_mbr(&file, START, COUNT);
    let lp = Loop::attach(&file, &["-P"]);
    let part_name = format!("{}p1", lp.name());
    let part_sys = PathBuf::from(format!("/sys/class/block/{}/{part_name}", lp.name()));
    let part_dev = PathBuf::from(format!("/dev/{part_name}"));

    // The kernel reads the MBR itself when built with MSDOS_PARTITION; a
    // kernel without partition table support still takes partitions by the
    // BLKPG ioctl, which addpart issues.
    if !wait_for("the kernel to scan the partition table", 2, || {
        part_sys.exists()
    }) {
        assert!(
            have_tool("addpart"),
            "{part_name} did not appear after losetup -P and addpart is not installed"
        );
        run(
            "addpart",
            &[lp.path(), "1", &START.to_string(), &COUNT.to_string()],
        );
    }
    assert!(
        wait_for("the partition's device node", 5, || part_dev.exists()),
        "{} did not appear",
        part_dev.display()
    );

    let mnt = dir.path().join("mnt p1"); // a space: mountinfo escapes it
    let mount = mkfs_and_mount(part_dev.to_str().unwrap(), &mnt);
    settle(&mount);
    let before = sha256_file(&file);

    let mnt_text = mnt.to_str().unwrap();
    let msg = expect_refusal(
        open_target(&lp.dev, &TargetSpec::default()).err(),
        &lp.dev,
        &[&format!(
            "its partition {part_name} is mounted at {mnt_text}"
        )],
    );
    eprintln!("{msg}");
    // The partition itself is refused too.
    expect_refusal(
        check_writable(&part_dev).err(),
        &part_dev,
        &[&format!("it is mounted at {mnt_text}")],
    );

    assert_eq!(sha256_file(&file), before, "the refused device was changed");
    drop(mount);
    drop(lp);
}

// ---------------------------------------------------------------------------
// (d) the disk under "/" is refused as the running system

/// The block devices under "/", found from sysfs: the device of "/", its
/// disk if it is a partition, and the members of device-mapper and md
/// devices, down to the disks. Returns kernel names.
fn system_devices() -> Vec<String> {
    let mut starts = vec![fs::metadata("/").unwrap().dev()];
    // btrfs gives "/" an anonymous st_dev; its mount source names the device.
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    if let Some(line) = mountinfo
        .lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some("/"))
    {
        let fields: Vec<&str> = line.split(' ').collect();
        if let Some(sep) = fields.iter().position(|f| *f == "-") {
            if let Some(meta) = fields.get(sep + 2).and_then(|s| fs::metadata(s).ok()) {
                if meta.rdev() != 0 {
                    starts.push(meta.rdev());
                }
            }
        }
    }
    let mut names = Vec::new();
    let mut todo: Vec<PathBuf> = starts
        .into_iter()
        .map(|d| {
            PathBuf::from(format!(
                "/sys/dev/block/{}:{}",
                libc::major(d),
                libc::minor(d)
            ))
        })
        .collect();
    while let Some(p) = todo.pop() {
        let Ok(sys) = fs::canonicalize(&p) else {
            continue;
        };
        let name = sys.file_name().unwrap().to_string_lossy().into_owned();
        if names.contains(&name) {
            continue;
        }
        names.push(name);
        if sys.join("partition").exists() {
            todo.push(sys.parent().unwrap().to_path_buf());
        }
        if let Ok(slaves) = fs::read_dir(sys.join("slaves")) {
            todo.extend(slaves.map(|s| s.unwrap().path()));
        }
    }
    names
}

#[test]
fn system_disk_is_refused() {
    // Reading sysfs and /proc needs no root, and nothing is ever written.
    let names = system_devices();
    if names.is_empty() {
        eprintln!("SKIPPED system_disk_is_refused: / is not on a block device here");
        return;
    }
    let mut checked = 0;
    for name in &names {
        let dev = PathBuf::from(format!("/dev/{name}"));
        if !dev.exists() {
            eprintln!("no device node {}; not checked", dev.display());
            continue;
        }
        let msg = expect_refusal(check_writable(&dev).err(), &dev, &["running system"]);
        eprintln!("{msg}");
        expect_refusal(
            open_target(&dev, &TargetSpec::default()).err(),
            &dev,
            &["running system", name],
        );
        checked += 1;
    }
    assert!(checked > 0, "no device node for any of {names:?}");
}
