//! Delivery end to end: a signed webhook in, bytes on a fake Slack, Discord
//! or Telegram out, through the outbox, its budgets, retries and folding.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use stripe_chatops::chat::slack::SlackMessage;
use stripe_chatops::chat::telegram::TelegramMessage;
use stripe_chatops::chat::{Chat, MessageRef, Outbound};
use stripe_chatops::config::{DiscordConfig, Secret, SlackConfig, TelegramConfig};
use stripe_chatops::store::OutboxCounts;

use crate::support::fakes::{self, DISCORD_TOKEN, Fake, SLACK_TOKEN, TELEGRAM_TOKEN};
use crate::support::*;

/// Fast retries so that fault tests finish in seconds; the platforms' real budgets.
const QUICK_RETRIES: &str = r#"
[delivery]
retry_schedule = ["100ms", "300ms", "600ms"]
give_up_after = "2m"
lease = "3s"
"#;

fn slack_config(fake: &Fake, channel: &str) -> String {
    format!(
        r#"
[slack]
bot_token = "{SLACK_TOKEN}"
api_base_url = "{}/api"
{QUICK_RETRIES}
[[receivers]]
name = "finance"
slack = {{ channel = "{channel}" }}
[route]
receiver = "finance"
"#,
        fake.base_url()
    )
}

fn discord_config(fake: &Fake) -> String {
    format!(
        r#"
[discord]
bot_token = "{DISCORD_TOKEN}"
api_base_url = "{}"
{QUICK_RETRIES}
[[receivers]]
name = "disputes"
discord = {{ channel_id = "123456789012345678" }}
[route]
receiver = "disputes"
"#,
        fake.base_url()
    )
}

fn telegram_config(fake: &Fake, chat: i64, thread: Option<i64>) -> String {
    let thread = thread.map_or(String::new(), |t| format!(", message_thread_id = {t}"));
    format!(
        r#"
[telegram]
bot_token = "{TELEGRAM_TOKEN}"
api_base_url = "{}"
{QUICK_RETRIES}
[[receivers]]
name = "group"
telegram = {{ chat_id = {chat}{thread} }}
[route]
receiver = "group"
"#,
        fake.base_url()
    )
}

async fn app_with(config: &str) -> TestApp {
    start_app(TestDatabase::create(Backend::Sqlite).await, config).await
}

/// Posts events one after another, each with a distinct id and `created`.
async fn post_events(app: &TestApp, event_type: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..count {
        let event = event(event_type);
        assert_eq!(
            app.post_event("/webhooks/stripe", &event, SECRET).await.0,
            200
        );
        ids.push(event["id"].as_str().unwrap().to_owned());
    }
    ids
}

async fn counts(app: &TestApp) -> OutboxCounts {
    app.state.store.outbox_counts().await.unwrap()
}

async fn until_sent(app: &TestApp, sent: u64, seconds: u64) -> OutboxCounts {
    eventually(seconds, "deliveries sent", || async {
        let counts = counts(app).await;
        (counts.sent >= sent).then_some(counts)
    })
    .await
}

/// The event id a Slack, Discord or Telegram body mentions, from its links.
fn mentions(body: &Value, event_id: &str) -> bool {
    body.to_string().contains(event_id)
}

#[tokio::test]
async fn slack_gets_each_card_in_order_and_the_message_ref_is_kept() {
    let fake = fakes::slack().await;
    let app = app_with(&slack_config(&fake, "C0FINANCE")).await;
    let failed = event("invoice.payment_failed");
    let dispute = event("charge.dispute.created");
    for e in [&failed, &dispute] {
        assert_eq!(app.post_event("/webhooks/stripe", e, SECRET).await.0, 200);
    }
    until_sent(&app, 2, 20).await;

    let posts = fake.state.posts("chat.postMessage");
    assert_eq!(posts.len(), 2);
    assert!(posts.iter().all(|p| p.channel == "C0FINANCE"));
    assert!(
        posts[0].body["blocks"]
            .as_array()
            .is_some_and(|b| !b.is_empty())
    );
    assert!(
        posts[0].body["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "notification text"
    );
    let stored = app
        .state
        .store
        .event("default", failed["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let delivery = &app.state.store.deliveries_of(stored.seq).await.unwrap()[0];
    assert_eq!(delivery.status, "sent");
    let reference = MessageRef::from_json(delivery.message_ref.as_deref().unwrap()).unwrap();
    assert!(
        matches!(reference.decode(), Some(SlackMessage::Slack { ref channel, ref ts }) if channel == "C0FINANCE" && ts.starts_with("1700000000."))
    );
    // Order per destination: the first event's card came first.
    assert!(mentions(&posts[0].body, failed["id"].as_str().unwrap()));
    assert!(mentions(&posts[1].body, dispute["id"].as_str().unwrap()));
    assert_eq!(fake.state.throttled.load(Ordering::Relaxed), 0);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"stripe_chatops_deliveries_total{platform="slack",outcome="sent"} 2"#),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn discord_gets_an_embed_with_an_enforced_nonce() {
    let fake = fakes::discord().await;
    let app = app_with(&discord_config(&fake)).await;
    post_events(&app, "charge.dispute.created", 1).await;
    until_sent(&app, 1, 20).await;
    let posts = fake.state.posts("create");
    assert_eq!(posts.len(), 1);
    let body = &posts[0].body;
    assert_eq!(body["enforce_nonce"], json!(true));
    let nonce = body["nonce"].as_str().unwrap();
    assert!(!nonce.is_empty() && nonce.len() <= 25);
    assert!(
        body["embeds"][0]["title"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(posts[0].channel, "123456789012345678");
    app.stop().await;
}

#[tokio::test]
async fn a_retried_discord_send_with_the_same_nonce_posts_once() {
    let fake = fakes::discord().await;
    let discord = stripe_chatops::chat::discord::Discord::new(&DiscordConfig {
        bot_token: Some(Secret::new(DISCORD_TOKEN)),
        api_base_url: fake.base_url(),
        public_key: None,
        gateway: false,
    });
    let card =
        stripe_chatops::render::Card::parse("title: Hello\nseverity: info\nfooter: f").unwrap();
    let message = Outbound {
        payload: stripe_chatops::chat::render(stripe_chatops::platform::Platform::Discord, &card),
        card: &card,
        idempotency_key: "d0123456789abcdef01234567".into(),
        reply_to: None,
        linked: false,
    };
    let destination =
        stripe_chatops::config::Destination::Discord(stripe_chatops::config::DiscordTarget {
            channel_id: "42".into(),
        });
    let first = discord.post(&destination, &message).await.unwrap();
    let second = discord.post(&destination, &message).await.unwrap();
    assert_eq!(first, second, "the same nonce returns the same message");
    assert_eq!(fake.state.posts("create").len(), 1);
    // And the message can be edited in place.
    discord.edit(&first, &message).await.unwrap();
    assert_eq!(fake.state.posts("edit").len(), 1);
    // A 429 is reported as such, to be waited out; a 4xx is final.
    fake.state.throttle_next.store(1, Ordering::Relaxed);
    let second_card = Outbound {
        idempotency_key: "another".into(),
        ..message.clone()
    };
    assert!(matches!(
        discord.post(&destination, &second_card).await,
        Err(stripe_chatops::chat::SendError::RateLimited { .. })
    ));
    fake.state.missing.lock().unwrap().insert("42".into());
    assert!(matches!(
        discord.post(&destination, &second_card).await,
        Err(stripe_chatops::chat::SendError::Permanent(_))
    ));
}

#[tokio::test]
async fn telegram_gets_html_in_its_forum_topic() {
    let fake = fakes::telegram().await;
    let app = app_with(&telegram_config(&fake, -1001234567890, Some(7))).await;
    post_events(&app, "invoice.payment_failed", 1).await;
    until_sent(&app, 1, 20).await;
    let posts = fake.state.posts("sendMessage");
    assert_eq!(posts.len(), 1);
    let body = &posts[0].body;
    assert_eq!(body["chat_id"], json!(-1001234567890i64));
    assert_eq!(body["message_thread_id"], json!(7));
    assert_eq!(body["parse_mode"], json!("HTML"));
    assert!(body["text"].as_str().unwrap().contains("<b>"));
    app.stop().await;
}

#[tokio::test]
async fn adapters_edit_what_they_posted() {
    let slack_fake = fakes::slack().await;
    let slack = stripe_chatops::chat::slack::Slack::new(&SlackConfig {
        bot_token: Some(Secret::new(SLACK_TOKEN)),
        incoming_webhook_url: None,
        api_base_url: format!("{}/api", slack_fake.base_url()),
        signing_secret: None,
        app_token: None,
    })
    .unwrap();
    let telegram_fake = fakes::telegram().await;
    let telegram = stripe_chatops::chat::telegram::Telegram::new(&TelegramConfig {
        bot_token: Some(Secret::new(TELEGRAM_TOKEN)),
        api_base_url: telegram_fake.base_url(),
        webhook_secret_token: None,
        topics: Default::default(),
    })
    .unwrap();
    let card = stripe_chatops::render::Card::parse(
        "title: Retried by @alice\nseverity: success\nfooter: f",
    )
    .unwrap();
    use stripe_chatops::chat::render as payload;
    use stripe_chatops::platform::Platform;
    let outbound = |platform| Outbound {
        payload: payload(platform, &card),
        card: &card,
        idempotency_key: "k".into(),
        reply_to: None,
        linked: false,
    };
    slack
        .edit(
            &MessageRef::new(&SlackMessage::Slack {
                channel: "C1".into(),
                ts: "1700000000.000001".into(),
            }),
            &outbound(Platform::Slack),
        )
        .await
        .unwrap();
    let update = &slack_fake.state.posts("chat.update")[0];
    assert_eq!(update.body["ts"], json!("1700000000.000001"));
    telegram
        .edit(
            &MessageRef::new(&TelegramMessage::Telegram {
                chat_id: 5,
                message_id: 9,
            }),
            &outbound(Platform::Telegram),
        )
        .await
        .unwrap();
    let edit = &telegram_fake.state.posts("editMessageText")[0];
    assert_eq!(edit.body["message_id"], json!(9));
    assert!(
        edit.body["text"]
            .as_str()
            .unwrap()
            .contains("Retried by @alice")
    );
}

#[tokio::test]
async fn an_outage_then_recovery_delivers_everything_in_order() {
    let mut fake = fakes::slack().await;
    let app = app_with(&slack_config(&fake, "C0OPS")).await;
    // First the platform answers 5xx…
    fake.state.fail_next.store(3, Ordering::Relaxed);
    let mut ids = post_events(&app, "charge.failed", 2).await;
    eventually(20, "three 5xx answers", || async {
        (fake.state.fail_next.load(Ordering::Relaxed) == 0).then_some(())
    })
    .await;
    // …then it is gone altogether: connections are refused.
    fake.stop().await;
    ids.extend(post_events(&app, "charge.failed", 2).await);
    eventually(20, "a try against the dead server", || async {
        let counts = counts(&app).await;
        let retrying = app.state.store.dead_letters(10).await.unwrap().is_empty()
            && counts.pending == 4 - counts.sent;
        let mut refused = false;
        for id in &ids {
            let stored = app.state.store.event("default", id).await.unwrap()?;
            let deliveries = app.state.store.deliveries_of(stored.seq).await.unwrap();
            refused |= deliveries.iter().any(|d| {
                d.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("unreachable"))
            });
        }
        (retrying && refused).then_some(())
    })
    .await;
    fake.restart().await;

    let counts = until_sent(&app, 4, 30).await;
    assert_eq!(counts.dead, 0);
    let posts = fake.state.posts("chat.postMessage");
    assert_eq!(posts.len(), 4, "each message exactly once");
    for (post, id) in posts.iter().zip(&ids) {
        assert!(
            mentions(&post.body, id),
            "messages arrive in the order the events came"
        );
    }
    app.stop().await;
}

/// The Retry-After is checked where the worker keeps it, in the outbox row,
/// not by timing the fake on a real clock: after a 429, the head waits
/// until at least its first try plus the platform's Retry-After (1 s here).
#[tokio::test]
async fn a_429_storm_is_waited_out_without_hammering() {
    let fake = fakes::telegram().await;
    fake.state.storm_retry_after.store(1, Ordering::Relaxed);
    fake.state.throttle_next.store(3, Ordering::Relaxed);
    let app = app_with(&telegram_config(&fake, 5550001, None)).await;
    let ids = post_events(&app, "charge.refunded", 2).await;
    let throttled = eventually(30, "the head rescheduled after a 429", || async {
        let head = app
            .state
            .store
            .next_in_queue("group", stripe_chatops::store::now_ms())
            .await
            .unwrap()?;
        let first = head.first_attempt_at_ms?;
        (fake.state.throttled.load(Ordering::Relaxed) >= 1).then_some((first, head))
    })
    .await;
    let (first, head) = throttled;
    assert!(
        head.next_attempt_at_ms - first >= 1000,
        "Retry-After honoured: the next try is {} ms after the first",
        head.next_attempt_at_ms - first
    );
    assert_eq!(
        head.attempts, 0,
        "a 429 is the platform's pace, not a failed try"
    );
    until_sent(&app, 2, 30).await;

    let requests = fake.state.requests.lock().unwrap().clone();
    assert_eq!(requests.iter().filter(|(_, s)| *s == 429).count(), 3);
    assert_eq!(
        requests.len(),
        5,
        "three throttled tries and two sends, no more"
    );
    let posts = fake.state.posts("sendMessage");
    for (post, id) in posts.iter().zip(&ids) {
        assert!(mentions(&post.body, id), "order kept under retries");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_refused_message_becomes_a_dead_letter_and_replays() {
    let fake = fakes::slack().await;
    fake.state.missing.lock().unwrap().insert("C0GONE".into());
    let app = app_with(&slack_config(&fake, "C0GONE")).await;
    let ids = post_events(&app, "payout.failed", 1).await;
    let dead = eventually(20, "a dead letter", || async {
        let dead = app.state.store.dead_letters(10).await.unwrap();
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].event_id.as_deref(), Some(ids[0].as_str()));
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("channel_not_found")
    );

    // The admin fixes the channel, then replays.
    fake.state.missing.lock().unwrap().clear();
    assert_eq!(
        app.state.store.replay_dead(&[dead[0].key]).await.unwrap(),
        1
    );
    app.state.delivery_wake.notify_one();
    until_sent(&app, 1, 20).await;
    assert_eq!(fake.state.posts("chat.postMessage").len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn slack_incoming_webhook_and_generic_webhook_deliver() {
    let fake = fakes::slack().await;
    let config = format!(
        r##"
[slack]
incoming_webhook_url = "{base}/hooks/T0/B0/secret"
{QUICK_RETRIES}
[[receivers]]
name = "notify"
slack = {{ channel = "#finance" }}
[[receivers]]
name = "bridge"
webhook = {{ url = "{base}/hooks/T1/B1/bridge" }}
[route]
receiver = "notify"
[[route.routes]]
event_types = ["payout.*"]
receiver = "bridge"
"##,
        base = fake.base_url()
    );
    let app = app_with(&config).await;
    post_events(&app, "invoice.paid", 1).await;
    post_events(&app, "payout.paid", 1).await;
    until_sent(&app, 2, 20).await;
    let hooks = fake.state.posts("webhook");
    assert_eq!(hooks.len(), 2);
    assert!(
        hooks.iter().any(|h| h.body["blocks"].is_array()),
        "Block Kit to Slack's incoming webhook"
    );
    let bridge = hooks
        .iter()
        .find(|h| h.body["card"].is_object())
        .expect("card JSON to the bridge");
    assert!(bridge.body["text"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(bridge.body["card"]["title"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn a_burst_of_2000_events_is_folded_into_a_digest() {
    let fake = fakes::slack().await;
    let app = app_with(&slack_config(&fake, "C0BURST")).await;
    let total = 2000u64;
    let mut tasks = tokio::task::JoinSet::new();
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let url = app.url("/webhooks/stripe");
    for _ in 0..total {
        let permit = semaphore.clone().acquire_owned().await.unwrap();
        let client = app.client.clone();
        let url = url.clone();
        tasks.spawn(async move {
            let body = serde_json::to_vec(&event("invoice.payment_failed")).unwrap();
            let signature = sign_now(&body, SECRET);
            let status = client
                .post(url)
                .header("stripe-signature", signature)
                .body(body)
                .send()
                .await
                .unwrap()
                .status();
            drop(permit);
            status.as_u16()
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }

    // Every event is visible soon: as its own card, or counted in a sent digest.
    let visible = eventually(
        60,
        "every event visible as a card or in a digest",
        || async {
            let counts = counts(&app).await;
            let top_level_pending = app.state.store.backlog("finance").await.unwrap();
            (counts.digests_pending == 0
                && top_level_pending == 0
                && counts.digests_sent > 0
                && counts.sent + counts.folded + counts.pending == total)
                .then_some(counts)
        },
    )
    .await;
    assert_eq!(visible.dead, 0);

    let posts = fake.state.posts("chat.postMessage");
    let digests: Vec<_> = posts
        .iter()
        .filter(|p| {
            p.body["text"]
                .as_str()
                .is_some_and(|t| t.contains("Digest"))
        })
        .collect();
    assert!(!digests.is_empty());
    for digest in &digests {
        let text = digest.body.to_string();
        assert!(text.contains("Total"), "totals per currency");
        for pii in [
            "jenny.rosen@example.com",
            "Jenny Rosen",
            "+15555550100",
            "510 Townsend",
        ] {
            assert!(
                !text.contains(pii),
                "the digest is redacted like the cards: {pii}"
            );
        }
    }
    let top_level = posts
        .iter()
        .filter(|p| p.body["thread_ts"].is_null())
        .count();
    assert!(
        top_level <= 15,
        "the channel gets a few cards and digests, not 2000: {top_level}"
    );
    let folded_in_digests: u64 = digests
        .iter()
        .map(|d| {
            let text = d.body["text"].as_str().unwrap();
            let number: String = text
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(|c| c.is_ascii_digit() || *c == ',')
                .filter(|c| *c != ',')
                .collect();
            number.parse::<u64>().unwrap()
        })
        .sum();
    let cards = top_level as u64 - digests.len() as u64;
    assert_eq!(
        cards + folded_in_digests,
        total,
        "nothing dropped: cards plus digest counts"
    );
    assert_eq!(fake.state.throttled.load(Ordering::Relaxed), 0, "no 429");

    // Folded cards follow in the digest's thread, at the channel's pace.
    let replies = eventually(20, "a reply in a digest's thread", || async {
        let replies: Vec<_> = fake
            .state
            .posts("chat.postMessage")
            .into_iter()
            .filter(|p| p.body["thread_ts"].is_string())
            .collect();
        (!replies.is_empty()).then_some(replies)
    })
    .await;
    assert!(
        replies[0].body["thread_ts"]
            .as_str()
            .unwrap()
            .starts_with("1700000000.")
    );
    let folded_rows = app.state.store.outbox_counts().await.unwrap();
    assert_eq!(
        folded_rows.sent + folded_rows.folded + folded_rows.pending,
        total
    );
    let key = app.state.store.dead_letters(1).await.unwrap();
    assert!(key.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn two_replicas_on_postgres_send_each_message_exactly_once() {
    if postgres_url().is_none() {
        return;
    }
    let console = r#"
[delivery]
lease = "2s"
[[receivers]]
name = "ops"
console = {}
[[receivers]]
name = "audit"
console = {}
[route]
receiver = "ops"
[[route.routes]]
event_types = ["*"]
receiver = "audit"
continue = true
[[route.routes]]
event_types = ["*"]
receiver = "ops"
"#;
    let database = TestDatabase::create(Backend::Postgres).await;
    let first = start_app(database, console).await;
    let second = start_app(TestDatabase::shared(&first.database.url), console).await;
    let mut ids = Vec::new();
    for i in 0..60 {
        let app = if i % 2 == 0 { &first } else { &second };
        ids.extend(post_events(app, "charge.succeeded", 1).await);
    }
    until_sent(&first, 120, 60).await;
    let printed = format!("{}{}", first.console_text(), second.console_text());
    for id in &ids {
        assert_eq!(
            printed.matches(id.as_str()).count(),
            2,
            "{id}: once per receiver, across both replicas"
        );
    }
    second.halt().await;
    first.stop().await;
}
