//! One read transfer, from the request to the last ACK; runs on a thread of
//! its own with a socket connected to the client. The rules it follows are
//! listed in the [server docs](super::server).

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::MAX_WINDOWSIZE;
use super::event::TftpEvent;
use super::packet::clip;
use super::packet::{ErrorCode, Mode, Options, Packet, Request};
use super::path::{check_name, resolve, PathError};
use super::shared::{Shared, POLL};
use super::slot::{Cancel, Control, Slot};
use crate::net::files::Provided;

/// `msftwindow` value in Windows Boot Manager's RRQ.
const MSFT_REQUEST: u32 = 31416;
/// `msftwindow` value of a server that supports the variable window.
const MSFT_ANSWER: u32 = 27182;
/// Block size without the `blksize` option (RFC 1350).
const DEFAULT_BLKSIZE: u16 = 512;

/// A transfer about to run.
pub(super) struct Session {
    socket: UdpSocket,
    client: SocketAddr,
    request: Request,
    shared: Arc<Shared>,
    started: Instant,
    /// Receive buffer for ACKs and ERRORs (longer datagrams are cut, which
    /// only shortens an ERROR's message).
    inbuf: Vec<u8>,
    /// The flags shared with the listener.
    control: Arc<Control>,
    /// Reading what has already arrived before answering a repeated
    /// request (the socket is non-blocking meanwhile).
    draining: bool,
    /// Whether the client has acknowledged anything; until it has, the
    /// session sends one datagram per request and never resends on its
    /// own (no amplification towards a forged source address).
    confirmed: bool,
    /// Time spent in timeouts that expired, against the silence budget.
    silent: Duration,
    /// The transfer's place under the limits; given up as soon as the
    /// session will send nothing but a refusal.
    slot: Option<Slot>,
}

/// How a transfer ended.
enum Outcome {
    Finished { bytes: u64 },
    Denied(String),
    Aborted { code: u16, message: String },
    Replaced,
    Failed(String),
}

/// What the client said, or why nothing came.
enum Incoming {
    Ack {
        block: u16,
        /// The byte after the block number, if any (Microsoft's next window
        /// size).
        extra: Option<u8>,
    },
    Error {
        code: u16,
        message: String,
    },
    Timeout,
    /// The client sent its request again (the listener handed it over),
    /// and nothing it sent before is still unread.
    Repeat,
    /// The listener ended the session.
    Cancelled(Cancel),
    Stopped,
    Gone(io::Error),
}

/// Where a block starts in the file; in netascii mode also the second half
/// of a CR LF or CR NUL pair that did not fit in the previous block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    offset: u64,
    pending: Option<u8>,
}

impl Pos {
    const START: Pos = Pos {
        offset: 0,
        pending: None,
    };
}

impl Session {
    pub(super) fn new(
        socket: UdpSocket,
        client: SocketAddr,
        request: Request,
        shared: Arc<Shared>,
        slot: Slot,
    ) -> Self {
        Session {
            socket,
            client,
            request,
            shared,
            started: Instant::now(),
            inbuf: vec![0; 2048],
            control: Arc::clone(slot.control()),
            draining: false,
            confirmed: false,
            silent: Duration::ZERO,
            slot: Some(slot),
        }
    }

    /// Serves the request and reports how it ended.
    pub(super) fn run(mut self) {
        let outcome = self.serve();
        if matches!(outcome, Outcome::Finished { .. }) {
            self.control.finish();
        }
        let client = self.client;
        let file = self.request.filename.clone();
        let event = match outcome {
            Outcome::Finished { bytes } => TftpEvent::Finished {
                client,
                file,
                bytes,
                seconds: self.started.elapsed().as_secs_f64(),
            },
            Outcome::Denied(reason) => TftpEvent::Denied {
                client,
                file,
                reason,
            },
            Outcome::Aborted { code, message } => TftpEvent::Aborted {
                client,
                file,
                code,
                message,
            },
            Outcome::Replaced => TftpEvent::Replaced { client, file },
            Outcome::Failed(reason) => TftpEvent::Failed {
                client,
                file,
                reason,
            },
        };
        // Free the slot before the callback runs, so that whoever the event
        // wakes sees the transfer gone.
        let shared = Arc::clone(&self.shared);
        drop(self);
        shared.emit(event);
    }

    /// Resolves the request (after the rewrite hook) to a file under the
    /// root, asks the gate, and opens it; the refusal's outcome otherwise.
    fn open_on_disk(&mut self) -> std::result::Result<(Body, u64), Outcome> {
        let config = &self.shared.config;
        let rewritten = match &self.shared.hooks.rewrite {
            Some(rewrite) => rewrite(self.client, &self.request.filename),
            None => None,
        };
        let name = rewritten.as_deref().unwrap_or(&self.request.filename);
        let path = match resolve(&config.root, name) {
            Ok(path) => path,
            Err(e) => {
                let code = match &e {
                    PathError::Refused { .. } => ErrorCode::AccessViolation,
                    PathError::NotFound { .. } | PathError::Ambiguous { .. } => {
                        ErrorCode::FileNotFound
                    }
                    _ => ErrorCode::NotDefined,
                };
                let reason = e.to_string();
                return Err(self.refuse(code, reason));
            }
        };
        if let Some(gate) = &self.shared.hooks.gate {
            if let Err(reason) = gate(self.client, &path) {
                return Err(self.refuse(ErrorCode::AccessViolation, reason));
            }
        }
        let opened = self
            .shared
            .root
            .open_file(&path)
            .and_then(|f| Ok((f.metadata()?.len(), f)));
        match opened {
            Ok((size, file)) => Ok((Body::File(file), size)),
            Err(e) => {
                let code = if e.kind() == io::ErrorKind::PermissionDenied {
                    ErrorCode::AccessViolation
                } else {
                    ErrorCode::FileNotFound
                };
                let reason = format!(
                    "TFTP file \"{}\" cannot be opened: {e}",
                    self.request.filename.escape_debug()
                );
                Err(self.refuse(code, reason))
            }
        }
    }

    fn serve(&mut self) -> Outcome {
        if let Err(e) = check_name(&self.request.filename) {
            let reason = e.to_string();
            return self.refuse(ErrorCode::AccessViolation, reason);
        }
        let provided = match &self.shared.hooks.provide {
            Some(provide) => provide(self.client, &self.request.filename),
            None => None,
        };
        let (body, size) = match provided {
            Some(Provided::Refused(reason)) => {
                return self.refuse(ErrorCode::AccessViolation, reason);
            }
            Some(Provided::Bytes(bytes)) => {
                let size = bytes.len() as u64;
                (Body::Memory(bytes), size)
            }
            None => match self.open_on_disk() {
                Ok(opened) => opened,
                Err(outcome) => return outcome,
            },
        };

        // Options (RFC 2347): answer only what was asked.
        let config = &self.shared.config;
        let asked = &self.request.options;
        let netascii = self.request.mode == Mode::NetAscii;
        let mut oack = Options::default();
        let blksize = match asked.blksize {
            Some(b) => {
                let b = b.min(config.max_blksize);
                oack.blksize = Some(b);
                b
            }
            None => DEFAULT_BLKSIZE,
        };
        if asked.tsize.is_some() && !netascii {
            oack.tsize = Some(size);
        }
        // A timeout above the maximum is left out of the OACK (RFC 2347:
        // the client then uses its default, the server uses its own).
        let timeout = match asked.timeout {
            Some(t) if Duration::from_secs(u64::from(t)) <= config.max_timeout => {
                oack.timeout = Some(t);
                Duration::from_secs(u64::from(t))
            }
            _ => config.default_timeout,
        };
        let mut window = match asked.windowsize {
            Some(w) => {
                let w = w.min(MAX_WINDOWSIZE);
                oack.windowsize = Some(w);
                w
            }
            None => 1,
        };
        let msft = asked.msftwindow == Some(MSFT_REQUEST);
        if msft {
            oack.msftwindow = Some(MSFT_ANSWER);
        }
        // Wake up often enough to see the stop flag and the deadline.
        let _ = self
            .socket
            .set_read_timeout(Some(timeout.min(POLL).max(Duration::from_millis(1))));

        self.shared.emit(TftpEvent::Started {
            client: self.client,
            file: self.request.filename.clone(),
            size,
        });

        if !oack.is_empty() {
            // Sent once, and again only for a repeated request: the client
            // has acknowledged nothing yet.
            let oack = Packet::Oack(oack).to_bytes();
            if let Err(outcome) = self.send(&oack) {
                return outcome;
            }
            let mut tries = 0;
            let mut deadline = Instant::now() + timeout;
            loop {
                match self.receive(deadline) {
                    Incoming::Ack { block: 0, extra } => {
                        if let Some(w) = extra.filter(|&w| msft && w > 0) {
                            window = u16::from(w);
                        }
                        self.confirm();
                        break;
                    }
                    Incoming::Ack { .. } => {}
                    Incoming::Repeat => {
                        let _ = self.control.take_pending();
                        if let Err(outcome) = self.send(&oack) {
                            return outcome;
                        }
                        deadline = Instant::now() + timeout;
                    }
                    Incoming::Timeout => {
                        if let Some(outcome) = self.waited(&mut tries, timeout, "the OACK") {
                            return outcome;
                        }
                        deadline = Instant::now() + timeout;
                    }
                    other => return self.end(other),
                }
            }
        }

        let mut source = Source {
            body,
            netascii,
            raw: if netascii {
                vec![0; usize::from(blksize)]
            } else {
                Vec::new()
            },
        };
        let block_len = usize::from(blksize);
        let mut packet = vec![0u8; 4 + block_len];
        packet[1] = 3; // opcode DATA

        // The first unacknowledged block (counting from 1, not wrapping)
        // and where it starts; the starts of the blocks sent from it.
        let mut base: u64 = 1;
        let mut base_pos = Pos::START;
        let mut starts: VecDeque<Pos> = VecDeque::with_capacity(usize::from(window));
        let mut tries = 0;
        loop {
            // Send (or resend) the window from `base`: the last block of the
            // file if the window holds it, and where the block after the
            // window starts.
            let (last, after) = match self.send_window(
                &mut source,
                &mut packet,
                base,
                base_pos,
                window,
                &mut starts,
            ) {
                Ok(sent) => sent,
                Err(outcome) => return outcome,
            };

            // Wait for an ACK that moves the window, or time out.
            let mut deadline = Instant::now() + timeout;
            loop {
                match self.receive(deadline) {
                    Incoming::Ack { block, extra } => {
                        // How far past the last acknowledged block: 0 is a
                        // duplicate, beyond the window is stale. Neither
                        // sends anything (Sorcerer's Apprentice).
                        let ahead = u64::from(block.wrapping_sub((base - 1) as u16));
                        if ahead == 0 || ahead > starts.len() as u64 {
                            continue;
                        }
                        self.confirm();
                        if let Some(w) = extra.filter(|&w| msft && w > 0) {
                            window = u16::from(w);
                        }
                        let acked = base - 1 + ahead;
                        if Some(acked) == last {
                            return Outcome::Finished {
                                bytes: after.offset,
                            };
                        }
                        base_pos = starts.get(ahead as usize).copied().unwrap_or(after);
                        base = acked + 1;
                        tries = 0;
                        break;
                    }
                    Incoming::Repeat => {
                        let _ = self.control.take_pending();
                        // A late copy once the transfer runs; before that, a
                        // retry that gets the first window once more.
                        if !self.confirmed {
                            break;
                        }
                    }
                    Incoming::Timeout => {
                        let what = format!("DATA block {}", base as u16);
                        if let Some(outcome) = self.waited(&mut tries, timeout, &what) {
                            return outcome;
                        }
                        if self.confirmed {
                            break;
                        }
                        // Never resend on our own to a client that has
                        // acknowledged nothing: wait on.
                        deadline = Instant::now() + timeout;
                    }
                    other => return self.end(other),
                }
            }
        }
    }

    /// Sends the window of `window` blocks from block `base` (which starts
    /// at `base_pos`), recording where each block starts in `starts`;
    /// returns the last block of the file if the window holds it, and
    /// where the block after the window starts.
    fn send_window(
        &self,
        source: &mut Source,
        packet: &mut [u8],
        base: u64,
        base_pos: Pos,
        window: u16,
        starts: &mut VecDeque<Pos>,
    ) -> Result<(Option<u64>, Pos), Outcome> {
        let block_len = packet.len() - 4;
        starts.clear();
        let mut pos = base_pos;
        for block in base..base + u64::from(window) {
            let (len, next) = match source.fill(pos, &mut packet[4..]) {
                Ok(read) => read,
                Err(e) => {
                    self.send_error(ErrorCode::NotDefined, "the server cannot read the file");
                    return Err(Outcome::Failed(format!(
                        "reading {:?} at byte {} failed: {e}",
                        self.request.filename, pos.offset
                    )));
                }
            };
            // Block numbers are the counter modulo 65536: 65535 rolls over
            // to 0.
            packet[2..4].copy_from_slice(&(block as u16).to_be_bytes());
            starts.push_back(pos);
            self.send(&packet[..4 + len])?;
            pos = next;
            if len < block_len {
                return Ok((Some(block), pos));
            }
        }
        Ok((None, pos))
    }

    /// Marks the client as having acknowledged something.
    fn confirm(&mut self) {
        if !self.confirmed {
            self.confirmed = true;
            self.control.confirm();
        }
    }

    /// Counts an expired timeout; the outcome if the transfer must end.
    fn waited(&mut self, tries: &mut u32, timeout: Duration, what: &str) -> Option<Outcome> {
        let config = &self.shared.config;
        *tries += 1;
        self.silent += timeout;
        let spent = self.silent >= config.silence_budget;
        if *tries <= config.retries && !spent {
            return None;
        }
        let why = if spent {
            format!(
                "the transfer's silence budget of {:.1} s is spent",
                config.silence_budget.as_secs_f64()
            )
        } else {
            format!(
                "{} timeouts of {:.1} s in a row",
                *tries,
                timeout.as_secs_f64()
            )
        };
        Some(if self.confirmed {
            self.send_error(ErrorCode::NotDefined, "timed out waiting for an ACK");
            Outcome::Failed(format!("no ACK for {what}: {why}"))
        } else {
            // Nothing more goes to a client that never acknowledged
            // anything, not even an ERROR.
            Outcome::Failed(format!(
                "the client acknowledged nothing ({what} was sent once per request): {why}"
            ))
        })
    }

    /// Waits for the client's next ACK or ERROR until `deadline`; other
    /// packets and malformed datagrams are ignored.
    fn receive(&mut self, deadline: Instant) -> Incoming {
        loop {
            if self.shared.stopping() {
                return Incoming::Stopped;
            }
            if let Some(why) = self.control.cancelled() {
                return Incoming::Cancelled(why);
            }
            // A repeated request is answered only after everything the
            // client sent before it has been read: an ERROR already here
            // (the end of a tsize probe) means the request is a new one.
            if self.control.take_poke() && !self.draining {
                if self.socket.set_nonblocking(true).is_err() {
                    return Incoming::Repeat;
                }
                self.draining = true;
            }
            if !self.draining && Instant::now() >= deadline {
                return Incoming::Timeout;
            }
            match self.socket.recv(&mut self.inbuf) {
                Ok(n) => match Packet::parse(&self.inbuf[..n]) {
                    Ok(Packet::Ack { block }) => {
                        let extra = if n > 4 { Some(self.inbuf[4]) } else { None };
                        return Incoming::Ack { block, extra };
                    }
                    Ok(Packet::Error { code, message }) => {
                        return Incoming::Error {
                            code: code.code(),
                            message,
                        }
                    }
                    _ => {}
                },
                Err(e) if is_timeout(&e) => {
                    if self.draining {
                        self.draining = false;
                        // If this fails the socket stays non-blocking and
                        // the deadline is checked on every turn instead.
                        let _ = self.socket.set_nonblocking(false);
                        return Incoming::Repeat;
                    }
                }
                Err(e) => return Incoming::Gone(e),
            }
        }
    }

    /// The outcome for an ERROR from the client, the server's stop or the
    /// listener's cancel, or the client gone.
    fn end(&self, incoming: Incoming) -> Outcome {
        match incoming {
            Incoming::Error { code, message } => Outcome::Aborted { code, message },
            Incoming::Stopped => {
                self.send_error(ErrorCode::NotDefined, "the server is shutting down");
                Outcome::Failed("the server was stopped".into())
            }
            Incoming::Cancelled(Cancel::Replaced) => Outcome::Replaced,
            Incoming::Cancelled(Cancel::Reclaimed) => Outcome::Failed(format!(
                "the server was full and the client had acknowledged nothing in {:.1} s; \
                 its slot went to a new request",
                self.started.elapsed().as_secs_f64()
            )),
            Incoming::Gone(e) => Outcome::Failed(format!("the client went away ({e})")),
            Incoming::Ack { .. } | Incoming::Timeout | Incoming::Repeat => {
                Outcome::Failed("internal error: unexpected packet".into())
            }
        }
    }

    /// Sends one datagram to the client. A refused send (the client's port
    /// is closed) ends the transfer; any other error counts as a lost
    /// packet, which the timeout resends.
    fn send(&self, bytes: &[u8]) -> Result<(), Outcome> {
        match self.socket.send(bytes) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                Err(Outcome::Failed(format!("the client went away ({e})")))
            }
            _ => Ok(()),
        }
    }

    /// Refuses the request with ERROR `code`. The slot is freed first, so
    /// that a client that asks again as soon as it has the ERROR is never
    /// counted twice against its address's share.
    fn refuse(&mut self, code: ErrorCode, reason: String) -> Outcome {
        self.slot = None;
        self.send_error(code, &reason);
        Outcome::Denied(reason)
    }

    /// Sends ERROR; if that fails the client times out on its own.
    fn send_error(&self, code: ErrorCode, message: &str) {
        let packet = Packet::Error {
            code,
            message: clip(message).to_owned(),
        };
        let _ = self.socket.send(&packet.to_bytes());
    }
}

/// Where the bytes sent come from.
enum Body {
    /// A file under the root.
    File(File),
    /// A file generated for this client.
    Memory(Arc<[u8]>),
}

impl Body {
    /// Reads at `offset` until `buf` is full or the data ends.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Body::File(file) => read_at(file, offset, buf),
            Body::Memory(bytes) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let n = (bytes.len() - start).min(buf.len());
                buf[..n].copy_from_slice(&bytes[start..start + n]);
                Ok(n)
            }
        }
    }
}

/// The file being sent, read block by block with positioned reads.
struct Source {
    body: Body,
    netascii: bool,
    /// Raw bytes of one block (netascii only).
    raw: Vec<u8>,
}

impl Source {
    /// Fills `out` (one block) from `pos`; returns the length filled (less
    /// than `out.len()` only at the end of the file) and where the next
    /// block starts.
    fn fill(&mut self, pos: Pos, out: &mut [u8]) -> io::Result<(usize, Pos)> {
        if !self.netascii {
            let n = self.body.read_at(pos.offset, out)?;
            return Ok((
                n,
                Pos {
                    offset: pos.offset + n as u64,
                    pending: None,
                },
            ));
        }
        // netascii: LF goes out as CR LF and CR as CR NUL (RFC 764).
        let mut n = 0;
        if let Some(b) = pos.pending {
            out[0] = b;
            n = 1;
        }
        let mut offset = pos.offset;
        let mut pending = None;
        while n < out.len() && pending.is_none() {
            // Each raw byte gives at least one byte out.
            let want = (out.len() - n).min(self.raw.len());
            let got = self.body.read_at(offset, &mut self.raw[..want])?;
            if got == 0 {
                break;
            }
            for &b in &self.raw[..got] {
                if n == out.len() {
                    break;
                }
                offset += 1;
                let (first, second) = match b {
                    b'\n' => (b'\r', Some(b'\n')),
                    b'\r' => (b'\r', Some(0)),
                    b => (b, None),
                };
                out[n] = first;
                n += 1;
                if let Some(second) = second {
                    if n < out.len() {
                        out[n] = second;
                        n += 1;
                    } else {
                        pending = Some(second);
                    }
                }
            }
        }
        Ok((n, Pos { offset, pending }))
    }
}

/// Reads at `offset` until `buf` is full or the file ends.
fn read_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Whether a receive error only means "nothing arrived in time".
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beneath::RootDir;
    use crate::net::tftp::config::TftpConfig;
    use crate::net::tftp::TftpHooks;
    use std::io::Write;
    use std::sync::atomic::AtomicUsize;

    fn source(content: &[u8], netascii: bool, blksize: usize) -> Source {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(content).unwrap();
        Source {
            body: Body::File(f),
            netascii,
            raw: vec![0; blksize],
        }
    }

    fn memory_source(content: &[u8], netascii: bool, blksize: usize) -> Source {
        Source {
            body: Body::Memory(Arc::from(content)),
            netascii,
            raw: vec![0; blksize],
        }
    }

    #[test]
    fn a_generated_file_is_sent_in_the_same_blocks_as_the_same_file_on_disk() {
        let content: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 256) as u8).collect();
        for netascii in [false, true] {
            for blksize in [8, 512, 1468] {
                assert_eq!(
                    blocks(&mut memory_source(&content, netascii, blksize), blksize),
                    blocks(&mut source(&content, netascii, blksize), blksize),
                    "netascii {netascii}, blksize {blksize}"
                );
            }
        }
        // Reads past the end give nothing, never a panic.
        let mut past = [0u8; 4];
        assert_eq!(
            Body::Memory(Arc::from(&content[..]))
                .read_at(u64::MAX, &mut past)
                .unwrap(),
            0
        );
    }

    /// Every block of the file, as the session would send them.
    fn blocks(src: &mut Source, blksize: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut pos = Pos::START;
        let mut buf = vec![0; blksize];
        loop {
            let (n, next) = src.fill(pos, &mut buf).unwrap();
            out.push(buf[..n].to_vec());
            // Filling again from the same place gives the same block (a
            // resend).
            assert_eq!(src.fill(pos, &mut buf).unwrap(), (n, next));
            pos = next;
            if n < blksize {
                return out;
            }
        }
    }

    /// A session for `name` under an empty root (kept while the returned
    /// directory lives), replying to `client`.
    fn session_for(
        name: &str,
        client: &UdpSocket,
    ) -> (Session, Arc<AtomicUsize>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let config = TftpConfig {
            root: root.clone(),
            ..TftpConfig::default()
        };
        let shared = Arc::new(Shared::new(
            config,
            RootDir::open(&root).unwrap(),
            TftpHooks::default(),
            None,
        ));
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client_addr = client.local_addr().unwrap();
        socket.connect(client_addr).unwrap();
        let active = Arc::new(AtomicUsize::new(0));
        let request = Request {
            filename: name.into(),
            mode: Mode::Octet,
            options: Options::default(),
        };
        let slot = Slot::take(&active);
        let session = Session::new(socket, client_addr, request, shared, slot);
        (session, active, dir)
    }

    #[test]
    fn a_refusal_frees_the_slot_before_the_error_is_sent() {
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (mut session, active, _root) = session_for("missing.bin", &client);
        let control = Arc::clone(&session.control);
        let outcome = session.serve();
        assert!(matches!(outcome, Outcome::Denied(_)));
        // The session has not ended yet, and its slot is free already.
        assert!(control.ended());
        assert_eq!(active.load(std::sync::atomic::Ordering::Acquire), 0);
        let mut buf = [0u8; 600];
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let n = client.recv(&mut buf).unwrap();
        assert!(matches!(
            Packet::parse(&buf[..n]),
            Ok(Packet::Error {
                code: ErrorCode::FileNotFound,
                ..
            })
        ));
    }

    #[test]
    fn octet_blocks_end_with_a_short_one() {
        let data: Vec<u8> = (0..1024u32).map(|i| i as u8).collect();
        let b = blocks(&mut source(&data, false, 512), 512);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [512, 512, 0]);
        assert_eq!(b.concat(), data);
        let b = blocks(&mut source(&[], false, 512), 512);
        assert_eq!(b, [Vec::<u8>::new()]);
    }

    #[test]
    fn netascii_expands_line_ends_across_blocks() {
        let data = b"ab\ncd\r\n\n\rx".repeat(7);
        for blksize in [8, 9, 10, 11, 512] {
            let b = blocks(&mut source(&data, true, blksize), blksize);
            let mut expected = Vec::new();
            for &c in &data {
                match c {
                    b'\n' => expected.extend_from_slice(b"\r\n"),
                    b'\r' => expected.extend_from_slice(b"\r\0"),
                    c => expected.push(c),
                }
            }
            assert_eq!(b.concat(), expected, "blksize {blksize}");
            assert!(b[..b.len() - 1].iter().all(|x| x.len() == blksize));
        }
    }
}
