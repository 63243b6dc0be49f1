//! The recovery tools a DaRT image can carry, and named sets of them.
//!
//! [`Tools`] is a set of flags, one per tool. Each tool has a stable
//! kebab-case name (`registry-editor`), a display name (`Registry Editor`), the
//! name of its payload subdirectory, and its place inside the image. Names
//! parse case-insensitively, with or without spaces, hyphens or underscores.
//!
//! [`SupportLevels`] holds named presets ("support levels" in the seed): the
//! built-in ones follow DaRT's planning advice, and callers can define more.
//!
//! ```
//! use dart_core::model::tools::{SupportLevels, Tools};
//! let tools: Tools = "explorer, Registry Editor".parse().unwrap();
//! assert_eq!(tools, Tools::EXPLORER | Tools::REGISTRY_EDITOR);
//! assert_eq!(tools.to_string(), "explorer,registry-editor");
//! let end_user = SupportLevels::builtin().get("end-user").unwrap();
//! assert!(!end_user.contains(Tools::DISK_WIPE));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

bitflags::bitflags! {
    /// A set of DaRT recovery tools, one flag per tool.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct Tools: u32 {
        /// Computer Management (event logs, services, disks, autoruns).
        const COMPUTER_MANAGEMENT = 1 << 0;
        /// Crash Analyzer (reads memory dumps with the Debugging Tools).
        const CRASH_ANALYZER = 1 << 1;
        /// Defender (offline malware scan).
        const DEFENDER = 1 << 2;
        /// Disk Commander (repairs partition tables and boot records).
        const DISK_COMMANDER = 1 << 3;
        /// Disk Wipe (erases a disk or volume).
        const DISK_WIPE = 1 << 4;
        /// Explorer (file manager on the offline system).
        const EXPLORER = 1 << 5;
        /// File Restore (undeletes files).
        const FILE_RESTORE = 1 << 6;
        /// File Search.
        const FILE_SEARCH = 1 << 7;
        /// Hotfix Uninstall.
        const HOTFIX_UNINSTALL = 1 << 8;
        /// Locksmith (resets local account passwords).
        const LOCKSMITH = 1 << 9;
        /// Registry Editor on the offline system's hives.
        const REGISTRY_EDITOR = 1 << 10;
        /// Remote Connection (help desk takes over the recovery session).
        const REMOTE_CONNECTION = 1 << 11;
        /// SFC Scan (System File Checker).
        const SFC_SCAN = 1 << 12;
        /// Solution Wizard (asks questions, suggests a tool).
        const SOLUTION_WIZARD = 1 << 13;
        /// TCP/IP Config.
        const TCPIP_CONFIG = 1 << 14;
    }
}

/// What the library knows about one recovery tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolInfo {
    /// The tool's flag.
    pub flag: Tools,
    /// Stable kebab-case name, also the payload subdirectory's name.
    pub name: &'static str,
    /// The name DaRT shows in its wizard.
    pub display_name: &'static str,
    /// The switch of DaRT's `New-DartConfiguration` that selects it.
    pub powershell_switch: &'static str,
    /// Whether DaRT's planning advice keeps it out of end-user images.
    pub sensitive: bool,
}

impl ToolInfo {
    /// The payload subdirectory's name under a payload directory.
    pub fn payload_dir(&self) -> &'static str {
        self.name
    }

    /// Where the tool's payload lives inside the image (WIM path, `/` separated).
    pub fn image_path(&self) -> String {
        format!("/DaRT/Tools/{}", self.name)
    }
}

const fn tool(
    flag: Tools,
    name: &'static str,
    display_name: &'static str,
    powershell_switch: &'static str,
    sensitive: bool,
) -> ToolInfo {
    ToolInfo {
        flag,
        name,
        display_name,
        powershell_switch,
        sensitive,
    }
}

/// Every tool, in flag order.
pub const TOOL_INFO: [ToolInfo; 15] = [
    tool(
        Tools::COMPUTER_MANAGEMENT,
        "computer-management",
        "Computer Management",
        "AddComputerManagement",
        false,
    ),
    tool(
        Tools::CRASH_ANALYZER,
        "crash-analyzer",
        "Crash Analyzer",
        "AddCrashAnalyzer",
        false,
    ),
    tool(
        Tools::DEFENDER,
        "defender",
        "Defender",
        "AddDefender",
        false,
    ),
    tool(
        Tools::DISK_COMMANDER,
        "disk-commander",
        "Disk Commander",
        "AddDiskCommander",
        false,
    ),
    tool(
        Tools::DISK_WIPE,
        "disk-wipe",
        "Disk Wipe",
        "AddDiskWipe",
        true,
    ),
    tool(
        Tools::EXPLORER,
        "explorer",
        "Explorer",
        "AddExplorer",
        false,
    ),
    tool(
        Tools::FILE_RESTORE,
        "file-restore",
        "File Restore",
        "AddFileRestore",
        false,
    ),
    tool(
        Tools::FILE_SEARCH,
        "file-search",
        "File Search",
        "AddFileSearch",
        false,
    ),
    tool(
        Tools::HOTFIX_UNINSTALL,
        "hotfix-uninstall",
        "Hotfix Uninstall",
        "AddHotfixUninstall",
        false,
    ),
    tool(
        Tools::LOCKSMITH,
        "locksmith",
        "Locksmith",
        "AddLocksmith",
        true,
    ),
    tool(
        Tools::REGISTRY_EDITOR,
        "registry-editor",
        "Registry Editor",
        "AddRegistryEditor",
        true,
    ),
    tool(
        Tools::REMOTE_CONNECTION,
        "remote-connection",
        "Remote Connection",
        "AddRemoteConnection",
        false,
    ),
    tool(Tools::SFC_SCAN, "sfc-scan", "SFC Scan", "AddSfcScan", false),
    tool(
        Tools::SOLUTION_WIZARD,
        "solution-wizard",
        "Solution Wizard",
        "AddSolutionWizard",
        false,
    ),
    tool(
        Tools::TCPIP_CONFIG,
        "tcpip-config",
        "TCP/IP Config",
        "AddTcpIpConfig",
        false,
    ),
];

/// Lower-case letters and digits only: the form names are compared in.
fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Tools {
    /// The metadata of every tool in this set, in flag order.
    pub fn infos(self) -> impl Iterator<Item = &'static ToolInfo> {
        TOOL_INFO.iter().filter(move |t| self.contains(t.flag))
    }

    /// The metadata of a single tool; `None` unless `self` is exactly one flag.
    pub fn info(self) -> Option<&'static ToolInfo> {
        TOOL_INFO.iter().find(|t| t.flag == self)
    }

    /// One tool by name: kebab name, display name or PowerShell switch, in any
    /// case, with or without separators (`TCP/IP Config`, `tcpip_config`).
    pub fn from_tool_name(name: &str) -> Result<Tools> {
        let folded = fold(name);
        TOOL_INFO
            .iter()
            .find(|t| {
                folded == fold(t.name)
                    || folded == fold(t.display_name)
                    || folded == fold(t.powershell_switch)
            })
            .map(|t| t.flag)
            .ok_or_else(|| Error::UnknownTool {
                name: name.to_string(),
                known: TOOL_INFO
                    .iter()
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Tools from raw flag bits (C and Python callers); bits that are no tool
    /// are an error naming them.
    pub fn from_bits_checked(bits: u32) -> Result<Tools> {
        Tools::from_bits(bits).ok_or_else(|| Error::UnknownTool {
            name: format!("flags {:#x} in {bits:#x}", bits & !Tools::all().bits()),
            known: format!("flags within {:#x}", Tools::all().bits()),
        })
    }

    /// The kebab names of the tools in this set, in flag order.
    pub fn names(self) -> Vec<&'static str> {
        self.infos().map(|t| t.name).collect()
    }
}

impl fmt::Display for Tools {
    /// Comma-separated kebab names, in flag order; empty for no tools.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

impl FromStr for Tools {
    type Err = Error;

    /// Parses a list separated by commas (or semicolons); `all` and `none`
    /// are accepted as the whole list.
    fn from_str(s: &str) -> Result<Tools> {
        let trimmed = s.trim();
        if trimmed.eq_ignore_ascii_case("all") {
            return Ok(Tools::all());
        }
        if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("none") {
            return Ok(Tools::empty());
        }
        trimmed
            .split([',', ';'])
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .try_fold(Tools::empty(), |acc, n| Ok(acc | Tools::from_tool_name(n)?))
    }
}

impl Serialize for Tools {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

impl<'de> Deserialize<'de> for Tools {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Tools, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        names.iter().try_fold(Tools::empty(), |acc, n| {
            Tools::from_tool_name(n)
                .map(|t| acc | t)
                .map_err(serde::de::Error::custom)
        })
    }
}

/// Named sets of tools, one per support level.
///
/// The built-in levels follow DaRT's planning advice:
///
/// | level | tools |
/// |---|---|
/// | `remote` | Remote Connection and TCP/IP Config: the help desk does the rest remotely |
/// | `end-user` | everything but Disk Wipe, Registry Editor and Locksmith |
/// | `help-desk` | everything but Disk Wipe |
/// | `full` | every tool |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportLevels {
    levels: BTreeMap<String, Tools>,
}

impl SupportLevels {
    /// The built-in levels.
    pub fn builtin() -> SupportLevels {
        let sensitive = TOOL_INFO
            .iter()
            .filter(|t| t.sensitive)
            .fold(Tools::empty(), |acc, t| acc | t.flag);
        let levels = [
            ("remote", Tools::REMOTE_CONNECTION | Tools::TCPIP_CONFIG),
            ("end-user", Tools::all() - sensitive),
            ("help-desk", Tools::all() - Tools::DISK_WIPE),
            ("full", Tools::all()),
        ];
        SupportLevels {
            levels: levels
                .into_iter()
                .map(|(n, t)| (n.to_string(), t))
                .collect(),
        }
    }

    /// Defines (or redefines) a level. Names are kept in lower case.
    pub fn define(&mut self, name: &str, tools: Tools) -> Result<()> {
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::invalid(
                "support level name",
                name,
                "use letters, digits, '-' and '_'",
            ));
        }
        self.levels.insert(name, tools);
        Ok(())
    }

    /// Adds every level of a JSON object `{"name": ["tool", ...], ...}`.
    pub fn define_from_json(&mut self, json: &str) -> Result<()> {
        let parsed: BTreeMap<String, Tools> = serde_json::from_str(json).map_err(|e| {
            Error::invalid(
                "support level definitions",
                json.chars().take(80).collect::<String>(),
                e.to_string(),
            )
        })?;
        for (name, tools) in parsed {
            self.define(&name, tools)?;
        }
        Ok(())
    }

    /// The tools of a level, by name (case-insensitive).
    pub fn get(&self, name: &str) -> Result<Tools> {
        self.levels
            .get(&name.trim().to_ascii_lowercase())
            .copied()
            .ok_or_else(|| Error::UnknownSupportLevel {
                name: name.to_string(),
                known: self.levels.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }

    /// Every level, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Tools)> {
        self.levels.iter().map(|(n, t)| (n.as_str(), *t))
    }
}

impl Default for SupportLevels {
    fn default() -> Self {
        SupportLevels::builtin()
    }
}

/// Fuzzing entry point (also run over the seed corpus by `cargo test`):
/// parses arbitrary text as a tool list and as level definitions.
#[cfg(feature = "fuzzing")]
pub fn fuzz_one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(tools) = text.parse::<Tools>() {
        assert_eq!(
            tools.to_string().parse::<Tools>().ok(),
            Some(tools),
            "tool lists must round-trip"
        );
    }
    let mut levels = SupportLevels::builtin();
    let _ = levels.define_from_json(&text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_flag_has_exactly_one_info() {
        assert_eq!(TOOL_INFO.len(), Tools::all().iter().count());
        for t in Tools::all().iter() {
            assert!(t.info().is_some(), "{t:?}");
        }
    }

    #[test]
    fn names_parse_in_every_spelling() {
        for info in TOOL_INFO {
            for spelling in [info.name, info.display_name, info.powershell_switch] {
                assert_eq!(
                    Tools::from_tool_name(spelling).ok(),
                    Some(info.flag),
                    "{spelling}"
                );
                assert_eq!(
                    Tools::from_tool_name(&spelling.to_uppercase()).ok(),
                    Some(info.flag)
                );
            }
        }
        assert_eq!(
            Tools::from_tool_name("TCP/IP Config").ok(),
            Some(Tools::TCPIP_CONFIG)
        );
    }

    #[test]
    fn unknown_tool_is_named() {
        let err = "explorer,telnet".parse::<Tools>().unwrap_err();
        assert!(err.to_string().contains("\"telnet\""), "{err}");
        assert!(matches!(err, Error::UnknownTool { .. }));
    }

    #[test]
    fn builtin_levels_follow_the_advice() {
        let levels = SupportLevels::builtin();
        let end_user = levels.get("End-User").unwrap();
        assert!(end_user.contains(Tools::REMOTE_CONNECTION));
        for t in [Tools::DISK_WIPE, Tools::REGISTRY_EDITOR, Tools::LOCKSMITH] {
            assert!(!end_user.contains(t));
        }
        assert_eq!(levels.get("full").unwrap(), Tools::all());
        assert!(matches!(
            levels.get("gold"),
            Err(Error::UnknownSupportLevel { .. })
        ));
    }

    #[test]
    fn levels_are_user_definable() {
        let mut levels = SupportLevels::builtin();
        levels
            .define_from_json(r#"{"tier-1": ["explorer", "File Search"]}"#)
            .unwrap();
        assert_eq!(
            levels.get("tier-1").unwrap(),
            Tools::EXPLORER | Tools::FILE_SEARCH
        );
        assert!(levels.define_from_json(r#"{"x": ["nope"]}"#).is_err());
        assert!(levels.define("bad name!", Tools::empty()).is_err());
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(bits in 0u32..(1 << 15)) {
            let tools = Tools::from_bits_truncate(bits);
            prop_assert_eq!(tools.to_string().parse::<Tools>().ok(), Some(tools));
            let json = serde_json::to_string(&tools).unwrap();
            prop_assert_eq!(serde_json::from_str::<Tools>(&json).ok(), Some(tools));
        }
    }
}
