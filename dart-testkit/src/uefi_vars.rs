//! `virt-fw-vars` (PyPI virt-firmware) as an independent reader of the
//! OVMF variable files dart edits.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `virt-fw-vars` from the workspace's venv (`scripts/setup`) or PATH;
/// panics (failing the test) with what to do when it is missing.
pub fn virt_fw_vars() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/virt-fw-vars");
    if venv.is_file() {
        return venv;
    }
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("virt-fw-vars"))
                .find(|f| f.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "virt-fw-vars (PyPI virt-firmware) is needed to check UEFI variable files: \
                 run scripts/setup, or put it on PATH"
            )
        })
}

/// What `virt-fw-vars --input FILE --print --verbose` prints; panics when
/// it refuses the file.
pub fn fw_print(file: &Path) -> String {
    let out = Command::new(virt_fw_vars())
        .args(["--input"])
        .arg(file)
        .args(["--print", "--verbose"])
        .output()
        .expect("virt-fw-vars runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "virt-fw-vars failed: {}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}
