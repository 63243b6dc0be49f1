//! What a client may boot, all things considered: the admin's record of
//! it ([`known`](super::known)), the policy's answer settings, then its
//! rules. The one place that joins the client database and the policy.
//!
//! - A **denied** client may boot nothing.
//! - An **approved** client with images of its own may boot exactly those
//!   (its record decides, as a rule would); one without is judged by the
//!   rules.
//! - Any other client (unknown, or pending) is judged by the rules, then
//!   limited by the answer settings: with `"answer": "known"` it may boot
//!   nothing, and an image whose own `answer` is `known` is not for it.
//! - An image whose `answer` is `none` is for nobody, and with
//!   `"answer": "none"` the server answers nobody.
//!
//! Limits only ever remove rights ([`Decision::limit`]), so a client the
//! server knows less about never gets more.

use super::catalog::Catalog;
use super::known::{ClientState, KnownClient};
use super::policy::{AccessPolicy, Allow, Answer, Client, Decision};

/// Whether a decision is for choosing what to offer (DHCP: facts the
/// server does not know do not match) or what to serve (TFTP: they might
/// match a stricter rule); see [`AccessPolicy::decide_cautiously`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Choosing what to offer.
    Offer,
    /// Deciding what may be read.
    Serve,
}

/// The decision for `client`, whose database record (by MAC or UUID) is
/// `known`; see the [module docs](self). `catalog` names the images the
/// per-image settings apply to.
pub fn judge(
    policy: &AccessPolicy,
    catalog: &Catalog,
    known: Option<&KnownClient>,
    client: &Client,
    purpose: Purpose,
) -> Decision {
    let approved = known.is_some_and(|k| k.state == ClientState::Approved);
    let mut decision = match known {
        Some(k) if k.state == ClientState::Denied => Decision {
            rule: format!("client {}", k.label()),
            allow: Allow::None,
            boot: None,
            timeout: None,
            bios_prompt: None,
            limits: Vec::new(),
        },
        Some(KnownClient {
            allow: Some(allow),
            boot,
            ..
        }) if approved => Decision {
            rule: format!(
                "client {}",
                known.map(KnownClient::label).unwrap_or_default()
            ),
            allow: allow.clone(),
            boot: boot.clone(),
            timeout: None,
            bios_prompt: None,
            limits: Vec::new(),
        },
        _ => match purpose {
            Purpose::Offer => policy.decide(client),
            Purpose::Serve => policy.decide_cautiously(client),
        },
    };
    if !approved {
        match policy.answer {
            Answer::All => {}
            Answer::Known => {
                let state = match known.map(|k| k.state) {
                    Some(ClientState::Pending) => "pending approval",
                    Some(ClientState::Denied) => "denied",
                    _ if policy.pending => "not a known client (now pending approval)",
                    _ => "not a known client",
                };
                decision.limit(
                    format!("{client} is {state} and the server answers known clients only"),
                    Allow::None,
                );
            }
            Answer::None => {}
        }
    }
    if policy.answer == Answer::None {
        decision.limit("the server answers no client", Allow::None);
    }
    let open_to = |ok: &dyn Fn(Answer) -> bool| -> Vec<String> {
        catalog
            .images
            .iter()
            .chain(&catalog.retired)
            .filter(|i| ok(image_answer(policy, &i.name)))
            .map(|i| i.name.clone())
            .collect()
    };
    let restricted = catalog
        .images
        .iter()
        .map(|i| image_answer(policy, &i.name))
        .any(|a| a == Answer::None || (a == Answer::Known && !approved));
    if restricted {
        let names = if approved {
            open_to(&|a| a != Answer::None)
        } else {
            open_to(&|a| a == Answer::All)
        };
        let reason = if approved {
            "some images answer no client"
        } else {
            "some images answer known clients only"
        };
        decision.limit(reason, Allow::Images(names));
    }
    decision
}

/// The answer setting of the image called `name` (names compare without
/// case).
fn image_answer(policy: &AccessPolicy, name: &str) -> Answer {
    policy
        .images
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or(Answer::All, |(_, s)| s.answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::arch::Architecture;
    use crate::net::catalog::{sample_image as image, ImageRole};
    use crate::net::policy::MacAddr;

    fn catalog() -> Catalog {
        Catalog {
            images: vec![
                image("deploy", ImageRole::Imaging, Architecture::X64, 1),
                image("rescue", ImageRole::Recovery, Architecture::X64, 1),
                image("tools", ImageRole::Recovery, Architecture::X64, 1),
            ],
            retired: Vec::new(),
        }
    }

    fn record(state: ClientState, allow: Option<Allow>) -> KnownClient {
        KnownClient {
            mac: Some(MacAddr([2, 0, 0, 0, 0, 1])),
            uuid: None,
            state,
            name: Some("pc".into()),
            allow,
            boot: None,
            arch: None,
            first_seen: 0,
            last_seen: 0,
        }
    }

    fn may(d: &Decision, catalog: &Catalog) -> Vec<String> {
        catalog
            .images
            .iter()
            .filter(|i| d.permits(&i.name, i.role))
            .map(|i| i.name.clone())
            .collect()
    }

    #[test]
    fn answer_settings_limit_unknown_clients_and_records_decide_for_known_ones() {
        let catalog = catalog();
        let client = Client {
            mac: Some(MacAddr([2, 0, 0, 0, 0, 1])),
            ..Client::default()
        };
        let all = AccessPolicy::from_json(r#"{"images": {"TOOLS": {"answer": "known"}}}"#).unwrap();
        let judge_with = |p: &AccessPolicy, k: Option<&KnownClient>| {
            may(&judge(p, &catalog, k, &client, Purpose::Serve), &catalog)
        };
        assert_eq!(
            judge_with(&all, None),
            ["rescue"],
            "tools is for known clients"
        );
        let approved = record(ClientState::Approved, None);
        assert_eq!(judge_with(&all, Some(&approved)), ["rescue", "tools"]);
        let own = record(ClientState::Approved, Some(Allow::All));
        assert_eq!(judge_with(&all, Some(&own)), ["deploy", "rescue", "tools"]);
        let denied = record(ClientState::Denied, Some(Allow::All));
        assert_eq!(judge_with(&all, Some(&denied)), Vec::<String>::new());
        let pending = record(ClientState::Pending, None);
        assert_eq!(judge_with(&all, Some(&pending)), ["rescue"]);

        let known = AccessPolicy::from_json(
            r#"{"answer": "known", "images": {"deploy": {"answer": "none"}}}"#,
        )
        .unwrap();
        assert_eq!(judge_with(&known, None), Vec::<String>::new());
        let d = judge(&known, &catalog, Some(&pending), &client, Purpose::Offer);
        assert!(
            d.limits
                .iter()
                .any(|l| l.reason.contains("pending approval")),
            "{d:?}"
        );
        assert_eq!(judge_with(&known, Some(&approved)), ["rescue", "tools"]);
        assert_eq!(
            judge_with(&known, Some(&own)),
            ["rescue", "tools"],
            "an image answering nobody is for nobody"
        );
        let none = AccessPolicy::from_json(r#"{"answer": "none"}"#).unwrap();
        assert_eq!(judge_with(&none, None), Vec::<String>::new());
        assert_eq!(judge_with(&none, Some(&own)), Vec::<String>::new());
    }
}
