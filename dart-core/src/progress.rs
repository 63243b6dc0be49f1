//! Progress reporting and cancellation for long operations.
//!
//! A long call takes a [`Progress`] sink and a [`CancelToken`]. The sink
//! receives the phase and bytes done out of a total; the token can be
//! cancelled from any thread, and the operation stops at its next check,
//! removes what it had started to write, and returns [`Error::Cancelled`].
//!
//! ```
//! use dart_core::progress::{CancelToken, NoProgress};
//! let token = CancelToken::new();
//! let other = token.clone();
//! other.cancel();
//! assert!(token.is_cancelled());
//! ```
//!
//! [`Error::Cancelled`]: crate::error::Error::Cancelled

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What a long operation is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Checking inputs.
    Validating,
    /// Preparing files to add to an image.
    Staging,
    /// Writing a WIM file.
    WritingImage,
    /// Writing a file tree.
    WritingFiles,
    /// Reading a written target back and comparing it.
    Verifying,
}

impl Phase {
    /// A short lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Validating => "validating",
            Phase::Staging => "staging",
            Phase::WritingImage => "writing image",
            Phase::WritingFiles => "writing files",
            Phase::Verifying => "verifying",
        }
    }
}

/// Receives progress reports. Must be cheap and must not panic.
pub trait Progress: Send + Sync {
    /// `done` of `total` bytes of `phase` for `item` (an output file name).
    fn report(&self, phase: Phase, item: &str, done: u64, total: u64);
}

/// A sink that discards every report.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&self, _: Phase, _: &str, _: u64, _: u64) {}
}

impl<F> Progress for F
where
    F: Fn(Phase, &str, u64, u64) + Send + Sync,
{
    fn report(&self, phase: Phase, item: &str, done: u64, total: u64) {
        self(phase, item, done, total)
    }
}

/// A cancellation flag shared between the caller and an operation.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Asks the operation to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`cancel`](Self::cancel) has been called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The progress sink and cancellation token a long call works under.
///
/// ```
/// use std::sync::Arc;
/// use dart_core::progress::{Control, Phase};
/// let control = Control::new(Arc::new(|phase: Phase, item: &str, done: u64, total: u64| {
///     eprintln!("{} {item}: {done}/{total}", phase.name());
/// }));
/// control.cancel.cancel();
/// assert!(control.cancel.is_cancelled());
/// ```
#[derive(Clone)]
pub struct Control {
    /// Where reports go.
    pub progress: Arc<dyn Progress>,
    /// Checked between and during steps.
    pub cancel: CancelToken,
}

impl Control {
    /// A control with this sink and a fresh token.
    pub fn new(progress: Arc<dyn Progress>) -> Control {
        Control {
            progress,
            cancel: CancelToken::new(),
        }
    }
}

impl Default for Control {
    fn default() -> Self {
        Control::new(Arc::new(NoProgress))
    }
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
    }
}
