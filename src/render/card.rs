//! The platform-neutral Card and the small line format templates produce.
//!
//! A template renders lines of `directive: value`:
//!
//! ```text
//! title: ❌ Payment failed · $49.00 USD · j***@example.com
//! severity: warning
//! summary: Attempt 2 failed; Stripe retries Mar 14, 09:00 UTC (in 3 days).
//! field: Customer | j***@example.com
//! link: Open in Stripe | https://dashboard.stripe.com/test/invoices/in_1
//! button: retry_payment | Retry payment | primary
//! footer: evt_1 · invoice.payment_failed
//! ```
//!
//! A field or link whose value renders empty is left out, so a template never
//! shows `null`. Lines starting with `#` and blank lines are ignored.

use serde::{Deserialize, Serialize};

/// How urgent a card is; it picks the colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Red: disputes, fraud warnings, failed payouts.
    Critical,
    /// Amber: failed payments, actions required, ending trials, cancellations.
    Warning,
    /// Green: paid, succeeded.
    Success,
    /// Grey: everything else.
    Info,
}

impl Severity {
    /// `critical`, `warning`, `success` or `info`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Warning => "warning",
            Self::Success => "success",
            Self::Info => "info",
        }
    }

    /// The colour as 0xRRGGBB.
    pub fn colour(self) -> u32 {
        match self {
            Self::Critical => 0xD9_2D_20,
            Self::Warning => 0xF2_A9_00,
            Self::Success => 0x2E_B6_7D,
            Self::Info => 0x8A_8F_98,
        }
    }
}

/// A label and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Short label.
    pub label: String,
    /// The value, plain text.
    pub value: String,
}

/// A link shown as a link button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Button text.
    pub label: String,
    /// Absolute https URL.
    pub url: String,
}

/// Style of an action button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonStyle {
    /// Neutral.
    Default,
    /// The main action.
    Primary,
    /// Destructive or irreversible.
    Danger,
}

/// An action button, by action name; the actions stage makes it act.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Action name, e.g. `retry_payment`.
    pub action: String,
    /// Button text.
    pub label: String,
    /// Style.
    pub style: ButtonStyle,
    /// The opaque action token the button carries once the card is sent
    /// (never a raw id or amount); without one, the action name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Ask before acting (money moves or a customer is e-mailed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<Confirmation>,
}

impl Action {
    /// What the button sends back when clicked: its token, or its action name.
    pub fn payload(&self) -> &str {
        self.token.as_deref().unwrap_or(&self.action)
    }
}

/// The text of a confirmation step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// E.g. "Retry payment?".
    pub title: String,
    /// What will happen: the amount and the (redacted) customer.
    pub text: String,
    /// The confirming button's label.
    pub confirm: String,
    /// The cancelling button's label.
    pub deny: String,
}

/// A platform-neutral message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// One line: what happened, how much, to whom.
    pub title: String,
    /// Urgency and colour.
    pub severity: Severity,
    /// A sentence or two, optional.
    pub summary: Option<String>,
    /// Small tags: `TEST MODE`, the Connect account's name.
    pub badges: Vec<String>,
    /// Label/value pairs, most useful first.
    pub fields: Vec<Field>,
    /// Link buttons; "Open in Stripe" is always among them.
    pub links: Vec<Link>,
    /// Action buttons, primary first.
    pub actions: Vec<Action>,
    /// The event id and type.
    pub footer: String,
}

/// A template output that is not a card.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CardError {
    /// 1-based line of the rendered output.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn pair(value: &str) -> (&str, &str) {
    match value.split_once('|') {
        Some((left, right)) => (left.trim(), right.trim()),
        None => (value.trim(), ""),
    }
}

/// Action names are identifiers: lower-case letters, digits and `_`.
fn is_action_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Card {
    /// A short message of a title and a sentence: a thread line, a notice.
    pub fn note(title: String, severity: Severity, summary: String, footer: String) -> Self {
        Self {
            title,
            severity,
            summary: Some(summary),
            badges: Vec::new(),
            fields: Vec::new(),
            links: Vec::new(),
            actions: Vec::new(),
            footer,
        }
    }

    /// Parses the rendered output of a template.
    pub fn parse(text: &str) -> Result<Self, CardError> {
        let mut card = Card {
            title: String::new(),
            severity: Severity::Info,
            summary: None,
            badges: Vec::new(),
            fields: Vec::new(),
            links: Vec::new(),
            actions: Vec::new(),
            footer: String::new(),
        };
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |message: String| CardError {
                line: index + 1,
                message,
            };
            let (directive, value) = line
                .split_once(':')
                .ok_or_else(|| error(format!("expected `directive: value`, got {line:?}")))?;
            let value = value.trim();
            match directive.trim() {
                "title" => card.title = value.to_owned(),
                "severity" => {
                    card.severity = match value {
                        "critical" => Severity::Critical,
                        "warning" => Severity::Warning,
                        "success" => Severity::Success,
                        "info" => Severity::Info,
                        other => return Err(error(format!("unknown severity {other:?}"))),
                    }
                }
                "summary" if !value.is_empty() => card.summary = Some(value.to_owned()),
                "summary" => {}
                "badge" if !value.is_empty() => card.badges.push(value.to_owned()),
                "badge" => {}
                "field" => {
                    let (label, value) = pair(value);
                    if !value.is_empty() {
                        card.fields.push(Field {
                            label: label.to_owned(),
                            value: value.to_owned(),
                        });
                    }
                }
                "link" => {
                    let (label, url) = pair(value);
                    if url.starts_with("https://") {
                        card.links.push(Link {
                            label: label.to_owned(),
                            url: url.to_owned(),
                        });
                    } else if !url.is_empty() {
                        return Err(error(format!("link {label:?} is not an https URL")));
                    }
                }
                "button" => {
                    let mut parts = value.split('|').map(str::trim);
                    let action = parts.next().unwrap_or_default();
                    let label = parts.next().unwrap_or_default();
                    let style = match parts.next().unwrap_or("") {
                        "" => ButtonStyle::Default,
                        "primary" => ButtonStyle::Primary,
                        "danger" => ButtonStyle::Danger,
                        other => return Err(error(format!("unknown button style {other:?}"))),
                    };
                    if !is_action_name(action) || label.is_empty() {
                        return Err(error(
                            "a button is `button: action_name | Label [| primary|danger]`"
                                .to_owned(),
                        ));
                    }
                    card.actions.push(Action {
                        action: action.to_owned(),
                        label: label.to_owned(),
                        style,
                        token: None,
                        confirm: None,
                    });
                }
                "footer" => card.footer = value.to_owned(),
                other => return Err(error(format!("unknown directive {other:?}"))),
            }
        }
        if card.title.is_empty() {
            return Err(CardError {
                line: 1,
                message: "the card has no title".to_owned(),
            });
        }
        Ok(card)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_directive_and_drops_empty_values() {
        let card = Card::parse(
            "# comment\ntitle: ❌ Payment failed · $1.00 USD\nseverity: warning\nsummary: \nbadge: TEST MODE\nfield: Customer | j***@example.com\nfield: Card | \nlink: Open in Stripe | https://dashboard.stripe.com/x\nlink: Invoice | \nbutton: retry_payment | Retry payment | primary\nbutton: acknowledge | Acknowledge\nfooter: evt_1 · invoice.payment_failed\n",
        )
        .unwrap();
        assert_eq!(card.title, "❌ Payment failed · $1.00 USD");
        assert_eq!(card.severity, Severity::Warning);
        assert_eq!(card.summary, None);
        assert_eq!(
            card.fields,
            vec![Field {
                label: "Customer".into(),
                value: "j***@example.com".into()
            }]
        );
        assert_eq!(card.links.len(), 1);
        assert_eq!(card.actions[0].style, ButtonStyle::Primary);
        assert_eq!(card.actions[1].style, ButtonStyle::Default);
    }

    #[test]
    fn refuses_what_is_not_a_card() {
        for (text, message) in [
            ("severity: info", "no title"),
            ("title: x\nsize: big", "unknown directive \"size\""),
            ("title: x\nseverity: red", "unknown severity"),
            ("title: x\nbutton: Retry Payment | Retry", "a button is"),
            (
                "title: x\nlink: Stripe | javascript:alert(1)",
                "not an https URL",
            ),
            ("title: x\njust text", "expected `directive: value`"),
        ] {
            let error = Card::parse(text).unwrap_err();
            assert!(error.message.contains(message), "{text}: {error}");
        }
    }
}
