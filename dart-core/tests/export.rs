#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `dart export`: a server root as a static tree. nginx serves it and curl
//! fetches every file byte-identical to the manifest's SHA-256 (and
//! `sha256sum -c` agrees); recovery and imaging images never share an
//! export; the class stores read the same with libhivex and list exactly
//! what the class may boot; refusals write nothing.

use dart_testkit as common;

use std::path::Path;

use dart_core::deploy::stage::{stage, StageOptions};
use dart_core::formats::bcd::Store;
use dart_core::model::media::MediaSet;
use dart_core::net::export::{export, plan_export, ExportOptions, MANIFEST_FILE, SUMS_FILE};
use dart_core::net::{AccessPolicy, ImageRole};
use dart_core::progress::Control;
use dart_testkit::nginx::{Listen, Nginx};

fn policy() -> AccessPolicy {
    AccessPolicy::from_json(
        r#"{"rules": [{"name": "Imaging Bench", "mac": "52:54:00:00:00:0a", "allow": "all", "boot": "deploy"}]}"#,
    )
    .unwrap()
}

/// A root with a recovery image, an imaging image, wimboot, and the files
/// a server keeps beside them (catalog, client database).
fn root_with_both_roles(dir: &Path) -> std::path::PathBuf {
    let media = MediaSet::open(common::bootable_media(&dir.join("fixture"))).unwrap();
    let root = dir.join("root");
    std::fs::create_dir(&root).unwrap();
    let control = Control::default();
    stage(&media, &root, &StageOptions::recovery("rescue"), &control).unwrap();
    let imaging = StageOptions {
        role: ImageRole::Imaging,
        ..StageOptions::recovery("deploy")
    };
    stage(&media, &root, &imaging, &control).unwrap();
    std::fs::create_dir_all(root.join("dart")).unwrap();
    std::fs::write(root.join("dart/wimboot"), b"stand-in wimboot").unwrap();
    std::fs::write(root.join("dart-clients.db"), b"not for export").unwrap();
    root
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join(MANIFEST_FILE)).unwrap()).unwrap()
}

fn paths(manifest: &serde_json::Value) -> Vec<String> {
    manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

fn descriptions(store: &Store) -> Vec<String> {
    store
        .display_order()
        .into_iter()
        .map(|id| store.object(id).unwrap().description.clone().unwrap())
        .collect()
}

#[test]
fn an_export_is_served_byte_identical_by_nginx_and_keeps_roles_apart() {
    if !common::ready(
        "an_export_is_served_byte_identical_by_nginx_and_keeps_roles_apart",
        &[
            &["nginx", "-v"],
            &["curl", "--version"],
            &["sha256sum", "--version"],
        ],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = root_with_both_roles(dir.path());
    let public = dir.path().join("public");
    let options = ExportOptions {
        role: ImageRole::Recovery,
        base_url: None,
        policy: policy(),
    };
    let plan = plan_export(&root, &public, &options).unwrap();
    assert!(!public.exists(), "planning wrote something");
    let report = export(&plan, &Control::default()).unwrap();
    assert_eq!(report.files, plan.files.len() + 2);

    // What is in it: the recovery image only, the classes' files, nothing
    // of the server's own state.
    let m = manifest(&public);
    let files = paths(&m);
    assert!(files
        .iter()
        .any(|p| p == "images/rescue/1/sources/boot.wim"));
    assert!(files.iter().any(|p| p == "dart/wimboot"));
    assert!(
        !files
            .iter()
            .any(|p| p.contains("deploy") || p.contains("clients")),
        "{files:#?}"
    );
    // Its catalog lists the exported image only: the tree is a server root.
    let catalog = dart_core::net::Catalog::load(&public).unwrap();
    let names: Vec<&str> = catalog.images.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["rescue"]);
    let classes: Vec<&str> = m["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["imaging-bench", "default"]);

    // Independent checks: sha256sum, libhivex, and nginx + curl.
    let sums = std::process::Command::new("sha256sum")
        .args(["-c", "--quiet", SUMS_FILE])
        .current_dir(&public)
        .output()
        .unwrap();
    assert!(sums.status.success(), "{sums:?}");
    for class in ["imaging-bench", "default"] {
        let file = public.join(format!("dart/classes/{class}/x64-uefi.bcd"));
        let bytes = std::fs::read(&file).unwrap();
        let store = Store::parse(&bytes, &file).unwrap();
        assert_eq!(
            common::hivex::hivex_dump(&file),
            common::hivex::dart_dump(store.hive())
        );
        assert_eq!(descriptions(&store), ["rescue"], "{class}");
        let script =
            std::fs::read_to_string(public.join(format!("dart/classes/{class}/x64-uefi.ipxe")))
                .unwrap();
        assert!(script.contains("kernel ../../../dart/wimboot"), "{script}");
        assert!(
            script.contains("initrd ../../../images/rescue/1/sources/boot.wim boot.wim"),
            "{script}"
        );
        assert!(!script.contains("deploy"), "{script}");
    }
    let nginx = Nginx::start(&public, Listen::UnixSocket).unwrap();
    let socket = nginx.socket().unwrap().to_str().unwrap().to_string();
    for f in m["files"].as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        let (status, body) =
            common::http::curl(&["--unix-socket", &socket, &format!("http://export/{path}")]);
        assert_eq!(status, 200, "{path}");
        assert_eq!(body.len() as u64, f["size"].as_u64().unwrap(), "{path}");
        assert_eq!(
            dart_core::write::bmap::hex(&sha2_digest(&body)),
            f["sha256"].as_str().unwrap(),
            "{path}"
        );
        if !path.starts_with("dart/classes/") && path != dart_core::net::catalog::CATALOG_FILE {
            assert_eq!(body, std::fs::read(root.join(path)).unwrap(), "{path}");
        }
    }

    // The imaging export: the imaging image only; the default class (which
    // may boot recovery images only) is left out and says so.
    let private = dir.path().join("private");
    let imaging = ExportOptions {
        role: ImageRole::Imaging,
        base_url: Some("https://imaging.example.org/dart/".into()),
        policy: policy(),
    };
    let plan = plan_export(&root, &private, &imaging).unwrap();
    assert_eq!(plan.classes.len(), 1);
    assert_eq!(plan.skipped.len(), 1, "{:?}", plan.skipped);
    assert!(plan.skipped[0].contains("default"), "{:?}", plan.skipped);
    export(&plan, &Control::default()).unwrap();
    let files = paths(&manifest(&private));
    assert!(files
        .iter()
        .any(|p| p == "images/deploy/1/sources/boot.wim"));
    assert!(!files.iter().any(|p| p.contains("rescue")), "{files:#?}");
    let script =
        std::fs::read_to_string(private.join("dart/classes/imaging-bench/x64-uefi.ipxe")).unwrap();
    assert!(
        script.contains("initrd https://imaging.example.org/dart/images/deploy/1/sources/boot.wim"),
        "{script}"
    );
}

fn sha2_digest(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

#[test]
fn refused_exports_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_with_both_roles(dir.path());
    let options = ExportOptions {
        role: ImageRole::Recovery,
        base_url: None,
        policy: policy(),
    };
    let listing = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let before = listing(dir.path());
    // Into the root, or around it.
    let e = plan_export(&root, &root.join("export"), &options).unwrap_err();
    assert!(e.to_string().contains("must not hold one another"), "{e}");
    let e = plan_export(&root, dir.path(), &options).unwrap_err();
    assert!(e.to_string().contains("must not hold one another"), "{e}");
    // Into a directory that holds something.
    let full = dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("keep"), b"mine").unwrap();
    let e = plan_export(&root, &full, &options).unwrap_err();
    assert!(e.to_string().contains("not empty"), "{e}");
    assert_eq!(listing(&full), ["keep"]);
    // A base URL a script cannot hold.
    let bad = ExportOptions {
        base_url: Some("http://x/${evil}".into()),
        ..options.clone()
    };
    let e = plan_export(&root, &dir.path().join("out"), &bad).unwrap_err();
    assert!(e.to_string().contains("base URL"), "{e}");
    // A role with nothing staged.
    let empty_root = dir.path().join("empty");
    std::fs::create_dir(&empty_root).unwrap();
    let e = plan_export(&empty_root, &dir.path().join("out"), &options).unwrap_err();
    assert!(e.to_string().contains("no recovery image"), "{e}");
    // A symbolic link planted among the staged files.
    std::os::unix::fs::symlink("/etc/passwd", root.join("images/rescue/1/passwd")).unwrap();
    let e = plan_export(&root, &dir.path().join("out"), &options).unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    std::fs::remove_file(root.join("images/rescue/1/passwd")).unwrap();
    // Cancelled midway: nothing left, not even the partial tree.
    let plan = plan_export(&root, &dir.path().join("out"), &options).unwrap();
    let control = Control::default();
    control.cancel.cancel();
    let e = export(&plan, &control).unwrap_err();
    assert_eq!(e.kind(), dart_core::ErrorKind::Cancelled, "{e}");
    let mut after = before.clone();
    after.extend(["empty".to_string(), "full".to_string()]);
    after.sort();
    assert_eq!(listing(dir.path()), after);
    // An empty directory is fine, and replaced by the tree.
    let empty_out = dir.path().join("out");
    std::fs::create_dir(&empty_out).unwrap();
    export(
        &plan_export(&root, &empty_out, &options).unwrap(),
        &Control::default(),
    )
    .unwrap();
    assert!(empty_out.join(MANIFEST_FILE).exists());
}
