//! Volume descriptors (ECMA-119 8): the primary descriptor, the Joliet
//! supplementary descriptor and the set terminator.

use super::record::{both16, both32, DirRecord, FLAG_DIRECTORY, NO_DATE};
use super::record::{Timestamp, BLOCK};

/// Where one directory hierarchy (ISO 9660 or Joliet) lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hierarchy {
    /// Root directory extent: block and bytes.
    pub root_lba: u32,
    /// Bytes of the root directory extent.
    pub root_len: u32,
    /// Bytes of each path table.
    pub path_table_len: u32,
    /// Block of the little-endian path table.
    pub l_table: u32,
    /// Block of the big-endian path table.
    pub m_table: u32,
}

/// What a descriptor says about the volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    /// The volume identifier as given.
    pub label: String,
    /// Blocks in the volume.
    pub blocks: u32,
    /// Creation and modification time.
    pub time: Timestamp,
}

fn put_text(d: &mut [u8], at: usize, len: usize, text: &[u8], joliet: bool) {
    let field = &mut d[at..at + len];
    if joliet {
        for pair in field.chunks_exact_mut(2) {
            pair.copy_from_slice(&[0, b' ']);
        }
    } else {
        field.fill(b' ');
    }
    let n = text.len().min(len) & if joliet { !1 } else { !0 };
    field[..n].copy_from_slice(&text[..n]);
}

fn ucs2(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
}

/// The ISO 9660 volume identifier: upper-case d-characters, at most 32.
pub fn iso_label(label: &str) -> String {
    label
        .chars()
        .map(|c| match c.to_ascii_uppercase() {
            u @ ('A'..='Z' | '0'..='9' | '_') => u,
            _ => '_',
        })
        .take(32)
        .collect()
}

/// A primary (`joliet == false`) or Joliet supplementary descriptor.
pub fn descriptor(info: &VolumeInfo, h: &Hierarchy, joliet: bool) -> [u8; BLOCK as usize] {
    let mut d = [0u8; BLOCK as usize];
    d[0] = if joliet { 2 } else { 1 };
    d[1..6].copy_from_slice(b"CD001");
    d[6] = 1;
    let text = |s: &str| {
        if joliet {
            ucs2(s)
        } else {
            s.as_bytes().to_vec()
        }
    };
    put_text(&mut d, 8, 32, b"", joliet);
    let label = if joliet {
        ucs2(&info.label.chars().take(16).collect::<String>())
    } else {
        iso_label(&info.label).into_bytes()
    };
    put_text(&mut d, 40, 32, &label, joliet);
    d[80..88].copy_from_slice(&both32(info.blocks));
    if joliet {
        d[88..91].copy_from_slice(b"%/E"); // UCS-2 level 3
    }
    d[120..124].copy_from_slice(&both16(1));
    d[124..128].copy_from_slice(&both16(1));
    d[128..132].copy_from_slice(&both16(BLOCK as u16));
    d[132..140].copy_from_slice(&both32(h.path_table_len));
    d[140..144].copy_from_slice(&h.l_table.to_le_bytes());
    d[148..152].copy_from_slice(&h.m_table.to_be_bytes());
    let mut root = Vec::with_capacity(34);
    DirRecord {
        lba: h.root_lba,
        len: h.root_len,
        time: info.time.record_bytes(),
        flags: FLAG_DIRECTORY,
        name: &[0],
    }
    .write(&mut root);
    d[156..190].copy_from_slice(&root);
    put_text(&mut d, 190, 128, b"", joliet);
    put_text(&mut d, 318, 128, b"", joliet);
    put_text(&mut d, 446, 128, &text("DART"), joliet);
    put_text(
        &mut d,
        574,
        128,
        &text(&format!("DART {}", crate::VERSION)),
        joliet,
    );
    put_text(&mut d, 702, 37, b"", joliet);
    put_text(&mut d, 739, 37, b"", joliet);
    put_text(&mut d, 776, 37, b"", joliet);
    let when = info.time.volume_bytes();
    d[813..830].copy_from_slice(&when);
    d[830..847].copy_from_slice(&when);
    d[847..864].copy_from_slice(&NO_DATE);
    d[864..881].copy_from_slice(&NO_DATE);
    d[881] = 1;
    d
}

/// The volume descriptor set terminator.
pub fn terminator() -> [u8; BLOCK as usize] {
    let mut d = [0u8; BLOCK as usize];
    d[0] = 255;
    d[1..6].copy_from_slice(b"CD001");
    d[6] = 1;
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_and_joliet() {
        let info = VolumeInfo {
            label: "DaRT 10".into(),
            blocks: 1000,
            time: Timestamp::from_unix(1_700_000_000),
        };
        let h = Hierarchy {
            root_lba: 30,
            root_len: 2048,
            path_table_len: 10,
            l_table: 20,
            m_table: 21,
        };
        let p = descriptor(&info, &h, false);
        assert_eq!(&p[40..48], b"DART_10 ");
        assert_eq!(&p[80..84], &1000u32.to_le_bytes());
        assert_eq!(p[156], 34);
        let j = descriptor(&info, &h, true);
        assert_eq!(j[0], 2);
        assert_eq!(&j[88..91], b"%/E");
        assert_eq!(&j[40..54], &ucs2("DaRT 10")[..]);
        assert_eq!(&j[54..56], &[0, b' ']);
    }
}
