//! Reading from Stripe end to end: cards completed with the "why" (decline
//! reason, card, subscription status, customer) and the cache that spares
//! Stripe; a slow, throttling and failing Stripe that delays no card and
//! storms no API; catch-up of events missed while the bot was down; poll
//! mode with no webhook at all; look-ups from Slack, Discord and Telegram
//! under roles and the asker's redaction. Fake Slack, Discord, Telegram and
//! Stripe on 127.0.0.1.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use crate::support::fakes::{self, DISCORD_TOKEN, Fake, SLACK_TOKEN, STRIPE_KEY, TELEGRAM_TOKEN};
use crate::support::*;

const SIGNING_SECRET: &str = "slack-signing-secret-0123";

/// The objects of one failed renewal, as Stripe's API returns them.
fn put_failed_renewal(stripe: &Fake, n: u32) {
    let state = &stripe.state;
    state.put_object(json!({
        "id": format!("pi_{n}Renewal"), "object": "payment_intent", "status": "requires_payment_method",
        "amount": 4900, "currency": "usd", "customer": "cus_1Jenny", "latest_charge": format!("ch_{n}Renewal"),
        "last_payment_error": { "code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds." }
    }));
    state.put_object(json!({
        "id": format!("ch_{n}Renewal"), "object": "charge", "status": "failed", "amount": 4900, "currency": "usd",
        "failure_code": "card_declined", "failure_message": "Your card has insufficient funds.",
        "outcome": { "reason": "insufficient_funds", "seller_message": "The bank returned the decline code `insufficient_funds`.", "advice_code": "try_again_later", "risk_level": "normal" },
        "payment_method_details": { "type": "card", "card": { "brand": "visa", "last4": "0341" } }
    }));
    state.put_object(json!({ "id": "sub_1Jenny", "object": "subscription", "status": "past_due", "customer": "cus_1Jenny" }));
    state.put_object(json!({
        "id": "cus_1Jenny", "object": "customer", "name": "Jenny Rosen", "email": "jenny.rosen@example.com"
    }));
    state.put_object(invoice(n));
}

/// An open invoice whose last retry failed; it names its customer only by id.
fn invoice(n: u32) -> Value {
    json!({
        "id": format!("in_{n}Renewal"), "object": "invoice", "status": "open", "livemode": false,
        "customer": "cus_1Jenny", "subscription": "sub_1Jenny", "payment_intent": format!("pi_{n}Renewal"),
        "amount_due": 4900, "amount_paid": 0, "currency": "usd", "attempt_count": 4,
        "next_payment_attempt": null, "number": format!("INV-000{n}"), "billing_reason": "subscription_cycle",
        "collection_method": "charge_automatically"
    })
}

fn failed_event(n: u32) -> Value {
    let mut event = event("invoice.payment_failed");
    event["id"] = format!("evt_1Renewal{n}Failed").into();
    event["created"] = now().into();
    event["data"]["object"] = invoice(n);
    event
}

fn slack_config(database: &TestDatabase, slack: &Fake, stripe: &Fake, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
[storage]
url = "{url}"
[stripe]
webhook_secrets = ["{SECRET}"]
api_key = "{STRIPE_KEY}"
api_base_url = "{stripe}"
{extra}
[slack]
bot_token = "{SLACK_TOKEN}"
api_base_url = "{slack}/api"
signing_secret = "{SIGNING_SECRET}"
[roles.finance]
slack_users = ["U_ALICE"]
redaction = {{ email = "full", name = "full" }}
[roles.support]
slack_users = ["U_BOB"]
[delivery]
retry_schedule = ["100ms", "300ms"]
[delivery.slack]
per_destination = "50/s"
burst = 50
[[receivers]]
name = "finance"
slack = {{ channel = "C0FIN" }}
[route]
receiver = "finance"
"#,
        url = database.url,
        stripe = stripe.base_url(),
        slack = slack.base_url(),
    )
}

fn text_of(body: &Value) -> String {
    body.to_string()
}

#[tokio::test]
async fn a_failed_payment_card_says_why_and_a_warm_cache_spares_stripe() {
    let (slack, stripe) = (fakes::slack().await, fakes::stripe().await);
    slack.state.unlimited.store(true, Ordering::Relaxed);
    put_failed_renewal(&stripe, 1);
    put_failed_renewal(&stripe, 2);
    let database = TestDatabase::create(Backend::Sqlite).await;
    let text = slack_config(&database, &slack, &stripe, "catch_up_every = \"0s\"");
    let app = start_app_with_config(database, &text).await;
    assert_eq!(
        app.post_event("/webhooks/stripe", &failed_event(1), SECRET)
            .await
            .0,
        200
    );
    let card = eventually(20, "the first card", || async {
        slack.state.posts("chat.postMessage").into_iter().next()
    })
    .await;
    let card = text_of(&card.body);
    assert!(
        card.contains("insufficient_funds: Your card has insufficient funds."),
        "{card}"
    );
    assert!(card.contains("issuer advice: try again later"), "{card}");
    assert!(card.contains("Visa ••0341"), "{card}");
    assert!(card.contains("past due"), "{card}");
    assert!(
        card.contains("no retry left: Stripe's retry settings decide"),
        "{card}"
    );
    // The customer was read from Stripe, then redacted for the channel.
    assert!(
        card.contains("J. R.") && card.contains("j***@example.com"),
        "{card}"
    );
    assert!(!card.contains("jenny.rosen@example.com") && !card.contains("Jenny Rosen"));
    let mut reads = stripe.state.reads();
    reads.sort();
    assert_eq!(
        reads,
        [
            "/v1/charges/ch_1Renewal",
            "/v1/customers/cus_1Jenny",
            "/v1/payment_intents/pi_1Renewal",
            "/v1/subscriptions/sub_1Jenny",
        ],
        "one read per object, nothing else"
    );
    let versions: Vec<Value> = stripe
        .state
        .read_requests()
        .iter()
        .map(|r| r.body["stripe_version"].clone())
        .collect();
    assert!(
        versions.iter().all(|v| v == "2025-03-31.basil"),
        "{versions:?}"
    );

    // A second invoice of the same customer and subscription: only its own payment is read.
    assert_eq!(
        app.post_event("/webhooks/stripe", &failed_event(2), SECRET)
            .await
            .0,
        200
    );
    eventually(20, "the second card", || async {
        (slack.state.posts("chat.postMessage").len() >= 2).then_some(())
    })
    .await;
    let reads = stripe.state.reads();
    assert_eq!(reads.len(), 6, "{reads:?}");
    assert!(
        reads[4..].iter().all(|r| r.ends_with("2Renewal")),
        "{reads:?}"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("stripe_chatops_card_enrichments_total{outcome=\"complete\"} 2"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_slow_throttling_failing_stripe_delays_no_card_and_storms_no_api() {
    let (slack, stripe) = (fakes::slack().await, fakes::stripe().await);
    slack.state.unlimited.store(true, Ordering::Relaxed);
    put_failed_renewal(&stripe, 1);
    // One read stalls for 10 s (past the 2 s timeout), one gets 429 with
    // Retry-After: 1, one gets 500: each is retried once, as idempotent reads.
    stripe.state.stall_next.store(1, Ordering::Relaxed);
    stripe.state.stall_ms.store(10_000, Ordering::Relaxed);
    stripe.state.throttle_next.store(1, Ordering::Relaxed);
    stripe.state.storm_retry_after.store(1, Ordering::Relaxed);
    stripe.state.fail_next.store(1, Ordering::Relaxed);
    let database = TestDatabase::create(Backend::Sqlite).await;
    let text = slack_config(
        &database,
        &slack,
        &stripe,
        "catch_up_every = \"0s\"\ntimeout = \"2s\"\nmax_retries = 3\nenrich_wait = \"1s\"",
    );
    let app = start_app_with_config(database, &text).await;
    assert_eq!(
        app.post_event("/webhooks/stripe", &failed_event(1), SECRET)
            .await
            .0,
        200
    );
    let posted = eventually(20, "the card, posted with what is known", || async {
        slack.state.posts("chat.postMessage").into_iter().next()
    })
    .await;
    let completed = eventually(30, "the card completed in place", || async {
        slack.state.posts("chat.update").into_iter().find(|u| {
            let text = text_of(&u.body);
            text.contains("insufficient funds")
                && text.contains("0341")
                && text.contains("J. R.")
                && text.contains("past due")
        })
    })
    .await;
    assert_ne!(text_of(&posted.body), text_of(&completed.body));
    // The card did not wait for the slowest read: it went out before the last retry was asked.
    let last_read = stripe.state.read_requests().last().unwrap().at;
    assert!(posted.at < last_read, "the card waited for Stripe");
    // Four objects, three retries: no storm.
    let reads = stripe.state.reads();
    assert_eq!(reads.len(), 7, "{reads:?}");
    assert_eq!(
        slack.state.posts("chat.postMessage").len(),
        1,
        "posted once"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("stripe_chatops_card_enrichments_total{outcome=\"late\"} 1"),
        "{metrics}"
    );
    // Counted once the edit is recorded, just after the platform saw it.
    eventually(10, "the late completion counted", || async {
        app.metrics()
            .await
            .contains("stripe_chatops_card_enrichments_total{outcome=\"completed_late\"} 1")
            .then_some(())
    })
    .await;
    app.stop().await;
}

/// Stripe's listing of an event (the shape `GET /v1/events` returns).
fn listed(id: &str, event_type: &str, created: i64) -> Value {
    let mut event = event(event_type);
    event["id"] = id.into();
    event["created"] = created.into();
    event
}

fn console_config(database: &TestDatabase, stripe: &Fake, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
[storage]
url = "{url}"
[stripe]
api_key = "{STRIPE_KEY}"
api_base_url = "{stripe}"
{extra}
"#,
        url = database.url,
        stripe = stripe.base_url(),
    )
}

#[tokio::test]
async fn events_missed_while_the_bot_was_down_are_caught_up_once() {
    let stripe = fakes::stripe().await;
    let database = TestDatabase::create(Backend::Sqlite).await;
    let text = console_config(
        &database,
        &stripe,
        &format!("webhook_secrets = [\"{SECRET}\"]\ncatch_up_every = \"10m\""),
    );
    let app = start_app_with_config(database, &text).await;
    // Catch-up ran at start: a fresh store looks back only the overlap.
    eventually(10, "the start-up catch-up", || async {
        (!stripe.state.reads().is_empty()).then_some(())
    })
    .await;
    let first = stripe.state.read_requests()[0].body["query"].clone();
    let since: i64 = first["created[gte]"].as_str().unwrap().parse().unwrap();
    assert!((now() - 300 - since).abs() < 30, "{first}");
    let seen = listed("evt_1CatchSeen", "charge.succeeded", now() - 20);
    stripe.state.events.lock().unwrap().push(seen.clone());
    assert_eq!(
        app.post_event("/webhooks/stripe", &seen, SECRET).await.0,
        200
    );
    eventually(10, "the webhook's card", || async {
        app.console_text().contains("evt_1CatchSeen").then_some(())
    })
    .await;
    let database = app.halt().await;

    // While the bot is down, Stripe creates two more events (their webhooks are lost).
    for (id, kind) in [
        ("evt_1CatchMissedA", "invoice.paid"),
        ("evt_1CatchMissedB", "payout.failed"),
    ] {
        stripe
            .state
            .events
            .lock()
            .unwrap()
            .push(listed(id, kind, now() - 5));
    }
    // 150 more, to page through `has_more`.
    for n in 0..150 {
        let id = format!("evt_1CatchPage{n:03}");
        stripe
            .state
            .events
            .lock()
            .unwrap()
            .push(listed(&id, "customer.updated", now() - 10));
    }
    let app = start_app_with_config(database, &text).await;
    eventually(20, "the missed events stored and posted", || async {
        let console = app.console_text();
        (console.contains("evt_1CatchMissedA") && console.contains("evt_1CatchMissedB"))
            .then_some(())
    })
    .await;
    assert_eq!(app.stored().await, 153);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            "stripe_chatops_events_by_source_total{source=\"catch_up\",outcome=\"stored\"} 152"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "stripe_chatops_events_by_source_total{source=\"catch_up\",outcome=\"duplicate\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        !app.console_text().contains("evt_1CatchSeen"),
        "the seen event is not posted again"
    );

    // A second run stores nothing new.
    let config = app.state.config();
    let catch_up = stripe_chatops::catch_up::CatchUp::new(
        app.state.live.clone(),
        app.state.store.clone(),
        stripe_chatops::stripe::api::StripeClient::new(&config.stripe),
        app.state.metrics.clone(),
        app.state.pipeline_wake.clone(),
    );
    let report = catch_up
        .run_account(
            &config.stripe,
            "default",
            None,
            stripe_chatops::catch_up::Source::CatchUp,
        )
        .await
        .unwrap();
    assert_eq!((report.listed, report.new), (153, 0), "{report:?}");
    assert_eq!(report.pages, 2);
    assert_eq!(app.stored().await, 153);
    app.stop().await;
}

#[tokio::test]
async fn poll_mode_needs_no_webhook_at_all() {
    let stripe = fakes::stripe().await;
    let database = TestDatabase::create(Backend::Sqlite).await;
    let text = console_config(&database, &stripe, "mode = \"poll\"\npoll_every = \"1s\"");
    let app = start_app_with_config(database, &text).await;
    eventually(10, "the first poll", || async {
        (!stripe.state.reads().is_empty()).then_some(())
    })
    .await;
    stripe.state.events.lock().unwrap().push(listed(
        "evt_1PolledFailure",
        "invoice.payment_failed",
        now(),
    ));
    eventually(20, "the polled event's card", || async {
        app.console_text()
            .contains("evt_1PolledFailure")
            .then_some(())
    })
    .await;
    // No endpoint secret: a webhook is refused, the event stays polled.
    let (status, _) = app
        .post_event("/webhooks/stripe", &event("invoice.paid"), SECRET)
        .await;
    assert_eq!(status, 400);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            "stripe_chatops_events_by_source_total{source=\"poll\",outcome=\"stored\"} 1"
        ),
        "{metrics}"
    );
    app.stop().await;
}

// ------------------------------------------------------------ look-ups

/// Sends a signed `/stripe` slash command as `user`; the answer goes to `{slack}/response/{user}`.
async fn slash(app: &TestApp, slack: &Fake, user: &str, text: &str, secret: &str) -> u16 {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("command", "/stripe")
        .append_pair("text", text)
        .append_pair("user_id", user)
        .append_pair("user_name", &user.to_lowercase())
        .append_pair("channel_id", "C0FIN")
        .append_pair(
            "response_url",
            &format!("{}/response/{user}", slack.base_url()),
        )
        .append_pair("trigger_id", "1.2.3")
        .finish();
    app.slack_signed("/commands/slack", body, secret).await
}

async fn answer_to(slack: &Fake, user: &str, count: usize) -> Value {
    eventually(20, "the private answer", || async {
        let answers: Vec<_> = slack
            .state
            .posts("response")
            .into_iter()
            .filter(|r| r.channel == user)
            .collect();
        (answers.len() >= count).then(|| answers[count - 1].body.clone())
    })
    .await
}

fn button_value(answer: &Value, label: &str) -> Option<String> {
    answer["blocks"].as_array()?.iter().find_map(|block| {
        block["elements"].as_array()?.iter().find_map(|e| {
            (e["text"]["text"] == label).then(|| e["value"].as_str().map(str::to_owned))?
        })
    })
}

#[tokio::test]
async fn slack_look_ups_follow_roles_and_the_askers_redaction() {
    let (slack, stripe) = (fakes::slack().await, fakes::stripe().await);
    slack.state.unlimited.store(true, Ordering::Relaxed);
    put_failed_renewal(&stripe, 1);
    let database = TestDatabase::create(Backend::Sqlite).await;
    let text = slack_config(&database, &slack, &stripe, "catch_up_every = \"0s\"");
    let app = start_app_with_config(database, &text).await;

    // Forged, and by someone in no role: refused, and Stripe is not asked.
    assert_eq!(
        slash(
            &app,
            &slack,
            "U_ALICE",
            "invoice in_1Renewal",
            "wrong-secret"
        )
        .await,
        401
    );
    assert_eq!(
        slash(
            &app,
            &slack,
            "U_NOBODY",
            "invoice in_1Renewal",
            SIGNING_SECRET
        )
        .await,
        200
    );
    let refused = answer_to(&slack, "U_NOBODY", 1).await;
    assert_eq!(refused["response_type"], "ephemeral");
    assert!(
        refused["text"].as_str().unwrap().contains("not allowed"),
        "{refused}"
    );
    assert!(
        stripe.state.reads().is_empty(),
        "no Stripe call for a refusal"
    );

    // Before the bot saw any event of it: the card, no action buttons.
    assert_eq!(
        slash(
            &app,
            &slack,
            "U_ALICE",
            "invoice in_1Renewal",
            SIGNING_SECRET
        )
        .await,
        200
    );
    let first = answer_to(&slack, "U_ALICE", 1).await;
    assert_eq!(first["response_type"], "ephemeral");
    let shown = text_of(&first);
    assert!(
        shown.contains("Payment failed") && shown.contains("insufficient funds"),
        "{shown}"
    );
    assert!(shown.contains("Looked up in Stripe"), "{shown}");
    assert!(button_value(&first, "Retry payment").is_none());

    // Once the event is stored, finance gets Retry; support does not.
    assert_eq!(
        app.post_event("/webhooks/stripe", &failed_event(1), SECRET)
            .await
            .0,
        200
    );
    eventually(20, "the channel's card", || async {
        slack.state.posts("chat.postMessage").into_iter().next()
    })
    .await;
    assert_eq!(
        slash(&app, &slack, "U_ALICE", "in_1Renewal", SIGNING_SECRET).await,
        200
    );
    let alice = answer_to(&slack, "U_ALICE", 2).await;
    // Finance's own policy shows the full address; the channel's card masks it.
    assert!(
        text_of(&alice).contains("jenny.rosen@example.com"),
        "{alice}"
    );
    let retry = button_value(&alice, "Retry payment").expect("finance may retry");
    assert_eq!(
        slash(&app, &slack, "U_BOB", "invoice in_1Renewal", SIGNING_SECRET).await,
        200
    );
    let bob = answer_to(&slack, "U_BOB", 1).await;
    assert!(!text_of(&bob).contains("jenny.rosen@example.com"), "{bob}");
    assert!(text_of(&bob).contains("j***@example.com"), "{bob}");
    assert!(button_value(&bob, "Retry payment").is_none());
    assert!(button_value(&bob, "Acknowledge").is_some());
    let channel_card = text_of(&slack.state.posts("chat.postMessage")[0].body);
    assert!(!channel_card.contains("jenny.rosen@example.com"));

    // The answer's button acts, once, and says so privately.
    assert_eq!(
        app.slack_click(&slack.base_url(), SIGNING_SECRET, "U_ALICE", &retry)
            .await,
        200
    );
    let done = answer_to(&slack, "U_ALICE", 3).await;
    assert!(done["text"].as_str().unwrap().contains("Retried"), "{done}");
    assert_eq!(stripe.state.posts("pay").len(), 1);
    app.slack_click(&slack.base_url(), SIGNING_SECRET, "U_ALICE", &retry)
        .await;
    let again = answer_to(&slack, "U_ALICE", 4).await;
    assert!(
        again["text"].as_str().unwrap().contains("Already done"),
        "{again}"
    );
    assert_eq!(stripe.state.posts("pay").len(), 1);

    // Unknown ids and e-mails are a sentence, not JSON.
    slash(
        &app,
        &slack,
        "U_ALICE",
        "customer cus_1Nobody",
        SIGNING_SECRET,
    )
    .await;
    let missing = answer_to(&slack, "U_ALICE", 5).await;
    assert_eq!(
        missing["text"],
        "There is no such customer in Stripe (or the bot's key cannot see it)."
    );
    slash(
        &app,
        &slack,
        "U_ALICE",
        "customer jenny.rosen@example.com",
        SIGNING_SECRET,
    )
    .await;
    let by_email = answer_to(&slack, "U_ALICE", 6).await;
    assert!(text_of(&by_email).contains("Jenny Rosen"), "{by_email}");
    slash(&app, &slack, "U_ALICE", "refund re_1", SIGNING_SECRET).await;
    let usage = answer_to(&slack, "U_ALICE", 7).await;
    assert!(
        usage["text"]
            .as_str()
            .unwrap()
            .contains("Look up: invoice in_…"),
        "{usage}"
    );
    app.stop().await;
}

#[tokio::test]
async fn discord_and_telegram_look_ups_answer_privately() {
    let (discord, telegram, stripe) = (
        fakes::discord().await,
        fakes::telegram().await,
        fakes::stripe().await,
    );
    put_failed_renewal(&stripe, 1);
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let database = TestDatabase::create(Backend::Sqlite).await;
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[storage]
url = "{url}"
[stripe]
webhook_secrets = ["{SECRET}"]
api_key = "{STRIPE_KEY}"
api_base_url = "{stripe}"
catch_up_every = "0s"
[discord]
bot_token = "{DISCORD_TOKEN}"
api_base_url = "{discord}"
public_key = "{public}"
[telegram]
bot_token = "{TELEGRAM_TOKEN}"
api_base_url = "{telegram}"
[roles.finance]
discord_roles = ["900000000000000001"]
telegram_users = [42]
"#,
        url = database.url,
        stripe = stripe.base_url(),
        discord = discord.base_url(),
        telegram = telegram.base_url(),
        public = hex::encode(key.verifying_key().to_bytes()),
    );
    let app = start_app_with_config(database, &text).await;
    let command = |user: &str, roles: &[&str]| {
        json!({
            "id": "1100000000000000009", "application_id": "1200000000000000001", "type": 2,
            "token": format!("ctoken-{user}"), "version": 1, "channel_id": "123456789012345678",
            "member": { "user": { "id": user, "username": user }, "roles": roles },
            "data": { "id": "1300000000000000001", "name": "stripe", "type": 1,
                      "options": [ { "name": "invoice", "type": 1, "options": [ { "name": "id", "type": 3, "value": "in_1Renewal" } ] } ] }
        })
        .to_string()
    };
    let send = |body: String, key: ed25519_dalek::SigningKey| {
        let app = &app;
        async move {
            use ed25519_dalek::Signer;
            let timestamp = now().to_string();
            let signature = key.sign(format!("{timestamp}{body}").as_bytes());
            let response = app
                .client
                .post(app.url("/interactions/discord"))
                .header("x-signature-ed25519", hex::encode(signature.to_bytes()))
                .header("x-signature-timestamp", timestamp)
                .body(body)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // Forged: 401, nothing read.
    let forged = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    assert_eq!(
        send(command("42", &["900000000000000001"]), forged).await.0,
        401
    );
    // Deferred privately at once, then the deferred reply becomes the card.
    let (status, deferred) = send(command("42", &["900000000000000001"]), key.clone()).await;
    assert_eq!(
        (status, deferred.clone()),
        (200, json!({ "type": 5, "data": { "flags": 64 } }))
    );
    let original = eventually(20, "the look-up's answer on Discord", || async {
        discord
            .state
            .posts("original")
            .into_iter()
            .find(|o| o.channel == "ctoken-42")
    })
    .await;
    let embed = text_of(&original.body["embeds"]);
    assert!(
        embed.contains("Payment failed") && embed.contains("insufficient funds"),
        "{embed}"
    );
    // Someone in no role: a sentence, and no read of Stripe beyond the first look-up's.
    let reads = stripe.state.reads().len();
    send(command("77", &[]), key.clone()).await;
    let refused = eventually(20, "the refusal on Discord", || async {
        discord
            .state
            .posts("original")
            .into_iter()
            .find(|o| o.channel == "ctoken-77")
    })
    .await;
    assert!(
        refused.body["content"]
            .as_str()
            .unwrap()
            .contains("not allowed")
    );
    assert_eq!(stripe.state.reads().len(), reads);

    // Telegram: /invoice over getUpdates, answered in the chat it came from.
    let say = |from: i64, text: &str| {
        json!({ "update_id": from * 10, "message": {
            "message_id": 500 + from, "date": now(), "text": text,
            "chat": { "id": from, "type": "private" }, "from": { "id": from, "is_bot": false, "first_name": "A" } } })
    };
    telegram
        .state
        .updates
        .lock()
        .unwrap()
        .push_back(say(42, "/invoice in_1Renewal"));
    let reply = eventually(20, "the look-up's answer on Telegram", || async {
        telegram
            .state
            .posts("sendMessage")
            .into_iter()
            .find(|m| m.channel == "42")
    })
    .await;
    let shown = reply.body["text"].as_str().unwrap();
    assert!(
        shown.contains("Payment failed") && shown.contains("insufficient funds"),
        "{shown}"
    );
    assert_eq!(reply.body["reply_parameters"]["message_id"], 542);
    let reads = stripe.state.reads().len();
    telegram
        .state
        .updates
        .lock()
        .unwrap()
        .push_back(say(77, "/payment pi_1Renewal"));
    let refused = eventually(20, "the refusal on Telegram", || async {
        telegram
            .state
            .posts("sendMessage")
            .into_iter()
            .find(|m| m.channel == "77")
    })
    .await;
    assert!(
        refused.body["text"]
            .as_str()
            .unwrap()
            .contains("not allowed")
    );
    assert_eq!(
        stripe.state.reads().len(),
        reads,
        "no Stripe call for a refusal"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_card_posted_while_stripe_was_down_is_completed_after_a_restart() {
    let (slack, stripe) = (fakes::slack().await, fakes::stripe().await);
    slack.state.unlimited.store(true, Ordering::Relaxed);
    put_failed_renewal(&stripe, 1);
    // Stripe answers 500 to everything for now.
    stripe.state.fail_next.store(1_000, Ordering::Relaxed);
    let database = TestDatabase::create(Backend::Sqlite).await;
    let text = slack_config(
        &database,
        &slack,
        &stripe,
        "catch_up_every = \"0s\"\nmax_retries = 0\nenrich_wait = \"1s\"",
    );
    let app = start_app_with_config(database, &text).await;
    assert_eq!(
        app.post_event("/webhooks/stripe", &failed_event(1), SECRET)
            .await
            .0,
        200
    );
    let posted = eventually(20, "the card, posted with what is known", || async {
        slack.state.posts("chat.postMessage").into_iter().next()
    })
    .await;
    assert!(text_of(&posted.body).contains("reason not reported yet"));
    let waiting = eventually(20, "the card marked as waiting for Stripe", || async {
        let waiting = app.state.store.awaiting_stripe(10).await.unwrap();
        (!waiting.is_empty()).then_some(waiting)
    })
    .await;
    assert_eq!(
        (waiting[0].0.as_str(), waiting[0].1.as_str()),
        ("finance", "in_1Renewal")
    );
    // The bot stops before Stripe comes back; Stripe comes back.
    let database = app.halt().await;
    stripe.state.fail_next.store(0, Ordering::Relaxed);
    let app = start_app_with_config(database, &text).await;
    let completed = eventually(20, "the card completed after the restart", || async {
        slack.state.posts("chat.update").into_iter().find(|u| {
            let text = text_of(&u.body);
            text.contains("insufficient funds") && text.contains("0341")
        })
    })
    .await;
    assert_eq!(completed.body["channel"], "C0FIN");
    assert_eq!(
        slack.state.posts("chat.postMessage").len(),
        1,
        "posted once, edited once"
    );
    eventually(10, "no card left waiting", || async {
        app.state
            .store
            .awaiting_stripe(10)
            .await
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
    app.stop().await;
}
