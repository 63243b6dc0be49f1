//! The test environment: tools on the PATH, root, and running commands
//! whose failure fails the test.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Whether `name` is an executable in PATH or the usual sbin directories.
pub fn have_tool(name: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/sbin", "/usr/sbin", "/bin", "/usr/bin"].map(PathBuf::from))
        .any(|dir| dir.join(name).is_file())
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Checks that the test can run: root and every tool in `tools` (each entry
/// is a list of alternatives). Returns false when the test must be skipped
/// (DART_SKIP_ROOT_TESTS=1); panics with the reason otherwise.
pub fn ready(test: &str, tools: &[&[&str]]) -> bool {
    let mut missing = Vec::new();
    if !is_root() {
        missing.push("root (loop devices and mounts need it)".to_string());
    }
    for alternatives in tools {
        if !alternatives.iter().any(|t| have_tool(t)) {
            missing.push(format!("the tool {}", alternatives.join(" or ")));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let what = missing.join(", ");
    if std::env::var("DART_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("SKIPPED {test}: it needs {what} (DART_SKIP_ROOT_TESTS=1)");
        return false;
    }
    panic!(
        "{test} needs {what}; run the tests as root with util-linux installed, \
         or set DART_SKIP_ROOT_TESTS=1 to skip the tests that need real block devices"
    );
}

/// Runs a command and returns its output, panicking if it cannot start.
pub fn output(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"))
}

/// Runs a command, panicking with its stderr when it fails; returns stdout.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = output(cmd, args);
    assert!(
        out.status.success(),
        "{cmd} {} failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `done` every 50 ms for up to `seconds`; whether it became true
/// (a message names `what` otherwise).
pub fn wait_for(what: &str, seconds: u64, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(seconds) {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("timed out waiting for {what}");
    false
}
