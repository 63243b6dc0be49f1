#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `dart serve` under a flood of 100,000 forged TFTP requests: its log
//! stays under 1 MB and still accounts for every event.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const FORGED: usize = 100_000;

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Events the log accounts for: lines shown plus the counts in summaries.
fn accounted(log: &str) -> (usize, u64, usize) {
    let mut shown = 0;
    let mut held = 0;
    let mut summaries = 0;
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("… ") {
            summaries += 1;
            let n = rest.split(' ').next().unwrap().replace(',', "");
            held += n.parse::<u64>().unwrap();
        } else if line.starts_with("TFTP ") {
            shown += 1;
        }
    }
    (shown, held, summaries)
}

#[test]
fn a_flood_of_forged_requests_keeps_the_log_small() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir(&root).unwrap();
    let log_path = dir.path().join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dart"))
        .args(["serve", "--root"])
        .arg(&root)
        .args(["--tftp", "127.0.0.1:0"])
        .stdout(fs::File::create(&log_path).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let mut banner = String::new();
    BufReader::new(stderr).read_line(&mut banner).unwrap();
    let addr: SocketAddr = banner
        .split("TFTP on ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no TFTP address in {banner:?}"));

    // 64 forged sources; each keeps at most 2 requests unanswered, so that
    // at most 128 wait in the server's socket buffer (its default size holds
    // about 200 small datagrams): none is dropped by the kernel, and every
    // request is an event.
    let socks: Vec<UdpSocket> = (1..=64u8)
        .map(|i| {
            let s = UdpSocket::bind((Ipv4Addr::new(127, 0, 3, i), 0)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s
        })
        .collect();
    let packets: [&[u8]; 3] = [
        b"\x00\x02upload.bin\x00octet\x00",  // write request
        b"\x00\x01no-mode",                  // malformed
        b"\x00\x01missing.bin\x00octet\x00", // file not found
    ];
    let mut outstanding = vec![0usize; socks.len()];
    let mut buf = [0u8; 600];
    let t = Instant::now();
    for n in 0..FORGED {
        let i = n % socks.len();
        if outstanding[i] == 2 {
            socks[i]
                .recv_from(&mut buf)
                .expect("the server stopped answering");
            outstanding[i] -= 1;
        }
        socks[i].send_to(packets[n % 3], addr).unwrap();
        outstanding[i] += 1;
    }
    for (s, left) in socks.iter().zip(&outstanding) {
        for _ in 0..*left {
            s.recv_from(&mut buf).expect("the server stopped answering");
        }
    }
    let flood = t.elapsed();

    // Every event is shown or counted in a summary at the end of its 10 s
    // window.
    let deadline = Instant::now() + Duration::from_secs(40);
    let log = loop {
        let log = fs::read_to_string(&log_path).unwrap();
        let (shown, held, _) = accounted(&log);
        if shown as u64 + held >= FORGED as u64 || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(server);
    let (shown, held, summaries) = accounted(&log);
    eprintln!(
        "{FORGED} forged requests in {flood:.1?}: log {} bytes, {shown} event lines, {summaries} summaries for {held} more",
        log.len()
    );
    assert_eq!(shown as u64 + held, FORGED as u64, "{log}");
    assert!(log.len() < 1_000_000, "log of {} bytes", log.len());
    assert!(
        summaries > 0 && shown < 1000,
        "{shown} lines, {summaries} summaries"
    );
}
