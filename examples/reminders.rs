//! Scheduled jobs benchmark, through the real release binary against the
//! fake Slack of the tests (on 127.0.0.1, no limits enforced).
//!
//! ```text
//! cargo build --release --bin stripe-chatops --example reminders
//! target/release/examples/reminders --disputes 1000
//! ```
//!
//! `--disputes` disputes are posted, each due 72 hours and a few seconds
//! from now, so that every first reminder falls due in the same second
//! (`[reminders.dispute] before = ["72h"]`). Reported: how long scheduling
//! took (every card out and its jobs stored), and from the moment the
//! reminders fell due until every one is in its card's thread (each is a
//! card edit and a thread post: two Slack calls).

mod common;
#[path = "../tests/support/fakes.rs"]
mod fakes;

use common::{free_port, rss_kib, start_service};

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stripe_chatops::config::Secret;
use stripe_chatops::stripe::signature;

const SECRET: &str = "whsec_reminders_secret_0123456789";

fn dispute(n: usize, due_by: i64) -> Value {
    json!({
        "id": format!("evt_{n}Remind"), "object": "event", "type": "charge.dispute.created",
        "api_version": "2025-03-31.basil", "created": chrono::Utc::now().timestamp(),
        "livemode": false, "data": { "object": {
            "id": format!("dp_{n}Remind"), "object": "dispute", "amount": 5000, "currency": "usd",
            "status": "needs_response", "reason": "fraudulent", "charge": format!("ch_{n}Remind"),
            "evidence_details": { "due_by": due_by },
        } }
    })
}

async fn until(what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{what} not within 10 min"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let disputes: usize = args
        .iter()
        .position(|a| a == "--disputes")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let slack = fakes::slack().await;
    slack.state.unlimited.store(true, Ordering::Relaxed);
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
[slack]
bot_token = "{token}"
api_base_url = "{slack}/api"
[delivery.slack]
per_destination = "1000/s"
burst = 1000
[delivery]
fold_after = "1h"
[reminders.dispute]
before = ["72h"]
countdown_every = "24h"
[[receivers]]
name = "disputes"
slack = {{ channel = "C0REMIND" }}
[route]
receiver = "disputes"
"#,
            db = dir.path().join("events.db").display(),
            token = fakes::SLACK_TOKEN,
            slack = slack.base_url(),
        ),
    )
    .unwrap();
    let mut server = start_service("reminders", &config, port).await;
    // Due when every card is surely out: a minute from now, 72 h before the deadline.
    let due_in = 60;
    let due_by = chrono::Utc::now().timestamp() + 72 * 3600 + due_in;
    let reminders_due = Instant::now() + Duration::from_secs(due_in as u64);
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/webhooks/stripe");
    let started = Instant::now();
    for chunk in (0..disputes).collect::<Vec<_>>().chunks(32) {
        let mut posts = tokio::task::JoinSet::new();
        for &n in chunk {
            let body = dispute(n, due_by).to_string();
            let header = signature::sign(
                body.as_bytes(),
                &[&Secret::new(SECRET)],
                chrono::Utc::now().timestamp(),
            );
            let request = client
                .post(&url)
                .header("Stripe-Signature", header)
                .body(body);
            posts.spawn(async move { request.send().await.map(|r| r.status()) });
        }
        while let Some(answer) = posts.join_next().await {
            assert!(answer.unwrap().unwrap().is_success());
        }
    }
    until("every card", || {
        slack.state.posts("chat.postMessage").len() >= disputes
    })
    .await;
    let cards = started.elapsed();
    let store = stripe_chatops::store::open(
        &format!("sqlite://{}", dir.path().join("events.db").display()),
        1,
    )
    .await
    .unwrap();
    // Each card schedules its reminder right after it is saved.
    loop {
        let jobs = store.jobs(false, 100_000).await.unwrap();
        if jobs
            .iter()
            .filter(|j| j.job.kind.name() == "dispute_reminder")
            .count()
            >= disputes
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let scheduled = started.elapsed();
    assert!(
        Instant::now() < reminders_due,
        "scheduling took longer than {due_in} s: raise due_in"
    );
    tokio::time::sleep_until(reminders_due.into()).await;
    let is_reminder = |p: &fakes::Received| {
        !p.body["thread_ts"].is_null() && p.body.to_string().contains("reminder 1 of 1")
    };
    let posted = until("every reminder", || {
        slack
            .state
            .posts("chat.postMessage")
            .iter()
            .filter(|p| is_reminder(p))
            .count()
            >= disputes
    })
    .await;
    let rss = rss_kib(server.id(), "VmHWM:");
    let _ = server.kill();
    let _ = server.wait();
    let reminders = slack
        .state
        .posts("chat.postMessage")
        .iter()
        .filter(|p| is_reminder(p))
        .count();
    let edits = slack.state.posts("chat.update").len();
    println!(
        "| disputes | cards out | scheduled (cards + jobs) | reminders posted after due | reminders/s | reminders | card edits | peak RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {disputes} | {:.2} s | {:.2} s | {:.2} s | {:.0} | {reminders} | {edits} | {:.1} MiB |",
        cards.as_secs_f64(),
        scheduled.as_secs_f64(),
        posted.as_secs_f64(),
        disputes as f64 / posted.as_secs_f64(),
        rss as f64 / 1024.0,
    );
}
