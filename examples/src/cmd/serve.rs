//! `dart serve`: run the network boot server (TFTP, proxy-DHCP, HTTP) until
//! interrupted, logging each event as a line of text or JSON.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use dart_core::net::catalog::Catalog;
use dart_core::net::log_limit::{LogLimit, LogLimiter};
use dart_core::net::settings::{EventRecord, ServeSettings};
use dart_core::net::{BootEvent, BootServer};

use crate::signals;

/// `dart serve` arguments.
#[derive(Args)]
pub struct ServeArgs {
    /// The boot server root (staged images and the catalog).
    #[arg(long)]
    root: PathBuf,
    /// The access policy (JSON); default: every client may boot recovery images only.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Where TFTP listens.
    #[arg(long, default_value = "0.0.0.0:69")]
    tftp: SocketAddr,
    /// Answer PXE clients with proxy-DHCP on this interface (ports 67 and 4011).
    #[arg(long, value_name = "IFACE")]
    proxy_dhcp: Option<String>,
    /// This server's address for PXE clients (default: the interface's IPv4 address).
    #[arg(long)]
    server_ip: Option<Ipv4Addr>,
    /// Most TFTP transfers at once.
    #[arg(long)]
    max_transfers: Option<usize>,
    /// Also serve the catalog over HTTP on this address (e.g. 0.0.0.0:80), under the same policy.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Point UEFI HTTP Boot and iPXE clients at a `dart export` of the root served at this URL
    /// (any web server, e.g. http://boot.example.org/dart) instead of at this server.
    #[arg(long, value_name = "URL")]
    boot_url: Option<String>,
    /// Print each event as a JSON line instead of a log line.
    #[arg(long)]
    json: bool,
}

/// `dart serve`: runs until the process is interrupted.
pub fn run(a: ServeArgs) -> Result<()> {
    let settings = ServeSettings {
        policy_file: a.policy,
        tftp: a.tftp,
        proxy_dhcp: a.proxy_dhcp,
        server_ip: a.server_ip,
        max_transfers: a.max_transfers,
        http: a.http,
        boot_url: a.boot_url,
        ..ServeSettings::new(&a.root)
    };
    let json = a.json;
    // Every event may come from a forged packet: repeated ones are
    // summarised so that a flood cannot fill the disk with the log.
    let limiter = Arc::new(Mutex::new(LogLimiter::new(LogLimit::default())));
    let sink = Arc::clone(&limiter);
    let config = settings.into_config()?;
    let problems = Catalog::load(&config.root)?.policy_problems(&config.policy);
    let server = BootServer::start(
        config,
        Some(Box::new(move |event: BootEvent| {
            let record = EventRecord::from(&event);
            let now = Instant::now();
            let (summaries, show) = match sink.lock() {
                Ok(mut limiter) => (limiter.flush(now), limiter.admit(&record.repeat_key(), now)),
                // A thread panicked while printing: print without limit
                // rather than not at all.
                Err(_) => (Vec::new(), true),
            };
            print_summaries(&summaries, json);
            if !show {
                return;
            }
            if json {
                if let Ok(line) = serde_json::to_string(&record) {
                    outln!("{line}");
                }
            } else {
                outln!("{event}");
            }
        })),
    )?;
    let catalog = server.catalog();
    errln!(
        "dart: serving {} image(s) from {} (TFTP on {}{}); Ctrl-C stops",
        catalog.images.len(),
        a.root.display(),
        server
            .tftp_addr()
            .map_or_else(|| "-".to_string(), |a| a.to_string()),
        server
            .http_addr()
            .map_or_else(String::new, |a| format!(", HTTP on {a}"))
    );
    // Images may be staged later, so names the catalog lacks are a warning
    // here (`dart policy check --root` makes them an error).
    for p in problems {
        errln!("dart: warning: the access policy does not fit the catalog: {p}");
    }
    // Until Ctrl-C or SIGTERM: a window's summary is printed when it ends,
    // even if no event follows.
    while !signals::cancel_token().is_cancelled() {
        std::thread::sleep(Duration::from_millis(250));
        let summaries = match limiter.lock() {
            Ok(mut limiter) => limiter.flush(Instant::now()),
            Err(_) => Vec::new(),
        };
        print_summaries(&summaries, json);
    }
    server.stop();
    errln!("dart: the boot server stopped");
    Ok(())
}

/// Prints the log limiter's summary lines.
fn print_summaries(lines: &[String], json: bool) {
    for line in lines {
        if json {
            let record = serde_json::json!({ "kind": "summary", "message": line });
            outln!("{record}");
        } else {
            outln!("{line}");
        }
    }
}
