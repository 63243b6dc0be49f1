//! `dart media check|usb|iso`: check a media tree, and the removable-media
//! method (USB sticks and disk images, ISO images for CD/DVD).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use dart_core::deploy::{
    check_medium, plan_iso_to, write_iso_from, write_iso_onto, write_usb_to, UsbOptions,
};
use dart_core::formats::iso::IsoOptions;
use dart_core::formats::partition::{human, Scheme};
use dart_core::model::arch::Architecture;
use dart_core::model::media::{Firmware, MediaSet};

use super::medium::{show_menu, MediumArgs, MenuArgs};
use crate::progress;
use crate::size::parse_size;

/// `dart media ...`.
#[derive(Subcommand)]
pub enum MediaCommand {
    /// Check that a media tree can boot.
    Check {
        /// The media: a directory or an ISO image.
        dir: PathBuf,
        /// Architecture: x86, x64, arm64.
        #[arg(long, default_value = "x64")]
        arch: String,
        /// Firmware: bios, uefi, both.
        #[arg(long, default_value = "both")]
        firmware: String,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a bootable USB stick or USB disk image.
    Usb(UsbArgs),
    /// Write a bootable ISO image for CD/DVD (optionally hybrid for USB).
    Iso(IsoArgs),
}

/// `dart media usb` arguments.
#[derive(Args)]
pub struct UsbArgs {
    #[command(flatten)]
    medium: MediumArgs,
    #[command(flatten)]
    menu: MenuArgs,
    /// Partition scheme: mbr (BIOS and UEFI) or gpt (UEFI).
    #[arg(long, default_value = "mbr")]
    scheme: String,
    /// A block device to write (all its data is replaced).
    #[arg(long, conflicts_with = "output")]
    device: Option<PathBuf>,
    /// An image file to create.
    #[arg(short, long, requires = "size")]
    output: Option<PathBuf>,
    /// Size of the image file: bytes or with K, M, G suffix (e.g. 512M).
    #[arg(long, value_parser = parse_size)]
    size: Option<u64>,
    /// FAT volume label.
    #[arg(long, default_value = "DART")]
    label: String,
    /// Deterministic output: all timestamps and identifiers from this Unix time.
    #[arg(long)]
    timestamp: Option<u64>,
}

/// `dart media iso` arguments.
#[derive(Args)]
pub struct IsoArgs {
    #[command(flatten)]
    medium: MediumArgs,
    #[command(flatten)]
    menu: MenuArgs,
    /// The ISO file to write (replaced only when the new image is complete).
    #[arg(
        short,
        long,
        required_unless_present = "device",
        conflicts_with = "device"
    )]
    output: Option<PathBuf>,
    /// Write the image straight onto this device (repeat for several; use with --hybrid for USB sticks).
    #[arg(long)]
    device: Vec<PathBuf>,
    /// Also boot when written raw to a USB stick (MBR + GPT pointing at the EFI image).
    #[arg(long)]
    hybrid: bool,
    /// Volume label (at most 32 characters).
    #[arg(long, default_value = "DART")]
    label: String,
    /// The BIOS loader in the media (default: boot/etfsboot.com or isolinux.bin).
    #[arg(long)]
    bios_loader: Option<String>,
    /// Patch a boot-info-table into the BIOS loader (default: only for isolinux.bin).
    #[arg(long)]
    boot_info_table: Option<bool>,
    /// Deterministic output: all timestamps and identifiers from this Unix time.
    #[arg(long)]
    timestamp: Option<u64>,
    /// Print the layout and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the layout as JSON.
    #[arg(long)]
    json: bool,
}

/// `dart media ...`.
pub fn run(cmd: MediaCommand) -> Result<()> {
    match cmd {
        MediaCommand::Check {
            dir,
            arch,
            firmware,
            json,
        } => check(&dir, &arch, &firmware, json),
        MediaCommand::Usb(args) => usb(args),
        MediaCommand::Iso(args) => iso(args),
    }
}

/// `dart media check`.
fn check(dir: &Path, arch: &str, firmware: &str, json: bool) -> Result<()> {
    let report = check_medium(
        dir,
        arch.parse::<Architecture>()?,
        firmware.parse::<Firmware>()?,
    )?;
    if json {
        out_json!(&report)?;
    } else {
        let media = MediaSet::open(dir)?;
        outln!(
            "{}: {} files, {} bytes",
            dir.display(),
            media.files().len(),
            media.total_bytes()
        );
        for s in &report.stores {
            outln!("{} ({} menu):", s.path, s.firmware);
            for (d, wim) in &s.entries {
                let mark = if s.default.as_deref() == Some(d.as_str()) {
                    " [default]"
                } else {
                    ""
                };
                outln!("  {d}{mark} -> {wim}");
            }
        }
        for b in &report.boot_managers {
            match (&b.unreadable, b.signatures.as_slice()) {
                (Some(why), _) => outln!("{}: signatures unreadable: {why}", b.path),
                (None, []) => outln!("{}: unsigned", b.path),
                (None, sigs) => {
                    for sig in sigs {
                        let by = sig
                            .ca
                            .as_ref()
                            .map_or_else(|| "an unknown CA".to_string(), |c| c.label());
                        let nested = if sig.nested {
                            " (nested signature)"
                        } else {
                            ""
                        };
                        outln!("{}: signed by the {by}{nested}", b.path);
                    }
                }
            }
        }
        for w in &report.warnings {
            outln!("warning: {w}");
        }
        for p in &report.problems {
            errln!("problem: {p}");
        }
    }
    if !report.ok() {
        bail!(
            "{} cannot boot as checked: {} problem(s)",
            dir.display(),
            report.problems.len()
        );
    }
    if !json {
        outln!("{}: boots {arch} on {firmware}", dir.display());
    }
    Ok(())
}

/// `dart media usb`.
fn usb(a: UsbArgs) -> Result<()> {
    let opts = UsbOptions {
        scheme: a.scheme.parse::<Scheme>()?,
        label: a.label,
        timestamp: a.timestamp,
    };
    let (target, create_len) = match (&a.device, &a.output) {
        (Some(d), None) => (d.clone(), None),
        (None, Some(o)) => (o.clone(), a.size),
        _ => bail!("give either --device DEV or -o FILE --size SIZE"),
    };
    let spec = a.medium.spec(Some(&a.menu));
    show_menu(&spec)?;
    let report = write_usb_to(
        &target,
        create_len,
        &spec,
        &opts,
        &progress::percent_lines(),
    )?;
    outln!("{}", report.layout);
    outln!(
        "FAT32 volume: {} files, {} of data, {}-byte clusters",
        report.fat.files,
        human(report.fat.bytes_written),
        report.fat.cluster_size
    );
    outln!("wrote {}", target.display());
    Ok(())
}

/// `dart media iso`.
fn iso(a: IsoArgs) -> Result<()> {
    let opts = IsoOptions {
        label: a.label,
        hybrid: a.hybrid,
        boot_info_table: a.boot_info_table,
        bios_loader: a.bios_loader,
        timestamp: a.timestamp,
    };
    let spec = a.medium.spec(Some(&a.menu));
    if !a.json {
        show_menu(&spec)?;
    }
    let plan = match (&a.output, a.dry_run) {
        (output, true) => plan_iso_to(&spec, output.as_deref(), &a.device, &opts)?,
        (Some(out), false) => write_iso_from(&spec, out, &opts, &progress::percent_lines())?.plan,
        (None, false) => write_iso_onto(&spec, &a.device, &opts, &progress::percent_lines())?.plan,
    };
    if a.json {
        out_json!(&plan)?;
    } else {
        out!("{plan}");
    }
    if a.dry_run {
        outln!("dry run: nothing was written");
    } else {
        match &a.output {
            Some(out) => outln!("wrote {}", out.display()),
            None => {
                for d in &a.device {
                    outln!("wrote {}", d.display());
                }
            }
        }
    }
    Ok(())
}
