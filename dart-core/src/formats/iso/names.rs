//! File identifiers: ISO 9660 level 1 names (8.3, upper-case d-characters,
//! `;1` version on files) and Joliet names (UCS-2 big-endian, up to 64
//! characters), made unique within a directory and sorted as ECMA-119 9.3
//! orders directory records.

use std::cmp::Ordering;
use std::collections::BTreeSet;

/// Longest Joliet identifier, in UCS-2 units.
pub const JOLIET_MAX: usize = 64;

/// One entry of a directory, as the writer names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryName {
    /// The ISO 9660 identifier bytes.
    pub iso: Vec<u8>,
    /// The Joliet identifier bytes (UCS-2 big-endian).
    pub joliet: Vec<u8>,
}

fn d_chars(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| match c.to_ascii_uppercase() {
            u @ ('A'..='Z' | '0'..='9' | '_') => u,
            _ => '_',
        })
        .take(max)
        .collect()
}

/// The ISO 9660 level 1 identifier of `name` with dedupe number `n`
/// (0 for the first try): 8.3 for files (with `;1`), 8 for directories.
fn iso_name(name: &str, is_dir: bool, n: usize) -> String {
    let (stem, ext) = match (is_dir, name.rfind('.')) {
        (false, Some(i)) if i > 0 => (&name[..i], &name[i + 1..]),
        _ => (name, ""),
    };
    let mut stem = d_chars(stem, 8);
    if stem.is_empty() {
        stem.push('_');
    }
    if n > 0 {
        let suffix = format!("~{n}");
        let keep = 8usize.saturating_sub(suffix.len()).min(stem.len());
        stem.truncate(keep);
        stem.push_str(&suffix);
    }
    if is_dir {
        stem
    } else {
        format!("{stem}.{};1", d_chars(ext, 3))
    }
}

fn joliet_name(name: &str, n: usize) -> Vec<u8> {
    let mut units: Vec<u16> = name
        .chars()
        .map(|c| match c {
            '*' | '/' | ':' | ';' | '?' | '\\' => '_',
            c if (c as u32) < 0x20 => '_',
            c => c,
        })
        .collect::<String>()
        .encode_utf16()
        .collect();
    let suffix: Vec<u16> = if n > 0 {
        format!("~{n}").encode_utf16().collect()
    } else {
        Vec::new()
    };
    units.truncate(JOLIET_MAX - suffix.len());
    // Never leave half a surrogate pair at the cut.
    if units.last().is_some_and(|u| (0xD800..0xDC00).contains(u)) {
        units.pop();
    }
    units.extend(suffix);
    units.iter().flat_map(|u| u.to_be_bytes()).collect()
}

/// Names for the entries `(name, is_dir)` of one directory, unique within
/// it in both namespaces (case-insensitively for Joliet, as Windows reads
/// it).
pub fn name_entries(entries: &[(&str, bool)]) -> Vec<EntryName> {
    let mut used_iso = BTreeSet::new();
    let mut used_joliet = BTreeSet::new();
    entries
        .iter()
        .map(|&(name, is_dir)| {
            let iso = (0..)
                .map(|n| iso_name(name, is_dir, n))
                .find(|c| used_iso.insert(c.clone()))
                .unwrap_or_default();
            let joliet = (0..)
                .map(|n| joliet_name(name, n))
                .find(|c| used_joliet.insert(fold(c)))
                .unwrap_or_default();
            EntryName {
                iso: iso.into_bytes(),
                joliet,
            }
        })
        .collect()
}

/// Joliet bytes upper-cased, for case-insensitive uniqueness.
fn fold(ucs2: &[u8]) -> Vec<u16> {
    let units: Vec<u16> = ucs2
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
        .to_uppercase()
        .encode_utf16()
        .collect()
}

/// ECMA-119 9.3 order of ISO 9660 identifiers: name, then extension, each
/// compared as if padded with spaces, then version.
pub fn iso_order(a: &[u8], b: &[u8]) -> Ordering {
    fn parts(id: &[u8]) -> (&[u8], &[u8], &[u8]) {
        let (body, version) = match id.iter().position(|&c| c == b';') {
            Some(i) => (&id[..i], &id[i + 1..]),
            None => (id, &[][..]),
        };
        match body.iter().position(|&c| c == b'.') {
            Some(i) => (&body[..i], &body[i + 1..], version),
            None => (body, &[][..], version),
        }
    }
    fn padded(a: &[u8], b: &[u8]) -> Ordering {
        let n = a.len().max(b.len());
        (0..n)
            .map(|i| a.get(i).unwrap_or(&b' ').cmp(b.get(i).unwrap_or(&b' ')))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
    let (an, ae, av) = parts(a);
    let (bn, be, bv) = parts(b);
    padded(an, bn)
        .then_with(|| padded(ae, be))
        .then_with(|| bv.cmp(av))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(entries: &[(&str, bool)]) -> Vec<String> {
        name_entries(entries)
            .into_iter()
            .map(|e| String::from_utf8(e.iso).unwrap())
            .collect()
    }

    #[test]
    fn level1_names() {
        assert_eq!(
            iso(&[
                ("bootmgr", false),
                ("boot.sdi", false),
                ("microsoft", true),
                ("etfsboot.com", false),
                ("a-b c.json", false),
                (".hidden", false),
            ]),
            [
                "BOOTMGR.;1",
                "BOOT.SDI;1",
                "MICROSOF",
                "ETFSBOOT.COM;1",
                "A_B_C.JSO;1",
                "_HIDDEN.;1"
            ]
        );
    }

    #[test]
    fn clashes_get_numbers() {
        assert_eq!(
            iso(&[
                ("longname1.txt", false),
                ("longname2.txt", false),
                ("LONGNAME1.TXT", false)
            ]),
            ["LONGNAME.TXT;1", "LONGNA~1.TXT;1", "LONGNA~2.TXT;1"]
        );
        let j = name_entries(&[("A", false), ("a", false)]);
        assert_eq!(j[0].joliet, [0, b'A']);
        assert_eq!(j[1].joliet, [0, b'a', 0, b'~', 0, b'1']);
    }

    #[test]
    fn joliet_is_ucs2_and_bounded() {
        let e = &name_entries(&[("Grüße.txt", false)])[0];
        assert_eq!(&e.joliet[..6], &[0, b'G', 0, b'r', 0, 0xFC]);
        let long = "x".repeat(100);
        assert_eq!(
            name_entries(&[(&long, false)])[0].joliet.len(),
            2 * JOLIET_MAX
        );
    }

    #[test]
    fn ecma_order() {
        assert_eq!(iso_order(b"A.B;1", b"A.B1;1"), Ordering::Less);
        assert_eq!(iso_order(b"A.X;1", b"A_.X;1"), Ordering::Less);
        assert_eq!(iso_order(b"BOOT", b"BOOTMGR.;1"), Ordering::Less);
        assert_eq!(iso_order(b"EFI", b"EFI"), Ordering::Equal);
    }
}
