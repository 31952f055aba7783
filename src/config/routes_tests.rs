//! Routing table tests: globs, `continue`, thresholds, inheritance, validation.

use serde::Deserialize;

use super::*;
use crate::event::EventView;
use crate::routing::glob_matches;
use crate::stripe::sample::sample_event;

#[derive(Deserialize)]
struct Doc {
    route: RouteFile,
    #[serde(default)]
    receivers: Vec<ReceiverFile>,
    #[serde(default)]
    routing: RoutingFile,
}

const RECEIVERS: &str = r#"
[[receivers]]
name = "default"
console = {}
[[receivers]]
name = "finance"
slack = { channel = "C0FINANCE" }
[[receivers]]
name = "disputes"
discord = { channel_id = "1234567890" }
[[receivers]]
name = "big"
telegram = { chat_id = -1001234 }
[[receivers]]
name = "eu"
webhook = { url = "https://bridge.example/hook" }
"#;

fn router(routes: &str) -> (Router, Vec<String>) {
    let doc: Doc = toml::from_str(&format!("{routes}\n{RECEIVERS}")).unwrap();
    let (router, _, errors) = validate(
        &doc.route,
        &doc.receivers,
        &doc.routing,
        &RedactionPolicy::default(),
        &["default", "eu"],
    );
    (
        router,
        errors
            .into_iter()
            .map(|(path, message)| format!("{path}: {message}"))
            .collect(),
    )
}

fn view(event_type: &str, edit: impl FnOnce(&mut serde_json::Value)) -> EventView {
    let mut event = sample_event(event_type, 1_763_251_200).unwrap();
    edit(&mut event);
    EventView::parse(&event, event["__account"].as_str().unwrap_or("default")).unwrap()
}

fn receivers(router: &Router, event: &EventView) -> Vec<String> {
    router
        .route(event)
        .into_iter()
        .map(|m| format!("{} ({})", m.receiver, m.route))
        .collect()
}

const TREE: &str = r#"
[routing]
exchange_rates = { USD = 1.0, EUR = 1.08 }

[route]
receiver = "default"

[[route.routes]]
event_types = ["charge.dispute.*"]
receiver = "disputes"
continue = true

[[route.routes]]
event_types = ["invoice.*", "charge.*"]
receiver = "finance"

  [[route.routes.routes]]
  amount_gte = { amount = 1000, currency = "usd" }
  receiver = "big"

  [[route.routes.routes]]
  metadata = { plan = "enterprise" }

[[route.routes]]
accounts = ["eu"]
receiver = "eu"
"#;

#[test]
fn table_of_events_and_their_receivers() {
    let (router, errors) = router(TREE);
    assert!(errors.is_empty(), "{errors:#?}");
    let cases: Vec<(&str, EventView, Vec<&str>)> = vec![
        (
            "a failed invoice goes to finance",
            view("invoice.payment_failed", |_| {}),
            vec!["finance (route.routes[1])"],
        ),
        (
            "a dispute continues: disputes channel, then finance as a charge.*",
            view("charge.dispute.created", |_| {}),
            vec!["disputes (route.routes[0])", "finance (route.routes[1])"],
        ),
        (
            "a big invoice goes to the nested big receiver",
            view("invoice.payment_failed", |e| {
                e["data"]["object"]["amount_due"] = 150_000.into()
            }),
            vec!["big (route.routes[1].routes[0])"],
        ),
        (
            "exactly the threshold matches",
            view("charge.succeeded", |e| {
                e["data"]["object"]["amount"] = 100_000.into()
            }),
            vec!["big (route.routes[1].routes[0])"],
        ),
        (
            "a big EUR charge converts with the rate",
            view("charge.succeeded", |e| {
                e["data"]["object"]["currency"] = "eur".into();
                e["data"]["object"]["amount"] = 95_000.into();
            }),
            vec!["big (route.routes[1].routes[0])"],
        ),
        (
            "a currency without a rate never meets the threshold",
            view("charge.succeeded", |e| {
                e["data"]["object"]["currency"] = "gbp".into();
                e["data"]["object"]["amount"] = 10_000_000.into();
            }),
            vec!["finance (route.routes[1])"],
        ),
        (
            "a JPY amount is in whole yen: ¥150,000 is not $1,000 without a rate",
            view("charge.succeeded", |e| {
                e["data"]["object"]["currency"] = "jpy".into();
                e["data"]["object"]["amount"] = 150_000.into();
            }),
            vec!["finance (route.routes[1])"],
        ),
        (
            "a metadata match inherits the finance receiver",
            view("invoice.paid", |e| {
                e["data"]["object"]["metadata"]["plan"] = "enterprise".into()
            }),
            vec!["finance (route.routes[1].routes[1])"],
        ),
        (
            "a payout matches nothing: the default receiver",
            view("payout.paid", |_| {}),
            vec!["default (route)"],
        ),
        (
            "an eu account event",
            view("payout.failed", |e| e["__account"] = "eu".into()),
            vec!["eu (route.routes[2])"],
        ),
    ];
    for (name, event, expected) in cases {
        assert_eq!(receivers(&router, &event), expected, "{name}");
    }
}

#[test]
fn livemode_customer_and_currency_matchers() {
    let (router, errors) = router(
        r#"
[route]
receiver = "default"
[[route.routes]]
livemode = true
currencies = ["eur"]
receiver = "finance"
[[route.routes]]
customers = ["cus_VIP"]
receiver = "big"
"#,
    );
    assert!(errors.is_empty(), "{errors:#?}");
    let live_eur = view("payment_intent.succeeded", |e| e["livemode"] = true.into());
    assert_eq!(receivers(&router, &live_eur), ["finance (route.routes[0])"]);
    let test_eur = view("payment_intent.succeeded", |_| {});
    assert_eq!(receivers(&router, &test_eur), ["default (route)"]);
    let vip = view("invoice.paid", |e| {
        e["data"]["object"]["customer"] = "cus_VIP".into()
    });
    assert_eq!(receivers(&router, &vip), ["big (route.routes[1])"]);
}

#[test]
fn globs() {
    for (pattern, text, expected) in [
        ("invoice.*", "invoice.paid", true),
        ("invoice.*", "invoice", false),
        ("*.failed", "charge.failed", true),
        ("charge.*.created", "charge.dispute.created", true),
        ("charge.*.created", "charge.created", false),
        ("*", "anything", true),
        ("invoice.paid", "invoice.paid", true),
        ("invoice.paid", "invoice.paid2", false),
    ] {
        assert_eq!(glob_matches(pattern, text), expected, "{pattern} ~ {text}");
    }
}

#[test]
fn validation_names_every_bad_path() {
    let (_, errors) = router(
        r#"
[routing]
exchange_rates = { eur = 1.0, USD = -1.0 }
[route]
receiver = "nobody"
[[route.routes]]
receiver = "finance"
[[route.routes]]
event_types = ["Invoice Paid"]
receiver = "ops"
[[route.routes]]
accounts = ["us"]
amount_gte = { amount = 10, currency = "dollars" }
"#,
    );
    let expected = [
        "routing.exchange_rates.USD: must be a positive number",
        "routing.exchange_rates.eur: currency codes are three upper-case letters, e.g. EUR",
        "route.receiver: undefined receiver \"nobody\" used in route",
        "route.routes[1]: route.routes[1] is unreachable: route.routes[0] matches every event and does not continue",
        "route.routes[1].event_types[0]: \"Invoice Paid\" is not an event type or glob like \"invoice.*\"",
        "route.routes[1].receiver: undefined receiver \"ops\" used in route.routes[1]",
        "route.routes[2]: route.routes[2] is unreachable: route.routes[0] matches every event and does not continue",
        "route.routes[2].accounts[0]: unknown account \"us\"; accounts are default, eu",
        "route.routes[2].amount_gte: needs a non-negative amount and a currency code",
    ];
    let mut sorted = errors.clone();
    sorted.sort();
    let mut expected: Vec<String> = expected.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(sorted, expected);
}

#[test]
fn receivers_need_exactly_one_destination() {
    let doc: Doc = toml::from_str(
        r#"
[route]
receiver = "a"
[[receivers]]
name = "a"
[[receivers]]
name = "b"
console = {}
slack = { channel = "C1" }
[[receivers]]
name = "c"
telegram = { chat_id = 1, subscribers = "billing" }
[[receivers]]
name = "c"
console = {}
"#,
    )
    .unwrap();
    let (_, _, errors) = validate(
        &doc.route,
        &doc.receivers,
        &doc.routing,
        &RedactionPolicy::default(),
        &["default"],
    );
    let messages: Vec<String> = errors.iter().map(|(p, m)| format!("{p}: {m}")).collect();
    assert_eq!(
        messages,
        [
            "receivers[0]: receiver \"a\" needs one of slack, discord, telegram, console or webhook",
            "receivers[1]: receiver \"b\" has more than one destination; use one receiver each",
            "receivers[2].telegram: give either chat_id or subscribers",
            "receivers[3].name: receiver \"c\" is defined twice",
            "route.receiver: undefined receiver \"a\" used in route",
        ]
    );
}

#[test]
fn the_root_route_may_not_carry_matchers() {
    let (_, errors) = router("[route]\nreceiver = \"default\"\nevent_types = [\"invoice.*\"]\n");
    assert_eq!(
        errors,
        ["route: the root route matches every event; put matchers on [[route.routes]]"]
    );
}
