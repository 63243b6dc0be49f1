//! `dart`: build, inspect and plan DaRT-style recovery images.
//!
//! ```text
//! dart image info WIM [--json]
//! dart image build --base WIM --payloads DIR (--tools LIST | --level NAME) -o OUT [options]
//! dart image build --base WIM --payloads DIR --variant LEVEL=OUT --variant LEVEL=OUT ...
//! dart media check DIR [--arch x64] [--firmware both]
//! dart media usb --media DIR [--scheme mbr|gpt] (--device DEV | -o FILE --size SIZE)
//! dart media iso --media DIR (-o FILE | --device DEV ...) [--hybrid] [--dry-run] [--json]
//! dart partition show DISK [--json]
//! dart partition add-recovery --disk DISK --media DIR [--size SIZE] [--headroom SIZE] [--dry-run] [--json]
//! dart partition update-recovery --disk DISK --media DIR
//! dart bcd show STORE [--json]
//! dart bcd new STORE --firmware bios|uefi [--force] [--dry-run]
//! dart bcd add-winpe STORE --description TEXT --wim PATH [--firmware bios|uefi] [--sdi PATH]
//!      [--default] [--dry-run] [--json]
//! dart bcd remove STORE ID [--dry-run]
//! dart bcd set STORE [--timeout N] [--default ID] [--display-order ID,ID,...] [--dry-run]
//! dart flash IMAGE TARGET... [--verify] [--bmap FILE] [--dry-run]
//! dart verify IMAGE TARGET [--bmap FILE]
//! dart bmap create IMAGE -o FILE
//! dart stage --media DIR|ISO --root DIR --name NAME [--role recovery|imaging] [--arch x64]
//! dart catalog ROOT [--json]
//! dart policy check FILE [--mac M] [--ip IP] [--arch A] [--root DIR]
//! dart clients list|approve|deny|forget|import ... --root DIR [--json]
//! dart serve --root DIR [--policy FILE] [--tftp ADDR] [--proxy-dhcp IFACE] [--json]
//! dart plan [--json] [--site FILE] [--active-directory ...]
//! dart fixture DIR
//! dart demo [DIR]   (fixture, images, plan, USB images, ISO, recovery partition,
//!                    network boot, QEMU boots)
//! ```
//!
//! This file only wires the commands together: each lives in its own module
//! under [`cmd`], which owns its arguments and its `run` function.

#[macro_use]
mod print;
mod cmd;
mod progress;
mod signals;
mod size;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use cmd::{
    bcd, bmap, catalog, clients, demo, export, fixture, flash, image, media, partition, plan,
    policy, serve, stage, verify,
};

// The command line. (No doc comment: clap would show it as the long help.)
#[derive(Parser)]
#[command(
    name = "dart",
    version,
    about = "Save and deploy Windows PE recovery images (DaRT-style)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// The top-level commands; each variant's doc comment is its help.
#[derive(Subcommand)]
enum Command {
    /// Inspect and build recovery images (WIM files).
    #[command(subcommand)]
    Image(Box<image::ImageCommand>),
    /// Check bootable media trees.
    #[command(subcommand)]
    Media(media::MediaCommand),
    /// Partition tables and the recovery partition.
    #[command(subcommand)]
    Partition(partition::PartitionCommand),
    /// BCD stores (Windows Boot Manager menus): show, create, edit.
    #[command(subcommand)]
    Bcd(bcd::BcdCommand),
    /// Write an image onto devices or files (several in one pass), skipping unmapped ranges.
    Flash(flash::FlashArgs),
    /// Compare a device or file with an image by reading it back.
    Verify(verify::VerifyArgs),
    /// Block maps in bmaptool's format.
    #[command(subcommand)]
    Bmap(bmap::BmapCommand),
    /// Stage media into a boot server root as a new version of an image.
    Stage(stage::StageArgs),
    /// List the images of a boot server root.
    Catalog(catalog::CatalogArgs),
    /// Access policies of the boot server.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// The clients a boot server knows: pending, approved, denied.
    #[command(subcommand)]
    Clients(clients::ClientsCommand),
    /// Run the network boot server (TFTP and proxy-DHCP) until interrupted.
    Serve(serve::ServeArgs),
    /// Write a boot server root as a static tree (staged files, boot stores and iPXE scripts per
    /// client class, a SHA-256 manifest) for any web server, CDN or object store.
    Export(export::ExportArgs),
    /// Rank the deployment methods for a site.
    Plan(plan::PlanArgs),
    /// Write a synthetic WinPE-like media set, tool payloads and drivers.
    Fixture(fixture::FixtureArgs),
    /// Run the demo: fixture, images, plan, and every deployment method booted under QEMU.
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    signals::install_handler();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            errln!("dart: {e:#}");
            let cancelled = e
                .downcast_ref::<dart_core::Error>()
                .is_some_and(|e| e.kind() == dart_core::ErrorKind::Cancelled);
            // 130: stopped by a signal, as shells report it.
            ExitCode::from(if cancelled { 130 } else { 1 })
        }
    }
}

/// Runs one command.
fn run(command: Command) -> Result<()> {
    match command {
        Command::Image(cmd) => image::run(*cmd),
        Command::Media(cmd) => media::run(cmd),
        Command::Partition(cmd) => partition::run(cmd),
        Command::Bcd(cmd) => bcd::run(cmd),
        Command::Flash(args) => flash::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Bmap(cmd) => bmap::run(cmd),
        Command::Stage(args) => stage::run(args),
        Command::Catalog(args) => catalog::run(args),
        Command::Policy(cmd) => policy::run(cmd),
        Command::Clients(cmd) => clients::run(cmd),
        Command::Serve(args) => serve::run(args),
        Command::Export(args) => export::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Fixture(args) => fixture::run(args),
        Command::Demo(args) => demo::run(args),
    }
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over every command and argument (an
    /// argument naming another that does not exist panics at run time in
    /// debug builds, for that command only).
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
