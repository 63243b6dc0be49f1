#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `dart export`: `--dry-run` prints the plan and writes nothing, `--json`
//! is machine-readable, the tree is written with a manifest, and a second
//! export into the same directory is refused without touching it.

mod common;

use common::{dart, text};

#[test]
fn export_plans_writes_and_refuses_a_used_directory() {
    let dir = tempfile::tempdir().unwrap();
    let at = |p: &str| dir.path().join(p).to_str().unwrap().to_string();
    let out = dart(&["fixture", &at("fx")]);
    assert!(out.status.success(), "{}", text(&out));
    let out = dart(&[
        "stage",
        "--media",
        &at("fx/media"),
        "--root",
        &at("root"),
        "--name",
        "rescue",
    ]);
    assert!(out.status.success(), "{}", text(&out));

    let out = dart(&[
        "export",
        "--root",
        &at("root"),
        "--to",
        &at("web"),
        "--dry-run",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("class default"), "{shown}");
    assert!(
        shown.contains("dart/classes/default/x64-uefi.ipxe"),
        "{shown}"
    );
    assert!(shown.contains("nothing was written"), "{shown}");
    assert!(!dir.path().join("web").exists());

    let out = dart(&[
        "export",
        "--root",
        &at("root"),
        "--to",
        &at("web"),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = std::fs::read(dir.path().join("web/dart-export.json")).unwrap();
    let sha = dart_core::write::bmap::hex(&<sha2::Sha256 as sha2::Digest>::digest(&manifest));
    assert_eq!(report["manifest_sha256"], sha.as_str());

    let out = dart(&["export", "--root", &at("root"), "--to", &at("web")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not empty"), "{}", text(&out));
    assert!(text(&out).contains("nothing was written"), "{}", text(&out));
    assert_eq!(
        std::fs::read(dir.path().join("web/dart-export.json")).unwrap(),
        manifest
    );

    let out = dart(&[
        "export",
        "--root",
        &at("root"),
        "--to",
        &at("private"),
        "--role",
        "imaging",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no imaging image"), "{}", text(&out));
    assert!(!dir.path().join("private").exists());
}
