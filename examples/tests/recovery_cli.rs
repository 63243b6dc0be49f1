#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `dart partition add-recovery --register --uefi-entry`, `boot-next`,
//! `register-recovery`, `unregister-recovery` on a stand-in installed PC
//! (`dart fixture --installed-disk`) and a copy of OVMF's variable file: dry
//! runs and refusals leave both files byte-identical, a re-run changes
//! nothing, unregistering removes what was added.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

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

fn ok(args: &[&str]) -> String {
    let out = dart(args);
    assert!(out.status.success(), "dart {args:?}: {}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The bytes of both files, to compare before and after.
fn state(disk: &Path, vars: &Path) -> (Vec<u8>, Vec<u8>) {
    (fs::read(disk).unwrap(), fs::read(vars).unwrap())
}

#[test]
fn a_managed_pc_gets_its_entries_once_and_loses_exactly_them() {
    let dir = tempfile::tempdir().unwrap();
    let fx = dir.path().join("fx");
    let disk = dir.path().join("pc.img");
    let vars = dir.path().join("pc-vars.fd");
    ok(&[
        "fixture",
        s(&fx),
        "--base-bytes",
        "1048576",
        "--payload-bytes",
        "16384",
        "--no-grub",
        "--installed-disk",
    ]);
    fs::copy(fx.join("installed-gpt.img"), &disk).unwrap();
    fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars).unwrap();
    let media = fx.join("media");
    let add = |extra: &[&str]| {
        let mut a = vec![
            "partition",
            "add-recovery",
            "--disk",
            s(&disk),
            "--media",
            s(&media),
            "--size",
            "48M",
            "--update-if-present",
            "--register",
            "--uefi-entry",
            "--uefi-vars",
            s(&vars),
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| dart(&args.iter().map(String::as_str).collect::<Vec<_>>());

    // A dry run prints every change and writes nothing.
    let before = state(&disk, &vars);
    let out = run(add(&["--boot-next", "--dry-run"]));
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    for want in [
        "would add partition 3",
        "toolsdisplayorder",
        "+ Boot0000 \"DaRT Recovery\" HD(3,GPT,",
        "+ BootNext 0000",
        "dry run: nothing was written",
    ] {
        assert!(said.contains(want), "missing {want:?} in:\n{said}");
    }
    assert!(state(&disk, &vars) == before, "a dry run wrote");

    // Written, as JSON.
    let out = run(add(&["--boot-next", "--json"]));
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["partition"], 3);
    let entry = report["registration"]["entry"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(report["uefi_entry"]["number"], 0);

    // The same request again: nothing to change.
    let before = state(&disk, &vars);
    let out = run(add(&["--json"]));
    assert!(out.status.success(), "{}", text(&out));
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(again["added"].is_null(), "{again}");
    assert_eq!(again["registration"]["changes"], Value::Array(vec![]));
    assert_eq!(again["uefi_entry"]["changes"], Value::Array(vec![]));
    assert!(
        state(&disk, &vars).1 == before.1,
        "an idempotent re-run rewrote the variables"
    );

    // Another placement, then unregister.
    let said = ok(&[
        "partition",
        "register-recovery",
        "--disk",
        s(&disk),
        "--as",
        "winre",
        "--dry-run",
    ]);
    assert!(
        said.contains("recoverysequence") && said.contains("ReAgent.xml"),
        "{said}"
    );
    let said = ok(&[
        "partition",
        "boot-next",
        "--disk",
        s(&disk),
        "--uefi-vars",
        s(&vars),
    ]);
    assert!(said.contains("no changes"), "{said}");
    let gone: Value = serde_json::from_str(&ok(&[
        "partition",
        "unregister-recovery",
        "--disk",
        s(&disk),
        "--uefi-vars",
        s(&vars),
        "--json",
    ]))
    .unwrap();
    assert_eq!(gone["registration"]["entry"].as_str(), Some(entry.as_str()));
    assert!(gone["registration"]["removes_backup"].as_bool().unwrap());
    let removed: Vec<&str> = gone["uefi_entry"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(removed, ["Boot0000", "BootNext"]);
    let said = ok(&[
        "partition",
        "unregister-recovery",
        "--disk",
        s(&disk),
        "--uefi-vars",
        s(&vars),
    ]);
    assert!(
        said.contains("holds no entry dart added") && said.contains("variables: no changes"),
        "{said}"
    );

    // Refusals: boot-next without an entry; a BitLocker volume; --as without --register.
    let before = state(&disk, &vars);
    let out = dart(&[
        "partition",
        "boot-next",
        "--disk",
        s(&disk),
        "--uefi-vars",
        s(&vars),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("no boot option for the recovery partition"),
        "{}",
        text(&out)
    );
    let shown: Value =
        serde_json::from_str(&ok(&["partition", "show", s(&disk), "--json"])).unwrap();
    let windows = shown["layout"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Windows")
        .unwrap()["start"]
        .as_u64()
        .unwrap();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = fs::OpenOptions::new().write(true).open(&disk).unwrap();
        f.seek(SeekFrom::Start(windows + 3)).unwrap();
        f.write_all(b"-FVE-FS-").unwrap();
    }
    let before = (fs::read(&disk).unwrap(), before.1);
    let out = run(add(&[]));
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("BitLocker")
            && said.contains("--bitlocker-suspended")
            && said.contains("nothing was written"),
        "{said}"
    );
    assert!(state(&disk, &vars) == before, "a refused run wrote");
    let out = dart(&[
        "partition",
        "add-recovery",
        "--disk",
        s(&disk),
        "--media",
        s(&media),
        "--as",
        "menu",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(state(&disk, &vars) == before);
}
