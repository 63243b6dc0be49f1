//! The images a boot server offers: names, roles, versions, boot files.
//!
//! The catalog lives in the server root as [`CATALOG_FILE`] (JSON). Each
//! image version is a directory of its own, `images/<name>/<version>/`,
//! written completely before the catalog names it (see
//! [`stage`](super::stage::stage)). Replacing an image is therefore one
//! atomic rename of the catalog file: a client that read the old catalog
//! (got the old boot file at DHCP) keeps reading the old version's files,
//! which stay on disk as a [retired](Catalog::retired) version until later
//! updates prune them, and a TFTP transfer already running keeps its open
//! file even when its version is pruned.

use std::fs::File;
use std::io::Write;
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

use super::policy::{AccessPolicy, Allow, ClientArch, Decision};
use crate::arch::Architecture;
use crate::error::{Error, Result};

/// The catalog's file name in the server root.
pub const CATALOG_FILE: &str = "dart-catalog.json";
/// The directory in the server root that holds the staged images.
pub const IMAGES_DIR: &str = "images";

/// What an image is for; the access policy lets every client boot
/// recovery images and only listed clients boot imaging images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageRole {
    /// A recovery image (DaRT): any client may boot it by default.
    Recovery,
    /// An OS imaging (deployment) image: only clients a rule lists.
    Imaging,
}

impl ImageRole {
    /// `recovery` or `imaging`.
    pub fn name(self) -> &'static str {
        match self {
            ImageRole::Recovery => "recovery",
            ImageRole::Imaging => "imaging",
        }
    }
}

impl std::str::FromStr for ImageRole {
    type Err = Error;

    fn from_str(s: &str) -> Result<ImageRole> {
        match s {
            "recovery" => Ok(ImageRole::Recovery),
            "imaging" => Ok(ImageRole::Imaging),
            other => Err(Error::invalid(
                "image role",
                other,
                "use \"recovery\" or \"imaging\"",
            )),
        }
    }
}

/// One staged version of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogImage {
    /// The image's name (letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// Recovery or imaging.
    pub role: ImageRole,
    /// 1 for the first staging, one more for each replacement.
    pub version: u32,
    /// The processor architecture the image boots on.
    pub arch: Architecture,
    /// The version's directory, relative to the root (`images/NAME/VERSION`).
    pub dir: String,
    /// The UEFI PXE boot file, relative to the root, if the media has one.
    pub uefi_boot: Option<String>,
    /// The BIOS PXE boot file, relative to the root, if the media has one.
    pub bios_boot: Option<String>,
    /// Number of files.
    pub files: usize,
    /// Total bytes.
    pub bytes: u64,
    /// When it was staged, in seconds since the Unix epoch.
    pub staged_at: u64,
}

impl CatalogImage {
    /// The boot file for a client of this PXE architecture, if this image
    /// serves it: BIOS clients get [`bios_boot`](Self::bios_boot), UEFI
    /// clients of the image's architecture [`uefi_boot`](Self::uefi_boot).
    pub fn boot_file(&self, arch: ClientArch) -> Option<&str> {
        if arch.same_as(ClientArch::BIOS) {
            return self.bios_boot.as_deref();
        }
        if arch.same_as(ClientArch(self.arch.pxe_uefi_client_arch())) {
            return self.uefi_boot.as_deref();
        }
        None
    }
}

/// The images on offer: the current version of each, and older versions
/// still on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// The current version of each image, sorted by name.
    pub images: Vec<CatalogImage>,
    /// Replaced versions kept on disk so that clients that started on them
    /// can finish; pruned by later stagings.
    #[serde(default)]
    pub retired: Vec<CatalogImage>,
}

impl Catalog {
    /// Reads the catalog of a server root; a root without one has an empty
    /// catalog.
    pub fn load(root: &Path) -> Result<Catalog> {
        let path = root.join(CATALOG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Catalog::default()),
            Err(e) => return Err(Error::read(&path, e)),
        };
        serde_json::from_str(&text).map_err(|e| {
            Error::invalid(
                "image catalog",
                path.display(),
                format!("{e}; restage the images or restore the file"),
            )
        })
    }

    /// Writes the catalog into `root` atomically: a temporary file, synced,
    /// renamed over the old catalog, and the directory synced. A failure
    /// leaves the old catalog in place.
    pub fn save(&self, root: &Path) -> Result<()> {
        let path = root.join(CATALOG_FILE);
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::invalid("image catalog", path.display(), e.to_string()))?;
        let untouched = "the previous catalog was left in place";
        let io = |action, e| Error::Io {
            action,
            path: path.clone(),
            source: e,
            untouched,
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".dart-catalog")
            .tempfile_in(root)
            .map_err(|e| io("creating a temporary file next to", e))?;
        tmp.write_all(&text)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| io("writing", e))?;
        tmp.persist(&path)
            .map_err(|e| io("renaming the new catalog onto", e.error))?;
        sync_dir(root).map_err(|e| io("syncing the directory of", e))
    }

    /// The current version of the image called `name` (compared without
    /// regard to case, as every image name is).
    pub fn current(&self, name: &str) -> Option<&CatalogImage> {
        self.images
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case(name))
    }

    /// The image version (current or retired) whose directory holds `path`
    /// (relative to the root).
    pub fn owner(&self, path: &Path) -> Option<&CatalogImage> {
        let parts: Vec<&str> = path
            .components()
            .take(3)
            .filter_map(|c| match c {
                Component::Normal(s) => s.to_str(),
                _ => None,
            })
            .collect();
        let [images, name, version] = parts.as_slice() else {
            return None;
        };
        if !images.eq_ignore_ascii_case(IMAGES_DIR) {
            return None;
        }
        self.images
            .iter()
            .chain(&self.retired)
            .find(|i| i.name.eq_ignore_ascii_case(name) && i.version.to_string() == *version)
    }

    /// The image to offer a client of architecture `arch` the policy
    /// decided on: the rule's preferred image if it is permitted and serves
    /// the architecture, else the first permitted recovery image, else the
    /// first permitted image. Returns the image and its boot file.
    pub fn boot_for(&self, arch: ClientArch, decision: &Decision) -> Option<(&CatalogImage, &str)> {
        let candidates = || {
            self.images
                .iter()
                .filter(|i| decision.permits(&i.name, i.role))
                .filter_map(|i| i.boot_file(arch).map(|f| (i, f)))
        };
        let preferred = decision
            .boot
            .as_deref()
            .and_then(|name| candidates().find(|(i, _)| i.name.eq_ignore_ascii_case(name)));
        preferred
            .or_else(|| candidates().find(|(i, _)| i.role == ImageRole::Recovery))
            .or_else(|| candidates().next())
    }

    /// What is wrong with `policy` for this catalog, one sentence per
    /// problem (none when it fits): an image it names (in an `allow` list
    /// or as a `boot` image) that is not staged, or a rule allowing
    /// recovery images only that prefers an imaging image.
    pub fn policy_problems(&self, policy: &AccessPolicy) -> Vec<String> {
        let find = |name: &str| {
            self.images
                .iter()
                .find(|i| i.name.eq_ignore_ascii_case(name))
        };
        let staged: Vec<&str> = self.images.iter().map(|i| i.name.as_str()).collect();
        let staged = if staged.is_empty() {
            "no image is staged".to_string()
        } else {
            format!("staged: {}", staged.join(", "))
        };
        let mut problems = Vec::new();
        for rule in &policy.rules {
            let mut named: Vec<&str> = match &rule.allow {
                Allow::Images(names) => names.iter().map(String::as_str).collect(),
                _ => Vec::new(),
            };
            named.extend(rule.boot.as_deref());
            named.sort_unstable_by_key(|n| n.to_ascii_lowercase());
            named.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
            for name in named {
                if find(name).is_none() {
                    problems.push(format!(
                        "rule {:?} names the image {name:?}, which is not staged ({staged})",
                        rule.name
                    ));
                }
            }
            if let (Allow::Recovery, Some(boot)) = (&rule.allow, &rule.boot) {
                if find(boot).is_some_and(|i| i.role == ImageRole::Imaging) {
                    problems.push(format!(
                        "rule {:?} allows recovery images only, but its boot image {boot:?} is an imaging image",
                        rule.name
                    ));
                }
            }
        }
        problems
    }
}

/// Syncs a directory, so that a rename in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::policy::{AccessPolicy, Client, MacAddr};

    fn image(name: &str, role: ImageRole, arch: Architecture, version: u32) -> CatalogImage {
        CatalogImage {
            name: name.into(),
            role,
            version,
            arch,
            dir: format!("images/{name}/{version}"),
            uefi_boot: Some(format!("images/{name}/{version}/efi/boot/bootx64.efi")),
            bios_boot: None,
            files: 1,
            bytes: 1,
            staged_at: 0,
        }
    }

    #[test]
    fn boot_choice_follows_the_policy_and_the_architecture() {
        let catalog = Catalog {
            images: vec![
                image("imaging", ImageRole::Imaging, Architecture::X64, 1),
                image("rescue", ImageRole::Recovery, Architecture::X64, 2),
                image("rescue-arm", ImageRole::Recovery, Architecture::Arm64, 1),
            ],
            retired: vec![image("rescue", ImageRole::Recovery, Architecture::X64, 1)],
        };
        let policy = AccessPolicy::from_json(
            r#"{"rules": [{"name": "bench", "mac": "02:00:00:00:00:01", "allow": ["imaging", "rescue-arm"], "boot": "imaging"}]}"#,
        )
        .unwrap();
        let stranger = policy.decide(&Client::default());
        let (img, file) = catalog.boot_for(ClientArch::X64_UEFI, &stranger).unwrap();
        assert_eq!((img.name.as_str(), img.version), ("rescue", 2));
        assert_eq!(file, "images/rescue/2/efi/boot/bootx64.efi");
        assert_eq!(
            catalog
                .boot_for(ClientArch::ARM64_UEFI, &stranger)
                .unwrap()
                .0
                .name,
            "rescue-arm"
        );
        assert!(catalog.boot_for(ClientArch::BIOS, &stranger).is_none());
        let bench = policy.decide(&Client {
            mac: Some(MacAddr([2, 0, 0, 0, 0, 1])),
            ..Client::default()
        });
        assert_eq!(
            catalog.boot_for(ClientArch(9), &bench).unwrap().0.name,
            "imaging"
        );
        // A preference that does not serve its architecture falls back to
        // a recovery image the client may boot.
        assert_eq!(
            catalog
                .boot_for(ClientArch::ARM64_UEFI, &bench)
                .unwrap()
                .0
                .name,
            "rescue-arm"
        );
    }

    #[test]
    fn policy_problems_name_unknown_images_and_imaging_boots_of_recovery_rules() {
        let catalog = Catalog {
            images: vec![
                image("dart-recovery", ImageRole::Recovery, Architecture::X64, 1),
                image("win11-imaging", ImageRole::Imaging, Architecture::X64, 1),
            ],
            retired: Vec::new(),
        };
        let fits = AccessPolicy::from_json(
            r#"{"rules": [{"name": "all", "allow": ["DART-recovery"], "boot": "dart-recovery"}]}"#,
        )
        .unwrap();
        assert_eq!(catalog.policy_problems(&fits), Vec::<String>::new());
        let bad = AccessPolicy::from_json(
            r#"{"rules": [
                {"name": "typo", "allow": ["dart-recovry", "dart-recovry"]},
                {"name": "sneaky", "allow": "recovery", "boot": "win11-imaging"}
            ]}"#,
        )
        .unwrap();
        let problems = catalog.policy_problems(&bad);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("\"typo\"")
                && problems[0].contains("\"dart-recovry\"")
                && problems[0].contains("staged: dart-recovery, win11-imaging"),
            "{problems:?}"
        );
        assert!(
            problems[1].contains("sneaky") && problems[1].contains("imaging image"),
            "{problems:?}"
        );
    }

    #[test]
    fn owner_maps_files_to_current_and_retired_versions() {
        let catalog = Catalog {
            images: vec![image("rescue", ImageRole::Recovery, Architecture::X64, 2)],
            retired: vec![image("rescue", ImageRole::Recovery, Architecture::X64, 1)],
        };
        let owner = |p: &str| catalog.owner(Path::new(p)).map(|i| i.version);
        assert_eq!(owner("images/rescue/2/sources/boot.wim"), Some(2));
        assert_eq!(owner("Images/RESCUE/1/efi/boot/bootx64.efi"), Some(1));
        assert_eq!(owner("images/rescue/3/x"), None);
        assert_eq!(owner("images/rescue"), None);
        assert_eq!(owner("dart-catalog.json"), None);
        assert_eq!(owner("other/rescue/2/x"), None);
    }

    #[test]
    fn save_is_atomic_and_load_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Catalog::load(dir.path()).unwrap(), Catalog::default());
        let catalog = Catalog {
            images: vec![image("rescue", ImageRole::Recovery, Architecture::X64, 1)],
            retired: Vec::new(),
        };
        catalog.save(dir.path()).unwrap();
        assert_eq!(Catalog::load(dir.path()).unwrap(), catalog);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [CATALOG_FILE], "no temporary file left behind");
        std::fs::write(dir.path().join(CATALOG_FILE), "{ not json").unwrap();
        let e = Catalog::load(dir.path()).unwrap_err();
        assert!(e.to_string().contains(CATALOG_FILE), "{e}");
    }
}
