//! `dart partition show|add-recovery|update-recovery|register-recovery|
//! unregister-recovery|boot-next`: partition tables, the recovery-partition
//! method, and what makes the partition bootable on a managed PC (an entry
//! in the installed boot manager's store, a UEFI boot entry, BootNext).

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Subcommand};
use dart_core::deploy::managed::{set_up_recovery_at, unregister_recovery_at, RecoverySetup};
use dart_core::deploy::register::{register_recovery_at, Placement, RegisterOptions};
use dart_core::deploy::uefi_entry::{set_boot_next_at, UefiEntryOptions, VarsTarget};
use dart_core::deploy::update_recovery_at;
use dart_core::formats::fat::FatOptions;
use dart_core::formats::partition::{read_disk_at, RecoveryOptions};
use dart_core::formats::uefi::BootOrderPlacement;

use super::medium::MediumArgs;
use crate::progress;
use crate::size::parse_size;

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
    /// Add a recovery partition holding the media in free space, and make it bootable (--register, --uefi-entry).
    AddRecovery {
        /// Disk or disk image.
        #[arg(long)]
        disk: PathBuf,
        #[command(flatten)]
        medium: MediumArgs,
        /// Partition size (default: media plus headroom), e.g. 600M.
        #[arg(long, value_parser = parse_size)]
        size: Option<u64>,
        /// Free space to keep inside the partition, e.g. 50M.
        #[arg(long, value_parser = parse_size)]
        headroom: Option<u64>,
        /// When the disk already has a dart recovery partition, update it in place (and keep its entries) instead of adding another: the command software distribution runs on every cycle.
        #[arg(long)]
        update_if_present: bool,
        #[command(flatten)]
        register: RegisterArgs,
        #[command(flatten)]
        uefi: UefiEntryArgs,
        /// Print the plan (partition, boot-store and variable changes) and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the plan or report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace the media on the recovery partition in place (its boot entries stay valid: same ids).
    UpdateRecovery {
        /// Disk or disk image.
        #[arg(long)]
        disk: PathBuf,
        #[command(flatten)]
        medium: MediumArgs,
    },
    /// Add the existing recovery partition to the installed Windows boot manager's store.
    RegisterRecovery {
        /// Disk or disk image.
        #[arg(long)]
        disk: PathBuf,
        /// The menu text.
        #[arg(long, default_value = "DaRT Recovery")]
        description: String,
        /// Where the entry goes: tools (toolsdisplayorder), menu (displayorder) or winre ({default}'s recoverysequence).
        #[arg(long = "as", value_name = "tools|menu|winre", default_value = "tools")]
        placement: Placement,
        /// BitLocker protection is suspended on this system (manage-bde -protectors -disable C: -RebootCount 1).
        #[arg(long)]
        bitlocker_suspended: bool,
        /// Print the store changes and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove exactly what dart added for the recovery partition: its boot-store entry (restoring Windows RE's recovery sequence and removing BCD.dart-backup) and, with --uefi-vars or --efivarfs, its UEFI boot entries.
    UnregisterRecovery {
        /// Disk or disk image.
        #[arg(long)]
        disk: PathBuf,
        /// BitLocker protection is suspended on this system.
        #[arg(long)]
        bitlocker_suspended: bool,
        /// Also remove the partition's UEFI boot entries from this OVMF variable file.
        #[arg(long, value_name = "FILE", conflicts_with = "efivarfs")]
        uefi_vars: Option<PathBuf>,
        /// Also remove them from the running system's UEFI variables (efivarfs).
        #[arg(long)]
        efivarfs: bool,
        /// Print the changes and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make the next start (only the next) open the recovery partition: sets BootNext to its UEFI boot entry.
    BootNext {
        /// Disk or disk image.
        #[arg(long)]
        disk: PathBuf,
        /// An OVMF variable file (default: the running system's variables through efivarfs).
        #[arg(long, value_name = "FILE")]
        uefi_vars: Option<PathBuf>,
        /// Print the change and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Registration in the installed boot manager's store.
#[derive(Args, Debug, Clone)]
pub struct RegisterArgs {
    /// Add an entry for the partition to the installed Windows boot manager's store (GPT: the ESP's \EFI\Microsoft\Boot\BCD; MBR: \Boot\BCD on the active partition); the old store is kept as BCD.dart-backup.
    #[arg(long)]
    register: bool,
    /// The entry's menu text.
    #[arg(long, default_value = "DaRT Recovery")]
    description: String,
    /// Where the entry goes: tools (toolsdisplayorder, the default: shown under Tools without slowing ordinary boots), menu (displayorder) or winre ({default}'s recoverysequence: Windows' own recovery path opens DaRT).
    #[arg(
        long = "as",
        value_name = "tools|menu|winre",
        default_value = "tools",
        requires = "register"
    )]
    placement: Placement,
    /// BitLocker protection is suspended on this system, so its boot store may change (manage-bde -protectors -disable C: -RebootCount 1).
    #[arg(long)]
    bitlocker_suspended: bool,
}

/// A UEFI boot entry for the partition.
#[derive(Args, Debug, Clone)]
pub struct UefiEntryArgs {
    /// Add a UEFI boot entry (Boot####) that starts the partition's loader.
    #[arg(long)]
    uefi_entry: bool,
    /// Edit this OVMF variable file instead of the running system's variables (efivarfs).
    #[arg(long, value_name = "FILE", requires = "uefi_entry")]
    uefi_vars: Option<PathBuf>,
    /// Where the entry goes in BootOrder: keep (not listed: ordinary starts unchanged), first or last.
    #[arg(long, value_name = "keep|first|last", default_value = "keep", value_parser = parse_boot_order, requires = "uefi_entry")]
    boot_order: BootOrderPlacement,
    /// Set BootNext: the next start opens the recovery image, once.
    #[arg(long, requires = "uefi_entry")]
    boot_next: bool,
}

fn parse_boot_order(s: &str) -> std::result::Result<BootOrderPlacement, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "keep" => Ok(BootOrderPlacement::Keep),
        "first" => Ok(BootOrderPlacement::First),
        "last" => Ok(BootOrderPlacement::Last),
        _ => Err(format!(
            "invalid boot order {s:?}: expected keep, first or last"
        )),
    }
}

fn vars_target(file: Option<PathBuf>) -> VarsTarget {
    file.map_or_else(VarsTarget::live, VarsTarget::File)
}

/// `dart partition ...`.
pub fn run(cmd: PartitionCommand) -> Result<()> {
    match cmd {
        PartitionCommand::Show { disk, json } => show(&disk, json),
        PartitionCommand::AddRecovery {
            disk,
            medium,
            size,
            headroom,
            update_if_present,
            register,
            uefi,
            dry_run,
            json,
        } => {
            let setup = RecoverySetup {
                sizing: RecoveryOptions { size, headroom },
                register: register.register.then(|| RegisterOptions {
                    description: register.description.clone(),
                    placement: register.placement,
                    bitlocker_suspended: register.bitlocker_suspended,
                }),
                uefi_entry: uefi.uefi_entry.then(|| UefiEntryOptions {
                    vars: vars_target(uefi.uefi_vars),
                    description: register.description.clone(),
                    boot_order: uefi.boot_order,
                    boot_next: uefi.boot_next,
                }),
                update_if_present,
            };
            let control = if dry_run {
                dart_core::progress::Control::default()
            } else {
                progress::percent_lines()
            };
            let report = set_up_recovery_at(
                &disk,
                medium.spec(None),
                &setup,
                &FatOptions::default(),
                &control,
                dry_run,
            )?;
            if json {
                out_json!(&report)?;
            } else {
                out!("{report}");
            }
            Ok(())
        }
        PartitionCommand::UpdateRecovery { disk, medium } => {
            let r = update_recovery_at(
                &disk,
                medium.spec(None),
                &FatOptions::default(),
                &progress::percent_lines(),
            )?;
            out_json!(&r)?;
            Ok(())
        }
        PartitionCommand::RegisterRecovery {
            disk,
            description,
            placement,
            bitlocker_suspended,
            dry_run,
            json,
        } => {
            let opts = RegisterOptions {
                description,
                placement,
                bitlocker_suspended,
            };
            let r = register_recovery_at(&disk, &opts, dry_run)?;
            if json {
                out_json!(&r)?;
            } else {
                out!("{}", r.plan);
                if dry_run {
                    outln!("dry run: nothing was written");
                }
            }
            Ok(())
        }
        PartitionCommand::UnregisterRecovery {
            disk,
            bitlocker_suspended,
            uefi_vars,
            efivarfs,
            dry_run,
            json,
        } => {
            let vars = match (uefi_vars, efivarfs) {
                (Some(f), _) => Some(VarsTarget::File(f)),
                (None, true) => Some(VarsTarget::live()),
                (None, false) => None,
            };
            let r = unregister_recovery_at(&disk, bitlocker_suspended, vars.as_ref(), dry_run)?;
            if json {
                out_json!(&r)?;
            } else {
                out!("{r}");
            }
            Ok(())
        }
        PartitionCommand::BootNext {
            disk,
            uefi_vars,
            dry_run,
            json,
        } => {
            let plan = set_boot_next_at(&disk, &vars_target(uefi_vars), dry_run)?;
            if json {
                out_json!(&plan)?;
            } else {
                out!("{plan}");
                if dry_run {
                    outln!("dry run: nothing was written");
                }
            }
            Ok(())
        }
    }
}

/// `dart partition show`.
fn show(disk: &Path, json: bool) -> Result<()> {
    let state = read_disk_at(disk)?;
    if json {
        out_json!(&state)?;
        return Ok(());
    }
    outln!("{}: {}", disk.display(), state.layout);
    for w in state.warnings() {
        outln!("warning: {w}");
    }
    Ok(())
}
