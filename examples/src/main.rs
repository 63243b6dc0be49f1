//! `dart`: build, inspect and plan DaRT-style recovery images.
//!
//! ```text
//! dart image info WIM [--json]
//! dart image build --base WIM --payloads DIR (--tools LIST | --level NAME) -o OUT [options]
//! dart image build --base WIM --payloads DIR --variant LEVEL=OUT --variant LEVEL=OUT ...
//! dart media check DIR [--arch x64] [--firmware both]
//! dart media usb --media DIR [--scheme mbr|gpt] (--device DEV | -o FILE --size SIZE)
//! dart partition show DISK [--json]
//! dart partition add-recovery --disk DISK --media DIR [--size SIZE] [--dry-run]
//! dart partition update-recovery --disk DISK --media DIR
//! dart stage --media DIR|ISO --root DIR --name NAME [--role recovery|imaging] [--arch x64]
//! dart catalog ROOT [--json]
//! dart policy check FILE [--mac M] [--ip IP] [--arch A] [--root DIR]
//! dart serve --root DIR [--policy FILE] [--tftp ADDR] [--proxy-dhcp IFACE] [--json]
//! dart plan [--json] [--site FILE] [--active-directory ...]
//! dart fixture DIR
//! dart demo [DIR]   (fixture, images, plan, USB images, ISO, recovery partition,
//!                    network boot, QEMU boots)
//! ```

#[macro_use]
mod print;
mod disk_cmds;
mod flash_cmds;
mod net_cmds;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use dart_core::arch::Architecture;
use dart_core::deploy::{add_recovery_at, update_recovery_at, write_usb_to, UsbOptions};
use dart_core::fat::FatOptions;
use dart_core::fixture::{self, FixtureOptions};
use dart_core::image::{
    build_variants, BuildReport, Compression, ImageRecipe, ImageVariant, RecoveryImage,
};
use dart_core::iso::{write_iso, IsoOptions};
use dart_core::media::{Firmware, MediaSet};
use dart_core::partition::{RecoveryOptions, Scheme};
use dart_core::plan::{self, Infrastructure, SiteFacts, Staff};
use dart_core::progress::{Control, Phase};
use dart_core::qemu::{Attach, Firmware as QemuFirmware};
use dart_core::tools::{SupportLevels, Tools};

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

#[derive(Subcommand)]
enum Command {
    /// Inspect and build recovery images (WIM files).
    #[command(subcommand)]
    Image(Box<ImageCommand>),
    /// Check bootable media trees.
    #[command(subcommand)]
    Media(MediaCommand),
    /// Partition tables and the recovery partition.
    #[command(subcommand)]
    Partition(disk_cmds::PartitionCommand),
    /// Write an image onto devices or files (several in one pass), skipping unmapped ranges.
    Flash(flash_cmds::FlashArgs),
    /// Compare a device or file with an image by reading it back.
    Verify(flash_cmds::VerifyArgs),
    /// Block maps in bmaptool's format.
    #[command(subcommand)]
    Bmap(flash_cmds::BmapCommand),
    /// Stage media into a boot server root as a new version of an image.
    Stage(net_cmds::StageArgs),
    /// List the images of a boot server root.
    Catalog {
        /// The boot server root.
        root: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Access policies of the boot server.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Run the network boot server (TFTP and proxy-DHCP) until interrupted.
    Serve(net_cmds::ServeArgs),
    /// Rank the deployment methods for a site.
    Plan(PlanArgs),
    /// Write a synthetic WinPE-like media set, tool payloads and drivers.
    Fixture {
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
    },
    /// Run the demo: fixture, images, plan, and every deployment method booted under QEMU.
    Demo {
        /// Working directory (default: ./demo-out).
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Check a policy file, and show what it decides for a client.
    Check(net_cmds::PolicyCheckArgs),
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Show what a WIM holds.
    Info {
        /// The WIM file.
        wim: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compose recovery images from a base WinPE WIM.
    Build(Box<BuildArgs>),
}

#[derive(Args)]
struct BuildArgs {
    /// Base Windows PE WIM (e.g. sources/boot.wim of Windows media).
    #[arg(long)]
    base: PathBuf,
    /// Directory with one subdirectory per tool (explorer/, locksmith/, ...).
    #[arg(long)]
    payloads: PathBuf,
    /// Tools, comma separated (e.g. "explorer,remote-connection", "all").
    #[arg(long, conflicts_with_all = ["level", "variant"])]
    tools: Option<String>,
    /// A support level (remote, end-user, help-desk, full, or one from --levels-file).
    #[arg(long, conflicts_with = "variant")]
    level: Option<String>,
    /// Output WIM (with --tools or --level).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// LEVEL=OUT: build several support levels in one pass (repeatable).
    #[arg(long)]
    variant: Vec<String>,
    /// JSON file defining more support levels: {"name": ["tool", ...]}.
    #[arg(long)]
    levels_file: Option<PathBuf>,
    /// Base image index (default: the base's boot image).
    #[arg(long)]
    index: Option<u32>,
    /// Drivers directory to add.
    #[arg(long)]
    drivers: Option<PathBuf>,
    /// Image name (default DaRT10).
    #[arg(long)]
    name: Option<String>,
    /// Image description.
    #[arg(long)]
    description: Option<String>,
    /// Remote Connection port (1-65535; Microsoft's scripts use 3388).
    #[arg(long)]
    remote_port: Option<u16>,
    /// Remote Connection welcome message (at most 2,048 characters).
    #[arg(long)]
    remote_message: Option<String>,
    /// WinPE scratch space in MB (32, 64, 128, 256, 512).
    #[arg(long)]
    scratch_space: Option<u32>,
    /// winpeshl.ini to use instead of the generated one.
    #[arg(long)]
    winpeshl: Option<PathBuf>,
    /// startnet.cmd to use instead of the generated one.
    #[arg(long)]
    startnet: Option<PathBuf>,
    /// Output compression: none, xpress, lzx, lzms (default: the base's).
    #[arg(long)]
    compression: Option<String>,
    /// Keep the base's other images; boot index on the composed one.
    #[arg(long)]
    keep_other_images: bool,
    /// Deterministic output, every timestamp set to these Unix seconds.
    #[arg(long)]
    deterministic: Option<i64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum MediaCommand {
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
    },
    /// Write a bootable USB stick or USB disk image.
    Usb(disk_cmds::UsbArgs),
    /// Write a bootable ISO image for CD/DVD (optionally hybrid for USB).
    Iso(disk_cmds::IsoArgs),
}

#[derive(Args)]
struct PlanArgs {
    /// JSON file of site facts (flags below override it).
    #[arg(long)]
    site: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Infrastructure size: small, medium, large.
    #[arg(long)]
    infrastructure: Option<String>,
    /// Support staff: on-site, central, mixed.
    #[arg(long)]
    staff: Option<String>,
    /// Active Directory Domain Services is in use.
    #[arg(long)]
    active_directory: bool,
    /// A network boot server exists or can be run.
    #[arg(long)]
    network_boot_server: bool,
    /// Some computers have no network when they fail.
    #[arg(long)]
    clients_without_network: bool,
    /// Failures that leave the disk unreadable must be covered.
    #[arg(long)]
    disk_failures: bool,
    /// Several support levels need different tool sets.
    #[arg(long)]
    multiple_support_levels: bool,
    /// Both 32-bit and 64-bit computers are in use.
    #[arg(long)]
    mixed_architectures: bool,
    /// Clients have no room for a recovery partition.
    #[arg(long)]
    no_local_storage: bool,
    /// Clients use BitLocker.
    #[arg(long)]
    bitlocker: bool,
    /// BitLocker is already enabled where the image goes.
    #[arg(long)]
    bitlocker_already_enabled: bool,
    /// The image will be updated often.
    #[arg(long)]
    frequent_updates: bool,
    /// Electronic software distribution is in use.
    #[arg(long)]
    software_distribution: bool,
    /// Sites reach the boot server over slow links.
    #[arg(long)]
    slow_links: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    print::handle_signals();
    match run(cli) {
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

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Image(cmd) => match *cmd {
            ImageCommand::Info { wim, json } => image_info(&wim, json),
            ImageCommand::Build(args) => image_build(*args),
        },
        Command::Media(MediaCommand::Check {
            dir,
            arch,
            firmware,
        }) => {
            let media = MediaSet::open(&dir)?;
            media.validate(arch.parse::<Architecture>()?, firmware.parse::<Firmware>()?)?;
            outln!(
                "{}: {} files, {} bytes; boots {arch} on {firmware}",
                dir.display(),
                media.files().len(),
                media.total_bytes()
            );
            Ok(())
        }
        Command::Media(MediaCommand::Usb(args)) => disk_cmds::media_usb(args),
        Command::Media(MediaCommand::Iso(args)) => disk_cmds::media_iso(args),
        Command::Flash(args) => flash_cmds::run_flash(args),
        Command::Verify(args) => flash_cmds::run_verify(args),
        Command::Bmap(cmd) => flash_cmds::run_bmap(cmd),
        Command::Partition(cmd) => disk_cmds::partition(cmd),
        Command::Stage(args) => net_cmds::run_stage(args),
        Command::Catalog { root, json } => net_cmds::run_catalog(&root, json),
        Command::Policy(PolicyCommand::Check(args)) => net_cmds::run_policy_check(args),
        Command::Serve(args) => net_cmds::run_serve(args),
        Command::Plan(args) => plan_cmd(args),
        Command::Fixture {
            dir,
            base_bytes,
            payload_bytes,
            no_grub,
        } => {
            let fx = fixture::generate(
                &dir,
                &FixtureOptions {
                    base_bytes,
                    payload_bytes,
                    grub: !no_grub,
                    ..FixtureOptions::default()
                },
            )?;
            outln!("{}", serde_json::to_string_pretty(&fx)?);
            Ok(())
        }
        Command::Demo { dir } => demo(&dir.unwrap_or_else(|| PathBuf::from("demo-out"))),
    }
}

fn image_info(wim: &Path, json: bool) -> Result<()> {
    let image = RecoveryImage::open(wim)?;
    let info = image.info();
    if json {
        outln!("{}", serde_json::to_string_pretty(info)?);
        return Ok(());
    }
    outln!("{}", info.path.display());
    outln!("  GUID         {}", info.guid);
    outln!("  images       {}", info.image_count);
    outln!(
        "  boot index   {}",
        info.boot_index
            .map_or("none".to_string(), |b| b.to_string())
    );
    outln!(
        "  compression  {} ({} byte chunks)",
        info.compression,
        info.chunk_size
    );
    outln!("  size         {} bytes", info.file_size);
    for i in &info.images {
        outln!(
            "  [{}] {}",
            i.index,
            i.name.as_deref().unwrap_or("(no name)")
        );
        if let Some(d) = &i.description {
            outln!("      description  {d}");
        }
        outln!(
            "      arch {}  winpe {}  files {}  dirs {}  bytes {}",
            i.architecture.map_or("?".to_string(), |a| a.to_string()),
            i.is_winpe,
            i.file_count,
            i.dir_count,
            i.total_bytes
        );
        if let Some(t) = i.dart_tools {
            outln!("      dart tools   {t}");
        }
    }
    Ok(())
}

fn read_text(path: &Option<PathBuf>) -> Result<Option<String>> {
    path.as_ref()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
        .transpose()
}

fn image_build(a: BuildArgs) -> Result<()> {
    let mut levels = SupportLevels::builtin();
    if let Some(f) = &a.levels_file {
        levels.define_from_json(
            &std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
        )?;
    }
    let variants = if !a.variant.is_empty() {
        a.variant
            .iter()
            .map(|v| {
                let (level, out) = v
                    .split_once('=')
                    .with_context(|| format!("--variant {v:?}: expected LEVEL=OUT"))?;
                Ok(ImageVariant::new(levels.get(level)?, out))
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        let tools = match (&a.tools, &a.level) {
            (Some(t), None) => t.parse::<Tools>()?,
            (None, Some(l)) => levels.get(l)?,
            _ => bail!("give --tools LIST or --level NAME (or --variant LEVEL=OUT)"),
        };
        let Some(out) = a.output.clone() else {
            bail!("give -o OUT")
        };
        vec![ImageVariant::new(tools, out)]
    };
    let mut recipe = ImageRecipe::new(&a.base, &a.payloads);
    recipe.base_index = a.index;
    recipe.drivers = a.drivers.clone();
    recipe.name = a.name.clone();
    recipe.description = a.description.clone();
    recipe.remote.port = a.remote_port;
    recipe.remote.welcome_message = a.remote_message.clone();
    recipe.scratch_space_mb = a.scratch_space;
    recipe.startup.winpeshl_ini = read_text(&a.winpeshl)?;
    recipe.startup.startnet_cmd = read_text(&a.startnet)?;
    recipe.compression = a
        .compression
        .as_deref()
        .map(str::parse::<Compression>)
        .transpose()?;
    recipe.keep_other_images = a.keep_other_images;
    recipe.deterministic = a.deterministic;
    let report = build_variants(&recipe, &variants, &stderr_progress())?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn stderr_progress() -> Control {
    print::control(Arc::new(
        |phase: Phase, item: &str, done: u64, total: u64| {
            if phase == Phase::WritingImage && total > 0 && done == total {
                errln!("  wrote {item} ({done} bytes of file data)");
            }
        },
    ))
}

fn print_report(report: &BuildReport) {
    outln!(
        "base {} image {} ({})",
        report.base.display(),
        report.base_index,
        report.compression
    );
    for o in &report.outputs {
        outln!(
            "  {}  {} bytes  boot index {}  \"{}\"  tools: {}",
            o.path.display(),
            o.bytes,
            o.boot_index,
            o.name,
            o.tools
        );
    }
}

fn plan_cmd(a: PlanArgs) -> Result<()> {
    let mut facts = match &a.site {
        Some(f) => serde_json::from_str::<SiteFacts>(
            &std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
        )
        .with_context(|| format!("site facts in {}", f.display()))?,
        None => SiteFacts::default(),
    };
    if let Some(i) = &a.infrastructure {
        facts.infrastructure = i.parse::<Infrastructure>()?;
    }
    if let Some(s) = &a.staff {
        facts.support_staff = s.parse::<Staff>()?;
    }
    facts.active_directory |= a.active_directory;
    facts.network_boot_server |= a.network_boot_server;
    facts.clients_without_network |= a.clients_without_network;
    facts.disk_failures |= a.disk_failures;
    facts.multiple_support_levels |= a.multiple_support_levels;
    facts.mixed_architectures |= a.mixed_architectures;
    facts.local_storage_available &= !a.no_local_storage;
    facts.bitlocker |= a.bitlocker;
    facts.bitlocker_already_enabled |= a.bitlocker_already_enabled;
    facts.frequent_updates |= a.frequent_updates;
    facts.software_distribution |= a.software_distribution;
    facts.slow_links |= a.slow_links;
    let p = plan::plan(&facts);
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&p)?);
        return Ok(());
    }
    print_plan(&p);
    Ok(())
}

fn print_plan(p: &plan::Plan) {
    for (rank, a) in p.ranking.iter().enumerate() {
        let note = if a.ruled_out { "  (ruled out)" } else { "" };
        outln!("{}. {}  score {}{note}", rank + 1, a.method, a.score);
        for f in &a.advantages {
            outln!("     + {}", f.text);
        }
        for f in &a.disadvantages {
            outln!("     - {}", f.text);
        }
    }
    let rec: Vec<&str> = p.recommended.iter().map(|m| m.name()).collect();
    outln!("recommended: {}", rec.join(" + "));
    for r in &p.rationale {
        outln!("  * {r}");
    }
}

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
    image_info(&fx.base_wim, false)?;
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
    let report = build_variants(&recipe, &variants, &stderr_progress())?;
    print_report(&report);
    image_info(&report.outputs[1].path, false)?;

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
    print_plan(&plan::plan(&facts));

    let deploy_media = dir.join("deploy-media");
    let _ = std::fs::remove_dir_all(&deploy_media);
    dart_core::media::assemble(&fx.media, &report.outputs[1].path, &deploy_media)?;
    outln!(
        "== 4. removable media: USB stick images (end-user image) from {}",
        deploy_media.display()
    );
    let mut booted = Vec::new();
    for scheme in [Scheme::Mbr, Scheme::Gpt] {
        let img = dir.join(format!("usb-{}.img", scheme.name()));
        let _ = std::fs::remove_file(&img);
        let opts = UsbOptions {
            scheme,
            ..UsbOptions::default()
        };
        let r = write_usb_to(
            &img,
            Some(128 << 20),
            &deploy_media,
            &opts,
            &disk_cmds::disk_progress(),
        )?;
        outln!("{}", r.layout);
        outln!(
            "   wrote {} ({} files on FAT32)",
            img.display(),
            r.fat.files
        );
        booted.push(prove_boot(&img, Attach::Disk, QemuFirmware::Uefi)?);
    }

    outln!("== 5. removable media: a hybrid ISO for CD/DVD that also boots from USB");
    // A BIOS stand-in loader (isolinux printing the marker), when installed.
    let bios_loader = fixture::add_isolinux(&deploy_media)?;
    let iso = dir.join("dart.iso");
    let iso_opts = IsoOptions {
        label: "DaRT10".into(),
        hybrid: true,
        bios_loader: bios_loader.clone(),
        ..IsoOptions::default()
    };
    let r = write_iso(
        &MediaSet::open(&deploy_media)?,
        &iso,
        &iso_opts,
        &disk_cmds::disk_progress(),
    )?;
    out!("{}", r.plan);
    outln!("   wrote {}", iso.display());
    booted.push(prove_boot(&iso, Attach::Cdrom, QemuFirmware::Uefi)?);
    booted.push(prove_boot(&iso, Attach::Disk, QemuFirmware::Uefi)?);
    if bios_loader.is_some() {
        booted.push(prove_boot(&iso, Attach::Cdrom, QemuFirmware::Bios)?);
    } else {
        outln!(
            "   BIOS boot check skipped: isolinux is not installed (apt: isolinux syslinux-common)"
        );
    }
    let stick = dir.join("stick-from-iso.img");
    let _ = std::fs::remove_file(&stick);
    let flashed = dart_core::write::flash(
        &iso,
        std::slice::from_ref(&stick),
        &dart_core::write::FlashOptions {
            verify: true,
            ..Default::default()
        },
        &disk_cmds::disk_progress(),
    )?;
    outln!(
        "   flashed {} onto {} ({} of {} bytes mapped, read back and verified)",
        iso.display(),
        stick.display(),
        flashed.plan.mapped_bytes,
        flashed.plan.image_len
    );
    booted.push(prove_boot(&stick, Attach::Disk, QemuFirmware::Uefi)?);
    let from_iso = MediaSet::open(&iso)?;
    outln!(
        "   the ISO serves as media again: {} files, {} bytes",
        from_iso.files().len(),
        from_iso.total_bytes()
    );

    outln!("== 6. recovery partition on a local disk (GPT, an OS partition, free space)");
    let disk = dir.join("disk.img");
    let _ = std::fs::remove_file(&disk);
    let os = fixture::os_disk(&disk, Scheme::Gpt, 256 << 20, 64 << 20)?;
    let os_hash = hash_part(&disk, os)?;
    let opts = RecoveryOptions {
        size: None,
        headroom: Some(32 << 20),
    };
    let rep = add_recovery_at(
        &disk,
        &deploy_media,
        &opts,
        &FatOptions::default(),
        &disk_cmds::disk_progress(),
    )?;
    out!("{}", rep.plan);
    booted.push(prove_boot(&disk, Attach::Disk, QemuFirmware::Uefi)?);
    let upd = update_recovery_at(
        &disk,
        &deploy_media,
        &FatOptions::default(),
        &Control::default(),
    )?;
    outln!(
        "   update in place with the same media: {}",
        serde_json::to_string(&upd)?
    );
    if hash_part(&disk, os)? != os_hash {
        bail!("the OS partition of {} changed", disk.display());
    }
    outln!("   the OS partition's bytes are unchanged (SHA-256 before = after)");

    outln!("== 7. network boot server: proxy-DHCP + TFTP with an access policy");
    let network_booted = net_cmds::demo_network(dir, &deploy_media, &fx.media)?;

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

/// Boots an image under QEMU (with OVMF for UEFI) when they are installed.
fn prove_boot(img: &Path, attach: Attach, firmware: QemuFirmware) -> Result<bool> {
    if firmware == QemuFirmware::Uefi && !Path::new(dart_core::qemu::OVMF_CODE).exists() {
        outln!("   boot check skipped: OVMF is not installed (apt: ovmf qemu-system-x86)");
        return Ok(false);
    }
    let check = dart_core::qemu::boot(img, attach, firmware, std::time::Duration::from_secs(180))?;
    let how = format!(
        "QEMU + {} ({attach:?})",
        match firmware {
            QemuFirmware::Uefi => "OVMF",
            QemuFirmware::Bios => "SeaBIOS",
        }
    );
    if !check.marker_seen {
        bail!(
            "{} did not boot under {how}:\n{}",
            img.display(),
            check.console_tail
        );
    }
    outln!(
        "   {how} booted {}: {} after {:.1}s",
        img.display(),
        dart_core::fixture::BOOT_MARKER,
        check.seconds
    );
    Ok(true)
}

fn hash_part(disk: &Path, (start, len): (u64, u64)) -> Result<[u8; 32]> {
    let mut dev = dart_core::disk::FileDevice::open(disk, 512)?;
    Ok(dart_core::disk::hash_range(&mut dev, start, len)?)
}
