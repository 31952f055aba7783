//! Payment request benchmark, through the real release binary against the
//! fake Slack and fake Stripe of the tests (on 127.0.0.1, Slack's pace not
//! enforced).
//!
//! ```text
//! cargo build --release --bin stripe-chatops --example payments
//! target/release/examples/payments --requests 200 --concurrency 8
//! ```
//!
//! `--requests` signed `/stripe pay` slash commands (the question turned
//! off, so each makes its link at once) are sent `--concurrency` at a time.
//! Reported, per request: from the command to its private answer (the
//! Checkout Session made) and to its "Payment requested" card in the
//! channel; then `checkout.session.completed` for every session, and the
//! time until every card reads "Paid".

mod common;
#[path = "../tests/support/fakes.rs"]
mod fakes;

use common::{free_port, rss_kib, start_service};

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;
use stripe_chatops::config::Secret;
use stripe_chatops::stripe::signature;

const SECRET: &str = "whsec_payments_secret_0123456789";
const SIGNING_SECRET: &str = "slack-signing-secret-bench";

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let requests = arg(&args, "--requests", 200);
    let concurrency = arg(&args, "--concurrency", 8).max(1);
    let slack = fakes::slack().await;
    slack.state.unlimited.store(true, Ordering::Relaxed);
    let stripe = fakes::stripe().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("bot.toml");
    std::fs::write(
        &config,
        format!(
            r#"[server]
listen = "127.0.0.1:{port}"
[storage]
url = "sqlite://{db}"
[stripe]
webhook_secrets = ["{SECRET}"]
api_key = "{key}"
api_base_url = "{stripe}"
catch_up_every = "0s"
[slack]
bot_token = "{token}"
api_base_url = "{slack}/api"
signing_secret = "{SIGNING_SECRET}"
[roles.finance]
slack_users = ["U_ALICE"]
[actions.request_payment]
confirm = false
[delivery.slack]
per_destination = "1000/s"
burst = 1000
[delivery]
fold_after = "1h"
[[receivers]]
name = "support"
slack = {{ channel = "C0PAY" }}
[route]
receiver = "support"
"#,
            db = dir.path().join("events.db").display(),
            key = fakes::STRIPE_KEY,
            stripe = stripe.base_url(),
            token = fakes::SLACK_TOKEN,
            slack = slack.base_url(),
        ),
    )
    .unwrap();
    let mut server = start_service("payments", &config, port).await;
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");

    // The commands, `concurrency` at a time; each one's send time by its amount.
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let started = Instant::now();
    for chunk in (0..requests).collect::<Vec<_>>().chunks(concurrency) {
        let mut posts = tokio::task::JoinSet::new();
        for &n in chunk {
            // Each request its own amount, so that its answer and card are found by it.
            let amount = format!("{}.{:02}", 10 + n / 100, n % 100);
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("command", "/stripe")
                .append_pair(
                    "text",
                    &format!("pay {amount} EUR \"Bench {n}\" bench{n}@example.com"),
                )
                .append_pair("user_id", "U_ALICE")
                .append_pair("user_name", "alice")
                .append_pair("channel_id", "C0PAY")
                .append_pair("trigger_id", &format!("T{n}"))
                .append_pair(
                    "response_url",
                    &format!("{}/response/U_ALICE", slack.base_url()),
                )
                .finish();
            let at = chrono::Utc::now().timestamp();
            let signature = stripe_chatops::chat::slack::sign(SIGNING_SECRET, at, body.as_bytes());
            let request = client
                .post(format!("{base}/commands/slack"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-slack-request-timestamp", at.to_string())
                .header("x-slack-signature", signature)
                .body(body);
            sent.insert(format!("€{amount} EUR"), Instant::now());
            posts.spawn(async move { request.send().await.map(|r| r.status()) });
        }
        while let Some(answer) = posts.join_next().await {
            assert!(answer.unwrap().unwrap().is_success());
        }
        // Wait for this chunk's answers before the next: `concurrency` in flight.
        let target = sent.len();
        while slack.state.posts("response").len() < target {
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "answers not within 10 min"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    while slack.state.posts("chat.postMessage").len() < requests {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "cards not within 10 min"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all_out = started.elapsed();
    let found = |posts: Vec<fakes::Received>| -> Vec<Duration> {
        let mut latencies: Vec<Duration> = posts
            .iter()
            .filter_map(|post| {
                let text = post.body.to_string();
                let key = sent.keys().find(|k| text.contains(k.as_str()))?;
                Some(post.at.duration_since(sent[key]))
            })
            .collect();
        latencies.sort();
        latencies
    };
    let answers = found(slack.state.posts("response"));
    let cards = found(slack.state.posts("chat.postMessage"));
    let sessions = stripe
        .state
        .received()
        .iter()
        .filter(|r| r.method == "checkout.sessions.create")
        .count();
    assert_eq!(sessions, requests, "one session per request");
    println!(
        "payment requests: {requests}, {concurrency} at a time, one Checkout Session each ({sessions} made)"
    );
    println!(
        "command → private answer (session made): p50 {} · p99 {} · max {}",
        ms(percentile(&answers, 0.5)),
        ms(percentile(&answers, 0.99)),
        ms(*answers.last().unwrap())
    );
    println!(
        "command → card in the channel:          p50 {} · p99 {} · max {}",
        ms(percentile(&cards, 0.5)),
        ms(percentile(&cards, 0.99)),
        ms(*cards.last().unwrap())
    );
    println!(
        "all {requests} cards out after {:.2} s ({:.0} requests/s)",
        all_out.as_secs_f64(),
        requests as f64 / all_out.as_secs_f64()
    );

    // Every session paid: each card edited to "Paid".
    let paid_from = Instant::now();
    let ids: Vec<String> = stripe
        .state
        .objects
        .lock()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for chunk in ids.chunks(32) {
        let mut posts = tokio::task::JoinSet::new();
        for id in chunk {
            let mut session = stripe.state.objects.lock().unwrap()[id].clone();
            session["status"] = json!("complete");
            session["payment_status"] = json!("paid");
            let body = json!({
                "id": format!("evt_{id}_paid"), "object": "event", "type": "checkout.session.completed",
                "api_version": "2025-03-31.basil", "created": chrono::Utc::now().timestamp(),
                "livemode": false, "data": { "object": session },
            })
            .to_string();
            let header = signature::sign(
                body.as_bytes(),
                &[&Secret::new(SECRET)],
                chrono::Utc::now().timestamp(),
            );
            let request = client
                .post(format!("{base}/webhooks/stripe"))
                .header("Stripe-Signature", header)
                .body(body);
            posts.spawn(async move { request.send().await.map(|r| r.status()) });
        }
        while let Some(answer) = posts.join_next().await {
            assert!(answer.unwrap().unwrap().is_success());
        }
    }
    let paid = |slack: &fakes::Fake| {
        slack
            .state
            .posts("chat.update")
            .iter()
            .filter(|u| u.body.to_string().contains("Paid ✅"))
            .count()
    };
    while paid(&slack) < requests {
        assert!(
            paid_from.elapsed() < Duration::from_secs(600),
            "paid edits not within 10 min"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "{requests} checkout.session.completed → every card reads Paid after {:.2} s",
        paid_from.elapsed().as_secs_f64()
    );
    println!(
        "peak RSS {:.1} MiB",
        rss_kib(server.id(), "VmHWM") as f64 / 1024.0
    );
    server.kill().ok();
    server.wait().ok();
}
