//! Capturing a directory tree as a new WIM (used to make base images and
//! fixtures; DaRT itself starts from an existing boot.wim).

use std::path::{Path, PathBuf};

use wimlib::{AddFlags, ImageIndex, SetInfo, WriteFlags};

use super::info::Compression;
use super::output::{self, PendingOutput};
use super::wim;
use crate::error::{Error, Result};
use crate::progress::Control;

/// One image to capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureImage {
    /// Directory whose contents become the image root.
    pub source: PathBuf,
    /// Image name.
    pub name: String,
    /// Extra XML properties, such as `("WINDOWS/EDITIONID", "WindowsPE")`.
    pub properties: Vec<(String, String)>,
}

/// Captures `images` into a new WIM at `output`, the image at `boot_index`
/// (1-based) marked bootable. With `deterministic`, the GUID and every
/// timestamp in the XML are fixed (file times come from the sources).
pub fn capture(
    images: &[CaptureImage],
    output: &Path,
    compression: Compression,
    boot_index: Option<u32>,
    deterministic: Option<i64>,
    control: &Control,
) -> Result<u64> {
    let fail = |operation: &'static str| {
        move |e: wimlib::Error| Error::Wim {
            operation,
            path: output.to_path_buf(),
            detail: e.to_string(),
            untouched: "no output was written",
        }
    };
    if let Some(b) = boot_index {
        if b == 0 || b as usize > images.len() {
            return Err(Error::invalid(
                "boot index",
                b,
                format!("there are {} image(s)", images.len()),
            ));
        }
    }
    let mut new = wim::lib()
        .create_new_wim(compression.to_wimlib())
        .map_err(fail("creating a WIM"))?;
    for (n, img) in images.iter().enumerate() {
        if !img.source.is_dir() {
            return Err(Error::NotFound {
                what: "capture source directory",
                path: img.source.clone(),
            });
        }
        let src = wim::c_path(&img.source)?;
        let name = wim::c_string("image name", &img.name)?;
        new.add_image(wim::tstr(&src), wim::tstr(&name), None, AddFlags::NO_ACLS)
            .map_err(fail("capturing a directory"))?;
        let index = ImageIndex::new(n as u32 + 1)
            .ok_or_else(|| Error::invalid("image", n, "index overflow"))?;
        for (k, v) in &img.properties {
            let k = wim::c_string("image property", k)?;
            let v = wim::c_string("image property", v)?;
            new.select_image(index)
                .set_property(wim::tstr(&k), Some(wim::tstr(&v)))
                .map_err(fail("setting a property"))?;
        }
    }
    let mut info = SetInfo::default().boot_index(boot_index.and_then(ImageIndex::new));
    let mut flags = WriteFlags::empty();
    if let Some(ts) = deterministic {
        let mut guid = [0u8; 16];
        guid[..8].copy_from_slice(&ts.to_le_bytes());
        guid[8..].copy_from_slice(b"dart-fix");
        info = info.guid(uuid::Uuid::from_bytes(guid));
        flags |= WriteFlags::RETAIN_GUID;
    }
    new.set_info(info).map_err(fail("setting the boot index"))?;
    let item = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    output::watch(&mut new, control, &item);
    let pending = PendingOutput::new(output)?;
    output::write(new.select_all_images(), &pending, flags, 0, control)?;
    if let Some(ts) = deterministic {
        output::pin_xml_times(&pending, ts, true)?;
    }
    pending.commit()
}
