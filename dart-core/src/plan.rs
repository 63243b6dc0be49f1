//! The method advisor: the seed's advantages/disadvantages table as code.
//!
//! Given [`SiteFacts`], [`plan`] ranks the three deployment methods, lists
//! the advantages and disadvantages from Microsoft's table that apply to the
//! site, and recommends a combination (the seed notes that more than one
//! method is often right: a recovery partition for most cases and a USB drive
//! for computers that cannot reach the network).
//!
//! ```
//! use dart_core::plan::{plan, Method, SiteFacts, Staff};
//! let facts = SiteFacts { active_directory: true, network_boot_server: true, support_staff: Staff::Central, ..SiteFacts::default() };
//! let p = plan(&facts);
//! assert_eq!(p.ranking[0].method, Method::Network);
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A way of getting the recovery image to a computer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// CD, DVD or USB drive.
    RemovableMedia,
    /// A network boot server (PXE / Windows DS).
    Network,
    /// A recovery partition on the local disk.
    RecoveryPartition,
}

impl Method {
    /// Every method.
    pub const ALL: [Method; 3] = [
        Method::RemovableMedia,
        Method::Network,
        Method::RecoveryPartition,
    ];

    /// Kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Method::RemovableMedia => "removable-media",
            Method::Network => "network",
            Method::RecoveryPartition => "recovery-partition",
        }
    }

    /// The seed's description of the method.
    pub fn description(self) -> &'static str {
        match self {
            Method::RemovableMedia => "The recovery image is written to a CD, DVD, or USB drive to enable support staff to take the recovery tools with them to the unstable computer.",
            Method::Network => "The recovery image is hosted on a network boot server like Windows Deployment Services (Windows DS), which allows users or support staff to stream it to computers on demand.",
            Method::RecoveryPartition => "The recovery image is installed on a local hard drive either manually or by using electronic software distribution systems like System Center Configuration Manager.",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where support staff work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Staff {
    /// At the computers' sites.
    OnSite,
    /// At a central help desk.
    Central,
    /// Both.
    #[default]
    Mixed,
}

impl FromStr for Staff {
    type Err = Error;
    fn from_str(s: &str) -> Result<Staff> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "on-site" | "onsite" | "local" => Ok(Staff::OnSite),
            "central" | "remote" | "help-desk" => Ok(Staff::Central),
            "mixed" | "both" => Ok(Staff::Mixed),
            _ => Err(Error::invalid(
                "support staff",
                s,
                "expected on-site, central or mixed",
            )),
        }
    }
}

/// Size of the IT infrastructure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Infrastructure {
    /// A few sites, few computers.
    Small,
    /// In between.
    #[default]
    Medium,
    /// Many sites or many computers.
    Large,
}

impl FromStr for Infrastructure {
    type Err = Error;
    fn from_str(s: &str) -> Result<Infrastructure> {
        match s.trim().to_ascii_lowercase().as_str() {
            "small" => Ok(Infrastructure::Small),
            "medium" => Ok(Infrastructure::Medium),
            "large" => Ok(Infrastructure::Large),
            _ => Err(Error::invalid(
                "infrastructure",
                s,
                "expected small, medium or large",
            )),
        }
    }
}

/// What is known about a site. Every field has a neutral default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteFacts {
    /// Size of the infrastructure.
    pub infrastructure: Infrastructure,
    /// Active Directory Domain Services is in use.
    pub active_directory: bool,
    /// A network boot server (Windows DS or PXE) exists or can be run.
    pub network_boot_server: bool,
    /// Where support staff work.
    pub support_staff: Staff,
    /// Some computers have no network connection when they fail.
    pub clients_without_network: bool,
    /// Failures that leave the disk unreadable (corrupt MBR) must be covered.
    pub disk_failures: bool,
    /// Different support levels need images with different tools.
    pub multiple_support_levels: bool,
    /// Both 32-bit and 64-bit computers are in use.
    pub mixed_architectures: bool,
    /// Clients' disks have room for a recovery partition.
    pub local_storage_available: bool,
    /// Clients use BitLocker drive encryption.
    pub bitlocker: bool,
    /// BitLocker is already enabled where the image would be deployed.
    pub bitlocker_already_enabled: bool,
    /// The recovery image will be updated often.
    pub frequent_updates: bool,
    /// Electronic software distribution (e.g. Configuration Manager) is in use.
    pub software_distribution: bool,
    /// Sites reach the boot server over slow links.
    pub slow_links: bool,
}

impl Default for SiteFacts {
    fn default() -> Self {
        SiteFacts {
            infrastructure: Infrastructure::Medium,
            active_directory: false,
            network_boot_server: false,
            support_staff: Staff::Mixed,
            clients_without_network: false,
            disk_failures: false,
            multiple_support_levels: false,
            mixed_architectures: false,
            local_storage_available: true,
            bitlocker: false,
            bitlocker_already_enabled: false,
            frequent_updates: false,
            software_distribution: false,
            slow_links: false,
        }
    }
}

impl SiteFacts {
    /// Parses site facts from a JSON object; unknown keys are an error.
    pub fn from_json(json: &str) -> Result<SiteFacts> {
        serde_json::from_str(json).map_err(|e| {
            Error::invalid(
                "site facts",
                json.chars().take(80).collect::<String>(),
                e.to_string(),
            )
        })
    }
}

/// Advantage or disadvantage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Speaks for the method.
    Advantage,
    /// Speaks against it.
    Disadvantage,
}

/// One cell of the seed's table.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Finding {
    /// Stable identifier, e.g. `network.centralized-updates`.
    pub id: &'static str,
    /// The method it is about.
    pub method: Method,
    /// Advantage or disadvantage.
    pub side: Side,
    /// The seed's words.
    pub text: &'static str,
    /// How much it weighs when it applies (1-5).
    pub weight: i32,
    #[serde(skip)]
    applies: fn(&SiteFacts) -> bool,
}

macro_rules! finding {
    ($id:literal, $method:ident, $side:ident, $weight:literal, $text:literal, $applies:expr) => {
        Finding {
            id: $id,
            method: Method::$method,
            side: Side::$side,
            text: $text,
            weight: $weight,
            applies: $applies,
        }
    };
}

/// Every advantage and disadvantage of the seed's table, with when it applies.
pub const FINDINGS: [Finding; 21] = [
    finding!("removable.no-disk-no-network", RemovableMedia, Advantage, 4,
        "Supports scenarios in which the master boot record (MBR) is corrupted and you cannot access the hard disk and supports cases in which there is no network connection.",
        |f| f.disk_failures || f.clients_without_network),
    finding!("removable.multiple-images", RemovableMedia, Advantage, 1,
        "Enables you to create multiple recovery images with different tools to provide different levels of support.",
        |f| f.multiple_support_levels),
    finding!("removable.built-in-burning", RemovableMedia, Advantage, 1,
        "Provides a built-in tool for burning recovery images to removable media.",
        |f| f.support_staff != Staff::Central),
    finding!("removable.staff-on-site", RemovableMedia, Disadvantage, 3,
        "Requires that support staff are physically at the end-user computer to boot into DaRT.",
        |f| f.support_staff != Staff::OnSite),
    finding!("removable.media-per-architecture", RemovableMedia, Disadvantage, 2,
        "Requires time and maintenance to create multiple media with different configurations for 32-bit and 64-bit computers.",
        |f| f.mixed_architectures),
    finding!("network.available-to-all", Network, Advantage, 3,
        "Available to all computers that have access to the network boot server.",
        |f| f.network_boot_server || f.active_directory),
    finding!("network.centralized-updates", Network, Advantage, 3,
        "Recovery images are hosted on a central server, which enables centralized updates.",
        |f| f.frequent_updates || f.infrastructure == Infrastructure::Large),
    finding!("network.remote-connectivity", Network, Advantage, 2,
        "Centralized help desk staff can provide repairs by using remote connectivity.",
        |f| f.support_staff != Staff::OnSite),
    finding!("network.no-local-storage", Network, Advantage, 2,
        "No local storage requirement on the clients.",
        |f| !f.local_storage_available),
    finding!("network.multiple-images", Network, Advantage, 1,
        "Ability to create multiple recovery images with different tools for specific support levels.",
        |f| f.multiple_support_levels),
    finding!("network.secure-server", Network, Disadvantage, 1,
        "The need to secure Windows DS infrastructure to ensure that regular users can start only the DaRT recovery image and not the full operating system imaging process.",
        |_| true),
    finding!("network.needs-network", Network, Disadvantage, 4,
        "Requires that the end-user computer is connected to the network at runtime.",
        |f| f.clients_without_network || !f.network_boot_server && !f.active_directory),
    finding!("network.image-over-network", Network, Disadvantage, 2,
        "Requires that the recovery image is brought across the network.",
        |f| f.slow_links),
    finding!("partition.always-available", RecoveryPartition, Advantage, 3,
        "The recovery image is always available because it is pre-staged on the computer.",
        |f| f.local_storage_available),
    finding!("partition.remote-connection", RecoveryPartition, Advantage, 2,
        "Centralized help desk staff can provide support by using Remote Connection.",
        |f| f.support_staff != Staff::OnSite),
    finding!("partition.centrally-managed", RecoveryPartition, Advantage, 2,
        "The recovery image is centrally managed and deployed.",
        |f| f.software_distribution),
    finding!("partition.no-bitlocker-key-requests", RecoveryPartition, Advantage, 2,
        "Additional recovery key requests on computers that are protected by Windows BitLocker drive encryption are eliminated.",
        |f| f.bitlocker),
    finding!("partition.local-storage", RecoveryPartition, Disadvantage, 5,
        "Local storage is required.",
        |f| !f.local_storage_available),
    finding!("partition.dedicated-unencrypted", RecoveryPartition, Disadvantage, 1,
        "A dedicated, unencrypted partition for recovery image placement is recommended to reduce the risk of a failed boot partition.",
        |f| f.local_storage_available),
    finding!("partition.update-every-computer", RecoveryPartition, Disadvantage, 3,
        "When updating DaRT, you must update all computers in your enterprise instead of just one partition (on the network) or removable device.",
        |f| f.frequent_updates || f.infrastructure == Infrastructure::Large && !f.software_distribution),
    finding!("partition.bitlocker-enabled", RecoveryPartition, Disadvantage, 2,
        "Additional consideration is required if you deploy the recovery image after BitLocker has been enabled.",
        |f| f.bitlocker_already_enabled),
];

impl PartialEq for Finding {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Finding {}

impl Finding {
    /// Whether this finding applies to a site.
    pub fn applies_to(&self, facts: &SiteFacts) -> bool {
        (self.applies)(facts)
    }
}

/// One method's standing at a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// The method.
    pub method: Method,
    /// Sum of applicable advantages minus disadvantages, plus site bonuses.
    pub score: i32,
    /// Applicable advantages.
    pub advantages: Vec<Finding>,
    /// Applicable disadvantages.
    pub disadvantages: Vec<Finding>,
    /// Whether the method cannot work at this site.
    pub ruled_out: bool,
}

/// The advisor's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The facts it was given.
    pub facts: SiteFacts,
    /// Every method, best first.
    pub ranking: Vec<Assessment>,
    /// The methods to use together, primary first.
    pub recommended: Vec<Method>,
    /// Why, one sentence each.
    pub rationale: Vec<String>,
}

/// Ranks the methods for a site and recommends a combination.
pub fn plan(facts: &SiteFacts) -> Plan {
    let mut rationale = Vec::new();
    let mut ranking: Vec<Assessment> = Method::ALL
        .into_iter()
        .map(|method| {
            let applicable = FINDINGS
                .iter()
                .filter(|f| f.method == method && f.applies_to(facts));
            let (advantages, disadvantages): (Vec<Finding>, Vec<Finding>) =
                applicable.partition(|f| f.side == Side::Advantage);
            let mut score = advantages.iter().map(|f| f.weight).sum::<i32>()
                - disadvantages.iter().map(|f| f.weight).sum::<i32>();
            // The seed's prose: small sites favour removable media, AD DS sites Windows DS.
            match method {
                Method::RemovableMedia if facts.infrastructure == Infrastructure::Small => {
                    score += 3
                }
                Method::Network if facts.active_directory => score += 2,
                _ => {}
            }
            let ruled_out = match method {
                Method::RecoveryPartition => !facts.local_storage_available,
                Method::Network => !facts.network_boot_server && !facts.active_directory,
                Method::RemovableMedia => false,
            };
            Assessment {
                method,
                score,
                advantages,
                disadvantages,
                ruled_out,
            }
        })
        .collect();
    ranking.sort_by(|a, b| {
        a.ruled_out
            .cmp(&b.ruled_out)
            .then(b.score.cmp(&a.score))
            .then(a.method.cmp(&b.method))
    });

    let mut recommended = Vec::new();
    if let Some(best) = ranking.first() {
        recommended.push(best.method);
        rationale.push(format!(
            "{} scores highest ({}): {} advantage(s) apply, {} disadvantage(s).",
            best.method,
            best.score,
            best.advantages.len(),
            best.disadvantages.len()
        ));
    }
    let primary = recommended.first().copied();
    let needs_offline = facts.clients_without_network || facts.disk_failures;
    if needs_offline && primary != Some(Method::RemovableMedia) {
        recommended.push(Method::RemovableMedia);
        rationale.push(
            "Keep a USB drive as well: it works when the disk is unreadable or the computer cannot reach the network.".into(),
        );
    }
    if primary == Some(Method::RemovableMedia)
        && facts.local_storage_available
        && facts.support_staff != Staff::OnSite
    {
        recommended.push(Method::RecoveryPartition);
        rationale.push("Add a recovery partition so that central staff can reach computers through Remote Connection without travelling.".into());
    }
    for a in &ranking {
        if a.ruled_out {
            rationale.push(match a.method {
                Method::RecoveryPartition => "A recovery partition is ruled out: the clients have no local storage to spare.".to_string(),
                Method::Network => "Network boot is ruled out: there is no network boot server or directory to host one.".to_string(),
                Method::RemovableMedia => String::new(),
            });
        }
    }
    if recommended.contains(&Method::Network) {
        rationale.push("Use an access policy so that ordinary clients can boot only the recovery image, never the imaging images.".into());
    }
    if recommended.contains(&Method::RecoveryPartition) && facts.bitlocker_already_enabled {
        rationale.push("BitLocker is already on: the recovery partition must be a separate, unencrypted partition added in free space.".into());
    }
    Plan {
        facts: facts.clone(),
        ranking,
        recommended,
        rationale,
    }
}

/// Fuzzing entry point (also run over the seed corpus by `cargo test`):
/// site facts JSON through the planner, which must rank all three methods.
#[cfg(feature = "fuzzing")]
pub fn fuzz_one(data: &[u8]) {
    if let Ok(facts) = serde_json::from_slice::<SiteFacts>(data) {
        let p = plan(&facts);
        assert_eq!(p.ranking.len(), 3);
        assert!(!p.recommended.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_fact_combinations() -> impl Iterator<Item = SiteFacts> {
        (0u32..(1 << 12)).flat_map(|bits| {
            [Staff::OnSite, Staff::Central, Staff::Mixed]
                .into_iter()
                .flat_map(move |staff| {
                    [Infrastructure::Small, Infrastructure::Large]
                        .into_iter()
                        .map(move |infra| {
                            let b = |n: u32| bits & (1 << n) != 0;
                            SiteFacts {
                                infrastructure: infra,
                                active_directory: b(0),
                                network_boot_server: b(1),
                                support_staff: staff,
                                clients_without_network: b(2),
                                disk_failures: b(3),
                                multiple_support_levels: b(4),
                                mixed_architectures: b(5),
                                local_storage_available: b(6),
                                bitlocker: b(7),
                                bitlocker_already_enabled: b(8),
                                frequent_updates: b(9),
                                software_distribution: b(10),
                                slow_links: b(11),
                            }
                        })
                })
        })
    }

    #[test]
    fn every_row_of_the_table_is_reachable() {
        let mut seen = std::collections::HashSet::new();
        let mut top = std::collections::HashSet::new();
        for facts in all_fact_combinations() {
            let p = plan(&facts);
            for a in &p.ranking {
                seen.extend(a.advantages.iter().chain(&a.disadvantages).map(|f| f.id));
            }
            top.insert(p.recommended[0]);
        }
        for f in FINDINGS {
            assert!(seen.contains(f.id), "{} never applies", f.id);
        }
        assert_eq!(top.len(), 3, "every method must be recommendable first");
    }

    #[test]
    fn seed_examples() {
        let small = plan(&SiteFacts {
            infrastructure: Infrastructure::Small,
            support_staff: Staff::OnSite,
            ..SiteFacts::default()
        });
        assert_eq!(small.recommended[0], Method::RemovableMedia);

        let ad = plan(&SiteFacts {
            active_directory: true,
            network_boot_server: true,
            frequent_updates: true,
            support_staff: Staff::Central,
            infrastructure: Infrastructure::Large,
            ..SiteFacts::default()
        });
        assert_eq!(ad.recommended[0], Method::Network);

        let partition_plus_usb = plan(&SiteFacts {
            support_staff: Staff::Central,
            bitlocker: true,
            software_distribution: true,
            clients_without_network: true,
            ..SiteFacts::default()
        });
        assert_eq!(
            partition_plus_usb.recommended,
            vec![Method::RecoveryPartition, Method::RemovableMedia]
        );
    }

    #[test]
    fn no_local_storage_rules_out_the_partition() {
        let p = plan(&SiteFacts {
            local_storage_available: false,
            ..SiteFacts::default()
        });
        let part = p
            .ranking
            .iter()
            .find(|a| a.method == Method::RecoveryPartition)
            .unwrap();
        assert!(part.ruled_out);
        assert_eq!(p.ranking.last().unwrap().method, Method::RecoveryPartition);
    }

    #[test]
    fn facts_round_trip_json_and_reject_unknown_fields() {
        let f = SiteFacts {
            bitlocker: true,
            ..SiteFacts::default()
        };
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<SiteFacts>(&json).unwrap(), f);
        assert!(serde_json::from_str::<SiteFacts>(r#"{"bitlockr": true}"#).is_err());
    }
}
