//! FAT directory entries: the 32-byte short (8.3) entry, VFAT long-name
//! entries with their checksum, and Windows-style short-name generation.

use std::collections::HashSet;

use super::options::FatTime;

/// Bytes per directory entry.
pub(crate) const ENTRY_SIZE: usize = 32;
/// Attribute: read-only.
pub(crate) const ATTR_VOLUME_ID: u8 = 0x08;
/// Attribute: directory.
pub(crate) const ATTR_DIRECTORY: u8 = 0x10;
/// Attribute: archive (set on every new file).
pub(crate) const ATTR_ARCHIVE: u8 = 0x20;
/// Attribute combination marking a long-name entry.
pub(crate) const ATTR_LFN: u8 = 0x0F;
/// First name byte of a deleted entry.
pub(crate) const DELETED: u8 = 0xE5;
/// UTF-16 units per long-name entry.
const LFN_CHARS: usize = 13;
/// Longest long name, in UTF-16 units.
pub(crate) const MAX_LFN: usize = 255;
/// Byte offsets of the 13 UTF-16 units inside a long-name entry.
const LFN_OFFSETS: [usize; LFN_CHARS] = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

/// A short (8.3) directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct DirEntry {
    pub name: [u8; 11],
    pub attr: u8,
    pub nt_case: u8,
    pub ctime_tenth: u8,
    pub ctime: u16,
    pub cdate: u16,
    pub adate: u16,
    pub cluster: u32,
    pub wtime: u16,
    pub wdate: u16,
    pub size: u32,
}

impl DirEntry {
    /// A file or directory entry stamped with `t`.
    pub fn new(name: [u8; 11], attr: u8, cluster: u32, size: u32, t: FatTime) -> DirEntry {
        DirEntry {
            name,
            attr,
            nt_case: 0,
            ctime_tenth: 0,
            ctime: t.time,
            cdate: t.date,
            adate: t.date,
            cluster,
            wtime: t.time,
            wdate: t.date,
            size,
        }
    }

    /// Parses 32 bytes.
    pub fn parse(b: &[u8]) -> DirEntry {
        let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
        let mut name = [0u8; 11];
        name.copy_from_slice(&b[..11]);
        DirEntry {
            name,
            attr: b[11],
            nt_case: b[12],
            ctime_tenth: b[13],
            ctime: u16_at(14),
            cdate: u16_at(16),
            adate: u16_at(18),
            cluster: (u32::from(u16_at(20)) << 16) | u32::from(u16_at(26)),
            wtime: u16_at(22),
            wdate: u16_at(24),
            size: u32::from_le_bytes([b[28], b[29], b[30], b[31]]),
        }
    }

    /// The 32 bytes on disk.
    pub fn to_bytes(self) -> [u8; ENTRY_SIZE] {
        let mut b = [0u8; ENTRY_SIZE];
        b[..11].copy_from_slice(&self.name);
        b[11] = self.attr;
        b[12] = self.nt_case;
        b[13] = self.ctime_tenth;
        b[14..16].copy_from_slice(&self.ctime.to_le_bytes());
        b[16..18].copy_from_slice(&self.cdate.to_le_bytes());
        b[18..20].copy_from_slice(&self.adate.to_le_bytes());
        b[20..22].copy_from_slice(&((self.cluster >> 16) as u16).to_le_bytes());
        b[22..24].copy_from_slice(&self.wtime.to_le_bytes());
        b[24..26].copy_from_slice(&self.wdate.to_le_bytes());
        b[26..28].copy_from_slice(&(self.cluster as u16).to_le_bytes());
        b[28..32].copy_from_slice(&self.size.to_le_bytes());
        b
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.attr & ATTR_DIRECTORY != 0
    }

    /// The short name as text (`BOOTMGR`, `BOOT.SDI`), lower-casing the
    /// parts the NT case bits mark.
    pub fn short_display(&self) -> String {
        let part = |bytes: &[u8], lower: bool| {
            let s: String = bytes
                .iter()
                .map(|&c| c as char)
                .collect::<String>()
                .trim_end()
                .to_string();
            if lower {
                s.to_ascii_lowercase()
            } else {
                s
            }
        };
        let mut first = self.name;
        if first[0] == 0x05 {
            first[0] = DELETED;
        }
        let base = part(&first[..8], self.nt_case & 0x08 != 0);
        let ext = part(&first[8..], self.nt_case & 0x10 != 0);
        if ext.is_empty() {
            base
        } else {
            format!("{base}.{ext}")
        }
    }
}

/// The VFAT checksum of a short name, stored in each of its long-name entries.
pub(crate) fn lfn_checksum(name: &[u8; 11]) -> u8 {
    name.iter().fold(0u8, |sum, &c| {
        ((sum & 1) << 7).wrapping_add(sum >> 1).wrapping_add(c)
    })
}

/// Why a name cannot be a FAT long file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NameProblem {
    /// Empty, or longer than [`MAX_LFN`] UTF-16 units.
    Length,
    /// `.` or `..`.
    Dots,
    /// A control character or one of `" * / : < > ? \ |`.
    Char(char),
    /// A trailing dot or space.
    TrailingDotOrSpace,
}

impl std::fmt::Display for NameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameProblem::Length => write!(f, "a FAT file name has 1 to {MAX_LFN} characters"),
            NameProblem::Dots => f.write_str("\".\" and \"..\" are not file names"),
            NameProblem::Char(c) => write!(f, "{c:?} is not allowed in a FAT file name"),
            NameProblem::TrailingDotOrSpace => {
                f.write_str("a FAT file name cannot end with a dot or a space")
            }
        }
    }
}

/// Whether a long name is acceptable on FAT: 1..=255 UTF-16 units, no
/// control characters or `" * / : < > ? \ |`, not `.`/`..`, no trailing dot
/// or space.
pub(crate) fn check_long_name(name: &str) -> std::result::Result<(), NameProblem> {
    let units = name.encode_utf16().count();
    if units == 0 || units > MAX_LFN {
        return Err(NameProblem::Length);
    }
    if name == "." || name == ".." {
        return Err(NameProblem::Dots);
    }
    if let Some(c) = name
        .chars()
        .find(|&c| (c as u32) < 0x20 || "\"*/:<>?\\|".contains(c))
    {
        return Err(NameProblem::Char(c));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Err(NameProblem::TrailingDotOrSpace);
    }
    Ok(())
}

fn short_char(c: char) -> Option<u8> {
    let c = c.to_ascii_uppercase();
    if c.is_ascii_alphanumeric() || "!#$%&'()-@^_`{}~".contains(c) {
        Some(c as u8)
    } else {
        None
    }
}

/// The short name for `long`, unique among `taken` (which it is added to),
/// and whether a long-name entry is needed to keep `long` exactly.
///
/// A name that already is an upper-case 8.3 name is kept as it is; others
/// get the Windows "basis~n" form (`PROGRA~1`), with characters that are not
/// allowed in short names replaced by `_`.
pub(crate) fn short_name(long: &str, taken: &mut HashSet<[u8; 11]>) -> ([u8; 11], bool) {
    let (base_src, ext_src) = match long.rfind('.') {
        Some(i) if i > 0 => (&long[..i], &long[i + 1..]),
        _ => (long, ""),
    };
    let mut lossy = false;
    let mut convert = |s: &str, max: usize| {
        let mut out = Vec::new();
        for c in s.chars() {
            if c == ' ' || c == '.' {
                lossy = true;
                continue;
            }
            match short_char(c) {
                Some(b) => out.push(b),
                None => {
                    lossy = true;
                    out.push(b'_');
                }
            }
        }
        if out.len() > max {
            lossy = true;
        }
        out
    };
    let base = convert(base_src, 8);
    let ext = convert(ext_src, 3);
    let base = if base.is_empty() { b"_".to_vec() } else { base };
    let exact_upper = !lossy && base.len() <= 8 && ext.len() <= 3;
    let fill = |base: &[u8], tail: &[u8]| {
        let mut n = [b' '; 11];
        let keep = base.len().min(8 - tail.len());
        n[..keep].copy_from_slice(&base[..keep]);
        n[keep..keep + tail.len()].copy_from_slice(tail);
        for (i, &c) in ext.iter().take(3).enumerate() {
            n[8 + i] = c;
        }
        n
    };
    if exact_upper {
        let n = fill(&base, b"");
        if !taken.contains(&n) {
            taken.insert(n);
            let needs_lfn = long != short_text(&n);
            return (n, needs_lfn);
        }
    }
    let mut i = 1u32;
    loop {
        let tail = format!("~{i}");
        let n = fill(&base, tail.as_bytes());
        if !taken.contains(&n) {
            taken.insert(n);
            return (n, true);
        }
        i += 1;
    }
}

fn short_text(n: &[u8; 11]) -> String {
    let base: String = n[..8]
        .iter()
        .map(|&c| c as char)
        .collect::<String>()
        .trim_end()
        .to_string();
    let ext: String = n[8..]
        .iter()
        .map(|&c| c as char)
        .collect::<String>()
        .trim_end()
        .to_string();
    if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    }
}

/// How many 32-byte slots `long` takes with its short entry.
pub(crate) fn slot_count(long: &str, needs_lfn: bool) -> usize {
    if needs_lfn {
        long.encode_utf16().count().div_ceil(LFN_CHARS) + 1
    } else {
        1
    }
}

/// The long-name entries for `long` in on-disk order (highest ordinal
/// first), to be followed by the short entry named `short`.
pub(crate) fn lfn_entries(long: &str, short: &[u8; 11]) -> Vec<[u8; ENTRY_SIZE]> {
    let units: Vec<u16> = long.encode_utf16().collect();
    let count = units.len().div_ceil(LFN_CHARS);
    let sum = lfn_checksum(short);
    let mut out = Vec::with_capacity(count);
    for ord in (1..=count).rev() {
        let mut e = [0u8; ENTRY_SIZE];
        e[0] = ord as u8 | if ord == count { 0x40 } else { 0 };
        e[11] = ATTR_LFN;
        e[13] = sum;
        for (k, &off) in LFN_OFFSETS.iter().enumerate() {
            let idx = (ord - 1) * LFN_CHARS + k;
            let unit = match idx.cmp(&units.len()) {
                std::cmp::Ordering::Less => units[idx],
                std::cmp::Ordering::Equal => 0,
                std::cmp::Ordering::Greater => 0xFFFF,
            };
            e[off..off + 2].copy_from_slice(&unit.to_le_bytes());
        }
        out.push(e);
    }
    out
}

/// Collects long-name entries while a directory is scanned and checks
/// them against the short entry that follows.
#[derive(Debug, Default)]
pub(crate) struct LfnCollector {
    parts: Vec<(u8, [u16; LFN_CHARS])>,
    sum: u8,
    expect: u8,
}

impl LfnCollector {
    /// Feeds one long-name entry.
    pub fn push(&mut self, e: &[u8]) {
        let ord = e[0] & 0x1F;
        if e[0] & 0x40 != 0 {
            self.parts.clear();
            self.sum = e[13];
            self.expect = ord;
        } else if ord == 0 || ord + 1 != self.expect || e[13] != self.sum {
            self.parts.clear();
            self.expect = 0;
            return;
        }
        if self.expect == 0 {
            return;
        }
        let mut units = [0u16; LFN_CHARS];
        for (k, &off) in LFN_OFFSETS.iter().enumerate() {
            units[k] = u16::from_le_bytes([e[off], e[off + 1]]);
        }
        self.parts.push((ord, units));
        self.expect = ord;
    }

    /// The long name for the short entry `short`, if the collected entries
    /// belong to it; resets the collector.
    pub fn finish(&mut self, short: &[u8; 11]) -> Option<String> {
        let parts = std::mem::take(&mut self.parts);
        let complete = self.expect == 1 && self.sum == lfn_checksum(short);
        self.expect = 0;
        if !complete || parts.is_empty() {
            return None;
        }
        let units: Vec<u16> = parts
            .iter()
            .rev()
            .flat_map(|(_, u)| u.iter().copied())
            .take_while(|&u| u != 0)
            .collect();
        String::from_utf16(&units).ok()
    }

    /// Forgets collected entries (after a free slot).
    pub fn reset(&mut self) {
        self.parts.clear();
        self.expect = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn short(long: &str, taken: &mut HashSet<[u8; 11]>) -> (String, bool) {
        let (n, lfn) = short_name(long, taken);
        (String::from_utf8(n.to_vec()).unwrap(), lfn)
    }

    #[test]
    fn short_names_like_windows() {
        let mut t = HashSet::new();
        assert_eq!(short("BOOTMGR", &mut t), ("BOOTMGR    ".into(), false));
        assert_eq!(short("BOOT.SDI", &mut t), ("BOOT    SDI".into(), false));
        assert_eq!(short("bootmgr.efi", &mut t), ("BOOTMGR EFI".into(), true));
        assert_eq!(short("Program Files", &mut t), ("PROGRA~1   ".into(), true));
        assert_eq!(short("Program Data", &mut t), ("PROGRA~2   ".into(), true));
        assert_eq!(short("bootmgr", &mut t), ("BOOTMG~1   ".into(), true));
        assert_eq!(short("a+b.tar.gz", &mut t), ("A_BTAR~1GZ ".into(), true));
        assert_eq!(short(".hidden", &mut t), ("HIDDEN~1   ".into(), true));
        let mut t = HashSet::new();
        for i in 1..=12 {
            let (n, lfn) = short("Long file name.txt", &mut t);
            let tail = format!("~{i}");
            let expect = format!("{}{tail}TXT", &"LONGFILENAME"[..8 - tail.len()]);
            assert_eq!(n, expect);
            assert!(lfn);
            assert_eq!(t.len(), i);
        }
    }

    #[test]
    fn checksum_matches_reference() {
        // Reference value computed by the algorithm in Microsoft's FAT specification.
        assert_eq!(lfn_checksum(b"BOOTMG~1   "), {
            let mut s: u8 = 0;
            for &c in b"BOOTMG~1   " {
                s = (if s & 1 != 0 { 0x80u8 } else { 0 })
                    .wrapping_add(s >> 1)
                    .wrapping_add(c);
            }
            s
        });
    }

    #[test]
    fn names_are_checked() {
        assert!(check_long_name("boot.wim").is_ok());
        assert!(check_long_name("a:b").is_err());
        assert!(check_long_name("trailing.").is_err());
        assert!(check_long_name(&"x".repeat(256)).is_err());
        assert!(check_long_name(&"x".repeat(255)).is_ok());
    }

    proptest! {
        #[test]
        fn short_entry_round_trips(name in proptest::array::uniform11(any::<u8>()), attr: u8, nt: u8, tenth: u8,
            ct: u16, cd: u16, ad: u16, cl: u32, wt: u16, wd: u16, size: u32) {
            let e = DirEntry { name, attr, nt_case: nt, ctime_tenth: tenth, ctime: ct, cdate: cd, adate: ad,
                cluster: cl, wtime: wt, wdate: wd, size };
            prop_assert_eq!(DirEntry::parse(&e.to_bytes()), e);
        }

        #[test]
        fn long_names_round_trip(long in "[a-zA-Z0-9 ._~é€-]{1,120}") {
            prop_assume!(check_long_name(&long).is_ok());
            let mut taken = HashSet::new();
            let (short, _) = short_name(&long, &mut taken);
            let mut c = LfnCollector::default();
            for e in lfn_entries(&long, &short) {
                c.push(&e);
            }
            prop_assert_eq!(c.finish(&short), Some(long));
        }
    }
}
