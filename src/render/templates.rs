//! Card templates: minijinja files in `message_templates/`, embedded in the
//! binary, overridable file by file from a folder.
//!
//! The template of an event is `{type}.card` (e.g. `invoice.payment_failed.card`),
//! or `default.card` for a type without one. A receiver's `templates` folder
//! is searched first, then `[templates] dir`, then the embedded files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use minijinja::{Environment, Value as TemplateValue};

use super::card::{Card, CardError};

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../message_templates/", $name)))),*]
    };
}

/// The built-in templates: (file name, text).
pub const EMBEDDED: &[(&str, &str)] = embedded!(
    "_common.card",
    "default.card",
    "invoice.payment_failed.card",
    "invoice.payment_action_required.card",
    "invoice.paid.card",
    "invoice.payment_succeeded.card",
    "invoice.upcoming.card",
    "invoice.finalized.card",
    "invoice.marked_uncollectible.card",
    "invoice.voided.card",
    "charge.failed.card",
    "charge.succeeded.card",
    "charge.refunded.card",
    "charge.dispute.created.card",
    "charge.dispute.updated.card",
    "charge.dispute.closed.card",
    "charge.dispute.funds_withdrawn.card",
    "payment_intent.payment_failed.card",
    "payment_intent.succeeded.card",
    "customer.subscription.created.card",
    "customer.subscription.updated.card",
    "customer.subscription.deleted.card",
    "customer.subscription.trial_will_end.card",
    "checkout.session.completed.card",
    "checkout.session.expired.card",
    "checkout.session.async_payment_succeeded.card",
    "checkout.session.async_payment_failed.card",
    "stripe_chatops.payment_requested.card",
    "customer.updated.card",
    "radar.early_fraud_warning.created.card",
    "payout.failed.card",
    "payout.paid.card",
);

/// Why no card could be made.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// minijinja refused the template or failed while rendering it.
    #[error("template {name}: {source}")]
    Template {
        /// The template file.
        name: String,
        /// The engine's error.
        source: minijinja::Error,
    },
    /// The template rendered something that is not a card.
    #[error("template {name}, {source}")]
    NotACard {
        /// The template file.
        name: String,
        /// What is wrong with its output.
        source: CardError,
    },
}

/// `text` with every line break and tab turned into a space.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n', '\t', '\u{2028}', '\u{2029}', '\u{85}'], " ")
}

/// A file name a loader may open: no folders, no `..`.
fn is_template_name(name: &str) -> bool {
    name.ends_with(".card") && !name.contains(['/', '\\']) && !name.starts_with('.')
}

fn environment(folders: Vec<PathBuf>) -> Environment<'static> {
    let mut env = Environment::new();
    let mut syntax = minijinja::syntax::SyntaxConfig::builder();
    // No trim_blocks: a block tag at the end of a directive line must not eat its newline.
    // Lines that hold only a tag become blank lines, which the card format ignores.
    syntax.lstrip_blocks(true);
    env.set_syntax(syntax.build().expect("default delimiters are valid"));
    // `invoice.number` on an event without an invoice is simply missing, not an error.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    // The card format is one directive per line, so no interpolated value may
    // break a line: this is its escaping, as HTML-escaping is for HTML. A
    // missing value prints nothing (never "none"), so its field is dropped.
    env.set_formatter(|out, state, value| {
        if value.is_none() || value.is_undefined() {
            Ok(())
        } else if let Some(text) = value.as_str() {
            Ok(out.write_str(&one_line(text))?)
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    env.set_loader(move |name| {
        if !is_template_name(name) {
            return Ok(None);
        }
        for folder in &folders {
            let path = folder.join(name);
            if path.is_file() {
                return std::fs::read_to_string(&path).map(Some).map_err(|error| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("cannot read {}: {error}", path.display()),
                    )
                });
            }
        }
        Ok(EMBEDDED
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, text)| (*text).to_owned()))
    });
    env
}

/// The templates of every receiver, each environment built once.
#[derive(Debug)]
pub struct Templates {
    global: Option<PathBuf>,
    environments: Mutex<HashMap<Option<PathBuf>, Arc<Environment<'static>>>>,
}

impl Templates {
    /// Templates with an optional `[templates] dir`.
    pub fn new(global: Option<PathBuf>) -> Self {
        Self {
            global,
            environments: Mutex::new(HashMap::new()),
        }
    }

    /// Compiles one template as a receiver with folder `receiver` would
    /// load it, without rendering it: a syntax error shows before any card needs it.
    pub fn compile(&self, receiver: Option<&Path>, name: &str) -> Result<(), minijinja::Error> {
        self.environment(receiver).get_template(name).map(|_| ())
    }

    fn environment(&self, receiver: Option<&Path>) -> Arc<Environment<'static>> {
        let key = receiver.map(Path::to_path_buf);
        let mut environments = self
            .environments
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        environments
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(environment(
                    key.into_iter().chain(self.global.clone()).collect(),
                ))
            })
            .clone()
    }

    /// Renders the card of an event from its context (see [`super::context::build`]).
    pub fn card(
        &self,
        receiver: Option<&Path>,
        event_type: &str,
        context: &serde_json::Value,
    ) -> Result<Card, TemplateError> {
        let env = self.environment(receiver);
        let specific = format!("{event_type}.card");
        let (name, template) = match env.get_template(&specific) {
            Ok(template) => (specific, template),
            Err(error) if error.kind() == minijinja::ErrorKind::TemplateNotFound => {
                let name = "default.card".to_owned();
                let template =
                    env.get_template(&name)
                        .map_err(|source| TemplateError::Template {
                            name: name.clone(),
                            source,
                        })?;
                (name, template)
            }
            Err(source) => {
                return Err(TemplateError::Template {
                    name: specific,
                    source,
                });
            }
        };
        let text = template
            .render(TemplateValue::from(minijinja::value::Serde(context)))
            .map_err(|source| TemplateError::Template {
                name: name.clone(),
                source,
            })?;
        Card::parse(&text).map_err(|source| TemplateError::NotACard { name, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_the_folder_is_embedded() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("message_templates");
        let mut on_disk: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".card"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = EMBEDDED
            .iter()
            .map(|(name, _)| (*name).to_owned())
            .collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn a_folder_overrides_file_by_file_and_names_cannot_escape_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("payout.paid.card"),
            "title: Money arrived {{ amount }}\nseverity: success\n",
        )
        .unwrap();
        let templates = Templates::new(Some(dir.path().to_path_buf()));
        let context = serde_json::json!({ "amount": "$1.00 USD", "type": "payout.paid", "badges": [], "id": "evt_1" });
        let card = templates.card(None, "payout.paid", &context).unwrap();
        assert_eq!(card.title, "Money arrived $1.00 USD");
        // Other types still use the embedded files.
        let card = templates.card(None, "payout.failed", &context).unwrap();
        assert!(card.title.starts_with("🏦 Payout failed"), "{}", card.title);
        // Sections that are null (not this kind of event) chain to nothing as well.
        let context = serde_json::json!({ "amount": "$1.00 USD", "payout": null, "invoice": null, "badges": [], "id": "evt_1" });
        let card = templates.card(None, "payout.failed", &context).unwrap();
        assert!(card.fields.iter().all(|f| f.label != "Failure"), "{card:?}");
        assert!(!is_template_name("../secrets.card") && !is_template_name("a/b.card"));
    }

    #[test]
    fn no_value_can_inject_a_directive() {
        let templates = Templates::new(None);
        let injected =
            "Jenny\nbutton: void_invoice | Void it | danger\r\nlink: x | https://evil.example";
        let context = serde_json::json!({
            "type": "billing.alert.triggered",
            "id": "evt_1",
            "object_type": injected,
            "badges": [],
            "customer": { "display": injected, "label": injected },
        });
        let card = templates
            .card(None, "billing.alert.triggered", &context)
            .unwrap();
        assert!(card.actions.is_empty(), "{card:?}");
        assert!(
            card.links.iter().all(|l| !l.url.contains("evil")),
            "{card:?}"
        );
        assert!(
            card.fields
                .iter()
                .any(|f| f.value.contains("Jenny button: void_invoice")),
            "{card:?}"
        );
    }

    #[test]
    fn template_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("payout.paid.card"), "title: {{ broken").unwrap();
        let templates = Templates::new(Some(dir.path().to_path_buf()));
        let error = templates
            .card(None, "payout.paid", &serde_json::json!({}))
            .unwrap_err();
        assert!(
            error.to_string().starts_with("template payout.paid.card:"),
            "{error}"
        );
    }
}
