//! `dart partition show|add-recovery|update-recovery`: partition tables and
//! the recovery-partition method.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Subcommand;
use dart_core::deploy::{add_recovery_at, plan_add_recovery_at, update_recovery_at, MediumSpec};
use dart_core::formats::fat::FatOptions;
use dart_core::formats::partition::{human, read_disk_at, RecoveryOptions};

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
    /// Add a recovery partition holding the media in free space.
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
        #[command(flatten)]
        medium: MediumArgs,
    },
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
            dry_run,
            json,
        } => add_recovery(
            &disk,
            &medium.spec(None),
            RecoveryOptions { size, headroom },
            dry_run,
            json,
        ),
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

/// `dart partition add-recovery`.
fn add_recovery(
    disk: &Path,
    media: &MediumSpec,
    opts: RecoveryOptions,
    dry_run: bool,
    json: bool,
) -> Result<()> {
    if dry_run {
        let plan = plan_add_recovery_at(disk, media, &opts)?;
        if json {
            out_json!(&plan)?;
        } else {
            out!("{plan}");
        }
        outln!("dry run: nothing was written");
        return Ok(());
    }
    let report = add_recovery_at(
        disk,
        media,
        &opts,
        &FatOptions::default(),
        &progress::percent_lines(),
    )?;
    if json {
        out_json!(&report)?;
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
