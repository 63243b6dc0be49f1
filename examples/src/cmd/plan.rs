//! `dart plan`: rank the deployment methods for a site and say why.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use dart_core::plan::{self, Infrastructure, Plan, SiteFacts, Staff};

/// `dart plan` arguments.
#[derive(Args)]
pub struct PlanArgs {
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

/// `dart plan`.
pub fn run(a: PlanArgs) -> Result<()> {
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
        out_json!(&p)?;
        return Ok(());
    }
    print_plan(&p);
    Ok(())
}

/// A plan as text: the methods ranked with their advantages and
/// disadvantages, then the recommendation and its rationale.
pub fn print_plan(p: &Plan) {
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
