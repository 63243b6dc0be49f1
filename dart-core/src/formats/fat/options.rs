//! [`FatOptions`]: the volume label and the clock a FAT32 volume is written with.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest FAT volume label, in bytes.
pub const MAX_LABEL_LEN: usize = 11;

/// How a FAT32 volume is written.
///
/// ```
/// use dart_core::formats::fat::FatOptions;
/// let opts = FatOptions { label: "DaRT10".into(), timestamp: Some(1_700_000_000) };
/// assert_eq!(&opts.label_bytes()?, b"DART10     ");
/// # Ok::<(), dart_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FatOptions {
    /// The volume label: at most 11 characters, ASCII letters, digits, space
    /// and `! # $ % & ' ( ) - @ ^ _ ` { } ~`; stored upper-cased. Empty
    /// means no label (`NO NAME`).
    pub label: String,
    /// Deterministic mode: `Some(unix seconds)` stamps every file and
    /// directory with this time and derives the volume id from it, so equal
    /// inputs give byte-identical volumes. `None` uses the source files'
    /// modification times and the current time.
    pub timestamp: Option<u64>,
}

impl Default for FatOptions {
    fn default() -> Self {
        FatOptions {
            label: "DART".to_string(),
            timestamp: None,
        }
    }
}

impl FatOptions {
    /// The label as the 11 space-padded bytes stored on disk, or an
    /// [`Error::InvalidSetting`] naming the label.
    pub fn label_bytes(&self) -> Result<[u8; 11]> {
        let label = self.label.trim_end();
        if label.len() > MAX_LABEL_LEN {
            return Err(Error::invalid(
                "volume label",
                &self.label,
                format!("a FAT volume label has at most {MAX_LABEL_LEN} characters"),
            ));
        }
        if label.starts_with(' ') {
            return Err(Error::invalid(
                "volume label",
                &self.label,
                "a FAT volume label cannot start with a space",
            ));
        }
        let mut out = [b' '; 11];
        for (i, c) in label.chars().enumerate() {
            let c = c.to_ascii_uppercase();
            if !(c.is_ascii_alphanumeric() || c == ' ' || "!#$%&'()-@^_`{}~".contains(c)) {
                return Err(Error::invalid(
                    "volume label",
                    &self.label,
                    format!("{c:?} is not allowed; use letters, digits, space and ! # $ % & ' ( ) - @ ^ _ ` {{ }} ~"),
                ));
            }
            out[i] = c as u8;
        }
        Ok(out)
    }

    /// Whether a label is set (an empty label writes none).
    pub(crate) fn has_label(&self) -> bool {
        !self.label.trim().is_empty()
    }

    /// The volume serial number: derived from the timestamp and label in
    /// deterministic mode, from the clock otherwise.
    pub(crate) fn volume_id(&self) -> u32 {
        let mut h = crc32fast::Hasher::new();
        match self.timestamp {
            Some(t) => h.update(&t.to_le_bytes()),
            None => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                h.update(&now.as_nanos().to_le_bytes());
                h.update(&std::process::id().to_le_bytes());
            }
        }
        h.update(self.label.to_ascii_uppercase().as_bytes());
        h.finalize()
    }

    /// The time stamped on directories and new entries.
    pub(crate) fn now(&self) -> FatTime {
        match self.timestamp {
            Some(t) => FatTime::from_unix(t),
            None => FatTime::from_system(SystemTime::now()),
        }
    }

    /// The time stamped on a file whose source was modified at `modified`.
    pub(crate) fn file_time(&self, modified: Option<SystemTime>) -> FatTime {
        match (self.timestamp, modified) {
            (Some(t), _) => FatTime::from_unix(t),
            (None, Some(m)) => FatTime::from_system(m),
            (None, None) => self.now(),
        }
    }
}

/// A FAT date and time (local time is not known here: UTC is stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FatTime {
    /// Bits 15-9 year since 1980, 8-5 month, 4-0 day.
    pub date: u16,
    /// Bits 15-11 hours, 10-5 minutes, 4-0 seconds / 2.
    pub time: u16,
}

impl FatTime {
    /// 1980-01-01 00:00:00, the earliest FAT time.
    const MIN_UNIX: u64 = 315_532_800;
    /// 2107-12-31 23:59:58, the latest FAT time.
    const MAX_UNIX: u64 = 4_354_819_198;

    /// Converts unix seconds (UTC), clamped to the FAT range.
    pub fn from_unix(secs: u64) -> FatTime {
        let secs = secs.clamp(Self::MIN_UNIX, Self::MAX_UNIX);
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        let date = (((y - 1980) as u16) << 9) | ((m as u16) << 5) | d as u16;
        let time = (((rem / 3600) as u16) << 11)
            | ((((rem / 60) % 60) as u16) << 5)
            | ((rem % 60) / 2) as u16;
        FatTime { date, time }
    }

    fn from_system(t: SystemTime) -> FatTime {
        FatTime::from_unix(
            t.duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        )
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_validated_and_upper_cased() {
        let mut o = FatOptions::default();
        assert_eq!(&o.label_bytes().unwrap(), b"DART       ");
        o.label = "dart 10".into();
        assert_eq!(&o.label_bytes().unwrap(), b"DART 10    ");
        o.label = "ABCDEFGHIJKL".into();
        assert!(o
            .label_bytes()
            .unwrap_err()
            .to_string()
            .contains("volume label"));
        o.label = "A.B".into();
        assert!(o.label_bytes().is_err());
        o.label = "é".into();
        assert!(o.label_bytes().is_err());
    }

    #[test]
    fn unix_times_convert() {
        // 2023-11-14 22:13:20 UTC
        let t = FatTime::from_unix(1_700_000_000);
        assert_eq!(t.date >> 9, 43);
        assert_eq!((t.date >> 5) & 0xF, 11);
        assert_eq!(t.date & 0x1F, 14);
        assert_eq!(t.time >> 11, 22);
        assert_eq!((t.time >> 5) & 0x3F, 13);
        assert_eq!(t.time & 0x1F, 10);
        assert_eq!(FatTime::from_unix(0).date, (1 << 5) | 1);
    }

    #[test]
    fn deterministic_volume_id() {
        let a = FatOptions {
            label: "X".into(),
            timestamp: Some(5),
        };
        assert_eq!(a.volume_id(), a.clone().volume_id());
        let b = FatOptions {
            label: "X".into(),
            timestamp: Some(6),
        };
        assert_ne!(a.volume_id(), b.volume_id());
    }
}
