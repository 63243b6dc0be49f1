//! What the listener and every session share: the settings, the opened
//! root, the hooks, the event callback, the stop flag and the count of
//! running transfers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::config::TftpConfig;
use super::event::TftpEvent;
use super::TftpHooks;
use crate::beneath::RootDir;

/// How often blocked threads look at the stop flag.
pub(super) const POLL: Duration = Duration::from_millis(100);

/// The event callback.
type EventSink = Box<dyn Fn(TftpEvent) + Send + Sync>;

/// State shared by the listener and the sessions.
pub(super) struct Shared {
    pub(super) config: TftpConfig,
    /// The root, opened once: files are opened beneath it.
    pub(super) root: RootDir,
    pub(super) hooks: TftpHooks,
    events: Option<EventSink>,
    pub(super) stop: AtomicBool,
    /// How many transfers hold a slot now.
    pub(super) active: Arc<AtomicUsize>,
}

impl Shared {
    /// The state of a server serving `root` (opened from `config.root`).
    pub(super) fn new(
        config: TftpConfig,
        root: RootDir,
        hooks: TftpHooks,
        events: Option<EventSink>,
    ) -> Self {
        Shared {
            config,
            root,
            hooks,
            events,
            stop: AtomicBool::new(false),
            active: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub(super) fn emit(&self, event: TftpEvent) {
        if let Some(sink) = &self.events {
            sink(event);
        }
    }

    pub(super) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}
