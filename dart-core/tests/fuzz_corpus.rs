//! Runs every fuzz target's seed corpus (`fuzz/corpus/<target>/`) on stable,
//! so the test command exercises each target without nightly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

fn run_corpus(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        f(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n > 0, "empty corpus for {target}");
}

#[test]
fn wim_header_corpus() {
    run_corpus("wim_header", dart_core::image::header::fuzz_one);
}

#[test]
fn tool_list_corpus() {
    run_corpus("tool_list", dart_core::model::tools::fuzz_one);
}

#[test]
fn site_facts_corpus() {
    run_corpus("site_facts", dart_core::plan::fuzz_one);
}

#[test]
fn partition_table_corpus() {
    run_corpus("partition_table", dart_core::formats::partition::fuzz_one);
}

#[test]
fn fat_volume_corpus() {
    run_corpus("fat_volume", dart_core::formats::fat::fuzz_one);
}

#[test]
fn iso_image_corpus() {
    run_corpus("iso_image", dart_core::formats::iso::read::fuzz_one);
}

#[test]
fn bmap_file_corpus() {
    run_corpus("bmap_file", dart_core::write::bmap::fuzz_one);
}

#[test]
fn tftp_packet_corpus() {
    run_corpus("tftp_packet", dart_core::net::tftp::packet::fuzz_one);
}

#[test]
fn dhcp_packet_corpus() {
    run_corpus("dhcp_packet", dart_core::net::dhcp::packet::fuzz_one);
}

/// A small stable-Rust stand-in for the fuzzer: random byte flips of the
/// seeds of the disk and ISO parsers must never panic or hang.
#[test]
fn mutated_disk_structures_are_handled() {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (target, f) in [
        (
            "fat_volume/mkfs-mcopy",
            dart_core::formats::fat::fuzz_one as fn(&[u8]),
        ),
        (
            "partition_table/gpt",
            dart_core::formats::partition::fuzz_one,
        ),
        (
            "partition_table/mbr",
            dart_core::formats::partition::fuzz_one,
        ),
        (
            "iso_image/joliet-rr-eltorito",
            dart_core::formats::iso::read::fuzz_one,
        ),
        (
            "iso_image/multi-extent",
            dart_core::formats::iso::read::fuzz_one,
        ),
        (
            "bmap_file/bmaptool-3.6.bmap",
            dart_core::write::bmap::fuzz_one,
        ),
        (
            "uefi_vars/ovmf-authenticated",
            dart_core::formats::uefi::fuzz_one,
        ),
        (
            "uefi_vars/load-option-gpt",
            dart_core::formats::uefi::fuzz_one,
        ),
    ] {
        let seed = std::fs::read(root.join(target)).unwrap();
        for _ in 0..150 {
            let mut data = seed.clone();
            for _ in 0..1 + next() % 8 {
                let i = (next() % data.len() as u64) as usize;
                data[i] = next() as u8;
            }
            f(&data);
        }
    }
}

#[test]
fn bcd_store_corpus() {
    run_corpus("bcd_store", dart_core::formats::bcd::fuzz_one);
}

#[test]
fn boot_manager_signature_corpus() {
    run_corpus(
        "boot_manager_signature",
        dart_core::formats::authenticode::fuzz_one,
    );
}

#[test]
fn uefi_vars_corpus() {
    run_corpus("uefi_vars", dart_core::formats::uefi::fuzz_one);
}
