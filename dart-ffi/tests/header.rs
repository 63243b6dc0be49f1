//! `include/dart.h` must be what cbindgen generates from the current sources.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn checked_in_header_is_current() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let bindings =
        cbindgen::generate_with_config(crate_dir, config).expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = crate_dir.join("include/dart.h");
    if std::env::var_os("DART_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/dart.h");
        return;
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/dart.h is stale; regenerate it with: DART_BLESS=1 cargo test -p dart-ffi --test header"
    );
}
