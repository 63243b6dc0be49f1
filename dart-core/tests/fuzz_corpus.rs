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
    run_corpus("tool_list", dart_core::tools::fuzz_one);
}

#[test]
fn site_facts_corpus() {
    run_corpus("site_facts", dart_core::plan::fuzz_one);
}

#[test]
fn partition_table_corpus() {
    run_corpus("partition_table", dart_core::partition::fuzz_one);
}
