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
//! same day draw the same chart.

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

/// The week: about 40 payments a day, a few failures (most recovered the
/// next day), refunds and disputes, in EUR.
fn week(end: i64) -> Vec<Value> {
    let mut rng = Sequence(2026);
    let mut events = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    for day in 0..7i64 {
        let base = end - (7 - day) * 86_400;
        let payments = 30 + rng.next(20) as usize + day as usize * 2;
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
            if rng.next(3) > 0 && day < 6 {
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
    let events = week(end);
    let client = reqwest::Client::new();
    let secret = Secret::new(SECRET);
    for event in &events {
        let body = event.to_string();
        let header = signature::sign(body.as_bytes(), &[&secret], chrono::Utc::now().timestamp());
        let status = client
            .post(format!("http://127.0.0.1:{port}/webhooks/stripe"))
            .header("Stripe-Signature", header)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "{status}");
    }
    // Routed (each event's case recorded) before the summary reads them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = server.kill();
    let _ = server.wait();
    eprintln!("{} events posted; the summary:", events.len());
    let status = std::process::Command::new(service_binary("summary_week"))
        .args(["summary", "--config"])
        .arg(&config)
        .args(["--receiver", "finance", "--period", "7d", "--png", &png])
        .status()
        .unwrap();
    assert!(status.success());
}
