//! Which receivers an event reaches: an Alertmanager-style route tree (pure).
//!
//! `[route]` is the root and names the default `receiver`. Its
//! `[[route.routes]]` children carry matchers; all matchers of a route must
//! match (a list matches when any element does). Children are tried in
//! order: the first that matches is followed, and the search stops there
//! unless that child says `continue = true`. A route whose children all miss
//! delivers to its own receiver, inherited from its parent when unset.
//!
//! The tree is built and checked from `bot.toml` by `config::routes`; this
//! module only walks it. A route to the receiver `none` drops what it
//! matches. [`labels`] holds the `label=value` matchers of silences and the
//! `group_by` of routes.

pub mod labels;

pub use labels::{DROP_RECEIVER, Grouping, Label, Matcher, Silences};

use std::collections::BTreeMap;

use serde::Serialize;

use crate::event::EventView;
use crate::event::money::Currency;

/// A validated route.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Where it is in `bot.toml`, e.g. `route.routes[1]`.
    pub path: String,
    /// Its receiver (inherited already resolved).
    pub receiver: String,
    /// What an event must match to take this route.
    pub matchers: Matchers,
    /// Keep trying the next siblings after this route matched.
    pub continue_matching: bool,
    /// `group_by`: the events of a group share one card (inherited by children).
    pub grouping: Option<Grouping>,
    /// Child routes, tried in order.
    pub routes: Vec<Route>,
}

/// The conditions of one route; all must hold (a list holds when any element does).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matchers {
    /// Event types, with `*` globs.
    pub event_types: Vec<String>,
    /// Only live or only test events.
    pub livemode: Option<bool>,
    /// Account names.
    pub accounts: Vec<String>,
    /// At least this many major units of this currency.
    pub amount_gte: Option<(f64, Currency)>,
    /// Currency codes.
    pub currencies: Vec<String>,
    /// Metadata that must be present with these values.
    pub metadata: BTreeMap<String, String>,
    /// Customer ids.
    pub customers: Vec<String>,
}

impl Matchers {
    /// True when the route matches every event.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One receiver an event reaches, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Match {
    /// The receiver's name.
    pub receiver: String,
    /// The route that delivered it, e.g. `route.routes[0].routes[1]`, or `route` for the default.
    pub route: String,
    /// The route's grouping, if it groups.
    #[serde(skip)]
    pub grouping: Option<Grouping>,
}

/// The route tree plus what its matchers need.
#[derive(Debug, Clone, PartialEq)]
pub struct Router {
    root: Route,
    exchange_rates: BTreeMap<String, f64>,
}

/// Matches `text` against a glob where `*` stands for any run of characters.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first)
        || !text[first.len()..].ends_with(last)
        || text.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

impl Router {
    /// A router of a validated tree and the exchange rates of `amount_gte`
    /// across currencies (the value of one unit of each in a common base).
    pub fn new(root: Route, exchange_rates: BTreeMap<String, f64>) -> Self {
        Self {
            root,
            exchange_rates,
        }
    }

    /// Every receiver `event` reaches, in tree order, each once. A route to
    /// [`DROP_RECEIVER`] stops the event there: it reaches nobody through it.
    pub fn route(&self, event: &EventView) -> Vec<Match> {
        let mut found = Vec::new();
        self.walk(&self.root, event, &mut found);
        let mut seen = std::collections::HashSet::new();
        found.retain(|m: &Match| m.receiver != DROP_RECEIVER && seen.insert(m.receiver.clone()));
        found
    }

    /// The grouping of the route at `path` (as in [`Match::route`]).
    pub fn grouping(&self, path: &str) -> Option<&Grouping> {
        fn find<'a>(route: &'a Route, path: &str) -> Option<&'a Route> {
            if route.path == path {
                return Some(route);
            }
            route.routes.iter().find_map(|child| find(child, path))
        }
        find(&self.root, path)?.grouping.as_ref()
    }

    fn walk(&self, route: &Route, event: &EventView, found: &mut Vec<Match>) -> bool {
        if !self.matches(&route.matchers, event) {
            return false;
        }
        let mut child_matched = false;
        for child in &route.routes {
            if self.walk(child, event, found) {
                child_matched = true;
                if !child.continue_matching {
                    break;
                }
            }
        }
        if !child_matched {
            found.push(Match {
                receiver: route.receiver.clone(),
                route: route.path.clone(),
                grouping: route.grouping.clone(),
            });
        }
        true
    }

    fn matches(&self, m: &Matchers, event: &EventView) -> bool {
        let any = |list: &[String], pred: &dyn Fn(&str) -> bool| {
            list.is_empty() || list.iter().any(|x| pred(x))
        };
        any(&m.event_types, &|pattern| {
            glob_matches(pattern, &event.event_type)
        }) && m.livemode.is_none_or(|live| live == event.livemode)
            && any(&m.accounts, &|account| account == event.account)
            && any(&m.currencies, &|currency| {
                event
                    .amount
                    .as_ref()
                    .is_some_and(|a| a.currency.eq_ignore_ascii_case(currency))
            })
            && any(&m.customers, &|customer| {
                event.customer.id.as_deref() == Some(customer)
            })
            && m.metadata
                .iter()
                .all(|(key, value)| event.metadata.get(key) == Some(value))
            && m.amount_gte
                .as_ref()
                .is_none_or(|(threshold, currency)| self.at_least(event, *threshold, currency))
    }

    /// Whether the event's amount is at least `threshold` major units of `currency`.
    fn at_least(&self, event: &EventView, threshold: f64, currency: &Currency) -> bool {
        let Some(amount) = &event.amount else {
            return false;
        };
        if amount.currency == currency.code() {
            return amount.major >= threshold;
        }
        let rate = |code: &str| self.exchange_rates.get(code).copied();
        match (rate(&amount.currency), rate(currency.code())) {
            (Some(from), Some(to)) if to > 0.0 => amount.major * from / to >= threshold,
            _ => false,
        }
    }
}
