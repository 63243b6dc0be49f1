//! Registry hives (regf), the file format of BCD stores: a reader for any
//! hive and a compact writer.
//!
//! [`Hive`] holds the whole tree in memory: keys ([`Key`], addressed by
//! [`KeyId`]) with their values ([`Value`]), security descriptors, class
//! names, flags and timestamps. [`Hive::parse`] reads the base block, the
//! hive bins and every cell kind (`nk`, `vk`, `lf`/`lh`/`li`/`ri`, `sk`,
//! `db`); [`Hive::to_bytes`] writes the tree back as a fresh, compact hive
//! (no free cells between the used ones) that keeps every field it read:
//! key flags, access bits, timestamps, class names, security descriptors
//! (deduplicated, reference counts recomputed), the base block's reserved
//! bytes and the minor version.
//!
//! Facts and their sources (Maxim Suhanov's format specification, ReactOS
//! `cmlib`, libhivex) and the fields the writer sets, with the reasons,
//! are in DESIGN.md, 'Registry hives'.
//!
//! ```
//! use dart_core::formats::regf::{Hive, ValueType};
//! let mut hive = Hive::new("BCD00000000", 0x01d0_0000_0000_0000);
//! let desc = hive.add_key(Hive::ROOT, "Description")?;
//! hive.set_value(desc, "KeyName", ValueType::SZ, dart_core::formats::regf::utf16z("BCD00000000"));
//! let bytes = hive.to_bytes();
//! let back = Hive::parse(&bytes).map_err(|p| p.to_string()).unwrap();
//! assert_eq!(back.find(Hive::ROOT, &["description"]), Some(desc));
//! # Ok::<(), dart_core::formats::regf::HiveProblem>(())
//! ```

mod header;
mod problem;
mod read;
mod security;
mod write;

pub use header::Header;
pub use problem::HiveProblem;

/// A key's place in its [`Hive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(usize);

/// Registry value types (`REG_*`); any other number is kept as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValueType(pub u32);

impl ValueType {
    /// `REG_NONE`.
    pub const NONE: ValueType = ValueType(0);
    /// `REG_SZ`: UTF-16LE text, NUL-terminated.
    pub const SZ: ValueType = ValueType(1);
    /// `REG_EXPAND_SZ`.
    pub const EXPAND_SZ: ValueType = ValueType(2);
    /// `REG_BINARY`.
    pub const BINARY: ValueType = ValueType(3);
    /// `REG_DWORD`: 4 bytes, little-endian.
    pub const DWORD: ValueType = ValueType(4);
    /// `REG_MULTI_SZ`: NUL-separated UTF-16LE strings ending in two NULs.
    pub const MULTI_SZ: ValueType = ValueType(7);
    /// `REG_QWORD`.
    pub const QWORD: ValueType = ValueType(11);

    /// The name regedit uses (`REG_SZ`), or the number.
    pub fn name(self) -> String {
        match self.0 {
            0 => "REG_NONE".into(),
            1 => "REG_SZ".into(),
            2 => "REG_EXPAND_SZ".into(),
            3 => "REG_BINARY".into(),
            4 => "REG_DWORD".into(),
            5 => "REG_DWORD_BIG_ENDIAN".into(),
            6 => "REG_LINK".into(),
            7 => "REG_MULTI_SZ".into(),
            11 => "REG_QWORD".into(),
            n => format!("type {n:#x}"),
        }
    }
}

/// Key flags (`nk` flags field).
pub mod key_flags {
    /// The hive's root key.
    pub const HIVE_ENTRY: u16 = 0x0004;
    /// The key cannot be deleted.
    pub const NO_DELETE: u16 = 0x0008;
    /// The name is stored one byte per character.
    pub const COMP_NAME: u16 = 0x0020;
}

/// One value of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// The name (empty: the key's default value).
    pub name: String,
    /// The registry type.
    pub kind: ValueType,
    /// The data, as stored.
    pub data: Vec<u8>,
    /// `vk` flags other than the name-compression bit.
    pub flags: u16,
    /// Whether the name is written one byte per character when it can be.
    pub compressed_name: bool,
}

/// One key: its name, what it holds and the fields the writer keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The name (case is kept; lookups ignore it).
    pub name: String,
    /// `nk` flags ([`key_flags`]); the compression bit is set by the writer.
    pub flags: u16,
    /// Last written time (Windows FILETIME, 100 ns since 1601).
    pub timestamp: u64,
    /// The access-bits field (`nk` offset 12).
    pub access: u32,
    /// Bits 16-31 of the largest-subkey-name field (virtualization, user
    /// and debug flags).
    pub user_flags: u16,
    /// The `WorkVar` field, kept as read.
    pub work_var: u32,
    /// The class name's bytes.
    pub class: Option<Vec<u8>>,
    /// Index into the hive's security descriptors.
    pub security: Option<usize>,
    /// The values, in stored order.
    pub values: Vec<Value>,
    /// Whether the name is written one byte per character when it can be.
    pub compressed_name: bool,
    children: Vec<KeyId>,
    parent: Option<KeyId>,
    /// The root key's parent field, kept as read (meaningless, but kept).
    root_parent: u32,
}

impl Key {
    fn new(name: &str, parent: Option<KeyId>, timestamp: u64, security: Option<usize>) -> Key {
        Key {
            name: name.to_string(),
            flags: 0,
            timestamp,
            access: 0,
            user_flags: 0,
            work_var: 0,
            class: None,
            security,
            values: Vec::new(),
            compressed_name: name.is_ascii(),
            children: Vec::new(),
            parent,
            root_parent: 0,
        }
    }

    /// The value called `name` (case-insensitive).
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|v| same_name(&v.name, name))
    }
}

/// A registry hive held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hive {
    /// The base block fields kept from the file (or set for a new hive).
    pub header: Header,
    keys: Vec<Key>,
    /// Security descriptors (self-relative), referenced by [`Key::security`].
    pub security: Vec<Vec<u8>>,
}

/// The most keys a hive may hold below one key (a `u16` list count).
const MAX_CHILDREN: usize = u16::MAX as usize;

impl Hive {
    /// The root key of every hive.
    pub const ROOT: KeyId = KeyId(0);

    /// A new hive (regf 1.3, as BCD stores are) with one root key called
    /// `root`, owned by Administrators with full control for SYSTEM and
    /// Administrators, stamped `timestamp` (FILETIME).
    pub fn new(root: &str, timestamp: u64) -> Hive {
        let mut key = Key::new(root, None, timestamp, Some(0));
        key.flags = key_flags::HIVE_ENTRY | key_flags::NO_DELETE;
        Hive {
            header: Header::new(timestamp),
            keys: vec![key],
            security: vec![security::default_descriptor()],
        }
    }

    /// Reads a hive. Refuses a dirty hive (sequence numbers differ) and any
    /// damage, naming the field or cell; never panics.
    pub fn parse(bytes: &[u8]) -> Result<Hive, HiveProblem> {
        read::parse(bytes)
    }

    /// Writes the hive: base block, then hive bins holding exactly the
    /// live tree. The sequence numbers are the header's plus one (both
    /// equal), and the checksum is valid for Windows and for libhivex.
    pub fn to_bytes(&self) -> Vec<u8> {
        write::serialize(self)
    }

    /// A key.
    pub fn key(&self, id: KeyId) -> &Key {
        &self.keys[id.0]
    }

    /// A key, to change its values or fields.
    pub fn key_mut(&mut self, id: KeyId) -> &mut Key {
        &mut self.keys[id.0]
    }

    /// The subkeys of `id`, in stored order.
    pub fn children(&self, id: KeyId) -> &[KeyId] {
        &self.keys[id.0].children
    }

    /// The parent of `id` (`None` for the root).
    pub fn parent(&self, id: KeyId) -> Option<KeyId> {
        self.keys[id.0].parent
    }

    /// The subkey of `id` called `name` (case-insensitive).
    pub fn child(&self, id: KeyId, name: &str) -> Option<KeyId> {
        self.children(id)
            .iter()
            .copied()
            .find(|c| same_name(&self.keys[c.0].name, name))
    }

    /// The key at `path` below `from`.
    pub fn find(&self, from: KeyId, path: &[&str]) -> Option<KeyId> {
        path.iter().try_fold(from, |k, name| self.child(k, name))
    }

    /// Adds a subkey (or returns the one of that name). It inherits its
    /// parent's security descriptor, timestamp and access bits.
    pub fn add_key(&mut self, parent: KeyId, name: &str) -> Result<KeyId, HiveProblem> {
        if let Some(id) = self.child(parent, name) {
            return Ok(id);
        }
        if name.is_empty() || name.contains('\\') || name.chars().count() > 255 {
            return Err(HiveProblem::Name {
                name: name.to_string(),
                detail: "a key name has 1 to 255 characters and no backslash".into(),
            });
        }
        if self.keys[parent.0].children.len() >= MAX_CHILDREN {
            return Err(HiveProblem::Name {
                name: name.to_string(),
                detail: format!(
                    "key {:?} already has {MAX_CHILDREN} subkeys",
                    self.keys[parent.0].name
                ),
            });
        }
        let p = &self.keys[parent.0];
        let mut key = Key::new(name, Some(parent), p.timestamp, p.security);
        key.access = p.access;
        let id = KeyId(self.keys.len());
        self.keys.push(key);
        self.keys[parent.0].children.push(id);
        Ok(id)
    }

    /// Adds the keys of `path` below `from` that do not exist yet.
    pub fn add_path(&mut self, from: KeyId, path: &[&str]) -> Result<KeyId, HiveProblem> {
        path.iter().try_fold(from, |k, name| self.add_key(k, name))
    }

    /// Removes the subkey `id` and everything below it.
    pub fn remove_key(&mut self, id: KeyId) {
        if let Some(parent) = self.keys[id.0].parent {
            self.keys[parent.0].children.retain(|c| *c != id);
            self.keys[id.0].parent = None;
        }
    }

    /// Sets (or adds) the value `name` of key `id`, keeping its flags.
    pub fn set_value(&mut self, id: KeyId, name: &str, kind: ValueType, data: Vec<u8>) {
        let key = &mut self.keys[id.0];
        match key.values.iter_mut().find(|v| same_name(&v.name, name)) {
            Some(v) => {
                v.kind = kind;
                v.data = data;
            }
            None => key.values.push(Value {
                name: name.to_string(),
                kind,
                data,
                flags: 0,
                compressed_name: name.is_ascii(),
            }),
        }
    }

    /// Every live key below `from` (itself first), depth first, subkeys in
    /// stored order.
    pub fn walk(&self, from: KeyId) -> Vec<KeyId> {
        let mut out = Vec::new();
        let mut stack = vec![from];
        while let Some(k) = stack.pop() {
            out.push(k);
            stack.extend(self.children(k).iter().rev());
        }
        out
    }

    /// The path of `id` below the root, names joined with `\`.
    pub fn path(&self, id: KeyId) -> String {
        let mut names = Vec::new();
        let mut k = id;
        while let Some(p) = self.parent(k) {
            names.push(self.key(k).name.as_str());
            k = p;
        }
        names.reverse();
        names.join("\\")
    }

    /// Copies the key `from` of `source` (with everything below it) to a
    /// new subkey of `parent` called `name`, keeping every field; security
    /// descriptors are added to this hive when missing.
    pub fn copy_key(
        &mut self,
        source: &Hive,
        from: KeyId,
        parent: KeyId,
        name: &str,
    ) -> Result<KeyId, HiveProblem> {
        let top = self.add_key(parent, name)?;
        let mut work = vec![(from, top)];
        while let Some((src, dst)) = work.pop() {
            let s = source.key(src);
            let security = match s.security {
                Some(i) => Some(self.intern_security(&source.security[i])),
                None => self.keys[dst.0].security,
            };
            let d = &mut self.keys[dst.0];
            d.flags = s.flags & !key_flags::HIVE_ENTRY;
            d.timestamp = s.timestamp;
            d.access = s.access;
            d.user_flags = s.user_flags;
            d.work_var = s.work_var;
            d.class = s.class.clone();
            d.security = security;
            d.values = s.values.clone();
            for &c in source.children(src) {
                let child = self.add_key(dst, &source.key(c).name)?;
                work.push((c, child));
            }
        }
        Ok(top)
    }

    /// Copies the key `from` of this hive (with everything below it) to a
    /// new subkey of `parent` called `name`, keeping every field, without
    /// a second hive to copy from. `parent` must not lie below `from`.
    pub fn duplicate_key(
        &mut self,
        from: KeyId,
        parent: KeyId,
        name: &str,
    ) -> Result<KeyId, HiveProblem> {
        let mut up = Some(parent);
        while let Some(k) = up {
            if k == from {
                return Err(HiveProblem::Name {
                    name: name.to_string(),
                    detail: format!(
                        "key {:?} cannot be copied below itself",
                        self.keys[from.0].name
                    ),
                });
            }
            up = self.keys[k.0].parent;
        }
        let top = self.add_key(parent, name)?;
        let mut work = vec![(from, top)];
        while let Some((src, dst)) = work.pop() {
            let s = &self.keys[src.0];
            let fields = (
                s.flags & !key_flags::HIVE_ENTRY,
                s.timestamp,
                s.access,
                s.user_flags,
                s.work_var,
                s.class.clone(),
                s.security.or(self.keys[dst.0].security),
                s.values.clone(),
            );
            let children = s.children.clone();
            let d = &mut self.keys[dst.0];
            (
                d.flags,
                d.timestamp,
                d.access,
                d.user_flags,
                d.work_var,
                d.class,
                d.security,
                d.values,
            ) = fields;
            for c in children {
                let child_name = self.keys[c.0].name.clone();
                let child = self.add_key(dst, &child_name)?;
                work.push((c, child));
            }
        }
        Ok(top)
    }

    fn intern_security(&mut self, sd: &[u8]) -> usize {
        match self.security.iter().position(|s| s == sd) {
            Some(i) => i,
            None => {
                self.security.push(sd.to_vec());
                self.security.len() - 1
            }
        }
    }
}

/// Registry names compare without regard to case.
pub fn same_name(a: &str, b: &str) -> bool {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    // Bytes equal but for ASCII case are characters equal once upper-cased,
    // so only the first difference matters: two ASCII bytes there (each a
    // character of its own) or one name ending there decide at once; a
    // character beyond ASCII may still upper-case to the other's (`ı` is
    // `I` in upper case), so those names are compared in full.
    match x
        .iter()
        .zip(y)
        .position(|(p, q)| !p.eq_ignore_ascii_case(q))
    {
        None => x.len() == y.len(),
        Some(i) if x[i].is_ascii() && y[i].is_ascii() => false,
        Some(_) => upcase_units(a).eq(upcase_units(b)),
    }
}

/// Upper-cases UTF-16 units one by one, as Windows does (a character whose
/// upper case is not one unit stays as it is).
fn upcase_units(name: &str) -> impl Iterator<Item = u16> + '_ {
    upcase_chars(name.chars())
}

/// [`upcase_units`] of any characters, without collecting them.
pub(crate) fn upcase_chars(chars: impl Iterator<Item = char>) -> impl Iterator<Item = u16> {
    chars
        .flat_map(|c| {
            let mut units = [0u16; 2];
            let n = c.encode_utf16(&mut units).len();
            units.into_iter().take(n)
        })
        .map(|u| match char::from_u32(u32::from(u)) {
            Some(c) => {
                let mut up = c.to_uppercase();
                match (up.next(), up.next()) {
                    (Some(one), None) if (one as u32) <= 0xFFFF => one as u32 as u16,
                    _ => u,
                }
            }
            None => u,
        })
}

/// `text` as `REG_SZ` data: UTF-16LE with a terminating NUL.
pub fn utf16z(text: &str) -> Vec<u8> {
    text.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// `REG_SZ` data as text: up to the first NUL, unpaired surrogates replaced.
pub fn from_utf16z(data: &[u8]) -> String {
    let units = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|u| *u != 0);
    utf16_lossy(units, data.len() / 2)
}

/// Decodes UTF-16 units (unpaired surrogates replaced) into a string
/// allocated once for `hint` units of ASCII.
fn utf16_lossy(units: impl Iterator<Item = u16>, hint: usize) -> String {
    let mut out = String::with_capacity(hint);
    out.extend(char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)));
    out
}

/// `REG_MULTI_SZ` data from strings.
pub fn multi_sz(items: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in items {
        out.extend(utf16z(s));
    }
    out.extend([0, 0]);
    out
}

/// `REG_MULTI_SZ` data as strings (empty strings dropped).
pub fn from_multi_sz(data: &[u8]) -> Vec<String> {
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    units
        .split(|u| *u == 0)
        .filter(|s| !s.is_empty())
        .map(|s| utf16_lossy(s.iter().copied(), s.len()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The fast paths of `same_name` agree with comparing the
        /// upper-cased units in full, for names mixing ASCII with letters
        /// whose upper case is ASCII (`ı`, `ſ`), beyond the BMP, and alike.
        #[test]
        fn same_name_is_equality_of_upper_cased_units(
            a in "[aAiIsSıſßäÄ{}0-9😀-]{0,6}",
            b in "[aAiIsSıſßäÄ{}0-9😀-]{0,6}",
        ) {
            let full = upcase_units(&a).eq(upcase_units(&b));
            prop_assert_eq!(same_name(&a, &b), full, "{:?} {:?}", a, b);
            prop_assert!(same_name(&a, &a.to_ascii_uppercase()));
        }
    }

    #[test]
    fn names_beyond_ascii_compare_as_windows_upper_cases_them() {
        assert!(same_name("ıd", "ID"));
        assert!(same_name("Äpfel", "äPFEL"));
        assert!(!same_name("ab", "abc"));
        assert!(!same_name("{A}", "{B}"));
        assert!(same_name("{abc}", "{ABC}"));
    }
}
