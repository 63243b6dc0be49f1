//! `dart clients`: the clients a boot server knows: list the pending ones,
//! approve, deny, forget, pre-stage from CSV.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use dart_core::net::known::{
    approve_client, deny_client, forget_client, import_clients, list_clients, parse_allow,
    Approval, ClientKey, ClientState, KnownClient,
};

/// `dart clients ...`.
#[derive(Subcommand)]
pub enum ClientsCommand {
    /// List the clients (pending ones first to decide on).
    List(ListArgs),
    /// Approve a client (MAC address or SMBIOS UUID), pending or not yet seen (pre-staging).
    Approve(ApproveArgs),
    /// Deny a client: it is answered nothing and not recorded as pending again.
    Deny(KeyArgs),
    /// Forget a client: a forgotten client that asks again is pending again.
    Forget(KeyArgs),
    /// Pre-stage clients from a CSV file (header: mac,uuid,name,allow,boot).
    Import(ImportArgs),
}

/// The server root holding the client database.
#[derive(Args)]
pub struct Root {
    /// The boot server root (the database is ROOT/dart-clients.db).
    #[arg(long)]
    root: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `dart clients list` arguments.
#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    root: Root,
    /// Only clients in this state: pending, approved or denied.
    #[arg(long)]
    state: Option<ClientState>,
}

/// One client.
#[derive(Args)]
pub struct KeyArgs {
    /// The client: a MAC address (52:54:00:aa:bb:01) or an SMBIOS UUID.
    client: ClientKey,
    #[command(flatten)]
    root: Root,
}

/// `dart clients approve` arguments.
#[derive(Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// A name for people (host name, asset tag).
    #[arg(long)]
    name: Option<String>,
    /// The images it may boot: all, recovery, none, or names separated by commas
    /// (without it, the policy's rules decide).
    #[arg(long)]
    allow: Option<String>,
    /// The image it is offered (one it may boot).
    #[arg(long)]
    boot: Option<String>,
}

/// `dart clients import` arguments.
#[derive(Args)]
pub struct ImportArgs {
    /// The CSV file.
    file: PathBuf,
    #[command(flatten)]
    root: Root,
}

/// `dart clients ...`.
pub fn run(cmd: ClientsCommand) -> Result<()> {
    match cmd {
        ClientsCommand::List(a) => list(a),
        ClientsCommand::Approve(a) => {
            let approval = Approval {
                name: a.name,
                allow: a.allow.as_deref().map(parse_allow).transpose()?,
                boot: a.boot,
            };
            let c = approve_client(&a.key.root.root, &a.key.client, &approval)?;
            report(&a.key.root, "approved", &c)
        }
        ClientsCommand::Deny(a) => {
            let c = deny_client(&a.root.root, &a.client)?;
            report(&a.root, "denied", &c)
        }
        ClientsCommand::Forget(a) => {
            forget_client(&a.root.root, &a.client)?;
            if a.root.json {
                out_json!(&serde_json::json!({"forgotten": a.client.to_string()}))?;
            } else {
                outln!("forgot {}", a.client);
            }
            Ok(())
        }
        ClientsCommand::Import(a) => {
            let text = std::fs::read_to_string(&a.file)
                .with_context(|| format!("reading {}", a.file.display()))?;
            let n = import_clients(&a.root.root, &text)
                .with_context(|| a.file.display().to_string())?;
            if a.root.json {
                out_json!(&serde_json::json!({"approved": n}))?;
            } else {
                outln!("approved {n} client(s) from {}", a.file.display());
            }
            Ok(())
        }
    }
}

fn list(a: ListArgs) -> Result<()> {
    let clients = list_clients(&a.root.root, a.state)?;
    if a.root.json {
        out_json!(&clients)?;
        return Ok(());
    }
    if clients.is_empty() {
        outln!("{}: no clients recorded", a.root.root.display());
    }
    for c in &clients {
        let arch = c.arch.map(|a| a.to_string()).unwrap_or_default();
        let allow = c
            .allow
            .as_ref()
            .map_or_else(|| "as the policy decides".to_string(), |a| a.to_string());
        let boot = c
            .boot
            .as_deref()
            .map(|b| format!(", boots {b}"))
            .unwrap_or_default();
        outln!(
            "{:<9} {:<40} {:<9} may boot {allow}{boot}; {}",
            c.state.to_string(),
            c.label(),
            arch,
            seen(c)
        );
    }
    Ok(())
}

fn seen(c: &KnownClient) -> String {
    if c.last_seen == 0 {
        return "never seen".into();
    }
    let ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .saturating_sub(c.last_seen);
    format!("last seen {ago} s ago")
}

fn report(root: &Root, what: &str, c: &KnownClient) -> Result<()> {
    if root.json {
        out_json!(c)?;
    } else {
        outln!("{what} {}", c.label());
    }
    Ok(())
}
