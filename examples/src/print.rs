//! Output that never panics, and Ctrl-C (or SIGTERM) that cancels.
//!
//! `println!` panics when stdout is closed (`dart … | head -1`); these
//! macros drop the text instead, so a closed pipe never stops a write half
//! way. The first SIGINT, SIGTERM or SIGHUP cancels the running operation
//! through the core's cancellation token (the operation then stops at a
//! safe point and says what state its target is in); a second one quits at
//! once.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use dart_core::progress::{CancelToken, Control, Progress};

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

/// The process's cancellation token: cancelled by the first signal.
pub fn cancel_token() -> &'static CancelToken {
    static TOKEN: OnceLock<CancelToken> = OnceLock::new();
    TOKEN.get_or_init(CancelToken::new)
}

/// A [`Control`] reporting to `progress` and cancelled by signals.
pub fn control(progress: Arc<dyn Progress>) -> Control {
    Control {
        progress,
        cancel: cancel_token().clone(),
    }
}

/// Installs the SIGINT/SIGTERM/SIGHUP handler (once, at start).
pub fn handle_signals() {
    static SIGNALS: AtomicU32 = AtomicU32::new(0);
    let token = cancel_token().clone();
    // Without a handler (the platform refused one) a signal ends the
    // process as usual.
    let _ = ctrlc::set_handler(move || {
        if SIGNALS.fetch_add(1, Ordering::SeqCst) == 0 {
            token.cancel();
            errln!("dart: interrupted: stopping at a safe point (again to quit at once)");
        } else {
            errln!("dart: interrupted again: quitting at once; what was being written may be incomplete");
            std::process::exit(130);
        }
    });
}
