//! Keeps a server's log readable, and small, under a flood: repeated
//! events of one kind from one source are shown a few times per window and
//! then counted, and the window ends with one summary line per source
//! ("… 4,812 more like this in 10 s").
//!
//! PXE and TFTP are unauthenticated, so every logged event may have been
//! caused by a forged packet; without a limit 100,000 forged requests write
//! 100,000 lines. With one, the log of a window holds at most
//! [`LogLimit::per_window`] event lines plus at most
//! [`LogLimit::summaries`] summary lines (and one line for the rest),
//! whatever arrives.
//!
//! The limiter does no I/O and reads no clock: callers pass the time, so
//! it is tested without waiting, and they decide where the lines go.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use dart_core::net::log_limit::{LogLimit, LogLimiter};
//!
//! let limit = LogLimit { per_key: 2, ..LogLimit::default() };
//! let mut log = LogLimiter::new(limit);
//! let t = Instant::now();
//! let shown: Vec<bool> = (0..5).map(|_| log.admit("tftp-denied from 10.0.0.9", t)).collect();
//! assert_eq!(shown, [true, true, false, false, false]);
//! let summary = log.flush(t + Duration::from_secs(10));
//! assert_eq!(summary, ["… 3 more like this in 10 s: tftp-denied from 10.0.0.9"]);
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The limits of a [`LogLimiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimit {
    /// Length of a window.
    pub window: Duration,
    /// Events shown per key and window; the rest are counted.
    pub per_key: u32,
    /// Events shown per window, all keys together.
    pub per_window: u32,
    /// Summary lines per window; the keys beyond are summed up in one more
    /// line.
    pub summaries: usize,
    /// Most keys tracked in a window (a flood from random sources makes a
    /// new key per packet); events of further keys are counted only in the
    /// total.
    pub max_keys: usize,
}

impl Default for LogLimit {
    /// 10 s windows, 10 lines per key, 200 lines and 20 summaries per
    /// window, 4,096 keys.
    fn default() -> Self {
        LogLimit {
            window: Duration::from_secs(10),
            per_key: 10,
            per_window: 200,
            summaries: 20,
            max_keys: 4096,
        }
    }
}

/// Decides which events of a log are shown; see the [module docs](self).
#[derive(Debug)]
pub struct LogLimiter {
    limit: LogLimit,
    start: Option<Instant>,
    shown: u32,
    /// Per key: events seen and events held back in this window.
    keys: HashMap<String, (u32, u64)>,
    /// Events held back whose key was not tracked.
    untracked: u64,
}

impl LogLimiter {
    /// A limiter with `limit`.
    pub fn new(limit: LogLimit) -> Self {
        LogLimiter {
            limit,
            start: None,
            shown: 0,
            keys: HashMap::new(),
            untracked: 0,
        }
    }

    /// Whether the event with `key` (what makes events alike: their kind
    /// and source) happening at `now` is shown. Call [`flush`](Self::flush)
    /// first to get the summary of a window that has ended.
    pub fn admit(&mut self, key: &str, now: Instant) -> bool {
        let start = *self.start.get_or_insert(now);
        if now.saturating_duration_since(start) >= self.limit.window {
            // The caller did not flush: begin the next window anyway (its
            // summary is lost, never the bound).
            self.reset(now);
        }
        let tracked = self.keys.len() < self.limit.max_keys || self.keys.contains_key(key);
        if !tracked {
            self.untracked += 1;
            return false;
        }
        let entry = self.keys.entry(key.to_owned()).or_insert((0, 0));
        entry.0 = entry.0.saturating_add(1);
        if entry.0 <= self.limit.per_key && self.shown < self.limit.per_window {
            self.shown += 1;
            true
        } else {
            entry.1 += 1;
            false
        }
    }

    /// If the window that began with the first event has ended by `now`,
    /// its summary lines (none if nothing was held back), and a new window
    /// begins.
    pub fn flush(&mut self, now: Instant) -> Vec<String> {
        let Some(start) = self.start else {
            return Vec::new();
        };
        let elapsed = now.saturating_duration_since(start);
        if elapsed < self.limit.window {
            return Vec::new();
        }
        let secs = self.limit.window.as_secs_f64();
        let mut held: Vec<(&String, u64)> = self
            .keys
            .iter()
            .filter(|(_, &(_, held))| held > 0)
            .map(|(k, &(_, held))| (k, held))
            .collect();
        // The largest first, then by key, so that the output is stable.
        held.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let mut lines: Vec<String> = held
            .iter()
            .take(self.limit.summaries)
            .map(|(key, n)| format!("… {} more like this in {} s: {key}", thousands(*n), secs))
            .collect();
        let rest_keys = held.len().saturating_sub(self.limit.summaries);
        let rest: u64 = held
            .iter()
            .skip(self.limit.summaries)
            .map(|(_, n)| n)
            .sum::<u64>()
            + self.untracked;
        if rest > 0 {
            lines.push(format!(
                "… {} more events of {} other kinds and sources in {} s",
                thousands(rest),
                if self.untracked > 0 {
                    format!("{}+", rest_keys + 1)
                } else {
                    rest_keys.to_string()
                },
                secs
            ));
        }
        self.reset(now);
        lines
    }

    fn reset(&mut self, now: Instant) {
        self.start = Some(now);
        self.shown = 0;
        self.keys.clear();
        self.untracked = 0;
    }
}

/// `n` with commas between groups of three digits.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_flood_is_summarised_per_source() {
        let mut log = LogLimiter::new(LogLimit::default());
        let t = Instant::now();
        let mut shown = 0;
        for i in 0..4822u32 {
            let key = if i % 2 == 0 {
                "tftp-denied from 10.0.0.9"
            } else {
                "tftp-denied from 10.0.0.8"
            };
            shown += usize::from(log.admit(key, t + Duration::from_millis(u64::from(i) / 1000)));
        }
        assert_eq!(shown, 20);
        assert!(
            log.flush(t + Duration::from_secs(9)).is_empty(),
            "window not over"
        );
        let lines = log.flush(t + Duration::from_secs(10));
        assert_eq!(
            lines,
            [
                "… 2,401 more like this in 10 s: tftp-denied from 10.0.0.8",
                "… 2,401 more like this in 10 s: tftp-denied from 10.0.0.9",
            ]
        );
        // A new window shows events again.
        assert!(log.admit("tftp-denied from 10.0.0.9", t + Duration::from_secs(11)));
    }

    #[test]
    fn random_sources_are_bounded_by_the_window_totals() {
        let limit = LogLimit {
            max_keys: 100,
            ..LogLimit::default()
        };
        let mut log = LogLimiter::new(limit);
        let t = Instant::now();
        let shown = (0..100_000u32)
            .filter(|i| log.admit(&format!("dhcp-malformed from 10.{i}"), t))
            .count();
        assert_eq!(shown, 100);
        let lines = log.flush(t + limit.window);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(
            lines[0],
            "… 99,900 more events of 1+ other kinds and sources in 10 s"
        );
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(4_812_000), "4,812,000");
    }

    proptest! {
        /// Whatever arrives, a window shows at most `per_window` events and
        /// at most `summaries + 1` summary lines.
        #[test]
        fn a_window_is_bounded(keys in proptest::collection::vec(0u16..500, 0..3000)) {
            let limit = LogLimit { per_key: 3, per_window: 50, summaries: 5, max_keys: 64, ..LogLimit::default() };
            let mut log = LogLimiter::new(limit);
            let t = Instant::now();
            let shown = keys.iter().filter(|k| log.admit(&k.to_string(), t)).count();
            prop_assert!(shown <= 50);
            let lines = log.flush(t + limit.window);
            prop_assert!(lines.len() <= 6);
            let held: u64 = lines
                .iter()
                .map(|l| l.split(' ').nth(1).unwrap().replace(',', "").parse::<u64>().unwrap())
                .sum();
            prop_assert_eq!(held as usize + shown, keys.len());
        }
    }
}
