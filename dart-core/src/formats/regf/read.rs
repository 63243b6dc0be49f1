//! The hive reader: checks every structure it follows and refers only to
//! allocated cells, so that damaged or hostile bytes give a
//! [`HiveProblem`], never a panic or a loop.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::header::{Header, BASE_BLOCK};
use super::problem::HiveProblem;
use super::{key_flags, Hive, Key, KeyId, Value, ValueType};

/// Windows refuses trees deeper than this.
const MAX_DEPTH: usize = 512;
/// A `db` segment holds this many bytes of data (all but the last).
pub(crate) const BIG_SEGMENT: usize = 16344;
/// "No cell".
pub(crate) const NONE: u32 = u32::MAX;

/// One bit per 4-byte position of the hive bins data (cells start on
/// 4-byte boundaries): a set of cell offsets without hashing.
struct OffsetSet(Vec<u64>);

impl OffsetSet {
    fn new(len: usize) -> OffsetSet {
        OffsetSet(vec![0; len / 4 / 64 + 1])
    }

    /// Adds `offset`; `false` when it was there already (or is not on a
    /// 4-byte boundary inside the data, which no cell is).
    fn insert(&mut self, offset: u32) -> bool {
        let Some((word, bit)) = self.place(offset) else {
            return false;
        };
        let fresh = *word & bit == 0;
        *word |= bit;
        fresh
    }

    fn contains(&self, offset: u32) -> bool {
        let i = offset as usize / 4;
        offset.is_multiple_of(4) && self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn place(&mut self, offset: u32) -> Option<(&mut u64, u64)> {
        if !offset.is_multiple_of(4) {
            return None;
        }
        let i = offset as usize / 4;
        self.0.get_mut(i / 64).map(|w| (w, 1u64 << (i % 64)))
    }
}

/// The hive bins data and where its allocated cells start.
struct Cells<'a> {
    data: &'a [u8],
    allocated: OffsetSet,
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

impl<'a> Cells<'a> {
    /// Walks the bins, recording allocated cells.
    fn scan(data: &'a [u8]) -> Result<Cells<'a>, HiveProblem> {
        let mut allocated = OffsetSet::new(data.len());
        let mut pos = 0usize;
        while pos < data.len() {
            let offset = pos as u32;
            let bin = |detail| HiveProblem::Bin { offset, detail };
            if data.len() - pos < 32 || &data[pos..pos + 4] != b"hbin" {
                return Err(bin("no \"hbin\" signature"));
            }
            if u32_at(data, pos + 4) as usize != pos {
                return Err(bin("its stored offset is not its position"));
            }
            let size = u32_at(data, pos + 8) as usize;
            if size < 4096 || !size.is_multiple_of(4096) || size > data.len() - pos {
                return Err(bin("its size is not a multiple of 4096 inside the hive"));
            }
            let end = pos + size;
            let mut cell = pos + 32;
            while cell < end {
                if end - cell < 8 {
                    return Err(bin("a cell runs past the end of the bin"));
                }
                let raw = u32_at(data, cell) as i32;
                let len = raw.unsigned_abs() as usize;
                if len < 8 || !len.is_multiple_of(4) || len > end - cell {
                    return Err(HiveProblem::BadCell {
                        offset: cell as u32,
                        detail: format!("size {raw} does not fit its bin"),
                    });
                }
                if raw < 0 {
                    allocated.insert(cell as u32);
                }
                cell += len;
            }
            pos = end;
        }
        Ok(Cells { data, allocated })
    }

    /// The data of the allocated cell at `offset` (without the size).
    fn get(&self, offset: u32, what: &'static str) -> Result<&'a [u8], HiveProblem> {
        if !self.allocated.contains(offset) {
            return Err(HiveProblem::BadReference { what, offset });
        }
        let start = offset as usize;
        let len = (u32_at(self.data, start) as i32).unsigned_abs() as usize;
        Ok(&self.data[start + 4..start + len])
    }

    /// The cell at `offset`, at least `min` bytes and starting with `sig`.
    fn typed(
        &self,
        offset: u32,
        what: &'static str,
        sig: &[u8],
        min: usize,
    ) -> Result<&'a [u8], HiveProblem> {
        let cell = self.get(offset, what)?;
        if cell.len() < min.max(sig.len()) || !cell.starts_with(sig) {
            return Err(HiveProblem::BadCell {
                offset,
                detail: format!(
                    "{what} should be a {:?} cell of at least {min} bytes",
                    String::from_utf8_lossy(sig)
                ),
            });
        }
        Ok(cell)
    }
}

fn bad(offset: u32, detail: impl Into<String>) -> HiveProblem {
    HiveProblem::BadCell {
        offset,
        detail: detail.into(),
    }
}

/// The UTF-16 units of a stored wide name.
type WideUnits<'a> = std::iter::Map<std::slice::ChunksExact<'a, u8>, fn(&[u8]) -> u16>;

/// A stored name's characters, as [`name`] decodes them, without building
/// a `String`.
enum RawChars<'a> {
    /// One byte per character (Latin-1).
    Compressed(std::slice::Iter<'a, u8>),
    /// UTF-16LE, unpaired surrogates replaced.
    Wide(std::char::DecodeUtf16<WideUnits<'a>>),
}

impl Iterator for RawChars<'_> {
    type Item = char;
    fn next(&mut self) -> Option<char> {
        match self {
            RawChars::Compressed(bytes) => bytes.next().map(|&b| char::from(b)),
            RawChars::Wide(units) => units
                .next()
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)),
        }
    }
}

/// A stored name upper-cased as the hive compares names
/// (`super::upcase_chars` of its decoded form).
fn upcase_raw(bytes: &[u8], compressed: bool) -> impl Iterator<Item = u16> + '_ {
    let chars = if compressed {
        RawChars::Compressed(bytes.iter())
    } else {
        let unit: fn(&[u8]) -> u16 = |c| u16_at(c, 0);
        RawChars::Wide(char::decode_utf16(bytes.chunks_exact(2).map(unit)))
    };
    super::upcase_chars(chars)
}

/// Decodes a stored name.
fn name(bytes: &[u8], compressed: bool) -> String {
    if compressed {
        bytes.iter().map(|&b| char::from(b)).collect()
    } else {
        let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16_at(c, 0)).collect();
        String::from_utf16_lossy(&units)
    }
}

pub(super) fn parse(bytes: &[u8]) -> Result<Hive, HiveProblem> {
    let (header, root, bins) = Header::parse(bytes)?;
    let data = &bytes[BASE_BLOCK..BASE_BLOCK + bins as usize];
    let cells = Cells::scan(data)?;
    let mut reader = Reader {
        cells,
        minor: header.minor,
        keys: Vec::new(),
        security: Vec::new(),
        sk_index: HashMap::new(),
    };
    reader.tree(root)?;
    let root_key = &reader.keys[0];
    if root_key.flags & key_flags::HIVE_ENTRY == 0 {
        return Err(bad(root, "the root key lacks the HIVE_ENTRY flag"));
    }
    Ok(Hive {
        header,
        keys: reader.keys,
        security: reader.security,
    })
}

struct Reader<'a> {
    cells: Cells<'a>,
    minor: u32,
    keys: Vec<Key>,
    security: Vec<Vec<u8>>,
    sk_index: HashMap<u32, usize>,
}

impl<'a> Reader<'a> {
    /// Reads the tree from the root, depth first, without recursion.
    fn tree(&mut self, root: u32) -> Result<(), HiveProblem> {
        let mut seen = OffsetSet::new(self.cells.data.len());
        // (nk offset, parent, depth)
        let mut stack = vec![(root, None::<KeyId>, 0usize)];
        let mut by_name = Vec::new();
        while let Some((off, parent, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                return Err(HiveProblem::BadTree {
                    offset: off,
                    detail: "the tree is deeper than 512 keys",
                });
            }
            if !seen.insert(off) {
                return Err(HiveProblem::BadTree {
                    offset: off,
                    detail: "the key is reachable twice (the tree loops)",
                });
            }
            let (key, subkeys) = self.key(off, parent)?;
            let id = KeyId(self.keys.len());
            self.keys.push(key);
            if let Some(p) = parent {
                self.keys[p.0].children.push(id);
            }
            if subkeys.len() > 1 {
                self.distinct_names(&subkeys, &mut by_name)?;
            }
            for &c in subkeys.iter().rev() {
                stack.push((c, Some(id), depth + 1));
            }
        }
        Ok(())
    }

    /// Refuses two subkeys whose names differ only in case: sorts the
    /// names (upper-cased as the hive compares them) and compares
    /// neighbours, without building a set.
    fn distinct_names(
        &self,
        subkeys: &[u32],
        by_name: &mut Vec<(&'a [u8], bool, u32)>,
    ) -> Result<(), HiveProblem> {
        by_name.clear();
        for &c in subkeys {
            let nk = self.cells.typed(c, "subkey list entry", b"nk", 76)?;
            let len = usize::from(u16_at(nk, 72));
            let raw = nk
                .get(76..76 + len)
                .ok_or_else(|| bad(c, "key name runs past the cell"))?;
            by_name.push((raw, u16_at(nk, 2) & key_flags::COMP_NAME != 0, c));
        }
        let cmp = |a: &(&[u8], bool, u32), b: &(&[u8], bool, u32)| {
            upcase_raw(a.0, a.1).cmp(upcase_raw(b.0, b.1))
        };
        by_name.sort_unstable_by(cmp);
        for pair in by_name.windows(2) {
            if cmp(&pair[0], &pair[1]) == Ordering::Equal {
                let n = name(pair[1].0, pair[1].1);
                return Err(bad(pair[1].2, format!("a second subkey called {n:?}")));
            }
        }
        Ok(())
    }

    /// One key and the offsets of its subkeys.
    fn key(&mut self, off: u32, parent: Option<KeyId>) -> Result<(Key, Vec<u32>), HiveProblem> {
        let nk = self.cells.typed(off, "key", b"nk", 76)?;
        let flags = u16_at(nk, 2);
        let name_len = usize::from(u16_at(nk, 72));
        let raw_name = nk
            .get(76..76 + name_len)
            .ok_or_else(|| bad(off, "key name runs past the cell"))?;
        let compressed = flags & key_flags::COMP_NAME != 0;
        let key_name = name(raw_name, compressed);

        let subkey_count = u32_at(nk, 20) as usize;
        let subkeys = match u32_at(nk, 28) {
            NONE if subkey_count == 0 => Vec::new(),
            list => self.subkeys(list)?,
        };
        if subkeys.len() != subkey_count {
            return Err(bad(
                off,
                format!(
                    "key says {subkey_count} subkeys, its list holds {}",
                    subkeys.len()
                ),
            ));
        }
        let value_count = u32_at(nk, 36) as usize;
        let values = match u32_at(nk, 40) {
            _ if value_count == 0 => Vec::new(),
            list => {
                let cell = self.cells.get(list, "value list")?;
                if cell.len() < value_count * 4 {
                    return Err(bad(
                        list,
                        format!("value list is too short for {value_count} values"),
                    ));
                }
                (0..value_count)
                    .map(|i| self.value(u32_at(cell, i * 4)))
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        let security = match u32_at(nk, 44) {
            NONE => None,
            sk => Some(self.sk(sk)?),
        };
        let class_len = usize::from(u16_at(nk, 74));
        let class = match u32_at(nk, 48) {
            _ if class_len == 0 => None,
            NONE => None,
            c => {
                let cell = self.cells.get(c, "class name")?;
                Some(
                    cell.get(..class_len)
                        .ok_or_else(|| bad(c, "class name runs past its cell"))?
                        .to_vec(),
                )
            }
        };
        Ok((
            Key {
                name: key_name,
                flags,
                timestamp: u64::from(u32_at(nk, 4)) | (u64::from(u32_at(nk, 8)) << 32),
                access: u32_at(nk, 12),
                user_flags: (u32_at(nk, 52) >> 16) as u16,
                work_var: u32_at(nk, 68),
                class,
                security,
                values,
                compressed_name: compressed,
                children: Vec::new(),
                parent,
                root_parent: u32_at(nk, 16),
            },
            subkeys,
        ))
    }

    /// The nk offsets of a subkey list (li, lf, lh, or ri of those).
    fn subkeys(&self, list: u32) -> Result<Vec<u32>, HiveProblem> {
        let cell = self.cells.get(list, "subkey list")?;
        if cell.len() < 4 {
            return Err(bad(list, "subkey list is shorter than its header"));
        }
        if cell.starts_with(b"ri") {
            let mut out = Vec::new();
            for leaf in leaf_entries(cell, list, 4)? {
                let c = self.cells.get(leaf, "index root entry")?;
                if c.starts_with(b"ri") {
                    return Err(bad(leaf, "an index root names another index root"));
                }
                out.extend(self.leaf(c, leaf)?);
            }
            Ok(out)
        } else {
            self.leaf(cell, list)
        }
    }

    fn leaf(&self, cell: &[u8], off: u32) -> Result<Vec<u32>, HiveProblem> {
        match &cell[..2] {
            b"li" => leaf_entries(cell, off, 4),
            b"lf" | b"lh" => leaf_entries(cell, off, 8),
            _ => Err(bad(off, "subkey list has no li/lf/lh/ri signature")),
        }
    }

    fn value(&self, off: u32) -> Result<Value, HiveProblem> {
        let vk = self.cells.typed(off, "value", b"vk", 20)?;
        let name_len = usize::from(u16_at(vk, 2));
        let flags = u16_at(vk, 16);
        let compressed = flags & 1 != 0;
        let raw = vk
            .get(20..20 + name_len)
            .ok_or_else(|| bad(off, "value name runs past the cell"))?;
        let size = u32_at(vk, 4);
        let data = if size & 0x8000_0000 != 0 {
            let len = (size & 0x7FFF_FFFF) as usize;
            if len > 4 {
                return Err(bad(
                    off,
                    format!("inline value data of {len} bytes (at most 4)"),
                ));
            }
            vk[8..8 + len].to_vec()
        } else if size == 0 {
            Vec::new()
        } else {
            self.data(u32_at(vk, 8), size as usize)?
        };
        Ok(Value {
            name: name(raw, compressed),
            kind: ValueType(u32_at(vk, 12)),
            data,
            flags: flags & !1,
            compressed_name: compressed,
        })
    }

    fn data(&self, off: u32, len: usize) -> Result<Vec<u8>, HiveProblem> {
        let cell = self.cells.get(off, "value data")?;
        if self.minor > 3 && len > BIG_SEGMENT && cell.starts_with(b"db") && cell.len() >= 8 {
            let count = usize::from(u16_at(cell, 2));
            let list = self.cells.get(u32_at(cell, 4), "big data segment list")?;
            if list.len() < count * 4 {
                return Err(bad(off, "big data segment list is too short"));
            }
            let mut out = Vec::with_capacity(len);
            for i in 0..count {
                let seg = self.cells.get(u32_at(list, i * 4), "big data segment")?;
                let take = (len - out.len()).min(BIG_SEGMENT).min(seg.len());
                out.extend_from_slice(&seg[..take]);
            }
            if out.len() != len {
                return Err(bad(
                    off,
                    format!("big data holds {} of {len} bytes", out.len()),
                ));
            }
            return Ok(out);
        }
        cell.get(..len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| bad(off, format!("value data of {len} bytes runs past its cell")))
    }

    /// The index of the descriptor in the `sk` cell at `off`.
    fn sk(&mut self, off: u32) -> Result<usize, HiveProblem> {
        if let Some(&i) = self.sk_index.get(&off) {
            return Ok(i);
        }
        let sk = self.cells.typed(off, "security", b"sk", 20)?;
        let len = u32_at(sk, 16) as usize;
        let sd = sk
            .get(20..20 + len)
            .ok_or_else(|| bad(off, "security descriptor runs past its cell"))?;
        let i = match self.security.iter().position(|s| s == sd) {
            Some(i) => i,
            None => {
                self.security.push(sd.to_vec());
                self.security.len() - 1
            }
        };
        self.sk_index.insert(off, i);
        Ok(i)
    }
}

/// The offsets in a li/lf/lh/ri list whose elements are `step` bytes.
fn leaf_entries(cell: &[u8], off: u32, step: usize) -> Result<Vec<u32>, HiveProblem> {
    let count = usize::from(u16_at(cell, 2));
    if cell.len() < 4 + count * step {
        return Err(bad(
            off,
            format!("list of {count} entries is longer than its cell"),
        ));
    }
    Ok((0..count).map(|i| u32_at(cell, 4 + i * step)).collect())
}
