//! `dart image info|build`: inspect a WIM and compose recovery images from a
//! base Windows PE image.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use dart_core::image::{
    build_variants, BuildReport, Compression, ImageRecipe, ImageVariant, RecoveryImage,
};
use dart_core::model::tools::{SupportLevels, Tools};

use crate::progress;

/// `dart image ...`.
#[derive(Subcommand)]
pub enum ImageCommand {
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

/// `dart image build` arguments.
#[derive(Args)]
pub struct BuildArgs {
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

/// `dart image ...`.
pub fn run(cmd: ImageCommand) -> Result<()> {
    match cmd {
        ImageCommand::Info { wim, json } => info(&wim, json),
        ImageCommand::Build(args) => build(*args),
    }
}

/// `dart image info`: what a WIM holds, as text or JSON.
pub fn info(wim: &Path, json: bool) -> Result<()> {
    let image = RecoveryImage::open(wim)?;
    let info = image.info();
    if json {
        out_json!(info)?;
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

/// `dart image build`.
fn build(a: BuildArgs) -> Result<()> {
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
    let report = build_variants(&recipe, &variants, &progress::finished_images())?;
    if a.json {
        out_json!(&report)?;
    } else {
        print_report(&report);
    }
    Ok(())
}

/// The text of an optional file named on the command line.
fn read_text(path: &Option<PathBuf>) -> Result<Option<String>> {
    path.as_ref()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
        .transpose()
}

/// A build report as text: the base, then one line per image written.
pub fn print_report(report: &BuildReport) {
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
