//! Socket settings the servers share.

use std::os::fd::AsRawFd;

/// The receive buffer the servers ask for: about 4,000 small requests, so
/// that a burst (or a flood while the listener starts a transfer) waits
/// in the queue instead of being dropped, other clients' requests with it.
pub(crate) const RECEIVE_BUFFER: usize = 4 << 20;

/// Asks for a receive buffer of `bytes` on `socket`: beyond the system's
/// `net.core.rmem_max` when the process may (`SO_RCVBUFFORCE`, root),
/// else up to it. Best effort: the default buffer still works.
pub(crate) fn enlarge_receive_buffer(socket: &impl AsRawFd, bytes: usize) {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live
        // c_int on the stack; the descriptor belongs to `socket`.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&value as *const libc::c_int).cast(),
                libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>()).unwrap_or(4),
            )
        };
        if rc == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_grows_or_stays_usable() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        enlarge_receive_buffer(&socket, RECEIVE_BUFFER);
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `value`.
        let rc = unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            // The kernel doubles the value for its bookkeeping.
            assert!(value as usize >= RECEIVE_BUFFER, "{value}");
        }
        socket.send_to(b"x", socket.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(socket.recv_from(&mut buf).unwrap().0, 1);
    }
}
