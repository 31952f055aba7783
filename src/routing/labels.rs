//! Labels of an event (`type`, `account`, `customer`, …) and the
//! `label=value` matchers of silences and the `group_by` of routes, in
//! Alertmanager's vocabulary. Pure: the store keeps silences, the pipeline
//! applies them.

use std::fmt;
use std::time::Duration;

use crate::event::EventView;

use super::glob_matches;

/// The receiver name that drops what a route matches: no delivery is made.
pub const DROP_RECEIVER: &str = "none";

/// A label an event has.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Label {
    /// `type`: the event type (a matcher may use `*` globs).
    Type,
    /// `account`: the endpoint's account name.
    Account,
    /// `livemode`: `true` or `false`.
    Livemode,
    /// `customer`: the customer id.
    Customer,
    /// `currency`: the lower-case currency code.
    Currency,
    /// `object`: the object id (`in_…`).
    Object,
    /// `case`: any id of the event's case (`in_…`, `pi_…`, `ch_…`).
    Case,
    /// `metadata.KEY`: a metadata value.
    Metadata(String),
}

/// The labels a matcher or `group_by` may name, for error messages.
pub const LABELS: &str = "type, account, livemode, customer, currency, object, case, metadata.KEY";

impl Label {
    /// Parses a label name.
    pub fn parse(name: &str) -> Result<Self, String> {
        Ok(match name {
            "type" => Self::Type,
            "account" => Self::Account,
            "livemode" => Self::Livemode,
            "customer" => Self::Customer,
            "currency" => Self::Currency,
            "object" => Self::Object,
            "case" => Self::Case,
            _ => match name.strip_prefix("metadata.") {
                Some(key) if !key.is_empty() => Self::Metadata(key.to_owned()),
                _ => return Err(format!("unknown label {name:?}; labels are {LABELS}")),
            },
        })
    }

    /// The event's values of this label (the `case` label has several).
    pub fn values(&self, view: &EventView, case_ids: &[String]) -> Vec<String> {
        let one = |value: Option<String>| value.into_iter().collect();
        match self {
            Self::Type => vec![view.event_type.clone()],
            Self::Account => vec![view.account.clone()],
            Self::Livemode => vec![view.livemode.to_string()],
            Self::Customer => one(view.customer.id.clone()),
            Self::Currency => one(view.amount.as_ref().map(|a| a.currency.to_lowercase())),
            Self::Object => one(view.object_id.clone()),
            Self::Case => case_ids.to_vec(),
            Self::Metadata(key) => one(view.metadata.get(key).cloned()),
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Type => f.write_str("type"),
            Self::Account => f.write_str("account"),
            Self::Livemode => f.write_str("livemode"),
            Self::Customer => f.write_str("customer"),
            Self::Currency => f.write_str("currency"),
            Self::Object => f.write_str("object"),
            Self::Case => f.write_str("case"),
            Self::Metadata(key) => write!(f, "metadata.{key}"),
        }
    }
}

/// `label=value` (or `label!=value`): one condition of a silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// The label.
    pub label: Label,
    /// The value, with `*` globs.
    pub value: String,
    /// `!=`: the label must not have this value.
    pub negated: bool,
}

impl Matcher {
    /// Parses `type=customer.updated`, `account=eu`, `metadata.plan!=free`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (name, value, negated) = match text.split_once("!=") {
            Some((name, value)) => (name, value, true),
            None => match text.split_once('=') {
                Some((name, value)) => (name, value, false),
                None => {
                    return Err(format!(
                        "{text:?} is not a matcher; write label=value, e.g. type=customer.updated"
                    ));
                }
            },
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("{text:?} has no value after the ="));
        }
        Ok(Self {
            label: Label::parse(name.trim())?,
            value: value.to_owned(),
            negated,
        })
    }

    /// Whether the event matches.
    pub fn matches(&self, view: &EventView, case_ids: &[String]) -> bool {
        let hit = self
            .label
            .values(view, case_ids)
            .iter()
            .any(|v| glob_matches(&self.value, v));
        hit != self.negated
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.negated { "!=" } else { "=" };
        write!(f, "{}{op}{}", self.label, self.value)
    }
}

/// The active silences, parsed once per routing pass.
#[derive(Debug, Clone, Default)]
pub struct Silences {
    silences: Vec<(i64, Vec<Matcher>)>,
}

impl Silences {
    /// Silences from stored `(id, matchers)`; a matcher that no longer
    /// parses makes its silence match nothing (it was checked when added).
    pub fn new(stored: impl IntoIterator<Item = (i64, Vec<String>)>) -> Self {
        let silences = stored
            .into_iter()
            .filter_map(|(id, texts)| {
                let matchers: Result<Vec<Matcher>, String> =
                    texts.iter().map(|t| Matcher::parse(t)).collect();
                match matchers {
                    Ok(matchers) if !matchers.is_empty() => Some((id, matchers)),
                    _ => None,
                }
            })
            .collect();
        Self { silences }
    }

    /// The first silence every matcher of which matches the event.
    pub fn silencing(&self, view: &EventView, case_ids: &[String]) -> Option<i64> {
        self.silences
            .iter()
            .find(|(_, matchers)| matchers.iter().all(|m| m.matches(view, case_ids)))
            .map(|(id, _)| *id)
    }
}

/// A route's `group_by`, `group_wait` and `group_interval`: its events
/// with the same values of the labels share one card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    /// The labels whose values make a group.
    pub by: Vec<Label>,
    /// How long the first event of a group waits for others before its card is posted.
    pub wait: Duration,
    /// How long after a card changed the next change of the group waits.
    pub interval: Duration,
}

impl Grouping {
    /// The case key of an event's group on route `route`.
    pub fn key(&self, route: &str, view: &EventView, case_ids: &[String]) -> String {
        let mut key = format!("group:{route}");
        for label in &self.by {
            let values = label.values(view, case_ids);
            key.push(':');
            key.push_str(values.first().map_or("-", String::as_str));
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::sample::sample_event;

    fn view(event_type: &str) -> EventView {
        EventView::parse(&sample_event(event_type, 1).unwrap(), "eu").unwrap()
    }

    #[test]
    fn matchers_parse_and_match() {
        let updated = view("customer.updated");
        let m = Matcher::parse("type=customer.updated").unwrap();
        assert!(m.matches(&updated, &[]));
        assert!(
            Matcher::parse("type=customer.*")
                .unwrap()
                .matches(&updated, &[])
        );
        assert!(Matcher::parse("account=eu").unwrap().matches(&updated, &[]));
        assert!(
            !Matcher::parse("account!=eu")
                .unwrap()
                .matches(&updated, &[])
        );
        assert!(
            Matcher::parse("case=in_1")
                .unwrap()
                .matches(&updated, &["in_1".to_owned()])
        );
        assert_eq!(
            Matcher::parse("colour=red").unwrap_err(),
            format!("unknown label \"colour\"; labels are {LABELS}")
        );
        assert!(Matcher::parse("type").unwrap_err().contains("label=value"));
        assert!(Matcher::parse("type=").unwrap_err().contains("no value"));
        assert_eq!(m.to_string(), "type=customer.updated");
    }

    #[test]
    fn a_silence_needs_every_matcher() {
        let silences = Silences::new([
            (
                1,
                vec!["type=customer.updated".to_owned(), "account=us".to_owned()],
            ),
            (
                2,
                vec!["type=customer.updated".to_owned(), "account=eu".to_owned()],
            ),
        ]);
        assert_eq!(silences.silencing(&view("customer.updated"), &[]), Some(2));
        assert_eq!(silences.silencing(&view("invoice.paid"), &[]), None);
    }

    #[test]
    fn groups_are_keyed_by_route_and_label_values() {
        let grouping = Grouping {
            by: vec![Label::Type, Label::Customer],
            wait: Duration::from_secs(30),
            interval: Duration::from_secs(60),
        };
        let v = view("customer.updated");
        let key = grouping.key("route.routes[0]", &v, &[]);
        assert!(
            key.starts_with("group:route.routes[0]:customer.updated:cus_"),
            "{key}"
        );
    }
}
