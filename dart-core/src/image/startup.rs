//! The configuration files a composed image carries.
//!
//! * `Windows/System32/winpeshl.ini`: `[LaunchApps]` runs the network starter,
//!   the remote-recovery agent (when Remote Connection is selected) and the
//!   tool shell, in that order, as DaRT does.
//! * `Windows/System32/startnet.cmd`: initialises WinPE and loads the drivers
//!   that were added under `DaRT/Drivers`.
//! * `DaRT/dart.ini`: the selected tools, scratch space and Remote Connection
//!   settings, for the tool shell and for inspection.

use super::recipe::{ImageRecipe, StartupConfig};
use crate::model::tools::Tools;

/// Relative path (inside the image) of winpeshl.ini.
pub const WINPESHL_PATH: &str = "Windows/System32/winpeshl.ini";
/// Relative path of startnet.cmd.
pub const STARTNET_PATH: &str = "Windows/System32/startnet.cmd";
/// Relative path of DaRT's own configuration.
pub const DART_INI_PATH: &str = "DaRT/dart.ini";
/// Where added drivers go.
pub const DRIVERS_PATH: &str = "DaRT/Drivers";
/// The remote-recovery agent inside the Remote Connection payload.
pub const REMOTE_AGENT: &str = r"%SYSTEMDRIVE%\DaRT\Tools\remote-connection\RemoteRecovery.exe";
/// The tool shell every image starts.
pub const TOOL_SHELL: &str = r"%SYSTEMDRIVE%\DaRT\DartShell.cmd";

/// A generated or given text file for the image, with Windows line endings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// Path inside the image, `/`-separated, relative to the root.
    pub path: &'static str,
    /// Contents.
    pub contents: String,
}

fn crlf(lines: &[String]) -> String {
    let mut s = lines.join("\r\n");
    s.push_str("\r\n");
    s
}

/// winpeshl.ini for a tool set.
pub fn winpeshl_ini(tools: Tools) -> String {
    let mut lines = vec![
        "[LaunchApps]".to_string(),
        r"%SYSTEMROOT%\System32\wpeinit.exe".to_string(),
    ];
    if tools.contains(Tools::REMOTE_CONNECTION) {
        lines.push(format!("{REMOTE_AGENT}, -nomessage"));
    }
    lines.push(format!("%SYSTEMROOT%\\System32\\cmd.exe, /c {TOOL_SHELL}"));
    crlf(&lines)
}

/// startnet.cmd: initialise WinPE, load every added driver.
pub fn startnet_cmd(with_drivers: bool) -> String {
    let mut lines = vec!["@echo off".to_string(), "wpeinit".to_string()];
    if with_drivers {
        lines.push(
            r#"for /r %SYSTEMDRIVE%\DaRT\Drivers %%i in (*.inf) do drvload "%%i""#.to_string(),
        );
    }
    crlf(&lines)
}

/// The tool shell: lists the tools and opens a prompt.
pub fn tool_shell(tools: Tools) -> String {
    let mut lines = vec![
        "@echo off".to_string(),
        "echo Diagnostics and Recovery Toolset".to_string(),
    ];
    for t in tools.infos() {
        lines.push(format!(
            "echo   {} - %SYSTEMDRIVE%\\DaRT\\Tools\\{}",
            t.display_name, t.name
        ));
    }
    lines.push("cmd /k".to_string());
    crlf(&lines)
}

/// DaRT/dart.ini for a recipe and tool set.
pub fn dart_ini(recipe: &ImageRecipe, tools: Tools) -> String {
    let mut lines = vec!["[DaRT]".to_string(), format!("Tools={tools}")];
    if let Some(mb) = recipe.scratch_space_mb {
        lines.push(format!("ScratchSpaceMB={mb}"));
    }
    lines.push(String::new());
    lines.push("[RemoteConnection]".to_string());
    let remote = tools.contains(Tools::REMOTE_CONNECTION);
    lines.push(format!("Enabled={}", u8::from(remote)));
    if remote {
        lines.push(match recipe.remote.port {
            Some(p) => format!("Port={p}"),
            None => "Port=auto".to_string(),
        });
        if let Some(msg) = &recipe.remote.welcome_message {
            // One line: escape backslashes and line breaks.
            let escaped = msg
                .replace('\\', r"\\")
                .replace("\r\n", r"\n")
                .replace(['\n', '\r'], r"\n");
            lines.push(format!("WelcomeMessage={escaped}"));
        }
    }
    crlf(&lines)
}

/// Every configuration file a variant's image gets.
pub fn config_files(recipe: &ImageRecipe, tools: Tools) -> Vec<ConfigFile> {
    let StartupConfig {
        winpeshl_ini: winpeshl,
        startnet_cmd: startnet,
    } = &recipe.startup;
    vec![
        ConfigFile {
            path: WINPESHL_PATH,
            contents: winpeshl.clone().unwrap_or_else(|| winpeshl_ini(tools)),
        },
        ConfigFile {
            path: STARTNET_PATH,
            contents: startnet
                .clone()
                .unwrap_or_else(|| startnet_cmd(recipe.drivers.is_some())),
        },
        ConfigFile {
            path: DART_INI_PATH,
            contents: dart_ini(recipe, tools),
        },
        ConfigFile {
            path: "DaRT/DartShell.cmd",
            contents: tool_shell(tools),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_order_is_network_agent_shell() {
        let ini = winpeshl_ini(Tools::REMOTE_CONNECTION | Tools::EXPLORER);
        let net = ini.find("wpeinit").unwrap();
        let agent = ini.find("RemoteRecovery").unwrap();
        let shell = ini.find("DartShell").unwrap();
        assert!(net < agent && agent < shell, "{ini}");
        assert!(!winpeshl_ini(Tools::EXPLORER).contains("RemoteRecovery"));
    }

    #[test]
    fn dart_ini_carries_remote_settings() {
        let mut r = ImageRecipe::new("b", "p");
        r.remote.port = Some(3388);
        r.remote.welcome_message = Some("Hello\nhelp desk".into());
        let ini = dart_ini(&r, Tools::REMOTE_CONNECTION);
        assert!(ini.contains("Port=3388\r\n"), "{ini}");
        assert!(ini.contains(r"WelcomeMessage=Hello\nhelp desk"), "{ini}");
        assert!(dart_ini(&r, Tools::EXPLORER).contains("Enabled=0"));
    }
}
