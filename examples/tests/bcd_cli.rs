#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `dart bcd`: a store made and edited by the command line reads back as
//! edited, in our listing and in libhivex's `hivexml`; a refused edit or a
//! dry run leaves the file byte-identical.

use std::collections::BTreeSet;
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

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `dart args`, which must succeed; returns its stdout.
fn ok(args: &[&str]) -> String {
    let out = dart(args);
    assert!(out.status.success(), "dart {args:?}: {}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `dart args`, which must fail as main.rs fails (`dart: ...`, exit 1)
/// and leave `store` byte-identical and no file beside it; returns the
/// message.
fn refused(store: &Path, args: &[&str]) -> String {
    let before = fs::read(store).unwrap();
    let out = dart(args);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "dart {args:?}: {said}");
    assert!(said.starts_with("dart: "), "dart {args:?}: {said}");
    assert!(
        fs::read(store).unwrap() == before,
        "dart {args:?} changed the store"
    );
    assert_eq!(entries(store.parent().unwrap()), ["store.bcd"], "{args:?}");
    said
}

/// The names in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `dart bcd show --json`.
fn view(store: &Path) -> Value {
    serde_json::from_str(&ok(&["bcd", "show", s(store), "--json"])).unwrap()
}

/// The `{guid}` of every object `show --json` lists.
fn view_ids(view: &Value) -> BTreeSet<String> {
    objects(view)
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

fn objects(view: &Value) -> &Vec<Value> {
    view["objects"].as_array().unwrap()
}

/// The value of element `name` of the object whose alias is `alias`.
fn element<'a>(view: &'a Value, alias: &str, name: &str) -> &'a Value {
    let object = objects(view)
        .iter()
        .find(|o| o["alias"] == alias)
        .unwrap_or_else(|| panic!("no {alias} in {view:#}"));
    &object["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{alias} has no {name}: {object:#}"))["value"]
}

/// The names of the keys directly under `Objects`, as libhivex's `hivexml`
/// reads the file (lower-cased: `{guid}` names compare without case).
fn hivexml_objects(store: &Path) -> BTreeSet<String> {
    let out = Command::new("hivexml")
        .arg(store)
        .output()
        .expect("hivexml (Debian libhivex-bin; scripts/setup installs it)");
    assert!(out.status.success(), "hivexml: {}", text(&out));
    let xml = String::from_utf8(out.stdout).unwrap();
    // Depth of each <node>: the root key is 1, Objects 2, its keys 3.
    let (mut depth, mut in_objects, mut names) = (0usize, false, BTreeSet::new());
    let mut rest = xml.as_str();
    while let Some(at) = rest
        .find("<node")
        .into_iter()
        .chain(rest.find("</node>"))
        .min()
    {
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("</node>") {
            if depth == 2 {
                in_objects = false;
            }
            depth -= 1;
            rest = after;
            continue;
        }
        let tag_end = rest.find('>').unwrap();
        let tag = &rest[..tag_end];
        let name = tag
            .split("name=\"")
            .nth(1)
            .and_then(|n| n.split('"').next())
            .unwrap_or_default();
        depth += 1;
        if depth == 2 && name == "Objects" {
            in_objects = true;
        } else if depth == 3 && in_objects {
            names.insert(name.to_ascii_lowercase());
        }
        if tag.ends_with('/') {
            depth -= 1;
        }
        rest = &rest[tag_end + 1..];
    }
    assert_eq!(depth, 0, "unbalanced hivexml output: {xml}");
    names
}

/// A new UEFI store with two WinPE entries, the second the default;
/// returns their ids.
fn store_with_two_entries(store: &Path) -> (String, String) {
    ok(&["bcd", "new", s(store), "--firmware", "uefi"]);
    let add = |description: &str, wim: &str, default: bool| {
        let mut args = vec![
            "bcd",
            "add-winpe",
            s(store),
            "--description",
            description,
            "--wim",
            wim,
            "--json",
        ];
        if default {
            args.push("--default");
        }
        let said: Value = serde_json::from_str(&ok(&args)).unwrap();
        said["id"].as_str().unwrap().to_string()
    };
    let end_user = add("DaRT (end user)", r"\sources\enduser.wim", false);
    let full = add("DaRT (full)", r"\sources\full.wim", true);
    (end_user, full)
}

#[test]
fn a_store_made_and_edited_reads_back_in_hivexml() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.bcd");
    let (end_user, full) = store_with_two_entries(&store);
    assert_ne!(end_user, full);
    for id in [&end_user, &full] {
        assert!(
            id.starts_with('{') && id.ends_with('}') && id.len() == 38,
            "{id}"
        );
    }
    ok(&["bcd", "set", s(&store), "--timeout", "5"]);

    let v = view(&store);
    let entry = |id: &str| {
        objects(&v)
            .iter()
            .find(|o| o["id"] == id)
            .unwrap_or_else(|| panic!("no {id} in {v:#}"))
            .clone()
    };
    assert_eq!(entry(&end_user)["description"], "DaRT (end user)");
    assert_eq!(entry(&full)["description"], "DaRT (full)");
    assert_eq!(entry(&full)["alias"], "{default}");
    assert_eq!(element(&v, "{bootmgr}", "default"), "{default}");
    assert_eq!(element(&v, "{bootmgr}", "timeout"), 5);
    assert_eq!(
        element(&v, "{bootmgr}", "displayorder"),
        &serde_json::json!([end_user, "{default}"])
    );
    assert_eq!(hivexml_objects(&store), view_ids(&v));

    // The text listing names both entries and the timeout.
    let listing = ok(&["bcd", "show", s(&store)]);
    for want in ["DaRT (end user)", "DaRT (full)", "{default}", "timeout"] {
        assert!(listing.contains(want), "{want}: {listing}");
    }

    // Remove the default by its alias: the entry left becomes the default.
    let said = ok(&["bcd", "remove", s(&store), "{default}"]);
    assert!(
        said.contains(&full) && said.contains("DaRT (full)"),
        "{said}"
    );
    let v = view(&store);
    assert!(!view_ids(&v).contains(&full), "{v:#}");
    assert_eq!(entry(&end_user)["description"], "DaRT (end user)");
    let left = objects(&v).iter().find(|o| o["id"] == end_user.as_str());
    assert_eq!(left.unwrap()["alias"], "{default}", "{v:#}");
    assert_eq!(
        element(&v, "{bootmgr}", "displayorder"),
        &serde_json::json!(["{default}"])
    );
    assert_eq!(hivexml_objects(&store), view_ids(&v));
    let listing = ok(&["bcd", "show", s(&store)]);
    assert!(!listing.contains("DaRT (full)"), "{listing}");

    // set applies every option, then writes once.
    let other = ok(&[
        "bcd",
        "add-winpe",
        s(&store),
        "--description",
        "DaRT (help desk)",
        "--wim",
        r"\sources\helpdesk.wim",
        "--sdi",
        r"\boot\other.sdi",
    ]);
    let other = other.trim();
    ok(&[
        "bcd",
        "set",
        s(&store),
        "--timeout",
        "0",
        "--default",
        other,
        "--display-order",
        &format!("{other},{end_user}"),
    ]);
    let v = view(&store);
    assert_eq!(element(&v, "{bootmgr}", "timeout"), 0);
    assert_eq!(
        element(&v, "{bootmgr}", "displayorder"),
        &serde_json::json!(["{default}", end_user])
    );
    assert_eq!(
        objects(&v)
            .iter()
            .find(|o| o["alias"] == "{default}")
            .unwrap()["id"],
        other
    );
    assert_eq!(entries(dir.path()), ["store.bcd"]);
}

#[test]
fn refused_edits_leave_the_store_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.bcd");
    let (end_user, full) = store_with_two_entries(&store);
    let st = s(&store);

    let said = refused(
        &store,
        &[
            "bcd",
            "remove",
            st,
            "{01234567-89ab-cdef-0123-456789abcdef}",
        ],
    );
    assert!(
        said.contains("01234567-89ab-cdef-0123-456789abcdef"),
        "{said}"
    );
    let said = refused(&store, &["bcd", "remove", st, "not-an-id"]);
    assert!(said.contains("not-an-id"), "{said}");

    // A menu without the default entry.
    let said = refused(&store, &["bcd", "set", st, "--display-order", &end_user]);
    assert!(said.contains("default"), "{said}");
    // The timeout is applied first, then the menu is refused: nothing is written.
    refused(
        &store,
        &[
            "bcd",
            "set",
            st,
            "--timeout",
            "9",
            "--display-order",
            &end_user,
        ],
    );
    // An id that appears twice.
    refused(
        &store,
        &[
            "bcd",
            "set",
            st,
            "--display-order",
            &format!("{full},{full}"),
        ],
    );

    let said = refused(
        &store,
        &[
            "bcd",
            "add-winpe",
            st,
            "--description",
            "slashes",
            "--wim",
            "/sources/x.wim",
        ],
    );
    assert!(said.contains("/sources/x.wim"), "{said}");
    refused(
        &store,
        &[
            "bcd",
            "add-winpe",
            st,
            "--description",
            "x",
            "--wim",
            r"\sources\x.wim",
            "--firmware",
            "both",
        ],
    );

    let said = refused(&store, &["bcd", "set", st, "--timeout", "5000"]);
    assert!(said.contains("5000"), "{said}");

    // new refuses an existing file without --force.
    let said = refused(&store, &["bcd", "new", st, "--firmware", "bios"]);
    assert!(said.contains("--force"), "{said}");
    refused(
        &store,
        &["bcd", "new", st, "--firmware", "bios", "--dry-run"],
    );

    // set needs at least one change (a usage error from clap: exit 2).
    let before = fs::read(&store).unwrap();
    let out = dart(&["bcd", "set", st]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(fs::read(&store).unwrap() == before);

    // --force replaces it.
    ok(&["bcd", "new", st, "--firmware", "bios", "--force"]);
    assert_eq!(
        objects(&view(&store))
            .iter()
            .filter(|o| o["name"] == "Windows Boot Loader")
            .count(),
        0
    );
}

#[test]
fn dry_runs_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.bcd");
    let (end_user, full) = store_with_two_entries(&store);
    let st = s(&store);
    let before = fs::read(&store).unwrap();
    let unchanged = |args: &[&str]| {
        let said = ok(args);
        assert!(
            fs::read(&store).unwrap() == before,
            "{args:?} changed the store"
        );
        assert_eq!(entries(dir.path()), ["store.bcd"], "{args:?}");
        said
    };

    let said = unchanged(&["bcd", "remove", st, &full, "--dry-run"]);
    assert!(
        said.contains("dry run") && said.contains("would remove"),
        "{said}"
    );
    assert!(
        !said.contains("DaRT (full)\n") && said.contains("DaRT (end user)"),
        "{said}"
    );

    let said = unchanged(&[
        "bcd",
        "add-winpe",
        st,
        "--description",
        "DaRT (help desk)",
        "--wim",
        r"\sources\helpdesk.wim",
        "--dry-run",
    ]);
    assert!(
        said.contains("dry run") && said.contains("DaRT (help desk)"),
        "{said}"
    );
    let said: Value = serde_json::from_str(&unchanged(&[
        "bcd",
        "add-winpe",
        st,
        "--description",
        "DaRT (help desk)",
        "--wim",
        r"\sources\helpdesk.wim",
        "--dry-run",
        "--json",
    ]))
    .unwrap();
    assert_eq!(said["dry_run"], true);
    assert!(view_ids(&said["store"]).contains(said["id"].as_str().unwrap()));

    let said = unchanged(&[
        "bcd",
        "set",
        st,
        "--timeout",
        "7",
        "--default",
        &end_user,
        "--dry-run",
    ]);
    assert!(
        said.contains("dry run") && said.contains("would set timeout 7"),
        "{said}"
    );

    let said = unchanged(&[
        "bcd",
        "new",
        st,
        "--firmware",
        "bios",
        "--force",
        "--dry-run",
    ]);
    assert!(said.contains("dry run"), "{said}");

    // A dry run of a new file creates nothing.
    let fresh = dir.path().join("fresh.bcd");
    ok(&["bcd", "new", s(&fresh), "--firmware", "uefi", "--dry-run"]);
    assert!(!fresh.exists());
}
