//! The metrics registry: every counter and histogram the service exports,
//! in Prometheus' text format (`GET /metrics` serves [`Metrics::render`]).
//!
//! Labels stay bounded: the account label only takes configured account
//! names (an unknown path is counted as `unknown`), and event types are
//! Stripe's own finite set.

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// Labels of the request-duration histogram: the route template and the status code.
/// Both are known in advance, so they are borrowed and cost no allocation per request.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct RouteLabels {
    route: RouteName,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum RouteName {
    Known(&'static str),
    Other(String),
}

impl prometheus_client::encoding::EncodeLabelSet for RouteLabels {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::LabelSetEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeLabel;
        let route = match &self.route {
            RouteName::Known(route) => *route,
            RouteName::Other(route) => route.as_str(),
        };
        ("route", route).encode(encoder.encode_label())?;
        ("status", self.status as u64).encode(encoder.encode_label())
    }
}

/// Route templates of the router, so that labels can borrow them.
const ROUTES: &[&str] = &[
    "/webhooks/stripe",
    "/webhooks/stripe/{account}",
    "/healthz",
    "/readyz",
    "/metrics",
    "/interactions/slack",
    "/commands/slack",
    "/telegram/webhook",
    "/interactions/discord",
];

/// Every metric the service exports.
pub struct Metrics {
    registry: Registry,
    events: Family<Labels, Counter>,
    rejections: Family<Labels, Counter>,
    signature_failures: Family<Labels, Counter>,
    deliveries: Family<Labels, Counter>,
    config_reloads: Family<Labels, Counter>,
    config_hash: Family<Labels, Gauge>,
    config_loaded: Gauge,
    silenced: Counter,
    cases: Family<Labels, Counter>,
    silence_info: Family<Labels, Gauge>,
    silenced_stored: Family<Labels, Gauge>,
    request_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    sources: Family<Labels, Counter>,
    enrichments: Family<Labels, Counter>,
    lookups: Family<Labels, Counter>,
    payment_requests: Family<Labels, Counter>,
    jobs: Family<Labels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 100 µs … ~1.6 s, doubling.
    Histogram::new(exponential_buckets(0.0001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("stripe_chatops");
        let events = Family::<Labels, Counter>::default();
        registry.register(
            "webhook_events",
            "Verified Stripe events received, by account, event type and outcome (stored or duplicate)",
            events.clone(),
        );
        let rejections = Family::<Labels, Counter>::default();
        registry.register(
            "webhook_rejections",
            "Webhook requests refused, by account and reason",
            rejections.clone(),
        );
        let signature_failures = Family::<Labels, Counter>::default();
        registry.register(
            "webhook_signature_failures",
            "Webhook requests whose Stripe-Signature was missing, malformed, wrong or stale, by account",
            signature_failures.clone(),
        );
        let deliveries = Family::<Labels, Counter>::default();
        registry.register(
            "deliveries",
            "Outbox outcomes, by platform and outcome (sent, digest, folded, retry, rate_limited, dead, history_lost)",
            deliveries.clone(),
        );
        let config_reloads = Family::<Labels, Counter>::default();
        registry.register(
            "config_reload",
            "Reloads of bot.toml (SIGHUP, POST /-/reload, stripe-chatops reload), by result (applied, unchanged, invalid)",
            config_reloads.clone(),
        );
        let config_hash = Family::<Labels, Gauge>::default();
        registry.register(
            "config_info",
            "The config in use: 1 for the hash of its bot.toml and templates",
            config_hash.clone(),
        );
        let config_loaded = Gauge::default();
        registry.register(
            "config_loaded_timestamp_seconds",
            "When the config in use was loaded, Unix seconds",
            config_loaded.clone(),
        );
        let silenced = Counter::default();
        registry.register(
            "silenced_deliveries",
            "Deliveries this process held back because a silence matched (stored, never posted)",
            silenced.clone(),
        );
        let cases = Family::<Labels, Counter>::default();
        registry.register(
            "case_changes",
            "Changes of case cards, by change (opened, advanced, reopened, kept)",
            cases.clone(),
        );
        let jobs = Family::<Labels, Counter>::default();
        registry.register(
            "scheduled_jobs",
            "Scheduled jobs run (reminders, countdowns, follow-ups, escalations, summaries), by kind and outcome (done, late, cancelled, retried, failed)",
            jobs.clone(),
        );
        let silence_info = Family::<Labels, Gauge>::default();
        registry.register(
            "silence_active",
            "The silences in force: 1 per silence, by id and matchers (shared by every replica)",
            silence_info.clone(),
        );
        let silenced_stored = Family::<Labels, Gauge>::default();
        registry.register(
            "silenced_stored",
            "Deliveries stored as silenced, by receiver (read from the store)",
            silenced_stored.clone(),
        );
        let request_duration =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency, by route and status",
            request_duration.clone(),
        );
        let sources = Family::<Labels, Counter>::default();
        registry.register(
            "events_by_source",
            "Events stored, by how they arrived (webhook, catch_up, poll) and outcome (stored, duplicate)",
            sources.clone(),
        );
        let enrichments = Family::<Labels, Counter>::default();
        registry.register(
            "card_enrichments",
            "Cards completed from Stripe's API, by outcome (complete, late, failed, skipped)",
            enrichments.clone(),
        );
        let lookups = Family::<Labels, Counter>::default();
        registry.register(
            "lookups",
            "Look-ups asked from chat, by platform and outcome (answered, not_found, not_allowed, error)",
            lookups.clone(),
        );
        let payment_requests = Family::<Labels, Counter>::default();
        registry.register(
            "payment_requests",
            "Payment requests from chat, by platform and outcome (asked, created, refused, failed)",
            payment_requests.clone(),
        );
        Self {
            sources,
            enrichments,
            lookups,
            payment_requests,
            registry,
            events,
            rejections,
            signature_failures,
            deliveries,
            config_reloads,
            config_hash,
            config_loaded,
            silenced,
            cases,
            jobs,
            silence_info,
            silenced_stored,
            request_duration,
        }
    }
}

impl Metrics {
    /// Counts a verified event.
    pub fn event(&self, account: &str, event_type: &str, outcome: &'static str) {
        self.events
            .get_or_create(&vec![
                ("account", account.to_owned()),
                ("event_type", event_type.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    }

    /// Counts a refused request; signature problems are also counted as signature failures.
    pub fn rejection(&self, account: &str, reason: &'static str, signature_failure: bool) {
        self.rejections
            .get_or_create(&vec![
                ("account", account.to_owned()),
                ("reason", reason.to_owned()),
            ])
            .inc();
        if signature_failure {
            self.signature_failures
                .get_or_create(&vec![("account", account.to_owned())])
                .inc();
        }
    }

    /// Counts `n` outbox outcomes of one platform.
    pub fn delivery(&self, platform: &'static str, outcome: &'static str, n: u64) {
        self.deliveries
            .get_or_create(&vec![
                ("platform", platform.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc_by(n);
    }

    /// Counts a reload of `bot.toml` by its result.
    pub fn config_reload(&self, result: &'static str) {
        self.config_reloads
            .get_or_create(&vec![("result", result.to_owned())])
            .inc();
    }

    /// Records the config in use: its hash (the only one set to 1) and load time.
    pub fn config_loaded(&self, hash: &str, loaded_at_ms: i64) {
        self.config_hash.clear();
        self.config_hash
            .get_or_create(&vec![("hash", hash.to_owned())])
            .set(1);
        self.config_loaded.set(loaded_at_ms / 1000);
    }

    /// Counts `n` events stored or found already stored, by how they arrived.
    pub fn event_source(&self, source: &'static str, outcome: &'static str, n: u64) {
        self.sources
            .get_or_create(&vec![
                ("source", source.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc_by(n);
    }

    /// Counts one card enrichment by outcome.
    pub fn enrichment(&self, outcome: &'static str) {
        self.enrichments
            .get_or_create(&vec![("outcome", outcome.to_owned())])
            .inc();
    }

    /// Counts one look-up from chat.
    pub fn lookup(&self, platform: &'static str, outcome: &'static str) {
        self.lookups
            .get_or_create(&vec![
                ("platform", platform.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    }

    /// Counts one payment request from chat, or one of its links.
    pub fn payment_request(&self, platform: &str, outcome: &'static str) {
        self.payment_requests
            .get_or_create(&vec![
                ("platform", platform.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    }

    /// Counts one change of a case's card: opened, advanced, reopened or kept.
    pub fn case(&self, change: &'static str) {
        self.cases
            .get_or_create(&vec![("change", change.to_owned())])
            .inc();
    }

    /// Counts one run of a scheduled job by kind and outcome.
    pub fn job(&self, kind: &'static str, outcome: &'static str) {
        self.jobs
            .get_or_create(&vec![
                ("kind", kind.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    }

    /// Counts deliveries a silence held back.
    pub fn silenced(&self, n: u64) {
        self.silenced.inc_by(n);
    }

    /// Records the silences in force, `(id, matchers)`, and the silenced
    /// deliveries stored per receiver, as the store has them now.
    pub fn silences(&self, active: &[(i64, String)], stored: &[(String, u64)]) {
        self.silence_info.clear();
        for (id, matchers) in active {
            self.silence_info
                .get_or_create(&vec![
                    ("id", id.to_string()),
                    ("matchers", matchers.clone()),
                ])
                .set(1);
        }
        self.silenced_stored.clear();
        for (receiver, count) in stored {
            self.silenced_stored
                .get_or_create(&vec![("receiver", receiver.clone())])
                .set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
    }

    /// Times one HTTP request under its route template.
    pub fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        let route = match ROUTES.iter().find(|known| **known == route) {
            Some(known) => RouteName::Known(known),
            None => RouteName::Other(route.to_owned()),
        };
        self.request_duration
            .get_or_create(&RouteLabels { route, status })
            .observe(elapsed.as_secs_f64());
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}
