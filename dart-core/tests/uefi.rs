//! UEFI boot entries against independent readers: OVMF variable files
//! edited by dart and read by `virt-fw-vars` (PyPI virt-firmware), a file
//! OVMF itself wrote (QEMU), OVMF booting a file dart wrote, and an
//! efivarfs-shaped directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use dart_core::formats::uefi::{
    boot_next, boot_options, boot_order, plan_add_boot_option, plan_remove_boot_option,
    BootOrderPlacement, DevicePathNode, Efivarfs, LoadOption, OvmfVars, UefiProblem, VarChange,
    Variable, VariableStore, EFI_GLOBAL_VARIABLE,
};
use dart_core::Error;
use dart_testkit::uefi_vars::{fw_print, virt_fw_vars};
use uuid::Uuid;

const TEMPLATE: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/// The partition GUID of the test's ESP ...
const ESP: Uuid = Uuid::from_u128(0x1c2d3e4f_5a6b_4c7d_8e9f_a0b1c2d3e4f5);
/// ... as a hard-drive node stores it (mixed-endian), written out by hand.
const ESP_ON_DISK: &str = "4f3e2d1c6b5a7d4c8e9fa0b1c2d3e4f5";

/// virt-fw-vars' variables: (name, guid, attributes, data hex), sorted.
fn fw_json(file: &Path) -> Vec<(String, String, u64, String)> {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("vars.json");
    let out = Command::new(virt_fw_vars())
        .arg("--input")
        .arg(file)
        .arg("--output-json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let mut vars: Vec<_> = v["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                v["guid"].as_str().unwrap().to_string(),
                v["attr"].as_u64().unwrap(),
                v["data"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    vars.sort();
    vars
}

fn ours(vars: &OvmfVars) -> Vec<(String, String, u64, String)> {
    let mut v: Vec<_> = vars
        .variables()
        .into_iter()
        .map(|v| {
            let hex: String = v.data.iter().map(|b| format!("{b:02x}")).collect();
            (v.name, v.guid.to_string(), u64::from(v.attributes), hex)
        })
        .collect();
    v.sort();
    v
}

fn dart_option() -> LoadOption {
    LoadOption::new(
        "DaRT Recovery",
        vec![
            DevicePathNode::gpt_partition(3, 0x800, 0x1000, ESP),
            DevicePathNode::FilePath(r"\EFI\DART\BOOTX64.EFI".into()),
        ],
    )
}

fn copy_template(dir: &Path) -> PathBuf {
    let path = dir.join("VARS.fd");
    std::fs::copy(TEMPLATE, &path).unwrap_or_else(|e| panic!("{TEMPLATE} (apt: ovmf): {e}"));
    path
}

fn outside_region_unchanged(vars: &OvmfVars, before: &[u8], after: &[u8]) {
    let r = vars.store_region();
    assert_eq!(before.len(), after.len());
    assert!(
        before[..r.start] == after[..r.start],
        "bytes before the variable store changed"
    );
    assert!(
        before[r.end..] == after[r.end..],
        "bytes after the variable store (FTW areas) changed"
    );
}

#[test]
fn a_boot_option_added_to_ovmf_vars_reads_back_in_virt_fw_vars() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_template(dir.path());
    let template = std::fs::read(&path).unwrap();
    let mut vars = OvmfVars::open(&path).unwrap();

    // A stand-in installed system first, then DaRT last with BootNext.
    let os = LoadOption::new(
        "Stand-in OS",
        vec![
            DevicePathNode::gpt_partition(1, 0x800, 0x32000, Uuid::from_u128(0x77)),
            DevicePathNode::FilePath(r"\EFI\OS\GRUBX64.EFI".into()),
        ],
    );
    let plan = plan_add_boot_option(&vars, &os, BootOrderPlacement::First, false).unwrap();
    vars.apply(&plan.changes).unwrap();
    let plan = plan_add_boot_option(&vars, &dart_option(), BootOrderPlacement::Last, true).unwrap();
    assert_eq!(plan.number, 1);
    let text: Vec<String> = plan.changes.iter().map(VarChange::to_string).collect();
    assert_eq!(text[1], "~ BootOrder 0000 -> 0000,0001");
    assert_eq!(text[2], "+ BootNext 0001");
    vars.apply(&plan.changes).unwrap();

    let printed = fw_print(&path);
    assert!(
        printed.contains("name=Boot0001 guid=guid:EfiGlobalVariable"),
        "{printed}"
    );
    assert!(
        printed.contains(r#"boot entry: title="DaRT Recovery" devpath=Partition(nr=3)/FilePath(\EFI\DART\BOOTX64.EFI)"#),
        "{printed}"
    );
    assert!(printed.contains(r#"title="Stand-in OS""#), "{printed}");
    let order_at = printed.find("name=BootOrder").expect("no BootOrder");
    assert!(
        printed[order_at..].starts_with(
            "name=BootOrder guid=guid:EfiGlobalVariable size=4\n  boot order: 0000, 0001"
        ),
        "{printed}"
    );
    let next_at = printed.find("name=BootNext").expect("no BootNext");
    assert!(
        printed[next_at..]
            .starts_with("name=BootNext guid=guid:EfiGlobalVariable size=2\n  boot order: 0001"),
        "{printed}"
    );

    // virt-fw-vars prints a hard-drive node as Partition(nr=...): the
    // partition GUID and LBAs are checked in its raw data.
    let json = fw_json(&path);
    let boot1 = json.iter().find(|v| v.0 == "Boot0001").unwrap();
    assert_eq!(boot1.2, 7);
    let hd = format!(
        "04012a00{}{}{}{ESP_ON_DISK}0202",
        "03000000", "0008000000000000", "0010000000000000"
    );
    assert!(
        boot1.3.contains(&hd),
        "no HD(3,GPT,{ESP},0x800,0x1000) node in {}",
        boot1.3
    );
    assert_eq!(json.iter().find(|v| v.0 == "BootNext").unwrap().3, "0100");
    assert_eq!(ours(&OvmfVars::open(&path).unwrap()), json);

    outside_region_unchanged(&vars, &template, &std::fs::read(&path).unwrap());

    // Re-running the add: the same number, nothing to change.
    let again = OvmfVars::open(&path).unwrap();
    let plan =
        plan_add_boot_option(&again, &dart_option(), BootOrderPlacement::Last, true).unwrap();
    assert_eq!(plan.number, 1);
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
}

#[test]
fn a_full_variable_store_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_template(dir.path());
    let template = std::fs::read(&path).unwrap();
    let mut vars = OvmfVars::open(&path).unwrap();
    let mut big = dart_option();
    big.optional_data = vec![0x5a; 60_000];
    let mut changes = Vec::new();
    for n in 0..5u16 {
        big.description = format!("big {n}");
        changes.push(VarChange::set(
            None,
            Variable::global(format!("Boot{n:04X}"), big.encode().unwrap()),
        ));
    }
    let err = vars.apply(&changes).unwrap_err();
    assert!(
        matches!(
            err,
            Error::BadVariableStore {
                problem: UefiProblem::DoesNotFit { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("VARS.fd") && err.to_string().contains("left as it was"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), template);
}

/// Runs OVMF on `vars` (no disk) until its shell prompt, or panics after
/// two minutes; returns the console text.
fn boot_ovmf_to_shell(vars: &Path) -> String {
    let check = dart_testkit::qemu::boot_with_vars(
        None,
        vars,
        &["Shell>"],
        dart_testkit::qemu::AfterMarker::Stop,
        Duration::from_secs(120),
    )
    .unwrap();
    assert!(
        check.marker_seen,
        "OVMF did not reach its shell in 120 s:\n{}",
        check.console_tail
    );
    check.console_tail
}

#[test]
fn vars_written_by_ovmf_parse_as_virt_fw_vars_reads_them_and_ovmf_boots_what_dart_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_template(dir.path());
    // First boot: OVMF writes Boot####, BootOrder, Lang, ConIn, ...
    boot_ovmf_to_shell(&path);
    let written = std::fs::read(&path).unwrap();
    let vars = OvmfVars::open(&path).unwrap();
    let json = fw_json(&path);
    assert!(
        json.iter().any(|v| v.0 == "BootOrder"),
        "OVMF wrote no BootOrder: {json:?}"
    );
    assert_eq!(ours(&vars), json);
    let printed = fw_print(&path);
    let options = boot_options(&vars).unwrap();
    let numbers: Vec<u16> = options.iter().map(|(n, _)| *n).collect();
    let boot_vars: Vec<&str> = json
        .iter()
        .map(|v| v.0.as_str())
        .filter(|n| n.starts_with("Boot0"))
        .collect();
    assert_eq!(
        numbers.len(),
        boot_vars.len(),
        "not every Boot#### decoded: {boot_vars:?}"
    );
    for (n, opt) in &options {
        assert!(
            printed.contains(&format!("title=\"{}\"", opt.description)),
            "{n}: {opt}\n{printed}"
        );
        let raw = vars
            .get(&format!("Boot{n:04X}"), EFI_GLOBAL_VARIABLE)
            .unwrap()
            .unwrap();
        assert_eq!(
            opt.encode().unwrap(),
            raw.data,
            "Boot{n:04X} does not re-encode identically"
        );
    }

    // A plain rewrite reads identically, and only the store region moved.
    let copy = dir.path().join("REWRITTEN.fd");
    vars.save(&copy).unwrap();
    assert_eq!(fw_json(&copy), json);
    assert_eq!(fw_print(&copy), printed);
    outside_region_unchanged(&vars, &written, &std::fs::read(&copy).unwrap());

    // Add DaRT (on a disk this machine lacks) with BootNext: OVMF must try
    // it first, by its description, and consume BootNext.
    let mut vars = vars;
    let order = boot_order(&vars).unwrap();
    let plan = plan_add_boot_option(&vars, &dart_option(), BootOrderPlacement::Last, true).unwrap();
    vars.apply(&plan.changes).unwrap();
    let after = fw_json(&path);
    assert_eq!(
        after.len(),
        json.len() + 2,
        "expected Boot{:04X} and BootNext added",
        plan.number
    );
    assert_eq!(
        boot_order(&OvmfVars::open(&path).unwrap()).unwrap(),
        [order, vec![plan.number]].concat()
    );
    let console = boot_ovmf_to_shell(&path);
    let tried = format!("Boot{:04X} \"DaRT Recovery\"", plan.number);
    assert!(
        console.contains(&tried),
        "OVMF did not try {tried}:\n{console}"
    );
    let back = OvmfVars::open(&path).unwrap();
    assert_eq!(
        boot_next(&back).unwrap(),
        None,
        "OVMF did not consume BootNext"
    );
    assert!(boot_options(&back)
        .unwrap()
        .iter()
        .any(|(n, o)| *n == plan.number && *o == dart_option()));
}

fn write_var(dir: &Path, name: &str, attributes: u32, data: &[u8]) {
    let mut bytes = attributes.to_le_bytes().to_vec();
    bytes.extend_from_slice(data);
    std::fs::write(dir.join(format!("{name}-{EFI_GLOBAL_VARIABLE}")), bytes).unwrap();
}

/// Sets or clears the immutable flag with chattr; false when this file
/// system or user cannot.
fn chattr(path: &Path, flag: &str) -> bool {
    Command::new("chattr")
        .arg(flag)
        .arg(path)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_immutable(path: &Path) -> bool {
    let out = Command::new("lsattr").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .is_some_and(|f| f.contains('i'))
}

#[test]
fn efivarfs_files_are_written_with_their_attributes_and_flags() {
    // tmpfs when there is one (as a stand-in efivarfs), else a temp dir.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .unwrap();
    let d = dir.path();
    let shell = LoadOption::new(
        "UEFI Shell",
        vec![DevicePathNode::FilePath(r"\shell.efi".into())],
    );
    write_var(d, "Boot0000", 7, &shell.encode().unwrap());
    write_var(d, "BootOrder", 7, &[0, 0]);
    write_var(d, "Timeout", 7, &[5, 0]);
    std::fs::write(d.join("not-a-variable"), b"x").unwrap();
    let order_file = d.join(format!("BootOrder-{EFI_GLOBAL_VARIABLE}"));
    let flagged = chattr(&order_file, "+i");

    let mut store = Efivarfs::new(d);
    assert_eq!(store.list().unwrap().len(), 3);
    assert_eq!(
        store
            .get("Timeout", EFI_GLOBAL_VARIABLE)
            .unwrap()
            .unwrap()
            .data,
        [5, 0]
    );
    let plan =
        plan_add_boot_option(&store, &dart_option(), BootOrderPlacement::First, true).unwrap();
    assert_eq!(plan.number, 1);
    store.apply(&plan.changes).unwrap();

    let file = std::fs::read(d.join(format!("Boot0001-{EFI_GLOBAL_VARIABLE}"))).unwrap();
    assert_eq!(&file[..4], &[7, 0, 0, 0]);
    assert_eq!(LoadOption::decode(&file[4..]).unwrap(), dart_option());
    assert_eq!(
        std::fs::read(&order_file).unwrap(),
        [7, 0, 0, 0, 1, 0, 0, 0]
    );
    assert_eq!(
        std::fs::read(d.join(format!("BootNext-{EFI_GLOBAL_VARIABLE}"))).unwrap(),
        [7, 0, 0, 0, 1, 0]
    );
    if flagged {
        assert!(
            is_immutable(&order_file),
            "the immutable flag was not restored"
        );
    }
    assert!(
        plan_add_boot_option(&store, &dart_option(), BootOrderPlacement::First, true)
            .unwrap()
            .changes
            .is_empty()
    );

    // A stale plan writes nothing.
    let remove = plan_remove_boot_option(&store, 1).unwrap();
    write_var(d, "BootNext", 7, &[0, 0]);
    let err = store.apply(&remove).unwrap_err();
    assert!(
        matches!(
            err,
            Error::BadVariableStore {
                problem: UefiProblem::Stale { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(d.join(format!("Boot0001-{EFI_GLOBAL_VARIABLE}")).exists());

    let remove = plan_remove_boot_option(&store, 1).unwrap();
    store.apply(&remove).unwrap();
    assert!(!d.join(format!("Boot0001-{EFI_GLOBAL_VARIABLE}")).exists());
    assert_eq!(boot_order(&store).unwrap(), [0]);
    assert_eq!(boot_next(&store).unwrap(), Some(0));
    if flagged {
        assert!(is_immutable(&order_file));
        chattr(&order_file, "-i");
    }
}

/// The fuzz seeds, written by a separate generator (Python, from the edk2
/// and UEFI layouts), read as intended: a check of the layouts that does
/// not go through dart's own writers.
#[test]
fn the_fuzz_seeds_read_as_their_generator_meant() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/uefi_vars");
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let auth =
        OvmfVars::parse(&read("ovmf-authenticated"), Path::new("ovmf-authenticated")).unwrap();
    let names: Vec<String> = auth.variables().into_iter().map(|v| v.name).collect();
    // The deleted Boot0001 is skipped; Timeout (in deleted transition, no
    // added copy) counts.
    assert_eq!(
        names,
        [
            "Boot0000",
            "Boot0001",
            "Timeout",
            "BootOrder",
            "BootNext",
            "Lang"
        ]
    );
    assert_eq!(boot_order(&auth).unwrap(), [0, 1]);
    assert_eq!(boot_next(&auth).unwrap(), Some(1));
    let options = boot_options(&auth).unwrap();
    assert_eq!(options[1].1, {
        let mut o = dart_option();
        o.path[1] = DevicePathNode::FilePath(r"\EFI\BOOT\BOOTX64.EFI".into());
        o
    });
    let plain = OvmfVars::parse(&read("ovmf-plain"), Path::new("ovmf-plain")).unwrap();
    assert_eq!(plain.variables().len(), 2);
    assert!(
        OvmfVars::parse(&read("ovmf-empty"), Path::new("ovmf-empty"))
            .unwrap()
            .variables()
            .is_empty()
    );
    let mbr = LoadOption::decode(&read("load-option-mbr-optional-data")).unwrap();
    assert_eq!(
        mbr.to_string(),
        r#""Windows" HD(1,MBR,0xdeadbeef,0x3f,0x3e8)/File(\EFI\BOOT\BOOTX64.EFI)"#
    );
    assert_eq!(mbr.optional_data, b"WINDOWS\0\x01\x00\x00\x00");
    let shell = LoadOption::decode(&read("load-option-fv-shell")).unwrap();
    assert_eq!(shell.description, "EFI Internal Shell");
    assert_eq!(shell.path.len(), 2);
}
