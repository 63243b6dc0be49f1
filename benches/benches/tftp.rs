//! The TFTP server: windows against lock-step, and against dnsmasq's TFTP.
//!
//! A. **windowsize 16 vs lock-step**: the same client (below, RFC 7440: it
//!    ACKs the last block of each window), the same server (ours, in this
//!    process), the same file, blksize 1468; lock-step asks for blksize
//!    only, the window asks for `windowsize 16` too. The links:
//!    - raw loopback (RTT of a few tens of µs), twice: with client and
//!      server bound to one CPU (both CPU bound: what the window saves is
//!      the ACKs' system calls and wake-ups), and placed by the scheduler
//!      (on this VM a wake-up across vCPUs can cost ~100 µs, which
//!      lock-step pays once per block); for information only;
//!    - a LAN-like link of 0.2 ms and of 1 ms RTT, emulated by a user-space
//!      UDP relay (`Relay`) that holds every datagram for the same time in
//!      each direction before passing it on, with no bandwidth limit and no
//!      loss. `tc qdisc netem` is not available on this machine (the kernel
//!      lacks sch_netem). The relay presents one port to the client and
//!      follows the server's transfer ID: requests go to the listening
//!      port, everything else to the port the server's replies come from.
//!      The hold time is RTT/2 less half the relay's own cost, calibrated
//!      so that a ping-pong through the relay takes the RTT; the measured
//!      RTT is printed with the results.
//!
//!    5 rounds per link, order alternating, medians; acceptance: ratio
//!    (window MiB/s over lock-step MiB/s) >= 4x on the emulated links.
//!
//! B. **ours vs dnsmasq**: a 256 MiB pseudo-random file fetched with the
//!    same clients and options from dnsmasq's TFTP (127.0.0.1:69,
//!    TFTP only) and from ours (127.0.0.2:69, in a child process, default
//!    settings): `atftp` with `blksize 1468`, `atftp` with no options (512
//!    byte blocks), `curl` with `--tftp-blksize 1468`; output to
//!    /dev/null. dnsmasq has no windowsize, so every transfer here is
//!    lock-step. Each client and server first fetches a 48 MiB file into a
//!    file that is compared with the source (untimed; also a warm-up), then
//!    5 timed rounds, order alternating, medians; acceptance: ratio (ours
//!    MiB/s over dnsmasq MiB/s) >= 1.0. Peak RSS of both servers (VmHWM of
//!    the processes) is printed. Clients and servers all run on one CPU:
//!    on this VM a wake-up across vCPUs costs some 100 µs when the other
//!    vCPU is idle, so unpinned lock-step over loopback measures the
//!    hypervisor (the same 64 MiB fetch took 3 s on one CPU, 17 to 27 s
//!    across two, for either server) and swings from run to run.
//!
//! C. **HTTP vs windowed TFTP, ours vs nginx**: a 512 MiB pseudo-random
//!    file fetched by curl over HTTP/1.1 from our HTTP server (a child
//!    process) and from nginx, and by our client over TFTP with windowsize
//!    16, on loopback and on links of 0.2 and 1 ms RTT (UDP through the
//!    relay above; TCP through `dart_benches::tcp_link::TcpRelay`, which
//!    holds each direction's bytes the same time); then 200 curl clients at
//!    once, each from an address of its own, fetch a 32 MiB file from each
//!    HTTP server. Acceptance: HTTP at least 5x windowed TFTP at 1 ms RTT,
//!    ours at least 0.9x nginx on every link, no failed client; peak RSS of
//!    both servers printed. Needs nginx and curl.
//!
//! `cargo bench -p dart-benches --bench tftp` (`-- a`, `-- b` or `-- c`
//! runs one part). Part B needs root (port 69) and dnsmasq (`dnsmasq-base`), atftp
//! and curl; a part that cannot run is skipped with the reason printed. Files live under `/var/tmp` (or
//! `DART_BENCH_DIR`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use dart_benches::tcp_link::{tcp_round_trip, TcpRelay};
use dart_benches::{
    bench_dir, median, peak_rss_kib, random_file, settle, tftp_fetch as fetch, timed_out, which,
};
use dart_core::net::tftp::{ErrorCode, Mode, Options, Packet, Request, TftpConfig, TftpServer};

const MIB: u64 = 1 << 20;
const BLKSIZE: u16 = dart_benches::TFTP_BLKSIZE;
const WINDOW: u16 = 16;
const ROUNDS: usize = 5;
/// Part B's file.
const BIG: u64 = 256 * MIB;
/// Part B's validity check (and warm-up): 98,304 blocks of 512 bytes, so
/// the block number rolls over.
const CHECK: u64 = 48 * MIB;

fn mib_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / MIB as f64 / seconds
}

// ---------------------------------------------------------------------------
// The client of part A

// ---------------------------------------------------------------------------
// The latency relay of part A

/// A UDP relay on 127.0.0.1 that delivers every datagram `one_way` after
/// it arrived, in each direction, in order: a link with that latency, no
/// bandwidth limit and no loss. Clients send to [`Relay::addr`]; the relay
/// forwards requests (opcode 1, 2) to the server's listening port and
/// everything else to the port the server's last reply came from (its
/// transfer ID), and sends every reply to the client from `addr`.
struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

type Queue = (
    mpsc::Sender<(Instant, Vec<u8>)>,
    mpsc::Receiver<(Instant, Vec<u8>)>,
);

impl Relay {
    fn start(server: SocketAddr, one_way: Duration) -> Relay {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let back = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let tick = Some(Duration::from_millis(50));
        front.set_read_timeout(tick).unwrap();
        back.set_read_timeout(tick).unwrap();
        let addr = front.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let client = Arc::new(Mutex::new(None::<SocketAddr>));
        let tid = Arc::new(Mutex::new(None::<SocketAddr>));
        let (up_in, up_out): Queue = mpsc::channel();
        let (down_in, down_out): Queue = mpsc::channel();
        let mut threads = Vec::new();

        // Receivers: stamp each datagram with its delivery time.
        for (sock, queue, seen, is_back) in [
            (Arc::clone(&front), up_in, Arc::clone(&client), false),
            (Arc::clone(&back), down_in, Arc::clone(&tid), true),
        ] {
            let stop = Arc::clone(&stop);
            threads.push(thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while !stop.load(Ordering::Acquire) {
                    match sock.recv_from(&mut buf) {
                        Ok((n, from)) => {
                            // The client's address; the server's transfer
                            // port (not its listening port).
                            if !is_back || from != server {
                                *seen.lock().unwrap() = Some(from);
                            }
                            let _ = queue.send((Instant::now() + one_way, buf[..n].to_vec()));
                        }
                        Err(e) if timed_out(&e) => {}
                        Err(_) => thread::sleep(Duration::from_millis(1)),
                    }
                }
            }));
        }
        // Senders: deliver each datagram at its time.
        for (sock, queue, to_back) in [(Arc::clone(&back), up_out, true), (front, down_out, false)]
        {
            let (stop, client, tid) = (Arc::clone(&stop), Arc::clone(&client), Arc::clone(&tid));
            threads.push(thread::spawn(move || {
                precise_sleeps();
                loop {
                    let (at, packet) = match queue.recv_timeout(Duration::from_millis(50)) {
                        Ok(item) => item,
                        Err(mpsc::RecvTimeoutError::Timeout) if !stop.load(Ordering::Acquire) => {
                            continue
                        }
                        Err(_) => return,
                    };
                    wait_until(at);
                    let to = if to_back {
                        if matches!(packet[..], [0, 1 | 2, ..]) {
                            Some(server)
                        } else {
                            Some(tid.lock().unwrap().unwrap_or(server))
                        }
                    } else {
                        *client.lock().unwrap()
                    };
                    if let Some(to) = to {
                        let _ = sock.send_to(&packet, to);
                    }
                }
            }));
        }
        Relay {
            addr,
            stop,
            threads,
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Waits until `at`, to within a few microseconds: sleeps until shortly
/// before (a sleep here ends 25 to 50 µs late even with the timer slack at
/// 1 ns), then yields until the time.
fn wait_until(at: Instant) {
    const MARGIN: Duration = Duration::from_micros(60);
    loop {
        let now = Instant::now();
        if now >= at {
            return;
        }
        if at - now > MARGIN {
            thread::sleep(at - now - MARGIN);
        } else {
            thread::yield_now();
        }
    }
}

/// Makes this thread's sleeps end closer to their deadline than the
/// default 50 µs timer slack allows.
fn precise_sleeps() {
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and only changes
    // the calling thread's timer slack; no memory is passed.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// Median round trip of a small datagram to `target`, answered by an echo
/// socket the relay (if any) forwards to.
fn round_trip(via: Option<Duration>) -> Duration {
    let echo = UdpSocket::bind("127.0.0.1:0").unwrap();
    echo.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let echo_addr = echo.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let echo_stop = Arc::clone(&stop);
    let echoer = thread::spawn(move || {
        let mut buf = [0u8; 64];
        while !echo_stop.load(Ordering::Acquire) {
            if let Ok((n, from)) = echo.recv_from(&mut buf) {
                let _ = echo.send_to(&buf[..n], from);
            }
        }
    });
    let relay = via.map(|d| Relay::start(echo_addr, d));
    let target = relay.as_ref().map_or(echo_addr, |r| r.addr);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut times = Vec::new();
    let mut buf = [0u8; 64];
    for i in 0..200u32 {
        let t = Instant::now();
        sock.send_to(&[&[0u8, 9][..], &i.to_be_bytes()].concat(), target)
            .unwrap();
        sock.recv_from(&mut buf).unwrap();
        times.push(t.elapsed().as_secs_f64());
    }
    drop(relay);
    stop.store(true, Ordering::Release);
    echoer.join().unwrap();
    Duration::from_secs_f64(median(times))
}

/// The relay's hold time that gives a round trip of `target` through it.
/// The round trip is twice the hold plus what the relay's extra datagrams
/// and thread hand-offs cost beyond it (some 50 to 80 µs here; a hand-off
/// shorter than the hold is hidden in it, as the hold counts from the
/// datagram's arrival), so the hold starts at half the target and is
/// corrected by half the error, three times; the best one is kept.
fn calibrate(target: Duration) -> Duration {
    calibrate_with(target, |hold| link_rtt(Some(hold)))
}

/// The hold that gives a round trip of `target` when `rtt(hold)` measures
/// the round trip through a link with that hold (see [`calibrate`]).
fn calibrate_with(target: Duration, rtt: impl Fn(Duration) -> Duration) -> Duration {
    let goal = target.as_secs_f64();
    let mut hold = goal / 2.0;
    let mut best = (f64::INFINITY, hold);
    for _ in 0..3 {
        let error = rtt(Duration::from_secs_f64(hold)).as_secs_f64() - goal;
        if error.abs() < best.0 {
            best = (error.abs(), hold);
        }
        hold = (hold - error / 2.0).max(0.0);
    }
    Duration::from_secs_f64(best.1)
}

/// The round trip through a link: the median of 3 medians of 200 pings.
fn link_rtt(hold: Option<Duration>) -> Duration {
    let mut v: Vec<Duration> = (0..3).map(|_| round_trip(hold)).collect();
    v.sort();
    v[1]
}

fn part_a(dir: &Path) {
    let root = dir.join("a");
    // (label, on one CPU, round-trip time to emulate, file)
    let links: [(&str, bool, Option<Duration>, &str); 4] = [
        ("loopback, 1 CPU", true, None, "f64.bin"),
        ("loopback", false, None, "f64.bin"),
        (
            "LAN, 0.2 ms RTT",
            false,
            Some(Duration::from_micros(200)),
            "f16.bin",
        ),
        (
            "LAN, 1 ms RTT",
            false,
            Some(Duration::from_millis(1)),
            "f4.bin",
        ),
    ];
    for (name, mib) in [("f64.bin", 64), ("f16.bin", 16), ("f4.bin", 4)] {
        random_file(&root.join(name), mib * MIB, 40 + mib);
    }
    println!(
        "A. windowsize {WINDOW} vs lock-step: our client and our server (in this process), blksize {BLKSIZE}, \
         {ROUNDS} rounds per link, order alternating, medians. \"loopback, 1 CPU\": client and server bound to one CPU \
         (CPU cost alone); \"loopback\": placed by the scheduler (on this VM a wake-up across vCPUs can cost ~100 µs, \
         which lock-step pays per block). Emulated links: a user-space UDP relay holding each datagram the same time \
         each way, calibrated to the RTT (no netem here); RTT measured by 200 pings through the link before and after"
    );
    println!(
        "  {:<16} {:>7} {:>17} {:>9} {:>15} {:>16} {:>8} {:>9}",
        "link",
        "file",
        "RTT before/after",
        "hold/way",
        "lock-step",
        "windowsize 16",
        "ratio",
        "bar"
    );
    let mut all_ok = true;
    for (label, one_cpu, target_rtt, name) in links {
        let want = fs::read(root.join(name)).unwrap();
        let size = want.len() as u64;
        // The server's threads inherit the affinity of the thread that
        // starts it.
        let pinned = if one_cpu {
            match pin_to_one_cpu() {
                Some(p) => Some(p),
                None => {
                    println!("  {label:<16} skipped: cannot bind this thread to one CPU");
                    continue;
                }
            }
        } else {
            None
        };
        let server = TftpServer::start(
            TftpConfig {
                root: root.clone(),
                bind: "127.0.0.1:0".parse().unwrap(),
                // Every client of the bench is on 127.0.0.1.
                max_per_client: 64,
                ..TftpConfig::default()
            },
            None,
        )
        .unwrap();
        let one_way = target_rtt.map(calibrate);
        let rtt_before = link_rtt(one_way);
        let relay = one_way.map(|d| Relay::start(server.local_addr(), d));
        let target = relay.as_ref().map_or(server.local_addr(), |r| r.addr);
        // Validity, once each, untimed (also a warm-up).
        fetch(target, name, None, Some(&want));
        fetch(target, name, Some(WINDOW), Some(&want));
        let (mut lock, mut win) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            if round % 2 == 0 {
                lock.push(fetch(target, name, None, None));
                win.push(fetch(target, name, Some(WINDOW), None));
            } else {
                win.push(fetch(target, name, Some(WINDOW), None));
                lock.push(fetch(target, name, None, None));
            }
        }
        drop(relay);
        let rtt_after = link_rtt(one_way);
        server.stop();
        if let Some((_, all)) = pinned {
            restore_affinity(&all);
        }
        let (l, w) = (median(lock), median(win));
        let ratio = l / w;
        let bar = if one_way.is_some() {
            all_ok &= ratio >= 4.0;
            if ratio >= 4.0 {
                ">=4x ok"
            } else {
                ">=4x FAIL"
            }
        } else {
            "(info)"
        };
        println!(
            "  {label:<16} {:>3} MiB {:>6.0}/{:<6.0} µs {:>8} {:>9.1} MiB/s {:>10.1} MiB/s {:>7.2}x {bar:>9}   ({l:.3} s vs {w:.3} s)",
            size / MIB,
            rtt_before.as_secs_f64() * 1e6,
            rtt_after.as_secs_f64() * 1e6,
            one_way.map_or("-".to_string(), |d| format!("{:.0} µs", d.as_secs_f64() * 1e6)),
            mib_s(size, l),
            mib_s(size, w),
            ratio
        );
    }
    println!(
        "  peak RSS of this process (server, client and relay threads, files read for checking): {} KiB{}",
        peak_rss_kib(),
        if all_ok { "" } else { "; a ratio is under its bar" }
    );
}

// ---------------------------------------------------------------------------
// Part B: ours vs dnsmasq

/// Child mode: serves `root` on `bind` until stdin closes, then prints its
/// peak RSS in KiB.
fn serve_child(root: &str, bind: &str) {
    let config = TftpConfig {
        root: root.into(),
        bind: bind.parse().unwrap(),
        // Every client of the bench is on 127.0.0.1.
        max_per_client: 64,
        ..TftpConfig::default()
    };
    match TftpServer::start(config, None) {
        Ok(server) => {
            println!("ready");
            std::io::stdout().flush().unwrap();
            let mut sink = String::new();
            while std::io::stdin().read_line(&mut sink).unwrap_or(0) > 0 {}
            server.stop();
            println!("{}", peak_rss_kib());
        }
        Err(e) => println!("error: {e}"),
    }
}

/// A server process of the benchmark; killed if still running when
/// dropped (on every exit path, a panic included).
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<BufReader<ChildStdout>>,
}

impl Proc {
    /// This process's peak RSS (VmHWM) in KiB.
    fn peak_rss_kib(&self) -> u64 {
        fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Starts our server in a child process (this benchmark again); `Err` with
/// the reason if it cannot serve on `bind`.
fn start_ours(root: &Path, bind: SocketAddr) -> Result<Proc, String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("DART_BENCH_CHILD", "1")
        .arg("serve")
        .arg(root)
        .arg(bind.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().map(BufReader::new);
    let mut proc = Proc {
        child,
        stdin,
        stdout,
    };
    let mut line = String::new();
    proc.stdout
        .as_mut()
        .unwrap()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    if line.trim() != "ready" {
        return Err(format!(
            "our server cannot serve on {bind}: {}",
            line.trim()
        ));
    }
    Ok(proc)
}

/// Stops our server process; returns its peak RSS in KiB.
fn stop_ours(mut proc: Proc) -> u64 {
    drop(proc.stdin.take());
    let mut line = String::new();
    proc.stdout.take().unwrap().read_line(&mut line).unwrap();
    line.trim().parse().unwrap()
}

/// dnsmasq as a TFTP server only (`--port=0` turns DNS off; no DHCP
/// range, so no DHCP), on `bind` (port 69), run as root like ours.
fn start_dnsmasq(
    dnsmasq: &Path,
    root: &Path,
    bind: SocketAddr,
    dir: &Path,
) -> Result<Proc, String> {
    let child = Command::new(dnsmasq)
        .arg("--keep-in-foreground")
        .arg("--conf-file=/dev/null")
        .arg("--no-hosts")
        .arg("--no-resolv")
        .arg("--port=0")
        .arg("--enable-tftp")
        .arg(format!("--tftp-root={}", root.display()))
        .arg(format!("--listen-address={}", bind.ip()))
        .arg("--bind-interfaces")
        .arg("--user=root")
        .arg(format!("--pid-file={}", dir.join("dnsmasq.pid").display()))
        .arg(format!(
            "--log-facility={}",
            dir.join("dnsmasq.log").display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    Ok(Proc {
        child,
        stdin: None,
        stdout: None,
    })
}

/// Waits until a TFTP server answers on `addr` (ERROR 1 for a missing
/// file); `false` after 5 s.
fn answers(addr: SocketAddr) -> bool {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let rrq = Packet::Rrq(Request {
        filename: "no-such-file".into(),
        mode: Mode::Octet,
        options: Options::default(),
    })
    .to_bytes();
    let mut buf = [0u8; 1024];
    for _ in 0..50 {
        let _ = sock.send_to(&rrq, addr);
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            return matches!(
                Packet::parse(&buf[..n]),
                Ok(Packet::Error {
                    code: ErrorCode::FileNotFound,
                    ..
                })
            );
        }
    }
    false
}

/// One download by an external client; returns the seconds it took.
fn client_fetch(tool: &Path, kind: &str, ip: &str, name: &str, out: &Path, size: u64) -> f64 {
    let mut cmd = Command::new(tool);
    match kind {
        "atftp 1468" | "atftp" => {
            cmd.args(["--get", "-r", name, "-l"]).arg(out);
            if kind == "atftp 1468" {
                cmd.args(["--option", "blksize 1468"]);
            }
            cmd.args([ip, "69"]);
        }
        "curl 1468" => {
            cmd.args([
                "-s",
                "-S",
                "--max-time",
                "600",
                "--tftp-blksize",
                "1468",
                "-w",
                "%{size_download}",
                "-o",
            ])
            .arg(out)
            .arg(format!("tftp://{ip}/{name}"));
        }
        _ => unreachable!(),
    }
    let t = Instant::now();
    let result = cmd.stdin(Stdio::null()).output().unwrap();
    let seconds = t.elapsed().as_secs_f64();
    assert!(
        result.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    if kind.starts_with("curl") {
        assert_eq!(
            String::from_utf8_lossy(&result.stdout).trim(),
            size.to_string(),
            "{cmd:?}: size downloaded"
        );
    }
    seconds
}

fn part_b(dir: &Path) {
    println!(
        "B. ours vs dnsmasq's TFTP: the same external clients and options, {} MiB pseudo-random file, output to /dev/null, \
         lock-step (dnsmasq has no windowsize); dnsmasq on 127.0.0.1:69 (TFTP only), ours on 127.0.0.2:69 \
         (child process, default settings); {ROUNDS} rounds, order alternating, medians",
        BIG / MIB
    );
    let Some(dnsmasq) = which("dnsmasq") else {
        println!("  skipped: dnsmasq not found (apt-get install -y dnsmasq-base)");
        return;
    };
    let clients: Vec<(&str, PathBuf)> = [
        ("atftp 1468", "atftp"),
        ("atftp", "atftp"),
        ("curl 1468", "curl"),
    ]
    .into_iter()
    .filter_map(|(kind, tool)| match which(tool) {
        Some(p) => Some((kind, p)),
        None => {
            println!("  skipped {kind:?}: {tool} not found (apt-get install -y {tool})");
            None
        }
    })
    .collect();
    if clients.is_empty() {
        return;
    }
    let root = dir.join("b");
    let big = root.join("big.bin");
    let check = root.join("check.bin");
    random_file(&big, BIG, 7);
    random_file(&check, CHECK, 8);
    // dnsmasq running as root serves world-readable files only.
    for p in [&big, &check] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o644)).unwrap();
    }
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
    let check_bytes = fs::read(&check).unwrap();
    settle();
    let Some((cpu, all_cpus)) = pin_to_one_cpu() else {
        println!("  skipped: this thread cannot be bound to one CPU (sched_setaffinity)");
        return;
    };
    println!(
        "  every client and both servers run on CPU {cpu} (this thread's affinity, which the processes \
         it starts inherit): on this VM a wake-up across vCPUs costs ~100 µs when the other vCPU is idle, \
         which would dominate lock-step over loopback and swing from run to run"
    );
    compare(dir, &dnsmasq, &clients, &root, &check_bytes);
    restore_affinity(&all_cpus);
}

/// Binds this thread, and with it every process it starts from now on, to
/// the last CPU it may run on; returns that CPU and the previous set.
fn pin_to_one_cpu() -> Option<(usize, libc::cpu_set_t)> {
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is the empty set.
    let mut old: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `old` is a valid, writable cpu_set_t of `size` bytes.
    if unsafe { libc::sched_getaffinity(0, size, &mut old) } != 0 {
        return None;
    }
    let cpu = (0..libc::CPU_SETSIZE as usize)
        .rev()
        // SAFETY: `c` is below CPU_SETSIZE, the number of bits in the set.
        .find(|&c| unsafe { libc::CPU_ISSET(c, &old) })?;
    // SAFETY: as above, the empty set.
    let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut one) };
    // SAFETY: `one` is a valid cpu_set_t of `size` bytes; 0 is this thread.
    if unsafe { libc::sched_setaffinity(0, size, &one) } != 0 {
        return None;
    }
    Some((cpu, old))
}

/// Gives this thread back the CPUs [`pin_to_one_cpu`] took away.
fn restore_affinity(all: &libc::cpu_set_t) {
    // SAFETY: `all` is a valid cpu_set_t of the size given; 0 is this thread.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), all) };
}

/// Part B's measurements, servers started and stopped here.
fn compare(
    dir: &Path,
    dnsmasq: &Path,
    clients: &[(&str, PathBuf)],
    root: &Path,
    check_bytes: &[u8],
) {
    let ours_addr: SocketAddr = "127.0.0.2:69".parse().unwrap();
    let peer_addr: SocketAddr = "127.0.0.1:69".parse().unwrap();
    let ours = match start_ours(root, ours_addr) {
        Ok(p) => p,
        Err(e) => {
            println!("  skipped: {e} (port 69 needs root)");
            return;
        }
    };
    let peer = match start_dnsmasq(dnsmasq, root, peer_addr, dir) {
        Ok(p) => p,
        Err(e) => {
            println!("  skipped: dnsmasq does not start: {e}");
            return;
        }
    };
    if !answers(ours_addr) || !answers(peer_addr) {
        println!(
            "  skipped: a server does not answer (ours {}, dnsmasq {}); dnsmasq log: {}",
            answers(ours_addr),
            answers(peer_addr),
            fs::read_to_string(dir.join("dnsmasq.log")).unwrap_or_default()
        );
        return;
    }

    println!(
        "  {:<22} {:>16} {:>16} {:>10} {:>7}",
        "client", "ours", "dnsmasq", "ratio", "bar"
    );
    let out = dir.join("out.bin");
    let null = Path::new("/dev/null");
    let mut all_ok = true;
    for (kind, tool) in clients {
        // Validity, untimed: the 48 MiB file, byte for byte, from each.
        for ip in ["127.0.0.2", "127.0.0.1"] {
            client_fetch(tool, kind, ip, "check.bin", &out, CHECK);
            assert!(
                fs::read(&out).unwrap() == check_bytes,
                "{kind} from {ip}: the download differs from the file"
            );
            fs::remove_file(&out).unwrap();
        }
        let (mut o, mut p) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            if round % 2 == 0 {
                o.push(client_fetch(tool, kind, "127.0.0.2", "big.bin", null, BIG));
                p.push(client_fetch(tool, kind, "127.0.0.1", "big.bin", null, BIG));
            } else {
                p.push(client_fetch(tool, kind, "127.0.0.1", "big.bin", null, BIG));
                o.push(client_fetch(tool, kind, "127.0.0.2", "big.bin", null, BIG));
            }
        }
        let (o, p) = (median(o), median(p));
        let ratio = p / o;
        all_ok &= ratio >= 1.0;
        let label = match *kind {
            "atftp 1468" => "atftp, blksize 1468",
            "atftp" => "atftp, no options",
            _ => "curl, blksize 1468",
        };
        println!(
            "  {label:<22} {:>10.1} MiB/s {:>10.1} MiB/s {:>9.2}x {:>7}   ({o:.2} s vs {p:.2} s)",
            mib_s(BIG, o),
            mib_s(BIG, p),
            ratio,
            if ratio >= 1.0 { ">=1 ok" } else { ">=1 FAIL" }
        );
    }
    let peer_rss = peer.peak_rss_kib();
    drop(peer);
    let ours_rss = stop_ours(ours);
    println!(
        "  peak RSS: ours {ours_rss} KiB, dnsmasq {peer_rss} KiB{}",
        if all_ok {
            ""
        } else {
            "; a ratio is under its bar"
        }
    );
}

fn main() {
    if std::env::var_os("DART_BENCH_CHILD").is_some() {
        let a: Vec<String> = std::env::args().collect();
        match a[1].as_str() {
            "serve" => serve_child(&a[2], &a[3]),
            "serve-http" => serve_http_child(&a[2], &a[3]),
            other => panic!("unknown child mode {other}"),
        }
        return;
    }
    // `cargo bench -p dart-benches --bench tftp -- a` runs part A only (`b`
    // part B); cargo's own `--bench` flag is not a filter.
    let parts: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(|a| a.to_lowercase())
        .collect();
    let run = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    let dir = bench_dir();
    if run("a") {
        part_a(dir.path());
    }
    if run("b") {
        part_b(dir.path());
    }
    if run("c") {
        part_c(dir.path());
    }
}

// ---------------------------------------------------------------------------
// Part C: HTTP (ours, nginx) against windowed TFTP

/// Part C's big file: a WIM-sized download.
const WIM: u64 = 512 * MIB;
/// Part C's concurrency test: clients at once, and the file each fetches.
const CLIENTS: usize = 200;
const SMALL: u64 = 32 * MIB;

/// Child mode for part C: our HTTP server on `bind`, as `serve_child`.
fn serve_http_child(root: &str, bind: &str) {
    use dart_core::net::http::{HttpConfig, HttpServer};
    let config = HttpConfig {
        root: root.into(),
        bind: bind.parse().unwrap(),
        ..HttpConfig::default()
    };
    match HttpServer::start(config, Default::default(), None) {
        Ok(server) => {
            println!("ready {}", server.local_addr());
            std::io::stdout().flush().unwrap();
            let mut sink = String::new();
            while std::io::stdin().read_line(&mut sink).unwrap_or(0) > 0 {}
            server.stop();
            println!("{}", peak_rss_kib());
        }
        Err(e) => println!("error: {e}"),
    }
}

/// Starts our HTTP server in a child process on a port the system picks;
/// returns it and its address.
fn start_ours_http(root: &Path) -> (Proc, SocketAddr) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("DART_BENCH_CHILD", "1")
        .arg("serve-http")
        .arg(root)
        .arg("127.0.0.1:0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().map(BufReader::new);
    let mut proc = Proc {
        child,
        stdin,
        stdout,
    };
    let mut line = String::new();
    proc.stdout.as_mut().unwrap().read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("our HTTP server did not start: {line}"))
        .parse()
        .unwrap();
    (proc, addr)
}

/// A free TCP port on 127.0.0.1 (for nginx, which cannot report one).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Peak RSS (VmHWM) of process `pid` in KiB, 0 if unknown.
fn vm_hwm_kib(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// curl's arguments for fetching `url` to /dev/null, printing status, size
/// and seconds.
fn curl_command(url: &str, from: Option<&str>) -> Command {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "--http1.1",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download} %{time_total}",
    ]);
    if let Some(from) = from {
        cmd.args(["--interface", from]);
    }
    cmd.arg(url);
    cmd
}

/// Checks curl's output (200 and `size` bytes); returns its seconds, or
/// the problem.
fn curl_result(out: &std::process::Output, size: u64) -> Result<f64, String> {
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let (Some(code), Some(got), Some(secs)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("curl printed {text:?} ({})", out.status));
    };
    if code != "200" || got != size.to_string() || !out.status.success() {
        return Err(format!(
            "status {code}, {got} of {size} bytes ({})",
            out.status
        ));
    }
    secs.parse().map_err(|_| format!("curl printed {text:?}"))
}

/// Fetches `url` with curl; returns the seconds.
fn curl_fetch(url: &str, size: u64) -> f64 {
    let out = curl_command(url, None).output().unwrap();
    curl_result(&out, size).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// The TCP relay's hold per way that gives a round trip of `target`.
fn calibrate_tcp(target: Duration) -> Duration {
    calibrate_with(target, |hold| tcp_round_trip(Some(hold)))
}

/// `CLIENTS` curl processes at once, each from an address of its own
/// (127.0.0.2 on), fetching `name` from `server`; returns the failures (with
/// the first problem) and the wall time.
fn crowd(server: SocketAddr, name: &str, size: u64) -> (usize, Option<String>, f64) {
    let started = Instant::now();
    let children: Vec<Child> = (0..CLIENTS)
        .map(|i| {
            let from = format!("127.0.{}.{}", 1 + i / 250, 2 + i % 250);
            curl_command(&format!("http://{server}/{name}"), Some(&from))
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut failures = 0;
    let mut first = None;
    for child in children {
        let out = child.wait_with_output().unwrap();
        if let Err(e) = curl_result(&out, size) {
            failures += 1;
            first.get_or_insert(e);
        }
    }
    (failures, first, started.elapsed().as_secs_f64())
}

fn part_c(dir: &Path) {
    println!(
        "C. HTTP vs windowed TFTP, and ours vs nginx: a {} MiB pseudo-random file (a WIM) fetched over HTTP/1.1 \
         by curl from our HTTP server (child process, default settings) and from nginx (Debian's, one process, \
         sendfile on), and over TFTP by our client with blksize {BLKSIZE} and windowsize {WINDOW} from our TFTP \
         server; output to /dev/null. Links as in part A: UDP through the datagram relay, TCP through a relay that \
         passes each direction's bytes on after the same hold (64 KiB chunks, at most 4 MiB in flight per \
         direction), both calibrated to the RTT. {ROUNDS} rounds, order rotating, medians",
        WIM / MIB
    );
    if which("nginx").is_none() || which("curl").is_none() {
        println!("  skipped: nginx or curl not found (apt-get install -y nginx curl)");
        return;
    }
    let root = dir.join("c");
    random_file(&root.join("wim.bin"), WIM, 512);
    random_file(&root.join("small.bin"), SMALL, 32);
    for p in [root.join("wim.bin"), root.join("small.bin")] {
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    }
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
    let small_bytes = fs::read(root.join("small.bin")).unwrap();
    settle();
    let (ours, ours_addr) = start_ours_http(&root);
    let nginx_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let nginx = match dart_testkit::nginx::Nginx::start(
        &root,
        dart_testkit::nginx::Listen::Tcp(nginx_addr.to_string()),
    ) {
        Ok(n) => n,
        Err(e) => {
            println!("  skipped: nginx does not start: {e}");
            return;
        }
    };
    let tftp = TftpServer::start(
        TftpConfig {
            root: root.clone(),
            bind: "127.0.0.1:0".parse().unwrap(),
            max_per_client: 64,
            ..TftpConfig::default()
        },
        None,
    )
    .unwrap();
    // Validity: both HTTP servers give the bytes of the file.
    for addr in [ours_addr, nginx_addr] {
        let out = Command::new("curl")
            .args(["-s", "-f", &format!("http://{addr}/small.bin")])
            .output()
            .unwrap();
        assert!(out.stdout == small_bytes, "{addr} served other bytes");
    }
    println!(
        "  {:<16} {:>19} {:>15} {:>13} {:>13} {:>11} {:>14}",
        "link", "RTT UDP/TCP", "TFTP w16", "dart HTTP", "nginx", "HTTP/TFTP", "dart/nginx"
    );
    let links: [(&str, Option<Duration>); 3] = [
        ("loopback", None),
        ("LAN, 0.2 ms RTT", Some(Duration::from_micros(200))),
        ("LAN, 1 ms RTT", Some(Duration::from_millis(1))),
    ];
    let mut all_ok = true;
    for (label, rtt) in links {
        let udp_hold = rtt.map(calibrate);
        let tcp_hold = rtt.map(calibrate_tcp);
        let udp_rtt = link_rtt(udp_hold);
        let tcp_rtt = tcp_round_trip(tcp_hold);
        let udp_relay = udp_hold.map(|d| Relay::start(tftp.local_addr(), d));
        let tftp_at = udp_relay.as_ref().map_or(tftp.local_addr(), |r| r.addr);
        let ours_relay = tcp_hold.map(|d| TcpRelay::start(ours_addr, d));
        let nginx_relay = tcp_hold.map(|d| TcpRelay::start(nginx_addr, d));
        let ours_at = ours_relay.as_ref().map_or(ours_addr, TcpRelay::addr);
        let nginx_at = nginx_relay.as_ref().map_or(nginx_addr, TcpRelay::addr);
        let (mut t, mut o, mut n) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            for k in 0..3 {
                match (round + k) % 3 {
                    0 => t.push(fetch(tftp_at, "wim.bin", Some(WINDOW), None)),
                    1 => o.push(curl_fetch(&format!("http://{ours_at}/wim.bin"), WIM)),
                    _ => n.push(curl_fetch(&format!("http://{nginx_at}/wim.bin"), WIM)),
                }
            }
        }
        drop((udp_relay, ours_relay, nginx_relay));
        let (t, o, n) = (
            mib_s(WIM, median(t)),
            mib_s(WIM, median(o)),
            mib_s(WIM, median(n)),
        );
        let (vs_tftp, vs_nginx) = (o / t, o / n);
        let tftp_bar = if label == "LAN, 1 ms RTT" {
            all_ok &= vs_tftp >= 5.0;
            if vs_tftp >= 5.0 {
                "ok"
            } else {
                "FAIL"
            }
        } else {
            ""
        };
        all_ok &= vs_nginx >= 0.9;
        println!(
            "  {label:<16} {:>8.0}/{:<6.0} µs {:>9.1} MiB/s {:>7.1} MiB/s {:>7.1} MiB/s {:>8.2}x {tftp_bar:<4} {:>6.2}x {}",
            udp_rtt.as_secs_f64() * 1e6,
            tcp_rtt.as_secs_f64() * 1e6,
            t,
            o,
            n,
            vs_tftp,
            vs_nginx,
            if vs_nginx >= 0.9 { "ok" } else { "FAIL" }
        );
    }
    tftp.stop();
    println!("  bars: HTTP >= 5x windowed TFTP at 1 ms RTT; dart >= 0.9x nginx on every link");
    for (label, addr) in [("dart", ours_addr), ("nginx", nginx_addr)] {
        let (failures, first, wall) = crowd(addr, "small.bin", SMALL);
        println!(
            "  {CLIENTS} concurrent clients (each its own address, {} MiB each) on {label}: {failures} failed{}, \
             {wall:.2} s, {:.0} MiB/s in all",
            SMALL / MIB,
            first.map_or(String::new(), |e| format!(" (first: {e})")),
            mib_s(SMALL * CLIENTS as u64, wall)
        );
        all_ok &= failures == 0;
    }
    let nginx_rss = vm_hwm_kib(nginx.pid());
    drop(nginx);
    let ours_rss = stop_ours(ours);
    println!(
        "  peak RSS: dart HTTP server {ours_rss} KiB, nginx {nginx_rss} KiB{}",
        if all_ok {
            ""
        } else {
            "; a figure is under its bar"
        }
    );
}
