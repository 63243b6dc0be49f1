//! Helpers the CLI tests share: run `dart`, read what it printed.

use std::process::{Command, Output};

/// Runs the `dart` binary with `args`.
pub fn dart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dart"))
        .args(args)
        .output()
        .unwrap()
}

/// What a run printed, stdout then stderr.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
