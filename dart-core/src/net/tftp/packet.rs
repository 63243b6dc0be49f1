//! TFTP packets as plain data: parse from and serialise to the wire format.
//!
//! Covers RFC 1350 (RRQ, WRQ, DATA, ACK, ERROR), RFC 2347 option negotiation
//! (OACK, error code 8), the options of RFC 2348 (`blksize`), RFC 2349
//! (`tsize`, `timeout`) and RFC 7440 (`windowsize`), and Microsoft's
//! `msftwindow` option (Windows Boot Manager's variable window: 31416 in the
//! RRQ, 27182 in the server's OACK).
//!
//! Parsing is defensive: any byte string gives a [`Packet`] or a
//! [`ParseError`], never a panic, and the work done is linear in the input.
//! Options a server may ignore (RFC 2347) never fail a request: values out of
//! range are kept in [`Options::rejected`], options we do not know in
//! [`Options::unknown`].

use std::fmt;

/// Largest DATA payload accepted on parse: the largest `blksize` (RFC 2348).
pub const MAX_DATA: usize = 65464;

/// Longest filename accepted in a request, in bytes.
pub const MAX_FILENAME: usize = 255;

const OP_RRQ: u16 = 1;
const OP_WRQ: u16 = 2;
const OP_DATA: u16 = 3;
const OP_ACK: u16 = 4;
const OP_ERROR: u16 = 5;
const OP_OACK: u16 = 6;

/// One TFTP packet.
///
/// Strings in a packet must not contain NUL bytes: on the wire a NUL ends
/// the field, so such a packet would not re-parse to itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Read request (opcode 1).
    Rrq(Request),
    /// Write request (opcode 2).
    Wrq(Request),
    /// A block of file data (opcode 3); at most [`MAX_DATA`] bytes.
    Data {
        /// Block number; it rolls over from 65535 to 0.
        block: u16,
        /// The payload; shorter than the block size in the last block.
        data: Vec<u8>,
    },
    /// Acknowledgement of a block (opcode 4); block 0 acknowledges an OACK.
    ///
    /// Parsing ignores bytes after the block number: with Microsoft's
    /// variable window the client appends the next window size there.
    Ack {
        /// The acknowledged block number.
        block: u16,
    },
    /// An error that ends the transfer (opcode 5).
    Error {
        /// What went wrong.
        code: ErrorCode,
        /// A message for people; may be empty.
        message: String,
    },
    /// Option acknowledgement (opcode 6, RFC 2347): the options the server
    /// accepted, with the values it will use.
    Oack(Options),
}

/// The body of a read or write request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The requested file name as sent (1 to [`MAX_FILENAME`] bytes of
    /// UTF-8); see [`resolve`](super::path::resolve) to map it to a file.
    pub filename: String,
    /// The transfer mode.
    pub mode: Mode,
    /// The options the client asked for.
    pub options: Options,
}

/// Transfer mode of a request; compared case-insensitively on parse.
/// (`mail` is obsolete and refused.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `octet`: raw bytes.
    Octet,
    /// `netascii`: text with CR LF line ends.
    NetAscii,
}

impl Mode {
    /// The mode as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Octet => "octet",
            Mode::NetAscii => "netascii",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Options of a request or an OACK (RFC 2347). Names are case-insensitive.
///
/// Known options are typed fields. On parse, an option given twice keeps its
/// first valid value; later copies and out-of-range values go to
/// [`rejected`](Options::rejected). [`Packet::to_bytes`] writes the known
/// options in a fixed order (`blksize`, `tsize`, `timeout`, `windowsize`,
/// `msftwindow`), then `unknown`, then `rejected`, so a parsed packet
/// re-serialises to one that parses back to the same value. A server
/// building an OACK leaves `unknown` and `rejected` empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Block size in bytes (RFC 2348), 8..=65464.
    pub blksize: Option<u16>,
    /// Transfer size in bytes (RFC 2349); 0 in an RRQ asks the server for it.
    pub tsize: Option<u64>,
    /// Retransmission timeout in seconds (RFC 2349), 1..=255.
    pub timeout: Option<u8>,
    /// Number of blocks sent before waiting for an ACK (RFC 7440), 1..=65535.
    pub windowsize: Option<u16>,
    /// Microsoft's variable window (`msftwindow`): Windows Boot Manager sends
    /// 31416 in its RRQ and a server that supports it answers 27182 in the
    /// OACK; each later ACK then carries the next window size.
    pub msftwindow: Option<u32>,
    /// Options we do not know, as received (name, value); ignored, kept for
    /// logging.
    pub unknown: Vec<(String, String)>,
    /// Known options whose value was refused (out of range, not a number, or
    /// a repeat), as received (name, value); ignored as RFC 2347 allows.
    pub rejected: Vec<(String, String)>,
}

impl Options {
    /// True when no known option is set (`unknown` and `rejected` may still
    /// hold entries).
    pub fn is_empty(&self) -> bool {
        self.blksize.is_none()
            && self.tsize.is_none()
            && self.timeout.is_none()
            && self.windowsize.is_none()
            && self.msftwindow.is_none()
    }

    /// Records one option (name and value as received).
    fn insert(&mut self, name: String, value: String) {
        let key = name.to_ascii_lowercase();
        let ok = match key.as_str() {
            "blksize" => set_once(
                &mut self.blksize,
                number(&value, 8, 65464).and_then(|n| u16::try_from(n).ok()),
            ),
            "tsize" => set_once(&mut self.tsize, number(&value, 0, u64::MAX)),
            "timeout" => set_once(
                &mut self.timeout,
                number(&value, 1, 255).and_then(|n| u8::try_from(n).ok()),
            ),
            "windowsize" => set_once(
                &mut self.windowsize,
                number(&value, 1, 65535).and_then(|n| u16::try_from(n).ok()),
            ),
            "msftwindow" => set_once(
                &mut self.msftwindow,
                number(&value, 0, u64::from(u32::MAX)).and_then(|n| u32::try_from(n).ok()),
            ),
            _ => {
                self.unknown.push((name, value));
                return;
            }
        };
        if !ok {
            self.rejected.push((name, value));
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        let known = [
            ("blksize", self.blksize.map(u64::from)),
            ("tsize", self.tsize),
            ("timeout", self.timeout.map(u64::from)),
            ("windowsize", self.windowsize.map(u64::from)),
            ("msftwindow", self.msftwindow.map(u64::from)),
        ];
        for (name, value) in known {
            if let Some(v) = value {
                put_str(out, name);
                put_str(out, &v.to_string());
            }
        }
        for (name, value) in self.unknown.iter().chain(&self.rejected) {
            put_str(out, name);
            put_str(out, value);
        }
    }
}

/// Sets `slot` to `value` if the value is valid and the slot still empty.
fn set_once<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    match (&slot, value) {
        (None, Some(v)) => {
            *slot = Some(v);
            true
        }
        _ => false,
    }
}

/// A decimal number of ASCII digits (no sign, no spaces) within `min..=max`.
fn number(s: &str, min: u64, max: u64) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: u64 = 0;
    for b in s.bytes() {
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    (min..=max).contains(&n).then_some(n)
}

/// TFTP error codes: RFC 1350's 0..=7 and RFC 2347's 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0: not defined, see the message.
    NotDefined,
    /// 1: file not found.
    FileNotFound,
    /// 2: access violation.
    AccessViolation,
    /// 3: disk full or allocation exceeded.
    DiskFull,
    /// 4: illegal TFTP operation.
    IllegalOperation,
    /// 5: unknown transfer ID.
    UnknownTransferId,
    /// 6: file already exists.
    FileExists,
    /// 7: no such user.
    NoSuchUser,
    /// 8: option negotiation failed (RFC 2347).
    OptionNegotiation,
    /// Any other code (9 and up; a code 0..=8 here is written as that code
    /// and parses back as its named variant).
    Other(u16),
}

impl ErrorCode {
    /// The numeric code on the wire.
    pub fn code(self) -> u16 {
        match self {
            ErrorCode::NotDefined => 0,
            ErrorCode::FileNotFound => 1,
            ErrorCode::AccessViolation => 2,
            ErrorCode::DiskFull => 3,
            ErrorCode::IllegalOperation => 4,
            ErrorCode::UnknownTransferId => 5,
            ErrorCode::FileExists => 6,
            ErrorCode::NoSuchUser => 7,
            ErrorCode::OptionNegotiation => 8,
            ErrorCode::Other(n) => n,
        }
    }
}

impl From<u16> for ErrorCode {
    fn from(n: u16) -> Self {
        match n {
            0 => ErrorCode::NotDefined,
            1 => ErrorCode::FileNotFound,
            2 => ErrorCode::AccessViolation,
            3 => ErrorCode::DiskFull,
            4 => ErrorCode::IllegalOperation,
            5 => ErrorCode::UnknownTransferId,
            6 => ErrorCode::FileExists,
            7 => ErrorCode::NoSuchUser,
            8 => ErrorCode::OptionNegotiation,
            n => ErrorCode::Other(n),
        }
    }
}

/// Why bytes are not a TFTP packet we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Fewer bytes than the packet's fixed header.
    #[error("TFTP packet of {len} bytes is too short: a {what} needs at least {need}")]
    TooShort {
        /// The packet type (or "packet").
        what: &'static str,
        /// Bytes received.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The opcode is not 1..=6.
    #[error("TFTP opcode {0} is unknown (expected 1 to 6)")]
    UnknownOpcode(u16),
    /// A string field runs to the end of the packet without its NUL.
    #[error("TFTP {field} is not terminated by a NUL byte")]
    Unterminated {
        /// Which field.
        field: &'static str,
    },
    /// The request names no file.
    #[error("TFTP request has an empty file name")]
    EmptyFilename,
    /// The file name is longer than [`MAX_FILENAME`] bytes.
    #[error("TFTP file name of {len} bytes is longer than the limit of 255")]
    FilenameTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A text field is not valid UTF-8.
    #[error("TFTP {field} is not valid UTF-8")]
    NotUtf8 {
        /// Which field.
        field: &'static str,
    },
    /// The transfer mode is not `octet` or `netascii`.
    #[error("TFTP transfer mode {mode:?} is not supported (only octet and netascii)")]
    UnsupportedMode {
        /// The mode as sent (lossy UTF-8).
        mode: String,
    },
    /// An option with an empty name (and not just trailing NUL padding).
    #[error("TFTP option at byte {offset} has an empty name")]
    EmptyOptionName {
        /// Offset of the option in the packet.
        offset: usize,
    },
    /// A DATA payload longer than [`MAX_DATA`].
    #[error("TFTP DATA payload of {len} bytes is longer than the limit of 65464")]
    DataTooLong {
        /// Its length.
        len: usize,
    },
}

impl Packet {
    /// Parses one packet (the UDP payload).
    pub fn parse(bytes: &[u8]) -> Result<Packet, ParseError> {
        let (op, body) = match bytes {
            [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
            _ => {
                return Err(ParseError::TooShort {
                    what: "packet",
                    len: bytes.len(),
                    need: 2,
                })
            }
        };
        match op {
            OP_RRQ => Ok(Packet::Rrq(parse_request(bytes.len(), body)?)),
            OP_WRQ => Ok(Packet::Wrq(parse_request(bytes.len(), body)?)),
            OP_DATA => {
                let (block, data) = block_and_rest(bytes, body, "DATA")?;
                if data.len() > MAX_DATA {
                    return Err(ParseError::DataTooLong { len: data.len() });
                }
                Ok(Packet::Data {
                    block,
                    data: data.to_vec(),
                })
            }
            OP_ACK => {
                // Anything after the block number (Microsoft's next window
                // size) is ignored here.
                let (block, _) = block_and_rest(bytes, body, "ACK")?;
                Ok(Packet::Ack { block })
            }
            OP_ERROR => {
                let (code, rest) = block_and_rest(bytes, body, "ERROR")?;
                // Lenient: a missing NUL ends the message at the packet's
                // end, so a client's abort is never lost to a sloppy packet.
                let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                Ok(Packet::Error {
                    code: ErrorCode::from(code),
                    message: String::from_utf8_lossy(&rest[..end]).into_owned(),
                })
            }
            OP_OACK => Ok(Packet::Oack(parse_options(bytes.len(), body)?)),
            other => Err(ParseError::UnknownOpcode(other)),
        }
    }

    /// Serialises the packet to its wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(match self {
            Packet::Data { data, .. } => 4 + data.len(),
            _ => 64,
        });
        match self {
            Packet::Rrq(r) | Packet::Wrq(r) => {
                let op = if matches!(self, Packet::Rrq(_)) {
                    OP_RRQ
                } else {
                    OP_WRQ
                };
                out.extend_from_slice(&op.to_be_bytes());
                put_str(&mut out, &r.filename);
                put_str(&mut out, r.mode.as_str());
                r.options.write(&mut out);
            }
            Packet::Data { block, data } => {
                out.extend_from_slice(&OP_DATA.to_be_bytes());
                out.extend_from_slice(&block.to_be_bytes());
                out.extend_from_slice(data);
            }
            Packet::Ack { block } => {
                out.extend_from_slice(&OP_ACK.to_be_bytes());
                out.extend_from_slice(&block.to_be_bytes());
            }
            Packet::Error { code, message } => {
                out.extend_from_slice(&OP_ERROR.to_be_bytes());
                out.extend_from_slice(&code.code().to_be_bytes());
                put_str(&mut out, message);
            }
            Packet::Oack(options) => {
                out.extend_from_slice(&OP_OACK.to_be_bytes());
                options.write(&mut out);
            }
        }
        out
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// Splits a two-byte big-endian number off `body`.
fn block_and_rest<'a>(
    whole: &[u8],
    body: &'a [u8],
    what: &'static str,
) -> Result<(u16, &'a [u8]), ParseError> {
    match body {
        [a, b, rest @ ..] => Ok((u16::from_be_bytes([*a, *b]), rest)),
        _ => Err(ParseError::TooShort {
            what,
            len: whole.len(),
            need: 4,
        }),
    }
}

/// Splits a NUL-terminated field off `bytes`: (field, rest after the NUL).
fn take_cstr<'a>(bytes: &'a [u8], field: &'static str) -> Result<(&'a [u8], &'a [u8]), ParseError> {
    match bytes.iter().position(|&b| b == 0) {
        Some(i) => Ok((&bytes[..i], &bytes[i + 1..])),
        None => Err(ParseError::Unterminated { field }),
    }
}

/// Parses the body of an RRQ or WRQ; `total` is the whole packet's length.
fn parse_request(total: usize, body: &[u8]) -> Result<Request, ParseError> {
    let (name, rest) = take_cstr(body, "file name")?;
    if name.is_empty() {
        return Err(ParseError::EmptyFilename);
    }
    if name.len() > MAX_FILENAME {
        return Err(ParseError::FilenameTooLong { len: name.len() });
    }
    let filename = std::str::from_utf8(name)
        .map_err(|_| ParseError::NotUtf8 { field: "file name" })?
        .to_owned();
    let (mode, rest) = take_cstr(rest, "transfer mode")?;
    let mode = if mode.eq_ignore_ascii_case(b"octet") {
        Mode::Octet
    } else if mode.eq_ignore_ascii_case(b"netascii") {
        Mode::NetAscii
    } else {
        return Err(ParseError::UnsupportedMode {
            mode: String::from_utf8_lossy(mode).into_owned(),
        });
    };
    let options = parse_options(total, rest)?;
    Ok(Request {
        filename,
        mode,
        options,
    })
}

/// Parses `name NUL value NUL` pairs, the tail of a packet of `total`
/// bytes; trailing NUL padding is accepted.
fn parse_options(total: usize, mut bytes: &[u8]) -> Result<Options, ParseError> {
    let mut options = Options::default();
    while !bytes.is_empty() {
        if bytes.iter().all(|&b| b == 0) {
            break; // padding some clients add
        }
        let (name, rest) = take_cstr(bytes, "option name")?;
        if name.is_empty() {
            return Err(ParseError::EmptyOptionName {
                offset: total - bytes.len(),
            });
        }
        let (value, rest) = take_cstr(rest, "option value")?;
        bytes = rest;
        options.insert(
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(value).into_owned(),
        );
    }
    Ok(options)
}

/// Fuzzing entry point (also run over the seed corpus by `cargo test`):
/// parses arbitrary bytes as a packet; whatever parses must re-serialise and
/// parse back to the same packet.
#[cfg(feature = "fuzzing")]
pub fn fuzz_one(data: &[u8]) {
    if let Ok(packet) = Packet::parse(data) {
        assert_eq!(
            Packet::parse(&packet.to_bytes()).as_ref(),
            Ok(&packet),
            "packet must round-trip"
        );
    }
}

/// The start of `message` that fits an ERROR packet of at most 512 bytes.
pub(super) fn clip(message: &str) -> &str {
    const MAX: usize = 500;
    if message.len() <= MAX {
        return message;
    }
    let mut end = MAX;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_char_boundaries() {
        let long = "é".repeat(400);
        let c = clip(&long);
        assert!(c.len() <= 500 && c.len() >= 499);
        assert_eq!(clip("short"), "short");
    }
    use proptest::prelude::*;

    fn rrq(rest: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 1];
        v.extend_from_slice(rest);
        v
    }

    #[test]
    fn windows_boot_manager_rrq() {
        let bytes = rrq(b"\\Boot\\BCD\0octet\0tsize\x000\0blksize\x001456\0windowsize\x004\0msftwindow\x0031416\0");
        let Packet::Rrq(r) = Packet::parse(&bytes).unwrap() else {
            panic!("not an RRQ")
        };
        assert_eq!(r.filename, "\\Boot\\BCD");
        assert_eq!(r.mode, Mode::Octet);
        assert_eq!(
            r.options,
            Options {
                blksize: Some(1456),
                tsize: Some(0),
                windowsize: Some(4),
                msftwindow: Some(31416),
                ..Options::default()
            }
        );
        let expected = rrq(b"\\Boot\\BCD\0octet\0blksize\x001456\0tsize\x000\0windowsize\x004\0msftwindow\x0031416\0");
        assert_eq!(Packet::Rrq(r).to_bytes(), expected);
    }

    #[test]
    fn names_and_modes_are_case_insensitive() {
        let bytes = rrq(b"f\0NetASCII\0BlkSize\x00512\0TIMEOUT\x005\0");
        let Packet::Rrq(r) = Packet::parse(&bytes).unwrap() else {
            panic!("not an RRQ")
        };
        assert_eq!(r.mode, Mode::NetAscii);
        assert_eq!(r.options.blksize, Some(512));
        assert_eq!(r.options.timeout, Some(5));
        assert!(r.options.rejected.is_empty());
    }

    #[test]
    fn bad_option_values_are_ignored_not_fatal() {
        let bytes = rrq(
            b"f\0octet\0blksize\x007\0blksize\x0065465\0timeout\x000\0timeout\x00256\0\
windowsize\x000\0windowsize\x0065536\0tsize\x00+5\0tsize\x0018446744073709551616\0\
msftwindow\x004294967296\0blksize\x00512\0blksize\x001024\0x-vendor\0v\0",
        );
        let Packet::Rrq(r) = Packet::parse(&bytes).unwrap() else {
            panic!("not an RRQ")
        };
        let o = &r.options;
        assert_eq!(o.blksize, Some(512), "first valid value wins");
        assert_eq!(
            (o.timeout, o.windowsize, o.tsize, o.msftwindow),
            (None, None, None, None)
        );
        let rejected: Vec<&str> = o.rejected.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(
            rejected,
            [
                "7",
                "65465",
                "0",
                "256",
                "0",
                "65536",
                "+5",
                "18446744073709551616",
                "4294967296",
                "1024"
            ]
        );
        assert_eq!(o.unknown, [("x-vendor".to_owned(), "v".to_owned())]);
        fuzz_one(&bytes);
    }

    #[test]
    fn option_limits_are_inclusive() {
        let bytes = rrq(b"f\0octet\0blksize\x008\0timeout\x00255\0windowsize\x0065535\0tsize\x0018446744073709551615\0");
        let Packet::Rrq(r) = Packet::parse(&bytes).unwrap() else {
            panic!("not an RRQ")
        };
        assert_eq!(r.options.blksize, Some(8));
        assert_eq!(r.options.timeout, Some(255));
        assert_eq!(r.options.windowsize, Some(65535));
        assert_eq!(r.options.tsize, Some(u64::MAX));
        let bytes = rrq(b"f\0octet\0blksize\x0065464\0timeout\x001\0windowsize\x001\0");
        let Packet::Rrq(r) = Packet::parse(&bytes).unwrap() else {
            panic!("not an RRQ")
        };
        assert_eq!(r.options.blksize, Some(65464));
        assert_eq!(r.options.timeout, Some(1));
        assert_eq!(r.options.windowsize, Some(1));
    }

    #[test]
    fn malformed_requests_are_named() {
        let long = [b'a'; 256];
        let mut too_long = rrq(&long);
        too_long.extend_from_slice(b"\0octet\0");
        let mut max = rrq(&long[..255]);
        max.extend_from_slice(b"\0octet\0");
        assert!(Packet::parse(&max).is_ok());
        let cases: Vec<(Vec<u8>, ParseError)> = vec![
            (
                vec![],
                ParseError::TooShort {
                    what: "packet",
                    len: 0,
                    need: 2,
                },
            ),
            (
                vec![0],
                ParseError::TooShort {
                    what: "packet",
                    len: 1,
                    need: 2,
                },
            ),
            (vec![0, 7], ParseError::UnknownOpcode(7)),
            (vec![0, 0], ParseError::UnknownOpcode(0)),
            (
                rrq(b"file"),
                ParseError::Unterminated { field: "file name" },
            ),
            (
                rrq(b"file\0octet"),
                ParseError::Unterminated {
                    field: "transfer mode",
                },
            ),
            (rrq(b"\0octet\0"), ParseError::EmptyFilename),
            (too_long, ParseError::FilenameTooLong { len: 256 }),
            (
                rrq(b"f\xff\0octet\0"),
                ParseError::NotUtf8 { field: "file name" },
            ),
            (
                rrq(b"f\0mail\0"),
                ParseError::UnsupportedMode {
                    mode: "mail".into(),
                },
            ),
            (
                rrq(b"f\0\0"),
                ParseError::UnsupportedMode {
                    mode: String::new(),
                },
            ),
            (
                rrq(b"f\0octet\0blksize"),
                ParseError::Unterminated {
                    field: "option name",
                },
            ),
            (
                rrq(b"f\0octet\0blksize\x00512"),
                ParseError::Unterminated {
                    field: "option value",
                },
            ),
            (
                rrq(b"f\0octet\0\0x\0"),
                ParseError::EmptyOptionName { offset: 10 },
            ),
            (
                vec![0, 3, 0],
                ParseError::TooShort {
                    what: "DATA",
                    len: 3,
                    need: 4,
                },
            ),
            (
                vec![0, 4],
                ParseError::TooShort {
                    what: "ACK",
                    len: 2,
                    need: 4,
                },
            ),
            (
                vec![0, 5, 1],
                ParseError::TooShort {
                    what: "ERROR",
                    len: 3,
                    need: 4,
                },
            ),
        ];
        for (bytes, want) in cases {
            let err = Packet::parse(&bytes).unwrap_err();
            assert_eq!(err, want, "{bytes:?}");
            assert!(!err.to_string().is_empty());
        }
        let mut big = vec![0, 3, 0, 1];
        big.resize(4 + MAX_DATA, 0xAA);
        assert!(Packet::parse(&big).is_ok());
        big.push(0);
        assert_eq!(
            Packet::parse(&big),
            Err(ParseError::DataTooLong { len: MAX_DATA + 1 })
        );
    }

    #[test]
    fn lenient_where_clients_are_sloppy() {
        // Trailing NUL padding after the options.
        let Packet::Rrq(r) = Packet::parse(&rrq(b"f\0octet\0tsize\x000\0\0\0\0")).unwrap() else {
            panic!("not an RRQ")
        };
        assert_eq!(r.options.tsize, Some(0));
        // Microsoft's ACK carries the next window size after the block.
        assert_eq!(
            Packet::parse(&[0, 4, 0, 9, 16]),
            Ok(Packet::Ack { block: 9 })
        );
        // An ERROR without its NUL (a tsize probe's abort) still parses.
        assert_eq!(
            Packet::parse(b"\0\x05\0\x08abort"),
            Ok(Packet::Error {
                code: ErrorCode::OptionNegotiation,
                message: "abort".into()
            })
        );
        assert_eq!(
            Packet::parse(b"\0\x05\x01\x00"),
            Ok(Packet::Error {
                code: ErrorCode::Other(256),
                message: String::new()
            })
        );
    }

    #[test]
    fn server_packets_serialise() {
        let oack = Packet::Oack(Options {
            blksize: Some(1456),
            tsize: Some(123_456),
            windowsize: Some(4),
            msftwindow: Some(27182),
            ..Options::default()
        });
        assert_eq!(
            oack.to_bytes(),
            b"\0\x06blksize\x001456\0tsize\x00123456\0windowsize\x004\0msftwindow\x0027182\0"
        );
        assert_eq!(
            Packet::Data {
                block: 0xFFFF,
                data: b"xy".to_vec()
            }
            .to_bytes(),
            b"\0\x03\xff\xffxy"
        );
        assert_eq!(Packet::Ack { block: 0 }.to_bytes(), b"\0\x04\0\0");
        assert_eq!(
            Packet::Error {
                code: ErrorCode::FileNotFound,
                message: "no".into()
            }
            .to_bytes(),
            b"\0\x05\0\x01no\0"
        );
        for n in 0..=20u16 {
            assert_eq!(ErrorCode::from(n).code(), n);
        }
    }

    fn arb_name() -> impl Strategy<Value = String> {
        // Any non-empty text without NUL, up to the limit (in bytes).
        "[^\u{0}]{1,60}".prop_filter("at most 255 bytes", |s| s.len() <= MAX_FILENAME)
    }

    fn arb_options() -> impl Strategy<Value = Options> {
        let unknown = prop::collection::vec(("x-[a-zA-Z0-9]{1,8}", "[^\u{0}]{0,12}"), 0..3);
        let rejected = prop::collection::vec(
            prop::sample::select(vec![
                ("blksize", "7"),
                ("BLKSIZE", "65465"),
                ("timeout", "0"),
                ("Timeout", "1000"),
                ("windowsize", "0"),
                ("tsize", "-1"),
                ("msftwindow", ""),
                ("blksize", " 512"),
            ])
            .prop_map(|(n, v)| (n.to_owned(), v.to_owned())),
            0..3,
        );
        (
            prop::option::of(8u16..=65464),
            any::<Option<u64>>(),
            prop::option::of(1u8..=255),
            prop::option::of(1u16..=65535),
            any::<Option<u32>>(),
            unknown,
            rejected,
        )
            .prop_map(
                |(blksize, tsize, timeout, windowsize, msftwindow, unknown, rejected)| Options {
                    blksize,
                    tsize,
                    timeout,
                    windowsize,
                    msftwindow,
                    unknown,
                    rejected,
                },
            )
    }

    fn arb_request() -> impl Strategy<Value = Request> {
        (
            arb_name(),
            prop::sample::select(vec![Mode::Octet, Mode::NetAscii]),
            arb_options(),
        )
            .prop_map(|(filename, mode, options)| Request {
                filename,
                mode,
                options,
            })
    }

    fn arb_packet() -> impl Strategy<Value = Packet> {
        prop_oneof![
            arb_request().prop_map(Packet::Rrq),
            arb_request().prop_map(Packet::Wrq),
            (any::<u16>(), prop::collection::vec(any::<u8>(), 0..1500))
                .prop_map(|(block, data)| Packet::Data { block, data }),
            any::<u16>().prop_map(|block| Packet::Ack { block }),
            (any::<u16>(), "[^\u{0}]{0,40}").prop_map(|(code, message)| Packet::Error {
                code: ErrorCode::from(code),
                message
            }),
            arb_options().prop_map(Packet::Oack),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(packet in arb_packet()) {
            let bytes = packet.to_bytes();
            prop_assert_eq!(Packet::parse(&bytes), Ok(packet));
            fuzz_one(&bytes);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..300)) {
            fuzz_one(&data);
        }

        #[test]
        fn mutated_packets_never_panic(
            packet in arb_packet(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = packet.to_bytes();
            for (i, b) in flips {
                let i = i.index(bytes.len());
                bytes[i] = b;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
            fuzz_one(&bytes);
        }
    }
}
