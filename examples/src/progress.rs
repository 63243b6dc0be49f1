//! Progress shown on stderr while an operation runs (stdout keeps the
//! result), each display bundled with the signal-driven cancellation into
//! the core's [`Control`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dart_core::formats::partition::human;
use dart_core::progress::{Control, Phase, Progress};

use crate::signals::cancel_token;

/// A [`Control`] reporting to `progress` and cancelled by signals.
pub fn control(progress: Arc<dyn Progress>) -> Control {
    Control {
        progress,
        cancel: cancel_token().clone(),
    }
}

/// A progress line on stderr, at most every 5% of the work (writes, flashes,
/// verifies, staging).
pub fn percent_lines() -> Control {
    let last = Arc::new(AtomicU64::new(u64::MAX));
    control(Arc::new(
        move |phase: Phase, _item: &str, done: u64, total: u64| {
            if total == 0 {
                return;
            }
            let pct = done * 100 / total;
            let prev = last.load(Ordering::Relaxed);
            if prev == u64::MAX || pct >= prev + 5 || (done == total && prev != 100) {
                last.store(pct, Ordering::Relaxed);
                errln!(
                    "  {} {pct:>3}% ({} of {})",
                    phase.name(),
                    human(done),
                    human(total)
                );
            }
        },
    ))
}

/// One line on stderr per image file written (image builds).
pub fn finished_images() -> Control {
    control(Arc::new(
        |phase: Phase, item: &str, done: u64, total: u64| {
            if phase == Phase::WritingImage && total > 0 && done == total {
                errln!("  wrote {item} ({done} bytes of file data)");
            }
        },
    ))
}
