#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The TFTP server on loopback: against real clients (curl, atftp, tftp-hpa)
//! whose downloads must be byte-identical, and against a hand-written client
//! for what those clients cannot show (windows, Microsoft's variable
//! window, duplicate ACKs, probes, refusals, garbage, limits, retries).

use common::random_bytes;
use dart_testkit as common;
use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use dart_core::net::tftp::{
    ErrorCode, Options, Packet, Provided, TftpConfig, TftpEvent, TftpHooks, TftpServer,
    MAX_BUSY_REPLIES_PER_SECOND,
};
use dart_core::Error;

// ---------------------------------------------------------------------------
// Fixture: a server on 127.0.0.1 with a temporary root, recording events,
// and loopback addresses of its own for the test's clients.

#[derive(Default)]
struct Events {
    list: Mutex<Vec<TftpEvent>>,
    changed: Condvar,
}

impl Events {
    /// The first event matching `pred`, waiting up to 10 s for it.
    fn wait(&self, what: &str, pred: impl Fn(&TftpEvent) -> bool) -> TftpEvent {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut list = self.list.lock().unwrap();
        loop {
            if let Some(e) = list.iter().find(|e| pred(e)) {
                return e.clone();
            }
            let now = Instant::now();
            assert!(now < deadline, "no {what} event; events: {list:#?}");
            list = self.changed.wait_timeout(list, deadline - now).unwrap().0;
        }
    }

    fn all(&self) -> Vec<TftpEvent> {
        self.list.lock().unwrap().clone()
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    root: PathBuf,
    server: TftpServer,
    events: Arc<Events>,
    /// The first three bytes of this test's client addresses.
    net: [u8; 3],
}

/// The next test's client network: each test's clients have loopback
/// addresses no other test in the process uses, so that a datagram a
/// server sends to a port its test has closed (a refusal, a shutdown
/// notice) never reaches another test's client that the kernel gave the
/// same port number.
static NEXT_NET: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

impl Fixture {
    /// This test's client address `host` (127.x.y.host).
    fn client_ip(&self, host: u8) -> std::net::Ipv4Addr {
        let [a, b, c] = self.net;
        std::net::Ipv4Addr::new(a, b, c, host)
    }

    /// A client on this test's first client address.
    fn client(&self) -> Client {
        self.client_at(1)
    }

    /// A client on this test's client address `host`.
    fn client_at(&self, host: u8) -> Client {
        Client::from_ip(self.addr(), self.client_ip(host).octets())
    }

    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    fn port(&self) -> String {
        self.addr().port().to_string()
    }

    /// Writes `len` pseudo-random bytes to `name` under the root.
    fn file(&self, name: &str, len: usize, seed: u64) -> Vec<u8> {
        let data = random_bytes(len, seed);
        let path = self.root.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &data).unwrap();
        data
    }

    /// A path for a client's output, outside the root.
    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Waits until no transfer is running.
    fn idle(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.server.active_transfers() > 0 {
            assert!(Instant::now() < deadline, "transfers still running");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn serve(tune: impl FnOnce(&mut TftpConfig)) -> Fixture {
    serve_with(TftpHooks::default(), tune)
}

fn serve_with(hooks: TftpHooks, tune: impl FnOnce(&mut TftpConfig)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir(&root).unwrap();
    let mut config = TftpConfig {
        root: root.clone(),
        bind: "127.0.0.1:0".parse().unwrap(),
        ..TftpConfig::default()
    };
    tune(&mut config);
    let events = Arc::new(Events::default());
    let sink = Arc::clone(&events);
    let server = TftpServer::start_with(
        config,
        hooks,
        Some(Box::new(move |e| {
            sink.list.lock().unwrap().push(e);
            sink.changed.notify_all();
        })),
    )
    .unwrap();
    let n = NEXT_NET.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let [hi, lo] = n.to_be_bytes();
    Fixture {
        dir,
        root,
        server,
        events,
        net: [127, 100u8.wrapping_add(hi), lo],
    }
}

// ---------------------------------------------------------------------------
// Real clients

/// Panics, naming the Debian package, when a client is missing.
fn need(program: &str, package: &str) {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain(["/usr/bin", "/bin"].map(PathBuf::from))
        .any(|d| d.join(program).is_file());
    assert!(
        found,
        "the TFTP client `{program}` is missing: install the Debian package {package} \
         (apt-get install -y {package})"
    );
}

/// Runs a client to completion (at most 120 s) with its output in files;
/// returns its exit status and what it printed.
fn run(program: &str, package: &str, args: &[&str], dir: &Path) -> (bool, String) {
    need(program, package);
    let log = dir.join(format!("{program}.log"));
    let file = fs::File::create(&log).unwrap();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} (package {package}): {e}"));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.success(),
        fs::read_to_string(&log).unwrap_or_default(),
    )
}

/// Asserts that `out` holds exactly `expected`.
fn same(out: &Path, expected: &[u8], what: &str, log: &str) {
    let got = fs::read(out).unwrap_or_else(|e| panic!("{what}: no output {out:?} ({e}); {log}"));
    assert!(
        got.len() == expected.len() && got == expected,
        "{what}: {} bytes received, {} expected, contents differ; {log}",
        got.len(),
        expected.len()
    );
}

fn curl_get(f: &Fixture, name: &str, out: &Path, extra: &[&str]) -> (bool, String) {
    let url = format!("tftp://127.0.0.1:{}/{name}", f.port());
    let mut args = vec!["-s", "-S", "--max-time", "110"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[url.as_str(), "-o", out.to_str().unwrap()]);
    run("curl", "curl", &args, f.dir.path())
}

#[test]
fn curl_downloads_are_byte_identical() {
    let f = serve(|_| {});
    // A multiple of 512 (ends with an empty block), an odd size, an empty
    // file, and a file in a directory fetched with different case.
    let cases = [
        ("even.bin", 512 * 300),
        ("odd.bin", 1_234_567),
        ("empty.bin", 0),
        ("Boot/BCD", 20_000),
    ];
    for (i, (name, len)) in cases.into_iter().enumerate() {
        let data = f.file(name, len, i as u64 + 1);
        let request = if name == "Boot/BCD" { "boot/bcd" } else { name };
        for (label, extra) in [
            ("default", &[][..]),
            ("blksize 1468", &["--tftp-blksize", "1468"][..]),
            ("no options", &["--tftp-no-options"][..]),
        ] {
            // curl refuses an OACK with tsize 0 ("invalid tsize"), which is
            // the right answer for an empty file; without options it works.
            if len == 0 && label != "no options" {
                continue;
            }
            let out = f.out(&format!("curl-{i}-{}", label.replace(' ', "-")));
            let (ok, log) = curl_get(&f, request, &out, extra);
            assert!(ok, "curl {label} {name}: {log}");
            same(&out, &data, &format!("curl {label} {name}"), &log);
        }
    }
    f.idle();
}

#[test]
fn atftp_downloads_are_byte_identical() {
    let f = serve(|_| {});
    let data = f.file("images/boot.wim", 3_000_001, 7);
    let port = f.port();
    for (label, option) in [("default", None), ("blksize 1468", Some("blksize 1468"))] {
        let out = f.out(&format!("atftp-{}", label.replace(' ', "-")));
        let mut args = vec![
            "--get",
            "-r",
            "IMAGES\\boot.wim",
            "-l",
            out.to_str().unwrap(),
        ];
        if let Some(o) = option {
            args.extend_from_slice(&["--option", o]);
        }
        args.extend_from_slice(&["127.0.0.1", port.as_str()]);
        let (ok, log) = run("atftp", "atftp", &args, f.dir.path());
        assert!(ok, "atftp {label}: {log}");
        same(&out, &data, &format!("atftp {label}"), &log);
    }
    // atftp with windowsize (Debian patches in RFC 7440 support).
    let out = f.out("atftp-window");
    let args = [
        "--get",
        "-r",
        "images/boot.wim",
        "-l",
        out.to_str().unwrap(),
        "--option",
        "blksize 1468",
        "--option",
        "windowsize 8",
        "127.0.0.1",
        port.as_str(),
    ];
    let (ok, log) = run("atftp", "atftp", &args, f.dir.path());
    assert!(ok, "atftp windowsize 8: {log}");
    same(&out, &data, "atftp windowsize 8", &log);
    f.idle();
}

#[test]
fn tftp_hpa_downloads_are_byte_identical() {
    let f = serve(|_| {});
    // tftp-hpa's client asks for no options: plain RFC 1350, 512-byte blocks.
    let data = f.file("pxeboot.n12", 777_777, 11);
    let port = f.port();
    for mode in ["binary", "netascii"] {
        let out = f.out(&format!("tftp-{mode}"));
        let out_str = out.to_str().unwrap();
        let args = [
            "127.0.0.1",
            port.as_str(),
            "-m",
            mode,
            "-c",
            "get",
            "pxeboot.n12",
            out_str,
        ];
        let (ok, log) = run("tftp", "tftp-hpa", &args, f.dir.path());
        assert!(ok, "tftp-hpa {mode}: {log}");
        // In netascii mode the server sends LF as CR LF and CR as CR NUL and
        // the client converts back, so the result is the same bytes.
        same(&out, &data, &format!("tftp-hpa {mode}"), &log);
    }
    f.idle();
}

/// 100 MiB at 512-byte blocks is 204800 blocks: the block number rolls
/// over three times.
fn big_file(blksize: &str) {
    let f = serve(|_| {});
    let data = f.file("big.wim", 100 << 20, 99);
    let out = f.out("big.out");
    let t = Instant::now();
    let (ok, log) = curl_get(&f, "big.wim", &out, &["--tftp-blksize", blksize]);
    let seconds = t.elapsed().as_secs_f64();
    assert!(ok, "curl blksize {blksize}: {log}");
    same(&out, &data, &format!("100 MiB at blksize {blksize}"), &log);
    eprintln!("100 MiB at blksize {blksize}: {seconds:.1} s");
    match f
        .events
        .wait("Finished", |e| matches!(e, TftpEvent::Finished { .. }))
    {
        TftpEvent::Finished { bytes, .. } => assert_eq!(bytes, 100 << 20),
        _ => unreachable!(),
    }
}

#[test]
fn hundred_mib_at_blksize_512_rolls_over() {
    big_file("512");
}

#[test]
fn hundred_mib_at_blksize_1468() {
    big_file("1468");
}

// ---------------------------------------------------------------------------
// A hand-written client

struct Client {
    sock: UdpSocket,
    server: SocketAddr,
    /// The transfer's port, learned from the first reply.
    peer: Option<SocketAddr>,
}

impl Client {
    /// A client on another loopback address (all of 127/8 is local).
    fn from_ip(server: SocketAddr, ip: [u8; 4]) -> Client {
        let sock = UdpSocket::bind((std::net::Ipv4Addr::from(ip), 0)).unwrap();
        Client {
            sock,
            server,
            peer: None,
        }
    }

    /// Sends raw bytes to the server's listening port.
    fn to_server(&self, bytes: &[u8]) {
        self.sock.send_to(bytes, self.server).unwrap();
    }

    fn rrq(&self, name: &str, options: &[(&str, &str)]) {
        self.to_server(&request(1, name.as_bytes(), options));
    }

    /// The next datagram within `wait`, if any; the first reply fixes the
    /// transfer's port, and every later one must come from it.
    fn recv_within(&mut self, wait: Duration) -> Option<Vec<u8>> {
        self.sock.set_read_timeout(Some(wait)).unwrap();
        let mut buf = vec![0; 70_000];
        match self.sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                let peer = *self.peer.get_or_insert(from);
                let what: String = format!("{:?}", Packet::parse(&buf[..n]))
                    .chars()
                    .take(60)
                    .collect();
                assert_eq!(from, peer, "reply from another port: {what}");
                assert_ne!(from, self.server, "reply from the listening port");
                buf.truncate(n);
                Some(buf)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("receive failed: {e}"),
        }
    }

    /// The next datagram, within 5 s.
    fn recv(&mut self) -> Vec<u8> {
        self.recv_within(Duration::from_secs(5))
            .expect("no reply within 5 s")
    }

    /// The next datagram from any port (an ERROR from the listening port).
    fn recv_any(&self) -> (Vec<u8>, SocketAddr) {
        self.sock
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = vec![0; 70_000];
        let (n, from) = self.sock.recv_from(&mut buf).expect("no reply within 5 s");
        buf.truncate(n);
        (buf, from)
    }

    fn send(&self, bytes: &[u8]) {
        self.sock.send_to(bytes, self.peer.unwrap()).unwrap();
    }

    fn ack(&self, block: u16) {
        self.send(&Packet::Ack { block }.to_bytes());
    }

    /// An ACK with Microsoft's next-window byte after the block number.
    fn ack_window(&self, block: u16, next: u8) {
        let mut p = Packet::Ack { block }.to_bytes();
        p.push(next);
        self.send(&p);
    }
}

/// A request packet built by hand, so that names may hold any bytes.
fn request(opcode: u8, name: &[u8], options: &[(&str, &str)]) -> Vec<u8> {
    let mut p = vec![0, opcode];
    p.extend_from_slice(name);
    p.extend_from_slice(b"\0octet\0");
    for (k, v) in options {
        p.extend_from_slice(k.as_bytes());
        p.push(0);
        p.extend_from_slice(v.as_bytes());
        p.push(0);
    }
    p
}

fn parse(bytes: &[u8]) -> Packet {
    Packet::parse(bytes).unwrap_or_else(|e| panic!("server sent a malformed packet: {e}"))
}

/// The block number and payload of a DATA packet.
fn data(bytes: &[u8]) -> (u16, Vec<u8>) {
    match parse(bytes) {
        Packet::Data { block, data } => (block, data),
        other => panic!("expected DATA, got {other:?}"),
    }
}

fn oack(bytes: &[u8]) -> Options {
    match parse(bytes) {
        Packet::Oack(o) => o,
        other => panic!("expected OACK, got {other:?}"),
    }
}

fn error(bytes: &[u8]) -> (ErrorCode, String) {
    match parse(bytes) {
        Packet::Error { code, message } => (code, message),
        other => panic!("expected ERROR, got {other:?}"),
    }
}

/// Receives a whole file in windows: the client ACKs the last block of
/// each window (or the short last block). `windows` gives the window size
/// the server is expected to use for each window in turn (the last value
/// repeats); with `msft`, each ACK carries the next value. Returns the file
/// and the number of DATA packets in each window.
fn receive_windows(
    c: &mut Client,
    blksize: usize,
    windows: &[u8],
    msft: bool,
) -> (Vec<u8>, Vec<usize>) {
    receive_from(c, 1, blksize, windows, msft)
}

/// [`receive_windows`] from block `first` on (the blocks before it were
/// received and acknowledged).
fn receive_from(
    c: &mut Client,
    first: u16,
    blksize: usize,
    windows: &[u8],
    msft: bool,
) -> (Vec<u8>, Vec<usize>) {
    let mut file = Vec::new();
    let mut counts = Vec::new();
    let mut expected = first;
    for i in 0.. {
        let window = usize::from(windows[i.min(windows.len() - 1)]);
        let mut got = 0;
        let mut last = false;
        while got < window && !last {
            let (block, payload) = data(&c.recv());
            assert_eq!(block, expected, "window {i}: block out of order");
            expected = expected.wrapping_add(1);
            last = payload.len() < blksize;
            file.extend_from_slice(&payload);
            got += 1;
        }
        counts.push(got);
        if !last && window > 1 && i < 50 {
            // The window is complete: nothing more comes before the ACK.
            if let Some(extra) = c.recv_within(Duration::from_millis(100)) {
                panic!("window {i}: more than {window} blocks: {:?}", parse(&extra));
            }
        }
        let ack = expected.wrapping_sub(1);
        if msft {
            c.ack_window(ack, windows[(i + 1).min(windows.len() - 1)]);
        } else {
            c.ack(ack);
        }
        if last {
            return (file, counts);
        }
    }
    unreachable!()
}

#[test]
fn windowsize_16() {
    let f = serve(|c| c.default_timeout = Duration::from_secs(5));
    let want = f.file("win.bin", 1024 * 16 * 10 + 100, 3);
    let mut c = f.client();
    c.rrq("win.bin", &[("blksize", "1024"), ("windowsize", "16")]);
    assert_eq!(
        oack(&c.recv()),
        Options {
            blksize: Some(1024),
            windowsize: Some(16),
            ..Options::default()
        }
    );
    c.ack(0);
    let (got, counts) = receive_windows(&mut c, 1024, &[16], false);
    assert_eq!(got, want);
    assert_eq!(counts, [16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 1]);
    f.events
        .wait("Finished", |e| matches!(e, TftpEvent::Finished { .. }));
}

#[test]
fn windowsize_is_capped_and_blksize_too() {
    let f = serve(|c| {
        c.default_timeout = Duration::from_secs(5);
        c.max_blksize = 1000;
    });
    let want = f.file("cap.bin", 1000 * 100 + 1, 4);
    let mut c = f.client();
    c.rrq("cap.bin", &[("windowsize", "1000"), ("blksize", "9000")]);
    let o = oack(&c.recv());
    assert_eq!(o.windowsize, Some(dart_core::net::tftp::MAX_WINDOWSIZE));
    assert_eq!(o.blksize, Some(1000));
    c.ack(0);
    let (got, counts) = receive_windows(&mut c, 1000, &[64], false);
    assert_eq!(got, want);
    assert_eq!(counts, [64, 37]);
}

#[test]
fn block_numbers_roll_over_with_a_window() {
    // 70001 blocks of 8 bytes: block 65535 is followed by block 0.
    let f = serve(|c| c.default_timeout = Duration::from_secs(5));
    let want = f.file("roll.bin", 8 * 70_000 + 3, 5);
    let mut c = f.client();
    c.rrq("roll.bin", &[("blksize", "8"), ("windowsize", "64")]);
    assert_eq!(oack(&c.recv()).windowsize, Some(64));
    c.ack(0);
    let mut got = Vec::new();
    let mut expected: u16 = 1;
    let mut seen_zero = false;
    let mut in_window = 0;
    loop {
        let (block, payload) = data(&c.recv());
        assert_eq!(block, expected);
        seen_zero |= block == 0;
        got.extend_from_slice(&payload);
        expected = expected.wrapping_add(1);
        in_window += 1;
        if payload.len() < 8 {
            c.ack(block);
            break;
        }
        if in_window == 64 {
            c.ack(block);
            in_window = 0;
        }
    }
    assert!(seen_zero, "block 0 after 65535 never came");
    assert_eq!(got, want);
    f.events
        .wait("Finished", |e| matches!(e, TftpEvent::Finished { .. }));
}

#[test]
fn msftwindow_variable_window() {
    let f = serve(|c| c.default_timeout = Duration::from_secs(5));
    let want = f.file("Boot/BCD", 1456 * 50 + 7, 6);
    let mut c = f.client();
    // As Windows Boot Manager asks.
    c.rrq(
        "\\boot\\bcd",
        &[
            ("tsize", "0"),
            ("blksize", "1456"),
            ("windowsize", "4"),
            ("msftwindow", "31416"),
        ],
    );
    assert_eq!(
        oack(&c.recv()),
        Options {
            blksize: Some(1456),
            tsize: Some(want.len() as u64),
            windowsize: Some(4),
            msftwindow: Some(27182),
            ..Options::default()
        }
    );
    // ACK 0 carries the first window's size, each later ACK the next one.
    let windows = [2, 8, 1, 5, 16, 3];
    c.ack_window(0, windows[0]);
    let (got, counts) = receive_windows(&mut c, 1456, &windows, true);
    assert_eq!(got, want);
    // 51 blocks: 2 + 8 + 1 + 5 + 16 + 3 + 3 + 3 + 3 + 3 + 3 + 1... as sent.
    let mut expected = Vec::new();
    let mut left = 51;
    for i in 0.. {
        let w = windows[i.min(windows.len() - 1)] as usize;
        expected.push(w.min(left));
        left -= w.min(left);
        if left == 0 {
            break;
        }
    }
    assert_eq!(counts, expected);
}

#[test]
fn msftwindow_other_values_are_not_acknowledged() {
    let f = serve(|_| {});
    f.file("a", 10, 1);
    let mut c = f.client();
    c.rrq("a", &[("msftwindow", "1234"), ("blksize", "512")]);
    assert_eq!(
        oack(&c.recv()),
        Options {
            blksize: Some(512),
            ..Options::default()
        }
    );
}

#[test]
fn a_repeated_request_does_not_start_a_second_transfer() {
    let f = serve(|c| c.default_timeout = Duration::from_secs(5));
    let want = f.file("again.bin", 512 * 3 + 1, 9);
    let mut c = f.client();
    // A PXE client that heard nothing in time asks again, from the same
    // port, while its first request is already being served.
    // The retry is answered (the client may have missed the first DATA 1),
    // by the same transfer: DATA 1 comes at most twice, from one port, and
    // every other block once.
    c.rrq("again.bin", &[]);
    c.rrq("again.bin", &[]);
    let mut got = Vec::new();
    let mut ones = 0;
    let mut block = 1u16;
    while block <= 4 {
        let (b, payload) = data(&c.recv());
        if b == 1 && block == 2 && ones == 1 {
            ones += 1;
            continue;
        }
        assert_eq!(b, block, "a second transfer sent its own blocks");
        ones += usize::from(b == 1);
        got.extend_from_slice(&payload);
        c.ack(block);
        block += 1;
    }
    assert_eq!(got, want);
    assert!(c.recv_within(Duration::from_millis(300)).is_none());
    f.events
        .wait("finished", |e| matches!(e, TftpEvent::Finished { .. }));
    let started = f
        .events
        .all()
        .iter()
        .filter(|e| matches!(e, TftpEvent::Started { .. }))
        .count();
    assert_eq!(started, 1, "{:#?}", f.events.all());
    // Once it has ended, the same port may ask again.
    let mut c2 = f.client();
    c2.rrq("again.bin", &[]);
    assert_eq!(data(&c2.recv()).0, 1);
}

/// The retry of a request can sit in the listening socket's queue until
/// the whole (short) transfer has finished: when it is read, it is a late
/// copy, not a new request (seen as a second transfer from another port,
/// about 1 run in 14 of the test above). A copy after the grace period is a
/// new request again.
#[test]
fn a_copy_read_after_its_transfer_finished_is_ignored() {
    let f = serve(|c| c.default_timeout = Duration::from_secs(5));
    let want = f.file("late.bin", 512 * 3 + 1, 10);
    let mut c = f.client();
    c.rrq("late.bin", &[]);
    assert_eq!(receive_windows(&mut c, 512, &[1], false).0, want);
    f.events
        .wait("finished", |e| matches!(e, TftpEvent::Finished { .. }));
    // What the listener reads now, as if it had waited in the queue.
    c.rrq("late.bin", &[]);
    assert!(c.recv_within(Duration::from_millis(300)).is_none());
    // A client that really asks again, from the same port, is served once
    // the grace period is over: like a PXE ROM, it asks every second.
    c.peer = None;
    let mut first = None;
    for _ in 0..4 {
        c.rrq("late.bin", &[]);
        first = c.recv_within(Duration::from_secs(1));
        if first.is_some() {
            break;
        }
    }
    let first = first.expect("no reply to a request after the grace period");
    assert_eq!(data(&first).0, 1);
    let started = f
        .events
        .all()
        .iter()
        .filter(|e| matches!(e, TftpEvent::Started { .. }))
        .count();
    assert_eq!(started, 2, "{:#?}", f.events.all());
}

#[test]
fn duplicate_acks_never_resend() {
    let f = serve(|c| c.default_timeout = Duration::from_secs(5));
    let want = f.file("dup.bin", 512 * 20 + 5, 8);
    let mut c = f.client();
    c.rrq("dup.bin", &[]);
    let mut got = Vec::new();
    let mut packets = 0;
    let mut block_expected = 1u16;
    loop {
        let (block, payload) = data(&c.recv());
        packets += 1;
        assert_eq!(block, block_expected, "a block came twice or out of order");
        got.extend_from_slice(&payload);
        let last = payload.len() < 512;
        // ACK every block three times; the copies must bring nothing.
        for _ in 0..3 {
            c.ack(block);
        }
        if last {
            break;
        }
        block_expected += 1;
    }
    assert_eq!(got, want);
    assert_eq!(packets, 21, "one DATA per block");
    assert!(
        c.recv_within(Duration::from_millis(300)).is_none(),
        "DATA after the end"
    );

    // With a window: a repeated ACK of the window's end sends nothing more.
    let mut c = f.client();
    c.rrq("dup.bin", &[("windowsize", "4")]);
    oack(&c.recv());
    c.ack(0);
    c.ack(0);
    for b in 1..=4 {
        assert_eq!(data(&c.recv()).0, b);
    }
    assert!(c.recv_within(Duration::from_millis(200)).is_none());
    c.ack(4);
    c.ack(4);
    c.ack(0);
    for b in 5..=8 {
        assert_eq!(data(&c.recv()).0, b);
    }
    assert!(
        c.recv_within(Duration::from_millis(300)).is_none(),
        "a duplicate ACK caused a resend"
    );
    // An ACK inside the window moves it: blocks from 7 on (RFC 7440).
    c.ack(6);
    for b in 7..=10 {
        assert_eq!(data(&c.recv()).0, b);
    }
    c.send(
        &Packet::Error {
            code: ErrorCode::NotDefined,
            message: "enough".into(),
        }
        .to_bytes(),
    );
    f.idle();
}

#[test]
fn tsize_probe_ended_by_an_error_ends_the_session() {
    let f = serve(|c| c.max_transfers = 1);
    let want = f.file("boot.sdi", 3_170_304, 9);
    let mut c = f.client();
    c.rrq("boot.sdi", &[("tsize", "0"), ("blksize", "1468")]);
    let o = oack(&c.recv());
    assert_eq!(o.tsize, Some(want.len() as u64));
    assert_eq!(o.blksize, Some(1468));
    c.send(
        &Packet::Error {
            code: ErrorCode::OptionNegotiation,
            message: "tsize probe done".into(),
        }
        .to_bytes(),
    );
    let e = f
        .events
        .wait("Aborted", |e| matches!(e, TftpEvent::Aborted { .. }));
    assert!(
        matches!(&e, TftpEvent::Aborted { code: 8, file, .. } if file == "boot.sdi"),
        "{e:?}"
    );
    assert_eq!(f.server.active_transfers(), 0);
    // With max_transfers 1, the real transfer can only start if the probe's
    // slot was freed. Windows Boot Manager asks again from the same port.
    c.peer = None;
    c.rrq("boot.sdi", &[("blksize", "1468")]);
    oack(&c.recv());
    c.ack(0);
    let (got, _) = receive_windows(&mut c, 1468, &[1], false);
    assert_eq!(got, want);
    f.events
        .wait("Finished", |e| matches!(e, TftpEvent::Finished { .. }));
    assert!(!f
        .events
        .all()
        .iter()
        .any(|e| matches!(e, TftpEvent::Failed { .. })));
}

/// A request sent right after the ERROR that ends a tsize probe, without
/// waiting for anything (as PXE ROMs do): the probe's session may not have
/// read the ERROR yet when the listener reads the request, and the request
/// must still start the real transfer at once, not be taken for a copy.
#[test]
fn a_request_right_after_the_probe_error_starts_the_transfer() {
    let f = serve(|c| {
        c.max_transfers = 1;
        c.default_timeout = Duration::from_secs(5);
    });
    let want = f.file("boot.sdi", 300_000, 9);
    for (round, second) in [
        &[("tsize", "0"), ("blksize", "1468")][..],
        &[("blksize", "1468")][..],
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = f.client();
        c.rrq("boot.sdi", &[("tsize", "0"), ("blksize", "1468")]);
        oack(&c.recv());
        let probe = c.peer.take().unwrap();
        c.sock
            .send_to(
                &Packet::Error {
                    code: ErrorCode::OptionNegotiation,
                    message: "tsize probe done".into(),
                }
                .to_bytes(),
                probe,
            )
            .unwrap();
        c.rrq("boot.sdi", second);
        // Within the client's usual 1 s retry interval.
        let first = c
            .recv_within(Duration::from_millis(900))
            .unwrap_or_else(|| panic!("round {round}: no answer to the real request"));
        assert_ne!(
            c.peer,
            Some(probe),
            "round {round}: answered by the probe's session"
        );
        oack(&first);
        c.ack(0);
        let (got, _) = receive_windows(&mut c, 1468, &[1], false);
        assert_eq!(got, want, "round {round}");
        let me = c.sock.local_addr().unwrap();
        f.events.wait(
            "Finished",
            |e| matches!(e, TftpEvent::Finished { client, .. } if *client == me),
        );
        f.idle();
    }
    assert!(
        !f.events
            .all()
            .iter()
            .any(|e| matches!(e, TftpEvent::Failed { .. })),
        "{:#?}",
        f.events.all()
    );
}

#[test]
fn a_different_request_before_any_ack_replaces_the_first() {
    let f = serve(|c| c.max_transfers = 1);
    let want = f.file("real.bin", 5000, 4);
    f.file("other.bin", 10, 5);
    let mut c = f.client();
    c.rrq("other.bin", &[("tsize", "0")]);
    oack(&c.recv());
    let old = c.peer.take().unwrap();
    c.rrq("real.bin", &[("blksize", "1024")]);
    let o = oack(&c.recv());
    assert_eq!(o.blksize, Some(1024));
    assert_ne!(c.peer, Some(old), "the new request got its own port");
    c.ack(0);
    assert_eq!(receive_windows(&mut c, 1024, &[1], false).0, want);
    let e = f
        .events
        .wait("Replaced", |e| matches!(e, TftpEvent::Replaced { .. }));
    assert!(
        matches!(&e, TftpEvent::Replaced { file, .. } if file == "other.bin"),
        "{e:?}"
    );
    f.idle();
}

#[test]
fn one_address_cannot_take_more_than_its_share() {
    let f = serve(|c| {
        c.max_per_client = 2;
        c.default_timeout = Duration::from_secs(5);
    });
    let want = f.file("share.bin", 2000, 6);
    // Two running transfers from one address, acknowledged (not reclaimable).
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = f.client();
        c.rrq("share.bin", &[]);
        assert_eq!(data(&c.recv()).0, 1);
        c.ack(1);
        assert_eq!(data(&c.recv()).0, 2);
        held.push(c);
    }
    let c = f.client();
    c.rrq("share.bin", &[]);
    let (reply, from) = c.recv_any();
    assert_eq!(from, f.addr());
    let (code, message) = error(&reply);
    assert_eq!(code, ErrorCode::NotDefined);
    assert!(
        message.contains(&format!("{} already has 2 transfers", f.client_ip(1))),
        "{message}"
    );
    // Another address is served meanwhile.
    let mut other = f.client_at(2);
    other.rrq("share.bin", &[]);
    assert_eq!(receive_windows(&mut other, 512, &[1], false).0, want);
}

#[test]
fn an_address_over_its_share_is_told_busy_a_bounded_number_of_times() {
    let f = serve(|c| {
        c.max_per_client = 1;
        c.default_timeout = Duration::from_secs(5);
    });
    f.file("share.bin", 2000, 7);
    let mut held = f.client();
    held.rrq("share.bin", &[]);
    assert_eq!(data(&held.recv()).0, 1);
    held.ack(1);
    // 200 requests from new ports of the same address, in well under a
    // second: at most MAX_BUSY_REPLIES_PER_SECOND are answered.
    let flood = UdpSocket::bind((f.client_ip(1), 0)).unwrap();
    flood
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let started = Instant::now();
    for _ in 0..200 {
        let port = UdpSocket::bind((f.client_ip(1), 0)).unwrap();
        port.send_to(&request(1, b"share.bin", &[]), f.addr())
            .unwrap();
        // The refusal goes to `port`; the count is read from the events.
    }
    let elapsed = started.elapsed();
    // A write request from another address, after them: once it is
    // refused, the listener has read every request before it.
    let marker = f.client_at(3);
    marker.to_server(&request(2, b"marker", &[]));
    let deadline = Instant::now() + Duration::from_secs(10);
    let marked = |e: &TftpEvent| matches!(e, TftpEvent::Denied { file, .. } if file == "marker");
    while !f.events.list.lock().unwrap().iter().any(marked) {
        assert!(Instant::now() < deadline, "the marker was never refused");
        std::thread::sleep(Duration::from_millis(10));
    }
    let busy = f
        .events
        .list
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, TftpEvent::Denied { reason, .. } if reason.contains("busy")))
        .count();
    assert!(
        elapsed < Duration::from_secs(1),
        "the requests took {elapsed:?}"
    );
    assert_eq!(
        busy, MAX_BUSY_REPLIES_PER_SECOND as usize,
        "busy refusals in one second"
    );
    drop(flood);
}

#[test]
fn a_full_server_reclaims_the_slot_of_a_client_that_never_acknowledged() {
    let f = serve(|c| {
        c.max_transfers = 1;
        c.default_timeout = Duration::from_secs(5);
        c.max_timeout = Duration::from_secs(255);
    });
    let want = f.file("r.bin", 3000, 8);
    let mut squatter = f.client_at(3);
    squatter.rrq("r.bin", &[("timeout", "255"), ("blksize", "512")]);
    oack(&squatter.recv());
    // Silent for longer than the reclaim grace: and nothing was resent.
    assert!(squatter.recv_within(Duration::from_millis(400)).is_none());
    let mut c = f.client();
    c.rrq("r.bin", &[]);
    assert_eq!(receive_windows(&mut c, 512, &[1], false).0, want);
    let e = f.events.wait(
        "Failed",
        |e| matches!(e, TftpEvent::Failed { client, .. } if client.ip() == f.client_ip(3)),
    );
    assert!(
        e.to_string().contains("its slot went to a new request"),
        "{e}"
    );
    // The squatter heard nothing more (not even an ERROR).
    assert!(squatter.recv_within(Duration::from_millis(100)).is_none());
}

/// The starvation attack of issue 14: 64 clients (one per address) that ask
/// for `timeout=255` and never acknowledge hold every slot, while one
/// address floods 5,000 requests from fresh ports; a legitimate client on
/// another address fetches 20 times meanwhile.
#[test]
fn squatters_and_a_flood_do_not_starve_a_legitimate_client() {
    let f = serve(|c| c.max_timeout = Duration::from_secs(255));
    let want = f.file("boot.wim", 64 * 1024, 12);
    let mut squatters = Vec::new();
    for i in 0..64u8 {
        let s = f.client_at(100 + i);
        s.rrq("boot.wim", &[("timeout", "255"), ("blksize", "1468")]);
        squatters.push(s);
    }
    for s in &mut squatters {
        oack(&s.recv());
    }
    // The squatters stay silent, and are sent nothing more.
    assert!(squatters[63]
        .recv_within(Duration::from_millis(300))
        .is_none());

    let addr = f.addr();
    let flood_ip = f.client_ip(200);
    let fetching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (started, flood_started) = std::sync::mpsc::channel();
    let flood = {
        let fetching = Arc::clone(&fetching);
        std::thread::spawn(move || {
            let packet = request(1, b"boot.wim", &[("timeout", "255")]);
            let mut sent = 0;
            let mut socks: Vec<UdpSocket> = Vec::new();
            // At least 5,000 requests, and on until the fetches are done.
            while sent < 5000 || fetching.load(std::sync::atomic::Ordering::Acquire) {
                // Fresh ports, 50 at a time, so that each request is new.
                if sent % 50 == 0 {
                    socks = (0..50)
                        .map(|_| UdpSocket::bind((flood_ip, 0)).unwrap())
                        .collect();
                }
                socks[sent % 50].send_to(&packet, addr).unwrap();
                sent += 1;
                if sent == 100 {
                    started.send(()).unwrap();
                }
            }
            sent
        })
    };
    flood_started.recv().unwrap();
    let mut ok = 0;
    let mut failures = Vec::new();
    for i in 0..20 {
        let mut c = f.client();
        // Like a PXE ROM: the request is sent again after 1 s of silence,
        // four times in all.
        let mut reply = None;
        for _ in 0..4 {
            c.rrq("boot.wim", &[("blksize", "1468")]);
            reply = c.recv_within(Duration::from_secs(1)).map(|p| parse(&p));
            if reply.is_some() {
                break;
            }
        }
        match reply {
            Some(Packet::Oack(_)) => {
                c.ack(0);
                let (got, _) = receive_windows(&mut c, 1468, &[1], false);
                if got == want {
                    ok += 1;
                } else {
                    failures.push(format!("fetch {i}: wrong bytes"));
                }
            }
            other => failures.push(format!("fetch {i}: {other:?}")),
        }
    }
    fetching.store(false, std::sync::atomic::Ordering::Release);
    let sent = flood.join().unwrap();
    eprintln!("legitimate fetches: {ok} of 20 completed during a flood of {sent} requests");
    assert!(ok * 100 >= 20 * 99, "{ok} of 20: {failures:#?}");
}

#[test]
fn write_requests_are_refused() {
    let f = serve(|_| {});
    let c = f.client();
    c.to_server(&request(2, b"upload.bin", &[]));
    let (reply, _) = c.recv_any();
    let (code, message) = error(&reply);
    assert_eq!(code, ErrorCode::AccessViolation, "{message}");
    assert!(!f.root.join("upload.bin").exists());
    f.events
        .wait("Denied", |e| matches!(e, TftpEvent::Denied { .. }));
}

#[test]
fn names_outside_the_root_are_refused_and_the_server_goes_on() {
    let f = serve(|_| {});
    let want = f.file("inside.txt", 1000, 10);
    fs::write(f.dir.path().join("outside.txt"), b"secret").unwrap();
    let names: [&[u8]; 11] = [
        b"../outside.txt",
        b"..\\outside.txt",
        b"/../outside.txt",
        b"\\..\\outside.txt",
        b"inside/../../outside.txt",
        b"/etc/passwd",
        b"C:\\x",
        b"C:outside.txt",
        b"inside.txt\x01",
        b"..\0inside.txt",
        b"inside.txt\0../outside.txt",
    ];
    for name in names {
        let c = f.client();
        c.to_server(&request(1, name, &[]));
        let (reply, _) = c.recv_any();
        let (code, message) = error(&reply);
        // A NUL ends the name on the wire: what follows is read as the mode,
        // which makes the request malformed (ERROR 4).
        let allowed: &[ErrorCode] = if name.contains(&0) {
            &[
                ErrorCode::FileNotFound,
                ErrorCode::AccessViolation,
                ErrorCode::IllegalOperation,
            ]
        } else {
            &[ErrorCode::FileNotFound, ErrorCode::AccessViolation]
        };
        assert!(
            allowed.contains(&code),
            "{:?}: {code:?} {message}",
            String::from_utf8_lossy(name)
        );
        assert!(!message.contains("secret"));
    }
    // Still serving.
    let mut c = f.client();
    c.rrq("INSIDE.TXT", &[]);
    let (got, _) = receive_windows(&mut c, 512, &[1], false);
    assert_eq!(got, want);
    f.idle();
}

/// A refused request no longer counts against its address once the client
/// has its ERROR: a client asking again at once is never told "busy" (seen
/// as 1 failure in 50 runs of the test above under load, with 4 transfers
/// per address).
#[test]
fn a_refusal_frees_the_slot_before_the_client_hears_it() {
    let f = serve(|c| c.max_per_client = 1);
    let c = f.client();
    for i in 0..300 {
        c.to_server(&request(1, format!("missing-{i}.bin").as_bytes(), &[]));
        let (reply, _) = c.recv_any();
        let (code, message) = error(&reply);
        assert_eq!(code, ErrorCode::FileNotFound, "request {i}: {message}");
    }
}

#[test]
fn missing_files_get_error_1() {
    let f = serve(|_| {});
    let mut c = f.client();
    c.rrq("nope.bin", &[("tsize", "0")]);
    let (code, message) = error(&c.recv());
    assert_eq!(code, ErrorCode::FileNotFound, "{message}");
    assert!(message.contains("nope.bin"), "{message}");
    let e = f
        .events
        .wait("Denied", |e| matches!(e, TftpEvent::Denied { .. }));
    assert!(e.to_string().contains("nope.bin"), "{e}");
    f.idle();
}

#[test]
fn no_accepted_options_means_data_1_at_once() {
    let f = serve(|_| {});
    let want = f.file("plain.bin", 700, 12);
    for options in [&[][..], &[("color", "blue"), ("blksize", "4")][..]] {
        let mut c = f.client();
        c.rrq("plain.bin", options);
        let (got, counts) = receive_windows(&mut c, 512, &[1], false);
        assert_eq!(got, want, "{options:?}");
        assert_eq!(counts, [1, 1]);
    }
    // Only the options asked for are answered.
    let mut c = f.client();
    c.rrq("plain.bin", &[("timeout", "3"), ("color", "blue")]);
    assert_eq!(
        oack(&c.recv()),
        Options {
            timeout: Some(3),
            ..Options::default()
        }
    );
    c.ack(0);
    let (got, _) = receive_windows(&mut c, 512, &[1], false);
    assert_eq!(got, want);
    f.idle();
}

#[test]
fn malformed_packets_are_ignored() {
    let f = serve(|c| c.default_timeout = Duration::from_secs(5));
    let want = f.file("ok.bin", 5000, 13);
    let c = f.client();
    for i in 0..300u64 {
        let seed = 77 + i;
        let len = (random_bytes(2, seed)[0] as usize * 3) % 600;
        let mut junk = random_bytes(len, seed);
        // Opcodes 1 and 2 would be (malformed) requests; those get ERROR 4.
        if junk.len() >= 2 && junk[0] == 0 && matches!(junk[1], 1 | 2) {
            junk[1] = 9;
        }
        if i % 3 == 0 && junk.len() >= 2 {
            junk[0] = 0; // a plausible opcode: DATA, ACK, ERROR, OACK
            junk[1] = 3 + (i % 4) as u8;
        }
        c.to_server(&junk);
    }
    for junk in [
        &[][..],
        &[0][..],
        &[0, 7][..],
        &[0, 4, 0, 1][..],
        &[0, 3, 0, 1, 1, 2, 3][..],
        &[0, 5, 0, 1][..],
        &vec![0xff; 65_000][..],
    ] {
        c.to_server(junk);
    }
    c.sock
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0; 100];
    assert!(c.sock.recv_from(&mut buf).is_err(), "garbage was answered");
    // Malformed requests get ERROR 4.
    c.to_server(&[0, 1, b'x', 0, b'm', b'a', b'i', b'l', 0]);
    let (reply, from) = c.recv_any();
    assert_eq!(from, f.addr());
    assert_eq!(error(&reply).0, ErrorCode::IllegalOperation);

    // Garbage sent to a transfer's port is ignored too.
    let mut c = f.client();
    c.rrq("ok.bin", &[]);
    let mut got = data(&c.recv()).1;
    for len in [0, 1, 3, 9, 600] {
        c.send(&random_bytes(len, len as u64));
    }
    c.send(&[0, 3, 0, 1, 9, 9]); // DATA from the reader: ignored
    c.ack(1);
    let (rest, _) = receive_from(&mut c, 2, 512, &[1], false);
    got.extend_from_slice(&rest);
    assert_eq!(got, want);
    f.idle();
}

#[test]
fn busy_when_max_transfers_are_running() {
    let f = serve(|c| {
        c.max_transfers = 1;
        c.default_timeout = Duration::from_secs(5);
    });
    let want = f.file("one.bin", 2000, 14);
    let mut a = f.client();
    a.rrq("one.bin", &[]);
    assert_eq!(data(&a.recv()).0, 1);
    // Acknowledged: the slot is a's for good (no reclaim).
    a.ack(1);
    assert_eq!(f.server.active_transfers(), 1);

    let b = f.client();
    b.rrq("one.bin", &[]);
    let (reply, from) = b.recv_any();
    assert_eq!(from, f.addr());
    let (code, message) = error(&reply);
    assert_eq!(code, ErrorCode::NotDefined);
    assert!(message.contains("busy"), "{message}");

    let (_, counts) = receive_from(&mut a, 2, 512, &[1], false);
    assert_eq!(counts, [1, 1, 1]);
    f.idle();
    let mut b = f.client();
    b.rrq("one.bin", &[]);
    assert_eq!(receive_windows(&mut b, 512, &[1], false).0, want);
}

#[test]
fn a_silent_client_is_given_up_after_the_retries() {
    let f = serve(|c| {
        c.default_timeout = Duration::from_millis(200);
        c.retries = 3;
    });
    f.file("slow.bin", 3000, 15);
    // Acknowledged once (here the OACK), then silent: DATA 1 is resent
    // after each timeout, then the server gives up with an ERROR.
    let t = Instant::now();
    let mut c = f.client();
    c.rrq("slow.bin", &[("blksize", "1024")]);
    oack(&c.recv());
    c.ack(0);
    let mut copies = 0;
    let end = loop {
        match parse(&c.recv()) {
            Packet::Data { block: 1, .. } => copies += 1,
            Packet::Error { code, message } => break (code, message),
            other => panic!("unexpected {other:?}"),
        }
    };
    let took = t.elapsed();
    assert_eq!(copies, 4, "first send and 3 resends");
    assert_eq!(end.0, ErrorCode::NotDefined);
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(3),
        "{took:?}"
    );
    let me = c.sock.local_addr().unwrap();
    let e = f.events.wait(
        "Failed",
        |e| matches!(e, TftpEvent::Failed { client, .. } if *client == me),
    );
    assert!(e.to_string().contains("4 timeouts"), "{e}");
    f.idle();
}

#[test]
fn a_client_that_acknowledged_nothing_gets_one_datagram_per_request() {
    let f = serve(|c| {
        c.default_timeout = Duration::from_millis(200);
        c.retries = 3;
    });
    f.file("quiet.bin", 3000, 15);
    for options in [&[][..], &[("blksize", "1024"), ("tsize", "0")][..]] {
        let mut c = f.client();
        c.rrq("quiet.bin", options);
        let first = c.recv();
        // The session waits for 4 timeouts (800 ms) before it gives up:
        // nothing more comes meanwhile, not even an ERROR.
        assert!(
            c.recv_within(Duration::from_millis(400)).is_none(),
            "{options:?}: the server resent on its own"
        );
        // The client asks again: exactly one more copy.
        c.rrq("quiet.bin", options);
        assert_eq!(c.recv(), first, "{options:?}");
        assert!(
            c.recv_within(Duration::from_millis(1200)).is_none(),
            "{options:?}: more than one datagram for one request"
        );
        let me = c.sock.local_addr().unwrap();
        let e = f.events.wait(
            "Failed",
            |e| matches!(e, TftpEvent::Failed { client, .. } if *client == me),
        );
        assert!(e.to_string().contains("acknowledged nothing"), "{e}");
    }
    f.idle();
}

#[test]
fn a_timeout_above_the_maximum_is_left_out_of_the_oack() {
    let f = serve(|c| c.max_timeout = Duration::from_secs(10));
    f.file("t.bin", 100, 1);
    let mut c = f.client();
    c.rrq("t.bin", &[("timeout", "255"), ("blksize", "512")]);
    let o = oack(&c.recv());
    assert_eq!(o.timeout, None, "{o:?}");
    assert_eq!(o.blksize, Some(512));
    let mut c = f.client();
    c.rrq("t.bin", &[("timeout", "10")]);
    assert_eq!(oack(&c.recv()).timeout, Some(10));
}

#[test]
fn the_silence_budget_ends_a_transfer_that_keeps_timing_out() {
    let f = serve(|c| {
        c.default_timeout = Duration::from_millis(100);
        c.retries = 100;
        c.silence_budget = Duration::from_millis(500);
    });
    f.file("budget.bin", 512 * 40, 3);
    let mut c = f.client();
    let t = Instant::now();
    c.rrq("budget.bin", &[("blksize", "512")]);
    oack(&c.recv());
    c.ack(0);
    // Each block is acknowledged only after its first resend: every block
    // costs one timeout, and the budget runs out after five.
    let mut block = 1u16;
    let mut seen = false;
    let end = loop {
        match parse(&c.recv()) {
            Packet::Data { block: b, .. } if b == block && !seen => seen = true,
            Packet::Data { block: b, .. } if b == block => {
                c.ack(block);
                block += 1;
                seen = false;
            }
            Packet::Error { message, .. } => break message,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(block, 5, "the budget ran out at another block");
    assert!(end.contains("timed out"), "{end}");
    let e = f
        .events
        .wait("Failed", |e| matches!(e, TftpEvent::Failed { .. }));
    assert!(e.to_string().contains("silence budget"), "{e}");
}

#[test]
fn a_lost_ack_is_recovered_by_the_timeout() {
    let f = serve(|c| c.default_timeout = Duration::from_millis(400));
    let want = f.file("lossy.bin", 512 * 6, 16);
    let mut c = f.client();
    c.rrq("lossy.bin", &[("windowsize", "3")]);
    oack(&c.recv());
    // The ACK of the OACK is "lost": the server does not resend to a client
    // that acknowledged nothing; the client's own retry goes through.
    assert!(c.recv_within(Duration::from_millis(600)).is_none());
    c.ack(0);
    for b in 1..=3 {
        assert_eq!(data(&c.recv()).0, b);
    }
    // No ACK: the whole window comes again, then it goes on.
    for b in 1..=3 {
        assert_eq!(data(&c.recv()).0, b);
    }
    c.ack(3);
    let mut got = want[..512 * 3].to_vec();
    let (rest, counts) = receive_from(&mut c, 4, 512, &[3], false);
    got.extend_from_slice(&rest);
    assert_eq!(got, want);
    assert_eq!(counts, [3, 1]);
}

#[test]
fn reply_ports_come_from_the_range() {
    let free = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let f = serve(|c| {
        c.reply_ports = Some(port..=port);
        c.default_timeout = Duration::from_secs(5);
    });
    let want = f.file("r.bin", 1500, 17);
    let mut a = f.client();
    a.rrq("r.bin", &[]);
    let first = data(&a.recv());
    assert_eq!(a.peer.unwrap().port(), port);
    // The only reply port is taken: the next request is turned away.
    let b = f.client();
    b.rrq("r.bin", &[]);
    let (reply, _) = b.recv_any();
    let (_, message) = error(&reply);
    assert!(message.contains("busy"), "{message}");
    a.ack(1);
    let (rest, _) = receive_from(&mut a, 2, 512, &[1], false);
    assert_eq!([first.1, rest].concat(), want);
}

#[test]
fn stop_ends_transfers_promptly() {
    let f = serve(|c| c.default_timeout = Duration::from_secs(30));
    f.file("long.bin", 100_000, 18);
    let mut c = f.client();
    c.rrq("long.bin", &[]);
    data(&c.recv());
    let Fixture {
        server,
        events,
        dir: _dir,
        ..
    } = f;
    let t = Instant::now();
    server.stop();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    let (code, message) = error(&c.recv());
    assert_eq!(code, ErrorCode::NotDefined);
    assert!(message.contains("shutting down"), "{message}");
    events.wait("Failed", |e| matches!(e, TftpEvent::Failed { .. }));
}

#[test]
fn bind_errors_name_the_address() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = TftpConfig {
        root: dir.path().to_path_buf(),
        bind: addr,
        ..TftpConfig::default()
    };
    let err = TftpServer::start(config, None).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

// ---------------------------------------------------------------------------
// Generated files (the provide hook)

/// What the test hook generates for `ip`: 70,000 bytes that name it.
fn generated_for(ip: std::net::IpAddr) -> Vec<u8> {
    format!("store for {ip};")
        .bytes()
        .cycle()
        .take(70_000)
        .collect()
}

#[test]
fn generated_files_are_served_per_client_and_only_checked_names_reach_the_hook() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    let hooks = TftpHooks {
        provide: Some(Arc::new(move |client: SocketAddr, name: &str| {
            log.lock().unwrap().push(name.to_string());
            let key = name
                .replace('\\', "/")
                .trim_start_matches('/')
                .to_ascii_lowercase();
            match key.as_str() {
                "boot/bcd" => Some(Provided::Bytes(Arc::from(generated_for(client.ip())))),
                "secret/bcd" => Some(Provided::Refused("not for this client".into())),
                _ => None,
            }
        })),
        ..TftpHooks::default()
    };
    let f = serve_with(hooks, |_| {});
    let on_disk = f.file("x.bin", 3000, 9);

    // Real clients: curl with a large block, atftp with a window and the
    // Windows spelling; each gets the bytes made for its address.
    let out = f.out("curl-bcd");
    let (ok, log) = curl_get(&f, "boot/bcd", &out, &["--tftp-blksize", "1468"]);
    assert!(ok, "curl: {log}");
    same(
        &out,
        &generated_for("127.0.0.1".parse().unwrap()),
        "curl boot/bcd",
        &log,
    );
    let out = f.out("atftp-bcd");
    let port = f.port();
    let args = [
        "--get",
        "-r",
        "\\Boot\\BCD",
        "-l",
        out.to_str().unwrap(),
        "--option",
        "windowsize 8",
        "127.0.0.1",
        port.as_str(),
    ];
    let (ok, log) = run("atftp", "atftp", &args, f.dir.path());
    assert!(ok, "atftp: {log}");
    same(
        &out,
        &generated_for("127.0.0.1".parse().unwrap()),
        "atftp \\Boot\\BCD",
        &log,
    );

    // Another client address gets its own bytes (raw client, octet, no options).
    let mut c = Client::from_ip(f.addr(), f.client_ip(7).octets());
    c.rrq("boot/bcd", &[]);
    let mut got = Vec::new();
    loop {
        let (block, bytes) = data(&c.recv());
        got.extend_from_slice(&bytes);
        c.ack(block);
        if bytes.len() < 512 {
            break;
        }
    }
    assert!(
        got == generated_for(f.client_ip(7).into()),
        "the second client got another client's file"
    );

    // A refusal from the hook is ERROR 2 and an event; a name the rules
    // refuse never reaches the hook; files on disk are served as before.
    let mut c = Client::from_ip(f.addr(), f.client_ip(8).octets());
    c.rrq("secret/bcd", &[]);
    let (code, message) = error(&c.recv());
    assert_eq!(code, ErrorCode::AccessViolation);
    assert!(message.contains("not for this client"), "{message}");
    f.events.wait(
        "the refusal",
        |e| matches!(e, TftpEvent::Denied { file, .. } if file == "secret/bcd"),
    );
    for bad in [
        "../boot/bcd",
        "boot/../../bcd",
        "C:boot/bcd",
        "boot/bcd\u{1}",
    ] {
        let mut c = Client::from_ip(f.addr(), f.client_ip(9).octets());
        c.rrq(bad, &[]);
        let (code, _) = error(&c.recv());
        assert_eq!(code, ErrorCode::AccessViolation, "{bad:?}");
    }
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|n| !n.contains("..") && !n.contains(':') && !n.contains('\u{1}')),
        "a refused name reached the hook: {:?}",
        seen.lock().unwrap()
    );
    let out = f.out("curl-disk");
    let (ok, log) = curl_get(&f, "x.bin", &out, &[]);
    assert!(ok, "curl x.bin: {log}");
    same(&out, &on_disk, "curl x.bin", &log);
    f.idle();
}
