//! Transfers that finished a moment ago, so that a late copy of their
//! request is not taken for a new one.
//!
//! A client that hears nothing in time sends its request again from the
//! same port. The copy waits in the listening socket's queue and may be read
//! only after the whole transfer has finished (a small file, a busy
//! listener): started again, it would send DATA 1 to a client that is done.
//! For [`LATE_COPY_GRACE`] after a transfer finished, a byte-identical
//! request from its client port is therefore dropped unanswered; a client
//! that really asks again is answered at its next retry, after the grace.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long after a transfer finished an identical request from its client
/// port counts as a late copy.
pub(super) const LATE_COPY_GRACE: Duration = Duration::from_secs(1);

/// How many finished transfers are remembered at most; beyond that the
/// oldest is forgotten (at worst a late copy starts a transfer again, the
/// behaviour without this record).
const MAX_REMEMBERED: usize = 1024;

/// One finished transfer.
struct Entry {
    client: SocketAddr,
    /// A keyed hash of the request's bytes (the keys are random per server,
    /// so a client cannot make two different requests look the same).
    request: u64,
    finished: Instant,
}

/// The transfers that finished within [`LATE_COPY_GRACE`], oldest first.
pub(super) struct RecentlyFinished {
    keys: RandomState,
    entries: VecDeque<Entry>,
}

impl RecentlyFinished {
    pub(super) fn new() -> Self {
        RecentlyFinished {
            keys: RandomState::new(),
            entries: VecDeque::new(),
        }
    }

    /// Records that the transfer `client` asked for with `request` finished
    /// at `now`.
    pub(super) fn record(&mut self, client: SocketAddr, request: &[u8], now: Instant) {
        self.forget_before(now);
        if self.entries.len() >= MAX_REMEMBERED {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry {
            client,
            request: self.keys.hash_one(request),
            finished: now,
        });
    }

    /// Whether `request` from `client` at `now` is a late copy of the
    /// request of a transfer that finished within the grace period.
    pub(super) fn is_late_copy(
        &mut self,
        client: SocketAddr,
        request: &[u8],
        now: Instant,
    ) -> bool {
        self.forget_before(now);
        let hash = self.keys.hash_one(request);
        self.entries
            .iter()
            .any(|e| e.client == client && e.request == hash)
    }

    /// Forgets the transfers that finished longer than the grace ago.
    fn forget_before(&mut self, now: Instant) {
        while self
            .entries
            .front()
            .is_some_and(|e| now.saturating_duration_since(e.finished) >= LATE_COPY_GRACE)
        {
            self.entries.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn only_the_same_request_from_the_same_port_within_the_grace_is_a_copy() {
        let mut recent = RecentlyFinished::new();
        let t0 = Instant::now();
        recent.record(addr(1000), b"rrq a", t0);
        assert!(recent.is_late_copy(addr(1000), b"rrq a", t0));
        assert!(!recent.is_late_copy(addr(1001), b"rrq a", t0));
        assert!(!recent.is_late_copy(addr(1000), b"rrq b", t0));
        let later = t0 + LATE_COPY_GRACE;
        assert!(!recent.is_late_copy(addr(1000), b"rrq a", later));
    }

    #[test]
    fn the_record_is_bounded() {
        let mut recent = RecentlyFinished::new();
        let t0 = Instant::now();
        for port in 0..(MAX_REMEMBERED as u16 + 10) {
            recent.record(addr(port), b"rrq", t0);
        }
        assert_eq!(recent.entries.len(), MAX_REMEMBERED);
        assert!(!recent.is_late_copy(addr(0), b"rrq", t0));
        assert!(recent.is_late_copy(addr(MAX_REMEMBERED as u16 + 9), b"rrq", t0));
    }
}
