//! A TCP link with latency for the HTTP benchmark: a relay on 127.0.0.1
//! that accepts connections, connects each to the server, and passes the
//! bytes of each direction on `one_way` after they arrived, in order.
//!
//! The relay ends the TCP connections on both sides (loopback TCP with its
//! large windows), so what it emulates is a path with that latency, no
//! loss and no bandwidth limit beyond [`IN_FLIGHT`] bytes per direction
//! (a 4 MiB window, as Linux reaches by autotuning; at 1 ms RTT that caps
//! nothing below 4 GiB/s). Request and response round trips (TCP's
//! handshake included, as the relay accepts at once and connects to the
//! server at once, but the first bytes wait) pay the RTT; a bulk body pays
//! it once, as over a real LAN once the window has opened.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Bytes one direction may hold in the relay before it stops reading.
pub const IN_FLIGHT: usize = 4 << 20;
/// Bytes read at once.
const CHUNK: usize = 64 << 10;

/// A running relay; stops accepting when dropped (connections end with
/// their peers).
pub struct TcpRelay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl TcpRelay {
    /// Starts a relay to `server` with `one_way` latency each way.
    pub fn start(server: SocketAddr, one_way: Duration) -> TcpRelay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let acceptor = thread::spawn(move || {
            for client in listener.incoming() {
                if stopping.load(Ordering::Acquire) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(upstream) = TcpStream::connect(server) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                pump(
                    client.try_clone().unwrap(),
                    upstream.try_clone().unwrap(),
                    one_way,
                );
                pump(upstream, client, one_way);
            }
        });
        TcpRelay {
            addr,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

/// Passes what `from` sends to `to`, each chunk `one_way` after it arrived:
/// a reader thread stamps chunks, a writer thread delivers them.
fn pump(mut from: TcpStream, mut to: TcpStream, one_way: Duration) {
    let (tx, rx) = mpsc::sync_channel::<(Instant, Vec<u8>)>(IN_FLIGHT / CHUNK);
    thread::spawn(move || {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + one_way, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    thread::spawn(move || {
        for (at, bytes) in rx {
            let now = Instant::now();
            if at > now {
                thread::sleep(at - now);
            }
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// Median round trip of an 8-byte message through a relay with `one_way`
/// (or straight, with `None`) to a TCP echo server, over one connection.
pub fn tcp_round_trip(one_way: Option<Duration>) -> Duration {
    let echo = TcpListener::bind("127.0.0.1:0").unwrap();
    let echo_addr = echo.local_addr().unwrap();
    let echoer = thread::spawn(move || {
        if let Ok((mut s, _)) = echo.accept() {
            let _ = s.set_nodelay(true);
            let mut buf = [0u8; 8];
            while s.read_exact(&mut buf).is_ok() {
                if s.write_all(&buf).is_err() {
                    break;
                }
            }
        }
    });
    let relay = one_way.map(|d| TcpRelay::start(echo_addr, d));
    let target = relay.as_ref().map_or(echo_addr, TcpRelay::addr);
    let mut s = TcpStream::connect(target).unwrap();
    s.set_nodelay(true).unwrap();
    let mut times = Vec::new();
    let mut buf = [0u8; 8];
    for i in 0..200u64 {
        let t = Instant::now();
        s.write_all(&i.to_be_bytes()).unwrap();
        s.read_exact(&mut buf).unwrap();
        times.push(t.elapsed().as_secs_f64());
    }
    drop(s);
    drop(relay);
    let _ = echoer.join();
    Duration::from_secs_f64(crate::median(times))
}
