//! `dart export`: a boot server root as a static tree for any web server.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dart_core::net::export::{export, plan_export, ExportOptions, ExportPlan};
use dart_core::net::{AccessPolicy, ImageRole};

use crate::progress;

/// `dart export` arguments.
#[derive(Args)]
pub struct ExportArgs {
    /// The boot server root to export.
    #[arg(long)]
    root: PathBuf,
    /// The directory to write (new, or empty): serve it with any web server.
    #[arg(long)]
    to: PathBuf,
    /// recovery (default: safe to publish) or imaging (serve it only behind the web
    /// server's own access control); an export never holds both.
    #[arg(long, default_value = "recovery")]
    role: String,
    /// The URL the tree will be served at (e.g. https://boot.example.org/dart), written into
    /// the iPXE scripts; default: URLs relative to each script, so any path works.
    #[arg(long)]
    base_url: Option<String>,
    /// The access policy whose rules make the client classes (default: every client may
    /// boot recovery images only).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Print the plan (files, classes, sizes) and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `dart export`.
pub fn run(a: ExportArgs) -> Result<()> {
    let policy = match &a.policy {
        Some(path) => AccessPolicy::load(path)?,
        None => AccessPolicy::default(),
    };
    let options = ExportOptions {
        role: a.role.parse::<ImageRole>()?,
        base_url: a.base_url,
        policy,
    };
    let plan = plan_export(&a.root, &a.to, &options)?;
    if a.dry_run {
        if a.json {
            out_json!(&plan)?;
        } else {
            print_plan(&plan);
            outln!("dry run: nothing was written");
        }
        return Ok(());
    }
    let report = export(&plan, &progress::percent_lines())?;
    if a.json {
        out_json!(&report)?;
        return Ok(());
    }
    print_plan(&plan);
    outln!(
        "exported {} files ({} bytes) to {}; manifest SHA-256 {}",
        report.files,
        report.bytes,
        report.to.display(),
        report.manifest_sha256
    );
    if plan.role == ImageRole::Imaging {
        outln!(
            "note: this tree holds imaging images; serve it only behind the web server's own \
             access control (client certificates, an allow list) or with signed, expiring URLs"
        );
    }
    Ok(())
}

fn print_plan(plan: &ExportPlan) {
    outln!(
        "{} images of {} -> {} ({} files, {} bytes)",
        plan.role.name(),
        plan.root.display(),
        plan.to.display(),
        plan.files.len(),
        plan.bytes
    );
    for i in &plan.images {
        outln!("   image {} version {} ({})", i.name, i.version, i.arch);
    }
    for c in &plan.classes {
        outln!(
            "   class {} (rule {:?}): {}",
            c.name,
            c.rule,
            c.images.join(", ")
        );
        for f in &c.files {
            outln!("      {f}");
        }
    }
    for s in &plan.skipped {
        outln!("   left out: {s}");
    }
}
