#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Load on loopback: 200 concurrent clients each fetch a 16 MiB file from
//! one server (blksize 1468, windowsize 16); every download must be
//! byte-identical, every session must end with a `Finished` event, and the
//! process's resident memory must not grow with the 3.2 GiB sent.
//!
//! `cargo test -p dart-core --test tftp_load -- --nocapture` prints the
//! measured figures (time, throughput, peak concurrency, RSS growth).

use common::random_bytes;
use dart_testkit as common;
use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use dart_core::net::tftp::{
    ErrorCode, Mode, Options, Packet, Request, TftpConfig, TftpEvent, TftpServer,
};

const CLIENTS: usize = 200;
const FILE_SIZE: usize = 16 << 20;
const BLKSIZE: u16 = 1468;
const WINDOW: u16 = 16;
const MIB: u64 = 1 << 20;
/// Bound on the growth of this process's resident memory (server and
/// clients) while the transfers run. 200 x 16 MiB = 3.2 GiB is sent; a
/// server that held each file in memory would need 3.2 GiB, one that held
/// even 1/16 of each 200 MiB. What should grow instead is per-transfer
/// state: a session thread and a client thread (a few touched pages of
/// stack each), a socket and a packet buffer on each side, so some 10 to
/// 30 MiB for 200 transfers plus malloc arenas for 400 threads (measured:
/// 14 to 20 MiB). 128 MiB leaves room for that and is 4% of the bytes
/// sent, so memory that scales with file size or bytes sent fails it.
const RSS_BOUND_MIB: u64 = 128;
/// The client resends its last ACK (or the RRQ) after this much silence.
/// Generous: 400 busy threads share 2 cores.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(3);
/// A client gives up after this long in all.
const CLIENT_DEADLINE: Duration = Duration::from_secs(240);

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// What one client saw, for the report.
#[derive(Debug, Default, Clone, Copy)]
struct ClientStats {
    /// RRQs sent again because nothing came back in time.
    rrq_resends: u32,
    /// ACKs sent again after a silence.
    ack_resends: u32,
    /// DATA packets that were not the block expected next (a window the
    /// server resent after its own timeout).
    out_of_order: u64,
    /// Replies from a second transfer port (a session started by a resent
    /// RRQ), each answered with ERROR 5.
    strays: u32,
    /// When the OACK came, from the moment the clients were let go.
    began: Duration,
    /// When the last block came, from the same moment.
    ended: Duration,
    /// Final ACKs sent again while dallying (the server resent its last
    /// window before the first final ACK reached it).
    final_resends: u32,
}

/// What the client threads share.
struct Crowd {
    /// Lets all clients go at once.
    go: Barrier,
    /// When they went.
    epoch: OnceLock<Instant>,
    /// Clients whose transfer is over (done or failed).
    done: AtomicUsize,
    /// Set when every session has ended: the clients stop dallying.
    dismissed: AtomicBool,
}

/// One client: the download, then dallying on its port until dismissed,
/// as RFC 1350 advises after the final ACK: a DATA from the server means
/// the final ACK was lost or late and is sent again; a reply from another
/// port (a session a resent RRQ started) gets ERROR 5.
fn client(server: SocketAddr, expected: &[u8], crowd: &Crowd) -> Result<ClientStats, String> {
    let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let mut stats = ClientStats::default();
    let result = fetch(&sock, server, expected, crowd, &mut stats);
    crowd.done.fetch_add(1, Ordering::AcqRel);
    let (peer, last) = result?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = vec![0u8; 65536];
    while !crowd.dismissed.load(Ordering::Acquire) {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        if from == peer {
            if buf[..n].starts_with(&[0, 3]) {
                stats.final_resends += 1;
                let b = last.to_be_bytes();
                let _ = sock.send_to(&[0, 4, b[0], b[1]], peer);
            }
        } else {
            refuse_stray(&sock, &buf[..n], from, &mut stats);
        }
    }
    Ok(stats)
}

/// Answers a datagram from a port other than the transfer's with ERROR 5
/// (unknown transfer ID), unless it is an ERROR itself.
fn refuse_stray(sock: &UdpSocket, packet: &[u8], from: SocketAddr, stats: &mut ClientStats) {
    if matches!(Packet::parse(packet), Ok(Packet::Error { .. })) {
        return;
    }
    stats.strays += 1;
    let e = Packet::Error {
        code: ErrorCode::UnknownTransferId,
        message: "unknown transfer ID".into(),
    };
    let _ = sock.send_to(&e.to_bytes(), from);
}

/// One download with windows, as RFC 7440 describes the client: ACK
/// block 0 after the OACK, then ACK the last block of each window (or
/// the short last block); after a block out of order, ACK the last block
/// received in order; after a silence, resend the last ACK. Each block is
/// compared with `expected` as it arrives. Returns the transfer's port
/// and the last block number.
fn fetch(
    sock: &UdpSocket,
    server: SocketAddr,
    expected: &[u8],
    crowd: &Crowd,
    stats: &mut ClientStats,
) -> Result<(SocketAddr, u16), String> {
    sock.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    let rrq = Packet::Rrq(Request {
        filename: "load.bin".into(),
        mode: Mode::Octet,
        options: Options {
            blksize: Some(BLKSIZE),
            windowsize: Some(WINDOW),
            ..Options::default()
        },
    })
    .to_bytes();
    let started = Instant::now();
    let mut buf = vec![0u8; 65536];
    let blksize = usize::from(BLKSIZE);

    crowd.go.wait();
    let epoch = *crowd.epoch.get_or_init(Instant::now);
    sock.send_to(&rrq, server)
        .map_err(|e| format!("send RRQ: {e}"))?;

    // The OACK, from the transfer's own port (its TID).
    let peer = loop {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => match Packet::parse(&buf[..n]) {
                Ok(Packet::Oack(o)) if from != server => {
                    if o.blksize != Some(BLKSIZE) || o.windowsize != Some(WINDOW) {
                        return Err(format!("unexpected OACK {o:?}"));
                    }
                    break from;
                }
                other => return Err(format!("expected an OACK, got {other:?} from {from}")),
            },
            Err(e) if timed_out(&e) => {
                if started.elapsed() > CLIENT_DEADLINE {
                    return Err("no OACK".into());
                }
                stats.rrq_resends += 1;
                sock.send_to(&rrq, server)
                    .map_err(|e| format!("resend RRQ: {e}"))?;
            }
            Err(e) => return Err(format!("receive: {e}")),
        }
    };
    let ack = |block: u16| {
        let mut p = [0u8, 4, 0, 0];
        p[2..].copy_from_slice(&block.to_be_bytes());
        sock.send_to(&p, peer).map(|_| ())
    };
    stats.began = epoch.elapsed();
    ack(0).map_err(|e| format!("send ACK 0: {e}"))?;

    // `next` counts blocks from 1 without wrapping; on the wire it is
    // modulo 65536.
    let mut next: u64 = 1;
    let mut offset = 0usize;
    let mut in_window = 0u16;
    // The block whose ACK was sent after the last out-of-order packet, so
    // that a resent window draws one ACK, not one per packet.
    let mut nacked = None;
    loop {
        if started.elapsed() > CLIENT_DEADLINE {
            return Err(format!(
                "not done after {CLIENT_DEADLINE:?}, at byte {offset}"
            ));
        }
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if timed_out(&e) => {
                stats.ack_resends += 1;
                in_window = 0;
                ack((next - 1) as u16).map_err(|e| format!("resend ACK: {e}"))?;
                continue;
            }
            Err(e) => return Err(format!("receive at byte {offset}: {e}")),
        };
        let packet = &buf[..n];
        if from != peer {
            // A second session for a resent RRQ: tell it to go away, as
            // RFC 1350 says for an unknown TID.
            refuse_stray(sock, packet, from, stats);
            continue;
        }
        if n < 4 || packet[..2] != [0, 3] {
            match Packet::parse(packet) {
                // A resent OACK: its ACK 0 was late.
                Ok(Packet::Oack(_)) if next == 1 => {
                    ack(0).map_err(|e| format!("send ACK 0: {e}"))?;
                    continue;
                }
                other => return Err(format!("at byte {offset}: expected DATA, got {other:?}")),
            }
        }
        let block = u16::from_be_bytes([packet[2], packet[3]]);
        let data = &packet[4..];
        if block != next as u16 {
            stats.out_of_order += 1;
            if nacked != Some(next) {
                nacked = Some(next);
                in_window = 0;
                ack((next - 1) as u16).map_err(|e| format!("send ACK: {e}"))?;
            }
            continue;
        }
        let end = offset + data.len();
        if data.len() > blksize || end > expected.len() || data != &expected[offset..end] {
            return Err(format!(
                "block {next} ({} bytes at byte {offset}) differs from the file",
                data.len()
            ));
        }
        offset = end;
        next += 1;
        in_window += 1;
        if data.len() < blksize {
            stats.ended = epoch.elapsed();
            ack(block).map_err(|e| format!("send the last ACK: {e}"))?;
            if offset != expected.len() {
                return Err(format!(
                    "{offset} bytes received, {} expected",
                    expected.len()
                ));
            }
            return Ok((peer, block));
        }
        if in_window == WINDOW {
            in_window = 0;
            ack(block).map_err(|e| format!("send ACK: {e}"))?;
        }
    }
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

#[test]
fn two_hundred_clients_fetch_16_mib_each_with_bounded_rss() {
    let dir = tempfile::tempdir().unwrap();
    let data: Arc<Vec<u8>> = Arc::new(random_bytes(FILE_SIZE, 0x10AD));
    fs::write(dir.path().join("load.bin"), &*data).unwrap();

    let events = Arc::new(Mutex::new(Vec::<TftpEvent>::new()));
    let sink = Arc::clone(&events);
    let server = TftpServer::start(
        TftpConfig {
            root: dir.path().to_path_buf(),
            bind: "127.0.0.1:0".parse().unwrap(),
            max_transfers: 256,
            // Every client is on 127.0.0.1.
            max_per_client: 256,
            ..TftpConfig::default()
        },
        Some(Box::new(move |e| sink.lock().unwrap().push(e))),
    )
    .unwrap();
    let addr = server.local_addr();
    let server = Arc::new(server);

    // Reset VmHWM to the current RSS (Linux >= 4.0), so that the peak read
    // afterwards belongs to the transfers alone (if that is refused, only
    // the samples count); a sampler thread also records VmRSS every 20 ms
    // and the number of running transfers.
    let hwm_reset = fs::write("/proc/self/clear_refs", "5").is_ok();
    let baseline = status_kib("VmRSS");
    let sampling_over = Arc::new(AtomicBool::new(false));
    let peak_active = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (over, peak_active, server) = (
            Arc::clone(&sampling_over),
            Arc::clone(&peak_active),
            Arc::clone(&server),
        );
        thread::spawn(move || {
            let mut peak = 0;
            while !over.load(Ordering::Acquire) {
                peak = peak.max(status_kib("VmRSS"));
                peak_active.fetch_max(server.active_transfers(), Ordering::AcqRel);
                thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };

    let crowd = Arc::new(Crowd {
        go: Barrier::new(CLIENTS),
        epoch: OnceLock::new(),
        done: AtomicUsize::new(0),
        dismissed: AtomicBool::new(false),
    });
    let t = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (crowd, data) = (Arc::clone(&crowd), Arc::clone(&data));
            thread::Builder::new()
                .name(format!("client {i}"))
                .stack_size(256 << 10)
                .spawn(move || client(addr, &data, &crowd))
                .unwrap()
        })
        .collect();
    let deadline = Instant::now() + CLIENT_DEADLINE + Duration::from_secs(10);
    while crowd.done.load(Ordering::Acquire) < CLIENTS && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    let seconds = t.elapsed().as_secs_f64();
    // Every session ends (its slot freed) soon after its last ACK; the
    // clients dally until then.
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.active_transfers() > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    crowd.dismissed.store(true, Ordering::Release);
    let results: Vec<_> = clients.into_iter().map(|h| h.join().unwrap()).collect();
    sampling_over.store(true, Ordering::Release);
    let sampled_peak = sampler.join().unwrap();
    let hwm = status_kib("VmHWM");
    let peak_kib = if hwm_reset {
        hwm.max(sampled_peak)
    } else {
        sampled_peak
    };
    let growth_kib = peak_kib.saturating_sub(baseline);

    let failed: Vec<_> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().err().map(|e| format!("client {i}: {e}")))
        .collect();
    let stats: Vec<ClientStats> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    let sum = |f: fn(&ClientStats) -> u64| stats.iter().map(f).sum::<u64>();
    let bytes = (CLIENTS * FILE_SIZE) as f64;
    eprintln!(
        "tftp load: {CLIENTS} clients x {} MiB (blksize {BLKSIZE}, windowsize {WINDOW}) in {seconds:.1} s, \
         {:.0} MiB/s in all; last OACK after {:.1} s, first transfer done after {:.1} s, peak sampled active_transfers {}; \
         RSS baseline {} MiB, peak {} MiB (VmHWM {} MiB), growth {:.1} MiB (bound {RSS_BOUND_MIB} MiB); \
         client RRQ resends {}, ACK resends {}, out-of-order DATA {}, stray sessions {}, final ACKs resent {}",
        FILE_SIZE as u64 / MIB,
        bytes / MIB as f64 / seconds,
        stats.iter().map(|s| s.began).max().unwrap_or_default().as_secs_f64(),
        stats.iter().map(|s| s.ended).min().unwrap_or_default().as_secs_f64(),
        peak_active.load(Ordering::Acquire),
        baseline / 1024,
        sampled_peak / 1024,
        hwm / 1024,
        growth_kib as f64 / 1024.0,
        sum(|s| s.rrq_resends.into()),
        sum(|s| s.ack_resends.into()),
        sum(|s| s.out_of_order),
        sum(|s| s.strays.into()),
        sum(|s| s.final_resends.into()),
    );
    assert!(
        failed.is_empty(),
        "{} of {CLIENTS} downloads failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert_eq!(server.active_transfers(), 0, "transfers still running");
    // The clients went at once and the server ran their transfers side by
    // side. (Not necessarily all 200 at one instant: session start-up is
    // serial behind the running transfers, so on 2 cores the last OACK can
    // come seconds after the first transfers end.)
    let peak = peak_active.load(Ordering::Acquire);
    assert!(
        peak >= CLIENTS * 3 / 4,
        "at most {peak} transfers ran at once"
    );

    // One Finished event per client, each for the whole file; no failure.
    // A resent RRQ must not start a second session (the server ignores a
    // request from a client whose transfer runs): no strays at all.
    let events = events.lock().unwrap().clone();
    let mut finished: Vec<SocketAddr> = events
        .iter()
        .filter_map(|e| match e {
            TftpEvent::Finished { client, bytes, .. } => {
                assert_eq!(*bytes, FILE_SIZE as u64, "{e}");
                Some(*client)
            }
            _ => None,
        })
        .collect();
    let others: Vec<String> = events
        .iter()
        .filter(|e| !matches!(e, TftpEvent::Started { .. } | TftpEvent::Finished { .. }))
        .map(ToString::to_string)
        .collect();
    let started = events
        .iter()
        .filter(|e| matches!(e, TftpEvent::Started { .. }))
        .count();
    let strays = sum(|s| s.strays.into()) as usize;
    assert_eq!(strays, 0, "a resent request started a second session");
    assert_eq!(
        finished.len(),
        CLIENTS,
        "Finished events; others: {others:#?}"
    );
    finished.sort();
    finished.dedup();
    assert_eq!(finished.len(), CLIENTS, "a client finished twice");
    assert_eq!(
        started,
        CLIENTS + strays,
        "Started events; others: {others:#?}"
    );
    assert!(
        events.iter().all(|e| match e {
            TftpEvent::Aborted { code: 5, .. } => true,
            e => matches!(e, TftpEvent::Started { .. } | TftpEvent::Finished { .. }),
        }) && others.len() == strays,
        "every session must end Finished (or Aborted by its client as a stray): {others:#?}"
    );

    assert!(
        growth_kib < RSS_BOUND_MIB * 1024,
        "resident memory grew by {:.1} MiB while sending {} MiB; bound {RSS_BOUND_MIB} MiB",
        growth_kib as f64 / 1024.0,
        CLIENTS as u64 * FILE_SIZE as u64 / MIB
    );
    drop(dir);
}
