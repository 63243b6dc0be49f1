//! nginx (Debian's `nginx`) as the independent web server: it serves a
//! directory as any site would, for the export tests and the HTTP
//! benchmark's baseline.
//!
//! Each instance runs in the foreground as one process (no master, so
//! killing it stops everything) with its own
//! configuration, logs and temporary directories in a directory of its
//! own, and stops when dropped. Nothing of the system's nginx set-up is
//! read or changed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Where an [`Nginx`] listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A Unix socket in the instance's directory (no port to race for):
    /// reach it with `curl --unix-socket`.
    UnixSocket,
    /// A TCP address such as `127.0.0.1:8080`.
    Tcp(String),
}

/// A running nginx serving one directory; stopped when dropped.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
    socket: Option<PathBuf>,
}

impl Nginx {
    /// Starts nginx serving `root` read-only (GET, HEAD, byte ranges, as
    /// configured out of the box: `sendfile on`, keep-alive) on `listen`,
    /// one worker process, and waits (up to 10 s) until it accepts
    /// connections.
    pub fn start(root: &Path, listen: Listen) -> Result<Nginx> {
        Nginx::start_in(None, root, listen)
    }

    /// Starts nginx as [`start`](Self::start) does, inside the network
    /// namespace `netns` (a name under `/run/netns`) when given.
    pub fn start_in(netns: Option<&str>, root: &Path, listen: Listen) -> Result<Nginx> {
        let dir = tempfile::tempdir().map_err(|e| Error::write(&std::env::temp_dir(), e))?;
        let socket = dir.path().join("nginx.sock");
        let listen_at = match &listen {
            Listen::UnixSocket => format!("unix:{}", socket.display()),
            Listen::Tcp(addr) => addr.clone(),
        };
        let d = dir.path().display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 10000;\n\
               client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  default_type application/octet-stream;\n\
               server {{\n    listen {listen_at};\n    root {};\n    location / {{ autoindex off; }}\n  }}\n}}\n",
            root.display()
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).map_err(|e| Error::write(&conf_path, e))?;
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "nginx"]);
                c
            }
            None => Command::new("nginx"),
        };
        let child = command
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::Io {
                action: "starting",
                path: PathBuf::from("nginx (apt: nginx)"),
                source: e,
                untouched: "nothing was started",
            })?;
        let mut nginx = Nginx {
            child,
            dir,
            socket: matches!(listen, Listen::UnixSocket).then_some(socket),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        // nginx opens its listening sockets before it writes its pid file.
        let pid_file = nginx.dir.path().join("nginx.pid");
        while !pid_file.exists() {
            let exited = nginx.child.try_wait().ok().flatten().is_some();
            if exited || Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default();
                return Err(Error::Io {
                    action: "waiting for nginx to listen on",
                    path: PathBuf::from(listen_at),
                    source: std::io::Error::other(format!("it did not start: {log}")),
                    untouched: "nothing was started",
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(nginx)
    }

    /// The Unix socket, for [`Listen::UnixSocket`].
    pub fn socket(&self) -> Option<&Path> {
        self.socket.as_deref()
    }

    /// The process id of nginx: its only process (`master_process off`),
    /// which serves every connection.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
