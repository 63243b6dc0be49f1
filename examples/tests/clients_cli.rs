#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `dart clients`: approve, deny, forget and pre-stage the clients of a
//! boot server; refusals change nothing.

mod common;

use common::{dart, text};

#[test]
fn clients_are_approved_denied_forgotten_and_imported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["clients"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--root", root]);
        dart(&all)
    };
    let list = || -> serde_json::Value {
        let out = run(&["list", "--json"]);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let out = run(&["list"]);
    assert!(text(&out).contains("no clients recorded"), "{}", text(&out));
    assert!(
        !dir.path().join("dart-clients.db").exists(),
        "listing creates nothing"
    );

    let out = run(&[
        "approve",
        "52:54:00:AA:BB:01",
        "--name",
        "bench",
        "--allow",
        "win11-imaging,dart-recovery",
        "--boot",
        "win11-imaging",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("approved bench (52:54:00:aa:bb:01)"),
        "{}",
        text(&out)
    );
    let clients = list();
    assert_eq!(clients[0]["state"], "approved");
    assert_eq!(
        clients[0]["allow"],
        serde_json::json!(["win11-imaging", "dart-recovery"])
    );

    // A boot image it may not boot, and a bad key: refused, nothing changed.
    let out = run(&[
        "approve",
        "52:54:00:aa:bb:02",
        "--allow",
        "a",
        "--boot",
        "b",
    ]);
    assert!(
        !out.status.success() && text(&out).contains("\"b\""),
        "{}",
        text(&out)
    );
    let out = run(&["approve", "52:54:00:zz"]);
    assert!(
        !out.status.success() && text(&out).contains("52:54:00:zz"),
        "{}",
        text(&out)
    );
    assert_eq!(list().as_array().unwrap().len(), 1);

    // Refusals on a root without a database create none.
    let empty = tempfile::tempdir().unwrap();
    let out = dart(&[
        "clients",
        "approve",
        "52:54:00:aa:bb:09",
        "--allow",
        "a",
        "--boot",
        "b",
        "--root",
        empty.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);

    let csv = dir.path().join("clients.csv");
    std::fs::write(
        &csv,
        "mac,name,allow\n52:54:00:aa:bb:03,lab-3,recovery\nnot-a-mac,x,all\n",
    )
    .unwrap();
    let out = run(&["import", csv.to_str().unwrap()]);
    assert!(
        !out.status.success()
            && text(&out).contains("line 3")
            && text(&out).contains("nothing was written"),
        "{}",
        text(&out)
    );
    assert_eq!(list().as_array().unwrap().len(), 1);
    std::fs::write(
        &csv,
        "mac,uuid,name,allow,boot\n52:54:00:aa:bb:03,,lab-3,recovery,\n,8c3e421c-5d1f-4b9c-2177-010203040506,kiosk,none,\n",
    )
    .unwrap();
    let out = run(&["import", csv.to_str().unwrap()]);
    assert!(
        out.status.success() && text(&out).contains("approved 2"),
        "{}",
        text(&out)
    );
    assert_eq!(list().as_array().unwrap().len(), 3);

    let out = run(&["deny", "52:54:00:aa:bb:03"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["list", "--state", "denied", "--json"]);
    let denied: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(denied[0]["name"], "lab-3");

    let out = run(&["forget", "8c3e421c-5d1f-4b9c-2177-010203040506"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["forget", "8c3e421c-5d1f-4b9c-2177-010203040506"]);
    assert!(
        !out.status.success() && text(&out).contains("no such client"),
        "{}",
        text(&out)
    );
    assert_eq!(list().as_array().unwrap().len(), 2);
}
