//! The HTTP file server against real clients (curl) and raw sockets:
//! byte-identical files, HEAD, ranges, ETag revalidation, keep-alive, the
//! path rules, the hooks, and the limits that keep one client from
//! starving the others.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dart_core::net::files::{FileHooks, Provided};
use dart_core::net::http::{HttpConfig, HttpServer};
use dart_testkit::http::curl;

fn root_with_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("images/rescue/1/sources")).unwrap();
    let wim: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(dir.path().join("images/rescue/1/sources/boot.wim"), &wim).unwrap();
    std::fs::write(dir.path().join("secret.txt"), b"imaging only\n").unwrap();
    dir
}

fn start(root: &Path, hooks: FileHooks, tune: impl FnOnce(&mut HttpConfig)) -> HttpServer {
    let mut config = HttpConfig {
        root: root.to_path_buf(),
        bind: "127.0.0.1:0".parse().unwrap(),
        ..HttpConfig::default()
    };
    tune(&mut config);
    HttpServer::start(config, hooks, None).unwrap()
}

/// Sends `request` on a fresh connection and reads until the server
/// closes it (or `wait` passes).
fn raw(addr: SocketAddr, request: &[u8], wait: Duration) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn curl_gets_byte_identical_files_heads_ranges_and_revalidates() {
    let root = root_with_files();
    let server = start(root.path(), FileHooks::default(), |_| {});
    let base = format!("http://{}", server.local_addr());
    let wim = std::fs::read(root.path().join("images/rescue/1/sources/boot.wim")).unwrap();

    let (status, body) = curl(&[&format!("{base}/images/rescue/1/sources/boot.wim")]);
    assert_eq!(status, 200);
    assert!(
        body == wim,
        "GET returned other bytes ({} of {})",
        body.len(),
        wim.len()
    );
    // Windows-style separators and another case resolve like TFTP names.
    let (status, body) = curl(&[&format!("{base}/Images%5CRescue%5C1%5Csources%5CBOOT.WIM")]);
    assert_eq!(status, 200);
    assert!(body == wim);

    let (status, head) = curl(&["-I", &format!("{base}/images/rescue/1/sources/boot.wim")]);
    assert_eq!(status, 200);
    let head = String::from_utf8(head).unwrap();
    assert!(
        head.contains(&format!("Content-Length: {}", wim.len())),
        "{head}"
    );
    assert!(head.contains("Accept-Ranges: bytes"), "{head}");
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("ETag: "))
        .expect("an ETag")
        .trim()
        .to_string();

    let (status, part) = curl(&[
        "-r",
        "1000-1999",
        &format!("{base}/images/rescue/1/sources/boot.wim"),
    ]);
    assert_eq!(status, 206);
    assert!(part == wim[1000..2000]);
    let (status, tail) = curl(&[
        "-r",
        "-10",
        &format!("{base}/images/rescue/1/sources/boot.wim"),
    ]);
    assert_eq!(status, 206);
    assert!(tail == wim[wim.len() - 10..]);
    let (status, _) = curl(&[
        "-r",
        "9999999-",
        &format!("{base}/images/rescue/1/sources/boot.wim"),
    ]);
    assert_eq!(status, 416);

    let (status, body) = curl(&[
        "-H",
        &format!("If-None-Match: {etag}"),
        &format!("{base}/images/rescue/1/sources/boot.wim"),
    ]);
    assert_eq!((status, body.len()), (304, 0));
    let (status, _) = curl(&[
        "-H",
        "If-None-Match: \"other\"",
        &format!("{base}/images/rescue/1/sources/boot.wim"),
    ]);
    assert_eq!(status, 200);
    server.stop();
}

#[test]
fn one_connection_serves_several_requests() {
    let root = root_with_files();
    let server = start(root.path(), FileHooks::default(), |_| {});
    // Two pipelined requests, the second asking to close: both answered
    // on the one connection, then it closes.
    let out = raw(
        server.local_addr(),
        b"GET /secret.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(20),
    );
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
    assert!(out.contains("Connection: keep-alive"), "{out}");
    assert!(out.contains("Connection: close"), "{out}");
    assert_eq!(
        out.matches("imaging only").count(),
        1,
        "HEAD has no body: {out}"
    );

    // curl reuses the connection for a second URL.
    let out = Command::new("curl")
        .args(["-sv", "-o", "/dev/null", "-o", "/dev/null"])
        .arg(format!("http://{}/secret.txt", server.local_addr()))
        .arg(format!("http://{}/secret.txt", server.local_addr()))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("Re-using existing connection") || log.contains("Reusing existing"),
        "{log}"
    );
    server.stop();
}

#[test]
fn nothing_outside_the_root_and_no_link_is_ever_served() {
    let root = root_with_files();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("passwd"), b"root:x:0:0\n").unwrap();
    std::os::unix::fs::symlink(outside.path().join("passwd"), root.path().join("link")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("dir")).unwrap();
    let server = start(root.path(), FileHooks::default(), |_| {});
    let addr = server.local_addr();
    for target in [
        "/../etc/passwd",
        "/images/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/images%2f..%2f..%2fetc%2fpasswd",
        "/..%5c..%5cetc%5cpasswd",
        "/link",
        "/dir/passwd",
        "/c:/windows",
        "/images/rescue/1/sources",
    ] {
        let out = raw(
            addr,
            format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            Duration::from_secs(20),
        );
        let status = out.get(9..12).unwrap_or("");
        assert!(status == "403" || status == "404", "{target}: {out}");
        assert!(!out.contains("root:x"), "{target} leaked: {out}");
    }
    // Malformed heads get their status and a closed connection.
    for (request, status) in [
        (&b"POST /secret.txt HTTP/1.1\r\nHost: x\r\n\r\n"[..], "405"),
        (b"GET /secret.txt HTTP/2.0\r\nHost: x\r\n\r\n", "505"),
        (b"GET secret.txt HTTP/1.1\r\n\r\n", "400"),
        (b"GET /\x01 HTTP/1.1\r\n\r\n", "400"),
    ] {
        let out = raw(addr, request, Duration::from_secs(20));
        assert_eq!(out.get(9..12), Some(status), "{out}");
    }
    let huge = format!(
        "GET /secret.txt HTTP/1.1\r\nX: {}\r\n\r\n",
        "a".repeat(10_000)
    );
    let out = raw(addr, huge.as_bytes(), Duration::from_secs(20));
    assert_eq!(out.get(9..12), Some("431"), "{out}");
    server.stop();
}

#[test]
fn hooks_generate_rewrite_and_gate_per_client() {
    let root = root_with_files();
    let hooks = FileHooks {
        provide: Some(Arc::new(|_, name: &str| {
            (name.eq_ignore_ascii_case("/boot/bcd"))
                .then(|| Provided::Bytes(Arc::from(&b"generated store"[..])))
        })),
        rewrite: Some(Arc::new(|_, name: &str| {
            name.strip_prefix("/alias/")
                .map(|rest| format!("images/rescue/1/{rest}"))
        })),
        gate: Some(Arc::new(|client, path: &Path| {
            if path == Path::new("secret.txt") {
                Err(format!("{client} may not read the imaging image"))
            } else {
                Ok(())
            }
        })),
    };
    let server = start(root.path(), hooks, |_| {});
    let base = format!("http://{}", server.local_addr());
    let (status, body) = curl(&[&format!("{base}/Boot/BCD")]);
    assert_eq!((status, body.as_slice()), (200, &b"generated store"[..]));
    let (status, part) = curl(&["-r", "0-8", &format!("{base}/boot/bcd")]);
    assert_eq!((status, part.as_slice()), (206, &b"generated"[..]));
    let (status, body) = curl(&[&format!("{base}/alias/sources/boot.wim")]);
    assert_eq!(status, 200);
    assert_eq!(body.len(), 3_000_000);
    let (status, body) = curl(&[&format!("{base}/secret.txt")]);
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("may not read"));
    server.stop();
}

#[test]
fn one_client_cannot_take_every_connection_and_idle_ones_are_closed() {
    let root = root_with_files();
    let server = start(root.path(), FileHooks::default(), |c| {
        c.max_per_client = 3;
        c.head_timeout = Duration::from_millis(500);
        c.idle_timeout = Duration::from_secs(2);
    });
    let addr = server.local_addr();
    // Three connections that send half a head and stall (slowloris).
    let mut stalled: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /secret.txt HTTP/1.1\r\nHost:").unwrap();
            s
        })
        .collect();
    // Wait until the server holds all three, then the fourth is refused.
    let until = Instant::now() + Duration::from_secs(10);
    while server.open_connections() < 3 {
        assert!(
            Instant::now() < until,
            "the server never held 3 connections"
        );
        std::thread::yield_now();
    }
    let out = raw(
        addr,
        b"GET /secret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(20),
    );
    assert!(out.starts_with("HTTP/1.1 503"), "{out}");
    assert!(out.contains("Retry-After"), "{out}");
    // The head timeout closes the stalled ones: each read ends (EOF)
    // well within the test's deadline.
    for s in &mut stalled {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = Vec::new();
        let started = Instant::now();
        let _ = s.read_to_end(&mut buf);
        assert!(started.elapsed() < Duration::from_secs(15));
    }
    let until = Instant::now() + Duration::from_secs(10);
    while server.open_connections() > 0 {
        assert!(Instant::now() < until, "stalled connections stay open");
        std::thread::yield_now();
    }
    let (status, _) = curl(&[&format!("http://{addr}/secret.txt")]);
    assert_eq!(status, 200);
    // Stopping with a connection open returns.
    let _open = TcpStream::connect(addr).unwrap();
    server.stop();
}
