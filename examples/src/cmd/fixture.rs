//! `dart fixture DIR`: write a synthetic WinPE-like media set, tool payloads
//! and drivers, and print what was written as JSON.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dart_core::model::arch::Architecture;
use dart_testkit::fixture::{self, FixtureOptions};

/// `dart fixture` arguments.
#[derive(Args)]
pub struct FixtureArgs {
    /// Directory to write into.
    dir: PathBuf,
    /// Bytes of stand-in system files in the base image.
    #[arg(long, default_value_t = 4 << 20)]
    base_bytes: u64,
    /// Bytes of stand-in program per tool.
    #[arg(long, default_value_t = 256 << 10)]
    payload_bytes: u64,
    /// Do not build the GRUB stand-in UEFI loader.
    #[arg(long)]
    no_grub: bool,
    /// The architecture the base WIM says it is: x64 (default), x86, arm64.
    #[arg(long, default_value = "x64")]
    arch: Architecture,
    /// Also write a stand-in installed PC to this disk image (320 MiB, GPT: an ESP with a Windows boot store and its own loader, a "Windows" partition, free space), for trying the recovery partition's registration.
    #[arg(long, value_name = "FILE")]
    installed_pc: Option<PathBuf>,
}

/// `dart fixture`.
pub fn run(a: FixtureArgs) -> Result<()> {
    let fx = fixture::generate(
        &a.dir,
        &FixtureOptions {
            base_bytes: a.base_bytes,
            payload_bytes: a.payload_bytes,
            grub: !a.no_grub,
            arch: a.arch,
            ..FixtureOptions::default()
        },
    )?;
    out_json!(&fx)?;
    if let Some(disk) = &a.installed_pc {
        let sys = dart_testkit::installed::installed_system(
            disk,
            dart_core::formats::partition::Scheme::Gpt,
            320 << 20,
        )?;
        errln!(
            "wrote {}: a stand-in installed PC ({}; boot store \\{} on partition {})",
            disk.display(),
            sys.layout.scheme,
            sys.store_path.replace('/', "\\"),
            sys.system.number
        );
    }
    Ok(())
}
