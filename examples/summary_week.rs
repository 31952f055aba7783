//! A week of payments for the README's summary: the release binary
//! receives a week of signed events (payments, failures and their
//! recoveries, a refund, disputes), then its own `summary` command prints
//! the summary and writes the chart.
//!
//! ```text
//! cargo build --release --bin stripe-chatops --example summary_week
//! target/release/examples/summary_week --png docs/summary-chart.png
//! ```
//!
//! The amounts follow a fixed pseudo-random sequence, so two runs on the
//! same day draw the same chart. `--scale N` multiplies the payments (for
//! timing the summary over a bigger store); the time the command took is
//! printed.

mod common;

use common::{free_port, service_binary, start_service};

use std::time::Duration;

use serde_json::{Value, json};
use stripe_chatops::config::Secret;
use stripe_chatops::stripe::signature;

const SECRET: &str = "whsec_summary_week_0123456789";

/// A small linear congruential sequence: the same "random" week every run.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

fn event(id: usize, event_type: &str, created: i64, object: Value) -> Value {
    json!({
        "id": format!("evt_week{id:05}"), "object": "event", "type": event_type,
        "api_version": "2025-03-31.basil", "created": created, "livemode": true,
        "data": { "object": object },
    })
}

/// Two weeks: 26 to 60 payments a day, a few failures (most recovered the
/// next day), refunds, and disputes in the second week, in EUR.
fn week(end: i64, scale: usize) -> Vec<Value> {
    let mut rng = Sequence(2026);
    let mut events = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    // Two weeks: the summary compares the second with the first.
    for day in 0..14i64 {
        let base = end - (14 - day) * 86_400;
        let payments = (26 + rng.next(20) as usize + day as usize) * scale;
        for _ in 0..payments {
            let at = base + rng.next(86_400) as i64;
            let amount = 1_900 + rng.next(12_000) as i64;
            let id = next();
            events.push(event(
                id,
                "charge.succeeded",
                at,
                json!({
                    "id": format!("ch_week{id}"), "object": "charge", "amount": amount,
                    "currency": "eur", "status": "succeeded", "livemode": true,
                }),
            ));
        }
        for _ in 0..(2 + rng.next(5)) {
            let at = base + rng.next(80_000) as i64;
            let amount = 2_900 + rng.next(9_000) as i64;
            let id = next();
            let invoice = format!("in_week{id}");
            events.push(event(
                id,
                "invoice.payment_failed",
                at,
                json!({
                    "id": invoice, "object": "invoice", "amount_due": amount, "currency": "eur",
                    "status": "open", "attempt_count": 1, "livemode": true,
                }),
            ));
            // Two in three are paid on a later try, a day later.
            if rng.next(3) > 0 && day < 13 {
                let id = next();
                events.push(event(id, "invoice.paid", at + 86_400, json!({
                    "id": invoice, "object": "invoice", "amount_paid": amount, "amount_due": amount,
                    "currency": "eur", "status": "paid", "livemode": true,
                })));
            }
        }
        if rng.next(2) == 0 {
            let id = next();
            events.push(event(
                id,
                "charge.refunded",
                base + rng.next(86_400) as i64,
                json!({
                    "id": format!("ch_refund{id}"), "object": "charge", "amount": 4_900,
                    "amount_refunded": 4_900, "currency": "eur", "livemode": true,
                }),
            ));
        }
    }
    for (status, event_type) in [
        ("needs_response", "charge.dispute.created"),
        ("won", "charge.dispute.closed"),
    ] {
        let id = next();
        events.push(event(id, event_type, end - 2 * 86_400, json!({
            "id": format!("dp_week{id}"), "object": "dispute", "amount": 7_500, "currency": "eur",
            "status": status, "charge": format!("ch_disputed{id}"), "livemode": true,
            "evidence_details": { "due_by": end + 5 * 86_400 },
        })));
    }
    events
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let png = args
        .iter()
        .position(|a| a == "--png")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "summary-chart.png".to_owned());
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
[[receivers]]
name = "finance"
console = {{}}
[route]
receiver = "none"
[[summaries]]
receiver = "finance"
every = "weekly"
day = "monday"
at = "09:00"
timezone = "Europe/Paris"
"#,
            db = dir.path().join("events.db").display(),
        ),
    )
    .unwrap();
    let mut server = start_service("summary_week", &config, port).await;
    // The seven whole days before today in Paris, as the command reads them.
    let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
    let (_, end) = stripe_chatops::delivery::summary::period_bounds(
        paris,
        chrono::Utc::now().timestamp_millis(),
        7,
    );
    let scale = args
        .iter()
        .position(|a| a == "--scale")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let events = week(end, scale);
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/webhooks/stripe");
    // 32 at a time: a busy hour, not one request after another.
    for chunk in events.chunks(32) {
        let mut posts = tokio::task::JoinSet::new();
        for event in chunk {
            let body = event.to_string();
            let header = signature::sign(
                body.as_bytes(),
                &[&Secret::new(SECRET)],
                chrono::Utc::now().timestamp(),
            );
            let request = client
                .post(&url)
                .header("Stripe-Signature", header)
                .header("Content-Type", "application/json")
                .body(body);
            posts.spawn(async move { request.send().await.map(|r| r.status()) });
        }
        while let Some(answer) = posts.join_next().await {
            let status = answer.unwrap().unwrap();
            assert!(status.is_success(), "{status}");
        }
    }
    // Routed (each event's case recorded) before the summary reads them.
    let store = stripe_chatops::store::open(
        &format!("sqlite://{}", dir.path().join("events.db").display()),
        1,
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    while !store.unrouted_events(1).await.unwrap().is_empty()
        && started.elapsed() < Duration::from_secs(300)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    eprintln!("{} events posted; the summary:", events.len());
    let started = std::time::Instant::now();
    let status = std::process::Command::new(service_binary("summary_week"))
        .args(["summary", "--config"])
        .arg(&config)
        .args(["--receiver", "finance", "--period", "7d", "--png", &png])
        .status()
        .unwrap();
    assert!(status.success());
    eprintln!(
        "summary of {} events: {:.0} ms (process start, SQL, chart and PNG included)",
        events.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
}
