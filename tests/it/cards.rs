//! Cards for every event type on every platform: golden snapshots built from
//! Stripe's own example objects (`../shared/stripe/fixtures3.json`), the PII
//! test, and the platform-limit tests with hostile input.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{Value, json};
use stripe_chatops::chat::discord::render as discord;
use stripe_chatops::chat::slack::render as slack;
use stripe_chatops::chat::telegram::render as telegram;
use stripe_chatops::event::EventView;
use stripe_chatops::platform::Platform;
use stripe_chatops::redact::{EmailDisplay, NameDisplay, RedactionPolicy};
use stripe_chatops::render::{self, Templates};
use stripe_chatops::stripe::sample::SAMPLE_TYPES;

/// Cards are rendered as of this instant, so relative dates are stable.
const NOW: i64 = 1_763_251_200; // 2025-11-16T00:00:00Z
const DAY: i64 = 86_400;

/// Distinctive personal data planted in every fixture.
const PII_EMAIL: &str = "zelda.quixote+pii@example.org";
const PII_NAME: &str = "Zelda Quixote";
const PII_PHONE: &str = "+44 7700 900123";
const PII_STREET: &str = "42 Secretive Lane";
const PII_POSTCODE: &str = "ZZ9 9ZZ";
const PII_METADATA: &str = "PII-METADATA-7788";
const PII_CARD_NUMBER: &str = "4242424242424242";

/// Every string that must never reach a payload under the default policy.
const PII_MARKERS: &[&str] = &[
    "zelda.quixote",
    "Zelda",
    "Quixote",
    "7700 900123",
    "7700900123",
    "Secretive",
    "ZZ9 9ZZ",
    PII_METADATA,
    PII_CARD_NUMBER,
    "4242 4242 4242 4242",
];

fn fixtures() -> &'static Value {
    static FIXTURES: OnceLock<Value> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/stripe/fixtures3.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} is needed for the card tests: {e}", path.display()));
        serde_json::from_str::<Value>(&text).unwrap()["resources"].clone()
    })
}

fn object(resource: &str) -> Value {
    fixtures()[resource].clone()
}

fn address() -> Value {
    json!({ "line1": PII_STREET, "line2": null, "city": "London", "postal_code": PII_POSTCODE, "state": null, "country": "GB" })
}

/// A Stripe example object of the event's kind, made to look like that event, with PII planted.
fn data_object(event_type: &str) -> Value {
    let mut o = match event_type.split('.').take(2).collect::<Vec<_>>().as_slice() {
        ["invoice", _] => object("invoice"),
        ["charge", "dispute"] => object("dispute"),
        ["charge", _] => object("charge"),
        ["payment_intent", _] => object("payment_intent"),
        ["customer", "subscription"] => object("subscription"),
        ["customer", _] => object("customer"),
        ["checkout", _] => object("checkout.session"),
        ["radar", _] => object("radar.early_fraud_warning"),
        ["payout", _] => object("payout"),
        _ => unreachable!("{event_type}"),
    };
    o["metadata"] = json!({ "order_ref": "ORD-1042", "secret_note": PII_METADATA });
    match event_type {
        t if t.starts_with("invoice.") => {
            o["customer_email"] = PII_EMAIL.into();
            o["customer_name"] = PII_NAME.into();
            o["customer_phone"] = PII_PHONE.into();
            o["customer_address"] = address();
            o["number"] = "INV-0042".into();
            o["subscription"] = "sub_1Fixture".into();
            o["billing_reason"] = "subscription_cycle".into();
            o["due_date"] = (NOW + 14 * DAY).into();
            match t {
                "invoice.payment_failed" => {
                    o["attempt_count"] = 1.into();
                    o["next_payment_attempt"] = (NOW + 3 * DAY).into();
                }
                "invoice.paid" | "invoice.payment_succeeded" => {
                    o["amount_paid"] = o["amount_due"].clone();
                    o["status"] = "paid".into();
                }
                "invoice.upcoming" => {
                    o["id"] = Value::Null;
                    o["next_payment_attempt"] = (NOW + 7 * DAY).into();
                }
                "invoice.marked_uncollectible" => o["attempt_count"] = 4.into(),
                _ => {}
            }
        }
        "charge.dispute.created"
        | "charge.dispute.updated"
        | "charge.dispute.closed"
        | "charge.dispute.funds_withdrawn" => {
            o["evidence_details"]["due_by"] = (NOW + 7 * DAY + 3_600).into();
            o["reason"] = "product_not_received".into();
            o["status"] = match event_type {
                "charge.dispute.closed" => "won",
                "charge.dispute.updated" => "under_review",
                _ => "needs_response",
            }
            .into();
        }
        t if t.starts_with("charge.") => {
            o["billing_details"] = json!({ "email": PII_EMAIL, "name": PII_NAME, "phone": PII_PHONE, "address": address() });
            o["customer"] = "cus_1Fixture".into();
            o["payment_method_details"]["card"]["last4"] = "4242".into();
            if t == "charge.failed" {
                o["failure_code"] = "card_declined".into();
                o["failure_message"] =
                    format!("Your card {PII_CARD_NUMBER} has insufficient funds.").into();
                o["outcome"] = json!({ "network_status": "declined_by_network", "reason": "insufficient_funds", "risk_level": "normal", "seller_message": "The bank returned the decline code `insufficient_funds`.", "type": "issuer_declined" });
            }
            if t == "charge.refunded" {
                o["amount_refunded"] = 60.into();
            }
        }
        t if t.starts_with("payment_intent.") => {
            o["receipt_email"] = PII_EMAIL.into();
            o["customer"] = "cus_1Fixture".into();
            if t == "payment_intent.payment_failed" {
                o["last_payment_error"] = json!({ "code": "card_declined", "decline_code": "generic_decline", "message": format!("Card {PII_CARD_NUMBER} was declined."), "type": "card_error" });
            }
        }
        t if t.starts_with("customer.subscription.") => {
            o["items"]["data"][0]["price"]["nickname"] = "Pro monthly".into();
            o["items"]["data"][0]["price"]["unit_amount"] = 4900.into();
            o["trial_end"] = (NOW + 3 * DAY).into();
            o["default_payment_method"] = "pm_1Fixture".into();
            o["status"] = match t {
                "customer.subscription.updated" => "past_due",
                "customer.subscription.deleted" => "canceled",
                "customer.subscription.trial_will_end" => "trialing",
                _ => "active",
            }
            .into();
            if t == "customer.subscription.deleted" {
                o["cancellation_details"] = json!({ "comment": format!("Call me at {PII_PHONE}"), "feedback": "too_expensive", "reason": "cancellation_requested" });
            }
        }
        "customer.updated" => {
            o["email"] = PII_EMAIL.into();
            o["name"] = PII_NAME.into();
            o["phone"] = PII_PHONE.into();
            o["address"] = address();
        }
        t if t.starts_with("checkout.session.") => {
            o["customer_details"] = json!({ "email": PII_EMAIL, "name": PII_NAME, "phone": PII_PHONE, "address": address() });
            o["status"] = if t.ends_with("completed") {
                "complete"
            } else {
                "expired"
            }
            .into();
        }
        "payout.failed" => {
            o["status"] = "failed".into();
            o["failure_code"] = "account_closed".into();
            o["failure_message"] = "The bank account has been closed.".into();
            o["arrival_date"] = (NOW + 2 * DAY).into();
        }
        "payout.paid" => o["arrival_date"] = NOW.into(),
        _ => {}
    }
    o
}

fn event(event_type: &str) -> Value {
    let mut event = json!({
        "id": format!("evt_1Fixture{}", event_type.replace('.', "_")),
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": NOW,
        "data": { "object": data_object(event_type) },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": event_type,
    });
    match event_type {
        "customer.subscription.updated" => {
            event["data"]["previous_attributes"] = json!({ "status": "active" })
        }
        "customer.updated" => {
            event["data"]["previous_attributes"] =
                json!({ "email": "old@example.org", "address": {} })
        }
        "charge.dispute.updated" => {
            event["data"]["previous_attributes"] = json!({ "status": "needs_response" })
        }
        _ => {}
    }
    event
}

/// The named variations the snapshots must cover.
fn variants() -> Vec<(&'static str, &'static str, Value)> {
    let mut out = Vec::new();
    let mut e = event("invoice.payment_failed");
    e["data"]["object"]["attempt_count"] = 4.into();
    e["data"]["object"]["next_payment_attempt"] = Value::Null;
    out.push(("invoice.payment_failed@attempt4_no_retry", "default", e));
    let mut e = event("charge.succeeded");
    e["data"]["object"]["currency"] = "jpy".into();
    e["data"]["object"]["amount"] = 5000.into();
    out.push(("charge.succeeded@jpy_zero_decimal", "default", e));
    let mut e = event("charge.succeeded");
    e["data"]["object"]["currency"] = "kwd".into();
    e["data"]["object"]["amount"] = 12_500.into();
    out.push(("charge.succeeded@kwd_three_decimal", "default", e));
    let mut e = event("invoice.paid");
    e["livemode"] = true.into();
    e["account"] = "acct_1ConnectFixture".into();
    out.push(("invoice.paid@live_connect_account", "eu", e));
    let mut e = event("charge.dispute.created");
    e["data"]["object"]["evidence_details"]["due_by"] = 0.into();
    out.push(("charge.dispute.created@no_response_possible", "default", e));
    let mut e = event("customer.subscription.deleted");
    for key in [
        "cancellation_details",
        "items",
        "trial_end",
        "default_payment_method",
    ] {
        e["data"]["object"].as_object_mut().unwrap().remove(key);
    }
    out.push((
        "customer.subscription.deleted@missing_optional_fields",
        "default",
        e,
    ));
    let mut e = event("charge.failed");
    e["type"] = "charge.expired".into();
    out.push(("charge.expired@unknown_type_generic_card", "default", e));
    out
}

fn all_platforms(event: &Value, account: &str, policy: &RedactionPolicy) -> Value {
    let templates = Templates::new(None);
    let view = EventView::parse(event, account).unwrap();
    let account_name = if account == "eu" {
        "EU platform"
    } else {
        account
    };
    let card = render::card_for(&templates, &view, policy, None, account_name, NOW).unwrap();
    let mut out = serde_json::Map::new();
    // The four payload formats (a generic webhook carries the console text).
    for platform in Platform::ALL
        .into_iter()
        .filter(|p| *p != Platform::Webhook)
    {
        out.insert(
            platform.name().to_owned(),
            stripe_chatops::chat::render(platform, &card),
        );
    }
    Value::Object(out)
}

fn every_case() -> Vec<(String, &'static str, Value)> {
    let mut cases: Vec<(String, &'static str, Value)> = SAMPLE_TYPES
        .iter()
        .map(|t| ((*t).to_owned(), "default", event(t)))
        .collect();
    cases.extend(
        variants()
            .into_iter()
            .map(|(name, account, e)| (name.to_owned(), account, e)),
    );
    cases
}

#[test]
fn golden_cards_for_every_type_and_platform() {
    let policy = RedactionPolicy {
        metadata_allowlist: vec!["order_ref".into()],
        ..RedactionPolicy::default()
    };
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/cards");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (name, account, event) in every_case() {
            insta::assert_json_snapshot!(name.clone(), all_platforms(&event, account, &policy));
        }
    });
}

#[test]
fn no_pii_reaches_any_payload_under_the_default_policy() {
    let policy = RedactionPolicy::default();
    for (name, account, event) in every_case() {
        let payloads = all_platforms(&event, account, &policy).to_string();
        for marker in PII_MARKERS {
            assert!(
                !payloads.contains(marker),
                "{name}: {marker:?} leaked into {payloads}"
            );
        }
        // What the default does show: the masked e-mail or initials, never more.
        assert!(
            !payloads.contains("ORD-1042"),
            "{name}: metadata is dropped unless allowlisted"
        );
    }
}

#[test]
fn no_pii_reaches_the_render_commands_output_or_logs() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bot.toml");
    std::fs::write(
        &config,
        crate::support::config_text("sqlite://./unused.db", ""),
    )
    .unwrap();
    for (name, _, event) in every_case().into_iter().step_by(3) {
        let file = dir.path().join(format!("{name}.json"));
        std::fs::write(&file, serde_json::to_vec(&event).unwrap()).unwrap();
        for platform in Platform::ALL {
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_stripe-chatops"))
                .args([
                    "--log-format",
                    "json",
                    "render",
                    "--platform",
                    platform.name(),
                    "--event",
                ])
                .arg(&file)
                .arg("--config")
                .arg(&config)
                .env("RUST_LOG", "trace")
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let everything = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            for marker in PII_MARKERS {
                assert!(
                    !everything.contains(marker),
                    "{name}/{}: {marker:?} leaked",
                    platform.name()
                );
            }
        }
    }
}

/// A policy that shows everything it can, with these metadata keys.
fn permissive(metadata_allowlist: Vec<String>) -> RedactionPolicy {
    RedactionPolicy {
        email: EmailDisplay::Full,
        name: NameDisplay::Full,
        phone: true,
        address: true,
        card_last4: true,
        metadata_allowlist,
        customer_links: true,
    }
}

#[test]
fn a_permissive_receiver_shows_what_it_allows_and_still_masks_card_numbers() {
    let policy = permissive(vec!["secret_note".into()]);
    let payloads = all_platforms(&event("charge.failed"), "default", &policy).to_string();
    assert!(payloads.contains(PII_NAME), "{payloads}");
    let invoice = all_platforms(&event("invoice.payment_failed"), "default", &policy).to_string();
    assert!(
        invoice.contains(PII_METADATA) && invoice.contains(PII_EMAIL),
        "{invoice}"
    );
    assert!(
        !payloads.contains(PII_CARD_NUMBER),
        "Luhn-valid numbers are masked under every policy"
    );
    assert!(payloads.contains("[card number removed]"));
}

// ─── Platform limits ──────────────────────────────────────────────────────────

fn chars(value: &Value) -> usize {
    value.as_str().map_or(0, |s| s.chars().count())
}

fn check_slack(payload: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let blocks = payload["blocks"].as_array().unwrap();
    if blocks.len() > slack::MAX_BLOCKS {
        problems.push(format!("{} blocks", blocks.len()));
    }
    for block in blocks {
        match block["type"].as_str().unwrap() {
            "header" if chars(&block["text"]["text"]) > slack::MAX_HEADER_TEXT => {
                problems.push("header too long".into())
            }
            "section" => {
                if chars(&block["text"]["text"]) > slack::MAX_SECTION_TEXT {
                    problems.push("section text too long".into());
                }
                let fields = block["fields"].as_array().map_or(&[][..], Vec::as_slice);
                if fields.len() > slack::MAX_SECTION_FIELDS {
                    problems.push("too many fields".into());
                }
                problems.extend(
                    fields
                        .iter()
                        .filter(|f| chars(&f["text"]) > slack::MAX_FIELD_TEXT)
                        .map(|_| "field too long".to_owned()),
                );
            }
            "actions" => {
                let elements = block["elements"].as_array().unwrap();
                if elements.len() > slack::MAX_ACTIONS {
                    problems.push("too many buttons".into());
                }
                for button in elements {
                    if chars(&button["text"]["text"]) > slack::MAX_BUTTON_TEXT
                        || chars(&button["action_id"]) > slack::MAX_ACTION_ID
                        || chars(&button["value"]) > slack::MAX_BUTTON_VALUE
                        || chars(&button["url"]) > slack::MAX_BUTTON_URL
                    {
                        problems.push(format!("button over a limit: {button}"));
                    }
                }
            }
            _ => {}
        }
    }
    problems
}

fn check_discord(payload: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let embed = &payload["embeds"][0];
    let fields = embed["fields"].as_array().unwrap();
    if chars(&embed["title"]) > discord::MAX_TITLE
        || chars(&embed["description"]) > discord::MAX_DESCRIPTION
        || fields.len() > discord::MAX_FIELDS
        || chars(&embed["footer"]["text"]) > discord::MAX_FOOTER
    {
        problems.push("embed over a limit".into());
    }
    problems.extend(
        fields
            .iter()
            .filter(|f| {
                chars(&f["name"]) > discord::MAX_FIELD_NAME
                    || chars(&f["value"]) > discord::MAX_FIELD_VALUE
                    || chars(&f["value"]) == 0
            })
            .map(|f| format!("field over a limit: {f}")),
    );
    if discord::embed_length(embed) > discord::MAX_EMBED_TOTAL {
        problems.push(format!(
            "embed has {} characters",
            discord::embed_length(embed)
        ));
    }
    let rows = payload["components"].as_array().unwrap();
    if rows.len() > discord::MAX_ROWS {
        problems.push("too many rows".into());
    }
    for row in rows {
        let buttons = row["components"].as_array().unwrap();
        if buttons.len() > discord::MAX_BUTTONS_PER_ROW {
            problems.push("too many buttons in a row".into());
        }
        for button in buttons {
            if chars(&button["label"]) > discord::MAX_LABEL
                || chars(&button["custom_id"]) > discord::MAX_CUSTOM_ID
                || chars(&button["url"]) > discord::MAX_URL
            {
                problems.push(format!("button over a limit: {button}"));
            }
        }
    }
    problems
}

/// Telegram HTML: within 4096 characters, every `&` starts an entity, only our tags, balanced.
fn check_telegram(payload: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let text = payload["text"].as_str().unwrap();
    if text.chars().count() > telegram::MAX_TEXT || text.is_empty() {
        problems.push(format!("text has {} characters", text.chars().count()));
    }
    for (i, _) in text.match_indices('&') {
        if !["&amp;", "&lt;", "&gt;", "&quot;"]
            .iter()
            .any(|e| text[i..].starts_with(e))
        {
            problems.push(format!("bare & at {i}"));
        }
    }
    let mut open: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let end = rest[start..]
            .find('>')
            .map(|e| start + e)
            .expect("unterminated tag");
        let tag = &rest[start + 1..end];
        match tag.strip_prefix('/') {
            Some(name) => {
                if open.pop() != Some(name) {
                    problems.push(format!("unbalanced </{name}>"));
                }
            }
            None if ["b", "i", "code"].contains(&tag) => open.push(tag),
            None => problems.push(format!("unexpected tag <{tag}>")),
        }
        rest = &rest[end + 1..];
    }
    if !open.is_empty() {
        problems.push(format!("unclosed {open:?}"));
    }
    for row in payload["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for button in row.as_array().unwrap() {
            if button["callback_data"]
                .as_str()
                .is_some_and(|d| d.len() > telegram::MAX_CALLBACK_DATA || d.is_empty())
            {
                problems.push(format!("callback_data over 64 bytes: {button}"));
            }
        }
    }
    problems
}

fn check_all(name: &str, payloads: &Value) {
    let mut problems = BTreeMap::new();
    problems.insert("slack", check_slack(&payloads["slack"]));
    problems.insert("discord", check_discord(&payloads["discord"]));
    problems.insert("telegram", check_telegram(&payloads["telegram"]));
    problems.retain(|_, p| !p.is_empty());
    assert!(problems.is_empty(), "{name}: {problems:#?}");
}

#[test]
fn every_payload_of_every_fixture_is_within_every_limit() {
    for (name, account, event) in every_case() {
        check_all(
            &name,
            &all_platforms(&event, account, &RedactionPolicy::default()),
        );
    }
}

#[test]
fn hostile_input_stays_within_limits_and_is_escaped() {
    let hostile = format!(
        "{}<b>&amp; *_[]()~`>#+-=|{{}}.!@everyone 🎉🇬🇧 {}",
        "Ж".repeat(2_000),
        "x".repeat(8_000)
    );
    let policy = permissive((0..40).map(|i| format!("k{i}")).collect());
    for event_type in SAMPLE_TYPES {
        let mut e = event(event_type);
        let o = &mut e["data"]["object"];
        for key in [
            "customer_name",
            "customer_email",
            "description",
            "failure_message",
            "number",
        ] {
            if o.get(key).is_some() {
                o[key] = hostile.clone().into();
            }
        }
        if let Some(details) = o.get_mut("billing_details") {
            details["name"] = hostile.clone().into();
        }
        o["metadata"] = (0..40)
            .map(|i| (format!("k{i}"), Value::String(hostile.clone())))
            .collect::<serde_json::Map<_, _>>()
            .into();
        let payloads = all_platforms(&e, "default", &policy);
        check_all(event_type, &payloads);
        let telegram = payloads["telegram"]["text"].as_str().unwrap();
        assert!(
            !telegram.contains("<b>&amp;"),
            "{event_type}: customer HTML must be escaped"
        );
        let slack = payloads["slack"].to_string();
        assert!(
            !slack.contains("<b>"),
            "{event_type}: customer text must be escaped in Slack mrkdwn"
        );
    }
}
