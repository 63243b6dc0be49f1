//! `dart stage`, `dart catalog`, `dart policy check`, `dart serve`: the
//! network boot server from the command line, and the demo's network boot.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use dart_core::arch::Architecture;
use dart_core::media::MediaSet;
use dart_core::net::catalog::Catalog;
use dart_core::net::log_limit::{LogLimit, LogLimiter};
use dart_core::net::policy::{Client, ClientArch};
use dart_core::net::settings::{EventRecord, ServeSettings};
use dart_core::net::tftp::{Packet, TftpEvent};
use dart_core::net::{stage, AccessPolicy, BootEvent, BootServer, ImageRole, StageOptions};
use dart_core::pxelab::{self, PxeLab};
use dart_core::qemu::Firmware;

use crate::disk_cmds::disk_progress;

/// `dart stage` arguments.
#[derive(Args)]
pub struct StageArgs {
    /// The media: a directory or an ISO.
    #[arg(long)]
    media: PathBuf,
    /// The boot server root.
    #[arg(long)]
    root: PathBuf,
    /// The image's name in the catalog (staging it again makes a new version).
    #[arg(long)]
    name: String,
    /// recovery (any client may boot it) or imaging (only clients a policy rule lists).
    #[arg(long, default_value = "recovery")]
    role: String,
    /// x86, x64 or arm64 (default: the one the media has a UEFI loader for).
    #[arg(long)]
    arch: Option<String>,
    /// The BIOS PXE loader's path in the media (default: boot/pxeboot.n12 if present).
    #[arg(long)]
    bios_loader: Option<String>,
    /// Versions to keep on disk, the new one included.
    #[arg(long, default_value_t = 2)]
    keep: usize,
    /// Print the catalog entry as JSON.
    #[arg(long)]
    json: bool,
}

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
    /// Print each event as a JSON line instead of a log line.
    #[arg(long)]
    json: bool,
}

/// `dart policy check` arguments.
#[derive(Args)]
pub struct PolicyCheckArgs {
    /// The policy file.
    file: PathBuf,
    /// A client's MAC address.
    #[arg(long)]
    mac: Option<String>,
    /// A client's IP address.
    #[arg(long)]
    ip: Option<Ipv4Addr>,
    /// A client's PXE architecture (bios, x64-uefi, ... or a code).
    #[arg(long)]
    arch: Option<String>,
    /// Check the image names against this server root's catalog (unknown
    /// names are an error), and say what it would offer the client.
    #[arg(long)]
    root: Option<PathBuf>,
}

/// `dart stage`.
pub fn run_stage(a: StageArgs) -> Result<()> {
    let media = MediaSet::open(&a.media)?;
    let options = StageOptions {
        name: a.name,
        role: a.role.parse::<ImageRole>()?,
        arch: a.arch.map(|s| s.parse::<Architecture>()).transpose()?,
        bios_loader: a.bios_loader,
        keep: a.keep,
    };
    let entry = stage(&media, &a.root, &options, &disk_progress())?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&entry)?);
    } else {
        outln!(
            "staged {} image {} version {} ({}, {} files, {} bytes) in {}",
            entry.role.name(),
            entry.name,
            entry.version,
            entry.arch,
            entry.files,
            entry.bytes,
            a.root.join(&entry.dir).display()
        );
        for (what, file) in [("UEFI", &entry.uefi_boot), ("BIOS", &entry.bios_boot)] {
            if let Some(file) = file {
                outln!("   {what} PXE boot file: {file}");
            }
        }
    }
    Ok(())
}

/// `dart catalog ROOT`.
pub fn run_catalog(root: &Path, json: bool) -> Result<()> {
    let catalog = Catalog::load(root)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&catalog)?);
        return Ok(());
    }
    if catalog.images.is_empty() {
        outln!("{}: no images staged", root.display());
    }
    for i in &catalog.images {
        outln!(
            "{:<20} {:<8} v{:<4} {:<6} {}",
            i.name,
            i.role.name(),
            i.version,
            i.arch.name(),
            i.uefi_boot
                .as_deref()
                .or(i.bios_boot.as_deref())
                .unwrap_or("")
        );
    }
    for i in &catalog.retired {
        outln!(
            "{:<20} {:<8} v{:<4} retired (kept for clients that started on it)",
            i.name,
            i.role.name(),
            i.version
        );
    }
    Ok(())
}

/// `dart policy check`.
pub fn run_policy_check(a: PolicyCheckArgs) -> Result<()> {
    let policy = AccessPolicy::load(&a.file)?;
    outln!(
        "{}: {} rule(s); clients no rule matches may boot {}",
        a.file.display(),
        policy.rules.len(),
        policy.default
    );
    let catalog = a.root.as_deref().map(Catalog::load).transpose()?;
    if let (Some(catalog), Some(root)) = (&catalog, &a.root) {
        let problems = catalog.policy_problems(&policy);
        if !problems.is_empty() {
            for p in &problems {
                errln!("dart: {}: {p}", a.file.display());
            }
            bail!(
                "{} does not fit the catalog of {} ({} problem(s) above)",
                a.file.display(),
                root.display(),
                problems.len()
            );
        }
        outln!("   every image it names is staged in {}", root.display());
    }
    let client = Client {
        mac: a.mac.map(|m| m.parse()).transpose()?,
        ip: a.ip,
        arch: a.arch.map(|s| s.parse::<ClientArch>()).transpose()?,
    };
    if client == Client::default() {
        return Ok(());
    }
    // What DHCP offers (facts it does not know do not match) and what TFTP
    // serves (facts it does not know might match a stricter rule).
    let offer = policy.decide(&client);
    let serve = policy.decide_cautiously(&client);
    outln!("{client}: rule {:?} allows {}", serve.rule, serve.allow);
    for limit in &serve.limits {
        outln!("   limited to {} because {}", limit.allow, limit.reason);
    }
    if let Some(catalog) = &catalog {
        match client.arch.and_then(|arch| catalog.boot_for(arch, &offer)) {
            Some((image, file)) => outln!(
                "   would be offered {} v{}: {file}",
                image.name,
                image.version
            ),
            None => outln!("   would be offered nothing"),
        }
        for i in &catalog.images {
            let verdict = if serve.permits(&i.name, i.role) {
                "may boot"
            } else {
                "refused"
            };
            outln!("   {verdict} {} ({})", i.name, i.role.name());
        }
    }
    Ok(())
}

/// `dart serve`: runs until the process is interrupted.
pub fn run_serve(a: ServeArgs) -> Result<()> {
    let settings = ServeSettings {
        policy_file: a.policy,
        tftp: a.tftp,
        proxy_dhcp: a.proxy_dhcp,
        server_ip: a.server_ip,
        max_transfers: a.max_transfers,
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
        "dart: serving {} image(s) from {} (TFTP on {}); Ctrl-C stops",
        catalog.images.len(),
        a.root.display(),
        server
            .tftp_addr()
            .map_or_else(|| "-".to_string(), |a| a.to_string())
    );
    // Images may be staged later, so names the catalog lacks are a warning
    // here (`dart policy check --root` makes them an error).
    for p in problems {
        errln!("dart: warning: the access policy does not fit the catalog: {p}");
    }
    // Until Ctrl-C or SIGTERM: a window's summary is printed when it ends,
    // even if no event follows.
    while !crate::print::cancel_token().is_cancelled() {
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

/// The demo's network boot: the recovery image and an imaging image staged
/// into a server root, dart's proxy-DHCP and TFTP in a private network next
/// to dnsmasq (addresses only), and two diskless QEMU + OVMF machines: an
/// ordinary one, which boots the recovery image and is refused the imaging
/// image, and the imaging bench, which boots the imaging image. Skipped,
/// with the reason, when not root or a tool is missing.
pub fn demo_network(dir: &Path, recovery_media: &Path, imaging_media: &Path) -> Result<bool> {
    if let Some(why) = pxelab::unavailable() {
        outln!("   network boot skipped: {why}");
        return Ok(false);
    }
    let root = dir.join("boot-server");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    let control = disk_progress();
    // A BIOS PXE stand-in loader (PXELINUX printing the marker), when installed.
    let bios_loader = dart_core::fixture::add_pxelinux(recovery_media)?;
    let rescue = stage(
        &MediaSet::open(recovery_media)?,
        &root,
        &StageOptions {
            bios_loader: bios_loader.clone(),
            ..StageOptions::recovery("dart-recovery")
        },
        &control,
    )?;
    let imaging = StageOptions {
        role: ImageRole::Imaging,
        ..StageOptions::recovery("os-imaging")
    };
    let deploy = stage(&MediaSet::open(imaging_media)?, &root, &imaging, &control)?;
    run_catalog(&root, false)?;
    const ORDINARY: &str = "52:54:00:d4:00:01";
    const BENCH: &str = "52:54:00:d4:00:0a";
    const BIOS_CLIENT: &str = "52:54:00:d4:00:0b";
    let policy = AccessPolicy::from_json(&format!(
        r#"{{"rules": [{{"name": "imaging bench", "mac": "{BENCH}", "allow": "all", "boot": "os-imaging"}}]}}"#
    ))?;
    outln!("   policy: every client may boot recovery images; only {BENCH} may boot os-imaging");

    let lab = PxeLab::create()?;
    let events: Arc<Mutex<Vec<BootEvent>>> = Arc::default();
    let sink = Arc::clone(&events);
    let config = lab.server_config(&root, policy);
    let server = lab.run_in(move || {
        BootServer::start(
            config,
            Some(Box::new(move |e: BootEvent| {
                if matches!(
                    e,
                    BootEvent::Offered { .. }
                        | BootEvent::Denied { .. }
                        | BootEvent::Tftp(TftpEvent::Finished { .. })
                ) {
                    outln!("   server: {e}");
                }
                if let Ok(mut list) = sink.lock() {
                    list.push(e);
                }
            })),
        )
    })??;
    outln!(
        "   private network {}: dnsmasq gives addresses, dart answers PXE at {}",
        lab.lan(),
        pxelab::SERVER_IP
    );
    let mut clients = vec![
        (ORDINARY, "an ordinary client", Firmware::Uefi),
        (BENCH, "the imaging bench", Firmware::Uefi),
    ];
    if bios_loader.is_some() {
        clients.push((BIOS_CLIENT, "a BIOS client", Firmware::Bios));
    } else {
        outln!("   BIOS PXE boot skipped: PXELINUX is not installed (apt: pxelinux)");
    }
    for (mac, who, firmware) in clients {
        let check = lab.boot(mac, firmware, Duration::from_secs(180))?;
        if !check.marker_seen {
            bail!(
                "{who} ({mac}) did not boot from the network:\n{}",
                check.console_tail
            );
        }
        outln!(
            "   QEMU + {} PXE ({who}, {mac}) booted: {} after {:.1}s",
            match firmware {
                Firmware::Uefi => "OVMF",
                Firmware::Bios => "SeaBIOS + iPXE",
            },
            dart_core::fixture::BOOT_MARKER,
            check.seconds
        );
    }
    // The ordinary client, from the address it got, asks for the imaging
    // image by name: TFTP refuses it.
    let ordinary_ip = events.lock().ok().and_then(|list| {
        list.iter().find_map(|e| match e {
            BootEvent::Tftp(TftpEvent::Finished { client, file, .. })
                if Some(file.as_str()) == rescue.uefi_boot.as_deref() =>
            {
                Some(client.ip())
            }
            _ => None,
        })
    });
    if let (Some(IpAddr::V4(ip)), Some(file)) = (ordinary_ip, deploy.uefi_boot.as_deref()) {
        match lab.ask_tftp_from(ip, file)? {
            Packet::Error { message, .. } => {
                outln!("   the ordinary client at {ip} asking TFTP for {file}: refused: {message}")
            }
            other => {
                bail!("the ordinary client at {ip} was served the imaging image {file}: {other:?}")
            }
        }
    }
    server.stop();
    Ok(true)
}
