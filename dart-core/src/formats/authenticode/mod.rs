//! Authenticode signatures of PE files (boot managers): who signed them.
//!
//! Microsoft is replacing the "Microsoft Windows Production PCA 2011"
//! certificate authority, which signs Windows Boot Manager, with "Windows
//! UEFI CA 2023"; a PC whose firmware no longer trusts the old CA does not
//! start a boot manager signed by it. [`signatures`] reads every signature
//! of a PE file without checking it (dart reports, the firmware decides):
//! the certificate table (data directory 4, a file offset), each
//! `WIN_CERTIFICATE` (revision 0x0200, type 2: PKCS#7 SignedData), the
//! signer's certificate (found by the SignerInfo's issuer and serial
//! number) and its issuer's common name, and signatures nested in the
//! unsigned attribute 1.3.6.1.4.1.311.2.4.1 as signtool writes them.
//! Sources: Microsoft's PE format and Authenticode documents, RFC 5652,
//! RFC 5280; see DESIGN.md, 'Boot manager signatures'.
//!
//! ```
//! use dart_core::formats::authenticode::{signatures, SigningCa};
//! // Not a PE file: a clear error, never a panic.
//! assert!(signatures(b"not a PE").is_err());
//! assert_eq!(SigningCa::of("Windows UEFI CA 2023"), SigningCa::Uefi2023);
//! ```

mod der;

use serde::Serialize;

use der::{expect, items, read, INTEGER, OID, SEQUENCE, SET};

/// Why a file's signatures cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthenticodeProblem {
    /// Not a PE file (no `MZ`/`PE` headers, or cut short).
    NotPe(&'static str),
    /// The certificate table lies outside the file or is malformed.
    CertificateTable(&'static str),
    /// The PKCS#7 data is malformed.
    Der(&'static str),
}

impl std::fmt::Display for AuthenticodeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthenticodeProblem::NotPe(w) => write!(f, "it is not a PE file: {w}"),
            AuthenticodeProblem::CertificateTable(w) => {
                write!(f, "its certificate table is damaged: {w}")
            }
            AuthenticodeProblem::Der(w) => write!(f, "its signature data is damaged: {w}"),
        }
    }
}

impl std::error::Error for AuthenticodeProblem {}

/// The CA behind a boot manager's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigningCa {
    /// "Microsoft Windows Production PCA 2011": the CA being retired.
    Pca2011,
    /// "Windows UEFI CA 2023": its replacement.
    Uefi2023,
    /// Another CA, by common name.
    Other(String),
}

impl SigningCa {
    /// The CA of an issuer common name.
    pub fn of(issuer_cn: &str) -> SigningCa {
        match issuer_cn.trim() {
            "Microsoft Windows Production PCA 2011" => SigningCa::Pca2011,
            "Windows UEFI CA 2023" => SigningCa::Uefi2023,
            other => SigningCa::Other(other.to_string()),
        }
    }

    /// "2011", "2023", or the issuer's name.
    pub fn label(&self) -> String {
        match self {
            SigningCa::Pca2011 => "2011 CA (Microsoft Windows Production PCA 2011)".into(),
            SigningCa::Uefi2023 => "2023 CA (Windows UEFI CA 2023)".into(),
            SigningCa::Other(n) => format!("another CA ({n})"),
        }
    }
}

/// One signature of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    /// The signing certificate's subject common name.
    pub subject: Option<String>,
    /// Its issuer's common name.
    pub issuer: Option<String>,
    /// The CA that issuer is.
    pub ca: Option<SigningCa>,
    /// Whether the signature is nested inside another (signtool's dual
    /// signing; firmware reads only the outer ones).
    pub nested: bool,
}

const OID_SIGNED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
const OID_NESTED: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x04, 0x01];
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// The certificate table's PKCS#7 blobs.
fn certificate_blobs(pe: &[u8]) -> Result<Vec<&[u8]>, AuthenticodeProblem> {
    use AuthenticodeProblem::{CertificateTable as Table, NotPe};
    if pe.get(..2) != Some(b"MZ") {
        return Err(NotPe("no MZ header"));
    }
    let nt = u32_at(pe, 0x3C).ok_or(NotPe("cut short"))? as usize;
    if pe.get(nt..nt.saturating_add(4)) != Some(b"PE\0\0") {
        return Err(NotPe("no PE signature where the MZ header points"));
    }
    let opt = nt + 24;
    let (count_at, dirs) = match u16_at(pe, opt).ok_or(NotPe("cut short"))? {
        0x10B => (opt + 92, opt + 96),
        0x20B => (opt + 108, opt + 112),
        _ => return Err(NotPe("unknown optional header magic")),
    };
    let count = u32_at(pe, count_at).ok_or(NotPe("cut short"))?;
    if count <= 4 {
        return Ok(Vec::new());
    }
    let (offset, size) = (
        u32_at(pe, dirs + 32).ok_or(NotPe("cut short"))? as usize,
        u32_at(pe, dirs + 36).ok_or(NotPe("cut short"))? as usize,
    );
    if offset == 0 || size == 0 {
        return Ok(Vec::new());
    }
    let table = pe
        .get(offset..offset.saturating_add(size))
        .ok_or(Table("it lies outside the file"))?;
    let mut blobs = Vec::new();
    let mut at = 0usize;
    while at + 8 <= table.len() {
        let len = u32_at(table, at).ok_or(Table("cut short"))? as usize;
        let revision = u16_at(table, at + 4).ok_or(Table("cut short"))?;
        let kind = u16_at(table, at + 6).ok_or(Table("cut short"))?;
        if len < 8 {
            return Err(Table("an entry is shorter than its header"));
        }
        let body = table
            .get(at + 8..at + len)
            .ok_or(Table("an entry runs past the table"))?;
        if revision == 0x0200 && kind == 2 {
            blobs.push(body);
        }
        at = (at + len).div_ceil(8) * 8;
    }
    Ok(blobs)
}

/// Every signature of the PE file `pe`, outer ones first. An unsigned
/// file has none.
pub fn signatures(pe: &[u8]) -> Result<Vec<Signature>, AuthenticodeProblem> {
    let mut out = Vec::new();
    for blob in certificate_blobs(pe)? {
        content_info(blob, false, 0, &mut out)?;
    }
    Ok(out)
}

/// A ContentInfo holding SignedData.
fn content_info(
    der: &[u8],
    nested: bool,
    depth: usize,
    out: &mut Vec<Signature>,
) -> Result<(), AuthenticodeProblem> {
    if depth > 4 {
        return Err(AuthenticodeProblem::Der("signatures nested too deep"));
    }
    let (ci, _) = expect(der, SEQUENCE, "ContentInfo is not a SEQUENCE")?;
    let (oid, rest) = expect(ci.contents, OID, "ContentInfo lacks its type")?;
    if oid.contents != OID_SIGNED_DATA {
        return Err(AuthenticodeProblem::Der("the content is not SignedData"));
    }
    let (explicit, _) = expect(rest, 0xA0, "SignedData is missing")?;
    let (sd, _) = expect(explicit.contents, SEQUENCE, "SignedData is not a SEQUENCE")?;
    let fields = items(sd.contents)?;
    let certs: Vec<&[u8]> = match fields.iter().find(|t| t.tag == 0xA0) {
        Some(c) => items(c.contents)?.iter().map(|t| t.whole).collect(),
        None => Vec::new(),
    };
    let signer_infos = fields
        .iter()
        .rev()
        .find(|t| t.tag == SET)
        .ok_or(AuthenticodeProblem::Der("SignedData has no signer infos"))?;
    for si in items(signer_infos.contents)? {
        let parts = items(si.contents)?;
        let sid = parts
            .get(1)
            .ok_or(AuthenticodeProblem::Der("SignerInfo is cut short"))?;
        let leaf = if sid.tag == SEQUENCE {
            let (issuer, rest) = read(sid.contents)?;
            let (serial, _) = expect(rest, INTEGER, "the signer's serial number is missing")?;
            certs
                .iter()
                .find_map(|c| match_cert(c, issuer.whole, serial.whole))
        } else {
            None
        };
        let (issuer, subject) = match leaf {
            Some((i, s)) => (common_name(i)?, common_name(s)?),
            None => (None, None),
        };
        out.push(Signature {
            ca: issuer.as_deref().map(SigningCa::of),
            subject,
            issuer,
            nested,
        });
        if let Some(unsigned) = parts.iter().find(|t| t.tag == 0xA1) {
            for attr in items(unsigned.contents)? {
                let (oid, rest) = expect(attr.contents, OID, "an attribute lacks its type")?;
                if oid.contents == OID_NESTED {
                    let (values, _) = expect(rest, SET, "an attribute lacks its values")?;
                    for v in items(values.contents)? {
                        content_info(v.whole, true, depth + 1, out)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// The issuer and subject Names of certificate `cert` when its issuer and
/// serial number are these.
fn match_cert<'a>(cert: &'a [u8], issuer: &[u8], serial: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let (c, _) = expect(cert, SEQUENCE, "").ok()?;
    let (tbs, _) = expect(c.contents, SEQUENCE, "").ok()?;
    let mut fields = items(tbs.contents).ok()?.into_iter();
    let mut serial_field = fields.next()?;
    if serial_field.tag == 0xA0 {
        serial_field = fields.next()?;
    }
    let _algorithm = fields.next()?;
    let cert_issuer = fields.next()?;
    let _validity = fields.next()?;
    let subject = fields.next()?;
    (serial_field.whole == serial && cert_issuer.whole == issuer)
        .then_some((cert_issuer.whole, subject.whole))
}

/// The first common name in a Name.
fn common_name(name: &[u8]) -> Result<Option<String>, AuthenticodeProblem> {
    let (seq, _) = expect(name, SEQUENCE, "a Name is not a SEQUENCE")?;
    for rdn in items(seq.contents)? {
        for atv in items(rdn.contents)? {
            let (oid, rest) = expect(atv.contents, OID, "a name attribute lacks its type")?;
            if oid.contents == OID_CN {
                let (v, _) = read(rest)?;
                let text = match v.tag {
                    0x1E => {
                        let units: Vec<u16> = v
                            .contents
                            .chunks_exact(2)
                            .map(|c| u16::from_be_bytes([c[0], c[1]]))
                            .collect();
                        String::from_utf16_lossy(&units)
                    }
                    _ => String::from_utf8_lossy(v.contents).into_owned(),
                };
                return Ok(Some(text));
            }
        }
    }
    Ok(None)
}

/// Reads signatures from arbitrary bytes; for the fuzz target and its
/// seed-corpus test. Never panics.
#[cfg(feature = "fuzzing")]
pub fn fuzz_one(data: &[u8]) {
    let _ = signatures(data);
}
