//! What a client is offered: the catalog image and boot file a policy
//! decision leads to, and the checks of a policy against a catalog. The one
//! place that knows both the catalog and the policy.

use super::catalog::{Catalog, CatalogImage, ImageRole};
use super::client_arch::ClientArch;
use super::policy::{AccessPolicy, Allow, Decision};

impl Catalog {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::arch::Architecture;
    use crate::net::catalog::sample_image as image;
    use crate::net::policy::{Client, MacAddr};

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
}
