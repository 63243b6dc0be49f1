//! Staging: copying a media set into a boot server root as a new version
//! of an image, and naming it in the catalog.
//!
//! The order makes updates atomic for clients:
//!
//! 1. the files are copied (never hard-linked, so later edits of the source
//!    cannot change what is served) into `images/NAME/.VERSION.partial`,
//!    synced, and the directory renamed to `images/NAME/VERSION`;
//! 2. the catalog is rewritten atomically with the new version current and
//!    the old one retired;
//! 3. versions beyond [`StageOptions::keep`] are deleted.
//!
//! A failure or a cancel before step 2 removes the partial directory and
//! leaves the catalog as it was; the server never sees a half-copied
//! image. Stagings into one root are serialized by a lock file.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::arch::Architecture;
use crate::model::media::MediaSet;
use crate::net::catalog::{sync_dir, Catalog, CatalogImage, ImageRole, MenuParts, IMAGES_DIR};
use crate::progress::{Control, Phase};

/// BIOS PXE loaders looked for in the media when none is named.
pub const BIOS_PXE_LOADERS: [&str; 3] = ["boot/pxeboot.n12", BIOS_PROMPT_LOADER, "pxelinux.0"];
/// The BIOS PXE loader that waits for F12 (Windows Deployment Services
/// offers it to clients that must confirm a network boot).
pub const BIOS_PROMPT_LOADER: &str = "boot/pxeboot.com";

fn recovery() -> ImageRole {
    ImageRole::Recovery
}

fn two() -> usize {
    2
}

/// How to stage an image. As JSON (for the bindings), only `name` is
/// required: `{"name": "dart", "role": "imaging", "arch": "x64",
/// "bios_loader": "boot/pxeboot.n12", "keep": 3}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageOptions {
    /// The image's name in the catalog: 1 to 64 letters, digits, `.`, `_`
    /// or `-`. Staging a name that exists replaces it with a new version.
    pub name: String,
    /// Recovery (any client) or imaging (listed clients only).
    #[serde(default = "recovery")]
    pub role: ImageRole,
    /// The architecture; `None` takes the one the media has a UEFI loader
    /// for (an error if it has several).
    pub arch: Option<Architecture>,
    /// The BIOS PXE loader's path in the media; `None` looks for one of
    /// [`BIOS_PXE_LOADERS`].
    #[serde(default)]
    pub bios_loader: Option<String>,
    /// How many versions of the image to keep on disk, the new one
    /// included (at least 2, so that clients that started on the previous
    /// version can finish).
    #[serde(default = "two")]
    pub keep: usize,
}

impl StageOptions {
    /// A recovery image of this name, architecture from the media, keeping
    /// two versions.
    pub fn recovery(name: &str) -> StageOptions {
        StageOptions {
            name: name.to_string(),
            role: ImageRole::Recovery,
            arch: None,
            bios_loader: None,
            keep: 2,
        }
    }
}

/// [`stage`] of a [`MediumSpec`](super::MediumSpec): the media as they are, with a built
/// WIM in place of `sources/boot.wim`, or several images behind a menu.
pub fn stage_from(
    media: impl Into<super::MediumSpec>,
    root: &Path,
    options: &StageOptions,
    control: &Control,
) -> Result<CatalogImage> {
    let medium = media.into().prepare()?;
    stage(&medium.set, root, options, control)
}

/// Stages `media` into the server root `root` as the next version of
/// `options.name` and returns its catalog entry. See the
/// [module docs](self) for the order of the steps and what a failure
/// leaves.
///
/// ```no_run
/// use dart_core::model::media::MediaSet;
/// use dart_core::deploy::stage::{stage, StageOptions};
/// use dart_core::progress::Control;
///
/// let media = MediaSet::open("dart-media")?;
/// let staged = stage(&media, "/srv/tftp".as_ref(), &StageOptions::recovery("dart"), &Control::default())?;
/// println!("{} version {} boots from {:?}", staged.name, staged.version, staged.uefi_boot);
/// # Ok::<(), dart_core::Error>(())
/// ```
pub fn stage(
    media: &MediaSet,
    root: &Path,
    options: &StageOptions,
    control: &Control,
) -> Result<CatalogImage> {
    check_name(&options.name)?;
    if options.keep < 2 {
        return Err(Error::invalid(
            "keep",
            options.keep,
            "keep at least 2 versions, so that clients booting the previous one can finish",
        ));
    }
    if root.exists() && !root.is_dir() {
        return Err(Error::invalid(
            "boot server root",
            root.display(),
            "it exists and is not a directory",
        ));
    }
    let arch = match options.arch {
        Some(arch) => arch,
        None => match media.uefi_architectures().as_slice() {
            [one] => *one,
            [] => {
                return Err(Error::invalid(
                    "architecture",
                    "none given",
                    format!(
                        "{} has no UEFI loader (efi/boot/boot*.efi) to tell the architecture by; name it",
                        media.root().display()
                    ),
                ))
            }
            several => {
                return Err(Error::invalid(
                    "architecture",
                    "none given",
                    format!(
                        "{} has loaders for {}; name the one to stage",
                        media.root().display(),
                        several.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
                    ),
                ))
            }
        },
    };
    let uefi = media.find(&arch.efi_loader_path()).map(|f| f.path.clone());
    let bios = match &options.bios_loader {
        Some(path) => Some(
            media
                .find(path)
                .ok_or_else(|| Error::MissingMediaFile {
                    root: media.root().to_path_buf(),
                    file: path.clone(),
                    needed_for: "BIOS PXE clients".into(),
                })?
                .path
                .clone(),
        ),
        None if arch.has_bios() => BIOS_PXE_LOADERS
            .iter()
            .find_map(|p| media.find(p))
            .map(|f| f.path.clone()),
        None => None,
    };
    // pxeboot.com asks for F12 before it boots; offered to clients whose
    // policy wants the key press.
    let bios_prompt = bios
        .as_ref()
        .and_then(|_| media.find(BIOS_PROMPT_LOADER))
        .map(|f| f.path.clone())
        .filter(|p| Some(p) != bios.as_ref());
    if uefi.is_none() && bios.is_none() {
        return Err(Error::MissingMediaFile {
            root: media.root().to_path_buf(),
            file: arch.efi_loader_path(),
            needed_for: format!("{arch} PXE clients (no UEFI or BIOS PXE loader found)"),
        });
    }

    std::fs::create_dir_all(root).map_err(|e| Error::write(root, e))?;
    let _lock = StageLock::take(root)?;
    let mut catalog = Catalog::load(root)?;
    // One image per name whatever the case: the policy and the TFTP
    // lookups compare names without case.
    if let Some(other) = catalog
        .images
        .iter()
        .chain(&catalog.retired)
        .find(|i| i.name.eq_ignore_ascii_case(&options.name) && i.name != options.name)
    {
        return Err(Error::invalid(
            "image name",
            &options.name,
            format!(
                "the catalog has an image named {:?}; names are compared without regard to case, so stage a new version under that name",
                other.name
            ),
        ));
    }
    let images = root.join(IMAGES_DIR).join(&options.name);
    std::fs::create_dir_all(&images).map_err(|e| Error::write(&images, e))?;
    let previous = catalog.current(&options.name).cloned();
    let version = previous
        .iter()
        .chain(catalog.retired.iter().filter(|i| i.name == options.name))
        .map(|i| i.version)
        .max()
        .unwrap_or(0)
        + 1;
    let dir_rel = format!("{IMAGES_DIR}/{}/{version}", options.name);
    let partial = images.join(format!(".{version}.partial"));
    let final_dir = root.join(&dir_rel);
    // Left over from a crashed staging: never named by the catalog.
    let _ = std::fs::remove_dir_all(&partial);
    let _ = std::fs::remove_dir_all(&final_dir);

    let copied = copy_media(media, &partial, control).and_then(|()| {
        std::fs::rename(&partial, &final_dir).map_err(|e| Error::write(&final_dir, e))?;
        sync_dir(&images).map_err(|e| Error::write(&images, e))
    });
    if let Err(e) = copied {
        let _ = std::fs::remove_dir_all(&partial);
        let _ = std::fs::remove_dir_all(&final_dir);
        return Err(e);
    }

    let entry = CatalogImage {
        name: options.name.clone(),
        role: options.role,
        version,
        arch,
        dir: dir_rel.clone(),
        uefi_boot: uefi.map(|p| format!("{dir_rel}/{p}")),
        bios_prompt_boot: bios_prompt.map(|p| format!("{dir_rel}/{p}")),
        bios_boot: bios.map(|p| format!("{dir_rel}/{p}")),
        menu: MenuParts::find(media, &dir_rel),
        files: media.files().len(),
        bytes: media.total_bytes(),
        staged_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    catalog.images.retain(|i| i.name != options.name);
    catalog.images.push(entry.clone());
    catalog.images.sort_by(|a, b| a.name.cmp(&b.name));
    catalog.retired.extend(previous);
    // Keep the newest `keep - 1` retired versions of this image.
    let mut old: Vec<u32> = catalog
        .retired
        .iter()
        .filter(|i| i.name == options.name)
        .map(|i| i.version)
        .collect();
    old.sort_unstable_by(|a, b| b.cmp(a));
    let pruned: Vec<u32> = old.into_iter().skip(options.keep - 1).collect();
    catalog
        .retired
        .retain(|i| i.name != options.name || !pruned.contains(&i.version));
    if let Err(e) = catalog.save(root) {
        let _ = std::fs::remove_dir_all(&final_dir);
        return Err(e);
    }
    for version in pruned {
        // Transfers still reading a pruned version keep their open files.
        let _ = std::fs::remove_dir_all(images.join(version.to_string()));
    }
    Ok(entry)
}

/// Checks an image name: it becomes a directory name and a catalog key.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "image name",
            name,
            "use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'",
        ))
    }
}

/// Copies every file of `media` under `dir` (created), synced.
fn copy_media(media: &MediaSet, dir: &Path, control: &Control) -> Result<()> {
    let total = media.total_bytes();
    let mut done = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    for file in media.files() {
        let to: PathBuf = dir.join(&file.path);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::write(parent, e))?;
        }
        let mut reader = media.source(file).open()?;
        let mut out = File::create(&to).map_err(|e| Error::write(&to, e))?;
        loop {
            if control.cancel.is_cancelled() {
                return Err(Error::Cancelled {
                    operation: "staging",
                    untouched: "the partial copy was removed and the catalog was left as it was",
                });
            }
            let n = reader.read(&mut buf).map_err(|e| Error::read(&to, e))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(|e| Error::write(&to, e))?;
            done += n as u64;
            control
                .progress
                .report(Phase::WritingFiles, &file.path, done, total);
        }
        out.sync_all().map_err(|e| Error::write(&to, e))?;
    }
    Ok(())
}

/// An exclusive lock on a server root's staging, held while alive (the
/// lock goes with the file descriptor).
struct StageLock {
    _file: File,
}

impl StageLock {
    fn take(root: &Path) -> Result<StageLock> {
        let path = root.join(".dart-stage.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::write(&path, e))?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a file descriptor this function owns; the lock is
        // released when the file is closed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(Error::Io {
                action: "locking",
                path,
                source: std::io::Error::last_os_error(),
                untouched: "nothing was staged",
            });
        }
        Ok(StageLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn media(dir: &Path, wim: &[u8]) -> MediaSet {
        for (path, bytes) in [
            ("efi/boot/bootx64.efi", b"loader".as_slice()),
            ("sources/boot.wim", wim),
            ("boot/boot.sdi", b"sdi"),
        ] {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        MediaSet::open(dir).unwrap()
    }

    #[test]
    fn each_staging_is_a_new_version_and_old_ones_are_pruned() {
        let src = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let mut last = None;
        for v in 1..=4u32 {
            let m = media(src.path(), format!("wim {v}").as_bytes());
            let e = stage(
                &m,
                r,
                &StageOptions::recovery("rescue"),
                &Control::default(),
            )
            .unwrap();
            assert_eq!(e.version, v);
            assert_eq!(e.arch, Architecture::X64);
            assert_eq!(
                e.uefi_boot.as_deref(),
                Some(format!("images/rescue/{v}/efi/boot/bootx64.efi").as_str())
            );
            assert_eq!(
                std::fs::read(r.join(&e.dir).join("sources/boot.wim")).unwrap(),
                format!("wim {v}").as_bytes()
            );
            last = Some(e);
        }
        let catalog = Catalog::load(r).unwrap();
        assert_eq!(catalog.images, [last.unwrap()]);
        assert_eq!(
            catalog
                .retired
                .iter()
                .map(|i| i.version)
                .collect::<Vec<_>>(),
            [3]
        );
        let mut on_disk: Vec<_> = std::fs::read_dir(r.join("images/rescue"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        on_disk.sort();
        assert_eq!(on_disk, ["3", "4"]);
    }

    #[test]
    fn a_missing_root_is_created() {
        let src = tempfile::tempdir().unwrap();
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("srv/dart");
        let e = stage(
            &media(src.path(), b"wim"),
            &root,
            &StageOptions::recovery("rescue"),
            &Control::default(),
        )
        .unwrap();
        assert!(root.join(&e.dir).join("sources/boot.wim").is_file());
    }

    #[test]
    fn names_differing_only_in_case_are_one_image() {
        let src = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let m = media(src.path(), b"wim");
        let c = Control::default();
        stage(&m, root.path(), &StageOptions::recovery("rescue"), &c).unwrap();
        let e = stage(&m, root.path(), &StageOptions::recovery("RESCUE"), &c).unwrap_err();
        assert!(
            e.to_string().contains("\"rescue\"")
                && e.to_string().contains("without regard to case"),
            "{e}"
        );
        let catalog = Catalog::load(root.path()).unwrap();
        assert_eq!(catalog.images.len(), 1);
        assert_eq!(catalog.current("Rescue").unwrap().name, "rescue");
    }

    #[test]
    fn links_out_of_the_tree_and_special_files_are_refused() {
        use std::os::unix::fs::symlink;
        let src = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let secret = outside.path().join("shadow");
        std::fs::write(&secret, b"root:$6$secret").unwrap();
        media(src.path(), b"wim");
        let link = src.path().join("boot/shadow");
        symlink(&secret, &link).unwrap();
        let e = MediaSet::open(src.path()).unwrap_err();
        assert!(matches!(e, Error::UnsafeSource { .. }), "{e}");
        let shown = e.to_string();
        assert!(
            shown.contains("boot/shadow") && shown.contains("outside the media tree"),
            "{shown}"
        );
        std::fs::remove_file(&link).unwrap();

        // A link to a file inside the tree is staged as a copy of it.
        symlink("boot.sdi", src.path().join("boot/boot-copy.sdi")).unwrap();
        let staged = stage(
            &MediaSet::open(src.path()).unwrap(),
            root.path(),
            &StageOptions::recovery("rescue"),
            &Control::default(),
        )
        .unwrap();
        let copy = root.path().join(&staged.dir).join("boot/boot-copy.sdi");
        assert!(!copy.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(copy).unwrap(), b"sdi");

        // Dangling links, links to directories and FIFOs are refused.
        symlink("nowhere", src.path().join("dangling")).unwrap();
        let e = MediaSet::open(src.path()).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        std::fs::remove_file(src.path().join("dangling")).unwrap();
        symlink("boot", src.path().join("boot-dir")).unwrap();
        let e = MediaSet::open(src.path()).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        std::fs::remove_file(src.path().join("boot-dir")).unwrap();
        let fifo = std::ffi::CString::new(src.path().join("pipe").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a NUL-terminated path of the test's own.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let e = MediaSet::open(src.path()).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
    }

    #[test]
    fn a_link_planted_after_the_scan_is_not_followed() {
        use std::os::unix::fs::symlink;
        let src = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("shadow"), b"secret").unwrap();
        let m = media(src.path(), b"wim");
        std::fs::remove_file(src.path().join("boot/boot.sdi")).unwrap();
        symlink(
            outside.path().join("shadow"),
            src.path().join("boot/boot.sdi"),
        )
        .unwrap();
        let e = stage(
            &m,
            root.path(),
            &StageOptions::recovery("rescue"),
            &Control::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("boot.sdi"), "{e}");
        assert!(Catalog::load(root.path()).unwrap().images.is_empty());
    }

    #[test]
    fn a_cancelled_or_bad_staging_leaves_the_catalog_and_the_root_as_they_were() {
        let src = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let m = media(src.path(), b"wim");
        stage(
            &m,
            r,
            &StageOptions::recovery("rescue"),
            &Control::default(),
        )
        .unwrap();
        let before = Catalog::load(r).unwrap();
        let control = Control::new(Arc::new(crate::progress::NoProgress));
        control.cancel.cancel();
        let e = stage(&m, r, &StageOptions::recovery("rescue"), &control).unwrap_err();
        assert!(matches!(e, Error::Cancelled { .. }), "{e}");
        assert_eq!(Catalog::load(r).unwrap(), before);
        let entries: Vec<_> = std::fs::read_dir(r.join("images/rescue"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, ["1"]);
        for bad in ["", "../x", "a/b", ".hidden", &"x".repeat(65)] {
            let e = stage(&m, r, &StageOptions::recovery(bad), &Control::default()).unwrap_err();
            assert!(e.to_string().contains("image name"), "{bad}: {e}");
        }
        let opts = StageOptions {
            bios_loader: Some("boot/nope.n12".into()),
            ..StageOptions::recovery("rescue")
        };
        let e = stage(&m, r, &opts, &Control::default()).unwrap_err();
        assert!(e.to_string().contains("boot/nope.n12"), "{e}");
        assert_eq!(Catalog::load(r).unwrap(), before);
    }
}
