#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `dart policy check --root`: a policy must name staged images, and a
//! rule's boot image must be one it allows.

use std::fs;
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

/// A media tree with a UEFI loader, staged as `name` with `role`.
fn stage(dir: &Path, root: &Path, name: &str, role: &str) {
    let media = dir.join(name);
    for file in ["efi/boot/bootx64.efi", "sources/boot.wim", "boot/boot.sdi"] {
        let p = media.join(file);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, name).unwrap();
    }
    let out = dart(&[
        "stage",
        "--media",
        media.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--name",
        name,
        "--role",
        role,
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn unknown_names_and_boot_images_outside_allow_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    stage(dir.path(), &root, "dart-recovery", "recovery");
    stage(dir.path(), &root, "dart-enduser", "recovery");
    stage(dir.path(), &root, "win11-imaging", "imaging");
    let root = root.to_str().unwrap();
    let policy = dir.path().join("policy.json");
    let check = |json: &str, client: &[&str]| {
        fs::write(&policy, json).unwrap();
        let mut args = vec!["policy", "check", policy.to_str().unwrap(), "--root", root];
        args.extend_from_slice(client);
        dart(&args)
    };

    // Ordinary clients may boot only dart-recovery: the catch-all rule.
    let out = check(
        r#"{"rules": [{"name": "everyone", "allow": ["dart-recovery"]}]}"#,
        &["--mac", "52:54:00:00:00:09", "--arch", "x64-uefi"],
    );
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("would be offered dart-recovery"), "{said}");
    assert!(said.contains("may boot dart-recovery"), "{said}");
    assert!(said.contains("refused dart-enduser"), "{said}");
    assert!(said.contains("refused win11-imaging"), "{said}");
    assert!(
        !said.contains("Images(") && !said.contains("Recovery"),
        "Rust debug forms: {said}"
    );

    // A name that is not staged.
    let out = check(
        r#"{"rules": [{"name": "lab", "subnet": "10.1.2.0/24", "allow": ["win11-imagng"]}]}"#,
        &[],
    );
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("\"lab\"")
            && said.contains("\"win11-imagng\"")
            && said.contains("not staged"),
        "{said}"
    );

    // A boot image outside the rule's allow list.
    let out = check(
        r#"{"rules": [{"name": "bench", "mac": "52:54:00:aa:bb:01", "allow": ["dart-recovery"], "boot": "win11-imaging"}]}"#,
        &[],
    );
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("bench") && said.contains("not one it allows"),
        "{said}"
    );
}

#[test]
fn the_menu_a_client_would_be_sent_is_shown_and_saved() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    stage(dir.path(), &root, "dart-recovery", "recovery");
    stage(dir.path(), &root, "win11-imaging", "imaging");
    let policy = dir.path().join("policy.json");
    fs::write(
        &policy,
        r#"{"menu": {"timeout": 5},
            "rules": [{"name": "bench", "mac": "52:54:00:aa:bb:01", "allow": "all", "boot": "win11-imaging"}]}"#,
    )
    .unwrap();
    let store = dir.path().join("menu.bcd");
    let check = |mac: &str| {
        dart(&[
            "policy",
            "check",
            policy.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
            "--mac",
            mac,
            "--arch",
            "x64-uefi",
            "--menu",
            "--menu-store",
            store.to_str().unwrap(),
        ])
    };
    let out = check("52:54:00:aa:bb:01");
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("boot menu (x64-uefi, 5 s")
            && t.contains(r"win11-imaging v1: \images\win11-imaging\1\sources\boot.wim (default)")
            && t.contains("dart-recovery v1"),
        "{t}"
    );
    let show = dart(&["bcd", "show", store.to_str().unwrap(), "--json"]);
    assert!(show.status.success(), "{}", text(&show));
    let json: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let descriptions: Vec<&str> = json["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["description"].as_str())
        .collect();
    assert!(
        descriptions.contains(&"win11-imaging") && descriptions.contains(&"dart-recovery"),
        "{descriptions:?}"
    );

    // An ordinary client's menu lists the recovery image only.
    let t = text(&check("52:54:00:aa:bb:99"));
    assert!(
        t.contains("dart-recovery v1") && !t.contains("win11-imaging v1"),
        "{t}"
    );
    // --menu needs a root and an architecture.
    let out = dart(&["policy", "check", policy.to_str().unwrap(), "--menu"]);
    assert!(!out.status.success());
}
