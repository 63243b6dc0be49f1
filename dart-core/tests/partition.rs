#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The partitioner: round trips, crash safety, independent validators.

use std::process::Command;

use dart_core::disk::fault::FaultyDevice;
use dart_core::disk::{BlockDevice, FileDevice, MemoryDevice};
use dart_core::formats::partition::{
    apply, plan_recovery, read_disk, read_layout, Layout, PartitionKind, RecoveryOptions, Scheme,
    MIB,
};
use proptest::prelude::*;

fn kinds(scheme: Scheme) -> Vec<PartitionKind> {
    match scheme {
        Scheme::Gpt => vec![
            PartitionKind::EfiSystem,
            PartitionKind::BasicData,
            PartitionKind::MicrosoftReserved,
            PartitionKind::WindowsRecovery,
            PartitionKind::LinuxFilesystem,
        ],
        Scheme::Mbr => vec![
            PartitionKind::EfiSystem,
            PartitionKind::BasicData,
            PartitionKind::Fat32,
            PartitionKind::WindowsRecovery,
            PartitionKind::LinuxFilesystem,
        ],
    }
}

fn random_layout(gpt: bool, ss4k: bool, disk_mib: u64, sizes: &[(u64, usize)]) -> Layout {
    let scheme = if gpt { Scheme::Gpt } else { Scheme::Mbr };
    let ss = if ss4k { 4096 } else { 512 };
    let mut layout = Layout::new(scheme, disk_mib * MIB, ss);
    let kinds = kinds(scheme);
    for (i, (kib, k)) in sizes.iter().enumerate() {
        let _ = layout.add(kinds[k % kinds.len()], kib * 1024, &format!("part {i}"));
    }
    if scheme == Scheme::Mbr {
        if let Some(p) = layout.partitions.first_mut() {
            p.bootable = true;
        }
    }
    layout
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn plans_stay_aligned_disjoint_inside_and_round_trip(
        gpt: bool,
        ss4k: bool,
        disk_mib in 3u64..24,
        sizes in proptest::collection::vec((1u64..6000, 0usize..5), 0..8),
    ) {
        let layout = random_layout(gpt, ss4k, disk_mib, &sizes);
        layout.check().unwrap();
        let mut sorted = layout.partitions.clone();
        sorted.sort_by_key(|p| p.start);
        for (i, p) in sorted.iter().enumerate() {
            prop_assert_eq!(p.start % MIB, 0);
            prop_assert!(p.start >= layout.first_usable() && p.end() <= layout.usable_end());
            if let Some(n) = sorted.get(i + 1) {
                prop_assert!(n.start >= p.end());
            }
        }
        let mut disk = MemoryDevice::new((disk_mib * MIB) as usize, layout.sector_size);
        apply(&mut disk, &layout).unwrap();
        prop_assert_eq!(read_layout(&mut disk).unwrap(), layout.clone());
        if gpt {
            // Independent reader: the gpt crate sees the same partitions.
            let cursor = std::io::Cursor::new(disk.into_bytes());
            let lb = if ss4k { gpt::disk::LogicalBlockSize::Lb4096 } else { gpt::disk::LogicalBlockSize::Lb512 };
            let g = gpt::GptConfig::new().writable(false).logical_block_size(lb).open_from_device(cursor).unwrap();
            prop_assert_eq!(g.partitions().len(), layout.partitions.len());
            for p in &layout.partitions {
                let q = &g.partitions()[&p.number];
                prop_assert_eq!(q.first_lba * u64::from(layout.sector_size), p.start);
                prop_assert_eq!(q.part_guid, p.guid);
                prop_assert_eq!(&q.name, &p.name);
            }
        }
    }
}

/// A GPT "Windows" disk: an OS partition and free space after it.
fn os_disk(scheme: Scheme, ss: u32, mib: u64) -> (MemoryDevice, Layout) {
    let mut layout = Layout::new(scheme, mib * MIB, ss);
    layout
        .add(PartitionKind::BasicData, 8 * MIB, "Windows")
        .unwrap();
    let mut disk = MemoryDevice::new((mib * MIB) as usize, ss);
    apply(&mut disk, &layout).unwrap();
    (disk, layout)
}

/// Runs `change` against a device that crashes at every write and flush in
/// turn; after each crash, both "unflushed writes lost" and "unflushed writes
/// kept" disks must read as `old` or `new`. Returns the crash points tested.
fn crash_everywhere(start: &MemoryDevice, old: Option<&Layout>, new: &Layout) -> u64 {
    let mut full = FaultyDevice::new(start.clone());
    apply(&mut full, new).unwrap();
    let ops = full.operations();
    assert!(ops >= 2);
    for k in 0..ops {
        let mut dev = FaultyDevice::new(start.clone());
        dev.crash_at(Some(k));
        assert!(
            apply(&mut dev, new).is_err(),
            "crash at {k} was not reported"
        );
        for image in [dev.image_flushed_only(), dev.image_with_unflushed()] {
            let mut after = MemoryDevice::from_bytes(image, start.sector_size());
            let got = read_disk(&mut after).map(|s| s.layout).ok();
            let ok = got.as_ref() == Some(new)
                || (got.is_some() && got.as_ref() == old)
                || (old.is_none() && got.is_none());
            assert!(ok, "crash at operation {k} of {ops}: disk reads as {got:?}");
        }
    }
    ops
}

#[test]
fn a_crash_at_any_write_or_flush_leaves_the_old_or_the_new_table() {
    let mut points = 0;
    for ss in [512u32, 4096] {
        // Add a recovery partition to GPT and MBR disks.
        for scheme in [Scheme::Gpt, Scheme::Mbr] {
            let (disk, old) = os_disk(scheme, ss, 32);
            let mut new = old.clone();
            new.add(PartitionKind::WindowsRecovery, 4 * MIB, "DaRT Recovery")
                .unwrap();
            points += crash_everywhere(&disk, Some(&old), &new);
        }
        // Re-partition an MBR disk as GPT and a GPT disk as MBR (USB sticks).
        let (mbr_disk, mbr_old) = os_disk(Scheme::Mbr, ss, 32);
        let mut gpt_new = Layout::new(Scheme::Gpt, 32 * MIB, ss);
        gpt_new
            .add(PartitionKind::EfiSystem, 30 * MIB, "DART")
            .unwrap();
        points += crash_everywhere(&mbr_disk, Some(&mbr_old), &gpt_new);
        let (gpt_disk, gpt_old) = os_disk(Scheme::Gpt, ss, 32);
        let mut mbr_new = Layout::new(Scheme::Mbr, 32 * MIB, ss);
        mbr_new.add(PartitionKind::Fat32, 30 * MIB, "").unwrap();
        points += crash_everywhere(&gpt_disk, Some(&gpt_old), &mbr_new);
        // A blank disk.
        let blank = MemoryDevice::new((32 * MIB) as usize, ss);
        points += crash_everywhere(&blank, None, &gpt_new);
    }
    println!("crash points tested: {points} (each checked with and without unflushed writes)");
    assert!(points >= 50);
}

fn write_image(layout: &Layout) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    let mut dev = FileDevice::create(&path, layout.disk_size, layout.sector_size).unwrap();
    apply(&mut dev, layout).unwrap();
    (dir, path)
}

#[test]
fn sgdisk_and_sfdisk_accept_what_we_write() {
    let mut layout = Layout::new(Scheme::Gpt, 64 * MIB, 512);
    layout
        .add(PartitionKind::EfiSystem, 10 * MIB, "EFI")
        .unwrap();
    layout
        .add(PartitionKind::BasicData, 20 * MIB, "Windows")
        .unwrap();
    let rec = layout
        .add(PartitionKind::WindowsRecovery, 10 * MIB, "DaRT Recovery")
        .unwrap();
    layout.partitions[2].attributes =
        dart_core::formats::partition::GptAttributes::WINDOWS_RECOVERY;
    let (_d, path) = write_image(&layout);
    let out = Command::new("sgdisk")
        .arg("-v")
        .arg(&path)
        .output()
        .expect("sgdisk (gdisk package)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("No problems found"),
        "{text}"
    );
    let out = Command::new("sgdisk")
        .args(["-i", &rec.number.to_string()])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_uppercase();
    assert!(
        text.contains("DE94BBA4-06D1-4D40-A16A-BFD50179D6AC"),
        "{text}"
    );
    assert!(text.contains("8000000000000001"), "{text}");

    let mut mbr = Layout::new(Scheme::Mbr, 64 * MIB, 512);
    mbr.add(PartitionKind::Fat32, 30 * MIB, "").unwrap();
    mbr.partitions[0].bootable = true;
    mbr.add(PartitionKind::WindowsRecovery, 10 * MIB, "")
        .unwrap();
    let (_d2, path) = write_image(&mbr);
    let out = Command::new("sfdisk")
        .arg("--dump")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("label: dos"), "{text}");
    assert!(
        text.contains("start=        2048, size=       61440, type=c, bootable"),
        "{text}"
    );
    assert!(text.contains("type=27"), "{text}");
}

#[test]
fn disagreeing_gpt_copies_are_refused() {
    let (mut disk, old) = os_disk(Scheme::Gpt, 512, 32);
    // Write a different table into the backup copy only.
    let mut other = old.clone();
    other.add(PartitionKind::LinuxFilesystem, MIB, "x").unwrap();
    let mut scratch = MemoryDevice::new((32 * MIB) as usize, 512);
    apply(&mut scratch, &other).unwrap();
    let tail = (32 * MIB - 33 * 512) as usize;
    disk.bytes_mut()[tail..].copy_from_slice(&scratch.bytes()[tail..]);
    let before = disk.bytes().to_vec();
    let err = read_layout(&mut disk).unwrap_err().to_string();
    assert!(
        err.contains("primary and backup") && err.contains("nothing was written"),
        "{err}"
    );
    let err = plan_recovery(&mut disk, 2 * MIB, &RecoveryOptions::default()).unwrap_err();
    assert!(err.to_string().contains("corrupt GPT"), "{err}");
    assert_eq!(disk.bytes(), &before[..]);
}

#[test]
fn a_damaged_primary_falls_back_to_the_backup() {
    let (mut disk, old) = os_disk(Scheme::Gpt, 512, 32);
    disk.bytes_mut()[512 + 60] ^= 0xFF;
    let state = read_disk(&mut disk).unwrap();
    assert_eq!(state.layout, old);
    assert!(
        state.warnings()[0].contains("checksum"),
        "{:?}",
        state.warnings()
    );
}

#[test]
fn unknown_schemes_are_named() {
    let mut blank = MemoryDevice::new((4 * MIB) as usize, 512);
    let err = read_layout(&mut blank).unwrap_err().to_string();
    assert!(err.contains("unknown partition scheme"), "{err}");
    // A FAT file system written onto the whole disk.
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("floppy.img");
    std::fs::write(&img, vec![0u8; 4 << 20]).unwrap();
    assert!(Command::new("mkfs.fat")
        .arg(&img)
        .output()
        .unwrap()
        .status
        .success());
    let mut dev = FileDevice::open(&img, 512).unwrap();
    let err = read_layout(&mut dev).unwrap_err().to_string();
    assert!(err.contains("file system boot sector"), "{err}");
}

#[test]
fn recovery_plan_uses_free_space_and_names_the_shortfall() {
    let (mut disk, old) = os_disk(Scheme::Gpt, 512, 64);
    let plan = plan_recovery(
        &mut disk,
        10 * MIB,
        &RecoveryOptions {
            size: None,
            headroom: Some(MIB),
        },
    )
    .unwrap();
    assert_eq!(plan.before, old);
    assert_eq!(plan.partition.size, 11 * MIB);
    assert_eq!(plan.partition.start, 9 * MIB);
    assert_eq!(plan.partition.attributes.bits(), 0x8000_0000_0000_0001);
    assert!(plan.to_string().contains("Windows recovery"));
    let err = plan_recovery(&mut disk, 60 * MIB, &RecoveryOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no free region")
            && err.contains("bytes 9437184..")
            && err.contains("nothing was written"),
        "{err}"
    );

    // A BitLocker volume is reported.
    disk.bytes_mut()[(MIB + 3) as usize..(MIB + 11) as usize].copy_from_slice(b"-FVE-FS-");
    let plan = plan_recovery(
        &mut disk,
        10 * MIB,
        &RecoveryOptions {
            size: Some(20 * MIB),
            headroom: None,
        },
    )
    .unwrap();
    assert_eq!(plan.bitlocker, vec![1]);
    assert!(plan.notes.iter().any(|n| n.contains("BitLocker")));
}

#[test]
fn an_interrupted_add_is_resumed_not_refused() {
    let (disk, _old) = os_disk(Scheme::Gpt, 512, 64);
    let mut d = disk.clone();
    let opts = RecoveryOptions {
        size: None,
        headroom: Some(MIB),
    };
    let plan = plan_recovery(&mut d, 10 * MIB, &opts).unwrap();
    // Crash right after the backup header is flushed (writes: array, header).
    let mut dev = FaultyDevice::new(disk);
    dev.crash_at(Some(4));
    assert!(apply(&mut dev, &plan.after).is_err());
    let mut crashed = MemoryDevice::from_bytes(dev.image_flushed_only(), 512);
    assert!(!read_disk(&mut crashed).unwrap().copies_agree());
    let again = plan_recovery(&mut crashed, 10 * MIB, &opts).unwrap();
    assert!(again.resumes_interrupted);
    assert_eq!(again.after, plan.after);
    apply(&mut crashed, &again.after).unwrap();
    assert_eq!(read_layout(&mut crashed).unwrap(), plan.after);
}

#[test]
fn existing_tables_keep_their_disk_identity() {
    let (mut disk, old) = os_disk(Scheme::Mbr, 512, 16);
    let layout = read_layout(&mut disk).unwrap();
    assert_eq!(layout.mbr_signature, old.mbr_signature);
    assert!(disk.len() == 16 * MIB);
}
