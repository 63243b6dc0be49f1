//! `dart media usb|iso` and `dart partition ...`: the removable-media and
//! recovery-partition methods from the command line.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use dart_core::deploy::{
    add_recovery_at, plan_add_recovery_at, update_recovery_at, write_usb_to, UsbOptions,
};
use dart_core::fat::FatOptions;
use dart_core::iso::{plan_iso_to, write_iso, write_iso_onto, IsoOptions};
use dart_core::media::MediaSet;
use dart_core::partition::{human, read_disk_at, RecoveryOptions, Scheme};
use dart_core::progress::{Control, Phase};

/// `dart media usb` arguments.
#[derive(Args)]
pub struct UsbArgs {
    /// The media: a directory or an ISO image.
    #[arg(long)]
    media: PathBuf,
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
    /// The media: a directory or an ISO image.
    #[arg(long)]
    media: PathBuf,
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

/// `dart media iso`.
pub fn media_iso(a: IsoArgs) -> Result<()> {
    let opts = IsoOptions {
        label: a.label,
        hybrid: a.hybrid,
        boot_info_table: a.boot_info_table,
        bios_loader: a.bios_loader,
        timestamp: a.timestamp,
    };
    let plan = match (&a.output, a.dry_run) {
        (output, true) => plan_iso_to(&a.media, output.as_deref(), &a.device, &opts)?,
        (Some(out), false) => {
            write_iso(&MediaSet::open(&a.media)?, out, &opts, &disk_progress())?.plan
        }
        (None, false) => write_iso_onto(&a.media, &a.device, &opts, &disk_progress())?.plan,
    };
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&plan)?);
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

/// `dart partition ...`.
#[derive(Subcommand)]
pub enum PartitionCommand {
    /// Show a disk's partition table.
    Show {
        /// Disk or disk image.
        disk: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a recovery partition holding the media in free space.
    AddRecovery {
        /// Disk or disk image.
        #[arg(long)]
        disk: PathBuf,
        /// The media: a directory or an ISO image.
        #[arg(long)]
        media: PathBuf,
        /// Partition size (default: media plus headroom), e.g. 600M.
        #[arg(long, value_parser = parse_size)]
        size: Option<u64>,
        /// Free space to keep inside the partition, e.g. 50M.
        #[arg(long, value_parser = parse_size)]
        headroom: Option<u64>,
        /// Print the plan and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace the media on the recovery partition in place.
    UpdateRecovery {
        /// Disk or disk image.
        #[arg(long)]
        disk: PathBuf,
        /// The media: a directory or an ISO image.
        #[arg(long)]
        media: PathBuf,
    },
}

/// Parses "1048576", "512K", "64M", "1G", "2GiB", "1.5G".
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => {
            return Err(format!(
                "size {s:?}: unknown unit {unit:?} (use K, M, G or T)"
            ))
        }
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("size {s:?} is not a number"))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("size {s:?} must be positive"));
    }
    Ok((n * mult as f64) as u64)
}

/// A progress line on stderr, at most every 5% of the work.
pub fn disk_progress() -> Control {
    let last = Arc::new(AtomicU64::new(u64::MAX));
    crate::print::control(Arc::new(
        move |phase: Phase, _item: &str, done: u64, total: u64| {
            if total == 0 {
                return;
            }
            let pct = done * 100 / total;
            let prev = last.load(Ordering::Relaxed);
            if prev == u64::MAX || pct >= prev + 5 || (done == total && prev != 100) {
                last.store(pct, Ordering::Relaxed);
                errln!(
                    "  {} {pct:>3}% ({} of {})",
                    phase.name(),
                    human(done),
                    human(total)
                );
            }
        },
    ))
}

/// `dart media usb`.
pub fn media_usb(a: UsbArgs) -> Result<()> {
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
    let report = write_usb_to(&target, create_len, &a.media, &opts, &disk_progress())?;
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

/// `dart partition ...`.
pub fn partition(cmd: PartitionCommand) -> Result<()> {
    match cmd {
        PartitionCommand::Show { disk, json } => show(&disk, json),
        PartitionCommand::AddRecovery {
            disk,
            media,
            size,
            headroom,
            dry_run,
            json,
        } => {
            let opts = RecoveryOptions { size, headroom };
            if dry_run {
                let plan = plan_add_recovery_at(&disk, &media, &opts)?;
                if json {
                    outln!("{}", serde_json::to_string_pretty(&plan)?);
                } else {
                    out!("{plan}");
                }
                outln!("dry run: nothing was written");
                return Ok(());
            }
            let report = add_recovery_at(
                &disk,
                &media,
                &opts,
                &FatOptions::default(),
                &disk_progress(),
            )?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                out!("{}", report.plan);
                outln!(
                    "added partition {} ({}) holding {} files",
                    report.plan.partition.number,
                    human(report.plan.partition.size),
                    report.fat.files
                );
            }
            Ok(())
        }
        PartitionCommand::UpdateRecovery { disk, media } => {
            let r = update_recovery_at(&disk, &media, &FatOptions::default(), &disk_progress())?;
            outln!("{}", serde_json::to_string_pretty(&r)?);
            Ok(())
        }
    }
}

fn show(disk: &Path, json: bool) -> Result<()> {
    let state = read_disk_at(disk)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&state)?);
        return Ok(());
    }
    outln!("{}: {}", disk.display(), state.layout);
    for w in state.warnings() {
        outln!("warning: {w}");
    }
    Ok(())
}
