//! Noise control: silences (CLI and "Mute similar" from chat), routes to
//! `none`, `group_by`, and digests listed in full where a chat has no
//! threads. Nothing silenced or folded is lost: it is stored and listed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use crate::support::fakes::{self, Fake, SLACK_TOKEN};
use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_stripe-chatops");
const SIGNING_SECRET: &str = "slack-signing-secret-0123";

const FAST: &str = r#"
[delivery]
retry_schedule = ["100ms", "300ms"]
give_up_after = "2m"
lease = "3s"
[delivery.slack]
per_destination = "50/s"
burst = 50
"#;

fn slack_routes(slack: &Fake, routes: &str) -> String {
    format!(
        r#"
[slack]
bot_token = "{SLACK_TOKEN}"
api_base_url = "{}/api"
signing_secret = "{SIGNING_SECRET}"
[roles.finance]
slack_users = ["U_ALICE"]
[roles.admin]
slack_users = ["U_ADMIN"]
{FAST}
[[receivers]]
name = "finance"
slack = {{ channel = "C0NOISE" }}
[route]
receiver = "finance"
{routes}
"#,
        slack.base_url()
    )
}

async fn slack_app(routes: &str) -> (TestApp, Fake) {
    let slack = fakes::slack().await;
    slack.state.unlimited.store(true, Ordering::Relaxed);
    let app = start_app(
        TestDatabase::create(Backend::Sqlite).await,
        &slack_routes(&slack, routes),
    )
    .await;
    (app, slack)
}

/// A config file for the CLI on the app's own store.
fn cli_config(dir: &Path, app: &TestApp) -> PathBuf {
    let path = dir.join("bot.toml");
    std::fs::write(&path, config_text(&app.database.url, "")).unwrap();
    path
}

fn run(args: &[&str], config: &Path) -> (i32, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run stripe-chatops");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn customer_updated(customer: &str) -> Value {
    let mut event = event("customer.updated");
    event["data"]["object"]["id"] = customer.into();
    event
}

async fn routed(app: &TestApp, id: &str) -> Vec<stripe_chatops::store::Delivery> {
    eventually(20, "the event routed", || async {
        let stored = app.state.store.event("default", id).await.unwrap()?;
        stored.routed_at_ms?;
        Some(app.state.store.deliveries_of(stored.seq).await.unwrap())
    })
    .await
}

fn posts(slack: &Fake) -> Vec<Value> {
    slack
        .state
        .posts("chat.postMessage")
        .into_iter()
        .map(|p| p.body)
        .collect()
}

#[tokio::test]
async fn silences_hold_events_back_are_listed_and_expire() {
    let (app, slack) = slack_app("").await;
    let dir = tempfile::tempdir().unwrap();
    let config = cli_config(dir.path(), &app);
    let (code, _, stderr) = run(
        &["silences", "add", "--matcher", "colour=red", "--for", "2h"],
        &config,
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("unknown label \"colour\""), "{stderr}");
    let (code, stdout, stderr) = run(
        &[
            "silences",
            "add",
            "--matcher",
            "type=customer.updated",
            "--matcher",
            "account=default",
            "--for",
            "2h",
            "--comment",
            "CRM sync runs tonight",
        ],
        &config,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("silence 1: type=customer.updated, account=default until "),
        "{stdout}"
    );

    let quiet = customer_updated("cus_quiet");
    assert_eq!(
        app.post_event("/webhooks/stripe", &quiet, SECRET).await.0,
        200
    );
    let loud = event("invoice.paid");
    assert_eq!(
        app.post_event("/webhooks/stripe", &loud, SECRET).await.0,
        200
    );
    let deliveries = routed(&app, quiet["id"].as_str().unwrap()).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, "silenced", "stored, not posted");
    eventually(20, "the unsilenced card", || async {
        posts(&slack)
            .iter()
            .any(|p| p.to_string().contains(loud["id"].as_str().unwrap()))
            .then_some(())
    })
    .await;
    assert!(
        !posts(&slack)
            .iter()
            .any(|p| p.to_string().contains(quiet["id"].as_str().unwrap())),
        "the silenced event is not posted"
    );

    let (_, listed, _) = run(&["events", "list", "--json"], &config);
    let line: Value = listed
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["id"] == quiet["id"])
        .expect("the silenced event is listed");
    assert_eq!(line["silenced"], json!(true));
    let (_, text, _) = run(&["events", "list"], &config);
    assert!(
        text.lines()
            .any(|l| l.contains(quiet["id"].as_str().unwrap()) && l.ends_with("silenced")),
        "{text}"
    );

    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "stripe_chatops_silence_active{id=\"1\",matchers=\"type=customer.updated,account=default\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("stripe_chatops_silenced_stored{receiver=\"finance\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("stripe_chatops_silenced_deliveries_total 1"),
        "{metrics}"
    );

    let (_, listed, _) = run(&["silences", "list", "--json"], &config);
    let silence: Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    assert_eq!(silence["state"], json!("active"));
    assert_eq!(silence["comment"], json!("CRM sync runs tonight"));
    let (code, _, stderr) = run(&["silences", "expire", "1"], &config);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(&["silences", "expire", "1"], &config);
    assert_eq!(code, 1);
    assert!(stderr.contains("no silence 1 in force"), "{stderr}");
    let (_, listed, _) = run(&["silences", "list"], &config);
    assert!(listed.contains("no silences in force"), "{listed}");

    // Expired: the next one is posted.
    let after = customer_updated("cus_quiet2");
    assert_eq!(
        app.post_event("/webhooks/stripe", &after, SECRET).await.0,
        200
    );
    eventually(20, "posted after the silence expired", || async {
        posts(&slack)
            .iter()
            .any(|p| p.to_string().contains(after["id"].as_str().unwrap()))
            .then_some(())
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_route_to_none_drops_what_it_matches() {
    let routes = "[[route.routes]]\nevent_types = [\"customer.*\"]\nreceiver = \"none\"\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot.toml");
    let slack = fakes::slack().await;
    std::fs::write(
        &path,
        config_text("sqlite://./x.db", &slack_routes(&slack, routes)),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["check-config"], &path);
    assert_eq!(code, 0, "{stdout}{stderr}");

    let (app, slack) = slack_app(routes).await;
    let dropped = customer_updated("cus_dropped");
    assert_eq!(
        app.post_event("/webhooks/stripe", &dropped, SECRET).await.0,
        200
    );
    assert!(
        routed(&app, dropped["id"].as_str().unwrap())
            .await
            .is_empty()
    );
    let kept = event("invoice.paid");
    assert_eq!(
        app.post_event("/webhooks/stripe", &kept, SECRET).await.0,
        200
    );
    assert_eq!(routed(&app, kept["id"].as_str().unwrap()).await.len(), 1);
    eventually(20, "the kept card", || async {
        (!posts(&slack).is_empty()).then_some(())
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn group_by_turns_a_burst_of_one_customer_into_one_card() {
    let routes = r#"
[[route.routes]]
event_types = ["customer.updated"]
group_by = ["type", "customer"]
group_wait = "1s"
group_interval = "1h"
"#;
    let (app, slack) = slack_app(routes).await;
    for _ in 0..5 {
        let event = customer_updated("cus_burst");
        assert_eq!(
            app.post_event("/webhooks/stripe", &event, SECRET).await.0,
            200
        );
    }
    let card = eventually(20, "one grouped card", || async {
        posts(&slack).into_iter().find(|p| p["thread_ts"].is_null())
    })
    .await;
    assert!(card.to_string().contains("5 in this group"), "{card}");
    let history = eventually(20, "the others as history", || async {
        posts(&slack)
            .into_iter()
            .find(|p| !p["thread_ts"].is_null())
    })
    .await;
    // The four others, one history line each, in the card's thread.
    assert_eq!(
        history["blocks"]
            .to_string()
            .matches("`customer.updated`")
            .count(),
        4,
        "{history}"
    );
    eventually(20, "all five marked sent", || async {
        let counts = app.state.store.outbox_counts().await.unwrap();
        (counts.sent == 5).then_some(())
    })
    .await;
    // Within the group's interval, the next one waits instead of editing the card.
    let sixth = customer_updated("cus_burst");
    assert_eq!(
        app.post_event("/webhooks/stripe", &sixth, SECRET).await.0,
        200
    );
    let deliveries = routed(&app, sixth["id"].as_str().unwrap()).await;
    let case_key = "group:route.routes[0]:customer.updated:cus_burst";
    let case = eventually(20, "the sixth held back", || async {
        let case = app.state.store.case("finance", case_key).await.unwrap()?;
        let head = app
            .state
            .store
            .next_in_queue("finance", i64::MAX)
            .await
            .unwrap()?;
        (head.key.id() == deliveries[0].id
            && head.next_attempt_at_ms >= case.updated_at_ms + 3_500_000)
            .then_some(case)
    })
    .await;
    assert_eq!(case.events, 5);
    assert_eq!(
        posts(&slack)
            .iter()
            .filter(|p| p["thread_ts"].is_null())
            .count(),
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn an_admin_mutes_similar_events_from_a_card() {
    let (app, slack) = slack_app("").await;
    let first = customer_updated("cus_mute");
    assert_eq!(
        app.post_event("/webhooks/stripe", &first, SECRET).await.0,
        200
    );
    let card = eventually(20, "the card", || async {
        posts(&slack).into_iter().next()
    })
    .await;
    let mute = card["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .find(|e| e["action_id"] == "mute")
        .and_then(|e| e["value"].as_str().map(str::to_owned))
        .expect("a Mute similar button");
    let slack_url = slack.base_url();
    let click = |user: &'static str| app.slack_click(&slack_url, SIGNING_SECRET, user, &mute);
    // Finance may not silence; an admin may.
    assert_eq!(click("U_ALICE").await, 200);
    let refused = eventually(20, "a refusal", || async {
        slack.state.posts("response").into_iter().next()
    })
    .await;
    assert!(
        refused.body["text"].as_str().unwrap().contains("admin"),
        "{}",
        refused.body
    );
    assert!(
        app.state
            .store
            .silences(false, now() * 1000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(click("U_ADMIN").await, 200);
    let silence = eventually(20, "the silence", || async {
        app.state
            .store
            .silences(false, now() * 1000)
            .await
            .unwrap()
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(
        silence.silence.matchers,
        [
            "type=customer.updated",
            "account=default",
            "customer=cus_mute"
        ]
    );
    assert_eq!(silence.silence.created_by, "slack:U_ADMIN");
    let hour = silence.silence.ends_at_ms - silence.silence.starts_at_ms;
    assert_eq!(hour, 3_600_000);
    let next = customer_updated("cus_mute");
    assert_eq!(
        app.post_event("/webhooks/stripe", &next, SECRET).await.0,
        200
    );
    assert_eq!(
        routed(&app, next["id"].as_str().unwrap()).await[0].status,
        "silenced"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_digest_on_an_incoming_webhook_lists_every_event_in_pages() {
    let slack = fakes::slack().await;
    slack.state.unlimited.store(true, Ordering::Relaxed);
    let config = format!(
        r#"
[slack]
incoming_webhook_url = "{}/hooks/T0/B0/secret"
[delivery]
fold_after = "1s"
[delivery.slack]
per_destination = "5/s"
burst = 1
[[receivers]]
name = "finance"
slack = {{ channel = "C0HOOK" }}
[route]
receiver = "finance"
"#,
        slack.base_url()
    );
    let app = start_app(TestDatabase::create(Backend::Sqlite).await, &config).await;
    let ids = app
        .post_all((0..60).map(|_| event("charge.succeeded")).collect())
        .await;
    let hooks = eventually(60, "every event listed", || async {
        let hooks: Vec<String> = slack
            .state
            .posts("webhook")
            .into_iter()
            .map(|h| h.body.to_string())
            .collect();
        ids.iter()
            .all(|id| hooks.iter().any(|h| h.contains(id.as_str())))
            .then_some(hooks)
    })
    .await;
    assert!(
        hooks
            .iter()
            .any(|h| h.contains("Digest") && h.contains("Total paid"))
    );
    assert!(hooks.iter().any(|h| h.contains("page 1 of")), "paginated");
    for hook in &hooks {
        assert!(
            !hook.contains("jenny.rosen@example.com"),
            "redacted like the cards"
        );
    }
    app.stop().await;
}
