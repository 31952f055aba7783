//! Buttons that act, through Slack's interactivity endpoint: signed clicks,
//! roles, approvals, exactly one Stripe call, the audit log, and the card
//! updated in place. Fake Slack and fake Stripe on 127.0.0.1.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use stripe_chatops::chat::slack::sign;
use stripe_chatops::store::NewToken;

use crate::support::fakes::{self, Fake, SLACK_TOKEN, STRIPE_KEY};
use crate::support::*;

const SIGNING_SECRET: &str = "slack-signing-secret-0123";

fn config(database: &TestDatabase, slack: &Fake, stripe: &Fake, extra: &str) -> String {
    app_config(
        database,
        stripe,
        &format!(
            r#"[slack]
bot_token = "{SLACK_TOKEN}"
api_base_url = "{slack}/api"
signing_secret = "{SIGNING_SECRET}"
[roles.finance]
slack_users = ["U_ALICE", "U_CAROL"]
[roles.support]
slack_users = ["U_BOB"]
{extra}
[[receivers]]
name = "finance"
slack = {{ channel = "C0FIN" }}
[route]
receiver = "finance"
"#,
            slack = slack.base_url(),
        ),
    )
}

/// The common head of every config here: loopback server, the test store,
/// and Stripe's webhook secret, API key and (fake) API URL.
fn app_config(database: &TestDatabase, stripe: &Fake, rest: &str) -> String {
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
{rest}"#,
        url = database.url,
        stripe = stripe.base_url(),
    )
}

struct Setup {
    app: TestApp,
    slack: Fake,
    stripe: Fake,
    /// action_id → token of the posted card's buttons.
    buttons: Vec<(String, String, Value)>,
    event: Value,
}

async fn setup(extra: &str) -> Setup {
    setup_with(extra, "", None).await
}

/// [`setup`] with more `[slack]` keys, and a Socket Mode URL for the fake to hand out.
async fn setup_with(extra: &str, slack_extra: &str, ws_url: Option<String>) -> Setup {
    let slack = fakes::slack().await;
    *slack.state.ws_url.lock().unwrap() = ws_url;
    let stripe = fakes::stripe().await;
    let database = TestDatabase::create(Backend::Sqlite).await;
    let extra = extra.replace("{SLACK}", &slack.base_url());
    let text = config(&database, &slack, &stripe, &extra).replace(
        &format!("signing_secret = \"{SIGNING_SECRET}\""),
        &format!("signing_secret = \"{SIGNING_SECRET}\"\n{slack_extra}"),
    );
    let app = start_app_with_config(database, &text).await;
    let event = event("invoice.payment_failed");
    assert_eq!(
        app.post_event("/webhooks/stripe", &event, SECRET).await.0,
        200
    );
    let card = eventually(20, "the card on Slack", || async {
        slack.state.posts("chat.postMessage").into_iter().next()
    })
    .await;
    let buttons = card.body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .filter(|e| e["url"].is_null())
        .map(|e| {
            (
                e["action_id"].as_str().unwrap().to_owned(),
                e["value"].as_str().unwrap().to_owned(),
                e.clone(),
            )
        })
        .collect();
    Setup {
        app,
        slack,
        stripe,
        buttons,
        event,
    }
}

impl Setup {
    fn token(&self, action: &str) -> String {
        self.buttons
            .iter()
            .find(|(a, _, _)| a == action)
            .unwrap()
            .1
            .clone()
    }

    fn body(&self, user: &str, token: &str) -> String {
        let payload = json!({
            "type": "block_actions",
            "user": { "id": user, "username": user.to_lowercase() },
            "response_url": format!("{}/response/{user}", self.slack.base_url()),
            "container": { "type": "message", "channel_id": "C0FIN", "message_ts": "1700000000.000001" },
            "actions": [{ "type": "button", "action_id": "retry_payment", "value": token, "action_ts": "1700000001.0" }]
        });
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish()
    }

    async fn send(&self, body: &str, timestamp: i64, secret: &str) -> u16 {
        self.app
            .client
            .post(self.app.url("/interactions/slack"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp.to_string())
            .header(
                "x-slack-signature",
                sign(secret, timestamp, body.as_bytes()),
            )
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn click(&self, user: &str, token: &str) -> u16 {
        self.send(&self.body(user, token), now(), SIGNING_SECRET)
            .await
    }

    fn stripe_calls(&self) -> usize {
        self.stripe.state.received().len()
    }

    async fn notice_for(&self, user: &str, count: usize) -> Vec<String> {
        eventually(20, "a private notice", || async {
            let notices: Vec<String> = self
                .slack
                .state
                .posts("response")
                .into_iter()
                .filter(|r| r.channel == user)
                .map(|r| {
                    assert_eq!(r.body["response_type"], json!("ephemeral"));
                    r.body["text"].as_str().unwrap().to_owned()
                })
                .collect();
            (notices.len() >= count).then_some(notices)
        })
        .await
    }
}

#[tokio::test]
async fn an_authorised_click_acts_once_and_updates_the_card() {
    let s = setup("").await;
    let (_, _, retry) = s
        .buttons
        .iter()
        .find(|(a, _, _)| a == "retry_payment")
        .unwrap();
    assert!(
        retry["confirm"]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("USD"),
        "the confirmation names the amount: {retry}"
    );
    let token = s.token("retry_payment");
    assert!(
        token.len() <= 64 && !token.contains("in_"),
        "opaque, and fits Telegram's 64 bytes"
    );

    let body = s.body("U_ALICE", &token);
    assert_eq!(s.send(&body, now(), SIGNING_SECRET).await, 200);
    let update = eventually(20, "the card updated in place", || async {
        s.slack.state.posts("chat.update").into_iter().next()
    })
    .await;
    let text = update.body.to_string();
    assert!(
        text.contains("Retried by @u_alice") && text.contains("paid ✅"),
        "{text}"
    );
    assert!(!text.contains(&token), "the used button is gone");
    assert_eq!(update.body["channel"], json!("C0FIN"));

    // Slack retries the same request, and Alice double-clicks: still one Stripe call.
    assert_eq!(s.send(&body, now(), SIGNING_SECRET).await, 200);
    assert_eq!(s.click("U_ALICE", &token).await, 200);
    let notices = s.notice_for("U_ALICE", 2).await;
    assert!(
        notices.iter().all(|n| n.starts_with("Already done")),
        "{notices:?}"
    );
    let calls = s.stripe.state.received();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "pay");
    let invoice = s.event["data"]["object"]["id"].as_str().unwrap();
    assert_eq!(calls[0].channel, invoice);
    assert_eq!(
        calls[0].body["idempotency_key"],
        json!(format!("stripe-chatops-{token}"))
    );

    let audit = s.app.state.store.audit(10).await.unwrap();
    let done: Vec<_> = audit.iter().filter(|a| a.outcome == "done").collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].user_id, "U_ALICE");
    assert_eq!(done[0].action, "retry_payment");
    assert_eq!(done[0].stripe_request_id.as_deref(), Some("req_fake1"));

    // `stripe-chatops audit list --json` shows the same.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bot.toml");
    std::fs::write(&config, config_text(&s.app.database.url, "")).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_stripe-chatops"))
        .args(["audit", "list", "--json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let line = lines
        .iter()
        .find(|l| l["outcome"] == "done")
        .expect("the done line");
    assert_eq!(line["user_id"], json!("U_ALICE"));
    assert_eq!(line["object_id"], json!(invoice));
    assert_eq!(line["stripe_request_id"], json!("req_fake1"));
    assert!(line["at"].as_str().unwrap().ends_with('Z'));
    s.app.stop().await;
}

#[tokio::test]
async fn a_decline_is_shown_on_the_card() {
    let s = setup("").await;
    s.stripe
        .state
        .missing
        .lock()
        .unwrap()
        .insert("decline".into());
    assert_eq!(s.click("U_CAROL", &s.token("retry_payment")).await, 200);
    let update = eventually(20, "the card updated", || async {
        s.slack.state.posts("chat.update").into_iter().next()
    })
    .await;
    assert!(
        update
            .body
            .to_string()
            .contains("declined: insufficient_funds"),
        "{}",
        update.body
    );
    let audit = s.app.state.store.audit(10).await.unwrap();
    assert_eq!(audit[0].outcome, "failed");
    s.app.stop().await;
}

#[tokio::test]
async fn an_unauthorised_click_is_refused_privately_and_audited() {
    let s = setup("").await;
    assert_eq!(s.click("U_BOB", &s.token("retry_payment")).await, 200);
    let notices = s.notice_for("U_BOB", 1).await;
    assert!(
        notices[0].contains("not allowed") && notices[0].contains("finance"),
        "{notices:?}"
    );
    // Someone in no role at all cannot even acknowledge.
    assert_eq!(s.click("U_STRANGER", &s.token("acknowledge")).await, 200);
    s.notice_for("U_STRANGER", 1).await;
    assert_eq!(s.stripe_calls(), 0);
    assert!(s.slack.state.posts("chat.update").is_empty());
    let audit = s.app.state.store.audit(10).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.outcome == "denied").count(), 2);
    // The audit log is append-only, enforced by the database.
    let pool = sqlx::SqlitePool::connect(&s.app.database.url)
        .await
        .unwrap();
    let refused = sqlx::query("DELETE FROM audit_log").execute(&pool).await;
    assert!(refused.unwrap_err().to_string().contains("append-only"));
    s.app.stop().await;
}

#[tokio::test]
async fn support_can_acknowledge_and_the_card_says_who() {
    let s = setup("").await;
    assert_eq!(s.click("U_BOB", &s.token("acknowledge")).await, 200);
    let update = eventually(20, "the card updated", || async {
        s.slack.state.posts("chat.update").into_iter().next()
    })
    .await;
    let text = update.body.to_string();
    assert!(text.contains("Acknowledged by @u_bob"), "{text}");
    assert!(
        text.contains(&s.token("retry_payment")),
        "the other buttons stay"
    );
    assert_eq!(s.stripe_calls(), 0);
    s.app.stop().await;
}

#[tokio::test]
async fn forged_clicks_are_refused_and_reach_nothing() {
    let s = setup("").await;
    let token = s.token("retry_payment");
    let body = s.body("U_ALICE", &token);
    assert_eq!(
        s.send(&body, now(), "the-wrong-secret").await,
        401,
        "bad signature"
    );
    assert_eq!(
        s.send(&body, now() - 301, SIGNING_SECRET).await,
        401,
        "stale timestamp"
    );
    assert_eq!(
        s.send(&body, now() + 400, SIGNING_SECRET).await,
        401,
        "future timestamp"
    );
    let unsigned = s
        .app
        .client
        .post(s.app.url("/interactions/slack"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401, "no signature headers");
    let tampered = body.replace("U_ALICE", "U_MALLORY");
    let timestamp = now();
    let signature = sign(SIGNING_SECRET, timestamp, body.as_bytes());
    let response = s
        .app
        .client
        .post(s.app.url("/interactions/slack"))
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", signature)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        401,
        "body changed after signing"
    );

    // Signed, but a token we never issued.
    assert_eq!(
        s.click("U_ALICE", "t00000000000000000000000000000000")
            .await,
        200
    );
    let notices = s.notice_for("U_ALICE", 1).await;
    assert!(notices[0].contains("unknown token"), "{notices:?}");

    // Signed, but the token expired.
    let stored = s
        .app
        .state
        .store
        .event("default", s.event["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let expired = NewToken {
        token: "texpired0000000000000000000000000".into(),
        action: "retry_payment".into(),
        label: "Retry payment".into(),
        delivery_id: 1,
        event_seq: stored.seq,
        receiver: "finance".into(),
        object_id: Some("in_x".into()),
        created_at_ms: 0,
        expires_at_ms: 1,
    };
    s.app
        .state
        .store
        .create_tokens(std::slice::from_ref(&expired))
        .await
        .unwrap();
    assert_eq!(s.click("U_ALICE", &expired.token).await, 200);
    let notices = s.notice_for("U_ALICE", 2).await;
    assert!(notices[1].contains("expired"), "{notices:?}");
    assert_eq!(s.stripe_calls(), 0);
    assert_eq!(s.stripe.state.throttled.load(Ordering::Relaxed), 0);
    s.app.stop().await;
}

#[tokio::test]
async fn above_the_threshold_a_second_person_must_approve() {
    let s = setup(
        r#"
[actions.retry_payment]
allowed_roles = ["finance"]
approvals = 2
approval_threshold = { amount = 1, currency = "usd" }
"#,
    )
    .await;
    let token = s.token("retry_payment");
    assert_eq!(s.click("U_ALICE", &token).await, 200);
    let notices = s.notice_for("U_ALICE", 1).await;
    assert!(
        notices[0].contains("second authorised person"),
        "{notices:?}"
    );
    assert_eq!(s.click("U_ALICE", &token).await, 200);
    let notices = s.notice_for("U_ALICE", 2).await;
    assert!(notices[1].contains("different person"), "{notices:?}");
    assert_eq!(s.stripe_calls(), 0, "one person cannot approve twice");
    assert_eq!(s.click("U_CAROL", &token).await, 200);
    eventually(20, "the Stripe call after the second approval", || async {
        (s.stripe_calls() == 1).then_some(())
    })
    .await;
    s.app.stop().await;
}

/// Stores a token that expired long ago, for `receiver`'s first delivery.
async fn expired_token(app: &TestApp, receiver: &str) -> String {
    let seq = app.state.store.recent_events(1).await.unwrap()[0].seq;
    let token = NewToken {
        token: format!("texpired{receiver}"),
        action: "acknowledge".into(),
        label: "Acknowledge".into(),
        delivery_id: 1,
        event_seq: seq,
        receiver: receiver.into(),
        object_id: None,
        created_at_ms: 0,
        expires_at_ms: 1,
    };
    app.state
        .store
        .create_tokens(std::slice::from_ref(&token))
        .await
        .unwrap();
    token.token
}

// ------------------------------------------------------------------ Telegram

const TELEGRAM_SECRET: &str = "telegram-webhook-secret_01";

struct TelegramSetup {
    app: TestApp,
    telegram: Fake,
    stripe: Fake,
    /// callback_data of the card's buttons, by label.
    buttons: Vec<(String, String)>,
}

async fn telegram_setup(webhook: bool) -> TelegramSetup {
    let telegram = fakes::telegram().await;
    let stripe = fakes::stripe().await;
    let database = TestDatabase::create(Backend::Sqlite).await;
    let secret = if webhook {
        format!("webhook_secret_token = \"{TELEGRAM_SECRET}\"")
    } else {
        String::new()
    };
    let text = app_config(
        &database,
        &stripe,
        &format!(
            r#"[telegram]
bot_token = "{token}"
api_base_url = "{telegram}"
{secret}
[roles.finance]
telegram_users = [42]
[[receivers]]
name = "group"
telegram = {{ chat_id = -1001234567890 }}
[route]
receiver = "group"
"#,
            token = fakes::TELEGRAM_TOKEN,
            telegram = telegram.base_url(),
        ),
    );
    let app = start_app_with_config(database, &text).await;
    assert_eq!(
        app.post_event("/webhooks/stripe", &event("invoice.payment_failed"), SECRET)
            .await
            .0,
        200
    );
    let card = eventually(20, "the card on Telegram", || async {
        telegram.state.posts("sendMessage").into_iter().next()
    })
    .await;
    let buttons = card.body["reply_markup"]["inline_keyboard"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().clone())
        .filter_map(|b| {
            Some((
                b["text"].as_str()?.to_owned(),
                b["callback_data"].as_str()?.to_owned(),
            ))
        })
        .collect();
    TelegramSetup {
        app,
        telegram,
        stripe,
        buttons,
    }
}

impl TelegramSetup {
    fn data(&self, label: &str) -> String {
        self.buttons
            .iter()
            .find(|(l, _)| l == label)
            .unwrap_or_else(|| panic!("no {label} in {:?}", self.buttons))
            .1
            .clone()
    }

    fn update(&self, user: i64, data: &str) -> Value {
        json!({
            "update_id": 1000 + user,
            "callback_query": {
                "id": format!("cb-{user}-{data}"),
                "from": { "id": user, "is_bot": false, "first_name": "Alice", "username": if user == 42 { "alice" } else { "mallory" } },
                "chat_instance": "-1",
                "message": { "message_id": 1, "date": 1_700_000_000, "chat": { "id": -1001234567890i64, "type": "supergroup", "title": "Finance" }, "text": "card" },
                "data": data
            }
        })
    }

    async fn press(&self, user: i64, data: &str, secret: Option<&str>) -> u16 {
        let mut request = self
            .app
            .client
            .post(self.app.url("/telegram/webhook"))
            .json(&self.update(user, data));
        if let Some(secret) = secret {
            request = request.header("x-telegram-bot-api-secret-token", secret);
        }
        request.send().await.unwrap().status().as_u16()
    }

    async fn answers(&self, count: usize) -> Vec<Value> {
        eventually(20, "callback answers", || async {
            let answers: Vec<Value> = self
                .telegram
                .state
                .posts("answerCallbackQuery")
                .into_iter()
                .map(|a| a.body)
                .collect();
            (answers.len() >= count).then_some(answers)
        })
        .await
    }
}

#[tokio::test]
async fn telegram_webhook_press_confirm_then_act_once() {
    let s = telegram_setup(true).await;
    let retry = s.data("Retry payment");
    assert!(retry.len() <= 64);

    // Forged: wrong or missing secret token.
    assert_eq!(s.press(42, &retry, Some("wrong")).await, 401);
    assert_eq!(s.press(42, &retry, None).await, 401);
    // Authentic, but a token we never issued: an alert, nothing else.
    assert_eq!(
        s.press(
            42,
            "t00000000000000000000000000000000",
            Some(TELEGRAM_SECRET)
        )
        .await,
        200
    );
    let unknown = s.answers(1).await;
    assert_eq!(unknown[0]["show_alert"], json!(true));
    assert!(
        unknown[0]["text"]
            .as_str()
            .unwrap()
            .contains("unknown token")
    );

    // Step one: the card asks, showing the amount and the redacted customer.
    assert_eq!(s.press(42, &retry, Some(TELEGRAM_SECRET)).await, 200);
    let question = eventually(20, "the confirmation", || async {
        s.telegram.state.posts("editMessageText").into_iter().next()
    })
    .await;
    let text = question.body["text"].as_str().unwrap();
    assert!(
        text.contains("Retry payment?") && text.contains("$49.00 USD") && text.contains("J. R."),
        "{text}"
    );
    assert!(!text.contains("jenny.rosen@example.com"));
    let confirm = question.body["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(confirm, format!("c:{retry}"));
    assert!(confirm.len() <= 64);
    assert_eq!(
        s.stripe.state.received().len(),
        0,
        "nothing happens before Confirm"
    );

    // Step two: Confirm acts once; a second Confirm does not.
    assert_eq!(s.press(42, &confirm, Some(TELEGRAM_SECRET)).await, 200);
    let done = eventually(20, "the card with the outcome", || async {
        s.telegram
            .state
            .posts("editMessageText")
            .into_iter()
            .find(|e| {
                e.body["text"]
                    .as_str()
                    .unwrap()
                    .contains("Retried by @alice")
            })
    })
    .await;
    assert!(done.body["text"].as_str().unwrap().contains("paid ✅"));
    assert_eq!(s.press(42, &confirm, Some(TELEGRAM_SECRET)).await, 200);
    let answers = s.answers(4).await;
    assert_eq!(answers[3]["show_alert"], json!(true));
    assert!(
        answers[3]["text"]
            .as_str()
            .unwrap()
            .starts_with("Already done")
    );
    assert_eq!(s.stripe.state.received().len(), 1);

    // Someone not in finance: an alert, nothing in Stripe, audited.
    let acknowledge = s.data("Acknowledge");
    assert_eq!(s.press(7, &acknowledge, Some(TELEGRAM_SECRET)).await, 200);
    let answers = s.answers(5).await;
    assert_eq!(answers[4]["show_alert"], json!(true));
    assert!(answers[4]["text"].as_str().unwrap().contains("not allowed"));
    assert_eq!(s.stripe.state.received().len(), 1);
    let audit = s.app.state.store.audit(10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.outcome == "denied" && a.user_id == "7" && a.platform == "telegram")
    );
    // Authentic, but the token expired.
    let expired = expired_token(&s.app, "group").await;
    assert_eq!(s.press(42, &expired, Some(TELEGRAM_SECRET)).await, 200);
    let answers = s.answers(6).await;
    assert_eq!(answers[5]["show_alert"], json!(true));
    assert!(answers[5]["text"].as_str().unwrap().contains("expired"));
    s.app.stop().await;
}

#[tokio::test]
async fn telegram_long_polling_receives_presses_and_cancel_restores_the_card() {
    let s = telegram_setup(false).await;
    let retry = s.data("Retry payment");
    s.telegram
        .state
        .updates
        .lock()
        .unwrap()
        .push_back(s.update(42, &retry));
    eventually(20, "the confirmation through getUpdates", || async {
        s.telegram.state.posts("editMessageText").into_iter().next()
    })
    .await;
    s.telegram
        .state
        .updates
        .lock()
        .unwrap()
        .push_back(s.update(42, &format!("x:{retry}")));
    let restored = eventually(20, "the card restored", || async {
        s.telegram.state.posts("editMessageText").into_iter().nth(1)
    })
    .await;
    let keyboard = restored.body["reply_markup"].to_string();
    assert!(
        keyboard.contains(&retry),
        "the buttons are back: {keyboard}"
    );
    let acknowledge = s.data("Acknowledge");
    s.telegram
        .state
        .updates
        .lock()
        .unwrap()
        .push_back(s.update(42, &acknowledge));
    eventually(20, "acknowledged", || async {
        s.telegram
            .state
            .posts("editMessageText")
            .into_iter()
            .find(|e| {
                e.body["text"]
                    .as_str()
                    .unwrap()
                    .contains("Acknowledged by @alice")
            })
    })
    .await;
    assert_eq!(s.stripe.state.received().len(), 0);
    s.app.stop().await;
}

// ------------------------------------------------------------------- Discord

struct DiscordSetup {
    app: TestApp,
    discord: Fake,
    stripe: Fake,
    key: ed25519_dalek::SigningKey,
    /// custom_id of the card's buttons, by label.
    buttons: Vec<(String, String)>,
}

/// A Discord app with the HTTP endpoint's public key, and with `gateway =
/// true` when the fake hands out a gateway URL.
async fn discord_setup() -> DiscordSetup {
    discord_setup_with(None).await
}

async fn discord_setup_with(gateway_url: Option<String>) -> DiscordSetup {
    let discord = fakes::discord().await;
    let gateway = gateway_url.is_some();
    *discord.state.ws_url.lock().unwrap() = gateway_url;
    let stripe = fakes::stripe().await;
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let public = hex::encode(key.verifying_key().to_bytes());
    let database = TestDatabase::create(Backend::Sqlite).await;
    let text = app_config(
        &database,
        &stripe,
        &format!(
            r#"[discord]
bot_token = "{token}"
api_base_url = "{discord}"
public_key = "{public}"
gateway = {gateway}
[roles.finance]
discord_users = ["42"]
discord_roles = ["900000000000000001"]
[[receivers]]
name = "disputes"
discord = {{ channel_id = "123456789012345678" }}
[route]
receiver = "disputes"
"#,
            token = fakes::DISCORD_TOKEN,
            discord = discord.base_url(),
        ),
    );
    let app = start_app_with_config(database, &text).await;
    assert_eq!(
        app.post_event("/webhooks/stripe", &event("invoice.payment_failed"), SECRET)
            .await
            .0,
        200
    );
    let card = eventually(20, "the card on Discord", || async {
        discord.state.posts("create").into_iter().next()
    })
    .await;
    let buttons = card.body["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row["components"].as_array().unwrap().clone())
        .filter_map(|b| {
            Some((
                b["label"].as_str()?.to_owned(),
                b["custom_id"].as_str()?.to_owned(),
            ))
        })
        .collect();
    DiscordSetup {
        app,
        discord,
        stripe,
        key,
        buttons,
    }
}

impl DiscordSetup {
    fn custom_id(&self, label: &str) -> String {
        self.buttons
            .iter()
            .find(|(l, _)| l == label)
            .unwrap_or_else(|| panic!("no {label} in {:?}", self.buttons))
            .1
            .clone()
    }

    fn interaction(&self, user: &str, roles: &[&str], custom_id: &str) -> String {
        json!({
            "id": "1100000000000000001",
            "application_id": "1200000000000000001",
            "type": 3,
            "token": format!("itoken-{user}"),
            "version": 1,
            "channel_id": "123456789012345678",
            "member": { "user": { "id": user, "username": if user == "42" { "alice" } else { "mallory" } }, "roles": roles },
            "message": { "id": "1000000000000000001", "channel_id": "123456789012345678" },
            "data": { "custom_id": custom_id, "component_type": 2 }
        })
        .to_string()
    }

    async fn send(&self, body: &str, key: &ed25519_dalek::SigningKey) -> (u16, Value) {
        self.send_at(body, key, now()).await
    }

    async fn send_at(&self, body: &str, key: &ed25519_dalek::SigningKey, at: i64) -> (u16, Value) {
        use ed25519_dalek::Signer;
        let timestamp = at.to_string();
        let signature = key.sign(format!("{timestamp}{body}").as_bytes());
        let response = self
            .app
            .client
            .post(self.app.url("/interactions/discord"))
            .header("x-signature-ed25519", hex::encode(signature.to_bytes()))
            .header("x-signature-timestamp", timestamp)
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn discord_endpoint_verifies_pongs_confirms_and_acts_once() {
    let s = discord_setup().await;
    // PING → PONG.
    let (status, pong) = s
        .send(
            r#"{"type":1,"id":"1","application_id":"1","token":"t","version":1}"#,
            &s.key,
        )
        .await;
    assert_eq!((status, pong), (200, json!({ "type": 1 })));

    // Forged: another key, a tampered body, no signature.
    let retry = s.custom_id("Retry payment");
    let body = s.interaction("42", &["900000000000000001"], &retry);
    let other = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    assert_eq!(s.send(&body, &other).await.0, 401);
    let unsigned = s
        .app
        .client
        .post(s.app.url("/interactions/discord"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);

    // Someone without the finance role: an ephemeral refusal, nothing in Stripe.
    let (status, refusal) = s.send(&s.interaction("7", &[], &retry), &s.key).await;
    assert_eq!(status, 200);
    assert_eq!(refusal["type"], json!(4));
    assert_eq!(refusal["data"]["flags"], json!(64));
    assert!(
        refusal["data"]["content"]
            .as_str()
            .unwrap()
            .contains("not allowed")
    );

    // Step one: deferred update, then the card asks.
    let (status, ack) = s.send(&body, &s.key).await;
    assert_eq!((status, ack), (200, json!({ "type": 6 })));
    let question = eventually(20, "the confirmation", || async {
        s.discord.state.posts("edit").into_iter().next()
    })
    .await;
    let text = question.body.to_string();
    assert!(
        text.contains("Retry payment?") && text.contains("$49.00 USD"),
        "{text}"
    );
    let confirm = format!("c:{retry}");
    assert!(text.contains(&confirm));
    assert_eq!(s.stripe.state.received().len(), 0);

    // Step two: Confirm acts once, even pressed twice.
    let confirm_body = s.interaction("42", &["900000000000000001"], &confirm);
    assert_eq!(s.send(&confirm_body, &s.key).await.1, json!({ "type": 6 }));
    eventually(20, "the card with the outcome", || async {
        // Discord markdown is escaped, so the handle cannot ping: "Retried by \@alice".
        s.discord.state.posts("edit").into_iter().find(|e| {
            let text = e.body.to_string();
            text.contains("Retried by") && text.contains("alice") && text.contains("paid")
        })
    })
    .await;
    let (_, again) = s.send(&confirm_body, &s.key).await;
    assert!(
        again["data"]["content"]
            .as_str()
            .unwrap()
            .starts_with("Already done"),
        "{again}"
    );
    assert_eq!(s.stripe.state.received().len(), 1);
    let audit = s.app.state.store.audit(10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.platform == "discord" && a.outcome == "denied" && a.user_id == "7")
    );
    assert!(
        audit
            .iter()
            .any(|a| a.platform == "discord" && a.outcome == "done" && a.user_id == "42")
    );
    s.app.stop().await;
}

// --------------------------------------------------------- Telegram topics

#[tokio::test]
async fn telegram_subscribers_manage_topics_and_get_the_cards() {
    let telegram = fakes::telegram().await;
    let database = TestDatabase::create(Backend::Sqlite).await;
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[storage]
url = "{url}"
[stripe]
webhook_secrets = ["{SECRET}"]
[telegram]
bot_token = "{token}"
api_base_url = "{telegram}"
[telegram.topics.billing]
description = "Failed payments and disputes"
allowed_users = [42, 43]
[telegram.topics.payouts]
description = "Payouts"
allowed_users = [43]
[[receivers]]
name = "billing-subscribers"
telegram = {{ subscribers = "billing" }}
[route]
receiver = "billing-subscribers"
"#,
        url = database.url,
        token = fakes::TELEGRAM_TOKEN,
        telegram = telegram.base_url(),
    );
    let app = start_app_with_config(database, &text).await;
    let registered = eventually(20, "setMyCommands", || async {
        telegram.state.posts("setMyCommands").into_iter().next()
    })
    .await;
    let names: Vec<&str> = registered.body["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "start",
            "topics",
            "subscribe",
            "unsubscribe",
            "status",
            "invoice",
            "customer",
            "payment",
            "subscription",
            "pay"
        ]
    );

    let say = |user: i64, chat: i64, text: &str| {
        let kind = if chat > 0 { "private" } else { "supergroup" };
        json!({ "update_id": 1, "message": { "message_id": 1, "date": 1_700_000_000, "text": text,
            "chat": { "id": chat, "type": kind, "first_name": "A", "title": "G" },
            "from": { "id": user, "is_bot": false, "first_name": "A" } } })
    };
    let replies = |count: usize| {
        let telegram = &telegram;
        async move {
            eventually(20, "command replies", || async {
                let replies: Vec<(String, String)> = telegram
                    .state
                    .posts("sendMessage")
                    .into_iter()
                    .map(|p| {
                        (
                            p.channel.clone(),
                            p.body["text"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect();
                (replies.len() >= count).then_some(replies)
            })
            .await
        }
    };
    for update in [
        say(42, 42, "/topics"),
        say(42, 42, "/subscribe payouts"),
        say(42, -100, "/subscribe billing"),
        say(42, 42, "/subscribe billing"),
        say(43, 43, "/subscribe@stripe_chatops_bot billing"),
        say(42, 42, "/status"),
    ] {
        let before = telegram.state.posts("sendMessage").len();
        telegram.state.updates.lock().unwrap().push_back(update);
        replies(before + 1).await;
    }
    let replies = replies(6).await;
    assert!(
        replies[0].1.contains("billing — Failed payments") && !replies[0].1.contains("payouts"),
        "{replies:?}"
    );
    assert!(replies[1].1.contains("may not subscribe to payouts"));
    assert!(replies[2].1.contains("private chats"));
    assert_eq!(
        replies[3],
        (
            "42".to_owned(),
            "Subscribed to billing. Its cards will arrive here.".to_owned()
        )
    );
    assert!(replies[4].1.starts_with("Subscribed to billing"));
    assert_eq!(replies[5].1, "This chat is subscribed to: billing.");

    // A card for the topic reaches both subscribers, once each.
    assert_eq!(
        app.post_event("/webhooks/stripe", &event("charge.dispute.created"), SECRET)
            .await
            .0,
        200
    );
    let cards = eventually(20, "the card fanned out", || async {
        let cards: Vec<String> = telegram
            .state
            .posts("sendMessage")
            .into_iter()
            .filter(|p| p.body["text"].as_str().unwrap().contains("Dispute"))
            .map(|p| p.channel)
            .collect();
        (cards.len() == 2).then_some(cards)
    })
    .await;
    assert_eq!(cards, ["42", "43"]);
    app.stop().await;
}

// ------------------------------------------------- third-party signers

/// Clicks signed by Slack's own SDK are accepted; the same request tampered is refused.
#[tokio::test]
async fn slack_sdk_signed_clicks_are_accepted_and_tampered_ones_refused() {
    if !crate::support::peers::python_installed() {
        return;
    }
    let s = setup("").await;
    let body = s.body("U_ALICE", &s.token("acknowledge"));
    let timestamp = now().to_string();
    let signature = crate::support::peers::sign(&["slack", SIGNING_SECRET, &timestamp, &body]);
    // Our signer agrees with slack_sdk's verifier.
    assert_eq!(
        crate::support::peers::sign(&[
            "slack-verify",
            SIGNING_SECRET,
            &timestamp,
            &body,
            &sign(SIGNING_SECRET, timestamp.parse().unwrap(), body.as_bytes())
        ]),
        "valid"
    );
    let post = |body: String| {
        s.app
            .client
            .post(s.app.url("/interactions/slack"))
            .header("x-slack-request-timestamp", &timestamp)
            .header("x-slack-signature", &signature)
            .body(body)
            .send()
    };
    assert_eq!(
        post(body.replace("U_ALICE", "U_CAROL"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    assert_eq!(post(body.clone()).await.unwrap().status().as_u16(), 200);
    eventually(20, "the acknowledged card", || async {
        s.slack.state.posts("chat.update").into_iter().next()
    })
    .await;
    s.app.stop().await;
}

/// Discord interactions signed with PyNaCl are accepted; tampered ones are refused.
#[tokio::test]
async fn pynacl_signed_discord_interactions_are_accepted_and_tampered_ones_refused() {
    if !crate::support::peers::python_installed() {
        return;
    }
    let s = discord_setup().await;
    let seed = hex::encode([7u8; 32]);
    let timestamp = now().to_string();
    let body = r#"{"type":1,"id":"1","application_id":"1","token":"t","version":1}"#;
    let signed = crate::support::peers::sign(&["discord", &seed, &timestamp, body]);
    let (public, signature) = signed.split_once(' ').unwrap();
    assert_eq!(
        public,
        hex::encode(s.key.verifying_key().to_bytes()),
        "PyNaCl derives the same key"
    );
    let post = |body: &'static str| {
        s.app
            .client
            .post(s.app.url("/interactions/discord"))
            .header("x-signature-ed25519", signature)
            .header("x-signature-timestamp", &timestamp)
            .body(body)
            .send()
    };
    let pong = post(body).await.unwrap();
    assert_eq!(pong.status().as_u16(), 200);
    assert_eq!(pong.json::<Value>().await.unwrap(), json!({ "type": 1 }));
    let tampered = r#"{"type":1,"id":"2","application_id":"1","token":"t","version":1}"#;
    assert_eq!(post(tampered).await.unwrap().status().as_u16(), 401);
    s.app.stop().await;
}

#[tokio::test]
async fn take_it_assigns_and_posts_the_case_to_the_ticket_webhook() {
    let s = setup("[interactions]\nticket_webhook = \"{SLACK}/hooks/T0/B0/helpdesk\"\n").await;
    assert_eq!(s.click("U_BOB", &s.token("assign")).await, 200);
    let update = eventually(20, "the card updated", || async {
        s.slack.state.posts("chat.update").into_iter().next()
    })
    .await;
    assert!(
        update.body.to_string().contains("Taken by @u_bob"),
        "{}",
        update.body
    );
    assert!(update.body.to_string().contains("ticket created"));
    let ticket = &s.slack.state.posts("webhook")[0].body;
    assert_eq!(ticket["event_id"], s.event["id"]);
    assert_eq!(ticket["assignee_id"], json!("U_BOB"));
    assert!(
        ticket["dashboard_url"]
            .as_str()
            .unwrap()
            .starts_with("https://dashboard.stripe.com/")
    );
    let text = ticket.to_string();
    for pii in ["jenny.rosen@example.com", "Jenny Rosen"] {
        assert!(!text.contains(pii), "no customer PII in the ticket: {pii}");
    }
    assert_eq!(s.stripe_calls(), 0);
    s.app.stop().await;
}

// --------------------------------------------------------- Slack Socket Mode

/// A fake Socket Mode endpoint: says hello, sends the envelopes the test
/// queues, and collects the client's acknowledgements.
struct SocketModeFake {
    url: String,
    envelopes: tokio::sync::mpsc::UnboundedSender<Value>,
    acks: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

async fn socket_mode_fake() -> SocketModeFake {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/link", listener.local_addr().unwrap());
    let (envelopes, mut queue) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let acks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = acks.clone();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let hello = json!({ "type": "hello", "num_connections": 1,
            "debug_info": { "host": "applink-fake", "approximate_connection_time": 3600 },
            "connection_info": { "app_id": "A0FAKE" } });
        ws.send(Message::text(hello.to_string())).await.unwrap();
        loop {
            tokio::select! {
                Some(envelope) = queue.recv() => ws.send(Message::text(envelope.to_string())).await.unwrap(),
                Some(Ok(message)) = ws.next() => {
                    if let Message::Text(text) = message
                        && let Ok(ack) = serde_json::from_str::<Value>(text.as_str())
                    {
                        seen.lock().unwrap().push(ack);
                    }
                }
                else => break,
            }
        }
    });
    SocketModeFake {
        url,
        envelopes,
        acks,
    }
}

#[tokio::test]
async fn slack_socket_mode_clicks_act_without_a_public_url() {
    let socket = socket_mode_fake().await;
    let s = setup_with(
        "",
        "app_token = \"xapp-1-A0FAKE-test\"",
        Some(socket.url.clone()),
    )
    .await;
    let token = s.token("retry_payment");
    let envelope = |id: &str, user: &str| {
        json!({
            "envelope_id": id,
            "type": "interactive",
            "accepts_response_payload": false,
            "payload": {
                "type": "block_actions",
                "team": { "id": "T0FAKE", "domain": "acme" },
                "user": { "id": user, "username": user.to_lowercase(), "team_id": "T0FAKE" },
                "api_app_id": "A0FAKE",
                "trigger_id": "1.2.3",
                "container": { "type": "message", "message_ts": "1700000000.000001", "channel_id": "C0FIN", "is_ephemeral": false },
                "channel": { "id": "C0FIN", "name": "finance" },
                "response_url": format!("{}/response/{user}", s.slack.base_url()),
                "actions": [{ "type": "button", "action_id": "retry_payment", "block_id": "b1", "value": token, "action_ts": "1700000001.000001" }]
            }
        })
    };
    socket.envelopes.send(envelope("env-1", "U_ALICE")).unwrap();
    let update = eventually(20, "the card updated through Socket Mode", || async {
        s.slack.state.posts("chat.update").into_iter().next()
    })
    .await;
    assert!(
        update.body.to_string().contains("Retried by @u_alice"),
        "{}",
        update.body
    );
    // Slack redelivers the envelope: still one Stripe call.
    socket.envelopes.send(envelope("env-1", "U_ALICE")).unwrap();
    socket.envelopes.send(envelope("env-2", "U_BOB")).unwrap();
    let notices = s.notice_for("U_BOB", 1).await;
    assert!(notices[0].contains("not allowed"), "{notices:?}");
    s.notice_for("U_ALICE", 1).await;
    assert_eq!(s.stripe_calls(), 1);
    let acks = socket.acks.lock().unwrap().clone();
    assert!(
        acks.iter().any(|a| a["envelope_id"] == json!("env-1")),
        "envelopes are acknowledged: {acks:?}"
    );
    s.app.stop().await;
}

#[tokio::test]
async fn assign_picker_offers_the_configured_people_and_queues() {
    let slack = fakes::slack().await;
    let stripe = fakes::stripe().await;
    let database = TestDatabase::create(Backend::Sqlite).await;
    let text = config(
        &database,
        &slack,
        &stripe,
        "[interactions]\nassignees = [\"@carol\", \"billing-queue\"]\n",
    );
    let app = start_app_with_config(database, &text).await;
    assert_eq!(
        app.post_event("/webhooks/stripe", &event("payout.failed"), SECRET)
            .await
            .0,
        200
    );
    let card = eventually(20, "the card", || async {
        slack.state.posts("chat.postMessage").into_iter().next()
    })
    .await;
    let token = card.body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .find(|e| e["text"]["text"] == "Assign…")
        .expect("an Assign… button")["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = Setup {
        app,
        slack,
        stripe,
        buttons: Vec::new(),
        event: Value::Null,
    };
    assert_eq!(s.click("U_BOB", &token).await, 200);
    let picker = eventually(20, "the picker", || async {
        s.slack.state.posts("chat.update").into_iter().next()
    })
    .await;
    let values: Vec<String> = picker.body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .filter_map(|e| {
            Some(format!(
                "{}={}",
                e["text"]["text"].as_str()?,
                e["value"].as_str()?
            ))
        })
        .collect();
    assert_eq!(
        values,
        [
            format!("@carol=p0:{token}"),
            format!("billing-queue=p1:{token}"),
            format!("Cancel=x:{token}")
        ]
    );
    assert_eq!(s.click("U_BOB", &format!("p1:{token}")).await, 200);
    let assigned = eventually(20, "assigned", || async {
        s.slack.state.posts("chat.update").into_iter().find(|u| {
            u.body
                .to_string()
                .contains("Assigned to billing-queue by @u_bob")
        })
    })
    .await;
    assert!(
        !assigned.body.to_string().contains(&token),
        "the used button is gone"
    );
    let audit = s.app.state.store.audit(5).await.unwrap();
    assert_eq!(
        audit[0].detail.as_deref(),
        Some("assigned to billing-queue")
    );
    s.app.stop().await;
}

// ------------------------------------------------------------ Discord gateway

/// A fake Discord gateway: Hello, READY after Identify, heartbeat acks, and
/// the dispatches the test queues.
async fn discord_gateway_fake() -> SocketModeFake {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (envelopes, mut queue) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let acks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = acks.clone();
    let resume = url.clone();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        ws.send(Message::text(
            json!({ "op": 10, "d": { "heartbeat_interval": 41250 } }).to_string(),
        ))
        .await
        .unwrap();
        let mut sequence = 0u64;
        let mut ready = false;
        loop {
            tokio::select! {
                Some(Ok(message)) = ws.next() => {
                    let Message::Text(text) = message else { continue };
                    let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                    seen.lock().unwrap().push(frame.clone());
                    match frame["op"].as_u64() {
                        Some(2) => {
                            sequence += 1;
                            let ready_event = json!({ "op": 0, "s": sequence, "t": "READY", "d": {
                                "v": 10,
                                "user": { "id": "111111111111111111", "username": "stripe-chatops", "discriminator": "0", "global_name": null, "avatar": null, "bot": true, "verified": true, "mfa_enabled": false, "flags": 0 },
                                "guilds": [], "session_id": "session-1", "resume_gateway_url": resume,
                                "shard": [0, 1], "application": { "id": "1200000000000000001", "flags": 0 } } });
                            ws.send(Message::text(ready_event.to_string())).await.unwrap();
                            ready = true;
                        }
                        Some(1) => ws.send(Message::text(json!({ "op": 11 }).to_string())).await.unwrap(),
                        _ => {}
                    }
                }
                Some(dispatch) = queue.recv(), if ready => {
                    sequence += 1;
                    let frame = json!({ "op": 0, "s": sequence, "t": "INTERACTION_CREATE", "d": dispatch });
                    ws.send(Message::text(frame.to_string())).await.unwrap();
                }
                else => break,
            }
        }
    });
    SocketModeFake {
        url,
        envelopes,
        acks,
    }
}

#[tokio::test]
async fn discord_gateway_presses_act_without_a_public_url() {
    let gateway = discord_gateway_fake().await;
    let s = discord_setup_with(Some(gateway.url.clone())).await;
    let retry = s.custom_id("Retry payment");
    eventually(20, "the bot identified on the gateway", || async {
        gateway
            .acks
            .lock()
            .unwrap()
            .iter()
            .any(|f| f["op"] == json!(2))
            .then_some(())
    })
    .await;
    let press = |id: u64, custom_id: &str| {
        json!({
            "id": (1_100_000_000_000_000_000u64 + id).to_string(),
            "application_id": "1200000000000000001",
            "type": 3,
            "token": format!("gateway-token-{id}"),
            "version": 1,
            "channel_id": "123456789012345678",
            "user": { "id": "42", "username": "alice", "discriminator": "0", "global_name": null, "avatar": null },
            "message": fakes::discord_message(1, "123456789012345678", None),
            "data": { "custom_id": custom_id, "component_type": 2 },
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {},
            "attachment_size_limit": 8388608
        })
    };
    gateway.envelopes.send(press(1, &retry)).unwrap();
    let deferred = eventually(20, "the deferred response", || async {
        s.discord.state.posts("callback").into_iter().next()
    })
    .await;
    assert_eq!(deferred.body, json!({ "type": 6 }));
    eventually(20, "the confirmation", || async {
        s.discord.state.posts("edit").into_iter().next()
    })
    .await;
    gateway
        .envelopes
        .send(press(2, &format!("c:{retry}")))
        .unwrap();
    eventually(20, "the outcome on the card", || async {
        s.discord.state.posts("edit").into_iter().find(|e| {
            let text = e.body.to_string();
            text.contains("Retried by") && text.contains("alice")
        })
    })
    .await;
    assert_eq!(s.stripe.state.received().len(), 1);
    s.app.stop().await;
}

// ------------------------------------------- Living cases: revoked buttons

/// Posts `invoice.paid` for the invoice of the setup's card (its only event).
async fn pay_the_invoice(app: &TestApp) {
    let stored = app.state.store.recent_events(1).await.unwrap();
    let failed: Value = serde_json::from_str(&stored[0].event.payload).unwrap();
    let mut paid = event("invoice.paid");
    paid["data"]["object"]["id"] = failed["data"]["object"]["id"].clone();
    paid["created"] = (failed["created"].as_i64().unwrap() + 60).into();
    assert_eq!(
        app.post_event("/webhooks/stripe", &paid, SECRET).await.0,
        200
    );
}

#[tokio::test]
async fn after_payment_the_old_retry_on_telegram_does_nothing() {
    let s = telegram_setup(true).await;
    let retry = s.data("Retry payment");
    pay_the_invoice(&s.app).await;
    let edit = eventually(20, "the card edited to paid", || async {
        s.telegram.state.posts("editMessageText").into_iter().next()
    })
    .await;
    assert!(!edit.body.to_string().contains(&retry), "Retry is gone");
    assert_eq!(s.press(42, &retry, Some(TELEGRAM_SECRET)).await, 200);
    let answers = s.answers(1).await;
    let text = answers[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("This invoice was paid at ") && text.ends_with("; nothing was done."),
        "{text}"
    );
    assert_eq!(
        answers[0]["show_alert"],
        json!(true),
        "privately, to the presser"
    );
    assert_eq!(s.stripe.state.received().len(), 0, "0 Stripe calls");
    s.app.stop().await;
}

#[tokio::test]
async fn after_payment_the_old_retry_on_discord_does_nothing() {
    let s = discord_setup().await;
    let retry = s.custom_id("Retry payment");
    pay_the_invoice(&s.app).await;
    eventually(20, "the card edited to paid", || async {
        s.discord
            .state
            .posts("edit")
            .into_iter()
            .find(|e| e.body.to_string().contains("Invoice paid"))
    })
    .await;
    let body = s.interaction("42", &["900000000000000001"], &retry);
    let (status, answer) = s.send(&body, &s.key).await;
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["flags"], json!(64), "ephemeral: {answer}");
    let text = answer["data"]["content"].as_str().unwrap();
    assert!(text.starts_with("This invoice was paid at "), "{text}");
    assert_eq!(s.stripe.state.received().len(), 0, "0 Stripe calls");
    s.app.stop().await;
}
