//! Ctrl-C (or SIGTERM, SIGHUP) that cancels.
//!
//! The first SIGINT, SIGTERM or SIGHUP cancels the running operation
//! through the core's cancellation token (the operation then stops at a
//! safe point and says what state its target is in); a second one quits at
//! once with exit code 130.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use dart_core::progress::CancelToken;

/// The process's cancellation token: cancelled by the first signal.
pub fn cancel_token() -> &'static CancelToken {
    static TOKEN: OnceLock<CancelToken> = OnceLock::new();
    TOKEN.get_or_init(CancelToken::new)
}

/// Installs the SIGINT/SIGTERM/SIGHUP handler (once, at start).
pub fn install_handler() {
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
