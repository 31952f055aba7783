//! Payment requests from chat: `/stripe pay` on Slack (slash command, the
//! shortcut's form and its `view_submission`), Discord's `/stripe pay`
//! application command, Telegram's `/pay`, each signed or sent as the
//! platform sends it. The fake Stripe checks the Checkout Session's form
//! fields and replays an `Idempotency-Key`; Stripe's `checkout.session.*`
//! webhooks then edit the request's card. Everything on 127.0.0.1.

use serde_json::{Value, json};
use stripe_chatops::chat::slack::sign;
use stripe_chatops::store::PaymentRequest;

use crate::support::fakes::{self, Fake, SLACK_TOKEN, STRIPE_KEY};
use crate::support::*;

const SIGNING_SECRET: &str = "slack-signing-secret-0123";

/// A Slack app whose `support` receiver posts in C0SUP; alice is in
/// finance, bob in support. `key` is the Stripe key; `extra` more keys.
async fn slack_app(key: &str, extra: &str) -> (TestApp, Fake, Fake) {
    slack_app_on(None, key, extra).await
}

/// [`slack_app`] on a clock the test moves.
async fn slack_app_on(
    clock: Option<std::sync::Arc<stripe_chatops::clock::Clock>>,
    key: &str,
    extra: &str,
) -> (TestApp, Fake, Fake) {
    let slack = fakes::slack().await;
    let stripe = fakes::stripe().await;
    let database = TestDatabase::create(Backend::Sqlite).await;
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[storage]
url = "{url}"
[stripe]
webhook_secrets = ["{SECRET}"]
api_key = "{key}"
api_base_url = "{stripe}"
[slack]
bot_token = "{SLACK_TOKEN}"
api_base_url = "{slack}/api"
signing_secret = "{SIGNING_SECRET}"
[roles.finance]
slack_users = ["U_ALICE"]
[roles.support]
slack_users = ["U_BOB"]
{FAST}
{extra}
[[receivers]]
name = "support"
slack = {{ channel = "C0SUP" }}
[route]
receiver = "support"
"#,
        url = database.url,
        stripe = stripe.base_url(),
        slack = slack.base_url(),
    );
    let app = match clock {
        Some(clock) => start_app_with_clock(database, &text, clock).await,
        None => start_app_with_config(database, &text).await,
    };
    // A request's whole life in seconds: Slack's per-channel pace is not what is tested.
    slack
        .state
        .unlimited
        .store(true, std::sync::atomic::Ordering::Relaxed);
    (app, slack, stripe)
}

/// Sends a signed Slack request (form body) to `path`.
async fn slack_post(app: &TestApp, path: &str, body: &str) -> (u16, String) {
    let timestamp = now();
    let response = app
        .client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header(
            "x-slack-signature",
            sign(SIGNING_SECRET, timestamp, body.as_bytes()),
        )
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

/// `/stripe {text}` typed by `user` in C0SUP, as Slack posts it.
async fn slash(app: &TestApp, slack: &Fake, user: &str, text: &str, trigger: &str) -> u16 {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("command", "/stripe")
        .append_pair("text", text)
        .append_pair("user_id", user)
        .append_pair("user_name", &user.trim_start_matches("U_").to_lowercase())
        .append_pair("channel_id", "C0SUP")
        .append_pair("trigger_id", trigger)
        .append_pair(
            "response_url",
            &format!("{}/response/{user}", slack.base_url()),
        )
        .finish();
    slack_post(app, "/commands/slack", &body).await.0
}

/// An interactivity payload, signed and sent.
async fn interact(app: &TestApp, payload: &Value) -> (u16, String) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    slack_post(app, "/interactions/slack", &body).await
}

/// A press of a button whose value is `value`, by `user`.
async fn press(app: &TestApp, slack: &Fake, user: &str, value: &str) -> u16 {
    let payload = json!({
        "type": "block_actions",
        "user": { "id": user, "username": user.trim_start_matches("U_").to_lowercase() },
        "response_url": format!("{}/response/{user}", slack.base_url()),
        "container": { "type": "message", "channel_id": "C0SUP", "message_ts": "1700000000.000001" },
        "actions": [{ "type": "button", "action_id": "x", "value": value, "action_ts": "1700000001.0" }]
    });
    interact(app, &payload).await.0
}

/// The private answers `user` got so far (ephemeral, via response_url).
fn answers(slack: &Fake, user: &str) -> Vec<Value> {
    slack
        .state
        .posts("response")
        .into_iter()
        .filter(|r| r.channel == user)
        .map(|r| {
            assert_eq!(r.body["response_type"], json!("ephemeral"));
            r.body
        })
        .collect()
}

async fn answer(slack: &Fake, user: &str, count: usize) -> Value {
    eventually(20, "a private answer", || async {
        let all = answers(slack, user);
        (all.len() >= count).then(|| all[count - 1].clone())
    })
    .await
}

/// The Checkout Sessions the fake Stripe made, with their form and key.
fn sessions(stripe: &Fake) -> Vec<Value> {
    stripe
        .state
        .received()
        .into_iter()
        .filter(|r| r.method == "checkout.sessions.create")
        .map(|r| r.body)
        .collect()
}

/// The values of a Block Kit message's buttons, by label.
fn buttons(message: &Value) -> Vec<(String, String)> {
    message["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .filter_map(|e| {
            Some((
                e["text"]["text"].as_str()?.to_owned(),
                e["value"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

fn button(message: &Value, label: &str) -> String {
    buttons(message)
        .into_iter()
        .find(|(l, _)| l == label)
        .unwrap_or_else(|| panic!("no {label} button in {message}"))
        .1
}

/// A Stripe event about the session the fake made, changed by `change`.
fn session_event(stripe: &Fake, id: &str, event_type: &str, change: impl Fn(&mut Value)) -> Value {
    let mut session = stripe.state.objects.lock().unwrap()[id].clone();
    change(&mut session);
    json!({
        "id": format!("evt_{id}_{}", event_type.replace('.', "_")),
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": now(),
        "livemode": false,
        "type": event_type,
        "data": { "object": session }
    })
}

fn paid(session: &mut Value) {
    session["status"] = json!("complete");
    session["payment_status"] = json!("paid");
    session["customer_details"] = json!({ "email": "jenny@example.com", "name": "Jenny Rosen" });
}

fn expired(session: &mut Value) {
    session["status"] = json!("expired");
    session["url"] = Value::Null;
    session["after_expiration"]["recovery"]["url"] =
        json!("https://buy.stripe.com/r/test_recovery_1");
}

async fn request_row(app: &TestApp) -> PaymentRequest {
    app.state
        .store
        .payment_requests(10)
        .await
        .unwrap()
        .into_iter()
        .next()
        .expect("a payment request")
}

fn text_of(message: &Value) -> String {
    message.to_string()
}

#[tokio::test]
async fn slack_pay_asks_first_then_makes_one_session_and_posts_the_card() {
    let (app, slack, stripe) = slack_app(STRIPE_KEY, "").await;
    let command = r#"pay 49.99 EUR "Support deposit" jenny@example.com"#;
    assert_eq!(slash(&app, &slack, "U_ALICE", command, "T1").await, 200);

    // The question first, privately, and nothing asked of Stripe yet.
    let question = answer(&slack, "U_ALICE", 1).await;
    let said = text_of(&question);
    assert!(said.contains("Request €49.99 EUR?"), "{said}");
    assert!(
        said.contains("Support deposit") && said.contains("TEST MODE"),
        "{said}"
    );
    assert!(sessions(&stripe).is_empty());
    let create = button(&question, "Create link");
    assert!(create.starts_with("rq:req_"), "{create}");

    // Only the asker may confirm it.
    assert_eq!(press(&app, &slack, "U_BOB", &create).await, 200);
    let refused = answer(&slack, "U_BOB", 1).await;
    assert_eq!(
        refused["replace_original"], false,
        "a refusal leaves the question"
    );
    assert!(
        refused["text"]
            .as_str()
            .unwrap()
            .contains("Only the person who asked")
    );

    assert_eq!(press(&app, &slack, "U_ALICE", &create).await, 200);
    let done = answer(&slack, "U_ALICE", 2).await;
    assert_eq!(
        done["replace_original"], true,
        "the link replaces the question"
    );
    let done = done["text"].as_str().unwrap().to_owned();
    assert!(
        done.starts_with("Payment link created for €49.99 EUR"),
        "{done}"
    );
    assert!(
        done.contains("https://checkout.stripe.com/c/pay/cs_test_fake"),
        "{done}"
    );

    // One session, with Stripe's form fields in real minor units.
    let made = sessions(&stripe);
    assert_eq!(made.len(), 1);
    let form = &made[0]["form"];
    let request_id = form["metadata[stripe_chatops_request]"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        made[0]["idempotency_key"],
        json!(format!("stripe-chatops-{request_id}-link-1"))
    );
    assert_eq!(form["mode"], "payment");
    assert_eq!(form["line_items[0][price_data][currency]"], "eur");
    assert_eq!(form["line_items[0][price_data][unit_amount]"], "4999");
    assert_eq!(
        form["line_items[0][price_data][product_data][name]"],
        "Support deposit"
    );
    assert_eq!(form["line_items[0][quantity]"], "1");
    assert_eq!(form["customer_email"], "jenny@example.com");
    assert_eq!(form["metadata[stripe_chatops_link]"], "1");
    assert_eq!(form["metadata[stripe_chatops_receiver]"], "support");
    assert_eq!(form["metadata[stripe_chatops_asked_by]"], "@alice");
    assert_eq!(form["after_expiration[recovery][enabled]"], "true");
    let expires: i64 = form["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (now() + 23 * 3600..=now() + 24 * 3600).contains(&expires),
        "{expires}"
    );

    // The "Payment requested" card, in the receiver's channel, without the e-mail.
    let card = eventually(20, "the request's card", || async {
        slack
            .state
            .posts("chat.postMessage")
            .into_iter()
            .find(|p| p.channel == "C0SUP")
    })
    .await;
    let shown = text_of(&card.body);
    assert!(
        shown.contains("Payment requested · €49.99 EUR · Support deposit"),
        "{shown}"
    );
    assert!(
        shown.contains("@alice") && shown.contains("TEST MODE"),
        "{shown}"
    );
    assert!(
        shown.contains("https://checkout.stripe.com/c/pay/cs_test_fake"),
        "{shown}"
    );
    assert!(!shown.contains("jenny@example.com"), "{shown}");

    // Pressed again, and the same command again: still one session.
    assert_eq!(press(&app, &slack, "U_ALICE", &create).await, 200);
    let again = answer(&slack, "U_ALICE", 3).await;
    assert!(
        again["text"].as_str().unwrap().starts_with("Already done"),
        "{again}"
    );
    assert_eq!(slash(&app, &slack, "U_ALICE", command, "T1").await, 200);
    let again = answer(&slack, "U_ALICE", 4).await;
    assert!(
        again["text"].as_str().unwrap().starts_with("Already done"),
        "{again}"
    );
    assert_eq!(sessions(&stripe).len(), 1);

    // The audit: asked, then done with the session, never the e-mail.
    let audit = app.state.store.audit(20).await.unwrap();
    let rows: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "request_payment")
        .collect();
    assert!(
        rows.iter()
            .any(|a| a.outcome == "asked" && a.user_id == "U_ALICE")
    );
    let done = rows
        .iter()
        .find(|a| a.outcome == "done")
        .expect("a done row");
    assert!(
        done.object_id
            .as_deref()
            .unwrap()
            .starts_with("cs_test_fake")
    );
    let detail = done.detail.clone().unwrap();
    assert!(
        detail.contains("€49.99 EUR") && detail.contains("cs_test_fake"),
        "{detail}"
    );
    assert!(audit.iter().all(|a| !format!("{a:?}").contains("jenny@")));
    let row = request_row(&app).await;
    assert_eq!((row.status.as_str(), row.links), ("open", 1));

    // `payments list` shows it, the customer as the default redaction does.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bot.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\nurl = \"{}\"\n[stripe]\nwebhook_secrets = [\"{SECRET}\"]\n",
            app.database.url
        ),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_stripe-chatops"))
        .args(["payments", "list", "--json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed["request_id"], json!(request_id));
    assert_eq!(listed["status"], "open");
    assert_eq!(listed["asker_name"], "@alice");
    assert_eq!(listed["customer"], "j***@example.com");
    assert_eq!(listed["session_id"], "cs_test_fake1");
}

#[tokio::test]
async fn the_request_card_lives_expired_new_link_then_paid() {
    let (app, slack, stripe) =
        slack_app(STRIPE_KEY, "[actions.request_payment]\nconfirm = false").await;
    assert_eq!(
        slash(
            &app,
            &slack,
            "U_ALICE",
            "pay 120 USD Invoice 42 cus_ABC 2h",
            "T2"
        )
        .await,
        200
    );
    let done = answer(&slack, "U_ALICE", 1).await;
    assert!(
        done["text"]
            .as_str()
            .unwrap()
            .starts_with("Payment link created for $120.00 USD"),
        "{done}"
    );
    let form = sessions(&stripe)[0]["form"].clone();
    assert_eq!(form["customer"], "cus_ABC");
    assert!(form.get("customer_email").is_none());
    let expires: i64 = form["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (now() + 7000..=now() + 7300).contains(&expires),
        "{expires}"
    );
    eventually(20, "the request's card", || async {
        slack.state.posts("chat.postMessage").into_iter().next()
    })
    .await;

    // Expired: the card says so, with Stripe's recovery link and "New link".
    let event = session_event(
        &stripe,
        "cs_test_fake1",
        "checkout.session.expired",
        expired,
    );
    assert_eq!(
        app.post_event("/webhooks/stripe", &event, SECRET).await.0,
        200
    );
    let edit = eventually(20, "the card edited to Expired", || async {
        slack
            .state
            .posts("chat.update")
            .into_iter()
            .find(|u| text_of(&u.body).contains("Expired"))
    })
    .await;
    let shown = text_of(&edit.body);
    assert!(
        shown.contains("⌛ Expired · $120.00 USD · Invoice 42"),
        "{shown}"
    );
    assert!(
        shown.contains("https://buy.stripe.com/r/test_recovery_1"),
        "{shown}"
    );
    let new_link = button(&edit.body, "New link");

    // "New link": a second session for the same request, linked in the thread.
    assert_eq!(press(&app, &slack, "U_ALICE", &new_link).await, 200);
    let made = eventually(20, "a second session", || async {
        let made = sessions(&stripe);
        (made.len() == 2).then_some(made)
    })
    .await;
    let request_id = made[0]["form"]["metadata[stripe_chatops_request]"].clone();
    assert_eq!(
        made[1]["form"]["metadata[stripe_chatops_request]"],
        request_id
    );
    assert_eq!(made[1]["form"]["metadata[stripe_chatops_link]"], "2");
    assert_eq!(
        made[1]["idempotency_key"],
        json!(format!(
            "stripe-chatops-{}-link-2",
            request_id.as_str().unwrap()
        ))
    );
    assert_eq!(
        made[1]["form"]["line_items[0][price_data][unit_amount]"],
        "12000"
    );
    let line = eventually(20, "the new link in the thread", || async {
        slack.state.posts("chat.postMessage").into_iter().find(|p| {
            p.body["thread_ts"].is_string()
                && text_of(&p.body)
                    .contains("link 2: https://checkout.stripe.com/c/pay/cs_test_fake2")
        })
    })
    .await;
    assert!(text_of(&line.body).contains("Requested"));
    eventually(20, "the card back to requested, link 2", || async {
        slack
            .state
            .posts("chat.update")
            .into_iter()
            .rev()
            .find(|u| {
                let t = text_of(&u.body);
                t.contains("Payment requested") && t.contains("cs_test_fake2")
            })
    })
    .await;
    // The old card's "New link" was used: pressed again, nothing more is made.
    assert_eq!(press(&app, &slack, "U_ALICE", &new_link).await, 200);

    // Paid: the card says so; the request and the audit record it.
    let event = session_event(&stripe, "cs_test_fake2", "checkout.session.completed", paid);
    assert_eq!(
        app.post_event("/webhooks/stripe", &event, SECRET).await.0,
        200
    );
    let edit = eventually(20, "the card edited to Paid", || async {
        slack
            .state
            .posts("chat.update")
            .into_iter()
            .find(|u| text_of(&u.body).contains("Paid ✅"))
    })
    .await;
    let shown = text_of(&edit.body);
    assert!(
        shown.contains("Paid ✅ · $120.00 USD · Invoice 42"),
        "{shown}"
    );
    assert!(
        shown.contains("j***@example.com") && !shown.contains("jenny@example.com"),
        "{shown}"
    );
    let row = eventually(20, "the request paid", || async {
        let row = request_row(&app).await;
        (row.status == "paid").then_some(row)
    })
    .await;
    assert_eq!(row.links, 2);
    assert_eq!(row.session_id.as_deref(), Some("cs_test_fake2"));
    let audit = app.state.store.audit(30).await.unwrap();
    for outcome in ["done", "expired", "paid"] {
        assert!(
            audit.iter().any(|a| a.action == "request_payment"
                && a.outcome == outcome
                && a.user_id == "U_ALICE"),
            "{outcome} in {audit:#?}"
        );
    }
    assert_eq!(sessions(&stripe).len(), 2);
}

#[tokio::test]
async fn refusals_make_no_stripe_call_and_amounts_use_real_minor_units() {
    let (app, slack, stripe) =
        slack_app(STRIPE_KEY, "[actions.request_payment]\nconfirm = false").await;
    // Not in finance.
    assert_eq!(
        slash(&app, &slack, "U_BOB", "pay 10 EUR Deposit", "T3").await,
        200
    );
    let said = answer(&slack, "U_BOB", 1).await;
    assert!(
        said["text"]
            .as_str()
            .unwrap()
            .contains("not allowed to request payments"),
        "{said}"
    );
    // Amounts Stripe would refuse, and words that are not a request.
    for (n, (text, says)) in [
        ("pay 49.99 JPY Room", "JPY has no decimals"),
        ("pay 1.234 KWD Deposit", "last decimal must be 0"),
        ("pay 10 ABC Deposit", "not a currency Stripe charges in"),
        ("pay 10 EUR", "what it is for"),
        ("pay 10 EUR Deposit 48h", "30m to 24h"),
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(
            slash(&app, &slack, "U_ALICE", text, &format!("T4{n}")).await,
            200
        );
        let said = answer(&slack, "U_ALICE", n + 1).await;
        assert!(
            said["text"].as_str().unwrap().contains(says),
            "{text}: {said}"
        );
    }
    assert!(stripe.state.received().is_empty(), "no Stripe call");

    // JPY has no minor unit, KWD three.
    assert_eq!(
        slash(&app, &slack, "U_ALICE", "pay 5000 JPY Room 12", "T5").await,
        200
    );
    answer(&slack, "U_ALICE", 6).await;
    assert_eq!(
        slash(&app, &slack, "U_ALICE", "pay KWD 1.230 Deposit", "T6").await,
        200
    );
    answer(&slack, "U_ALICE", 7).await;
    let made = sessions(&stripe);
    assert_eq!(made.len(), 2);
    assert_eq!(
        made[0]["form"]["line_items[0][price_data][currency]"],
        "jpy"
    );
    assert_eq!(
        made[0]["form"]["line_items[0][price_data][unit_amount]"],
        "5000"
    );
    assert_eq!(
        made[1]["form"]["line_items[0][price_data][currency]"],
        "kwd"
    );
    assert_eq!(
        made[1]["form"]["line_items[0][price_data][unit_amount]"],
        "1230"
    );

    // Stripe's own refusal comes back in words, and the asker may try again.
    assert_eq!(
        slash(&app, &slack, "U_ALICE", "pay 0.10 USD Tip", "T7").await,
        200
    );
    let said = answer(&slack, "U_ALICE", 8).await;
    assert!(said["text"].as_str().unwrap().contains("Stripe did not make the link: The Checkout Session's total amount due must add up to at least $0.50 usd"), "{said}");
}

#[tokio::test]
async fn a_live_key_is_refused_unless_allowed() {
    let live = "sk_live_0123456789abcdef";
    let (app, slack, stripe) = slack_app(live, "[actions.request_payment]\nconfirm = false").await;
    assert_eq!(
        slash(&app, &slack, "U_ALICE", "pay 10 EUR Deposit", "T8").await,
        200
    );
    let said = answer(&slack, "U_ALICE", 1).await;
    assert!(
        said["text"].as_str().unwrap().contains("live key"),
        "{said}"
    );
    assert!(
        said["text"].as_str().unwrap().contains("allow_live"),
        "{said}"
    );
    assert!(stripe.state.received().is_empty(), "no Stripe call");

    // Allowed: Stripe is asked (the fake takes only its test key, and says so).
    let (app, slack, _stripe) = slack_app(
        live,
        "[actions.request_payment]\nconfirm = false\n[payments]\nallow_live = true",
    )
    .await;
    assert_eq!(
        slash(&app, &slack, "U_ALICE", "pay 10 EUR Deposit", "T9").await,
        200
    );
    let said = answer(&slack, "U_ALICE", 1).await;
    assert!(
        said["text"]
            .as_str()
            .unwrap()
            .contains("Invalid API Key provided"),
        "{said}"
    );
}

#[tokio::test]
async fn the_slack_shortcut_opens_the_form_and_its_submission_makes_the_link() {
    let (app, slack, stripe) = slack_app(STRIPE_KEY, "").await;
    let shortcut = json!({
        "type": "shortcut", "callback_id": "request_payment", "trigger_id": "T10",
        "user": { "id": "U_ALICE", "username": "alice" }
    });
    assert_eq!(interact(&app, &shortcut).await.0, 200);
    let opened = eventually(20, "views.open", || async {
        slack.state.posts("views.open").into_iter().next()
    })
    .await;
    assert_eq!(opened.body["trigger_id"], "T10");
    assert_eq!(opened.body["view"]["callback_id"], "request_payment");
    // `/stripe pay` alone opens it too, in the channel it was typed in.
    assert_eq!(slash(&app, &slack, "U_ALICE", "pay", "T11").await, 200);
    let opened = eventually(20, "views.open again", || async {
        slack.state.posts("views.open").into_iter().nth(1)
    })
    .await;
    assert_eq!(opened.body["view"]["private_metadata"], "C0SUP");

    let submission = |amount: &str| {
        json!({
            "type": "view_submission",
            "user": { "id": "U_ALICE", "username": "alice" },
            "view": {
                "id": "V0FORM1", "callback_id": "request_payment", "private_metadata": "",
                "state": { "values": {
                    "amount": { "value": { "type": "plain_text_input", "value": amount } },
                    "currency": { "value": { "type": "plain_text_input", "value": "EUR" } },
                    "description": { "value": { "type": "plain_text_input", "value": "Support deposit" } },
                    "customer": { "value": { "type": "plain_text_input", "value": null } },
                    "expires": { "value": { "type": "plain_text_input", "value": "90m" } },
                    "channel": { "value": { "type": "conversations_select", "selected_conversation": "C0SUP" } }
                } }
            },
            "response_urls": [{ "block_id": "channel", "action_id": "value", "channel_id": "C0SUP",
                "response_url": format!("{}/response/U_ALICE", slack.base_url()) }]
        })
    };
    // A bad amount is marked in the form itself; nothing reaches Stripe.
    let (status, body) = interact(&app, &submission("49.999")).await;
    assert_eq!(status, 200);
    let errors: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(errors["response_action"], "errors");
    assert!(
        errors["errors"]["amount"]
            .as_str()
            .unwrap()
            .contains("2 decimals"),
        "{errors}"
    );
    assert!(sessions(&stripe).is_empty());

    // The form's Submit is the confirmation: the link is made at once.
    let (status, body) = interact(&app, &submission("49.99")).await;
    assert_eq!((status, body.as_str()), (200, ""));
    let done = answer(&slack, "U_ALICE", 1).await;
    assert!(
        done["text"]
            .as_str()
            .unwrap()
            .starts_with("Payment link created"),
        "{done}"
    );
    let made = sessions(&stripe);
    assert_eq!(made.len(), 1);
    let expires: i64 = made[0]["form"]["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (now() + 5300..=now() + 5400).contains(&expires),
        "{expires}"
    );
    // Submitted twice: one session.
    interact(&app, &submission("49.99")).await;
    let again = answer(&slack, "U_ALICE", 2).await;
    assert!(
        again["text"].as_str().unwrap().starts_with("Already done"),
        "{again}"
    );
    assert_eq!(sessions(&stripe).len(), 1);
}

#[tokio::test]
async fn discord_pay_command_asks_then_the_webhook_edits_the_card() {
    let discord = fakes::discord().await;
    let stripe = fakes::stripe().await;
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let public = hex::encode(key.verifying_key().to_bytes());
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
[discord]
bot_token = "{token}"
api_base_url = "{base}"
public_key = "{public}"
{FAST}
[roles.finance]
discord_roles = ["900000000000000001"]
[[receivers]]
name = "support"
discord = {{ channel_id = "123456789012345678" }}
[route]
receiver = "support"
"#,
        url = database.url,
        stripe = stripe.base_url(),
        token = fakes::DISCORD_TOKEN,
        base = discord.base_url(),
    );
    let app = start_app_with_config(database, &text).await;
    // Two requests' lives in seconds: a channel's 5 messages per 5 s is not what is tested.
    discord
        .state
        .unlimited
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let send = |body: String| {
        let (app, key) = (&app, &key);
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
    let command = |user: &str, roles: &[&str], id: &str| {
        json!({
            "id": id, "application_id": "1200000000000000001", "type": 2,
            "token": format!("ctoken-{user}"), "version": 1, "channel_id": "123456789012345678",
            "member": { "user": { "id": user, "username": "alice" }, "roles": roles },
            "data": { "id": "1", "name": "stripe", "type": 1, "options": [{ "type": 1, "name": "pay", "options": [
                { "type": 3, "name": "amount", "value": "5000" },
                { "type": 3, "name": "currency", "value": "JPY" },
                { "type": 3, "name": "description", "value": "Room 12" },
                { "type": 3, "name": "customer", "value": "jenny@example.com" }
            ] }] }
        })
        .to_string()
    };
    // Someone without the role: told privately, no Stripe call.
    let (status, deferred) = send(command("7", &[], "1300000000000000001")).await;
    assert_eq!((status, deferred["type"].clone()), (200, json!(5)));
    let refused = eventually(20, "the refusal", || async {
        discord.state.posts("original").into_iter().next()
    })
    .await;
    assert!(
        text_of(&refused.body).contains("not allowed to request payments"),
        "{}",
        refused.body
    );
    assert!(sessions(&stripe).is_empty());

    let (status, deferred) = send(command(
        "42",
        &["900000000000000001"],
        "1300000000000000002",
    ))
    .await;
    assert_eq!(
        (status, deferred["data"]["flags"].clone()),
        (200, json!(64))
    );
    let question = eventually(20, "the question", || async {
        discord.state.posts("original").into_iter().nth(1)
    })
    .await;
    assert!(
        text_of(&question.body).contains("Request ¥5,000 JPY?"),
        "{}",
        question.body
    );
    let create = question.body["components"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["label"] == "Create link")
        .unwrap()["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let component = json!({
        "id": "1100000000000000009", "application_id": "1200000000000000001", "type": 3,
        "token": "ptoken", "version": 1, "channel_id": "123456789012345678",
        "member": { "user": { "id": "42", "username": "alice" }, "roles": ["900000000000000001"] },
        "message": { "id": "1000000000000000002", "channel_id": "123456789012345678", "flags": 64 },
        "data": { "custom_id": create, "component_type": 2 }
    });
    let (status, acked) = send(component.to_string()).await;
    assert_eq!((status, acked["type"].clone()), (200, json!(6)));
    let made = eventually(20, "the session", || async {
        let made = sessions(&stripe);
        (made.len() == 1).then_some(made)
    })
    .await;
    assert_eq!(
        made[0]["form"]["line_items[0][price_data][unit_amount]"],
        "5000"
    );
    // The answer takes the private question's place.
    eventually(20, "the question replaced", || async {
        discord
            .state
            .posts("original")
            .into_iter()
            .find(|o| text_of(&o.body).contains("Payment link created for ¥5,000 JPY"))
    })
    .await;
    let card = eventually(20, "the card on Discord", || async {
        discord.state.posts("create").into_iter().next()
    })
    .await;
    assert!(
        text_of(&card.body).contains("Payment requested · ¥5,000 JPY · Room 12"),
        "{}",
        card.body
    );

    let event = session_event(&stripe, "cs_test_fake1", "checkout.session.completed", paid);
    assert_eq!(
        app.post_event("/webhooks/stripe", &event, SECRET).await.0,
        200
    );
    let edit = eventually(20, "the card edited to Paid", || async {
        discord
            .state
            .posts("edit")
            .into_iter()
            .find(|e| text_of(&e.body).contains("Paid ✅"))
    })
    .await;
    assert!(
        text_of(&edit.body).contains("Paid ✅ · ¥5,000 JPY · Room 12"),
        "{}",
        edit.body
    );

    // A second request expires unpaid.
    let (status, _) = send(command(
        "42",
        &["900000000000000001"],
        "1300000000000000003",
    ))
    .await;
    assert_eq!(status, 200);
    let question = eventually(20, "the second question", || async {
        discord
            .state
            .posts("original")
            .into_iter()
            .filter(|o| text_of(&o.body).contains("Request ¥5,000 JPY?"))
            .nth(1)
    })
    .await;
    let create = question.body["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut second = component.clone();
    second["id"] = json!("1100000000000000010");
    second["data"]["custom_id"] = json!(create);
    send(second.to_string()).await;
    eventually(20, "the second session", || async {
        (sessions(&stripe).len() == 2).then_some(())
    })
    .await;
    // Its card is out before Stripe's word about it is sent.
    eventually(20, "the second card", || async {
        discord
            .state
            .posts("create")
            .into_iter()
            .filter(|c| text_of(&c.body).contains("Payment requested"))
            .nth(1)
    })
    .await;
    let event = session_event(
        &stripe,
        "cs_test_fake2",
        "checkout.session.expired",
        expired,
    );
    assert_eq!(
        app.post_event("/webhooks/stripe", &event, SECRET).await.0,
        200
    );
    let edit = eventually(20, "the second card edited to Expired", || async {
        discord
            .state
            .posts("edit")
            .into_iter()
            .find(|e| text_of(&e.body).contains("Expired"))
    })
    .await;
    let shown = text_of(&edit.body);
    assert!(
        shown.contains("New link") && shown.contains("https://buy.stripe.com/r/test_recovery_1"),
        "{shown}"
    );
}

#[tokio::test]
async fn telegram_pay_message_asks_then_the_webhook_edits_the_card() {
    const TELEGRAM_SECRET: &str = "telegram-secret-token";
    let telegram = fakes::telegram().await;
    let stripe = fakes::stripe().await;
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
[telegram]
bot_token = "{token}"
api_base_url = "{base}"
webhook_secret_token = "{TELEGRAM_SECRET}"
[roles.finance]
telegram_users = [42]
{FAST}
[[receivers]]
name = "group"
telegram = {{ chat_id = -1001234567890 }}
[route]
receiver = "group"
"#,
        url = database.url,
        stripe = stripe.base_url(),
        token = fakes::TELEGRAM_TOKEN,
        base = telegram.base_url(),
    );
    let app = start_app_with_config(database, &text).await;
    // Two requests' lives in seconds: a group's 20 messages a minute is not what is tested.
    telegram
        .state
        .unlimited
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let update = |body: Value| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/telegram/webhook"))
                .header("x-telegram-bot-api-secret-token", TELEGRAM_SECRET)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let message = json!({
        "update_id": 7001,
        "message": {
            "message_id": 55, "date": now(),
            "from": { "id": 42, "is_bot": false, "first_name": "Alice", "username": "alice" },
            "chat": { "id": -1001234567890i64, "type": "supergroup", "title": "Finance" },
            "text": "/pay 49.99 EUR Support deposit"
        }
    });
    assert_eq!(update(message.clone()).await, 200);
    let question = eventually(20, "the question", || async {
        telegram
            .state
            .posts("sendMessage")
            .into_iter()
            .find(|m| text_of(&m.body).contains("Request €49.99 EUR?"))
    })
    .await;
    assert_eq!(question.body["reply_parameters"]["message_id"], json!(55));
    let create = question.body["reply_markup"]["inline_keyboard"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().clone())
        .find(|b| b["text"] == "Create link")
        .unwrap()["callback_data"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(sessions(&stripe).is_empty());
    let callback = |id: &str| {
        json!({
            "update_id": 7002,
            "callback_query": {
                "id": id, "chat_instance": "-1",
                "from": { "id": 42, "is_bot": false, "first_name": "Alice", "username": "alice" },
                "message": { "message_id": 56, "date": now(), "chat": { "id": -1001234567890i64, "type": "supergroup" }, "text": "question" },
                "data": create
            }
        })
    };
    assert_eq!(update(callback("cb-1")).await, 200);
    let toast = eventually(20, "the callback answer", || async {
        telegram
            .state
            .posts("answerCallbackQuery")
            .into_iter()
            .next()
    })
    .await;
    assert!(
        toast.body["text"]
            .as_str()
            .unwrap()
            .starts_with("Payment link created for €49.99 EUR"),
        "{}",
        toast.body
    );
    let replaced = eventually(20, "the question replaced", || async {
        telegram.state.posts("editMessageText").into_iter().next()
    })
    .await;
    assert_eq!(replaced.body["message_id"], json!(56));
    assert!(replaced.body["reply_markup"].is_null(), "{}", replaced.body);
    assert!(
        text_of(&replaced.body).contains("Payment link created"),
        "{}",
        replaced.body
    );
    let card = eventually(20, "the card in the group", || async {
        telegram
            .state
            .posts("sendMessage")
            .into_iter()
            .find(|m| text_of(&m.body).contains("Payment requested"))
    })
    .await;
    assert!(
        text_of(&card.body).contains("cs_test_fake1"),
        "{}",
        card.body
    );
    // The same message delivered again (Telegram's retry): no second session.
    assert_eq!(update(message.clone()).await, 200);
    eventually(20, "the retry answered", || async {
        telegram
            .state
            .posts("sendMessage")
            .into_iter()
            .find(|m| text_of(&m.body).contains("Already done"))
    })
    .await;
    assert_eq!(sessions(&stripe).len(), 1);

    let event = session_event(
        &stripe,
        "cs_test_fake1",
        "checkout.session.expired",
        expired,
    );
    assert_eq!(
        app.post_event("/webhooks/stripe", &event, SECRET).await.0,
        200
    );
    let edit = eventually(20, "the card edited to Expired", || async {
        telegram
            .state
            .posts("editMessageText")
            .into_iter()
            .find(|e| text_of(&e.body).contains("Expired"))
    })
    .await;
    assert!(text_of(&edit.body).contains("New link"), "{}", edit.body);

    // A second request paid by a bank debit: processing, then paid.
    let mut second = message.clone();
    second["update_id"] = json!(7003);
    second["message"]["message_id"] = json!(57);
    second["message"]["text"] = json!("/pay@stripe_chatops_bot 20 EUR Deposit 2");
    assert_eq!(update(second).await, 200);
    let question = eventually(20, "the second question", || async {
        telegram
            .state
            .posts("sendMessage")
            .into_iter()
            .find(|m| text_of(&m.body).contains("Request €20.00 EUR?"))
    })
    .await;
    let create = question.body["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut press = callback("cb-2");
    press["callback_query"]["data"] = json!(create);
    assert_eq!(update(press).await, 200);
    eventually(20, "the second session", || async {
        (sessions(&stripe).len() == 2).then_some(())
    })
    .await;
    eventually(20, "the second card", || async {
        telegram
            .state
            .posts("sendMessage")
            .into_iter()
            .filter(|m| text_of(&m.body).contains("Payment requested"))
            .nth(1)
    })
    .await;
    let event = session_event(
        &stripe,
        "cs_test_fake2",
        "checkout.session.completed",
        |s| {
            paid(s);
            s["payment_status"] = json!("unpaid");
        },
    );
    assert_eq!(
        app.post_event("/webhooks/stripe", &event, SECRET).await.0,
        200
    );
    eventually(20, "the card edited to processing", || async {
        telegram
            .state
            .posts("editMessageText")
            .into_iter()
            .find(|e| text_of(&e.body).contains("payment processing"))
    })
    .await;
    let event = session_event(
        &stripe,
        "cs_test_fake2",
        "checkout.session.async_payment_succeeded",
        paid,
    );
    assert_eq!(
        app.post_event("/webhooks/stripe", &event, SECRET).await.0,
        200
    );
    let edit = eventually(20, "the card edited to Paid", || async {
        telegram
            .state
            .posts("editMessageText")
            .into_iter()
            .find(|e| text_of(&e.body).contains("Paid ✅"))
    })
    .await;
    assert!(
        text_of(&edit.body).contains("€20.00 EUR · Deposit 2"),
        "{}",
        edit.body
    );
    let rows = app.state.store.payment_requests(10).await.unwrap();
    assert!(
        rows.iter()
            .any(|r| r.status == "paid" && r.amount_minor == 2000),
        "{rows:#?}"
    );
}

#[tokio::test]
async fn a_shops_checkout_cards_show_status_mode_items_and_a_title_without_amount() {
    let (app, slack, stripe) = slack_app(STRIPE_KEY, "").await;
    stripe.state.put_object(json!({
        "id": "cs_test_shop1", "object": "checkout.session",
        "line_items": { "object": "list", "has_more": false, "data": [
            { "id": "li_1", "description": "Pro plan", "quantity": 2 },
            { "id": "li_2", "description": "Setup fee", "quantity": 1 }
        ] }
    }));
    let session = json!({
        "id": "cs_test_shop1", "object": "checkout.session", "amount_total": null, "currency": null,
        "mode": "subscription", "payment_status": "no_payment_required", "status": "complete",
        "customer": "cus_SHOP", "customer_details": { "email": "zoe@example.com" }, "metadata": {}, "livemode": false
    });
    let event = json!({
        "id": "evt_shop_completed", "object": "event", "api_version": "2025-03-31.basil", "created": now(),
        "livemode": false, "type": "checkout.session.completed", "data": { "object": session }
    });
    assert_eq!(
        app.post_event("/webhooks/stripe", &event, SECRET).await.0,
        200
    );
    let card = eventually(20, "the checkout card", || async {
        slack.state.posts("chat.postMessage").into_iter().next()
    })
    .await;
    let shown = text_of(&card.body);
    assert!(
        shown.contains("🛒 Checkout completed · z***@example.com"),
        "{shown}"
    );
    assert!(!shown.contains(" ·  · "), "{shown}");
    assert!(
        shown.contains("no payment required") && shown.contains("subscription"),
        "{shown}"
    );
    assert!(shown.contains("2 items · first: 2 × Pro plan"), "{shown}");
    assert!(
        stripe
            .state
            .reads()
            .contains(&"/v1/checkout/sessions/cs_test_shop1/line_items".to_owned())
    );
}

#[tokio::test]
async fn an_unpaid_request_is_followed_up_and_its_expired_link_renewed_from_the_thread() {
    use stripe_chatops::clock::Clock;
    let clock = std::sync::Arc::new(Clock::system());
    let (app, slack, stripe) = slack_app_on(
        Some(clock.clone()),
        STRIPE_KEY,
        "[actions.request_payment]\nconfirm = false\n[reminders.unpaid]\nreceivers = [\"support\"]\nafter = [\"2h\", \"24h\", \"48h\"]",
    )
    .await;
    assert_eq!(
        slash(
            &app,
            &slack,
            "U_ALICE",
            "pay 49 EUR Deposit jenny@example.com",
            "T20"
        )
        .await,
        200
    );
    answer(&slack, "U_ALICE", 1).await;
    let request = request_row(&app).await.request_id;
    let pending = || async {
        let jobs = app.state.store.jobs_of_case(&request).await.unwrap();
        jobs.iter().filter(|j| j.status == "pending").count()
    };
    eventually(20, "three follow-ups scheduled", || async {
        (pending().await == 3).then_some(())
    })
    .await;
    let replies = |needle: &str| {
        slack
            .state
            .posts("chat.postMessage")
            .into_iter()
            .filter(|p| p.body["thread_ts"].is_string() && p.body.to_string().contains(needle))
            .map(|p| p.body)
            .collect::<Vec<_>>()
    };
    clock.advance(std::time::Duration::from_secs(2 * 3600 + 60));
    let first = eventually(20, "follow-up 1", || async {
        replies("follow-up 1 of 3").into_iter().next()
    })
    .await;
    let text = first.to_string();
    assert!(
        text.contains("€49.00 EUR is still unpaid by j***@example.com"),
        "{text}"
    );
    assert!(text.contains("after the request"), "{text}");
    assert!(buttons(&first).is_empty(), "the link is still open: {text}");

    // The link expires unpaid: the follow-ups go on, and offer a new link.
    let event = session_event(
        &stripe,
        "cs_test_fake1",
        "checkout.session.expired",
        expired,
    );
    assert_eq!(
        app.post_event("/webhooks/stripe", &event, SECRET).await.0,
        200
    );
    eventually(20, "the card edited to Expired", || async {
        slack
            .state
            .posts("chat.update")
            .into_iter()
            .find(|u| text_of(&u.body).contains("Expired"))
    })
    .await;
    assert_eq!(
        pending().await,
        2,
        "expiry does not end a request's follow-ups"
    );
    clock.advance(std::time::Duration::from_secs(22 * 3600));
    let second = eventually(20, "follow-up 2", || async {
        replies("follow-up 2 of 3").into_iter().next()
    })
    .await;
    let new_link = button(&second, "New link");
    assert_eq!(press(&app, &slack, "U_ALICE", &new_link).await, 200);
    eventually(20, "link 2", || async {
        (sessions(&stripe).len() == 2).then_some(())
    })
    .await;

    // Link 2 is paid: what is left is cancelled, and the case is not abandoned.
    let event = session_event(&stripe, "cs_test_fake2", "checkout.session.completed", paid);
    assert_eq!(
        app.post_event("/webhooks/stripe", &event, SECRET).await.0,
        200
    );
    eventually(20, "the last follow-up cancelled", || async {
        (pending().await == 0).then_some(())
    })
    .await;
    let jobs = app.state.store.jobs_of_case(&request).await.unwrap();
    let cancelled = jobs
        .iter()
        .find(|j| j.status == "cancelled")
        .expect("a cancelled follow-up");
    assert!(
        cancelled.outcome.as_deref().unwrap().contains("paid"),
        "{:?}",
        cancelled.outcome
    );
    clock.advance(std::time::Duration::from_secs(30 * 3600));
    assert!(replies("follow-up 3 of 3").is_empty());
}
