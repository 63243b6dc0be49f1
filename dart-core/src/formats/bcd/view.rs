//! Listings of a store: bcdedit-like text and the JSON form.

use serde::Serialize;
use uuid::Uuid;

use super::element::ElementView;
use super::names::{self, element_name, object_title};
use super::store::{Store, StoreProblem};

/// One object as `dart bcd show --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectView {
    /// `{guid}`.
    pub id: String,
    /// The alias bcdedit prints (`{bootmgr}`, `{default}`), if any.
    pub alias: Option<String>,
    /// The object type, `0x10200003`.
    #[serde(rename = "type")]
    pub kind: String,
    /// bcdedit's title for the type ("Windows Boot Loader").
    pub name: String,
    /// The description element.
    pub description: Option<String>,
    /// The elements, in stored order.
    pub elements: Vec<ElementView>,
}

/// A whole store as `dart bcd show --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreView {
    /// The objects: `{bootmgr}` first, then the menu's entries in order,
    /// then the rest as stored.
    pub objects: Vec<ObjectView>,
}

impl Store {
    /// How an object id prints: `{default}` for the default entry, the
    /// alias of a well-known object, else `{guid}`.
    pub fn render_id(&self, id: &Uuid) -> String {
        if self.default_entry().as_ref() == Some(id) {
            return "{default}".into();
        }
        names::render_id(id)
    }

    /// The object an id given by a user names: `{guid}` (braces
    /// optional), a bcdedit alias (`{bootmgr}`, `{memdiag}`, ...) or
    /// `{default}` (the boot manager's default entry). The object must
    /// exist.
    pub fn resolve(&self, text: &str) -> crate::Result<Uuid> {
        let t = text.trim();
        let id = if t
            .trim_matches(|c| c == '{' || c == '}')
            .eq_ignore_ascii_case("default")
        {
            self.default_entry()
        } else {
            names::parse_id(t)
        };
        match id {
            Some(id) if self.object_key(&id).is_some() => Ok(id),
            Some(_) => Err(self.problem(StoreProblem::NoSuchObject(t.to_string()))),
            None => Err(crate::Error::invalid(
                "object id",
                t,
                "expected {guid}, an alias such as {bootmgr}, or {default}",
            )),
        }
    }

    /// The listing.
    pub fn view(&self) -> StoreView {
        let render = self.renderer();
        StoreView {
            objects: self
                .listed()
                .iter()
                .map(|o| object_view(o, &render))
                .collect(),
        }
    }

    /// The objects in listing order: `{bootmgr}`, the menu's entries in
    /// order, then the rest by id (the same listing for a store in memory
    /// and the same store read back).
    fn listed(&self) -> Vec<super::Object> {
        let mut objects = self.objects();
        let order = self.display_order();
        let rank = |id: &Uuid| {
            if *id == names::BOOTMGR {
                0
            } else {
                order
                    .iter()
                    .position(|o| o == id)
                    .map_or(usize::MAX, |p| p + 1)
            }
        };
        objects.sort_by_key(|o| (rank(&o.id), o.id));
        objects
    }

    /// How ids print in listings: `{default}` for the default entry, else
    /// as [`names::render_id`].
    fn renderer(&self) -> impl Fn(&Uuid) -> String {
        let default = self.default_entry();
        move |u: &Uuid| {
            if default.as_ref() == Some(u) {
                "{default}".to_string()
            } else {
                names::render_id(u)
            }
        }
    }

    /// The listing as bcdedit prints `/enum all`.
    pub fn to_text(&self) -> String {
        let render = self.renderer();
        let mut out = String::new();
        for o in &self.listed() {
            let v = object_view(o, &render);
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&v.name);
            out.push('\n');
            out.push_str(&"-".repeat(v.name.chars().count()));
            out.push('\n');
            line(&mut out, "identifier", &[v.alias.unwrap_or(v.id)]);
            for ((code, value), ev) in o.elements.iter().zip(&v.elements) {
                line(&mut out, &ev.name, &value.render(*code, &render));
            }
        }
        out
    }
}

/// One object as the listing shows it.
fn object_view(o: &super::Object, render: &impl Fn(&Uuid) -> String) -> ObjectView {
    let id = format!("{{{}}}", o.id);
    ObjectView {
        alias: Some(render(&o.id)).filter(|a| *a != id),
        id,
        kind: format!("{:#010x}", o.kind),
        name: object_title(o.kind).to_string(),
        description: o.description.clone(),
        elements: o
            .elements
            .iter()
            .map(|(code, v)| ElementView {
                code: format!("{code:#010x}"),
                name: element_name(o.kind, *code)
                    .map_or_else(|| format!("custom:{code:08x}"), str::to_string),
                value: v.to_json(*code, render),
            })
            .collect(),
    }
}

fn line(out: &mut String, name: &str, values: &[String]) {
    let mut first = true;
    for v in values {
        let label = if first { name } else { "" };
        out.push_str(&format!("{label:<24}{v}\n"));
        first = false;
    }
    if values.is_empty() {
        out.push_str(&format!("{name}\n"));
    }
}

/// One difference between two listings of a store, as a dry run prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "lowercase")]
pub enum StoreChange {
    /// An object that only the new store has.
    Added {
        /// The object.
        object: ObjectView,
    },
    /// An object that only the old store has.
    Removed {
        /// The object.
        object: ObjectView,
    },
    /// An element of an object both have that was added, removed or changed.
    Element {
        /// `{guid}` of the object.
        id: String,
        /// The object's alias or description, for people.
        object: String,
        /// The element's name (`toolsdisplayorder`).
        element: String,
        /// The old value (`None`: added).
        before: Option<serde_json::Value>,
        /// The new value (`None`: removed).
        after: Option<serde_json::Value>,
    },
}

fn show_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            items.iter().map(show_value).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

fn title(o: &ObjectView) -> String {
    match (&o.alias, &o.description) {
        (Some(a), _) => a.clone(),
        (None, Some(d)) => format!("{} \"{d}\"", o.id),
        (None, None) => o.id.clone(),
    }
}

impl std::fmt::Display for StoreChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreChange::Added { object } | StoreChange::Removed { object } => {
                let sign = if matches!(self, StoreChange::Added { .. }) {
                    '+'
                } else {
                    '-'
                };
                write!(f, "{sign} {} ({})", title(object), object.name)?;
                for e in &object.elements {
                    write!(f, "\n{sign}     {:<24}{}", e.name, show_value(&e.value))?;
                }
                Ok(())
            }
            StoreChange::Element {
                object,
                element,
                before,
                after,
                ..
            } => match (before, after) {
                (None, Some(a)) => write!(f, "+ {object} {element}: {}", show_value(a)),
                (Some(b), None) => write!(f, "- {object} {element}: {}", show_value(b)),
                (Some(b), Some(a)) => {
                    write!(
                        f,
                        "~ {object} {element}: {} -> {}",
                        show_value(b),
                        show_value(a)
                    )
                }
                (None, None) => Ok(()),
            },
        }
    }
}

impl StoreView {
    /// What changes from this listing to `after`: objects added and
    /// removed, then elements added, removed or changed, in listing order.
    pub fn changes_to(&self, after: &StoreView) -> Vec<StoreChange> {
        let mut out = Vec::new();
        let find = |list: &[ObjectView], id: &str| list.iter().find(|o| o.id == id).cloned();
        for o in &self.objects {
            if find(&after.objects, &o.id).is_none() {
                out.push(StoreChange::Removed { object: o.clone() });
            }
        }
        for o in &after.objects {
            match find(&self.objects, &o.id) {
                None => out.push(StoreChange::Added { object: o.clone() }),
                Some(old) => {
                    let value = |list: &[ElementView], code: &str| {
                        list.iter()
                            .find(|e| e.code == code)
                            .map(|e| e.value.clone())
                    };
                    let mut codes: Vec<(&str, &str)> = old
                        .elements
                        .iter()
                        .map(|e| (e.code.as_str(), e.name.as_str()))
                        .collect();
                    for e in &o.elements {
                        if !codes.iter().any(|(c, _)| *c == e.code) {
                            codes.push((&e.code, &e.name));
                        }
                    }
                    for (code, name) in codes {
                        let (b, a) = (value(&old.elements, code), value(&o.elements, code));
                        if b != a {
                            out.push(StoreChange::Element {
                                id: o.id.clone(),
                                object: title(o),
                                element: name.to_string(),
                                before: b,
                                after: a,
                            });
                        }
                    }
                }
            }
        }
        out
    }
}
