//! [`OvmfVars`]: an edk2/OVMF variable-store file, read and rewritten offline.

use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::bytes::{array, encode_utf16z, slice, u16_at, u32_at, u64_at};
use super::vars::{check_plan, store_error, Variable, VariableStore};
use super::{UefiProblem, VarChange};
use crate::disk::partial::PartialFile;
use crate::error::{Error, Result};

/// EFI_SYSTEM_NV_DATA_FV_GUID, the file system GUID of the volume.
pub const EFI_SYSTEM_NV_DATA_FV_GUID: Uuid =
    Uuid::from_u128(0xfff12b8d_7696_4c8b_a985_2747075b4f50);
/// gEfiAuthenticatedVariableGuid: a store of 60-byte variable headers.
pub const EFI_AUTHENTICATED_VARIABLE_GUID: Uuid =
    Uuid::from_u128(0xaaf32c78_947b_439a_a180_2e144ec37792);
/// gEfiVariableGuid: a store of 32-byte variable headers.
pub const EFI_VARIABLE_GUID: Uuid = Uuid::from_u128(0xddcf3616_3275_4164_98b6_fe85707ffe7d);

/// The largest file [`OvmfVars::open`] reads (OVMF's are 128 KiB to 4 MiB).
pub const MAX_VARS_FILE: u64 = 64 << 20;

const FV_SIGNATURE: u32 = u32::from_le_bytes(*b"_FVH");
const FV_MIN_HEADER: usize = 56 + 8;
const STORE_HEADER: usize = 28;
const VARIABLE_STORE_FORMATTED: u8 = 0x5a;
const VARIABLE_STORE_HEALTHY: u8 = 0xfe;
const START_ID: u16 = 0x55aa;
const VAR_ADDED: u8 = 0x3f;
const VAR_ADDED_IN_DELETED_TRANSITION: u8 = 0x3e;

/// The two variable header layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Authenticated,
    Plain,
}

impl Layout {
    fn header_len(self) -> usize {
        match self {
            Layout::Authenticated => 60,
            Layout::Plain => 32,
        }
    }
    /// Offsets of NameSize, DataSize, VendorGuid.
    fn fields(self) -> (usize, usize, usize) {
        match self {
            Layout::Authenticated => (36, 40, 44),
            Layout::Plain => (8, 12, 16),
        }
    }
}

/// One valid variable as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    /// The header as read (or made), rewritten field by field.
    header: Vec<u8>,
    /// The name's bytes as stored.
    raw_name: Vec<u8>,
    name: String,
    guid: Uuid,
    attributes: u32,
    data: Vec<u8>,
}

impl Stored {
    fn variable(&self) -> Variable {
        Variable {
            name: self.name.clone(),
            guid: self.guid,
            attributes: self.attributes,
            data: self.data.clone(),
        }
    }
}

/// An edk2/OVMF variable-store file (`OVMF_VARS_4M.fd`, `OVMF_VARS.fd`),
/// parsed, edited and rewritten offline.
///
/// The file is a firmware volume (edk2 `MdePkg/Include/Pi/PiFirmwareVolume.h`,
/// EFI_FIRMWARE_VOLUME_HEADER):
///
/// ```text
/// +0  ZeroVector[16]   +16 FileSystemGuid (EFI_SYSTEM_NV_DATA_FV_GUID)
/// +32 FvLength u64     +40 Signature "_FVH"   +44 Attributes u32
/// +48 HeaderLength u16 +50 Checksum u16 (the header's u16s sum to 0)
/// +52 ExtHeaderOffset u16  +54 Reserved u8  +55 Revision u8  +56 BlockMap[]
/// ```
///
/// At `HeaderLength` follows the variable store (edk2
/// `MdeModulePkg/Include/Guid/VariableFormat.h`, VARIABLE_STORE_HEADER):
/// `Signature` GUID (gEfiAuthenticatedVariableGuid, or gEfiVariableGuid
/// for the older format), `Size` u32 (header included), `Format` 0x5a,
/// `State` 0xfe, 7 reserved bytes. Then the variables, each at a 4-byte
/// boundary (HEADER_ALIGNMENT), until a header whose `StartId` is not
/// 0x55AA:
///
/// ```text
/// AUTHENTICATED_VARIABLE_HEADER (60 bytes)      VARIABLE_HEADER (32 bytes)
/// +0  StartId u16 (0x55AA)                      +0  StartId u16
/// +2  State u8    +3 Reserved u8                +2  State u8  +3 Reserved
/// +4  Attributes u32                            +4  Attributes u32
/// +8  MonotonicCount u64                        +8  NameSize u32
/// +16 TimeStamp EFI_TIME (16 bytes)             +12 DataSize u32
/// +32 PubKeyIndex u32                           +16 VendorGuid
/// +36 NameSize u32  +40 DataSize u32
/// +44 VendorGuid
/// ```
///
/// followed by the UTF-16 name (`NameSize` bytes, NUL included) and the
/// data. A variable counts when its `State` is VAR_ADDED (0x3f) or
/// VAR_ADDED with VAR_IN_DELETED_TRANSITION cleared (0x3e, valid while no
/// VAR_ADDED copy exists, as edk2's `FindVariableEx` reads it); others
/// (deleted, header-only) are skipped.
///
/// Writing is a compact rewrite of the variable region only: the valid
/// variables in their order (state 0x3f, every other header field kept
/// byte for byte), changed ones in place, new ones at the end, 0xFF after.
/// The rest of the file (the fault-tolerant-write working block and spare
/// area after the store) stays byte-identical.
#[derive(Debug, Clone)]
pub struct OvmfVars {
    origin: PathBuf,
    bytes: Vec<u8>,
    layout: Layout,
    /// Offset of the first variable.
    first: usize,
    /// End of the variable store region.
    end: usize,
    vars: Vec<Stored>,
}

fn align4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

impl OvmfVars {
    /// Reads the variable file at `path`; [`apply`](VariableStore::apply)
    /// writes it back there.
    pub fn open(path: impl AsRef<Path>) -> Result<OvmfVars> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                what: "UEFI variable file",
                path: path.to_path_buf(),
            },
            _ => Error::read(path, e),
        })?;
        if !meta.is_file() || meta.len() > MAX_VARS_FILE {
            return Err(Error::invalid(
                "UEFI variable file",
                path.display(),
                format!("expected a regular file of at most {MAX_VARS_FILE} bytes"),
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
        OvmfVars::parse(&bytes, path)
    }

    /// Parses the bytes of a variable file; `origin` names it in messages
    /// and is where [`apply`](VariableStore::apply) saves. Never panics.
    pub fn parse(bytes: &[u8], origin: &Path) -> Result<OvmfVars> {
        Self::parse_bytes(bytes, origin).map_err(|p| store_error(origin, p))
    }

    fn parse_bytes(bytes: &[u8], origin: &Path) -> Result<OvmfVars, UefiProblem> {
        let bad = |field: &'static str, offset: usize, found: String, expected: &str| {
            UefiProblem::BadField {
                field,
                offset,
                found,
                expected: expected.into(),
            }
        };
        let fs_guid = Uuid::from_bytes_le(array(bytes, 16, "firmware volume header")?);
        let fv_len = u64_at(bytes, 32, "firmware volume header")?;
        let signature = u32_at(bytes, 40, "firmware volume header")?;
        let header_len = usize::from(u16_at(bytes, 48, "firmware volume header")?);
        if signature != FV_SIGNATURE {
            return Err(bad(
                "firmware volume signature",
                40,
                format!("0x{signature:08x}"),
                "\"_FVH\"",
            ));
        }
        if fs_guid != EFI_SYSTEM_NV_DATA_FV_GUID {
            return Err(bad(
                "firmware volume GUID",
                16,
                fs_guid.to_string(),
                "EFI_SYSTEM_NV_DATA_FV_GUID",
            ));
        }
        if header_len < FV_MIN_HEADER || header_len % 2 != 0 {
            return Err(bad(
                "firmware volume header length",
                48,
                header_len.to_string(),
                "an even number of at least 64",
            ));
        }
        if fv_len > bytes.len() as u64 || fv_len < header_len as u64 {
            return Err(bad(
                "firmware volume length",
                32,
                fv_len.to_string(),
                &format!(
                    "between the header length and the file size {}",
                    bytes.len()
                ),
            ));
        }
        let header = slice(bytes, 0, header_len, "firmware volume header")?;
        let sum = header.chunks_exact(2).fold(0u16, |s, c| {
            s.wrapping_add(u16::from_le_bytes([c[0], c[1]]))
        });
        if sum != 0 {
            return Err(bad(
                "firmware volume checksum",
                50,
                format!("a header sum of 0x{sum:04x}"),
                "a sum of 0",
            ));
        }
        let store = header_len;
        let store_guid = Uuid::from_bytes_le(array(bytes, store, "variable store header")?);
        let layout = match store_guid {
            EFI_AUTHENTICATED_VARIABLE_GUID => Layout::Authenticated,
            EFI_VARIABLE_GUID => Layout::Plain,
            other => {
                return Err(bad(
                    "variable store signature",
                    store,
                    other.to_string(),
                    "gEfiAuthenticatedVariableGuid or gEfiVariableGuid",
                ))
            }
        };
        let size = u32_at(bytes, store + 16, "variable store header")? as usize;
        let format = *slice(bytes, store + 20, 1, "variable store header")?
            .first()
            .unwrap_or(&0);
        let state = *slice(bytes, store + 21, 1, "variable store header")?
            .first()
            .unwrap_or(&0);
        if format != VARIABLE_STORE_FORMATTED {
            return Err(bad(
                "variable store format",
                store + 20,
                format!("0x{format:02x}"),
                "0x5a",
            ));
        }
        if state != VARIABLE_STORE_HEALTHY {
            return Err(bad(
                "variable store state",
                store + 21,
                format!("0x{state:02x}"),
                "0xfe (healthy)",
            ));
        }
        let end = store
            .checked_add(size)
            .filter(|&e| size >= STORE_HEADER && e as u64 <= fv_len)
            .ok_or_else(|| {
                bad(
                    "variable store size",
                    store + 16,
                    size.to_string(),
                    "a size that fits in the firmware volume",
                )
            })?;
        let first = align4(store + STORE_HEADER);
        let vars = walk(bytes, layout, first, end)?;
        Ok(OvmfVars {
            origin: origin.to_path_buf(),
            bytes: bytes.to_vec(),
            layout,
            first,
            end,
            vars,
        })
    }

    /// The file's path (where [`apply`](VariableStore::apply) saves).
    pub fn path(&self) -> &Path {
        &self.origin
    }

    /// Every valid variable, in stored order.
    pub fn variables(&self) -> Vec<Variable> {
        self.vars.iter().map(Stored::variable).collect()
    }

    /// The byte range of the variable store region (variables and free
    /// space); a rewrite changes nothing outside it.
    pub fn store_region(&self) -> std::ops::Range<usize> {
        self.first..self.end
    }

    /// The whole file with the variable region compactly rewritten.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.render(&self.vars)
            .map_err(|p| store_error(&self.origin, p))
    }

    /// Writes the file to `path` crash-safely: a temporary file beside it,
    /// synced, renamed over it (keeping its permissions). A failure leaves
    /// the old file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let bytes = self.to_bytes()?;
        write_file(path.as_ref(), &bytes)
    }

    fn render(&self, vars: &[Stored]) -> Result<Vec<u8>, UefiProblem> {
        let mut region = Vec::new();
        for v in vars {
            let mut header = v.header.clone();
            header.resize(self.layout.header_len(), 0);
            let (name_at, data_at, guid_at) = self.layout.fields();
            let too_big = |what: &'static str| UefiProblem::Unencodable {
                field: what,
                reason: "larger than 4 GiB".into(),
            };
            let name_size =
                u32::try_from(v.raw_name.len()).map_err(|_| too_big("variable name"))?;
            let data_size = u32::try_from(v.data.len()).map_err(|_| too_big("variable data"))?;
            header[0..2].copy_from_slice(&START_ID.to_le_bytes());
            header[2] = VAR_ADDED;
            header[4..8].copy_from_slice(&v.attributes.to_le_bytes());
            header[name_at..name_at + 4].copy_from_slice(&name_size.to_le_bytes());
            header[data_at..data_at + 4].copy_from_slice(&data_size.to_le_bytes());
            header[guid_at..guid_at + 16].copy_from_slice(&v.guid.to_bytes_le());
            region.extend_from_slice(&header);
            region.extend_from_slice(&v.raw_name);
            region.extend_from_slice(&v.data);
            region.resize(align4(region.len()), 0xff);
        }
        let available = self.end - self.first;
        if region.len() > available {
            return Err(UefiProblem::DoesNotFit {
                needed: region.len(),
                available,
            });
        }
        region.resize(available, 0xff);
        let mut out = self.bytes.clone();
        out[self.first..self.end].copy_from_slice(&region);
        Ok(out)
    }

    /// The variables after `changes` (checked against the current ones by
    /// the caller).
    fn edited(&self, changes: &[VarChange]) -> Result<Vec<Stored>, UefiProblem> {
        let mut vars = self.vars.clone();
        for c in changes {
            let at = vars
                .iter()
                .position(|v| v.name == c.name && v.guid == c.guid);
            match (&c.after, at) {
                (Some(after), Some(i)) => {
                    vars[i].attributes = after.attributes;
                    vars[i].data = after.data.clone();
                }
                (Some(after), None) => {
                    if after.name.is_empty() {
                        return Err(UefiProblem::BadName {
                            name: after.name.clone(),
                        });
                    }
                    let raw_name = encode_utf16z(&after.name, "variable name")?;
                    vars.push(Stored {
                        header: vec![0; self.layout.header_len()],
                        raw_name,
                        name: after.name.clone(),
                        guid: after.guid,
                        attributes: after.attributes,
                        data: after.data.clone(),
                    });
                }
                (None, Some(i)) => {
                    vars.remove(i);
                }
                (None, None) => {}
            }
        }
        Ok(vars)
    }
}

/// Reads the variables from `first` up to the first header without
/// StartId 0x55AA (or the end of the region).
fn walk(
    bytes: &[u8],
    layout: Layout,
    first: usize,
    end: usize,
) -> Result<Vec<Stored>, UefiProblem> {
    let region = slice(bytes, 0, end, "variable store")?;
    let hlen = layout.header_len();
    let (name_at, data_at, guid_at) = layout.fields();
    let mut found: Vec<(u8, Stored)> = Vec::new();
    let mut pos = first;
    while pos.checked_add(hlen).is_some_and(|h| h <= end) {
        if u16_at(region, pos, "variable header")? != START_ID {
            break;
        }
        let state = *slice(region, pos + 2, 1, "variable header")?
            .first()
            .unwrap_or(&0);
        let attributes = u32_at(region, pos + 4, "variable header")?;
        let name_size = u32_at(region, pos + name_at, "variable header")? as usize;
        let data_size = u32_at(region, pos + data_at, "variable header")? as usize;
        let guid = Uuid::from_bytes_le(array(region, pos + guid_at, "variable header")?);
        let total = hlen
            .checked_add(name_size)
            .and_then(|n| n.checked_add(data_size))
            .unwrap_or(usize::MAX);
        let var = slice(region, pos, total, "variable")?;
        if state == VAR_ADDED || state == VAR_ADDED_IN_DELETED_TRANSITION {
            let raw_name = var[hlen..hlen + name_size].to_vec();
            let units: Vec<u16> = raw_name
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .take_while(|&u| u != 0)
                .collect();
            found.push((
                state,
                Stored {
                    header: var[..hlen].to_vec(),
                    name: String::from_utf16_lossy(&units),
                    raw_name,
                    guid,
                    attributes,
                    data: var[hlen + name_size..].to_vec(),
                },
            ));
        }
        pos = align4(pos + total);
    }
    // A variable in deleted transition counts only while no VAR_ADDED copy
    // exists; of duplicates, the first counts (as FindVariable finds it).
    let mut vars: Vec<Stored> = Vec::new();
    for (state, v) in &found {
        let superseded = *state == VAR_ADDED_IN_DELETED_TRANSITION
            && found
                .iter()
                .any(|(s, o)| *s == VAR_ADDED && o.name == v.name && o.guid == v.guid);
        let duplicate = vars.iter().any(|o| o.name == v.name && o.guid == v.guid);
        if !superseded && !duplicate {
            vars.push(v.clone());
        }
    }
    Ok(vars)
}

/// Writes `bytes` as `path`: beside, synced, renamed, permissions kept.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |action: &'static str, source: std::io::Error| Error::Io {
        action,
        path: path.to_path_buf(),
        source,
        untouched: "the variable file was left as it was",
    };
    let partial = PartialFile::beside(path)?;
    std::fs::write(partial.path(), bytes)
        .map_err(|e| io("writing the new variable file beside", e))?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(partial.path(), meta.permissions())
            .map_err(|e| io("keeping the permissions of", e))?;
    }
    partial.commit()
}

impl VariableStore for OvmfVars {
    fn name(&self) -> String {
        self.origin.display().to_string()
    }

    fn get(&self, name: &str, guid: Uuid) -> Result<Option<Variable>> {
        Ok(self
            .vars
            .iter()
            .find(|v| v.name == name && v.guid == guid)
            .map(Stored::variable))
    }

    fn list(&self) -> Result<Vec<(String, Uuid)>> {
        Ok(self.vars.iter().map(|v| (v.name.clone(), v.guid)).collect())
    }

    /// Reads the file again at [`OvmfVars::path`] (so a change made by
    /// someone else since [`open`](OvmfVars::open) is seen; the bytes in
    /// memory serve only when no file is there), checks the plan against
    /// it, edits and saves it there. Nothing is written when a check fails
    /// or the variables would not fit.
    fn apply(&mut self, changes: &[VarChange]) -> Result<()> {
        let current = match std::fs::read(&self.origin) {
            Ok(bytes) if bytes == self.bytes => self.clone(),
            Ok(bytes) => OvmfVars::parse(&bytes, &self.origin)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.clone(),
            Err(e) => return Err(Error::read(&self.origin, e)),
        };
        check_plan(&current, changes)?;
        let vars = current
            .edited(changes)
            .map_err(|p| store_error(&self.origin, p))?;
        let bytes = current
            .render(&vars)
            .map_err(|p| store_error(&self.origin, p))?;
        write_file(&self.origin, &bytes)?;
        *self = OvmfVars {
            vars,
            bytes,
            ..current
        };
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::formats::uefi::vars::{EFI_GLOBAL_VARIABLE, NV_BS_RT};
    use proptest::prelude::*;

    /// One variable to put in a synthetic store: state, name, guid,
    /// attributes, data, and a 16-byte timestamp.
    pub(crate) type Raw = (u8, String, Uuid, u32, Vec<u8>);

    /// A synthetic variable file: a 72-byte FV header, a store of
    /// `region` bytes (header included), then `tail` bytes of a stand-in
    /// FTW area (0xA5...).
    pub(crate) fn build(authenticated: bool, vars: &[Raw], region: usize, tail: usize) -> Vec<u8> {
        let fv_len = 72 + region + tail;
        let mut f = vec![0u8; 72];
        f[16..32].copy_from_slice(&EFI_SYSTEM_NV_DATA_FV_GUID.to_bytes_le());
        f[32..40].copy_from_slice(&(fv_len as u64).to_le_bytes());
        f[40..44].copy_from_slice(b"_FVH");
        f[44..48].copy_from_slice(&0x4feffu32.to_le_bytes());
        f[48..50].copy_from_slice(&72u16.to_le_bytes());
        f[55] = 2;
        f[56..60].copy_from_slice(&((fv_len / 16) as u32).to_le_bytes());
        f[60..64].copy_from_slice(&16u32.to_le_bytes());
        let sum = f.chunks_exact(2).fold(0u16, |s, c| {
            s.wrapping_add(u16::from_le_bytes([c[0], c[1]]))
        });
        f[50..52].copy_from_slice(&sum.wrapping_neg().to_le_bytes());
        let guid = if authenticated {
            EFI_AUTHENTICATED_VARIABLE_GUID
        } else {
            EFI_VARIABLE_GUID
        };
        f.extend_from_slice(&guid.to_bytes_le());
        f.extend_from_slice(&(region as u32).to_le_bytes());
        f.extend_from_slice(&[0x5a, 0xfe, 0, 0, 0, 0, 0, 0]);
        let layout = if authenticated {
            Layout::Authenticated
        } else {
            Layout::Plain
        };
        let (name_at, data_at, guid_at) = layout.fields();
        for (i, (state, name, guid, attributes, data)) in vars.iter().enumerate() {
            let raw_name = encode_utf16z(name, "name").unwrap();
            let mut h = vec![0u8; layout.header_len()];
            h[0..2].copy_from_slice(&START_ID.to_le_bytes());
            h[2] = *state;
            h[3] = 0;
            h[4..8].copy_from_slice(&attributes.to_le_bytes());
            if authenticated {
                // Distinct monotonic count, timestamp and key index.
                h[8..16].copy_from_slice(&(i as u64 + 100).to_le_bytes());
                h[16..32].copy_from_slice(&[i as u8 + 1; 16]);
                h[32..36].copy_from_slice(&(i as u32 + 7).to_le_bytes());
            }
            h[name_at..name_at + 4].copy_from_slice(&(raw_name.len() as u32).to_le_bytes());
            h[data_at..data_at + 4].copy_from_slice(&(data.len() as u32).to_le_bytes());
            h[guid_at..guid_at + 16].copy_from_slice(&guid.to_bytes_le());
            f.extend_from_slice(&h);
            f.extend_from_slice(&raw_name);
            f.extend_from_slice(data);
            f.resize(align4(f.len()), 0xff);
        }
        assert!(f.len() <= 72 + region, "test store too small");
        f.resize(72 + region, 0xff);
        f.extend((0..tail).map(|i| 0xa5 ^ i as u8));
        f
    }

    fn raw(state: u8, name: &str, data: &[u8]) -> Raw {
        (
            state,
            name.into(),
            EFI_GLOBAL_VARIABLE,
            NV_BS_RT,
            data.to_vec(),
        )
    }

    fn names(v: &OvmfVars) -> Vec<String> {
        v.variables().into_iter().map(|v| v.name).collect()
    }

    #[test]
    fn states_follow_edk2() {
        let bytes = build(
            true,
            &[
                raw(VAR_ADDED, "Lang", b"eng"),
                raw(0x3c, "Gone", b"x"),
                raw(VAR_ADDED_IN_DELETED_TRANSITION, "Timeout", &[0, 0]),
                raw(VAR_ADDED, "Timeout", &[5, 0]),
                raw(VAR_ADDED_IN_DELETED_TRANSITION, "Alone", b"a"),
                raw(0x7f, "HeaderOnly", b"h"),
            ],
            4096,
            512,
        );
        let vars = OvmfVars::parse(&bytes, Path::new("t.fd")).unwrap();
        assert_eq!(names(&vars), ["Lang", "Timeout", "Alone"]);
        assert_eq!(
            vars.get("Timeout", EFI_GLOBAL_VARIABLE)
                .unwrap()
                .unwrap()
                .data,
            [5, 0]
        );
    }

    #[test]
    fn a_rewrite_keeps_headers_and_everything_outside_the_store() {
        let bytes = build(
            true,
            &[
                raw(0x3c, "Gone", b"xyz"),
                raw(VAR_ADDED, "Lang", b"eng"),
                raw(VAR_ADDED, "Key", b"k"),
            ],
            2048,
            1000,
        );
        let vars = OvmfVars::parse(&bytes, Path::new("t.fd")).unwrap();
        let out = vars.to_bytes().unwrap();
        let r = vars.store_region();
        assert_eq!(out[..r.start], bytes[..r.start]);
        assert_eq!(out[r.end..], bytes[r.end..]);
        // The deleted variable is dropped; Lang (built second, index 1)
        // keeps its monotonic count, timestamp and key index.
        let at = r.start;
        assert_eq!(u64_at(&out, at + 8, "").unwrap(), 101);
        assert_eq!(out[at + 16..at + 32], [2u8; 16]);
        assert_eq!(u32_at(&out, at + 32, "").unwrap(), 8);
        assert_eq!(
            OvmfVars::parse(&out, Path::new("t.fd"))
                .unwrap()
                .variables(),
            vars.variables()
        );
    }

    #[test]
    fn apply_edits_in_place_appends_and_refuses_what_does_not_fit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vars.fd");
        let bytes = build(
            false,
            &[raw(VAR_ADDED, "A", b"1"), raw(VAR_ADDED, "B", b"2")],
            256,
            64,
        );
        std::fs::write(&path, &bytes).unwrap();
        let mut vars = OvmfVars::open(&path).unwrap();
        let a = vars.get("A", EFI_GLOBAL_VARIABLE).unwrap();
        let b = vars.get("B", EFI_GLOBAL_VARIABLE).unwrap();
        vars.apply(&[
            VarChange::set(a, Variable::global("A", b"one".to_vec())),
            VarChange::set(None, Variable::global("C", b"3".to_vec())),
            VarChange::delete(b.clone().unwrap()),
        ])
        .unwrap();
        let back = OvmfVars::open(&path).unwrap();
        assert_eq!(names(&back), ["A", "C"]);
        assert_eq!(
            back.get("A", EFI_GLOBAL_VARIABLE).unwrap().unwrap().data,
            b"one"
        );
        // Stale: B is gone now.
        let err = vars.apply(&[VarChange::delete(b.unwrap())]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::BadVariableStore {
                    problem: UefiProblem::Stale { .. },
                    ..
                }
            ),
            "{err}"
        );
        // Too big: refused, the file unchanged.
        let before = std::fs::read(&path).unwrap();
        let err = vars
            .apply(&[VarChange::set(None, Variable::global("Big", vec![0; 300]))])
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::BadVariableStore {
                    problem: UefiProblem::DoesNotFit { .. },
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("left as it was"));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(names(&vars), ["A", "C"]);
    }

    #[test]
    fn apply_sees_a_change_made_on_disk_since_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vars.fd");
        std::fs::write(&path, build(true, &[raw(VAR_ADDED, "A", b"1")], 512, 16)).unwrap();
        let mut stale = OvmfVars::open(&path).unwrap();
        let mut other = OvmfVars::open(&path).unwrap();
        let a = other.get("A", EFI_GLOBAL_VARIABLE).unwrap();
        other
            .apply(&[VarChange::set(
                a.clone(),
                Variable::global("A", b"2".to_vec()),
            )])
            .unwrap();
        let err = stale
            .apply(&[VarChange::set(a, Variable::global("A", b"3".to_vec()))])
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::BadVariableStore {
                    problem: UefiProblem::Stale { .. },
                    ..
                }
            ),
            "{err}"
        );
        stale
            .apply(&[VarChange::set(None, Variable::global("B", b"b".to_vec()))])
            .unwrap();
        let back = OvmfVars::open(&path).unwrap();
        assert_eq!(
            back.get("A", EFI_GLOBAL_VARIABLE).unwrap().unwrap().data,
            b"2"
        );
        assert_eq!(names(&back), ["A", "B"]);
        assert_eq!(names(&stale), ["A", "B"]);
    }

    #[test]
    fn damaged_files_are_refused_with_the_field() {
        let good = build(true, &[raw(VAR_ADDED, "A", b"1")], 512, 0);
        let parse = |b: &[u8]| {
            OvmfVars::parse(b, Path::new("t.fd"))
                .unwrap_err()
                .to_string()
        };
        let mut b = good.clone();
        b[40] = b'x';
        assert!(parse(&b).contains("firmware volume signature"));
        let mut b = good.clone();
        b[70] ^= 1;
        assert!(parse(&b).contains("checksum"));
        let mut b = good.clone();
        b[72 + 20] = 0;
        assert!(parse(&b).contains("variable store format"));
        let mut b = good.clone();
        // The first variable's DataSize runs past the store.
        let at = 72 + 28 + 40;
        b[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&b).contains("variable"));
        assert!(parse(&good[..100]).contains("firmware volume length"));
        assert!(parse(&[]).contains("firmware volume header"));
    }

    fn arb_raw() -> impl Strategy<Value = Raw> {
        (
            prop_oneof![
                Just(VAR_ADDED),
                Just(0x3c),
                Just(VAR_ADDED_IN_DELETED_TRANSITION)
            ],
            "[A-Za-z0-9]{1,12}",
            any::<u128>().prop_map(Uuid::from_u128),
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..50),
        )
    }

    proptest! {
        #[test]
        fn random_stores_round_trip(auth in any::<bool>(), vars in proptest::collection::vec(arb_raw(), 0..12)) {
            let bytes = build(auth, &vars, 4096, 128);
            let parsed = OvmfVars::parse(&bytes, Path::new("t.fd")).unwrap();
            // What edk2 would see: VAR_ADDED, or in-transition without an
            // added copy; the first of duplicates.
            let mut expected: Vec<Variable> = Vec::new();
            for (state, name, guid, attributes, data) in &vars {
                let counts = *state == VAR_ADDED
                    || (*state == VAR_ADDED_IN_DELETED_TRANSITION
                        && !vars.iter().any(|o| o.0 == VAR_ADDED && &o.1 == name && o.2 == *guid));
                if counts && !expected.iter().any(|e| &e.name == name && e.guid == *guid) {
                    expected.push(Variable { name: name.clone(), guid: *guid, attributes: *attributes, data: data.clone() });
                }
            }
            prop_assert_eq!(parsed.variables(), expected);
            let out = parsed.to_bytes().unwrap();
            let again = OvmfVars::parse(&out, Path::new("t.fd")).unwrap();
            prop_assert_eq!(again.variables(), parsed.variables());
            prop_assert_eq!(again.to_bytes().unwrap(), out);
        }

        #[test]
        fn hostile_variable_files_never_panic(
            vars in proptest::collection::vec(arb_raw(), 0..4),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            cut in any::<usize>(),
        ) {
            let mut bytes = build(true, &vars, 1024, 32);
            for (i, b) in flips {
                let n = bytes.len();
                bytes[i % n] = b;
            }
            bytes.truncate(cut % (bytes.len() + 1) + 64.min(bytes.len()));
            if let Ok(v) = OvmfVars::parse(&bytes, Path::new("t.fd")) {
                let out = v.to_bytes().unwrap();
                prop_assert_eq!(OvmfVars::parse(&out, Path::new("t.fd")).unwrap().variables(), v.variables());
            }
        }
    }
}
