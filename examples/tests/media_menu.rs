#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `dart media usb|iso --image` and `dart media check` from the command
//! line: a menu medium is written and checks clean; a medium whose store
//! names a WIM that is not on it fails the check with the entry's name, and
//! a bad `--image` writes nothing.

use std::path::Path;
use std::process::{Command, Output};

fn dart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dart"))
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_menu_medium_is_written_and_a_broken_one_fails_the_check_by_entry() {
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("fx");
    let out = dart(&[
        "fixture",
        s(&fx),
        "--base-bytes",
        "1048576",
        "--payload-bytes",
        "4096",
        "--no-grub",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let media = fx.join("media");
    let wim = media.join("sources/boot.wim");
    let a = format!("Level A={}", s(&wim));
    let b = format!("Level B={}", s(&wim));
    let iso = dir.path().join("menu.iso");
    let out = dart(&[
        "media",
        "iso",
        "--media",
        s(&media),
        "-o",
        s(&iso),
        "--image",
        &a,
        "--image",
        &b,
        "--default",
        "Level B",
        "--timeout",
        "3",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("menu: Level B [default] -> \\sources\\level-b.wim"),
        "{said}"
    );
    // The written ISO checks clean as media (its WIMs are inside the ISO).
    let out = dart(&["media", "check", s(&iso), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["stores"][0]["entries"].as_array().unwrap().len(),
        2,
        "{report}"
    );

    // A default that is not an image: refused, nothing written.
    let never = dir.path().join("never.iso");
    let out = dart(&[
        "media",
        "iso",
        "--media",
        s(&media),
        "-o",
        s(&never),
        "--image",
        &a,
        "--default",
        "Level C",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("Level C"), "{}", text(&out));
    assert!(!never.exists());

    // Break the media: the store names a WIM that is not there.
    std::fs::rename(&wim, media.join("sources/moved.wim")).unwrap();
    let out = dart(&["media", "check", s(&media)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("entry \"Windows Setup\"") && said.contains("0xc000000f"),
        "{said}"
    );
}
