//! Who may boot what: the boot server's access policy.
//!
//! An [`AccessPolicy`] is an ordered list of [`Rule`]s. Each rule matches
//! clients by MAC address, IP address, subnet and PXE client architecture
//! (all the criteria it names must hold) and says which images they may
//! boot ([`Allow`]). The first matching rule decides; a client no rule
//! matches gets the policy's default, which unless changed is
//! [`Allow::Recovery`]: every client may boot the images marked recovery,
//! and only clients listed in a rule may boot OS imaging images.
//!
//! The boot server enforces the decision twice: at proxy-DHCP (the boot
//! file offered) and at TFTP (each file a client reads must belong to an
//! image the client may boot, by the IP address the client got at DHCP).
//!
//! A policy is plain data, read from JSON:
//!
//! ```
//! use dart_core::net::policy::{AccessPolicy, Client, MacAddr};
//! use dart_core::net::catalog::ImageRole;
//!
//! let policy = AccessPolicy::from_json(r#"{
//!     "rules": [
//!         {"name": "imaging bench", "mac": "52:54:00:aa:bb:01", "allow": "all", "boot": "win11-imaging"},
//!         {"name": "lab", "subnet": "10.1.2.0/24", "arch": "x64-uefi", "allow": ["win11-imaging"]},
//!         {"name": "kiosks", "ip": "10.1.3.7", "allow": "none"}
//!     ]
//! }"#)?;
//! let bench = Client { mac: Some("52:54:00:aa:bb:01".parse()?), ..Client::default() };
//! let decision = policy.decide(&bench);
//! assert_eq!(decision.rule, "imaging bench");
//! assert!(decision.permits("win11-imaging", ImageRole::Imaging));
//!
//! let stranger = Client { mac: Some(MacAddr([2, 0, 0, 0, 0, 9])), ..Client::default() };
//! let decision = policy.decide(&stranger);
//! assert_eq!(decision.rule, "default");
//! assert!(decision.permits("dart-recovery", ImageRole::Recovery));
//! assert!(!decision.permits("win11-imaging", ImageRole::Imaging));
//! # Ok::<(), dart_core::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use super::client_arch::ClientArch;
use super::image_role::ImageRole;
pub use super::mac::MacAddr;
use super::tftp::MAX_WINDOWSIZE;
use crate::error::{Error, Result};

/// An IPv4 subnet, written `10.1.2.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subnet {
    /// The network address (host bits zero).
    pub network: Ipv4Addr,
    /// Prefix length, 0 to 32.
    pub prefix: u8,
}

impl Subnet {
    fn mask(self) -> u32 {
        match self.prefix {
            0 => 0,
            p => u32::MAX << (32 - u32::from(p)),
        }
    }

    /// Whether `ip` is inside the subnet.
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = Error;

    fn from_str(s: &str) -> Result<Subnet> {
        let bad = |why: &str| Error::invalid("subnet", s, why.to_string());
        let (ip, prefix) = s
            .split_once('/')
            .ok_or_else(|| bad("write an IPv4 network and a prefix length (10.1.2.0/24)"))?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad("the address is not IPv4"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| bad("the prefix length must be 0 to 32"))?;
        let subnet = Subnet {
            network: ip,
            prefix,
        };
        if u32::from(ip) & !subnet.mask() != 0 {
            return Err(bad("host bits are set; give the network address"));
        }
        Ok(subnet)
    }
}

impl Serialize for Subnet {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subnet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Which images a rule lets its clients boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allow {
    /// Nothing: the client gets no boot file and every TFTP read is refused.
    None,
    /// Images marked [`ImageRole::Recovery`] (the default).
    Recovery,
    /// Every image, OS imaging images included.
    All,
    /// Exactly the images named here, whatever their role: a list
    /// restricts recovery images too. Names compare without regard to case,
    /// as catalog names do.
    Images(Vec<String>),
}

impl Allow {
    /// Whether an image of this name and role is allowed.
    pub fn permits(&self, image: &str, role: ImageRole) -> bool {
        match self {
            Allow::None => false,
            Allow::Recovery => role == ImageRole::Recovery,
            Allow::All => true,
            Allow::Images(names) => names.iter().any(|n| n.eq_ignore_ascii_case(image)),
        }
    }
}

impl fmt::Display for Allow {
    /// As a person reads it: `nothing`, `recovery images`, `every image`,
    /// or the names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Allow::None => f.write_str("nothing"),
            Allow::Recovery => f.write_str("recovery images"),
            Allow::All => f.write_str("every image"),
            Allow::Images(names) if names.is_empty() => f.write_str("nothing"),
            Allow::Images(names) => f.write_str(&names.join(", ")),
        }
    }
}

impl Serialize for Allow {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Allow::None => s.serialize_str("none"),
            Allow::Recovery => s.serialize_str("recovery"),
            Allow::All => s.serialize_str("all"),
            Allow::Images(names) => names.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Allow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            Names(Vec<String>),
        }
        match Raw::deserialize(d)? {
            Raw::Names(n) => Ok(Allow::Images(n)),
            Raw::Word(w) => match w.as_str() {
                "none" => Ok(Allow::None),
                "recovery" => Ok(Allow::Recovery),
                "all" => Ok(Allow::All),
                other => Err(serde::de::Error::custom(format!(
                    "allow {other:?}: use \"none\", \"recovery\", \"all\" or a list of image names"
                ))),
            },
        }
    }
}

/// One rule: the clients it matches and what they may boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Named in logs and denial events.
    pub name: String,
    /// Matches the client with this MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddr>,
    /// Matches the client with this IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
    /// Matches clients with an address in this subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<Subnet>,
    /// Matches clients of this PXE architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<ClientArch>,
    /// What matching clients may boot.
    pub allow: Allow,
    /// The image offered at DHCP to matching clients, if allowed and staged
    /// for their architecture; otherwise a recovery image is offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<String>,
    /// Seconds the generated boot menu waits for a choice, for matching
    /// clients; `None`: the policy's [`MenuSettings::timeout`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Whether matching BIOS clients must press F12 to boot from the
    /// network (`pxeboot.com`) rather than boot at once (`pxeboot.n12`);
    /// `None`: the policy's [`MenuSettings::bios_prompt`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bios_prompt: Option<bool>,
}

/// Which clients the server answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    /// Every client (the rules still decide what it may boot).
    #[default]
    All,
    /// Clients approved in the client database only (see
    /// [`known`](super::known)); others get nothing, and are recorded as
    /// pending when [`AccessPolicy::pending`] is set.
    Known,
    /// No client, known ones included (for maintenance).
    None,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Answer::All => "all",
            Answer::Known => "known",
            Answer::None => "none",
        })
    }
}

/// Settings of one image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSettings {
    /// Which clients may boot it, besides what the rules allow.
    #[serde(default)]
    pub answer: Answer,
}

fn yes() -> bool {
    true
}

/// The longest menu timeout, in seconds (what bcdedit accepts).
pub const MAX_MENU_TIMEOUT: u64 = 999;

/// The boot menus the server generates, for clients whose rule does not
/// say otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MenuSettings {
    /// Seconds the menu waits before it boots the default entry (0 to
    /// 999; 0 boots the default at once).
    pub timeout: u64,
    /// Whether BIOS clients must press F12 (see [`Rule::bios_prompt`]).
    pub bios_prompt: bool,
    /// The TFTP window size the generated stores ask Windows Boot Manager
    /// to read RAM disks with (`ramdisktftpwindowsize`), 1 to 64.
    pub tftp_window: u16,
}

impl Default for MenuSettings {
    /// 30 seconds (as Windows' own stores), no F12, windows of 16 blocks.
    fn default() -> Self {
        MenuSettings {
            timeout: 30,
            bios_prompt: false,
            tftp_window: 16,
        }
    }
}

/// Whether a rule matches a client some of whose facts may be unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Every criterion the rule names holds.
    Yes,
    /// A criterion fails on a known fact.
    No,
    /// No criterion fails, but one is about a fact the server does not
    /// know: the rule matches or not, depending on it.
    Maybe,
}

impl Rule {
    /// The decision of this rule, without limits.
    pub(crate) fn decision(&self) -> Decision {
        Decision {
            rule: self.name.clone(),
            allow: self.allow.clone(),
            boot: self.boot.clone(),
            timeout: self.timeout,
            bios_prompt: self.bios_prompt,
            limits: Vec::new(),
        }
    }

    /// Whether every criterion the rule names holds for `client`; a
    /// criterion on something the server does not know about the client
    /// (no MAC or IP learned yet) does not hold. A rule that names no
    /// criterion matches every client (a catch-all).
    pub fn matches(&self, client: &Client) -> bool {
        self.match_state(client) == Match::Yes
    }

    /// Whether the rule matches `client`, telling a criterion that fails
    /// from one on an unknown fact.
    pub fn match_state(&self, client: &Client) -> Match {
        fn check<C: Copy, V: Copy>(
            criterion: Option<C>,
            fact: Option<V>,
            holds: impl Fn(C, V) -> bool,
        ) -> Match {
            match (criterion, fact) {
                (None, _) => Match::Yes,
                (Some(_), None) => Match::Maybe,
                (Some(c), Some(v)) if holds(c, v) => Match::Yes,
                (Some(_), Some(_)) => Match::No,
            }
        }
        let states = [
            check(self.mac, client.mac, |m, c| m == c),
            check(self.ip, client.ip, |i, c| i == c),
            check(self.subnet, client.ip, |s, c| s.contains(c)),
            check(self.arch, client.arch, |a, c| c.same_as(a)),
        ];
        if states.contains(&Match::No) {
            Match::No
        } else if states.contains(&Match::Maybe) {
            Match::Maybe
        } else {
            Match::Yes
        }
    }
}

/// What the server knows about a client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Client {
    /// From the DHCP request.
    pub mac: Option<MacAddr>,
    /// From the DHCP request (`ciaddr` or option 50) or the TFTP request's
    /// source.
    pub ip: Option<Ipv4Addr>,
    /// DHCP option 93.
    pub arch: Option<ClientArch>,
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(mac) = self.mac {
            parts.push(mac.to_string());
        }
        if let Some(ip) = self.ip {
            parts.push(ip.to_string());
        }
        if let Some(arch) = self.arch {
            parts.push(arch.to_string());
        }
        if parts.is_empty() {
            f.write_str("unknown client")
        } else {
            f.write_str(&parts.join(" "))
        }
    }
}

/// The outcome of [`AccessPolicy::decide`] for one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The rule that decided: its name, or `"default"`; for a
    /// [cautious](AccessPolicy::decide_cautiously) decision, every rule that
    /// might have decided, joined by `" or "`.
    pub rule: String,
    /// What the client may boot.
    pub allow: Allow,
    /// The rule's preferred image ([`Rule::boot`]).
    pub boot: Option<String>,
    /// The rule's menu timeout ([`Rule::timeout`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// The rule's F12 choice ([`Rule::bios_prompt`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bios_prompt: Option<bool>,
    /// Further limits that must also permit an image, each with the reason
    /// it applies (another rule that might have decided, or a claim about
    /// the client that the server could not trust).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<Limit>,
}

/// A limit on a [`Decision`]: what it allows, and why it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Limit {
    /// Why the limit applies, in a few words.
    pub reason: String,
    /// What it allows.
    pub allow: Allow,
}

impl Decision {
    /// Whether the client may boot this image.
    pub fn permits(&self, image: &str, role: ImageRole) -> bool {
        self.allow.permits(image, role) && self.limits.iter().all(|l| l.allow.permits(image, role))
    }

    /// Adds a limit: afterwards only what both the decision and `allow`
    /// permit is permitted, so a limit never raises rights.
    pub fn limit(&mut self, reason: impl Into<String>, allow: Allow) {
        self.limits.push(Limit {
            reason: reason.into(),
            allow,
        });
    }
}

fn default_allow() -> Allow {
    Allow::Recovery
}

/// The ordered rules and the default for clients no rule matches. Rule
/// names are checked (present, unique) whenever a policy is deserialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PolicyFile")]
pub struct AccessPolicy {
    /// Tried in order; the first that matches decides.
    pub rules: Vec<Rule>,
    /// For clients no rule matches.
    pub default: Allow,
    /// The generated boot menus.
    pub menu: MenuSettings,
    /// Which clients the server answers at all.
    pub answer: Answer,
    /// With [`Answer::Known`]: record the clients it does not answer as
    /// pending, for an admin to approve.
    pub pending: bool,
    /// Settings of single images, by name.
    pub images: BTreeMap<String, ImageSettings>,
}

/// A policy as written, before its rule names are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(default = "default_allow")]
    default: Allow,
    #[serde(default)]
    menu: MenuSettings,
    #[serde(default)]
    answer: Answer,
    #[serde(default = "yes")]
    pending: bool,
    #[serde(default)]
    images: BTreeMap<String, ImageSettings>,
}

impl TryFrom<PolicyFile> for AccessPolicy {
    type Error = String;

    fn try_from(file: PolicyFile) -> std::result::Result<AccessPolicy, String> {
        let policy = AccessPolicy {
            rules: file.rules,
            default: file.default,
            menu: file.menu,
            answer: file.answer,
            pending: file.pending,
            images: file.images,
        };
        match policy.check() {
            Ok(()) => Ok(policy),
            Err(Error::InvalidSetting { value, reason, .. }) => Err(format!("{value}: {reason}")),
            Err(other) => Err(other.to_string()),
        }
    }
}

impl Default for AccessPolicy {
    /// No rules; every client may boot recovery images only.
    fn default() -> Self {
        AccessPolicy {
            rules: Vec::new(),
            default: Allow::Recovery,
            menu: MenuSettings::default(),
            answer: Answer::All,
            pending: true,
            images: BTreeMap::new(),
        }
    }
}

impl AccessPolicy {
    /// Parses a policy from JSON (see the [module docs](self)); the error
    /// names the line and column.
    pub fn from_json(text: &str) -> Result<AccessPolicy> {
        serde_json::from_str(text)
            .map_err(|e| Error::invalid("access policy", "JSON", e.to_string()))
    }

    /// Reads a policy file.
    pub fn load(path: &Path) -> Result<AccessPolicy> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        AccessPolicy::from_json(&text).map_err(|e| match e {
            Error::InvalidSetting { reason, .. } => {
                Error::invalid("access policy", path.display(), reason)
            }
            other => other,
        })
    }

    /// Rule names must be unique and non-empty, so that logs are clear; a
    /// rule's `boot` image must be one its `allow` permits.
    fn check(&self) -> Result<()> {
        let menu = self.menu;
        if menu.timeout > MAX_MENU_TIMEOUT {
            return Err(Error::invalid(
                "menu timeout",
                menu.timeout,
                format!("expected 0 to {MAX_MENU_TIMEOUT} seconds"),
            ));
        }
        if !(1..=MAX_WINDOWSIZE).contains(&menu.tftp_window) {
            return Err(Error::invalid(
                "menu tftp_window",
                menu.tftp_window,
                format!("expected 1 to {MAX_WINDOWSIZE} blocks (the server's largest window)"),
            ));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if let Some(t) = rule.timeout.filter(|t| *t > MAX_MENU_TIMEOUT) {
                return Err(Error::invalid(
                    "access policy rule",
                    &rule.name,
                    format!("its menu timeout {t} is over {MAX_MENU_TIMEOUT} seconds"),
                ));
            }
            if let Some(boot) = &rule.boot {
                let outside = match &rule.allow {
                    Allow::None => true,
                    Allow::Images(names) => !names.iter().any(|n| n.eq_ignore_ascii_case(boot)),
                    Allow::Recovery | Allow::All => false,
                };
                if outside {
                    return Err(Error::invalid(
                        "access policy rule",
                        &rule.name,
                        format!(
                            "its boot image {boot:?} is not one it allows ({}); add it to \"allow\" or change \"boot\"",
                            rule.allow
                        ),
                    ));
                }
            }
            if rule.name.trim().is_empty() {
                return Err(Error::invalid(
                    "access policy rule name",
                    format!("rule {}", i + 1),
                    "every rule needs a name, for the logs",
                ));
            }
            if rule.name == "default" || self.rules[..i].iter().any(|r| r.name == rule.name) {
                return Err(Error::invalid(
                    "access policy rule name",
                    &rule.name,
                    "rule names must be unique and not \"default\"",
                ));
            }
        }
        Ok(())
    }

    /// The first rule matching `client`, or the default. A rule about a
    /// fact the server does not know (the MAC of a client seen only by its
    /// address, say) does not match: use this to choose what to offer, and
    /// [`decide_cautiously`](Self::decide_cautiously) to decide what a
    /// client may read.
    pub fn decide(&self, client: &Client) -> Decision {
        match self.rules.iter().find(|r| r.matches(client)) {
            Some(rule) => rule.decision(),
            None => self.default_decision(),
        }
    }

    /// What `client` may boot whatever its unknown facts are: every rule
    /// that might decide (up to the first that surely matches, or the
    /// default) limits the result, so a client the server knows less about
    /// never gets more than it would with every fact known. The same as
    /// [`decide`](Self::decide) when no rule depends on an unknown fact.
    ///
    /// ```
    /// use dart_core::net::policy::{AccessPolicy, Client};
    /// use dart_core::net::catalog::ImageRole;
    ///
    /// let policy = AccessPolicy::from_json(r#"{"rules": [
    ///     {"name": "kiosk", "mac": "52:54:00:00:00:07", "allow": "none"},
    ///     {"name": "lab", "subnet": "10.1.2.0/24", "allow": "all"}
    /// ]}"#)?;
    /// // Seen by its address only: it may be the kiosk.
    /// let unknown = Client { ip: Some("10.1.2.7".parse().unwrap()), ..Client::default() };
    /// assert!(policy.decide(&unknown).permits("deploy", ImageRole::Imaging));
    /// let cautious = policy.decide_cautiously(&unknown);
    /// assert_eq!(cautious.rule, "kiosk or lab");
    /// assert!(!cautious.permits("deploy", ImageRole::Imaging));
    /// # Ok::<(), dart_core::Error>(())
    /// ```
    pub fn decide_cautiously(&self, client: &Client) -> Decision {
        let mut possible: Vec<Decision> = Vec::new();
        let mut settled = false;
        for rule in &self.rules {
            let state = rule.match_state(client);
            if state == Match::No {
                continue;
            }
            possible.push(rule.decision());
            if state == Match::Yes {
                settled = true;
                break;
            }
        }
        if !settled {
            possible.push(self.default_decision());
        }
        let names: Vec<String> = possible.iter().map(|d| d.rule.clone()).collect();
        let mut rest = possible.into_iter();
        let Some(mut decision) = rest.next() else {
            return self.default_decision();
        };
        for other in rest {
            decision.limit(format!("rule {:?} might apply", other.rule), other.allow);
        }
        decision.rule = names.join(" or ");
        decision
    }

    pub(crate) fn default_decision(&self) -> Decision {
        Decision {
            rule: "default".to_string(),
            allow: self.default.clone(),
            boot: None,
            timeout: None,
            bios_prompt: None,
            limits: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mac_and_subnet_parse_and_print() {
        let m: MacAddr = "52-54-00-AB-cd-01".parse().unwrap();
        assert_eq!(m.to_string(), "52:54:00:ab:cd:01");
        for bad in [
            "",
            "52:54:00:ab:cd",
            "52:54:00:ab:cd:01:02",
            "5:54:00:ab:cd:01",
            "zz:54:00:ab:cd:01",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
        let s: Subnet = "10.1.2.0/24".parse().unwrap();
        assert!(s.contains(Ipv4Addr::new(10, 1, 2, 200)));
        assert!(!s.contains(Ipv4Addr::new(10, 1, 3, 1)));
        assert!("0.0.0.0/0"
            .parse::<Subnet>()
            .unwrap()
            .contains(Ipv4Addr::new(1, 2, 3, 4)));
        for bad in ["10.1.2.0", "10.1.2.1/24", "10.1.2.0/33", "x/8"] {
            let e = bad.parse::<Subnet>().unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn first_matching_rule_decides_and_unknown_facts_do_not_match() {
        let policy = AccessPolicy::from_json(
            r#"{"rules": [
                {"name": "bench", "mac": "02:00:00:00:00:01", "allow": "all"},
                {"name": "lab-bios", "subnet": "10.0.0.0/8", "arch": "bios", "allow": "none"},
                {"name": "lab", "subnet": "10.0.0.0/8", "allow": ["imaging"]}
            ]}"#,
        )
        .unwrap();
        let bench = Client {
            mac: Some(MacAddr([2, 0, 0, 0, 0, 1])),
            ip: Some(Ipv4Addr::new(10, 0, 0, 1)),
            arch: Some(ClientArch::BIOS),
        };
        assert_eq!(policy.decide(&bench).rule, "bench");
        let lab_bios = Client { mac: None, ..bench };
        assert_eq!(policy.decide(&lab_bios).rule, "lab-bios");
        assert!(!policy.decide(&lab_bios).permits("r", ImageRole::Recovery));
        let lab = Client {
            arch: Some(ClientArch(9)),
            ..lab_bios
        };
        let d = policy.decide(&lab);
        assert_eq!(d.rule, "lab");
        assert!(d.permits("imaging", ImageRole::Imaging));
        assert!(
            d.permits("IMAGING", ImageRole::Imaging),
            "names compare without case"
        );
        // A list restricts recovery images too.
        assert!(!d.permits("anything", ImageRole::Recovery));
        assert!(!d.permits("other-imaging", ImageRole::Imaging));
        let nobody = Client::default();
        assert_eq!(policy.decide(&nobody).rule, "default");
    }

    #[test]
    fn x64_uefi_codes_7_9_and_16_are_the_same_machine() {
        let rule: Rule =
            serde_json::from_str(r#"{"name": "x", "arch": "x64-uefi", "allow": "all"}"#).unwrap();
        // 16: the same machine booting over HTTP.
        for code in [7, 9, 16] {
            let c = Client {
                arch: Some(ClientArch(code)),
                ..Client::default()
            };
            assert!(rule.matches(&c));
        }
        assert_eq!(ClientArch(9).to_string(), "x64-uefi");
        assert_eq!(ClientArch(16).to_string(), "x64-uefi");
        assert_eq!(ClientArch(19).to_string(), "arm64-uefi");
        assert_eq!(ClientArch(42).to_string(), "arch-42");
        assert_eq!("11".parse::<ClientArch>().unwrap(), ClientArch::ARM64_UEFI);
    }

    #[test]
    fn bad_policies_name_what_is_wrong() {
        for (text, needle) in [
            (r#"{"rules": [{"name": "a", "allow": "some"}]}"#, "some"),
            (
                r#"{"rules": [{"name": "a", "mac": "nope", "allow": "all"}]}"#,
                "nope",
            ),
            (
                r#"{"rules": [{"name": "a", "allow": "all", "colour": 1}]}"#,
                "colour",
            ),
            (
                r#"{"rules": [{"name": "a", "allow": "all"}, {"name": "a", "allow": "none"}]}"#,
                "unique",
            ),
            (r#"{"rules": [{"name": " ", "allow": "all"}]}"#, "rule 1"),
            (
                r#"{"rules": [{"name": "b", "allow": ["x"], "boot": "y"}]}"#,
                "boot image \"y\" is not one it allows (x)",
            ),
            (
                r#"{"rules": [{"name": "n", "allow": "none", "boot": "y"}]}"#,
                "(nothing)",
            ),
        ] {
            let e = AccessPolicy::from_json(text).unwrap_err();
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn a_policy_round_trips_through_json() {
        let policy = AccessPolicy {
            rules: vec![Rule {
                name: "r".into(),
                mac: Some(MacAddr([1, 2, 3, 4, 5, 6])),
                ip: Some(Ipv4Addr::new(1, 2, 3, 4)),
                subnet: Some("1.2.0.0/16".parse().unwrap()),
                arch: Some(ClientArch::X64_UEFI),
                allow: Allow::Images(vec!["a".into()]),
                boot: Some("a".into()),
                timeout: Some(5),
                bios_prompt: Some(true),
            }],
            default: Allow::None,
            menu: MenuSettings {
                timeout: 7,
                bios_prompt: false,
                tftp_window: 8,
            },
            answer: Answer::Known,
            pending: false,
            images: BTreeMap::from([(
                "a".to_string(),
                ImageSettings {
                    answer: Answer::None,
                },
            )]),
        };
        let text = serde_json::to_string(&policy).unwrap();
        assert_eq!(AccessPolicy::from_json(&text).unwrap(), policy);
    }

    proptest! {
        #[test]
        fn a_subnet_contains_exactly_the_addresses_sharing_its_prefix(ip: u32, other: u32, prefix in 0u8..=32) {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            let subnet = Subnet { network: Ipv4Addr::from(ip & mask), prefix };
            prop_assert!(subnet.contains(Ipv4Addr::from(ip)));
            prop_assert_eq!(subnet.contains(Ipv4Addr::from(other)), other & mask == ip & mask);
            prop_assert_eq!(subnet.to_string().parse::<Subnet>().unwrap(), subnet);
        }

        #[test]
        fn policy_parsing_never_panics(text in ".{0,200}") {
            let _ = AccessPolicy::from_json(&text);
        }
    }
}
