//! `dart fixture DIR`: write a synthetic WinPE-like media set, tool payloads
//! and drivers (and, with `--installed-disk`, a stand-in installed system
//! disk), and print what was written as JSON.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dart_core::formats::partition::{Partition, Scheme, MIB};
use dart_core::model::arch::Architecture;
use dart_testkit::fixture::{self, FixtureOptions};
use dart_testkit::installed::installed_system;

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
    /// Also write `installed-gpt.img`: a stand-in installed Windows system
    /// (GPT, 320 MiB, sparse: an EFI system partition with the installed boot
    /// store, a "Windows" partition, free space) to register a recovery
    /// partition on.
    #[arg(long)]
    installed_disk: bool,
}

fn extent(p: &Partition) -> serde_json::Value {
    serde_json::json!({"number": p.number, "start": p.start, "size": p.size})
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
    let mut out = serde_json::to_value(&fx)?;
    if a.installed_disk {
        let disk = a.dir.join("installed-gpt.img");
        let sys = installed_system(&disk, Scheme::Gpt, 320 * MIB)?;
        out["installed_disk"] = serde_json::json!({
            "path": disk,
            "system": extent(&sys.system),
            "windows": extent(&sys.windows),
            "store_path": sys.store_path,
        });
    }
    out_json!(&out)?;
    Ok(())
}
