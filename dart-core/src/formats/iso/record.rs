//! ECMA-119 building blocks the writer serialises: both-byte-order
//! numbers, the two date formats, directory records (9.1) and path table
//! records (9.4).

/// Bytes per logical block.
pub const BLOCK: u64 = 2048;
/// Directory record flag: the record names a directory.
pub const FLAG_DIRECTORY: u8 = 0x02;
/// Directory record flag: more extents of this file follow.
pub const FLAG_MULTI_EXTENT: u8 = 0x80;

/// Writes `v` little-endian then big-endian (ECMA-119 7.2.3).
pub fn both16(v: u16) -> [u8; 4] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], b[0], b[1]]
}

/// Writes `v` little-endian then big-endian (ECMA-119 7.3.3).
pub fn both32(v: u32) -> [u8; 8] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], l[2], l[3], b[0], b[1], b[2], b[3]]
}

/// A UTC calendar time, from Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    year: i64,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

impl Timestamp {
    /// The calendar time of `secs` seconds after 1970-01-01 UTC.
    pub fn from_unix(secs: u64) -> Timestamp {
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        // Howard Hinnant's days-to-civil.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Timestamp {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
        }
    }

    /// The 7-byte form of directory records (9.1.5): years since 1900
    /// (clamped to 0..=255), month, day, hour, minute, second, UTC offset 0.
    pub fn record_bytes(&self) -> [u8; 7] {
        let y = (self.year - 1900).clamp(0, 255) as u8;
        [
            y,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            0,
        ]
    }

    /// The 17-byte form of volume descriptors (8.4.26.1):
    /// `YYYYMMDDHHMMSS00` in digits and a UTC offset of 0.
    pub fn volume_bytes(&self) -> [u8; 17] {
        let text = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}00",
            self.year.clamp(1, 9999),
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second
        );
        let mut out = [0u8; 17];
        out[..16].copy_from_slice(&text.as_bytes()[..16]);
        out
    }
}

/// The "not specified" volume date (8.4.26.1): sixteen `'0'` digits and 0.
pub const NO_DATE: [u8; 17] = *b"0000000000000000\0";

/// One directory record (9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirRecord<'a> {
    /// First block of the extent.
    pub lba: u32,
    /// Bytes of the extent.
    pub len: u32,
    /// Recording time.
    pub time: [u8; 7],
    /// File flags.
    pub flags: u8,
    /// The identifier: `[0]` for ".", `[1]` for "..", else the name bytes.
    pub name: &'a [u8],
}

impl DirRecord<'_> {
    /// Bytes the record takes: 33 + name, padded to an even length.
    pub fn size(name_len: usize) -> usize {
        let n = 33 + name_len;
        n + n % 2
    }

    /// Appends the record to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let size = DirRecord::size(self.name.len());
        let start = out.len();
        out.push(size as u8);
        out.push(0);
        out.extend_from_slice(&both32(self.lba));
        out.extend_from_slice(&both32(self.len));
        out.extend_from_slice(&self.time);
        out.push(self.flags);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&both16(1));
        out.push(self.name.len() as u8);
        out.extend_from_slice(self.name);
        out.resize(start + size, 0);
    }
}

/// Appends a path table record (9.4) to `out`, little- or big-endian.
pub fn path_record(out: &mut Vec<u8>, name: &[u8], lba: u32, parent: u16, big_endian: bool) {
    out.push(name.len() as u8);
    out.push(0);
    if big_endian {
        out.extend_from_slice(&lba.to_be_bytes());
        out.extend_from_slice(&parent.to_be_bytes());
    } else {
        out.extend_from_slice(&lba.to_le_bytes());
        out.extend_from_slice(&parent.to_le_bytes());
    }
    out.extend_from_slice(name);
    if name.len() % 2 == 1 {
        out.push(0);
    }
}

/// Bytes of a path table record for an identifier of `name_len` bytes.
pub fn path_record_size(name_len: usize) -> usize {
    8 + name_len + name_len % 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dates() {
        let t = Timestamp::from_unix(1_700_000_000); // 2023-11-14 22:13:20
        assert_eq!(t.record_bytes(), [123, 11, 14, 22, 13, 20, 0]);
        assert_eq!(&t.volume_bytes()[..16], b"2023111422132000");
        assert_eq!(
            Timestamp::from_unix(0).record_bytes(),
            [70, 1, 1, 0, 0, 0, 0]
        );
        assert_eq!(
            &Timestamp::from_unix(951_782_400).volume_bytes()[..8],
            b"20000229"
        );
    }

    #[test]
    fn record_layout() {
        let mut out = Vec::new();
        DirRecord {
            lba: 0x1234,
            len: 2048,
            time: [0; 7],
            flags: FLAG_DIRECTORY,
            name: b"AB",
        }
        .write(&mut out);
        assert_eq!(out.len(), 36);
        assert_eq!(out[0], 36);
        assert_eq!(&out[2..10], &both32(0x1234));
        assert_eq!(out[25], FLAG_DIRECTORY);
        assert_eq!(out[32], 2);
        assert_eq!(&out[33..35], b"AB");
    }

    proptest! {
        #[test]
        fn record_fields_round_trip(lba: u32, len: u32, flags: u8, name in proptest::collection::vec(any::<u8>(), 1..200)) {
            let mut out = Vec::new();
            DirRecord { lba, len, time: [1, 2, 3, 4, 5, 6, 0], flags, name: &name }.write(&mut out);
            prop_assert_eq!(out.len(), DirRecord::size(name.len()));
            prop_assert_eq!(out.len() % 2, 0);
            prop_assert_eq!(u32::from_le_bytes([out[2], out[3], out[4], out[5]]), lba);
            prop_assert_eq!(u32::from_be_bytes([out[6], out[7], out[8], out[9]]), lba);
            prop_assert_eq!(u32::from_le_bytes([out[10], out[11], out[12], out[13]]), len);
            prop_assert_eq!(out[25], flags);
            prop_assert_eq!(&out[33..33 + name.len()], &name[..]);
        }

        #[test]
        fn unix_dates_are_valid(secs in 0u64..8_000_000_000) {
            let b = Timestamp::from_unix(secs).record_bytes();
            prop_assert!((1..=12).contains(&b[1]) && (1..=31).contains(&b[2]));
            prop_assert!(b[3] < 24 && b[4] < 60 && b[5] < 60);
        }
    }
}
