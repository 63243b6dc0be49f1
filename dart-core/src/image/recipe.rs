//! What a recovery image is made of: [`ImageRecipe`] and [`ImageVariant`].
//!
//! A recipe is the part shared by every support-level variant (base WIM,
//! payloads, drivers, startup, remote connection, compression); a variant adds
//! the tool set and the output file. The fields mirror DaRT's wizard and
//! `New-DartConfiguration`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::info::Compression;
use crate::error::{Error, Result};
use crate::model::tools::Tools;

/// Scratch space sizes WinPE accepts, in MB.
pub const SCRATCH_SPACE_CHOICES: [u32; 5] = [32, 64, 128, 256, 512];
/// Longest Remote Connection welcome message DaRT accepts, in characters.
pub const MAX_WELCOME_MESSAGE: usize = 2048;
/// The port Microsoft's DaRT scripts use for Remote Connection.
pub const CONVENTIONAL_REMOTE_PORT: u16 = 3388;

/// Remote Connection settings (used only when the image carries the tool).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemoteConnection {
    /// Listening port, 1-65535; `None` lets Windows choose.
    pub port: Option<u16>,
    /// Shown to the user when the session starts; at most 2,048 characters.
    pub welcome_message: Option<String>,
}

/// What the image runs when Windows PE starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StartupConfig {
    /// The whole `Windows/System32/winpeshl.ini`; `None` generates DaRT's
    /// `[LaunchApps]` order (network starter, remote agent, tool shell).
    pub winpeshl_ini: Option<String>,
    /// The whole `Windows/System32/startnet.cmd`; `None` generates one that
    /// initialises WinPE and loads the added drivers.
    pub startnet_cmd: Option<String>,
}

/// Everything a set of recovery images shares.
///
/// ```no_run
/// use dart_core::image::{build_image, ImageRecipe, ImageVariant};
/// use dart_core::model::tools::Tools;
/// let mut recipe = ImageRecipe::new("boot.wim", "payloads");
/// recipe.name = Some("DaRT10".into());
/// recipe.remote.port = Some(3388);
/// let report = build_image(&recipe, &ImageVariant::new(Tools::EXPLORER | Tools::REMOTE_CONNECTION, "DaRT10.wim"))?;
/// println!("{} bytes", report.outputs[0].bytes);
/// # Ok::<(), dart_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecipe {
    /// The base Windows PE WIM (for example `sources/boot.wim` of Windows media).
    pub base: PathBuf,
    /// Image of the base to start from; `None` takes its boot image, else 1.
    #[serde(default)]
    pub base_index: Option<u32>,
    /// Directory with one subdirectory per tool, named as [`crate::model::tools::ToolInfo::payload_dir`].
    pub payloads: PathBuf,
    /// Directory of drivers (`.inf` and their files) to add.
    #[serde(default)]
    pub drivers: Option<PathBuf>,
    /// Startup configuration.
    #[serde(default)]
    pub startup: StartupConfig,
    /// Remote Connection settings.
    #[serde(default)]
    pub remote: RemoteConnection,
    /// WinPE scratch space in MB (32, 64, 128, 256 or 512).
    #[serde(default)]
    pub scratch_space_mb: Option<u32>,
    /// Image name (`NAME`); default: the variant's, else `DaRT10`.
    #[serde(default)]
    pub name: Option<String>,
    /// Image description (`DESCRIPTION`).
    #[serde(default)]
    pub description: Option<String>,
    /// Output compression; `None` keeps the base's, which lets its data be
    /// copied without recompressing.
    #[serde(default)]
    pub compression: Option<Compression>,
    /// Keep the base's other images in the output, with the boot index on the
    /// composed one (as in Windows media's two-image boot.wim).
    #[serde(default)]
    pub keep_other_images: bool,
    /// Deterministic mode: identical inputs give identical bytes. The value is
    /// the timestamp (Unix seconds) every added file and the image get.
    #[serde(default)]
    pub deterministic: Option<i64>,
    /// Compression threads; 0 lets wimlib choose.
    #[serde(default)]
    pub threads: u32,
}

/// One output of a build: the tools it carries and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageVariant {
    /// The tools this image carries.
    pub tools: Tools,
    /// The WIM file to write; it must not be an input.
    pub output: PathBuf,
    /// Overrides the recipe's name for this variant.
    #[serde(default)]
    pub name: Option<String>,
    /// Overrides the recipe's description for this variant.
    #[serde(default)]
    pub description: Option<String>,
}

impl ImageVariant {
    /// A variant with the recipe's name and description.
    pub fn new(tools: Tools, output: impl Into<PathBuf>) -> ImageVariant {
        ImageVariant {
            tools,
            output: output.into(),
            name: None,
            description: None,
        }
    }
}

/// DaRT's default output name.
pub const DEFAULT_IMAGE_NAME: &str = "DaRT10";

impl ImageRecipe {
    /// A recipe with default settings.
    pub fn new(base: impl Into<PathBuf>, payloads: impl Into<PathBuf>) -> ImageRecipe {
        ImageRecipe {
            base: base.into(),
            base_index: None,
            payloads: payloads.into(),
            drivers: None,
            startup: StartupConfig::default(),
            remote: RemoteConnection::default(),
            scratch_space_mb: None,
            name: None,
            description: None,
            compression: None,
            keep_other_images: false,
            deterministic: None,
            threads: 0,
        }
    }

    /// Checks every setting that does not need the file system.
    pub fn validate_settings(&self) -> Result<()> {
        if self.remote.port == Some(0) {
            return Err(Error::invalid(
                "remote connection port",
                0,
                "ports run from 1 to 65535",
            ));
        }
        if let Some(msg) = &self.remote.welcome_message {
            let n = msg.chars().count();
            if n > MAX_WELCOME_MESSAGE {
                return Err(Error::invalid(
                    "remote connection welcome message",
                    format!("{}...", msg.chars().take(40).collect::<String>()),
                    format!("it has {n} characters; at most {MAX_WELCOME_MESSAGE} are allowed"),
                ));
            }
        }
        if let Some(mb) = self.scratch_space_mb {
            if !SCRATCH_SPACE_CHOICES.contains(&mb) {
                return Err(Error::invalid(
                    "scratch space",
                    mb,
                    "choose 32, 64, 128, 256 or 512 (MB)",
                ));
            }
        }
        if self.base_index == Some(0) {
            return Err(Error::invalid(
                "base image index",
                0,
                "image indexes start at 1",
            ));
        }
        for (field, value) in [
            ("image name", &self.name),
            ("image description", &self.description),
        ] {
            if let Some(v) = value {
                check_xml_text(field, v)?;
            }
        }
        Ok(())
    }

    /// The image name a variant gets.
    pub fn name_for<'a>(&'a self, variant: &'a ImageVariant) -> &'a str {
        variant
            .name
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or(DEFAULT_IMAGE_NAME)
    }

    /// The description a variant gets.
    pub fn description_for<'a>(&'a self, variant: &'a ImageVariant) -> Option<&'a str> {
        variant
            .description
            .as_deref()
            .or(self.description.as_deref())
    }

    /// The payload directory of one tool.
    pub fn payload_dir(&self, tool: &crate::model::tools::ToolInfo) -> PathBuf {
        self.payloads.join(tool.payload_dir())
    }

    /// Inputs that an output must not overwrite.
    pub(crate) fn inputs(&self) -> Vec<&Path> {
        let mut v = vec![self.base.as_path(), self.payloads.as_path()];
        v.extend(self.drivers.as_deref());
        v
    }
}

/// Text that goes into the WIM's XML document must be non-empty and free of
/// control characters other than tab and newline.
pub(crate) fn check_xml_text(field: &'static str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, value, "it cannot be empty"));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\t' && c != '\n' && c != '\r')
    {
        return Err(Error::invalid(
            field,
            value,
            "it cannot contain control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let mut r = ImageRecipe::new("b.wim", "p");
        assert!(r.validate_settings().is_ok());
        r.scratch_space_mb = Some(100);
        assert!(r
            .validate_settings()
            .unwrap_err()
            .to_string()
            .contains("scratch space"));
        r.scratch_space_mb = Some(128);
        r.remote.port = Some(0);
        assert!(r.validate_settings().is_err());
        r.remote.port = Some(CONVENTIONAL_REMOTE_PORT);
        r.remote.welcome_message = Some("x".repeat(MAX_WELCOME_MESSAGE));
        assert!(r.validate_settings().is_ok());
        r.remote.welcome_message = Some("x".repeat(MAX_WELCOME_MESSAGE + 1));
        assert!(r
            .validate_settings()
            .unwrap_err()
            .to_string()
            .contains("2049 characters"));
        r.remote.welcome_message = None;
        r.name = Some("bad\u{1}name".into());
        assert!(r.validate_settings().is_err());
    }
}
