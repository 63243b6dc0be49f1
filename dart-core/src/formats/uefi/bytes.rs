//! Little-endian reads that check their bounds, and UTF-16 strings, for
//! the codecs of this module: hostile bytes give a [`UefiProblem`], never
//! a panic.

use super::UefiProblem;

/// `bytes[offset..offset + len]`, or a [`UefiProblem::Truncated`] naming `what`.
pub(crate) fn slice<'a>(
    bytes: &'a [u8],
    offset: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], UefiProblem> {
    offset
        .checked_add(len)
        .and_then(|end| bytes.get(offset..end))
        .ok_or(UefiProblem::Truncated {
            what,
            offset,
            needed: len,
            available: bytes.len().saturating_sub(offset),
        })
}

/// The `N` bytes at `offset`.
pub(crate) fn array<const N: usize>(
    bytes: &[u8],
    offset: usize,
    what: &'static str,
) -> Result<[u8; N], UefiProblem> {
    let s = slice(bytes, offset, N, what)?;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Ok(a)
}

/// The u16 at `offset`.
pub(crate) fn u16_at(bytes: &[u8], offset: usize, what: &'static str) -> Result<u16, UefiProblem> {
    array(bytes, offset, what).map(u16::from_le_bytes)
}

/// The u32 at `offset`.
pub(crate) fn u32_at(bytes: &[u8], offset: usize, what: &'static str) -> Result<u32, UefiProblem> {
    array(bytes, offset, what).map(u32::from_le_bytes)
}

/// The u64 at `offset`.
pub(crate) fn u64_at(bytes: &[u8], offset: usize, what: &'static str) -> Result<u64, UefiProblem> {
    array(bytes, offset, what).map(u64::from_le_bytes)
}

/// A NUL-terminated UTF-16LE string starting at `offset` of `bytes`:
/// the string and the number of bytes it took, NUL included.
pub(crate) fn utf16z(
    bytes: &[u8],
    offset: usize,
    field: &'static str,
) -> Result<(String, usize), UefiProblem> {
    let bad = UefiProblem::BadString { field, offset };
    let rest = bytes.get(offset..).ok_or_else(|| bad.clone())?;
    let mut units = Vec::new();
    for pair in rest.chunks_exact(2) {
        let unit = u16::from_le_bytes([pair[0], pair[1]]);
        if unit == 0 {
            let s = String::from_utf16(&units).map_err(|_| bad)?;
            return Ok((s, units.len() * 2 + 2));
        }
        units.push(unit);
    }
    Err(bad)
}

/// `s` as UTF-16LE with a NUL terminator; refuses a string holding a NUL
/// (it would read back shorter).
pub(crate) fn encode_utf16z(s: &str, field: &'static str) -> Result<Vec<u8>, UefiProblem> {
    if s.contains('\0') {
        return Err(UefiProblem::Unencodable {
            field,
            reason: "it holds a NUL character".into(),
        });
    }
    Ok(s.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect())
}
