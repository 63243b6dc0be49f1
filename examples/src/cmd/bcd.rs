//! `dart bcd show|new|add-winpe|remove|set`: BCD stores (the boot menus of
//! Windows Boot Manager), read and edited without Windows.
//!
//! Every edit reads the whole store, makes all its changes in memory and
//! writes the store once, only when every change succeeded (beside the old
//! file, synced, renamed over it): a failed command leaves the file as it
//! was, byte for byte. `--dry-run` makes the changes in memory, prints the
//! resulting listing and writes nothing.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::{ArgGroup, Args, Subcommand};
use dart_core::formats::bcd::names::render_id;
use dart_core::formats::bcd::{Store, WinPeEntry};
use dart_core::model::media::Firmware;

/// `dart bcd ...`.
#[derive(Subcommand)]
pub enum BcdCommand {
    /// List a store's objects as bcdedit /enum all does.
    Show {
        /// The store file (`boot/bcd`, `efi/microsoft/boot/bcd`).
        store: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a store with the objects Windows media stores carry and no
    /// boot entries.
    New {
        /// The store file to create.
        store: PathBuf,
        /// The firmware the store is for: bios (`boot/bcd`) or uefi
        /// (`efi/microsoft/boot/bcd`).
        #[arg(long)]
        firmware: String,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
        /// Print the store that would be written and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Add a WinPE entry booting a WIM from a RAM disk; prints its id.
    AddWinpe(AddWinpeArgs),
    /// Remove an entry (from the menu too; the first entry left becomes the
    /// default when it was the default).
    Remove {
        /// The store file.
        store: PathBuf,
        /// The entry: {guid} (braces optional), an alias such as {memdiag},
        /// or {default}.
        id: String,
        /// Print the store that would be written and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Set the boot manager's timeout, default entry and menu.
    Set(SetArgs),
}

/// `dart bcd add-winpe` arguments.
#[derive(Args)]
pub struct AddWinpeArgs {
    /// The store file.
    store: PathBuf,
    /// The menu text.
    #[arg(long)]
    description: String,
    /// The WIM's path on the boot device, e.g. '\sources\boot.wim'.
    #[arg(long)]
    wim: String,
    /// The firmware: bios or uefi (default: as the store's other entries).
    #[arg(long)]
    firmware: Option<String>,
    /// The path of boot.sdi on the boot device (default '\boot\boot.sdi').
    #[arg(long)]
    sdi: Option<String>,
    /// Make the entry the default (it is anyway when the store has none).
    #[arg(long)]
    default: bool,
    /// Print the store that would be written and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print JSON: {"id": "{guid}"}.
    #[arg(long)]
    json: bool,
}

/// `dart bcd set` arguments. Ids name objects of the store as it was read
/// ({default} is the default before this command).
#[derive(Args)]
#[command(group(ArgGroup::new("change").required(true).multiple(true)))]
pub struct SetArgs {
    /// The store file.
    store: PathBuf,
    /// The menu timeout in seconds (0 to 999).
    #[arg(long, group = "change")]
    timeout: Option<u64>,
    /// The default entry (put first in the menu when the menu lacks it).
    #[arg(long, group = "change", value_name = "ID")]
    default: Option<String>,
    /// The menu: every entry once, the default among them.
    #[arg(
        long,
        group = "change",
        value_name = "ID,ID,...",
        value_delimiter = ','
    )]
    display_order: Option<Vec<String>>,
    /// Print the store that would be written and write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `dart bcd ...`.
pub fn run(cmd: BcdCommand) -> Result<()> {
    match cmd {
        BcdCommand::Show { store, json } => show(&store, json),
        BcdCommand::New {
            store,
            firmware,
            force,
            dry_run,
        } => new(&store, &firmware, force, dry_run),
        BcdCommand::AddWinpe(args) => add_winpe(args),
        BcdCommand::Remove { store, id, dry_run } => remove(&store, &id, dry_run),
        BcdCommand::Set(args) => set(args),
    }
}

/// `dart bcd show`.
fn show(path: &Path, json: bool) -> Result<()> {
    let store = Store::open(path)?;
    if json {
        out_json!(&store.view())?;
    } else {
        out!("{}", store.to_text());
    }
    Ok(())
}

/// Ends an edit: writes the store, or for a dry run prints it and says
/// that nothing was written.
fn finish(store: &Store, path: &Path, dry_run: bool) -> Result<()> {
    if dry_run {
        out!("{}", store.to_text());
        outln!("dry run: nothing was written to {}", path.display());
    } else {
        store.save(path)?;
    }
    Ok(())
}

/// `dart bcd new`.
fn new(path: &Path, firmware: &str, force: bool, dry_run: bool) -> Result<()> {
    let firmware = firmware.parse::<Firmware>()?;
    // symlink_metadata: a dangling link is a file that exists too.
    if !force && path.symlink_metadata().is_ok() {
        bail!(
            "{} already exists and was left as it was; give --force to replace it",
            path.display()
        );
    }
    let store = Store::new(firmware)?;
    if force || dry_run {
        finish(&store, path, dry_run)?;
    } else {
        store.save_new(path)?;
    }
    if !dry_run {
        outln!(
            "{}: new {firmware} store with {} objects and no boot entries",
            path.display(),
            store.objects().len()
        );
    }
    Ok(())
}

/// `dart bcd add-winpe`.
fn add_winpe(a: AddWinpeArgs) -> Result<()> {
    let mut entry = WinPeEntry::new(&a.description, &a.wim);
    if let Some(sdi) = a.sdi {
        entry.sdi = sdi;
    }
    entry.firmware = a.firmware.map(|f| f.parse::<Firmware>()).transpose()?;
    let mut store = Store::open(&a.store)?;
    let id = format!("{{{}}}", store.add_winpe(&entry, a.default)?);
    if a.dry_run && a.json {
        let report = serde_json::json!({"id": id, "dry_run": true, "store": store.view()});
        out_json!(&report)?;
        return Ok(());
    }
    finish(&store, &a.store, a.dry_run)?;
    if a.json {
        out_json!(&serde_json::json!({ "id": id }))?;
    } else if a.dry_run {
        outln!("dry run: would add {id}");
    } else {
        outln!("{id}");
    }
    Ok(())
}

/// `dart bcd remove`.
fn remove(path: &Path, id: &str, dry_run: bool) -> Result<()> {
    let mut store = Store::open(path)?;
    let id = store.resolve(id)?;
    let what = match store.object(id).and_then(|o| o.description) {
        Some(d) => format!("{} ({d})", render_id(&id)),
        None => render_id(&id),
    };
    store.remove(id)?;
    finish(&store, path, dry_run)?;
    let verb = if dry_run { "would remove" } else { "removed" };
    outln!("{verb} {what}");
    Ok(())
}

/// `dart bcd set`.
fn set(a: SetArgs) -> Result<()> {
    let mut store = Store::open(&a.store)?;
    // Every id is resolved against the store as read, before any change.
    let default = a.default.as_deref().map(|d| store.resolve(d)).transpose()?;
    let order = a
        .display_order
        .as_deref()
        .map(|ids| {
            ids.iter()
                .map(|i| store.resolve(i))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let mut changes = Vec::new();
    if let Some(t) = a.timeout {
        store.set_timeout(t)?;
        changes.push(format!("timeout {t}"));
    }
    // The default first: a new menu may leave out the old default.
    if let Some(d) = default {
        store.set_default(d)?;
        changes.push(format!("default {}", render_id(&d)));
    }
    if let Some(order) = order {
        store.set_display_order(&order)?;
        let ids: Vec<String> = order.iter().map(render_id).collect();
        changes.push(format!("display order {}", ids.join(",")));
    }
    finish(&store, &a.store, a.dry_run)?;
    let verb = if a.dry_run { "would set" } else { "set" };
    outln!("{}: {verb} {}", a.store.display(), changes.join(", "));
    Ok(())
}
