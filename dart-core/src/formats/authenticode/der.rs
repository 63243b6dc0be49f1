//! A DER reader with no allocation and no panics: tag, length, contents.

use super::AuthenticodeProblem;

/// One DER element: its tag byte, its contents and its whole encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub contents: &'a [u8],
    pub whole: &'a [u8],
}

/// SEQUENCE.
pub(crate) const SEQUENCE: u8 = 0x30;
/// SET.
pub(crate) const SET: u8 = 0x31;
/// OBJECT IDENTIFIER.
pub(crate) const OID: u8 = 0x06;
/// INTEGER.
pub(crate) const INTEGER: u8 = 0x02;

fn bad(what: &'static str) -> AuthenticodeProblem {
    AuthenticodeProblem::Der(what)
}

/// Reads the element at the start of `input`; returns it and the rest.
pub(crate) fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), AuthenticodeProblem> {
    let (&tag, after_tag) = input.split_first().ok_or(bad("an element is cut short"))?;
    if tag & 0x1F == 0x1F {
        return Err(bad("multi-byte tags are not used in signatures"));
    }
    let (&first, mut rest) = after_tag
        .split_first()
        .ok_or(bad("a length is cut short"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return Err(bad("indefinite or oversized lengths are not DER"));
        }
        let bytes = rest.get(..n).ok_or(bad("a length is cut short"))?;
        rest = &rest[n..];
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    let header = input.len() - rest.len();
    let contents = rest
        .get(..len)
        .ok_or(bad("an element runs past its container"))?;
    Ok((
        Tlv {
            tag,
            contents,
            whole: &input[..header + len],
        },
        &rest[len..],
    ))
}

/// Reads an element that must have tag `tag`.
pub(crate) fn expect<'a>(
    input: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<(Tlv<'a>, &'a [u8]), AuthenticodeProblem> {
    let (t, rest) = read(input)?;
    if t.tag != tag {
        return Err(bad(what));
    }
    Ok((t, rest))
}

/// Every element inside `contents`, in order.
pub(crate) fn items(mut contents: &[u8]) -> Result<Vec<Tlv<'_>>, AuthenticodeProblem> {
    let mut out = Vec::new();
    while !contents.is_empty() {
        let (t, rest) = read(contents)?;
        out.push(t);
        contents = rest;
    }
    Ok(out)
}
