//! HTTP/1.1 request heads and response heads as bytes: the codec the boot
//! server's HTTP service speaks (RFC 9110 semantics, RFC 9112 syntax,
//! RFC 7233 ranges), without I/O.
//!
//! Only what a boot client needs is understood: `GET` and `HEAD`, the
//! `Host`, `Connection`, `Range` and `If-None-Match` fields. Every request
//! is hostile: a head is at most [`MAX_HEAD`] bytes and [`MAX_FIELDS`]
//! fields, every byte is checked against the grammar, and parsing never
//! panics (property-tested).

use std::fmt::Write as _;

/// Longest request head accepted (request line and fields, with the empty
/// line), in bytes.
pub const MAX_HEAD: usize = 8192;
/// Most header fields accepted.
pub const MAX_FIELDS: usize = 64;

/// A request method the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: as GET, without the body.
    Head,
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// GET or HEAD.
    pub method: Method,
    /// The path of the target, percent-decoded, without the query; starts
    /// with `/`.
    pub path: String,
    /// Whether the client speaks HTTP/1.1 (else 1.0).
    pub http11: bool,
    /// Whether the connection stays open after the response (HTTP/1.1
    /// unless `Connection: close`; HTTP/1.0 only with `keep-alive`).
    pub keep_alive: bool,
    /// The `Range` field, if any and well-formed.
    pub range: Option<RangeSpec>,
    /// The `If-None-Match` field, if any.
    pub if_none_match: Option<String>,
}

/// One byte range a client asked for (`bytes=first-last`, `bytes=first-`,
/// `bytes=-suffix`); several ranges in one request are answered with the
/// whole file, as RFC 9110 allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// From `first` to `last` inclusive (`last` `None`: to the end).
    From {
        /// The first byte.
        first: u64,
        /// The last byte, inclusive.
        last: Option<u64>,
    },
    /// The last `n` bytes.
    Suffix(u64),
}

impl RangeSpec {
    /// The bytes `[start, end)` of a body of `size` bytes this range
    /// selects, or `None` when it is unsatisfiable (416).
    pub fn resolve(self, size: u64) -> Option<(u64, u64)> {
        match self {
            RangeSpec::From { first, last } => {
                if first >= size {
                    return None;
                }
                let end = last.map_or(size, |l| l.saturating_add(1).min(size));
                Some((first, end))
            }
            RangeSpec::Suffix(n) if n == 0 || size == 0 => None,
            RangeSpec::Suffix(n) => Some((size.saturating_sub(n), size)),
        }
    }
}

/// Why a request head was refused, with the status to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeadError {
    /// The bytes do not follow the HTTP/1.1 grammar (400).
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// More than [`MAX_HEAD`] bytes or [`MAX_FIELDS`] fields (431).
    #[error("request head too large")]
    TooLarge,
    /// A method other than GET and HEAD (405).
    #[error("method not allowed")]
    Method,
    /// An HTTP version other than 1.0 and 1.1 (505).
    #[error("HTTP version not supported")]
    Version,
}

impl HeadError {
    /// The status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            HeadError::Malformed(_) => 400,
            HeadError::TooLarge => 431,
            HeadError::Method => 405,
            HeadError::Version => 505,
        }
    }
}

/// Where a complete head ends in `buf` (the index after its empty line),
/// or `None` while it is incomplete. A head longer than [`MAX_HEAD`] is
/// [`HeadError::TooLarge`].
pub fn head_end(buf: &[u8]) -> Result<Option<usize>, HeadError> {
    let window = &buf[..buf.len().min(MAX_HEAD)];
    if let Some(i) = window.windows(4).position(|w| w == b"\r\n\r\n") {
        return Ok(Some(i + 4));
    }
    if buf.len() >= MAX_HEAD {
        return Err(HeadError::TooLarge);
    }
    Ok(None)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses a complete request head (as [`head_end`] delimits it).
pub fn parse_head(head: &[u8]) -> Result<RequestHead, HeadError> {
    if head.len() > MAX_HEAD {
        return Err(HeadError::TooLarge);
    }
    let text = std::str::from_utf8(head).map_err(|_| HeadError::Malformed("not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let request_line = lines
        .next()
        .ok_or(HeadError::Malformed("no request line"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed(
            "the request line is not METHOD TARGET VERSION",
        ));
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(HeadError::Malformed("bad method"));
    }
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        _ => return Err(HeadError::Method),
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        v if v.starts_with("HTTP/") => return Err(HeadError::Version),
        _ => return Err(HeadError::Malformed("bad version")),
    };
    let path = decode_target(target)?;
    let mut fields = 0;
    let mut host = false;
    let mut connection: Option<String> = None;
    let mut range = None;
    let mut if_none_match = None;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(HeadError::TooLarge);
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(HeadError::Malformed("a field without ':'"))?;
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(HeadError::Malformed("bad field name"));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(HeadError::Malformed("control character in a field value"));
        }
        match name.to_ascii_lowercase().as_str() {
            "host" => {
                if host {
                    return Err(HeadError::Malformed("two Host fields"));
                }
                host = true;
            }
            "connection" => connection = Some(value.to_ascii_lowercase()),
            "range" => range = parse_range(value),
            "if-none-match" => if_none_match = Some(value.to_string()),
            // A body is never expected; a request announcing one is
            // refused rather than left to desynchronise the connection.
            "content-length" if value != "0" => {
                return Err(HeadError::Malformed("a GET or HEAD with a body"))
            }
            "transfer-encoding" => return Err(HeadError::Malformed("a GET or HEAD with a body")),
            _ => {}
        }
    }
    if http11 && !host {
        return Err(HeadError::Malformed("HTTP/1.1 without Host"));
    }
    let tokens = |c: &str, t: &str| c.split(',').any(|x| x.trim() == t);
    let keep_alive = match &connection {
        Some(c) if tokens(c, "close") => false,
        Some(c) if tokens(c, "keep-alive") => true,
        _ => http11,
    };
    Ok(RequestHead {
        method,
        path,
        http11,
        keep_alive,
        range,
        if_none_match,
    })
}

/// The target's path, percent-decoded (the query dropped); only
/// origin-form (`/…`) targets are accepted.
fn decode_target(target: &str) -> Result<String, HeadError> {
    let path = target.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with('/') {
        return Err(HeadError::Malformed("the target is not an absolute path"));
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(HeadError::Malformed("bad percent-encoding"))?;
            out.push(hex);
            i += 3;
        } else if b <= 0x20 || b == 0x7f {
            return Err(HeadError::Malformed("control character in the target"));
        } else {
            out.push(b);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).map_err(|_| HeadError::Malformed("target not UTF-8"))?;
    if decoded.chars().any(char::is_control) {
        return Err(HeadError::Malformed("control character in the target"));
    }
    Ok(decoded)
}

/// A single `bytes=` range; anything else (several ranges, other units,
/// bad numbers) is `None`, and the whole body is sent.
fn parse_range(value: &str) -> Option<RangeSpec> {
    let spec = value.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || s.len() > 19 || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (a.trim(), b.trim()) {
        ("", n) => num(n).map(RangeSpec::Suffix),
        (f, "") => num(f).map(|first| RangeSpec::From { first, last: None }),
        (f, l) => {
            let (first, last) = (num(f)?, num(l)?);
            (first <= last).then_some(RangeSpec::From {
                first,
                last: Some(last),
            })
        }
    }
}

/// The reason phrase of a status the server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// A response head: the status line, then `fields` (name, value) in order,
/// `Content-Length`, `Connection`, and the empty line.
pub fn response_head(
    status: u16,
    fields: &[(&str, &str)],
    content_length: u64,
    keep_alive: bool,
) -> Vec<u8> {
    let mut s = String::with_capacity(256);
    let _ = write!(s, "HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in fields {
        let _ = write!(s, "{name}: {value}\r\n");
    }
    let _ = write!(s, "Content-Length: {content_length}\r\n");
    s.push_str(if keep_alive {
        "Connection: keep-alive\r\n"
    } else {
        "Connection: close\r\n"
    });
    s.push_str("\r\n");
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Result<RequestHead, HeadError> {
        parse_head(text.as_bytes())
    }

    #[test]
    fn a_boot_clients_requests_parse() {
        let r = parse("GET /images/rescue/1/sources/boot.wim HTTP/1.1\r\nHost: 10.0.0.1\r\nRange: bytes=100-199\r\n\r\n").unwrap();
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.path, "/images/rescue/1/sources/boot.wim");
        assert!(r.http11 && r.keep_alive);
        assert_eq!(
            r.range,
            Some(RangeSpec::From {
                first: 100,
                last: Some(199)
            })
        );
        let r = parse("HEAD /a%20b?x=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        assert_eq!(
            (r.method, r.path.as_str(), r.keep_alive),
            (Method::Head, "/a b", true)
        );
        let r = parse(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nIf-None-Match: \"abc\"\r\n\r\n",
        )
        .unwrap();
        assert!(!r.keep_alive);
        assert_eq!(r.if_none_match.as_deref(), Some("\"abc\""));
    }

    #[test]
    fn bad_requests_get_the_right_status() {
        let status = |t: &str| parse(t).unwrap_err().status();
        assert_eq!(status("POST / HTTP/1.1\r\nHost: x\r\n\r\n"), 405);
        assert_eq!(status("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
        assert_eq!(status("GET / HTTP/1.1\r\n\r\n"), 400, "no Host");
        assert_eq!(status("GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
        assert_eq!(status("GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
        assert_eq!(status("GET /%0a HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"), 400);
        assert_eq!(
            status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"),
            400
        );
        assert_eq!(
            status("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400
        );
        assert_eq!(status("GET  / HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
        let many: String = (0..=MAX_FIELDS).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(
            status(&format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n")),
            431
        );
        assert_eq!(head_end(&vec![b'a'; MAX_HEAD]), Err(HeadError::TooLarge));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), Ok(None));
        assert_eq!(head_end(b"GET / HTTP/1.0\r\n\r\nrest"), Ok(Some(18)));
    }

    #[test]
    fn ranges_resolve_against_the_size() {
        let r = |s: &str| parse_range(s);
        assert_eq!(r("bytes=0-0").unwrap().resolve(10), Some((0, 1)));
        assert_eq!(r("bytes=5-").unwrap().resolve(10), Some((5, 10)));
        assert_eq!(r("bytes=5-100").unwrap().resolve(10), Some((5, 10)));
        assert_eq!(r("bytes=-3").unwrap().resolve(10), Some((7, 10)));
        assert_eq!(r("bytes=-30").unwrap().resolve(10), Some((0, 10)));
        assert_eq!(r("bytes=10-").unwrap().resolve(10), None);
        assert_eq!(r("bytes=-0").unwrap().resolve(10), None);
        assert_eq!(r("bytes=3-2"), None, "backwards: ignored");
        assert_eq!(r("bytes=0-1,4-5"), None, "several: the whole body");
        assert_eq!(r("items=0-1"), None);
        assert_eq!(r("bytes=99999999999999999999-"), None);
    }

    #[test]
    fn response_heads_carry_length_and_connection() {
        let h = response_head(206, &[("Content-Range", "bytes 0-9/100")], 10, true);
        assert_eq!(
            String::from_utf8(h).unwrap(),
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/100\r\nContent-Length: 10\r\nConnection: keep-alive\r\n\r\n"
        );
    }

    proptest! {
        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = head_end(&bytes);
            let _ = parse_head(&bytes);
        }

        #[test]
        fn parsed_paths_start_with_a_slash_and_hold_no_control_characters(
            target in "/[ -~]{0,60}", range in "[ -~]{0,20}") {
            let text = format!("GET {target} HTTP/1.1\r\nHost: h\r\nRange: {range}\r\n\r\n");
            if let Ok(r) = parse_head(text.as_bytes()) {
                prop_assert!(r.path.starts_with('/'));
                prop_assert!(!r.path.chars().any(char::is_control));
            }
        }

        #[test]
        fn a_resolved_range_lies_inside_the_body(first in 0u64..1000, len in 0u64..1000, size in 0u64..1000, suffix: bool) {
            let spec = if suffix { RangeSpec::Suffix(len) } else { RangeSpec::From { first, last: Some(first + len) } };
            if let Some((a, b)) = spec.resolve(size) {
                prop_assert!(a < b && b <= size);
            }
        }
    }
}
