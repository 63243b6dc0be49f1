//! Composing recovery images: [`build_image`] and [`build_variants`].
//!
//! One variant: open the base, overlay the staged tree (tool payloads,
//! drivers, startup files) onto the chosen image, set its properties, write.
//! The base's file data is copied as it is stored, never recompressed (unless
//! another compression is asked for).
//!
//! Several variants: the union of their tools is composed and written once to
//! a temporary WIM, so each payload is compressed once; each variant is then
//! derived from it by deleting the tools it lacks and replacing the startup
//! files, and written by copying compressed data. Building three support
//! levels costs little more than building the largest.
//!
//! Everything is checked before anything is written; an output appears
//! complete or not at all.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wimlib::{
    AddFlags, DeleteFlags, ImageIndex, SetInfo, UpdateCommand, UpdateFlags, Wim, WriteFlags,
};

use super::info::{Compression, RecoveryImage};
use super::output::{self, PendingOutput};
use super::recipe::{check_xml_text, ImageRecipe, ImageVariant};
use super::stage::{self, StageMode};
use super::startup;
use super::wim;
use crate::disk::inputs::check_output;
use crate::error::{Error, Result};
use crate::model::tools::Tools;
use crate::progress::{Control, Phase};

/// What was written for one variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputReport {
    /// The WIM file.
    pub path: PathBuf,
    /// The tools it carries.
    pub tools: Tools,
    /// The image name.
    pub name: String,
    /// The composed image's index in the output (its boot index).
    pub boot_index: u32,
    /// File size in bytes.
    pub bytes: u64,
}

/// What a build did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildReport {
    /// The base WIM.
    pub base: PathBuf,
    /// The base image that was used.
    pub base_index: u32,
    /// The output compression.
    pub compression: Compression,
    /// One entry per variant, in the order given.
    pub outputs: Vec<OutputReport>,
}

/// Builds one recovery image. See [`build_variants`].
pub fn build_image(recipe: &ImageRecipe, variant: &ImageVariant) -> Result<BuildReport> {
    build_variants(recipe, std::slice::from_ref(variant), &Control::default())
}

/// Builds several variants (support levels) of a recovery image from one base
/// in one pass over the base's data.
///
/// Checked before anything is written: settings, the base (exists, is a WIM,
/// is complete, has the image), every selected tool's payload directory, the
/// drivers directory, and the outputs (distinct, not an input, in an existing
/// directory). On any error no output file is created or changed.
pub fn build_variants(
    recipe: &ImageRecipe,
    variants: &[ImageVariant],
    control: &Control,
) -> Result<BuildReport> {
    let checked = check_inputs(recipe, variants)?;
    control.progress.report(Phase::Validating, "inputs", 1, 1);
    let union = variants.iter().fold(Tools::empty(), |acc, v| acc | v.tools);
    let work = tempfile::Builder::new()
        .prefix("dart-build-")
        .tempdir()
        .map_err(|e| Error::Io {
            action: "creating a work directory in",
            path: std::env::temp_dir(),
            source: e,
            untouched: "nothing was written",
        })?;
    let mode = match recipe.deterministic {
        Some(ts) => StageMode::CopyWithTime(ts),
        None => StageMode::Link,
    };

    // Stage the payloads of every tool once.
    control.progress.report(Phase::Staging, "payloads", 0, 1);
    let payload_stage = work.path().join("payloads");
    std::fs::create_dir_all(&payload_stage).map_err(|e| Error::write(&payload_stage, e))?;
    for t in union.infos() {
        stage::add_tree(
            &recipe.payload_dir(t),
            &payload_stage.join(&t.image_path()[1..]),
            mode,
        )?;
    }
    if let Some(drivers) = &recipe.drivers {
        stage::add_tree(drivers, &payload_stage.join(startup::DRIVERS_PATH), mode)?;
    }
    control.progress.report(Phase::Staging, "payloads", 1, 1);
    check_cancel(control)?;

    let compression = recipe.compression.unwrap_or(checked.base_compression);
    let mut outputs = Vec::with_capacity(variants.len());
    if let [only] = variants {
        let config = config_stage(work.path(), "config-0", recipe, only.tools)?;
        let wim = wim::open(&recipe.base)?;
        let mut composer = Composer {
            recipe,
            wim,
            index: checked.index,
            source: recipe.base.clone(),
        };
        composer.overlay(&[&payload_stage, &config], mode)?;
        outputs.push(composer.finish(only, &only.output, control)?);
    } else {
        // Compose the union once; its payload data is compressed here only.
        let union_config = config_stage(work.path(), "config-union", recipe, union)?;
        let union_path = work.path().join("union.wim");
        let union_variant = ImageVariant::new(union, &union_path);
        let wim = wim::open(&recipe.base)?;
        let mut composer = Composer {
            recipe,
            wim,
            index: checked.index,
            source: recipe.base.clone(),
        };
        composer.overlay(&[&payload_stage, &union_config], mode)?;
        composer.finish(&union_variant, &union_path, control)?;
        for (n, variant) in variants.iter().enumerate() {
            check_cancel(control)?;
            let config = config_stage(work.path(), &format!("config-{n}"), recipe, variant.tools)?;
            let wim = wim::open(&union_path)?;
            let mut composer = Composer {
                recipe,
                wim,
                index: checked.index_in_union,
                source: union_path.clone(),
            };
            composer.remove_tools(union - variant.tools)?;
            composer.overlay(&[&config], mode)?;
            outputs.push(composer.finish(variant, &variant.output, control)?);
        }
    }
    Ok(BuildReport {
        base: recipe.base.clone(),
        base_index: checked.index.get(),
        compression,
        outputs,
    })
}

struct CheckedInputs {
    index: ImageIndex,
    /// Where the composed image sits in the temporary union WIM.
    index_in_union: ImageIndex,
    base_compression: Compression,
}

fn check_cancel(control: &Control) -> Result<()> {
    if control.cancel.is_cancelled() {
        return Err(Error::Cancelled {
            operation: "building the image",
            untouched: "no output was written",
        });
    }
    Ok(())
}

fn check_inputs(recipe: &ImageRecipe, variants: &[ImageVariant]) -> Result<CheckedInputs> {
    recipe.validate_settings()?;
    if variants.is_empty() {
        return Err(Error::invalid("variants", "[]", "give at least one output"));
    }
    // Base: exists, is a complete WIM, has the image.
    let base = RecoveryImage::open(&recipe.base)?;
    let number = recipe.base_index.unwrap_or_else(|| base.default_index());
    base.image(number)?;
    let index = ImageIndex::new(number).ok_or(Error::NoSuchImage {
        path: recipe.base.clone(),
        index: number,
        count: base.info().image_count,
    })?;
    let index_in_union = if recipe.keep_other_images {
        index
    } else {
        ImageIndex::MIN
    };

    // Payloads and drivers.
    if !recipe.payloads.is_dir() {
        return Err(Error::NotFound {
            what: "payload directory",
            path: recipe.payloads.clone(),
        });
    }
    let union = variants.iter().fold(Tools::empty(), |acc, v| acc | v.tools);
    for t in union.infos() {
        if !recipe.payload_dir(t).is_dir() {
            return Err(Error::MissingToolPayload {
                tool: t.display_name,
                dir: recipe.payloads.clone(),
                expected: t.payload_dir(),
            });
        }
    }
    if let Some(d) = &recipe.drivers {
        if !d.is_dir() {
            return Err(Error::NotFound {
                what: "drivers directory",
                path: d.clone(),
            });
        }
    }

    // Outputs: distinct, not inputs, in existing directories.
    let inputs = recipe.inputs();
    let mut seen = HashSet::new();
    for v in variants {
        for (field, value) in [
            ("image name", &v.name),
            ("image description", &v.description),
        ] {
            if let Some(text) = value {
                check_xml_text(field, text)?;
            }
        }
        let resolved = resolve_output(&v.output)?;
        check_output(&v.output, &inputs)?;
        if !seen.insert(resolved) {
            return Err(Error::invalid(
                "output",
                v.output.display(),
                "two variants would write the same file",
            ));
        }
    }
    Ok(CheckedInputs {
        index,
        index_in_union,
        base_compression: base.info().compression,
    })
}

/// The absolute path an output would have; its directory must exist.
fn resolve_output(output: &Path) -> Result<PathBuf> {
    let name = output.file_name().ok_or_else(|| {
        Error::invalid(
            "output",
            output.display(),
            "it names a directory, not a file",
        )
    })?;
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if output.is_dir() {
        return Err(Error::invalid(
            "output",
            output.display(),
            "it is a directory; name a .wim file",
        ));
    }
    let dir = std::fs::canonicalize(dir).map_err(|_| Error::NotFound {
        what: "output directory",
        path: dir.to_path_buf(),
    })?;
    Ok(dir.join(name))
}

fn config_stage(work: &Path, name: &str, recipe: &ImageRecipe, tools: Tools) -> Result<PathBuf> {
    let dir = work.join(name);
    stage::add_config(&dir, &startup::config_files(recipe, tools))?;
    Ok(dir)
}

/// One image being composed inside an opened WIM.
struct Composer<'r> {
    recipe: &'r ImageRecipe,
    wim: Wim,
    index: ImageIndex,
    source: PathBuf,
}

impl Composer<'_> {
    fn fail(&self, operation: &'static str) -> impl Fn(wimlib::Error) -> Error + '_ {
        move |e| Error::Wim {
            operation,
            path: self.source.clone(),
            detail: e.to_string(),
            untouched: "no output was written",
        }
    }

    /// Overlays staged trees onto the image root.
    fn overlay(&mut self, trees: &[&Path], mode: StageMode) -> Result<()> {
        if let StageMode::CopyWithTime(ts) = mode {
            for t in trees {
                stage::pin_times(t, ts)?;
            }
        }
        let sources = trees
            .iter()
            .map(|t| wim::c_path(t))
            .collect::<Result<Vec<_>>>()?;
        let root = wim::c_string("image path", "/")?;
        let flags = AddFlags::DEREFERENCE | AddFlags::NO_ACLS;
        let commands: Vec<UpdateCommand<'_>> = sources
            .iter()
            .map(|s| UpdateCommand::add(wim::tstr(s), wim::tstr(&root), None, flags))
            .collect();
        self.wim
            .select_image(self.index)
            .update(&commands, UpdateFlags::empty())
            .map_err(self.fail("adding files to the image"))
    }

    /// Deletes the payloads of `tools` from the image.
    fn remove_tools(&mut self, tools: Tools) -> Result<()> {
        let paths = tools
            .infos()
            .map(|t| wim::c_string("image path", &t.image_path()))
            .collect::<Result<Vec<_>>>()?;
        let commands: Vec<UpdateCommand<'_>> = paths
            .iter()
            .map(|p| UpdateCommand::delete(wim::tstr(p), DeleteFlags::RECURSIVE))
            .collect();
        self.wim
            .select_image(self.index)
            .update(&commands, UpdateFlags::empty())
            .map_err(self.fail("removing tools from the image"))
    }

    fn set_property(&self, name: &str, value: Option<&str>) -> Result<()> {
        let n = wim::c_string("image property", name)?;
        let v = value
            .map(|v| wim::c_string("image property", v))
            .transpose()?;
        self.wim
            .select_image(self.index)
            .set_property(wim::tstr(&n), v.as_ref().map(wim::tstr))
            .map_err(self.fail("setting image properties"))
    }

    /// Sets properties, boot index and GUID, writes to `output` atomically.
    fn finish(
        mut self,
        variant: &ImageVariant,
        output: &Path,
        control: &Control,
    ) -> Result<OutputReport> {
        let recipe = self.recipe;
        let name = recipe.name_for(variant).to_string();
        self.set_property("NAME", Some(&name))?;
        let default_description = format!(
            "{name}: DaRT recovery image with {}",
            variant.tools.names().join(", ")
        );
        self.set_property(
            "DESCRIPTION",
            Some(
                recipe
                    .description_for(variant)
                    .unwrap_or(&default_description),
            ),
        )?;
        self.set_property("DART/TOOLS", Some(&variant.tools.to_string()))?;
        self.set_property(
            "DART/BUILDER",
            Some(concat!("dart ", env!("CARGO_PKG_VERSION"))),
        )?;
        let all = recipe.keep_other_images;
        let boot_index = if all { self.index } else { ImageIndex::MIN };
        let mut info = SetInfo::default().boot_index(Some(self.index));
        let mut flags = WriteFlags::empty();
        if let Some(ts) = recipe.deterministic {
            info = info.guid(uuid_from(&deterministic_guid(recipe, variant, ts)));
            flags |= WriteFlags::RETAIN_GUID;
        }
        self.wim
            .set_info(info)
            .map_err(self.fail("setting the boot index"))?;
        if let Some(c) = recipe.compression {
            self.wim
                .set_output_compression_type(c.to_wimlib())
                .map_err(self.fail("setting the compression"))?;
        }
        let item = output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        output::watch(&mut self.wim, control, &item);
        let pending = PendingOutput::new(output)?;
        let image = if all {
            self.wim.select_all_images()
        } else {
            self.wim.select_image(self.index)
        };
        output::write(image, &pending, flags, recipe.threads, control)?;
        if let Some(ts) = recipe.deterministic {
            output::pin_xml_times(&pending, ts, false)?;
        }
        let bytes = pending.commit()?;
        Ok(OutputReport {
            path: output.to_path_buf(),
            tools: variant.tools,
            name,
            boot_index: boot_index.get(),
            bytes,
        })
    }
}

fn deterministic_guid(recipe: &ImageRecipe, variant: &ImageVariant, ts: i64) -> [u8; 16] {
    let mut h = Sha256::new();
    let settings = serde_json::json!({
        "base_index": recipe.base_index,
        "startup": recipe.startup,
        "remote": recipe.remote,
        "scratch": recipe.scratch_space_mb,
        "name": recipe.name_for(variant),
        "description": recipe.description_for(variant),
        "compression": recipe.compression,
        "keep": recipe.keep_other_images,
        "tools": variant.tools.bits(),
        "ts": ts,
    });
    h.update(settings.to_string().as_bytes());
    if let Ok(hdr) = wim::check_file(&recipe.base) {
        h.update(hdr.guid);
    }
    let digest = h.finalize();
    let mut guid = [0u8; 16];
    guid.copy_from_slice(&digest[..16]);
    guid
}

fn uuid_from(bytes: &[u8; 16]) -> uuid::Uuid {
    uuid::Uuid::from_bytes(*bytes)
}
