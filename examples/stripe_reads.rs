//! Stripe reads benchmark, through the real release binary against the
//! fake Stripe and Slack of the tests (on 127.0.0.1, no limits enforced).
//!
//! ```text
//! cargo build --release --bin stripe-chatops --example stripe_reads
//! target/release/examples/stripe_reads --events 1000 --customers 50 --catch-up 10000
//! ```
//!
//! 1. Enrichment: `--events` failed renewals of `--customers` customers
//!    (each invoice with its own payment intent and charge, each customer
//!    with one subscription). A cold cache reads each payment intent and
//!    charge once, each customer and subscription once; then a second
//!    failure of every invoice (a warm cache). Reported: Stripe requests
//!    per event, and the time until every card is out (or edited).
//! 2. Catch-up: `--catch-up` events listed by the fake Stripe, fetched and
//!    stored by `stripe-chatops catch-up --since 1h` on an empty store.
//!    Reported: pages, events per second (process start included).

mod common;
#[path = "../tests/support/fakes.rs"]
mod fakes;

use common::{free_port, rss_kib, service_binary, start_service};

use std::process::{Child, Command};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stripe_chatops::config::Secret;
use stripe_chatops::stripe::signature;

const SECRET: &str = "whsec_reads_secret_0123456789";

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(dir: &std::path::Path, port: u16, stripe: &str, slack: &str) -> std::path::PathBuf {
    let path = dir.join("bot.toml");
    std::fs::write(
        &path,
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
requests_per_second = 100
[slack]
bot_token = "{token}"
api_base_url = "{slack}/api"
[delivery.slack]
per_destination = "1000/s"
burst = 1000
[[receivers]]
name = "finance"
slack = {{ channel = "C0READS" }}
[route]
receiver = "finance"
"#,
            db = dir.join("events.db").display(),
            key = fakes::STRIPE_KEY,
            token = fakes::SLACK_TOKEN,
        ),
    )
    .unwrap();
    path
}

async fn start(config: &std::path::Path, port: u16) -> Server {
    Server {
        child: start_service("stripe_reads", config, port).await,
        url: format!("http://127.0.0.1:{port}/webhooks/stripe"),
    }
}

fn invoice(n: usize, customers: usize, attempt: i64) -> Value {
    let c = n % customers;
    json!({
        "id": format!("in_{n}Bench"), "object": "invoice", "status": "open", "livemode": false,
        "customer": format!("cus_{c}Bench"), "subscription": format!("sub_{c}Bench"),
        "payment_intent": format!("pi_{n}Bench"), "amount_due": 4900, "amount_paid": 0,
        "currency": "usd", "attempt_count": attempt, "next_payment_attempt": null
    })
}

fn put_objects(stripe: &fakes::Fake, events: usize, customers: usize) {
    for n in 0..events {
        stripe.state.put_object(invoice(n, customers, 1));
        stripe.state.put_object(json!({
            "id": format!("pi_{n}Bench"), "object": "payment_intent", "status": "requires_payment_method",
            "latest_charge": format!("ch_{n}Bench"),
            "last_payment_error": { "code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds." }
        }));
        stripe.state.put_object(json!({
            "id": format!("ch_{n}Bench"), "object": "charge", "status": "failed",
            "failure_code": "card_declined", "failure_message": "Your card has insufficient funds.",
            "outcome": { "reason": "insufficient_funds", "advice_code": "try_again_later" },
            "payment_method_details": { "card": { "brand": "visa", "last4": "4242" } }
        }));
    }
    for c in 0..customers {
        stripe.state.put_object(json!({ "id": format!("sub_{c}Bench"), "object": "subscription", "status": "past_due" }));
        stripe.state.put_object(json!({ "id": format!("cus_{c}Bench"), "object": "customer", "name": "Jenny Rosen", "email": format!("c{c}@example.com") }));
    }
}

fn failed(n: usize, customers: usize, attempt: i64) -> Value {
    json!({
        "id": format!("evt_{n}Bench{attempt}"), "object": "event", "type": "invoice.payment_failed",
        "api_version": "2025-03-31.basil", "created": chrono::Utc::now().timestamp() + attempt,
        "livemode": false, "pending_webhooks": 1, "request": { "id": null, "idempotency_key": null },
        "data": { "object": invoice(n, customers, attempt) }
    })
}

async fn post_all(url: &str, events: Vec<Value>) {
    let client = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in events.chunks(events.len().div_ceil(16).max(1)) {
        let (client, url, chunk) = (client.clone(), url.to_owned(), chunk.to_vec());
        tasks.spawn(async move {
            for event in chunk {
                let body = serde_json::to_vec(&event).unwrap();
                let now = chrono::Utc::now().timestamp();
                let header = signature::sign(&body, &[&Secret::new(SECRET)], now);
                let response = client
                    .post(&url)
                    .header("stripe-signature", header)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
            }
        });
    }
    while tasks.join_next().await.is_some() {}
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
    let (mut events, mut customers, mut listed) = (1000usize, 50usize, 10_000usize);
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        match pair {
            [flag, value] if flag == "--events" => events = value.parse().unwrap(),
            [flag, value] if flag == "--customers" => customers = value.parse().unwrap(),
            [flag, value] if flag == "--catch-up" => listed = value.parse().unwrap(),
            _ => panic!("usage: stripe_reads [--events N] [--customers K] [--catch-up M]"),
        }
    }
    let stripe = fakes::stripe().await;
    let slack = fakes::slack().await;
    slack.state.unlimited.store(true, Ordering::Relaxed);
    put_objects(&stripe, events, customers);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = config(dir.path(), port, &stripe.base_url(), &slack.base_url());
    let server = start(&config, port).await;

    println!("| cache | events | Stripe requests | requests per event | until every card is out |");
    println!("|---|---:|---:|---:|---:|");
    let started = Instant::now();
    post_all(
        &server.url,
        (0..events).map(|n| failed(n, customers, 1)).collect(),
    )
    .await;
    until("the cold cards", || {
        slack.state.posts("chat.postMessage").len() >= events
    })
    .await;
    let cold_time = started.elapsed();
    let cold = stripe.state.reads().len();
    println!(
        "| cold | {events} | {cold} | {:.2} | {:.2} s |",
        cold as f64 / events as f64,
        cold_time.as_secs_f64()
    );
    let started = Instant::now();
    post_all(
        &server.url,
        (0..events).map(|n| failed(n, customers, 2)).collect(),
    )
    .await;
    until("the warm edits", || {
        slack.state.posts("chat.update").len() >= events
    })
    .await;
    let warm_time = started.elapsed();
    let warm = stripe.state.reads().len() - cold;
    println!(
        "| warm | {events} | {warm} | {:.2} | {:.2} s |",
        warm as f64 / events as f64,
        warm_time.as_secs_f64()
    );
    println!(
        "\nserver peak RSS: {:.1} MiB",
        rss_kib(server.child.id(), "VmHWM") as f64 / 1024.0
    );
    drop(server);

    // Catch-up: an empty store, `listed` events in Stripe.
    let now = chrono::Utc::now().timestamp();
    {
        let mut list = stripe.state.events.lock().unwrap();
        for n in 0..listed {
            let mut event = failed(n % events.max(1), customers, 3);
            event["id"] = format!("evt_{n}Listed").into();
            event["type"] = "customer.updated".into();
            event["created"] = (now - 60 + (n % 60) as i64).into();
            list.push(event);
        }
    }
    let catch_dir = tempfile::tempdir().unwrap();
    let catch_config = self::config(
        catch_dir.path(),
        free_port(),
        &stripe.base_url(),
        &slack.base_url(),
    );
    let started = Instant::now();
    let output = Command::new(service_binary("stripe_reads"))
        .args(["catch-up", "--since", "1h", "--config"])
        .arg(&catch_config)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!("\ncatch-up: {}", printed.trim());
    println!(
        "catch-up rate: {listed} events in {:.2} s = {:.0} events/s (list, parse, store; process start included)",
        elapsed.as_secs_f64(),
        listed as f64 / elapsed.as_secs_f64()
    );
}
