//! Living cases end to end: one card per Stripe object, edited in place,
//! its history in the thread, buttons that follow the state, out-of-order
//! events, related events merged, folded backlogs reachable on every
//! platform, and two replicas that never post a case twice. Fake Slack,
//! Discord, Telegram and Stripe on 127.0.0.1.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use crate::support::fakes::{self, DISCORD_TOKEN, Fake, SLACK_TOKEN, STRIPE_KEY, TELEGRAM_TOKEN};
use crate::support::*;

const SIGNING_SECRET: &str = "slack-signing-secret-0123";

/// An event of `event_type` about object `id`, created at `created`.
fn about(event_type: &str, id: &str, created: i64, edit: impl Fn(&mut Value)) -> Value {
    let mut event = event(event_type);
    event["created"] = created.into();
    event["data"]["object"]["id"] = id.into();
    edit(&mut event);
    event
}

fn unlimited(fake: &Fake) {
    fake.state.unlimited.store(true, Ordering::Relaxed);
}

fn slack_app_config(database: &TestDatabase, slack: &Fake, stripe: &Fake, extra: &str) -> String {
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
[slack]
bot_token = "{SLACK_TOKEN}"
api_base_url = "{slack}/api"
signing_secret = "{SIGNING_SECRET}"
[roles.finance]
slack_users = ["U_ALICE"]
[roles.admin]
slack_users = ["U_ADMIN"]
{FAST}
{extra}
[[receivers]]
name = "finance"
slack = {{ channel = "C0CASE" }}
[route]
receiver = "finance"
"#,
        url = database.url,
        stripe = stripe.base_url(),
        slack = slack.base_url(),
    )
}

struct SlackSetup {
    app: TestApp,
    slack: Fake,
    stripe: Fake,
}

async fn slack_setup(extra: &str) -> SlackSetup {
    let slack = fakes::slack().await;
    unlimited(&slack);
    let stripe = fakes::stripe().await;
    let database = TestDatabase::create(Backend::Sqlite).await;
    let text = slack_app_config(&database, &slack, &stripe, extra);
    let app = start_app_with_config(database, &text).await;
    SlackSetup { app, slack, stripe }
}

impl SlackSetup {
    async fn post(&self, event: &Value) {
        assert_eq!(
            self.app
                .post_event("/webhooks/stripe", event, SECRET)
                .await
                .0,
            200
        );
    }

    fn top_level(&self) -> Vec<Value> {
        self.slack
            .state
            .posts("chat.postMessage")
            .into_iter()
            .filter(|p| p.body["thread_ts"].is_null())
            .map(|p| p.body)
            .collect()
    }

    async fn click(&self, user: &str, token: &str) -> u16 {
        self.app
            .slack_click(&self.slack.base_url(), SIGNING_SECRET, user, token)
            .await
    }
}

/// The `value` (token) of a Slack card's button of `action`.
fn slack_token(card: &Value, action: &str) -> Option<String> {
    card["blocks"]
        .as_array()?
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .find(|e| e["action_id"] == action)
        .and_then(|e| e["value"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn failed_then_paid_edits_one_slack_card_and_revokes_retry() {
    let s = slack_setup("").await;
    let t = now() - 600;
    s.post(&about("invoice.payment_failed", "in_case1", t, |_| {}))
        .await;
    let card = eventually(20, "the first card", || async {
        s.top_level().into_iter().next()
    })
    .await;
    let retry = slack_token(&card, "retry_payment").expect("a Retry button");
    let ts = "1700000000.000001";

    s.post(&about("invoice.paid", "in_case1", t + 60, |_| {}))
        .await;
    let update = eventually(20, "the card edited in place", || async {
        s.slack.state.posts("chat.update").into_iter().next()
    })
    .await;
    assert_eq!(update.body["ts"], json!(ts));
    let edited = update.body.to_string();
    assert!(edited.contains("Invoice paid"), "{edited}");
    assert!(
        slack_token(&update.body, "retry_payment").is_none(),
        "no Retry on a paid invoice"
    );
    let reply = eventually(20, "a history line in the thread", || async {
        s.slack
            .state
            .posts("chat.postMessage")
            .into_iter()
            .find(|p| p.body["thread_ts"] == json!(ts))
    })
    .await;
    let line = reply.body.to_string();
    assert!(
        line.contains("Paid") && line.contains("invoice.paid"),
        "{line}"
    );
    assert!(
        !line.contains("<@") && !line.contains("<!"),
        "a thread reply mentions nobody"
    );
    assert!(!line.contains("jenny.rosen"), "no customer in the history");
    assert_eq!(s.top_level().len(), 1, "one message for the case");

    // The old Retry does nothing in Stripe and says why, privately.
    assert_eq!(s.click("U_ALICE", &retry).await, 200);
    let notice = eventually(20, "a private notice", || async {
        s.slack.state.posts("response").into_iter().next()
    })
    .await;
    let text = notice.body["text"].as_str().unwrap();
    assert!(
        text.starts_with("This invoice was paid at ") && text.ends_with("; nothing was done."),
        "{text}"
    );
    assert_eq!(notice.body["response_type"], json!("ephemeral"));
    assert_eq!(s.stripe.state.received().len(), 0, "0 Stripe calls");

    let cases = eventually(20, "the case recorded", || async {
        let cases = s.app.state.store.list_cases(false, 10).await.unwrap();
        (cases.len() == 1 && cases[0].state == "paid").then_some(cases)
    })
    .await;
    assert_eq!(cases[0].case_key, "in_case1");
    assert_eq!(cases[0].state, "paid");
    let steps = s.app.state.store.case_steps("in_case1").await.unwrap();
    let changes: Vec<_> = steps.iter().map(|s| s.change.as_deref()).collect();
    assert_eq!(changes, [Some("opened"), Some("advanced")]);

    // The CLI shows the same.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bot.toml");
    std::fs::write(&config, config_text(&s.app.database.url, "")).unwrap();
    let cli = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_stripe-chatops"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, listed, _) = cli(&["cases", "list", "--open", "--json"]);
    assert_eq!(code, Some(0));
    let line: Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    assert_eq!(line["case_key"], json!("in_case1"));
    assert_eq!(line["kind"], json!("invoice"));
    assert_eq!(line["state"], json!("paid"));
    assert_eq!(line["receiver"], json!("finance"));
    assert_eq!(line["message_ref"]["ts"], json!(ts));
    assert_eq!(line["last_event"]["event_type"], json!("invoice.paid"));
    let (code, shown, _) = cli(&["cases", "show", "in_case1"]);
    assert_eq!(code, Some(0));
    let lines: Vec<&str> = shown.lines().collect();
    assert!(
        lines[0].contains("invoice.payment_failed") && lines[0].ends_with("opened"),
        "{shown}"
    );
    assert!(
        lines[1].contains("invoice.paid") && lines[1].ends_with("advanced"),
        "{shown}"
    );
    let (code, _, stderr) = cli(&["cases", "show", "in_nope"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no case \"in_nope\""), "{stderr}");
    s.app.stop().await;
}

/// The card a case's message shows last: its last edit, or the post.
fn final_slack_card(slack: &Fake, ts: &str) -> Value {
    let updates: Vec<Value> = slack
        .state
        .posts("chat.update")
        .into_iter()
        .filter(|u| u.body["ts"] == json!(ts))
        .map(|u| u.body)
        .collect();
    // The fake's ts counts every message it accepted, edits included.
    updates.last().cloned().unwrap_or_else(|| {
        slack
            .state
            .received()
            .into_iter()
            .enumerate()
            .find(|(i, r)| {
                r.method == "chat.postMessage" && format!("1700000000.{:06}", i + 1) == ts
            })
            .map(|(_, p)| p.body)
            .unwrap()
    })
}

#[tokio::test]
async fn a_three_event_lifecycle_ends_in_the_same_card_in_all_six_orders() {
    let s = slack_setup("").await;
    let t = now() - 3600;
    // One base object per type, so that the cards differ only in their ids.
    let bases: Vec<Value> = [
        "invoice.finalized",
        "invoice.payment_failed",
        "invoice.paid",
    ]
    .iter()
    .map(|t| event(t))
    .collect();
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for (n, order) in orders.iter().enumerate() {
        for &i in order {
            let mut event = bases[i].clone();
            event["id"] = format!("evt_order{n}_{i}").into();
            event["created"] = (t + 100 * i as i64).into();
            event["data"]["object"]["id"] = format!("in_order{n}").into();
            s.post(&event).await;
        }
    }
    eventually(60, "every event's delivery done", || async {
        let counts = s.app.state.store.outbox_counts().await.unwrap();
        (counts.sent == 18).then_some(())
    })
    .await;
    let mut finals = Vec::new();
    for (n, order) in orders.iter().enumerate() {
        let case = s
            .app
            .state
            .store
            .case("finance", &format!("in_order{n}"))
            .await
            .unwrap()
            .expect("one case per invoice");
        assert_eq!(case.state, "paid", "order {order:?}");
        let reference: Value = serde_json::from_str(case.message_ref.as_deref().unwrap()).unwrap();
        let card = final_slack_card(&s.slack, reference["ts"].as_str().unwrap());
        // The ids differ by case; the tokens are random: the rest is the card.
        let text = card["blocks"].to_string();
        let text = text.replace(&format!("in_order{n}"), "in_X");
        let text = text.replace(&format!("evt_order{n}_"), "evt_X_");
        let text = regex_lite_strip_values(&text);
        finals.push(text);
    }
    for (n, card) in finals.iter().enumerate() {
        assert_eq!(
            card, &finals[0],
            "order {:?} ends in another card",
            orders[n]
        );
    }
    assert!(finals[0].contains("Invoice paid"), "{}", finals[0]);
    assert_eq!(
        s.top_level().len(),
        6,
        "one card per invoice, whatever the order"
    );
    s.app.stop().await;
}

/// Removes the `"value":"…"` of buttons (random tokens).
fn regex_lite_strip_values(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\"value\":\"") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 9..];
        let end = after.find('"').unwrap_or(after.len());
        out.push_str("\"value\":\"T\"");
        rest = &after[(end + 1).min(after.len())..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn related_events_merge_and_the_reason_arrives_later() {
    let s = slack_setup("").await;
    let t = now() - 600;
    // The invoice first, without a reason; its charge after it.
    s.post(&about("invoice.payment_failed", "in_merge", t, |e| {
        e["data"]["object"]["payment_intent"] = "pi_merge".into();
    }))
    .await;
    let card = eventually(20, "the invoice card", || async {
        s.top_level().into_iter().next()
    })
    .await;
    assert!(
        card.to_string().contains("reason not reported yet"),
        "{card}"
    );
    s.post(&about("charge.failed", "ch_merge", t + 1, |e| {
        e["data"]["object"]["payment_intent"] = "pi_merge".into();
    }))
    .await;
    s.post(&about(
        "payment_intent.payment_failed",
        "pi_merge",
        t + 1,
        |_| {},
    ))
    .await;
    let update = eventually(20, "the reason filled in", || async {
        s.slack
            .state
            .posts("chat.update")
            .into_iter()
            .find(|u| u.body.to_string().contains("insufficient_funds"))
    })
    .await;
    assert!(
        update.body.to_string().contains("Payment failed"),
        "the invoice card stays"
    );
    assert_eq!(s.top_level().len(), 1, "three failure events, one card");

    // One paid payment: charge, payment intent and invoice are one "paid" card.
    s.post(&about("charge.succeeded", "ch_paid", t, |e| {
        e["data"]["object"]["payment_intent"] = "pi_paid".into();
        e["data"]["object"]["invoice"] = "in_paid".into();
    }))
    .await;
    s.post(&about("payment_intent.succeeded", "pi_paid", t + 1, |e| {
        e["data"]["object"]["latest_charge"] = "ch_paid".into();
    }))
    .await;
    s.post(&about("invoice.paid", "in_paid", t + 2, |_| {}))
        .await;
    eventually(20, "all sent", || async {
        let counts = s.app.state.store.outbox_counts().await.unwrap();
        (counts.sent == 6).then_some(())
    })
    .await;
    assert_eq!(s.top_level().len(), 2, "one card for the paid payment");
    let case = s
        .app
        .state
        .store
        .case("finance", "in_paid")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(case.state, "paid");
    let reference: Value = serde_json::from_str(case.message_ref.as_deref().unwrap()).unwrap();
    let last = final_slack_card(&s.slack, reference["ts"].as_str().unwrap());
    assert!(last.to_string().contains("Invoice paid"), "{last}");
    s.app.stop().await;
}

#[tokio::test]
async fn a_refund_after_payment_posts_a_linked_card_and_retires_the_old_one() {
    let s = slack_setup("").await;
    let t = now() - 600;
    s.post(&about("charge.succeeded", "ch_refund", t, |_| {}))
        .await;
    eventually(20, "the payment card", || async {
        s.top_level().into_iter().next()
    })
    .await;
    s.post(&about("charge.refunded", "ch_refund", t + 60, |_| {}))
        .await;
    let linked = eventually(20, "the refund card", || async {
        s.slack
            .state
            .posts("chat.postMessage")
            .into_iter()
            .find(|p| p.body["reply_broadcast"] == json!(true))
    })
    .await;
    assert_eq!(
        linked.body["thread_ts"],
        json!("1700000000.000001"),
        "it links the old card"
    );
    assert!(
        linked.body.to_string().contains("Refunded"),
        "{}",
        linked.body
    );
    let retired = eventually(20, "the old card retired", || async {
        s.slack.state.posts("chat.update").into_iter().next()
    })
    .await;
    assert!(
        retired.body.to_string().contains("Moved on: refunded"),
        "{}",
        retired.body
    );
    // The charge's case is named after its payment intent.
    let cases = eventually(20, "the case recorded", || async {
        let cases = s.app.state.store.list_cases(false, 10).await.unwrap();
        (cases.len() == 1 && cases[0].state == "refunded").then_some(cases)
    })
    .await;
    assert!(
        cases[0].case_key.starts_with("pi_"),
        "{}",
        cases[0].case_key
    );
    assert_eq!(
        cases[0].earlier_refs.len(),
        1,
        "the old card is kept as an earlier one"
    );
    let steps = s
        .app
        .state
        .store
        .case_steps(&cases[0].case_key)
        .await
        .unwrap();
    assert_eq!(steps[1].change.as_deref(), Some("reopened"));
    s.app.stop().await;
}

#[tokio::test]
async fn a_card_deleted_in_chat_is_posted_again() {
    let s = slack_setup("").await;
    let t = now() - 600;
    s.post(&about("invoice.payment_failed", "in_gone", t, |_| {}))
        .await;
    eventually(20, "the card", || async {
        s.top_level().into_iter().next()
    })
    .await;
    s.slack
        .state
        .deleted
        .lock()
        .unwrap()
        .insert("1700000000.000001".into());
    s.post(&about("invoice.paid", "in_gone", t + 60, |_| {}))
        .await;
    let again = eventually(20, "the card posted again", || async {
        s.top_level().into_iter().nth(1)
    })
    .await;
    assert!(again.to_string().contains("Invoice paid"), "{again}");
    let case = eventually(20, "the case moved to the new card", || async {
        let case = s
            .app
            .state
            .store
            .case("finance", "in_gone")
            .await
            .unwrap()?;
        (case.state == "paid").then_some(case)
    })
    .await;
    assert_ne!(
        case.message_ref.as_deref(),
        Some(r#"{"channel":"C0CASE","platform":"slack","ts":"1700000000.000001"}"#)
    );
    assert_eq!(s.app.state.store.outbox_counts().await.unwrap().dead, 0);
    s.app.stop().await;
}

#[tokio::test]
async fn a_history_line_that_fails_never_posts_the_card_twice() {
    let s = slack_setup("").await;
    let t = now() - 600;
    s.post(&about("invoice.payment_failed", "in_flaky", t, |_| {}))
        .await;
    eventually(20, "the card", || async {
        s.top_level().into_iter().next()
    })
    .await;
    eventually(20, "the first marked sent", || async {
        (s.app.state.store.outbox_counts().await.unwrap().sent == 1).then_some(())
    })
    .await;
    // An earlier event leaves the card as it is: only its history line goes
    // out, and Slack fails it.
    s.slack.state.fail_next.store(1, Ordering::Relaxed);
    s.post(&about("invoice.finalized", "in_flaky", t - 60, |_| {}))
        .await;
    eventually(20, "the second marked sent", || async {
        (s.app.state.store.outbox_counts().await.unwrap().sent == 2).then_some(())
    })
    .await;
    assert_eq!(s.top_level().len(), 1, "the card is not posted again");
    assert!(
        s.slack.state.posts("chat.update").is_empty(),
        "nothing to edit"
    );
    assert!(
        s.app.metrics().await.contains("outcome=\"history_lost\""),
        "the lost line is counted"
    );
    s.app.stop().await;
}

#[tokio::test]
async fn acknowledge_and_resolve_stay_on_the_card_through_later_events() {
    let s = slack_setup("").await;
    let t = now() - 600;
    s.post(&about("invoice.payment_failed", "in_ack", t, |_| {}))
        .await;
    let card = eventually(20, "the card", || async {
        s.top_level().into_iter().next()
    })
    .await;
    let resolve = slack_token(&card, "resolve").expect("a Resolve button");
    assert_eq!(s.click("U_ALICE", &resolve).await, 200);
    eventually(20, "resolved", || async {
        let case = s.app.state.store.case("finance", "in_ack").await.unwrap()?;
        case.resolved_by.filter(|by| by == "slack:U_ALICE")
    })
    .await;
    // A later attempt still edits the card, which keeps who resolved it.
    s.post(&about("invoice.payment_failed", "in_ack", t + 60, |e| {
        e["data"]["object"]["attempt_count"] = 3.into();
    }))
    .await;
    let edit = eventually(20, "the card edited by the event", || async {
        s.slack
            .state
            .posts("chat.update")
            .into_iter()
            .rfind(|u| u.body.to_string().contains("Attempt 3"))
    })
    .await;
    assert!(
        edit.body.to_string().contains("Resolved by @u_alice"),
        "{}",
        edit.body
    );
    s.app.stop().await;
}

fn discord_config(discord: &Fake, extra: &str) -> String {
    format!(
        r#"
[discord]
bot_token = "{DISCORD_TOKEN}"
api_base_url = "{}"
{FAST}
{extra}
[[receivers]]
name = "disputes"
discord = {{ channel_id = "123456789012345678" }}
[route]
receiver = "disputes"
"#,
        discord.base_url()
    )
}

#[tokio::test]
async fn failed_then_paid_on_discord_edits_and_threads_the_history() {
    let discord = fakes::discord().await;
    unlimited(&discord);
    let app = start_app(
        TestDatabase::create(Backend::Sqlite).await,
        &discord_config(&discord, ""),
    )
    .await;
    let t = now() - 600;
    let failed = about("invoice.payment_failed", "in_disc", t, |_| {});
    assert_eq!(
        app.post_event("/webhooks/stripe", &failed, SECRET).await.0,
        200
    );
    let card = eventually(20, "the card", || async {
        discord.state.posts("create").into_iter().next()
    })
    .await;
    let message_id = "1000000000000001";
    assert_eq!(card.channel, "123456789012345678");
    let paid = about("invoice.paid", "in_disc", t + 60, |_| {});
    assert_eq!(
        app.post_event("/webhooks/stripe", &paid, SECRET).await.0,
        200
    );
    let edit = eventually(20, "the card edited", || async {
        discord.state.posts("edit").into_iter().next()
    })
    .await;
    assert_eq!(edit.body["message_id"], json!(message_id));
    assert!(edit.body.to_string().contains("Invoice paid"));
    let thread = eventually(20, "a thread on the card", || async {
        discord.state.posts("thread").into_iter().next()
    })
    .await;
    assert_eq!(thread.body["message_id"], json!(message_id));
    let history = eventually(20, "the history line in the thread", || async {
        discord
            .state
            .posts("create")
            .into_iter()
            .find(|p| p.channel == message_id)
    })
    .await;
    assert!(history.body.to_string().contains("invoice.paid"));
    assert!(
        history.body["components"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
    let top_level = discord
        .state
        .posts("create")
        .into_iter()
        .filter(|p| p.channel == "123456789012345678")
        .count();
    assert_eq!(top_level, 1, "one message for the case");
    assert_revoked(&app, "in_disc").await;
    app.stop().await;
}

/// Every unused token of the case's first card is revoked with the notice.
async fn assert_revoked(app: &TestApp, case_key: &str) {
    let receiver = app.state.config().receivers.keys().next().unwrap().clone();
    let case = eventually(20, "the case at its new head", || async {
        let case = app.state.store.case(&receiver, case_key).await.unwrap()?;
        (case.state == "paid").then_some(case)
    })
    .await;
    let first_delivery = case.head_delivery_id - 1;
    let open = app.state.store.open_tokens(first_delivery).await.unwrap();
    assert!(
        open.is_empty(),
        "the first card's buttons no longer act: {open:?}"
    );
}

#[tokio::test]
async fn failed_then_paid_on_telegram_edits_and_replies() {
    let telegram = fakes::telegram().await;
    unlimited(&telegram);
    let config = format!(
        r#"
[telegram]
bot_token = "{TELEGRAM_TOKEN}"
api_base_url = "{}"
{FAST}
[[receivers]]
name = "group"
telegram = {{ chat_id = -100777, message_thread_id = 9 }}
[route]
receiver = "group"
"#,
        telegram.base_url()
    );
    let app = start_app(TestDatabase::create(Backend::Sqlite).await, &config).await;
    let t = now() - 600;
    let failed = about("invoice.payment_failed", "in_tg", t, |_| {});
    assert_eq!(
        app.post_event("/webhooks/stripe", &failed, SECRET).await.0,
        200
    );
    eventually(20, "the card", || async {
        telegram.state.posts("sendMessage").into_iter().next()
    })
    .await;
    let card_id = telegram_sends(&telegram)[0].0;
    let paid = about("invoice.paid", "in_tg", t + 60, |_| {});
    assert_eq!(
        app.post_event("/webhooks/stripe", &paid, SECRET).await.0,
        200
    );
    let edit = eventually(20, "the card edited", || async {
        telegram.state.posts("editMessageText").into_iter().next()
    })
    .await;
    assert_eq!(edit.body["message_id"], json!(card_id));
    assert!(edit.body["text"].as_str().unwrap().contains("Invoice paid"));
    let reply = eventually(20, "a reply to the card", || async {
        telegram
            .state
            .posts("sendMessage")
            .into_iter()
            .find(|p| p.body["reply_parameters"]["message_id"] == json!(card_id))
    })
    .await;
    assert_eq!(
        reply.body["message_thread_id"],
        json!(9),
        "in the card's forum topic"
    );
    assert!(
        reply.body["text"]
            .as_str()
            .unwrap()
            .contains("invoice.paid")
    );
    assert!(
        reply.body["reply_markup"].is_null(),
        "no buttons on a history line"
    );
    assert_eq!(
        telegram
            .state
            .posts("sendMessage")
            .iter()
            .filter(|p| p.body["reply_parameters"].is_null())
            .count(),
        1,
        "one card for the case"
    );
    assert_revoked(&app, "in_tg").await;
    app.stop().await;
}

/// The messages a Telegram fake accepted, with the ids it gave them.
fn telegram_sends(fake: &Fake) -> Vec<(i64, fakes::Received)> {
    fake.state
        .received()
        .into_iter()
        .enumerate()
        .filter(|(_, r)| r.method == "sendMessage")
        .map(|(i, r)| (i as i64 + 1, r))
        .collect()
}

/// The fold settings that make a backlog of 50 fold at once.
const FOLD: &str = r#"
[delivery]
retry_schedule = ["100ms", "300ms"]
give_up_after = "2m"
lease = "3s"
fold_after = "1s"
[delivery.discord]
per_destination = "5/s"
burst = 1
[delivery.telegram]
per_destination = "5/s"
burst = 1
per_group = "3000/m"
"#;

async fn post_backlog(app: &TestApp, count: usize) -> Vec<String> {
    app.post_all(
        (0..count)
            .map(|_| event("invoice.payment_failed"))
            .collect(),
    )
    .await
}

#[tokio::test]
async fn a_folded_backlog_on_discord_is_in_the_digests_thread_with_its_buttons() {
    let discord = fakes::discord().await;
    unlimited(&discord);
    let config = discord_config(&discord, "").replace(FAST, FOLD);
    let app = start_app(TestDatabase::create(Backend::Sqlite).await, &config).await;
    let ids = post_backlog(&app, 50).await;
    let posts = eventually(60, "every event reachable", || async {
        let posts = discord.state.posts("create");
        ids.iter()
            .all(|id| {
                posts
                    .iter()
                    .any(|p| p.body.to_string().contains(id.as_str()))
            })
            .then_some(posts)
    })
    .await;
    let digests: Vec<_> = posts
        .iter()
        .filter(|p| p.body.to_string().contains("Digest"))
        .collect();
    assert!(!digests.is_empty(), "the backlog folded");
    let digest_text = digests[0].body.to_string();
    assert!(
        digest_text.contains("Total failed"),
        "totals per kind: {digest_text}"
    );
    for id in &ids {
        let post = posts
            .iter()
            .find(|p| {
                p.body.to_string().contains(id.as_str()) && !p.body.to_string().contains("Digest")
            })
            .unwrap();
        let buttons = post.body["components"].to_string();
        assert!(
            buttons.contains("Retry payment"),
            "{id}'s buttons are reachable"
        );
    }
    let threaded = posts
        .iter()
        .filter(|p| p.channel != "123456789012345678")
        .count();
    assert!(threaded > 0, "folded cards are in the digest's thread");
    assert_eq!(discord.state.throttled.load(Ordering::Relaxed), 0);
    app.stop().await;
}

#[tokio::test]
async fn a_folded_backlog_on_telegram_follows_as_replies_to_the_digest() {
    let telegram = fakes::telegram().await;
    unlimited(&telegram);
    let config = format!(
        r#"
[telegram]
bot_token = "{TELEGRAM_TOKEN}"
api_base_url = "{}"
{FOLD}
[[receivers]]
name = "group"
telegram = {{ chat_id = -100888 }}
[route]
receiver = "group"
"#,
        telegram.base_url()
    );
    let app = start_app(TestDatabase::create(Backend::Sqlite).await, &config).await;
    let ids = post_backlog(&app, 50).await;
    let posts = eventually(60, "every event reachable", || async {
        let posts = telegram.state.posts("sendMessage");
        ids.iter()
            .all(|id| {
                posts
                    .iter()
                    .any(|p| p.body["text"].as_str().unwrap_or("").contains(id.as_str()))
            })
            .then_some(posts)
    })
    .await;
    let (digest_id, digest) = telegram_sends(&telegram)
        .into_iter()
        .find(|(_, p)| p.body["text"].as_str().unwrap().contains("Digest"))
        .expect("the backlog folded");
    let digest_id = json!(digest_id);
    assert!(
        digest.body["text"]
            .as_str()
            .unwrap()
            .contains("Total failed")
    );
    let replies: Vec<_> = posts
        .iter()
        .filter(|p| p.body["reply_parameters"]["message_id"] == digest_id)
        .collect();
    assert!(!replies.is_empty(), "folded cards reply to the digest");
    for reply in &replies {
        assert!(
            reply.body["reply_markup"]
                .to_string()
                .contains("Retry payment"),
            "buttons reachable: {}",
            reply.body
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn two_replicas_on_postgres_post_one_card_per_case() {
    if postgres_url().is_none() {
        return;
    }
    let slack = fakes::slack().await;
    unlimited(&slack);
    let stripe = fakes::stripe().await;
    let database = TestDatabase::create(Backend::Postgres).await;
    let text = slack_app_config(&database, &slack, &stripe, "");
    let first = start_app_with_config(database, &text).await;
    let second = start_app_with_config(TestDatabase::shared(&first.database.url), &text).await;
    let t = now() - 600;
    for n in 0..10 {
        let invoice = format!("in_replica{n}");
        for (i, event_type) in [
            "invoice.finalized",
            "invoice.payment_failed",
            "invoice.paid",
        ]
        .iter()
        .enumerate()
        {
            let app = if (n + i) % 2 == 0 { &first } else { &second };
            let event = about(event_type, &invoice, t + i as i64 * 10, |_| {});
            assert_eq!(
                app.post_event("/webhooks/stripe", &event, SECRET).await.0,
                200
            );
        }
    }
    eventually(60, "all 30 events delivered", || async {
        let counts = first.state.store.outbox_counts().await.unwrap();
        (counts.sent == 30).then_some(())
    })
    .await;
    let top_level = slack
        .state
        .posts("chat.postMessage")
        .into_iter()
        .filter(|p| p.body["thread_ts"].is_null())
        .count();
    assert_eq!(top_level, 10, "one card per case across both replicas");
    let cases = first.state.store.list_cases(false, 100).await.unwrap();
    assert_eq!(cases.len(), 10);
    assert!(cases.iter().all(|c| c.state == "paid"));
    second.halt().await;
    first.stop().await;
}
