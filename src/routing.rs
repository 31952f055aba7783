//! Which receivers an event reaches: an Alertmanager-style route tree (pure).
//!
//! `[route]` is the root and names the default `receiver`. Its
//! `[[route.routes]]` children carry matchers; all matchers of a route must
//! match (a list matches when any element does). Children are tried in
//! order: the first that matches is followed, and the search stops there
//! unless that child says `continue = true`. A route whose children all miss
//! delivers to its own receiver, inherited from its parent when unset.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::KeyPath;
use crate::event::EventView;
use crate::event::money::Currency;
use crate::redact::RedactionPolicy;

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
    /// Child routes.
    pub routes: Vec<RouteFile>,
}

/// `amount_gte = { amount = 1000, currency = "usd" }`: in major units of that currency.
#[derive(Debug, Clone, PartialEq, Deserialize)]

pub struct Threshold {
    /// The amount in major units (`1000` means $1,000.00 for USD).
    pub amount: f64,
    /// Its currency.
    pub currency: String,
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

/// One `[[receivers]]` entry: a named destination.
#[derive(Debug, Clone, Deserialize)]

pub struct ReceiverFile {
    /// The name routes refer to.
    pub name: String,
    /// `slack = { channel = "C0123…" }`.
    pub slack: Option<SlackTarget>,
    /// `discord = { channel_id = "1234…" }`.
    pub discord: Option<DiscordTarget>,
    /// `telegram = { chat_id = -100… }` or `telegram = { subscribers = "TOPIC" }`.
    pub telegram: Option<TelegramTarget>,
    /// `console = {}`: print to standard output.
    pub console: Option<ConsoleTarget>,
    /// `webhook = { url = "https://…" }`: POST the card as JSON.
    pub webhook: Option<WebhookTarget>,
    /// This receiver's redaction policy; defaults to `[redaction]`.
    pub redaction: Option<RedactionPolicy>,
    /// A folder of templates that override the built-in ones for this receiver.
    pub templates: Option<std::path::PathBuf>,
}

/// A Slack channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]

pub struct SlackTarget {
    /// Channel id (`C0123…`) or name (`#finance`).
    pub channel: String,
}

/// A Discord channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]

pub struct DiscordTarget {
    /// Channel id (a snowflake, digits).
    pub channel_id: String,
}

/// A Telegram chat, or every subscriber of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]

pub struct TelegramTarget {
    /// Chat id (groups are negative).
    pub chat_id: Option<i64>,
    /// Forum topic of that chat.
    pub message_thread_id: Option<i64>,
    /// Fan out to every subscriber of this topic instead.
    pub subscribers: Option<String>,
}

/// Standard output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]

pub struct ConsoleTarget {}

/// A generic JSON webhook (Mattermost, Teams or Zulip bridges).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]

pub struct WebhookTarget {
    /// Where to POST.
    pub url: String,
}

/// Where a receiver delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    /// A Slack channel.
    Slack(SlackTarget),
    /// A Discord channel.
    Discord(DiscordTarget),
    /// A Telegram chat or topic subscribers.
    Telegram(TelegramTarget),
    /// Standard output.
    Console,
    /// A JSON webhook.
    Webhook(WebhookTarget),
}

/// A validated receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Receiver {
    /// Its name.
    pub name: String,
    /// Where it delivers.
    pub destination: Destination,
    /// What of a customer it may show.
    pub redaction: RedactionPolicy,
    /// Its template override folder.
    pub templates: Option<std::path::PathBuf>,
}

/// A validated route.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Where it is in `bot.toml`, e.g. `route.routes[1]`.
    pub path: String,
    /// Its receiver (inherited already resolved).
    pub receiver: String,
    matchers: Matchers,
    continue_matching: bool,
    routes: Vec<Route>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Matchers {
    event_types: Vec<String>,
    livemode: Option<bool>,
    accounts: Vec<String>,
    amount_gte: Option<(f64, Currency)>,
    currencies: Vec<String>,
    metadata: BTreeMap<String, String>,
    customers: Vec<String>,
}

impl Matchers {
    fn is_empty(&self) -> bool {
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
    /// Every receiver `event` reaches, in tree order, each once.
    pub fn route(&self, event: &EventView) -> Vec<Match> {
        let mut found = Vec::new();
        self.walk(&self.root, event, &mut found);
        let mut seen = std::collections::HashSet::new();
        found.retain(|m: &Match| seen.insert(m.receiver.clone()));
        found
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

/// Validates `[route]`, `[[receivers]]` and `[routing]`, returning every error with its path.
pub fn validate(
    route: &RouteFile,
    receivers: &[ReceiverFile],
    routing: &RoutingFile,
    default_redaction: &RedactionPolicy,
    accounts: &[&str],
) -> (Router, BTreeMap<String, Receiver>, Vec<(KeyPath, String)>) {
    let mut errors = Vec::new();
    let mut validated = BTreeMap::new();
    for (index, receiver) in receivers.iter().enumerate() {
        let path = KeyPath::root().key("receivers").index(index);
        if receiver.name.trim().is_empty() {
            errors.push((path.key("name"), "a receiver needs a name".to_owned()));
            continue;
        }
        let destinations: Vec<Destination> = [
            receiver.slack.clone().map(Destination::Slack),
            receiver.discord.clone().map(Destination::Discord),
            receiver.telegram.clone().map(Destination::Telegram),
            receiver.console.as_ref().map(|_| Destination::Console),
            receiver.webhook.clone().map(Destination::Webhook),
        ]
        .into_iter()
        .flatten()
        .collect();
        let destination = match destinations.as_slice() {
            [one] => one.clone(),
            [] => {
                errors.push((
                    path.clone(),
                    format!(
                        "receiver {:?} needs one of slack, discord, telegram, console or webhook",
                        receiver.name
                    ),
                ));
                continue;
            }
            _ => {
                errors.push((
                    path.clone(),
                    format!(
                        "receiver {:?} has more than one destination; use one receiver each",
                        receiver.name
                    ),
                ));
                continue;
            }
        };
        match &destination {
            Destination::Telegram(target)
                if target.chat_id.is_some() == target.subscribers.is_some() =>
            {
                errors.push((
                    path.key("telegram"),
                    "give either chat_id or subscribers".to_owned(),
                ));
            }
            Destination::Discord(target)
                if target.channel_id.is_empty()
                    || !target.channel_id.bytes().all(|b| b.is_ascii_digit()) =>
            {
                errors.push((
                    path.key("discord").key("channel_id"),
                    "must be a Discord channel id (digits)".to_owned(),
                ));
            }
            Destination::Slack(target) if target.channel.trim().is_empty() => {
                errors.push((
                    path.key("slack").key("channel"),
                    "must not be empty".to_owned(),
                ));
            }
            Destination::Webhook(target)
                if !(target.url.starts_with("https://") || target.url.starts_with("http://")) =>
            {
                errors.push((
                    path.key("webhook").key("url"),
                    "must be an http:// or https:// URL".to_owned(),
                ));
            }
            _ => {}
        }
        let entry = Receiver {
            name: receiver.name.clone(),
            destination,
            redaction: receiver
                .redaction
                .clone()
                .unwrap_or_else(|| default_redaction.clone()),
            templates: receiver.templates.clone(),
        };
        if validated.insert(receiver.name.clone(), entry).is_some() {
            errors.push((
                path.key("name"),
                format!("receiver {:?} is defined twice", receiver.name),
            ));
        }
    }
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
    let router = Router {
        root,
        exchange_rates: routing.exchange_rates.clone(),
    };
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
        && !receivers.contains_key(name)
    {
        errors.push((
            path.key("receiver"),
            format!("undefined receiver {name:?} used in {printable}"),
        ));
    }
    let matchers = matchers_of(route, &path, accounts, errors);
    let mut children: Vec<Route> = Vec::new();
    let mut catch_all: Option<String> = None;
    for (index, child) in route.routes.iter().enumerate() {
        let child_path = path.key("routes").index(index);
        let built = build_route(
            child,
            child_path.clone(),
            &receiver,
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
        routes: children,
    }
}

#[cfg(test)]
mod tests;
