//! What the listener and one session share: the transfer's slot, and the
//! flags through which each tells the other what happened.
//!
//! The listener owns the table of sessions and is the only thread that
//! starts, replaces or reclaims them; a session only ever marks itself
//! confirmed (the client acknowledged something) and ended (its slot is
//! released). A repeated request reaches a session as a *poke*, handed over
//! with the request itself, so that the session decides with everything it
//! has already received whether the request is a retry (answer once more)
//! or a new one (end, and let the listener start it).

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::packet::Request;

/// Why the listener ended a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cancel {
    /// The same client port asked again with a different request before it
    /// acknowledged anything: the new request replaces this one.
    Replaced,
    /// The server was full and this client had acknowledged nothing for a
    /// while: its slot went to a new request.
    Reclaimed,
}

const NOT_CANCELLED: u8 = 0;
const REPLACED: u8 = 1;
const RECLAIMED: u8 = 2;

/// A request from a client port that already has a session, waiting for
/// that session to either answer it (a retry) or end (then the listener
/// starts it).
pub(super) struct Pending {
    /// The parsed request.
    pub(super) request: Request,
    /// Its bytes as received, to tell a retry from a new request.
    pub(super) bytes: Vec<u8>,
}

/// Flags of one session, shared by the listener and the session thread.
#[derive(Default)]
pub(super) struct Control {
    ended: AtomicBool,
    finished: AtomicBool,
    confirmed: AtomicBool,
    cancel: AtomicU8,
    poked: AtomicBool,
    pending: Mutex<Option<Pending>>,
}

impl Control {
    /// Whether the session has released its slot; from then on the
    /// listener may start a new session for the same client port.
    pub(super) fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Whether the session sent the whole file and the client acknowledged
    /// it (set before the session ends).
    pub(super) fn finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Called by the session when the client acknowledged the last block.
    pub(super) fn finish(&self) {
        self.finished.store(true, Ordering::Release);
    }

    /// Whether the client has acknowledged anything in this session.
    pub(super) fn confirmed(&self) -> bool {
        self.confirmed.load(Ordering::Acquire)
    }

    /// Called by the session on the client's first valid ACK.
    pub(super) fn confirm(&self) {
        self.confirmed.store(true, Ordering::Release);
    }

    /// Asks the session to end (it does within one poll interval).
    pub(super) fn cancel(&self, why: Cancel) {
        let code = match why {
            Cancel::Replaced => REPLACED,
            Cancel::Reclaimed => RECLAIMED,
        };
        let _ =
            self.cancel
                .compare_exchange(NOT_CANCELLED, code, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Why the listener ended the session, if it did.
    pub(super) fn cancelled(&self) -> Option<Cancel> {
        match self.cancel.load(Ordering::Acquire) {
            REPLACED => Some(Cancel::Replaced),
            RECLAIMED => Some(Cancel::Reclaimed),
            _ => None,
        }
    }

    /// Hands a repeated request to the session (replacing any earlier one
    /// still waiting) and wakes it.
    pub(super) fn poke(&self, pending: Pending) {
        *self.lock() = Some(pending);
        self.poked.store(true, Ordering::Release);
    }

    /// Whether a poke arrived since the last call (clears it).
    pub(super) fn take_poke(&self) -> bool {
        self.poked.swap(false, Ordering::AcqRel)
    }

    /// Takes the waiting request: the session answered it as a retry, or
    /// the listener starts it after the session ended.
    pub(super) fn take_pending(&self) -> Option<Pending> {
        self.lock().take()
    }

    fn lock(&self) -> MutexGuard<'_, Option<Pending>> {
        // The guarded value is a plain Option; a thread that panicked while
        // holding the lock cannot have left it half-written.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One transfer's place under the server's limits; released when dropped
/// (also when a session thread panics). Releasing it marks the session
/// ended, after the count has dropped, so that a listener that sees the
/// session ended also sees its slot free.
pub(super) struct Slot {
    active: Arc<AtomicUsize>,
    control: Arc<Control>,
}

impl Slot {
    /// Takes a place in `active`.
    pub(super) fn take(active: &Arc<AtomicUsize>) -> Slot {
        active.fetch_add(1, Ordering::AcqRel);
        Slot {
            active: Arc::clone(active),
            control: Arc::new(Control::default()),
        }
    }

    /// The session's flags.
    pub(super) fn control(&self) -> &Arc<Control> {
        &self.control
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::AcqRel);
        self.control.ended.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::tftp::packet::{Mode, Options};

    fn pending(name: &str) -> Pending {
        Pending {
            request: Request {
                filename: name.into(),
                mode: Mode::Octet,
                options: Options::default(),
            },
            bytes: name.as_bytes().to_vec(),
        }
    }

    #[test]
    fn dropping_the_slot_frees_it_then_marks_it_ended() {
        let active = Arc::new(AtomicUsize::new(0));
        let slot = Slot::take(&active);
        let control = Arc::clone(slot.control());
        assert_eq!(active.load(Ordering::Acquire), 1);
        assert!(!control.ended());
        drop(slot);
        assert!(control.ended());
        assert_eq!(active.load(Ordering::Acquire), 0);
    }

    #[test]
    fn the_first_cancel_reason_stays() {
        let c = Control::default();
        assert_eq!(c.cancelled(), None);
        c.cancel(Cancel::Replaced);
        c.cancel(Cancel::Reclaimed);
        assert_eq!(c.cancelled(), Some(Cancel::Replaced));
    }

    #[test]
    fn a_poke_keeps_only_the_newest_request() {
        let c = Control::default();
        assert!(!c.take_poke());
        c.poke(pending("a"));
        c.poke(pending("b"));
        assert!(c.take_poke());
        assert!(!c.take_poke());
        assert_eq!(c.take_pending().map(|p| p.bytes), Some(b"b".to_vec()));
        assert!(c.take_pending().is_none());
    }
}
