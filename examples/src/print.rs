//! Output that never panics.
//!
//! `println!` panics when stdout is closed (`dart … | head -1`); these
//! macros drop the text instead, so a closed pipe never stops a write half
//! way.

use std::fmt;
use std::io::{self, Write};

/// `println!` to stdout that ignores a closed or full stdout.
macro_rules! outln {
    () => { $crate::print::write_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::print::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` to stdout that ignores a closed or full stdout.
macro_rules! out {
    ($($arg:tt)*) => { $crate::print::write_out(format_args!($($arg)*)) };
}

/// `eprintln!` that ignores a closed stderr.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::print::write_err(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Pretty-printed JSON of a value on stdout, as `--json` prints it; the
/// `Result` says whether the value could be serialised (nothing is printed
/// when it could not).
macro_rules! out_json {
    ($value:expr) => {
        serde_json::to_string_pretty($value).map(|text| outln!("{text}"))
    };
}

/// Writes to stdout; a failure (closed pipe, full disk) loses the text.
pub fn write_out(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let _ = out.write_fmt(args);
    let _ = out.flush();
}

/// Writes to stderr; a failure loses the text.
pub fn write_err(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}
