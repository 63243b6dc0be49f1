#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `dart serve` can be started again on the same ports at once: after a
//! SIGTERM (it stops cleanly, exit 0) and after a crash (SIGKILL).

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Ports of the host's loopback, outside the ephemeral range.
const TFTP: &str = "127.0.0.1:6979";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `dart serve` and waits for its banner (a bind failure ends it
/// with an error instead).
fn start(root: &Path, proxy_dhcp: bool) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dart"));
    cmd.args(["serve", "--root"])
        .arg(root)
        .args(["--tftp", TFTP]);
    if proxy_dhcp {
        cmd.args(["--proxy-dhcp", "lo", "--server-ip", "127.0.0.1"]);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    assert!(
        banner.contains("serving"),
        "dart serve did not start: {banner}"
    );
    Server(child)
}

/// A TFTP request for a file that does not exist: the server answers
/// ERROR 1 when it is up.
fn answers() -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
        .send_to(b"\x00\x01nothing.bin\x00octet\x00", TFTP)
        .unwrap();
    let mut buf = [0u8; 600];
    matches!(socket.recv_from(&mut buf), Ok((n, _)) if n >= 4 && buf[..4] == [0, 5, 0, 1])
}

#[test]
fn serve_restarts_on_the_same_ports_at_once() {
    // SAFETY: geteuid has no preconditions.
    let root_user = unsafe { libc::geteuid() } == 0;
    if !root_user && std::env::var("DART_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("SKIPPED serve_restarts_on_the_same_ports_at_once: ports 67 and 4011 need root");
        return;
    }
    assert!(
        root_user,
        "this test binds ports 67 and 4011: run it as root, or set DART_SKIP_ROOT_TESTS=1"
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();

    let mut server = start(&root, true);
    assert!(answers());
    // SIGTERM: a clean stop.
    let pid = server.0.id() as i32;
    // SAFETY: kill(2) on a child this test spawned and has not reaped.
    let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(sent, 0);
    let status = server.0.wait().unwrap();
    assert!(
        status.success(),
        "dart serve ended with {status} on SIGTERM"
    );
    drop(server);

    let server = start(&root, true);
    assert!(answers(), "no answer after a restart");
    // A crash, then at once again.
    drop(server);
    let _server = start(&root, true);
    assert!(answers(), "no answer after a restart following a crash");
}
