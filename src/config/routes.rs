//! `[route]` and `[routing]`: the file types of the route tree and their
//! validation (with the `[[receivers]]` of [`super::receivers`]) into a
//! [`Router`] and [`Receiver`]s, every error with its key path.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::KeyPath;
use crate::event::Threshold;
use crate::event::money::Currency;
use crate::redact::RedactionPolicy;
use crate::routing::{DROP_RECEIVER, Grouping, Label, Matchers, Route, Router};

use super::receivers::validate_receivers;
pub use super::receivers::{Receiver, ReceiverFile};

/// `[route]` and each `[[…routes]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RouteFile {
    /// Receiver of the events this route catches; inherited from the parent when unset.
    pub receiver: Option<String>,
    /// Event types, with `*` globs: `["invoice.*", "charge.dispute.created"]`.
    pub event_types: Vec<String>,
    /// Only live (`true`) or only test (`false`) events.
    pub livemode: Option<bool>,
    /// Account names (`default` or `[stripe.accounts.NAME]`).
    pub accounts: Vec<String>,
    /// Only events whose amount is at least this much (see [`Threshold`]).
    pub amount_gte: Option<Threshold>,
    /// Currencies, e.g. `["usd", "eur"]`.
    pub currencies: Vec<String>,
    /// Metadata that must be present with these values.
    pub metadata: BTreeMap<String, String>,
    /// Customer ids (`cus_…`).
    pub customers: Vec<String>,
    /// Keep trying the next siblings after this route matched.
    #[serde(rename = "continue")]
    pub continue_matching: bool,
    /// Labels whose values make a group that shares one card, e.g.
    /// `["type", "customer"]` (see `routing::labels::LABELS`). Inherited by child routes.
    pub group_by: Vec<String>,
    /// How long the first event of a group waits for more before its card is
    /// posted, e.g. `"30s"` (default 30 s with `group_by`).
    #[serde(with = "humantime_serde")]
    pub group_wait: Option<std::time::Duration>,
    /// How long after a group's card changed its next change waits, e.g.
    /// `"5m"` (default 5 min with `group_by`).
    #[serde(with = "humantime_serde")]
    pub group_interval: Option<std::time::Duration>,
    /// Child routes.
    pub routes: Vec<RouteFile>,
}

/// `[routing]`: settings of the matchers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RoutingFile {
    /// Exchange rates for `amount_gte` across currencies: the value of one unit
    /// of each currency in a common base, e.g. `{ USD = 1.0, EUR = 1.08 }`.
    /// Without a rate for both currencies a threshold does not match.
    pub exchange_rates: BTreeMap<String, f64>,
}

/// Validates `[route]`, `[[receivers]]` and `[routing]`, returning every error with its path.
pub(super) fn validate(
    route: &RouteFile,
    receivers: &[ReceiverFile],
    routing: &RoutingFile,
    default_redaction: &RedactionPolicy,
    accounts: &[&str],
) -> (Router, BTreeMap<String, Receiver>, Vec<(KeyPath, String)>) {
    let mut errors = Vec::new();
    let validated = validate_receivers(receivers, default_redaction, &mut errors);
    for (code, rate) in &routing.exchange_rates {
        let path = KeyPath::root()
            .key("routing")
            .key("exchange_rates")
            .key(code.clone());
        if Currency::parse(code).is_none() || code.chars().any(|c| c.is_ascii_lowercase()) {
            errors.push((
                path,
                "currency codes are three upper-case letters, e.g. EUR".to_owned(),
            ));
        } else if !(*rate > 0.0 && rate.is_finite()) {
            errors.push((path, "must be a positive number".to_owned()));
        }
    }
    let root_path = KeyPath::root().key("route");
    let root_receiver = match &route.receiver {
        Some(receiver) => receiver.clone(),
        None => {
            errors.push((
                root_path.key("receiver"),
                "the root route needs a default receiver".to_owned(),
            ));
            String::new()
        }
    };
    let root = build_route(
        route,
        root_path.clone(),
        &root_receiver,
        None,
        &validated,
        accounts,
        &mut errors,
    );
    if !root.matchers.is_empty() {
        errors.push((
            root_path,
            "the root route matches every event; put matchers on [[route.routes]]".to_owned(),
        ));
    }
    let router = Router::new(root, routing.exchange_rates.clone());
    (router, validated, errors)
}

fn matchers_of(
    route: &RouteFile,
    path: &KeyPath,
    accounts: &[&str],
    errors: &mut Vec<(KeyPath, String)>,
) -> Matchers {
    for (index, pattern) in route.event_types.iter().enumerate() {
        if pattern.is_empty()
            || !pattern
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._*".contains(&b))
        {
            errors.push((
                path.key("event_types").index(index),
                format!("{pattern:?} is not an event type or glob like \"invoice.*\""),
            ));
        }
    }
    for (index, account) in route.accounts.iter().enumerate() {
        if !accounts.contains(&account.as_str()) {
            errors.push((
                path.key("accounts").index(index),
                format!(
                    "unknown account {account:?}; accounts are {}",
                    accounts.join(", ")
                ),
            ));
        }
    }
    for (index, currency) in route.currencies.iter().enumerate() {
        if Currency::parse(currency).is_none() {
            errors.push((
                path.key("currencies").index(index),
                format!("{currency:?} is not a currency code"),
            ));
        }
    }
    let amount_gte = route.amount_gte.as_ref().and_then(|threshold| {
        match Currency::parse(&threshold.currency) {
            Some(currency) if threshold.amount.is_finite() && threshold.amount >= 0.0 => {
                Some((threshold.amount, currency))
            }
            _ => {
                errors.push((
                    path.key("amount_gte"),
                    "needs a non-negative amount and a currency code".to_owned(),
                ));
                None
            }
        }
    });
    Matchers {
        event_types: route.event_types.clone(),
        livemode: route.livemode,
        accounts: route.accounts.clone(),
        amount_gte,
        currencies: route.currencies.clone(),
        metadata: route.metadata.clone(),
        customers: route.customers.clone(),
    }
}

/// Builds the route at `path` and its children: receivers resolved (inherited
/// when unset), matchers checked, and every child after a catch-all reported
/// as unreachable.
fn build_route(
    route: &RouteFile,
    path: KeyPath,
    inherited: &str,
    inherited_grouping: Option<&Grouping>,
    receivers: &BTreeMap<String, Receiver>,
    accounts: &[&str],
    errors: &mut Vec<(KeyPath, String)>,
) -> Route {
    let printable = path.to_string();
    let receiver = route
        .receiver
        .clone()
        .unwrap_or_else(|| inherited.to_owned());
    if let Some(name) = &route.receiver
        && name != DROP_RECEIVER
        && !receivers.contains_key(name)
    {
        errors.push((
            path.key("receiver"),
            format!("undefined receiver {name:?} used in {printable}"),
        ));
    }
    let matchers = matchers_of(route, &path, accounts, errors);
    let grouping = grouping_of(route, &path, errors).or_else(|| inherited_grouping.cloned());
    let mut children: Vec<Route> = Vec::new();
    let mut catch_all: Option<String> = None;
    for (index, child) in route.routes.iter().enumerate() {
        let child_path = path.key("routes").index(index);
        let built = build_route(
            child,
            child_path.clone(),
            &receiver,
            grouping.as_ref(),
            receivers,
            accounts,
            errors,
        );
        match &catch_all {
            Some(earlier) => errors.push((
                child_path,
                format!(
                    "{} is unreachable: {earlier} matches every event and does not continue",
                    built.path
                ),
            )),
            None if built.matchers.is_empty() && !built.continue_matching => {
                catch_all = Some(built.path.clone())
            }
            None => {}
        }
        children.push(built);
    }
    Route {
        path: printable,
        receiver,
        matchers,
        continue_matching: route.continue_matching,
        grouping,
        routes: children,
    }
}

/// A route's own `group_by`, `group_wait` and `group_interval`.
fn grouping_of(
    route: &RouteFile,
    path: &KeyPath,
    errors: &mut Vec<(KeyPath, String)>,
) -> Option<Grouping> {
    if route.group_by.is_empty() {
        for (key, set) in [
            ("group_wait", route.group_wait.is_some()),
            ("group_interval", route.group_interval.is_some()),
        ] {
            if set {
                errors.push((path.key(key), "has no effect without group_by".to_owned()));
            }
        }
        return None;
    }
    let mut by = Vec::new();
    for (index, name) in route.group_by.iter().enumerate() {
        match Label::parse(name) {
            Ok(label) => by.push(label),
            Err(error) => errors.push((path.key("group_by").index(index), error)),
        }
    }
    Some(Grouping {
        by,
        wait: route.group_wait.unwrap_or(DEFAULT_GROUP_WAIT),
        interval: route.group_interval.unwrap_or(DEFAULT_GROUP_INTERVAL),
    })
}

/// `group_wait` when unset: Alertmanager's default.
pub const DEFAULT_GROUP_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// `group_interval` when unset: Alertmanager's default.
pub const DEFAULT_GROUP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
