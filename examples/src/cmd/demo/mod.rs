//! `dart demo [DIR]`: the whole product in one run: a synthetic WinPE
//! fixture, images for three support levels, a plan for a site, then every
//! deployment method (USB images, a hybrid ISO, a recovery partition, the
//! network boot server), each booted under QEMU when it is installed.

mod boot_check;
mod network;
mod recovery_partition;
mod removable;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use dart_core::image::{build_variants, ImageRecipe, ImageVariant};
use dart_core::model::arch::Architecture;
use dart_core::model::media::{Firmware, MediaSet};
use dart_core::model::tools::SupportLevels;
use dart_core::plan::{SiteFacts, Staff};
use dart_testkit::fixture::{self, FixtureOptions};

use crate::cmd::{image, plan};
use crate::progress;

/// `dart demo` arguments.
#[derive(Args)]
pub struct DemoArgs {
    /// Working directory (default: ./demo-out).
    dir: Option<PathBuf>,
}

/// `dart demo`.
pub fn run(a: DemoArgs) -> Result<()> {
    demo(&a.dir.unwrap_or_else(|| PathBuf::from("demo-out")))
}

/// Runs every step of the demo in `dir`.
fn demo(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    outln!("== 1. synthetic WinPE media in {}", dir.display());
    let fx = fixture::generate(dir, &FixtureOptions::default())?;
    outln!(
        "   media {}, bootable stand-in UEFI loader: {}",
        fx.media.display(),
        if fx.bootable_uefi_loader {
            "yes (GRUB prints DART-BOOT-OK)"
        } else {
            "no (grub-mkstandalone missing)"
        }
    );
    image::info(&fx.base_wim, false)?;
    MediaSet::open(&fx.media)?.validate(Architecture::X64, Firmware::Both)?;
    outln!("   media boots x64 on BIOS and UEFI (all boot files present)");

    outln!("== 2. three support levels in one pass");
    let mut recipe = ImageRecipe::new(&fx.base_wim, &fx.payloads);
    recipe.drivers = Some(fx.drivers.clone());
    recipe.remote.port = Some(dart_core::image::CONVENTIONAL_REMOTE_PORT);
    recipe.remote.welcome_message = Some("The help desk will connect shortly.".into());
    let levels = SupportLevels::builtin();
    let images = dir.join("images");
    std::fs::create_dir_all(&images).with_context(|| format!("creating {}", images.display()))?;
    let variants = ["remote", "end-user", "full"]
        .iter()
        .map(|l| {
            Ok(ImageVariant {
                name: Some(format!("DaRT10 {l}")),
                ..ImageVariant::new(levels.get(l)?, images.join(format!("dart-{l}.wim")))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let report = build_variants(&recipe, &variants, &progress::finished_images())?;
    image::print_report(&report);
    image::info(&report.outputs[1].path, false)?;

    outln!("== 3. which deployment method fits a site");
    let facts = SiteFacts {
        active_directory: true,
        network_boot_server: true,
        support_staff: Staff::Central,
        clients_without_network: true,
        bitlocker: true,
        multiple_support_levels: true,
        ..SiteFacts::default()
    };
    plan::print_plan(&dart_core::plan::plan(&facts));

    let deploy_media = dir.join("deploy-media");
    let _ = std::fs::remove_dir_all(&deploy_media);
    dart_core::model::media::assemble(&fx.media, &report.outputs[1].path, &deploy_media)?;
    outln!(
        "== 4. removable media: USB stick images with the three levels behind one boot menu, from {}",
        fx.media.display()
    );
    let menu = dart_core::deploy::MediumSpec {
        images: report
            .outputs
            .iter()
            .zip(["DaRT (remote)", "DaRT (end-user)", "DaRT (full)"])
            .map(|(o, d)| dart_core::deploy::MenuImage {
                description: d.into(),
                wim: o.path.clone(),
            })
            .collect(),
        default: Some("DaRT (end-user)".into()),
        timeout: Some(10),
        ..dart_core::deploy::MediumSpec::new(&fx.media)
    };
    let mut booted = removable::usb_images(dir, &menu)?;

    outln!("== 5. removable media: a hybrid ISO for CD/DVD that also boots from USB");
    booted.extend(removable::hybrid_iso(dir, &deploy_media)?);

    outln!("== 6. recovery partition on a managed PC: added, registered in its boot store, started once by BootNext");
    booted.push(recovery_partition::add_and_update(dir, &deploy_media)?);

    outln!("== 7. network boot server: proxy-DHCP + TFTP with an access policy");
    let network_booted = network::boot_over_pxe(dir, &deploy_media, &fx.media)?;

    outln!(
        "== demo finished: images in {}, USB images, ISO and disk in {}",
        images.display(),
        dir.display()
    );
    if booted.iter().all(|b| *b) && network_booted {
        outln!("   every deployment booted under QEMU (DART-BOOT-OK), removable media, local disk and network");
    } else if booted.iter().all(|b| *b) {
        outln!("   every local deployment booted under QEMU (DART-BOOT-OK); the network boot was skipped");
    }
    Ok(())
}
