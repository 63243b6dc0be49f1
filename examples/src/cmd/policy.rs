//! `dart policy check`: check a boot server access policy, and show what it
//! decides for a client.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use dart_core::net::catalog::Catalog;
use dart_core::net::menu::{self, MenuFirmware};
use dart_core::net::policy::{Client, ClientArch};
use dart_core::net::tftp::TftpConfig;
use dart_core::net::AccessPolicy;

/// `dart policy ...`.
#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file, and show what it decides for a client.
    Check(PolicyCheckArgs),
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
    /// Show the boot menu the server would send the client (needs --root
    /// and --arch): the images listed, the default, the timeout.
    #[arg(long, requires_all = ["root", "arch"])]
    menu: bool,
    /// Write that menu's boot store to FILE (read it with `dart bcd show`).
    #[arg(long, value_name = "FILE", requires = "menu")]
    menu_store: Option<PathBuf>,
}

/// `dart policy ...`.
pub fn run(cmd: PolicyCommand) -> Result<()> {
    match cmd {
        PolicyCommand::Check(args) => check(args),
    }
}

/// `dart policy check`.
fn check(a: PolicyCheckArgs) -> Result<()> {
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
    if let (true, Some(root), Some(arch)) = (a.menu, &a.root, client.arch) {
        let Some(firmware) = MenuFirmware::of(arch) else {
            bail!("no boot menu exists for {arch} clients: dart serves BIOS and x86, x64 and arm64 UEFI clients");
        };
        let blksize = TftpConfig::default().max_blksize;
        let (spec, store) = menu::preview(root, &policy, &client, firmware, blksize)?;
        let Some(store) = store else {
            outln!("   boot menu ({firmware}): none; the store is refused to this client");
            return Ok(());
        };
        outln!(
            "   boot menu ({firmware}, {} s, TFTP blocks of {} bytes, windows of {}):",
            spec.timeout,
            spec.tftp.block_size,
            spec.tftp.window_size
        );
        for item in &spec.items {
            let default = if Some(item.id) == spec.default {
                " (default)"
            } else {
                ""
            };
            outln!(
                "     {{{}}} {} v{}: {}{default}",
                item.id,
                item.description,
                item.version,
                item.wim
            );
        }
        if let Some(path) = &a.menu_store {
            store.save(path)?;
            outln!("   wrote the boot store to {}", path.display());
        }
    }
    Ok(())
}
