//! The compact writer: lays out every live cell in one pass, then fills
//! them in.
//!
//! Cell order, key by key depth first: `nk`, class name, the `sk` of a
//! descriptor not yet written, value list, `vk` and data cells, subkey
//! list. Bins are 4096 bytes (bigger only for a cell that needs it); the
//! space a cell cannot use at the end of a bin is one free cell. Subkey
//! lists are sorted by upper-cased name as Windows requires: `lf` with a
//! four-character hint in minor versions up to 4, `lh` with the name hash
//! above. Data of at most 4 bytes sits inside its `vk`; data over 16344
//! bytes in minor versions above 3 goes into `db` segments.

use super::header::BASE_BLOCK;
use super::read::{BIG_SEGMENT, NONE};
use super::{key_flags, upcase_chars, Hive, KeyId, Value};

const BIN: usize = 4096;
const BIN_HEADER: usize = 32;

/// Where each cell goes.
#[derive(Default)]
struct Layout {
    /// (offset, size) of every allocated cell in order, and free tails.
    bins: Vec<(usize, usize)>,
    free: Vec<(usize, usize)>,
    pos: usize,
    end: usize,
}

impl Layout {
    fn alloc(&mut self, payload: usize) -> u32 {
        let size = (payload + 4).div_ceil(8) * 8;
        if self.pos + size > self.end {
            if self.end > self.pos {
                self.free.push((self.pos, self.end - self.pos));
            }
            let bin = (size + BIN_HEADER).div_ceil(BIN) * BIN;
            self.bins.push((self.end, bin));
            self.pos = self.end + BIN_HEADER;
            self.end += bin;
        }
        let off = self.pos;
        self.pos += size;
        off as u32
    }

    fn finish(&mut self) {
        if self.end > self.pos {
            self.free.push((self.pos, self.end - self.pos));
            self.pos = self.end;
        }
    }
}

/// Offsets of one key's cells.
struct KeyCells {
    nk: u32,
    class: u32,
    values: u32,
    vk: Vec<(u32, DataCells)>,
    list: u32,
}

enum DataCells {
    Inline,
    One(u32),
    Big {
        db: u32,
        list: u32,
        segments: Vec<u32>,
    },
}

/// Whether `name` is stored one byte per character (Latin-1): asked for,
/// and possible.
fn stays_compressed(name: &str, compressed: bool) -> bool {
    compressed && name.chars().all(|c| (c as u32) <= 0xFF)
}

/// The stored length of `name` in bytes.
fn name_len(name: &str, compressed: bool) -> usize {
    if stays_compressed(name, compressed) {
        name.chars().count()
    } else {
        name.encode_utf16().count() * 2
    }
}

/// Appends the stored bytes of `name` to `out`; returns whether they are
/// compressed.
fn push_name(out: &mut Vec<u8>, name: &str, compressed: bool) -> bool {
    if stays_compressed(name, compressed) {
        out.extend(name.chars().map(|c| c as u32 as u8));
        true
    } else {
        out.extend(name.encode_utf16().flat_map(u16::to_le_bytes));
        false
    }
}

fn big(minor: u32, v: &Value) -> bool {
    minor > 3 && v.data.len() > BIG_SEGMENT
}

pub(super) fn serialize(hive: &Hive) -> Vec<u8> {
    // Depth first with subkeys in their sorted order, so equal trees give
    // equal bytes whatever order their keys were added in.
    let mut order = Vec::new();
    let mut sorted: Vec<Vec<KeyId>> = vec![Vec::new(); hive.keys.len()];
    let mut stack = vec![Hive::ROOT];
    while let Some(k) = stack.pop() {
        order.push(k);
        let children = sorted_children(hive, k);
        stack.extend(children.iter().rev());
        sorted[k.0] = children;
    }
    let minor = hive.header.minor;
    let mut layout = Layout::default();
    let mut cells: Vec<Option<KeyCells>> = (0..hive.keys.len()).map(|_| None).collect();
    let mut sk_cells: Vec<Option<u32>> = vec![None; hive.security.len()];
    let mut sk_order = Vec::new();
    let mut sk_refs = vec![0u32; hive.security.len()];

    for &id in &order {
        let key = hive.key(id);
        let nk = layout.alloc(76 + name_len(&key.name, key.compressed_name));
        let class = match &key.class {
            Some(c) if !c.is_empty() => layout.alloc(c.len()),
            _ => NONE,
        };
        if let Some(s) = key.security.filter(|s| *s < hive.security.len()) {
            sk_refs[s] += 1;
            if sk_cells[s].is_none() {
                sk_cells[s] = Some(layout.alloc(20 + hive.security[s].len()));
                sk_order.push(s);
            }
        }
        let values = if key.values.is_empty() {
            NONE
        } else {
            layout.alloc(4 * key.values.len())
        };
        let mut vk = Vec::new();
        for v in &key.values {
            let cell = layout.alloc(20 + name_len(&v.name, v.compressed_name));
            let data = if v.data.len() <= 4 {
                DataCells::Inline
            } else if big(minor, v) {
                let n = v.data.len().div_ceil(BIG_SEGMENT);
                let db = layout.alloc(8);
                let list = layout.alloc(4 * n);
                let segments = v
                    .data
                    .chunks(BIG_SEGMENT)
                    .map(|c| layout.alloc(c.len()))
                    .collect();
                DataCells::Big { db, list, segments }
            } else {
                DataCells::One(layout.alloc(v.data.len()))
            };
            vk.push((cell, data));
        }
        let n = hive.children(id).len();
        let list = if n == 0 {
            NONE
        } else {
            layout.alloc(4 + n * 8)
        };
        cells[id.0] = Some(KeyCells {
            nk,
            class,
            values,
            vk,
            list,
        });
    }
    layout.finish();

    let mut data = vec![0u8; layout.end];
    for &(off, size) in &layout.bins {
        data[off..off + 4].copy_from_slice(b"hbin");
        put(&mut data, off + 4, off as u32);
        put(&mut data, off + 8, size as u32);
        if off == 0 {
            data[20..28].copy_from_slice(&hive.header.timestamp.to_le_bytes());
        }
    }
    for &(off, size) in &layout.free {
        put(&mut data, off, size as u32);
    }
    let mut w = Writer { data: &mut data };

    // Security cells, one ring.
    for (i, &s) in sk_order.iter().enumerate() {
        let off = sk_cells[s].unwrap_or(NONE);
        let next = sk_cells[sk_order[(i + 1) % sk_order.len()]].unwrap_or(NONE);
        let prev = sk_cells[sk_order[(i + sk_order.len() - 1) % sk_order.len()]].unwrap_or(NONE);
        let sd = &hive.security[s];
        let mut c = Vec::with_capacity(20 + sd.len());
        c.extend(b"sk\0\0");
        c.extend(next.to_le_bytes());
        c.extend(prev.to_le_bytes());
        c.extend(sk_refs[s].to_le_bytes());
        c.extend((sd.len() as u32).to_le_bytes());
        c.extend(sd);
        w.cell(off, &c);
    }

    // One buffer for every cell's payload, and one for names.
    let mut cell: Vec<u8> = Vec::with_capacity(256);
    let mut name: Vec<u8> = Vec::with_capacity(64);
    for &id in &order {
        let Some(kc) = &cells[id.0] else { continue };
        let key = hive.key(id);
        name.clear();
        let compressed = push_name(&mut name, &key.name, key.compressed_name);
        let children = std::mem::take(&mut sorted[id.0]);
        let max = |f: &dyn Fn(&KeyId) -> usize| children.iter().map(f).max().unwrap_or(0);
        let max_name = max(&|c| hive.key(*c).name.encode_utf16().count() * 2);
        let max_class = max(&|c| hive.key(*c).class.as_ref().map_or(0, Vec::len));
        let max_vname = key
            .values
            .iter()
            .map(|v| v.name.encode_utf16().count() * 2)
            .max()
            .unwrap_or(0);
        let max_data = key.values.iter().map(|v| v.data.len()).max().unwrap_or(0);
        let parent = match hive.parent(id) {
            Some(p) => cells[p.0].as_ref().map_or(NONE, |c| c.nk),
            None => key.root_parent,
        };
        let mut flags = key.flags & !key_flags::COMP_NAME;
        if compressed {
            flags |= key_flags::COMP_NAME;
        }
        if id == Hive::ROOT {
            flags |= key_flags::HIVE_ENTRY;
        } else {
            flags &= !key_flags::HIVE_ENTRY;
        }
        let security = key
            .security
            .and_then(|s| sk_cells.get(s).copied().flatten())
            .unwrap_or(NONE);
        let class_len = key.class.as_ref().map_or(0, Vec::len);
        let nk = &mut cell;
        nk.clear();
        nk.extend(b"nk");
        nk.extend(flags.to_le_bytes());
        nk.extend(key.timestamp.to_le_bytes());
        nk.extend(key.access.to_le_bytes());
        nk.extend(parent.to_le_bytes());
        nk.extend((children.len() as u32).to_le_bytes());
        nk.extend(0u32.to_le_bytes());
        nk.extend(kc.list.to_le_bytes());
        nk.extend(NONE.to_le_bytes());
        nk.extend((key.values.len() as u32).to_le_bytes());
        nk.extend(kc.values.to_le_bytes());
        nk.extend(security.to_le_bytes());
        nk.extend(kc.class.to_le_bytes());
        nk.extend(((max_name as u32 & 0xFFFF) | (u32::from(key.user_flags) << 16)).to_le_bytes());
        nk.extend((max_class as u32).to_le_bytes());
        nk.extend((max_vname as u32).to_le_bytes());
        nk.extend((max_data as u32).to_le_bytes());
        nk.extend(key.work_var.to_le_bytes());
        nk.extend((name.len() as u16).to_le_bytes());
        nk.extend((class_len as u16).to_le_bytes());
        nk.extend(&name);
        w.cell(kc.nk, nk);

        if let Some(class) = key.class.as_ref().filter(|c| !c.is_empty()) {
            w.cell(kc.class, class);
        }
        if kc.values != NONE {
            cell.clear();
            cell.extend(kc.vk.iter().flat_map(|(o, _)| o.to_le_bytes()));
            w.cell(kc.values, &cell);
        }
        for (v, (off, data)) in key.values.iter().zip(&kc.vk) {
            name.clear();
            let vcomp = push_name(&mut name, &v.name, v.compressed_name);
            let len = v.data.len() as u32;
            let vk = &mut cell;
            vk.clear();
            vk.extend(b"vk");
            vk.extend((name.len() as u16).to_le_bytes());
            match data {
                DataCells::Inline => {
                    vk.extend((len | 0x8000_0000).to_le_bytes());
                    let mut inline = [0u8; 4];
                    inline[..v.data.len()].copy_from_slice(&v.data);
                    vk.extend(inline);
                }
                DataCells::One(d) => {
                    vk.extend(len.to_le_bytes());
                    vk.extend(d.to_le_bytes());
                    w.cell(*d, &v.data);
                }
                DataCells::Big { db, list, segments } => {
                    vk.extend(len.to_le_bytes());
                    vk.extend(db.to_le_bytes());
                    let mut dbc = b"db".to_vec();
                    dbc.extend((segments.len() as u16).to_le_bytes());
                    dbc.extend(list.to_le_bytes());
                    w.cell(*db, &dbc);
                    let l: Vec<u8> = segments.iter().flat_map(|s| s.to_le_bytes()).collect();
                    w.cell(*list, &l);
                    for (s, chunk) in segments.iter().zip(v.data.chunks(BIG_SEGMENT)) {
                        w.cell(*s, chunk);
                    }
                }
            }
            vk.extend(v.kind.0.to_le_bytes());
            vk.extend((v.flags & !1 | u16::from(vcomp)).to_le_bytes());
            vk.extend(0u16.to_le_bytes());
            vk.extend(&name);
            w.cell(*off, vk);
        }
        if kc.list != NONE {
            let l = &mut cell;
            l.clear();
            l.extend(if minor <= 4 { b"lf" } else { b"lh" });
            l.extend((children.len() as u16).to_le_bytes());
            for c in &children {
                let off = cells[c.0].as_ref().map_or(NONE, |k| k.nk);
                l.extend(off.to_le_bytes());
                let name = &hive.key(*c).name;
                if minor <= 4 {
                    l.extend(hint(name));
                } else {
                    l.extend(hash(name).to_le_bytes());
                }
            }
            w.cell(kc.list, l);
        }
    }

    let root = cells[0].as_ref().map_or(NONE, |c| c.nk);
    let mut out = Vec::with_capacity(BASE_BLOCK + data.len());
    out.extend(hive.header.to_bytes(root, data.len() as u32));
    out.extend(data);
    out
}

/// Subkeys sorted as Windows requires: by upper-cased UTF-16 units.
fn sorted_children(hive: &Hive, id: KeyId) -> Vec<KeyId> {
    let mut c = hive.children(id).to_vec();
    c.sort_by(|a, b| name_order(&hive.key(*a).name, &hive.key(*b).name));
    c
}

/// The order of two names as Windows sorts them (UTF-16 units, upper-cased by `upcase_chars`), without allocating.
fn name_order(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a
            .bytes()
            .map(|c| c.to_ascii_uppercase())
            .cmp(b.bytes().map(|c| c.to_ascii_uppercase()));
    }
    upcase_chars(a.chars()).cmp(upcase_chars(b.chars()))
}

/// The `lf` hint: the first four characters, NUL where one is not ASCII.
fn hint(name: &str) -> [u8; 4] {
    let mut h = [0u8; 4];
    for (slot, u) in h.iter_mut().zip(name.encode_utf16()) {
        *slot = if u < 0x80 { u as u8 } else { 0 };
    }
    h
}

/// The `lh` hash: h = h * 37 + c over the upper-cased name.
fn hash(name: &str) -> u32 {
    upcase_chars(name.chars()).fold(0u32, |h, u| h.wrapping_mul(37).wrapping_add(u32::from(u)))
}

struct Writer<'a> {
    data: &'a mut Vec<u8>,
}

impl Writer<'_> {
    /// Writes an allocated cell: negative size, then the payload.
    fn cell(&mut self, off: u32, payload: &[u8]) {
        let off = off as usize;
        let size = (payload.len() + 4).div_ceil(8) * 8;
        put(self.data, off, (size as i32).wrapping_neg() as u32);
        self.data[off + 4..off + 4 + payload.len()].copy_from_slice(payload);
    }
}

fn put(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
