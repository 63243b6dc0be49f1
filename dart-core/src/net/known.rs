//! The clients an admin knows: pre-staged, approved, denied, and the
//! unknown ones held as pending until an admin decides.
//!
//! Windows Deployment Services answers "known clients only" and holds the
//! others for approval; so does dart. The record is a [`ClientDb`], an
//! embedded SQLite database (WAL journal, so a crash leaves the last
//! committed state) in the server root ([`CLIENTS_FILE`]) that the boot
//! server and `dart clients` share: an approval in one process takes
//! effect in a running server without a restart (the server notices the
//! database changed, see [`ClientDb::version`]).
//!
//! A client is known by its MAC address or its SMBIOS UUID (DHCP option
//! 97). Both come from unauthenticated packets: approving a MAC approves
//! whoever sends with it, as in WDS. A pending record never grants
//! anything, and forged DHCP floods cannot grow the database without
//! bound: [`MAX_PENDING`] pending clients are kept, the least recently seen
//! dropped first.
//!
//! ```
//! use dart_core::net::known::{ClientDb, ClientKey, ClientState};
//! let dir = tempfile::tempdir()?;
//! let mut db = ClientDb::open(&dir.path().join("dart-clients.db"))?;
//! let key: ClientKey = "52:54:00:aa:bb:01".parse()?;
//! db.record_pending(&key, None, 1_700_000_000)?;
//! assert_eq!(db.list(Some(ClientState::Pending))?.len(), 1);
//! db.approve(&key, &Default::default())?;
//! assert_eq!(db.find(&key)?.unwrap().state, ClientState::Approved);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::client_arch::ClientArch;
use super::mac::MacAddr;
use super::policy::Allow;
use crate::error::{Error, Result};

/// The client database's file name in the server root.
pub const CLIENTS_FILE: &str = "dart-clients.db";

/// Most pending clients kept; a new one beyond it replaces the least
/// recently seen.
pub const MAX_PENDING: usize = 10_000;

/// How a client is known: its MAC address or its SMBIOS UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// A MAC address (`52:54:00:aa:bb:01`).
    Mac(MacAddr),
    /// An SMBIOS UUID (DHCP option 97), as `{…}` or bare.
    Uuid(Uuid),
}

impl FromStr for ClientKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<ClientKey> {
        let t = s.trim();
        if let Ok(mac) = t.parse::<MacAddr>() {
            return Ok(ClientKey::Mac(mac));
        }
        let bare = t.trim_start_matches('{').trim_end_matches('}');
        match Uuid::parse_str(bare) {
            Ok(u) if t.len() >= 32 => Ok(ClientKey::Uuid(u)),
            _ => Err(Error::invalid(
                "client",
                s,
                "expected a MAC address (52:54:00:aa:bb:01) or an SMBIOS UUID (8c3e...-...)",
            )),
        }
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientKey::Mac(m) => m.fmt(f),
            ClientKey::Uuid(u) => u.fmt(f),
        }
    }
}

/// Where a client stands with the admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientState {
    /// Seen, not yet decided: answered nothing.
    Pending,
    /// Known: answered, with its own images when it has them.
    Approved,
    /// Refused: answered nothing, and not recorded as pending again.
    Denied,
}

impl ClientState {
    fn word(self) -> &'static str {
        match self {
            ClientState::Pending => "pending",
            ClientState::Approved => "approved",
            ClientState::Denied => "denied",
        }
    }

    fn from_word(w: &str) -> Option<ClientState> {
        match w {
            "pending" => Some(ClientState::Pending),
            "approved" => Some(ClientState::Approved),
            "denied" => Some(ClientState::Denied),
            _ => None,
        }
    }
}

impl fmt::Display for ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl FromStr for ClientState {
    type Err = Error;

    fn from_str(s: &str) -> Result<ClientState> {
        ClientState::from_word(s).ok_or_else(|| {
            Error::invalid("client state", s, "expected pending, approved or denied")
        })
    }
}

/// One client of the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnownClient {
    /// Its MAC address, when known by one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddr>,
    /// Its SMBIOS UUID, when known by one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<Uuid>,
    /// Pending, approved or denied.
    pub state: ClientState,
    /// A name for people (a host name, an asset tag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The images it may boot; `None`: as the policy decides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow: Option<Allow>,
    /// The image it is offered; `None`: as the policy decides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot: Option<String>,
    /// The architecture its last request claimed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<ClientArch>,
    /// First request seen (seconds since the Unix epoch; 0 for a client
    /// pre-staged before it was ever seen).
    pub first_seen: u64,
    /// Latest request seen (0: never).
    pub last_seen: u64,
}

impl KnownClient {
    /// The name the logs use: `name (mac)`, or the key.
    pub fn label(&self) -> String {
        let key = match (self.mac, self.uuid) {
            (Some(m), _) => m.to_string(),
            (None, Some(u)) => u.to_string(),
            (None, None) => "?".into(),
        };
        match &self.name {
            Some(n) => format!("{n} ({key})"),
            None => key,
        }
    }
}

/// What [`ClientDb::approve`] sets besides the state; `None` fields keep
/// what the client has (or leave it to the policy for a new one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// A name for people.
    #[serde(default)]
    pub name: Option<String>,
    /// The images it may boot.
    #[serde(default)]
    pub allow: Option<Allow>,
    /// The image it is offered; must be one `allow` permits.
    #[serde(default)]
    pub boot: Option<String>,
}

/// What [`ClientDb::record_pending`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A new pending client.
    New,
    /// A client already in the database was seen again.
    Seen,
}

/// The client database. See the [module docs](self).
pub struct ClientDb {
    conn: Connection,
    path: PathBuf,
}

impl fmt::Debug for ClientDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientDb")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS clients (
    id INTEGER PRIMARY KEY,
    mac TEXT UNIQUE,
    uuid TEXT UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied')),
    name TEXT,
    allow TEXT,
    boot TEXT,
    arch INTEGER,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    CHECK (mac IS NOT NULL OR uuid IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS clients_pending ON clients (state, last_seen);
";

const COLUMNS: &str = "mac, uuid, state, name, allow, boot, arch, first_seen, last_seen";

fn key_column(key: &ClientKey) -> (&'static str, String) {
    match key {
        ClientKey::Mac(m) => ("mac", m.to_string()),
        ClientKey::Uuid(u) => ("uuid", u.to_string()),
    }
}

impl ClientDb {
    /// Opens the database at `path`, creating it (and its table) when it
    /// does not exist.
    pub fn open(path: &Path) -> Result<ClientDb> {
        let conn = Connection::open(path).map_err(|e| db_error(path, "opening", &e))?;
        let db = ClientDb {
            conn,
            path: path.to_path_buf(),
        };
        db.conn
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| db.error("opening", &e))?;
        db.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| db.error("opening", &e))?;
        db.conn
            .execute_batch(SCHEMA)
            .map_err(|e| db.error("creating the tables of", &e))?;
        Ok(db)
    }

    /// Opens the database in `root` (see [`CLIENTS_FILE`]) if it exists.
    pub fn open_existing(root: &Path) -> Result<Option<ClientDb>> {
        let path = root.join(CLIENTS_FILE);
        if path.exists() {
            ClientDb::open(&path).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, action: &'static str, e: &rusqlite::Error) -> Error {
        db_error(&self.path, action, e)
    }

    /// A number that changes whenever another connection (another process)
    /// commits a change, so a reader knows to reload.
    pub fn version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.error("reading", &e))
    }

    /// Every client, or those in `state`, in order of first sight.
    pub fn list(&self, state: Option<ClientState>) -> Result<Vec<KnownClient>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM clients WHERE ?1 IS NULL OR state = ?1 ORDER BY first_seen, id"
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(|e| self.error("reading", &e))?;
        let rows = stmt
            .query_map(params![state.map(ClientState::word)], read_row)
            .map_err(|e| self.error("reading", &e))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(|e| self.error("reading", &e))?);
        }
        Ok(out)
    }

    /// The client known by `key`.
    pub fn find(&self, key: &ClientKey) -> Result<Option<KnownClient>> {
        let (column, value) = key_column(key);
        let sql = format!("SELECT {COLUMNS} FROM clients WHERE {column} = ?1");
        self.conn
            .query_row(&sql, params![value], read_row)
            .optional()
            .map_err(|e| self.error("reading", &e))
    }

    /// Approves the client known by `key` (adding it when new: a
    /// pre-staged client), with what `approval` sets.
    pub fn approve(&mut self, key: &ClientKey, approval: &Approval) -> Result<KnownClient> {
        approval.check(key)?;
        self.upsert(key, ClientState::Approved, Some(approval))
    }

    /// Denies the client known by `key` (adding it when new).
    pub fn deny(&mut self, key: &ClientKey) -> Result<KnownClient> {
        self.upsert(key, ClientState::Denied, None)
    }

    fn upsert(
        &mut self,
        key: &ClientKey,
        state: ClientState,
        approval: Option<&Approval>,
    ) -> Result<KnownClient> {
        let (column, value) = key_column(key);
        let tx = self
            .conn
            .transaction()
            .map_err(|e| db_error(&self.path, "writing", &e))?;
        let allow = approval
            .and_then(|a| a.allow.as_ref())
            .map(|a| serde_json::to_string(a).unwrap_or_default());
        let name = approval.and_then(|a| a.name.clone());
        let boot = approval.and_then(|a| a.boot.clone());
        let sql = format!(
            "INSERT INTO clients ({column}, state, name, allow, boot, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, 0, 0)
             ON CONFLICT ({column}) DO UPDATE SET state = ?2,
                 name = coalesce(?3, name), allow = coalesce(?4, allow), boot = coalesce(?5, boot)"
        );
        tx.execute(&sql, params![value, state.word(), name, allow, boot])
            .map_err(|e| db_error(&self.path, "writing", &e))?;
        tx.commit()
            .map_err(|e| db_error(&self.path, "writing", &e))?;
        self.find(key)?
            .ok_or_else(|| Error::invalid("client", key, "it was written but cannot be read back"))
    }

    /// Removes the client known by `key`; returns whether there was one.
    /// A forgotten client that asks again is pending again.
    pub fn forget(&mut self, key: &ClientKey) -> Result<bool> {
        let (column, value) = key_column(key);
        let n = self
            .conn
            .execute(
                &format!("DELETE FROM clients WHERE {column} = ?1"),
                params![value],
            )
            .map_err(|e| self.error("writing", &e))?;
        Ok(n > 0)
    }

    /// Records a request from the client known by `key` at `now` (seconds
    /// since the Unix epoch): a new client becomes pending (dropping the
    /// least recently seen pending one when [`MAX_PENDING`] are kept), a
    /// known one gets its last-seen time and architecture updated.
    pub fn record_pending(
        &mut self,
        key: &ClientKey,
        arch: Option<ClientArch>,
        now: u64,
    ) -> Result<Recorded> {
        self.record_pending_within(key, arch, now, MAX_PENDING)
    }

    fn record_pending_within(
        &mut self,
        key: &ClientKey,
        arch: Option<ClientArch>,
        now: u64,
        max_pending: usize,
    ) -> Result<Recorded> {
        let (column, value) = key_column(key);
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let arch = arch.map(|a| i64::from(a.0));
        let path = self.path.clone();
        let err = |e: rusqlite::Error| db_error(&path, "writing", &e);
        let tx = self.conn.transaction().map_err(err)?;
        let updated = tx
            .execute(
                &format!(
                    "UPDATE clients SET last_seen = ?2, arch = coalesce(?3, arch),
                         first_seen = CASE first_seen WHEN 0 THEN ?2 ELSE first_seen END
                     WHERE {column} = ?1"
                ),
                params![value, now, arch],
            )
            .map_err(err)?;
        let recorded = if updated > 0 {
            Recorded::Seen
        } else {
            let pending: i64 = tx
                .query_row(
                    "SELECT count(*) FROM clients WHERE state = 'pending'",
                    [],
                    |r| r.get(0),
                )
                .map_err(err)?;
            let excess = pending - i64::try_from(max_pending).unwrap_or(i64::MAX) + 1;
            if excess > 0 {
                tx.execute(
                    "DELETE FROM clients WHERE id IN (SELECT id FROM clients
                         WHERE state = 'pending' ORDER BY last_seen, id LIMIT ?1)",
                    params![excess],
                )
                .map_err(err)?;
            }
            tx.execute(
                &format!(
                    "INSERT INTO clients ({column}, state, arch, first_seen, last_seen)
                     VALUES (?1, 'pending', ?2, ?3, ?3)"
                ),
                params![value, arch, now],
            )
            .map_err(err)?;
            Recorded::New
        };
        tx.commit().map_err(err)?;
        Ok(recorded)
    }

    /// Pre-stages the clients of a CSV file: a header line naming the
    /// columns (`mac`, `uuid`, `name`, `allow`, `boot`; `mac` or `uuid`
    /// needed, the others optional), then one client per line; `allow` is
    /// `all`, `recovery`, `none` or image names separated by `;`. All lines
    /// are checked first and written in one transaction: a bad line names
    /// its number and nothing is written. Returns how many were approved.
    pub fn import_csv(&mut self, text: &str) -> Result<usize> {
        let rows = parse_client_csv(text)?;
        self.import(&rows)
    }

    /// Approves the clients of a parsed list ([`parse_client_csv`]) in one
    /// transaction; returns how many.
    pub fn import(&mut self, rows: &[(ClientKey, Approval)]) -> Result<usize> {
        for (key, approval) in rows {
            approval.check(key)?;
        }
        let path = self.path.clone();
        let err = |e: rusqlite::Error| db_error(&path, "writing", &e);
        let tx = self.conn.transaction().map_err(err)?;
        for (key, approval) in rows {
            let (column, value) = key_column(key);
            let allow = approval
                .allow
                .as_ref()
                .map(|a| serde_json::to_string(a).unwrap_or_default());
            tx.execute(
                &format!(
                    "INSERT INTO clients ({column}, state, name, allow, boot, first_seen, last_seen)
                     VALUES (?1, 'approved', ?2, ?3, ?4, 0, 0)
                     ON CONFLICT ({column}) DO UPDATE SET state = 'approved',
                         name = coalesce(?2, name), allow = coalesce(?3, allow), boot = coalesce(?4, boot)"
                ),
                params![value, approval.name, allow, approval.boot],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(rows.len())
    }

    /// Every client, indexed for the boot server's lookups.
    pub fn snapshot(&self) -> Result<KnownClients> {
        let mut known = KnownClients::default();
        for c in self.list(None)? {
            known.insert(c);
        }
        Ok(known)
    }
}

/// The clients recorded in the server root `root` (all, or those in
/// `state`), pending first; none when the root has no database (nothing is
/// created).
pub fn list_clients(root: &Path, state: Option<ClientState>) -> Result<Vec<KnownClient>> {
    let Some(db) = ClientDb::open_existing(root)? else {
        return Ok(Vec::new());
    };
    let mut clients = db.list(state)?;
    clients.sort_by_key(|c| c.state != ClientState::Pending);
    Ok(clients)
}

/// Approves `key` in the database of the server root `root` (made when
/// missing); the approval is checked first, so a refused one creates and
/// changes nothing.
pub fn approve_client(root: &Path, key: &ClientKey, approval: &Approval) -> Result<KnownClient> {
    approval.check(key)?;
    open_in(root)?.approve(key, approval)
}

/// Denies `key` in the database of the server root `root`.
pub fn deny_client(root: &Path, key: &ClientKey) -> Result<KnownClient> {
    open_in(root)?.deny(key)
}

/// Forgets `key` in the database of the server root `root`; an error names
/// it when there is no such client.
pub fn forget_client(root: &Path, key: &ClientKey) -> Result<()> {
    let missing = || {
        Error::invalid(
            "client",
            key,
            format!("{} has no such client", root.join(CLIENTS_FILE).display()),
        )
    };
    let Some(mut db) = ClientDb::open_existing(root)? else {
        return Err(missing());
    };
    if db.forget(key)? {
        Ok(())
    } else {
        Err(missing())
    }
}

/// Pre-stages (approves) the clients of a CSV list (see
/// [`ClientDb::import_csv`]) in the database of the server root `root`;
/// the whole list is checked before the database is opened.
pub fn import_clients(root: &Path, csv: &str) -> Result<usize> {
    let rows = parse_client_csv(csv)?;
    open_in(root)?.import(&rows)
}

fn open_in(root: &Path) -> Result<ClientDb> {
    if !root.is_dir() {
        return Err(Error::NotFound {
            what: "boot server root directory",
            path: root.to_path_buf(),
        });
    }
    ClientDb::open(&root.join(CLIENTS_FILE))
}

fn db_error(path: &Path, action: &'static str, e: &rusqlite::Error) -> Error {
    Error::ClientStore {
        action,
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn read_row(r: &Row<'_>) -> rusqlite::Result<KnownClient> {
    let text = |i: usize| r.get::<_, Option<String>>(i);
    let time = |i: usize| r.get::<_, i64>(i).map(|t| u64::try_from(t).unwrap_or(0));
    let bad = |i: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("not {what}").into(),
        )
    };
    let mac = match text(0)? {
        Some(m) => Some(m.parse::<MacAddr>().map_err(|_| bad(0, "a MAC address"))?),
        None => None,
    };
    let uuid = match text(1)? {
        Some(u) => Some(Uuid::parse_str(&u).map_err(|_| bad(1, "a UUID"))?),
        None => None,
    };
    let state = ClientState::from_word(&r.get::<_, String>(2)?).ok_or_else(|| bad(2, "a state"))?;
    let allow = match text(4)? {
        Some(a) => Some(serde_json::from_str::<Allow>(&a).map_err(|_| bad(4, "an allow list"))?),
        None => None,
    };
    let arch = r
        .get::<_, Option<i64>>(6)?
        .and_then(|a| u16::try_from(a).ok())
        .map(ClientArch);
    Ok(KnownClient {
        mac,
        uuid,
        state,
        name: text(3)?,
        allow,
        boot: text(5)?,
        arch,
        first_seen: time(7)?,
        last_seen: time(8)?,
    })
}

impl Approval {
    /// Checks an approval of the client `key`: `boot` must be an image
    /// `allow` permits (as in a policy rule), and a name has no control
    /// characters.
    pub fn check(&self, key: &ClientKey) -> Result<()> {
        check_approval(key, self)
    }
}

fn check_approval(key: &ClientKey, a: &Approval) -> Result<()> {
    if let Some(name) = &a.name {
        if name.trim().is_empty() || name.chars().any(char::is_control) || name.len() > 200 {
            return Err(Error::invalid(
                "client name",
                name,
                "expected 1 to 200 characters without control characters",
            ));
        }
    }
    if let (Some(boot), Some(allow)) = (&a.boot, &a.allow) {
        let inside = match allow {
            Allow::None => false,
            Allow::Images(names) => names.iter().any(|n| n.eq_ignore_ascii_case(boot)),
            Allow::Recovery | Allow::All => true,
        };
        if !inside {
            return Err(Error::invalid(
                "client",
                key,
                format!("its boot image {boot:?} is not one it may boot ({allow})"),
            ));
        }
    }
    Ok(())
}

/// `all`, `recovery`, `none`, or names separated by `;` (or `,` on the
/// command line).
pub fn parse_allow(text: &str) -> Result<Allow> {
    match text.trim() {
        "all" => Ok(Allow::All),
        "recovery" => Ok(Allow::Recovery),
        "none" => Ok(Allow::None),
        list => {
            let names: Vec<String> = list
                .split([';', ','])
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect();
            if names.is_empty() {
                return Err(Error::invalid(
                    "allow",
                    text,
                    "expected all, recovery, none or image names",
                ));
            }
            Ok(Allow::Images(names))
        }
    }
}

/// The reason of an invalid-setting error without its trailer, for
/// nesting it in another.
fn reason_of(e: Error) -> String {
    match e {
        Error::InvalidSetting {
            field,
            value,
            reason,
        } => format!("{field} {value:?}: {reason}"),
        other => other.to_string(),
    }
}

/// Reads a client list (see [`ClientDb::import_csv`] for its columns),
/// checking every line; the error names the first bad line.
pub fn parse_client_csv(text: &str) -> Result<Vec<(ClientKey, Approval)>> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((_, header)) = lines.next() else {
        return Err(Error::invalid("client list", "CSV", "it is empty"));
    };
    let columns: Vec<String> = header
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    for c in &columns {
        if !["mac", "uuid", "name", "allow", "boot"].contains(&c.as_str()) {
            return Err(Error::invalid(
                "client list column",
                c,
                "expected mac, uuid, name, allow and boot",
            ));
        }
    }
    if !columns.iter().any(|c| c == "mac" || c == "uuid") {
        return Err(Error::invalid(
            "client list",
            header,
            "the header names neither a mac nor a uuid column",
        ));
    }
    let mut out = Vec::new();
    for (n, line) in lines {
        let at = |why: String| Error::invalid("client list", format!("line {}", n + 1), why);
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != columns.len() {
            return Err(at(format!(
                "{} fields where the header has {}",
                fields.len(),
                columns.len()
            )));
        }
        let get = |name: &str| {
            columns
                .iter()
                .position(|c| c == name)
                .map(|i| fields[i])
                .filter(|v| !v.is_empty())
        };
        let key = match (get("mac"), get("uuid")) {
            (Some(m), _) => m
                .parse::<MacAddr>()
                .map(ClientKey::Mac)
                .map_err(|e| at(reason_of(e)))?,
            (None, Some(u)) => u.parse::<ClientKey>().map_err(|e| at(reason_of(e)))?,
            (None, None) => return Err(at("it has neither a MAC address nor a UUID".into())),
        };
        let approval = Approval {
            name: get("name").map(str::to_string),
            allow: get("allow")
                .map(parse_allow)
                .transpose()
                .map_err(|e| at(reason_of(e)))?,
            boot: get("boot").map(str::to_string),
        };
        approval.check(&key).map_err(|e| at(reason_of(e)))?;
        out.push((key, approval));
    }
    Ok(out)
}

/// Every client of a [`ClientDb`], indexed by MAC and UUID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownClients {
    by_mac: HashMap<MacAddr, KnownClient>,
    by_uuid: HashMap<Uuid, KnownClient>,
}

impl KnownClients {
    fn insert(&mut self, c: KnownClient) {
        if let Some(m) = c.mac {
            self.by_mac.insert(m, c.clone());
        }
        if let Some(u) = c.uuid {
            self.by_uuid.insert(u, c);
        }
    }

    /// The client with this MAC address, else with this UUID.
    pub fn lookup(&self, mac: Option<MacAddr>, uuid: Option<Uuid>) -> Option<&KnownClient> {
        mac.and_then(|m| self.by_mac.get(&m))
            .or_else(|| uuid.and_then(|u| self.by_uuid.get(&u)))
    }

    /// How many clients it holds.
    pub fn len(&self) -> usize {
        self.by_mac.len() + self.by_uuid.values().filter(|c| c.mac.is_none()).count()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn db() -> (tempfile::TempDir, ClientDb) {
        let dir = tempfile::tempdir().unwrap();
        let db = ClientDb::open(&dir.path().join(CLIENTS_FILE)).unwrap();
        (dir, db)
    }

    fn mac(last: u8) -> ClientKey {
        ClientKey::Mac(MacAddr([2, 0, 0, 0, 0, last]))
    }

    #[test]
    fn a_client_goes_from_pending_to_approved_to_denied_to_forgotten() {
        let (_dir, mut db) = db();
        let key = mac(1);
        assert_eq!(
            db.record_pending(&key, Some(ClientArch::X64_UEFI), 100)
                .unwrap(),
            Recorded::New
        );
        assert_eq!(db.record_pending(&key, None, 160).unwrap(), Recorded::Seen);
        let c = db.find(&key).unwrap().unwrap();
        assert_eq!(
            (c.state, c.first_seen, c.last_seen),
            (ClientState::Pending, 100, 160)
        );
        assert_eq!(
            c.arch,
            Some(ClientArch::X64_UEFI),
            "a request without option 93 keeps it"
        );
        let approval = Approval {
            name: Some("bench-7".into()),
            allow: Some(Allow::Images(vec!["deploy".into()])),
            boot: Some("deploy".into()),
        };
        let c = db.approve(&key, &approval).unwrap();
        assert_eq!(c.state, ClientState::Approved);
        assert_eq!(c.label(), "bench-7 (02:00:00:00:00:01)");
        assert_eq!(c.allow, approval.allow);
        // Seen again: still approved.
        db.record_pending(&key, None, 200).unwrap();
        assert_eq!(db.find(&key).unwrap().unwrap().state, ClientState::Approved);
        let c = db.deny(&key).unwrap();
        assert_eq!(
            (c.state, c.name.as_deref()),
            (ClientState::Denied, Some("bench-7"))
        );
        assert_eq!(db.list(Some(ClientState::Pending)).unwrap(), vec![]);
        assert_eq!(db.list(Some(ClientState::Denied)).unwrap().len(), 1);
        assert!(db.forget(&key).unwrap());
        assert!(!db.forget(&key).unwrap());
        assert_eq!(db.find(&key).unwrap(), None);
    }

    #[test]
    fn pre_staged_clients_by_uuid_and_their_boot_image_must_be_allowed() {
        let (_dir, mut db) = db();
        let key: ClientKey = "{8c3e421c-5d1f-4b9c-2177-010203040506}".parse().unwrap();
        let c = db.approve(&key, &Approval::default()).unwrap();
        assert_eq!((c.mac, c.first_seen), (None, 0));
        let snapshot = db.snapshot().unwrap();
        let ClientKey::Uuid(u) = key else {
            unreachable!()
        };
        assert_eq!(
            snapshot.lookup(None, Some(u)).map(|c| c.state),
            Some(ClientState::Approved)
        );
        assert_eq!(snapshot.lookup(Some(MacAddr([9; 6])), None), None);
        let bad = Approval {
            allow: Some(Allow::Images(vec!["a".into()])),
            boot: Some("b".into()),
            ..Approval::default()
        };
        let e = db.approve(&mac(2), &bad).unwrap_err();
        assert!(e.to_string().contains("\"b\""), "{e}");
        assert_eq!(db.find(&mac(2)).unwrap(), None, "nothing written");
    }

    #[test]
    fn pending_clients_are_bounded_and_the_least_recently_seen_goes_first() {
        let (_dir, mut db) = db();
        db.approve(&mac(100), &Approval::default()).unwrap();
        for i in 0..5u8 {
            db.record_pending_within(&mac(i), None, u64::from(i), 3)
                .unwrap();
        }
        db.record_pending_within(&mac(2), None, 50, 3).unwrap();
        db.record_pending_within(&mac(9), None, 60, 3).unwrap();
        let pending: Vec<ClientKey> = db
            .list(Some(ClientState::Pending))
            .unwrap()
            .iter()
            .map(|c| ClientKey::Mac(c.mac.unwrap()))
            .collect();
        assert_eq!(pending, [mac(2), mac(4), mac(9)]);
        assert!(
            db.find(&mac(100)).unwrap().is_some(),
            "approved clients stay"
        );
    }

    #[test]
    fn a_csv_import_is_all_or_nothing() {
        let (_dir, mut db) = db();
        let good = "mac,name,allow,boot\n\
                    52:54:00:aa:bb:01,bench,all,deploy\n\
                    # a comment\n\
                    52:54:00:aa:bb:02,,rescue;tools,\n";
        assert_eq!(db.import_csv(good).unwrap(), 2);
        let c = db
            .find(&"52:54:00:aa:bb:02".parse().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(
            c.allow,
            Some(Allow::Images(vec!["rescue".into(), "tools".into()]))
        );
        assert_eq!(c.state, ClientState::Approved);
        let bad = "mac,uuid\n52:54:00:aa:bb:03,\nnot-a-mac,\n";
        let e = db.import_csv(bad).unwrap_err();
        assert!(
            e.to_string().contains("line") && e.to_string().contains('3'),
            "{e}"
        );
        assert_eq!(
            db.find(&"52:54:00:aa:bb:03".parse().unwrap()).unwrap(),
            None
        );
        for bad in [
            "",
            "name\nx\n",
            "mac,colour\n",
            "mac,name\n52:54:00:aa:bb:04\n",
        ] {
            assert!(db.import_csv(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn another_process_sees_an_approval_without_a_restart() {
        let (dir, mut admin) = db();
        let server = ClientDb::open(&dir.path().join(CLIENTS_FILE)).unwrap();
        let before = server.version().unwrap();
        assert_eq!(server.version().unwrap(), before, "nothing changed");
        admin.approve(&mac(1), &Approval::default()).unwrap();
        assert_ne!(server.version().unwrap(), before);
        assert_eq!(
            server
                .snapshot()
                .unwrap()
                .lookup(Some(MacAddr([2, 0, 0, 0, 0, 1])), None)
                .map(|c| c.state),
            Some(ClientState::Approved)
        );
    }

    proptest! {
        #[test]
        fn client_lists_and_keys_never_panic(text in "[a-z0-9:,;{}\\-\n# ]{0,300}") {
            let _ = parse_client_csv(&text);
            let _ = text.parse::<ClientKey>();
            let _ = parse_allow(&text);
        }
    }
}
