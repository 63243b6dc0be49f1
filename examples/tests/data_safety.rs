#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The command line never loses the user's data: an output may not be its
//! own input, a closed stdout or stderr does not stop (or break) a write, a
//! failed or interrupted write leaves no partial file, and an impossible
//! size creates nothing.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

fn dart() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dart"))
}

fn run(args: &[&str]) -> Output {
    dart().args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn sha(path: &Path) -> [u8; 32] {
    Sha256::digest(fs::read(path).unwrap()).into()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every entry of `dir` (names), sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A synthetic media set (no GRUB needed) and an ISO of it.
fn media_and_iso(dir: &Path) -> (PathBuf, PathBuf) {
    let fx = dir.join("fx");
    let out = run(&["fixture", s(&fx), "--no-grub", "--base-bytes", "1048576"]);
    assert!(out.status.success(), "{}", text(&out));
    let media = fx.join("media");
    let iso = dir.join("in.iso");
    let out = run(&[
        "media",
        "iso",
        "--media",
        s(&media),
        "-o",
        s(&iso),
        "--timestamp",
        "1700000000",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    (media, iso)
}

#[test]
fn an_output_is_never_its_own_input() {
    let dir = tempfile::tempdir().unwrap();
    let (_, iso) = media_and_iso(dir.path());
    let before = sha(&iso);
    let alias = dir.path().join("alias.iso");
    fs::hard_link(&iso, &alias).unwrap();
    for args in [
        vec!["bmap", "create", s(&iso), "-o", s(&iso)],
        vec!["media", "iso", "--media", s(&iso), "-o", s(&iso)],
        vec!["media", "iso", "--media", s(&iso), "-o", s(&alias)],
        vec!["media", "usb", "--media", s(&iso), "--device", s(&iso)],
        vec!["flash", s(&iso), s(&alias)],
    ] {
        let out = run(&args);
        let said = text(&out);
        assert!(!out.status.success(), "{args:?} succeeded: {said}");
        assert!(
            said.contains("in.iso") && said.contains("nothing was written"),
            "{args:?}: {said}"
        );
        assert_eq!(sha(&iso), before, "{args:?} changed its input");
    }
    assert_eq!(
        listing(dir.path()),
        ["alias.iso", "fx", "in.iso"],
        "partial files left"
    );
}

#[test]
fn a_closed_stdout_or_stderr_does_not_break_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let (media, iso) = media_and_iso(dir.path());
    let out_iso = dir.path().join("out.iso");
    let target = dir.path().join("stick.img");
    // Zeros, so that the ranges flash skips (the image's holes) match too.
    fs::write(
        &target,
        vec![0u8; fs::metadata(&iso).unwrap().len() as usize],
    )
    .unwrap();
    for args in [
        vec![
            "media",
            "iso",
            "--media",
            s(&media),
            "-o",
            s(&out_iso),
            "--timestamp",
            "1700000000",
        ],
        vec!["flash", s(&iso), s(&target), "--verify"],
    ] {
        // Both pipes closed before the command prints anything, as with
        // `dart ... 2>&1 | head -0`.
        let mut child = dart()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert!(status.success(), "{args:?} ended with {status}");
    }
    assert_eq!(
        sha(&out_iso),
        sha(&iso),
        "the ISO built with closed pipes differs"
    );
    assert_eq!(
        sha(&target),
        sha(&iso),
        "the flashed target differs from the image"
    );
    assert_eq!(
        listing(dir.path()),
        ["fx", "in.iso", "out.iso", "stick.img"],
        "partial files left"
    );
}

#[test]
fn an_interrupted_flash_stops_at_a_safe_point_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // 256 MiB of data: the write runs long after its first progress line.
    let image = dir.path().join("big.img");
    let mut data = vec![0u8; 256 << 20];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    fs::write(&image, &data).unwrap();
    drop(data);
    let target = dir.path().join("new-stick.img");
    let mut child = dart()
        .args(["flash", s(&image), s(&target)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    // The first progress line: the write has begun.
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no progress: {said}"
        );
        said.push_str(&line);
        if line.contains('%') {
            break;
        }
    }
    // SAFETY: kill(2) on the child this test spawned and has not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    said.push_str(&rest);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{said}");
    assert!(
        said.contains("interrupted") && said.contains("cancelled"),
        "{said}"
    );
    assert!(
        !target.exists(),
        "the new image file was left behind: {said}"
    );
    assert_eq!(listing(dir.path()), ["big.img"], "{said}");
}

#[test]
fn an_impossible_size_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (media, _) = media_and_iso(dir.path());
    let img = dir.path().join("huge.img");
    let out = run(&[
        "media",
        "usb",
        "--media",
        s(&media),
        "-o",
        s(&img),
        "--size",
        "99999T",
    ]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(!img.exists(), "{said}");
    assert_eq!(listing(dir.path()), ["fx", "in.iso"], "{said}");
}
