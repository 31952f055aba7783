//! Drain benchmark: a burst of signed events to one Slack channel and to one
//! Telegram group, against fakes that enforce the platforms' documented
//! limits, through the real release binary.
//!
//! ```text
//! cargo build --release --bin stripe-chatops --example drain
//! target/release/examples/drain --events 10000
//! ```
//!
//! For each platform it reports: events acknowledged, events lost (neither a
//! card nor counted in a digest), 429s the fake answered, the time from the
//! first webhook until every event is visible as a card or in a digest, and
//! the server's peak RSS. A third run measures the end-to-end latency from
//! webhook to fake post, p50 and p99, with budgets raised so that none is
//! the bottleneck.
//!
//! `--reachable N` measures instead how long until every one of a burst of
//! N events is reachable in chat with its buttons: as a card, or as a card
//! in its digest's thread (Slack) or among the replies to it (Telegram),
//! which fill at the platform's pace.

mod common;
#[path = "../tests/support/fakes.rs"]
mod fakes;

use common::{free_port, rss_kib, start_service};

use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fakes::Fake;
use stripe_chatops::config::Secret;
use stripe_chatops::stripe::{sample, signature};

const SECRET: &str = "whsec_drain_secret_0123456789";

struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_server(receiver: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("bot.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[storage]\nurl = \"sqlite://{}\"\n[stripe]\nwebhook_secrets = [\"{SECRET}\"]\n{receiver}",
            dir.path().join("events.db").display()
        ),
    )
    .unwrap();
    let child = start_service("drain", &config, port).await;
    Server {
        child,
        url: format!("http://127.0.0.1:{port}/webhooks/stripe"),
        _dir: dir,
    }
}

fn signed(event_type: &str) -> (String, Vec<u8>, String) {
    let now = chrono::Utc::now().timestamp();
    let event = sample::sample_event(event_type, now).unwrap();
    let id = event["id"].as_str().unwrap().to_owned();
    let body = serde_json::to_vec(&event).unwrap();
    let header = signature::sign(&body, &[&Secret::new(SECRET)], now);
    (id, body, header)
}

/// Posts `count` events with `concurrency` connections; returns how many were acknowledged.
async fn burst(url: &str, count: usize, concurrency: usize) -> u64 {
    burst_ids(url, count, concurrency).await.len() as u64
}

/// Posts `count` events with `concurrency` connections; returns the ids acknowledged.
async fn burst_ids(url: &str, count: usize, concurrency: usize) -> Vec<String> {
    let client = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, next) = (client.clone(), url.to_owned(), next.clone());
        tasks.spawn(async move {
            let mut acked = Vec::new();
            let types = [
                "invoice.payment_failed",
                "charge.failed",
                "charge.dispute.created",
            ];
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let (id, body, header) = signed(types[acked.len() % types.len()]);
                let response = client
                    .post(&url)
                    .header("stripe-signature", header)
                    .body(body)
                    .send()
                    .await;
                if response.is_ok_and(|r| r.status().is_success()) {
                    acked.push(id);
                }
            }
            acked
        });
    }
    let mut acked = Vec::new();
    while let Some(done) = tasks.join_next().await {
        acked.extend(done.unwrap());
    }
    acked
}

/// The event ids a message names.
fn event_ids(text: &str, into: &mut std::collections::HashSet<String>) {
    let mut rest = text;
    while let Some(at) = rest.find("evt_") {
        let id: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + id.len().max(4)..];
        into.insert(id);
    }
}

/// How long until every event of a burst is reachable in chat, folded or not.
async fn reachable(
    platform: &'static str,
    fake: &Fake,
    receiver: &str,
    method: &str,
    events: usize,
) -> String {
    let server = start_server(receiver).await;
    let started = Instant::now();
    let acked = burst_ids(&server.url, events, 64).await;
    let deadline = started + Duration::from_secs(3600);
    let (found, until) = loop {
        let mut seen = std::collections::HashSet::new();
        for post in fake.state.posts(method) {
            event_ids(&post.body.to_string(), &mut seen);
        }
        let found = acked.iter().filter(|id| seen.contains(*id)).count();
        if found == acked.len() {
            break (found, Some(started.elapsed()));
        }
        if Instant::now() > deadline {
            break (found, None);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let posts = fake.state.posts(method);
    let top_level = posts
        .iter()
        .filter(|p| p.body["thread_ts"].is_null() && p.body["reply_parameters"].is_null())
        .count();
    format!(
        "| {platform} | {} | {} | {} | {} | {} | {} |",
        acked.len(),
        acked.len() - found,
        fake.state.throttled.load(Ordering::Relaxed),
        top_level,
        posts.len() - top_level,
        until.map_or("not within 1 h".to_owned(), |d| format!(
            "{:.1} s",
            d.as_secs_f64()
        )),
    )
}

/// Events a top-level message makes visible: its digest count, or 1 for a card.
fn visible_in(text: &str) -> u64 {
    match text.find("Digest: ") {
        Some(at) => text[at + 8..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or(0),
        None => 1,
    }
}

struct Report {
    platform: &'static str,
    acked: u64,
    visible: u64,
    throttled: u64,
    to_visible: Option<Duration>,
    top_level: usize,
    peak_rss_kib: u64,
}

async fn drain(
    platform: &'static str,
    fake: &Fake,
    receiver: &str,
    method: &str,
    events: usize,
) -> Report {
    let server = start_server(receiver).await;
    let started = Instant::now();
    let acked = burst(&server.url, events, 64).await;
    let ingest = started.elapsed();
    let deadline = started + Duration::from_secs(120);
    let (visible, top_level, to_visible) = loop {
        let top: Vec<_> = fake
            .state
            .posts(method)
            .into_iter()
            .filter(|p| p.body["thread_ts"].is_null() && p.body["reply_parameters"].is_null())
            .collect();
        let visible: u64 = top
            .iter()
            .map(|p| visible_in(p.body["text"].as_str().unwrap_or_default()))
            .sum();
        if visible >= acked {
            break (visible, top.len(), Some(started.elapsed()));
        }
        if Instant::now() > deadline {
            break (visible, top.len(), None);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let peak_rss_kib = rss_kib(server.child.id(), "VmHWM:");
    eprintln!("{platform}: {acked} acknowledged in {ingest:.2?}");
    Report {
        platform,
        acked,
        visible,
        throttled: fake.state.throttled.load(Ordering::Relaxed),
        to_visible,
        top_level,
        peak_rss_kib,
    }
}

async fn latency(samples: usize) -> (Duration, Duration, u64) {
    let fake = fakes::slack().await;
    fake.state.unlimited.store(true, Ordering::Relaxed);
    let receiver = format!(
        "[slack]\nbot_token = \"{}\"\napi_base_url = \"{}/api\"\n[delivery.slack]\nper_destination = \"10000/s\"\nburst = 10000\nglobal = \"10000/s\"\n[[receivers]]\nname = \"finance\"\nslack = {{ channel = \"C0LATENCY\" }}\n[route]\nreceiver = \"finance\"\n",
        fakes::SLACK_TOKEN,
        fake.base_url()
    );
    let server = start_server(&receiver).await;
    let client = reqwest::Client::new();
    let mut sent = Vec::new();
    for _ in 0..samples {
        let (id, body, header) = signed("invoice.payment_failed");
        let at = Instant::now();
        let response = client
            .post(&server.url)
            .header("stripe-signature", header)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        sent.push((id, at));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let posts = fake.state.posts("chat.postMessage");
    let mut latencies: Vec<Duration> = sent
        .iter()
        .filter_map(|(id, at)| {
            posts
                .iter()
                .find(|p| p.body.to_string().contains(id.as_str()))
                .map(|p| p.at.duration_since(*at))
        })
        .collect();
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    (
        pick(0.5),
        pick(0.99),
        fake.state.throttled.load(Ordering::Relaxed),
    )
}

#[tokio::main]
async fn main() {
    let mut events = 10_000usize;
    let mut reachable_of = None;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, value] if flag == "--events" => events = value.parse().expect("--events N"),
        [flag, value] if flag == "--reachable" => {
            reachable_of = Some(value.parse::<usize>().expect("--reachable N"))
        }
        _ => {}
    }

    let slack = fakes::slack().await;
    let slack_receiver = format!(
        "[slack]\nbot_token = \"{}\"\napi_base_url = \"{}/api\"\n[[receivers]]\nname = \"finance\"\nslack = {{ channel = \"C0DRAIN\" }}\n[route]\nreceiver = \"finance\"\n",
        fakes::SLACK_TOKEN,
        slack.base_url()
    );
    let telegram = fakes::telegram().await;
    let telegram_receiver = format!(
        "[telegram]\nbot_token = \"{}\"\napi_base_url = \"{}\"\n[[receivers]]\nname = \"group\"\ntelegram = {{ chat_id = -1001234567890 }}\n[route]\nreceiver = \"group\"\n",
        fakes::TELEGRAM_TOKEN,
        telegram.base_url()
    );
    if let Some(count) = reachable_of {
        let (slack_row, telegram_row) = tokio::join!(
            reachable(
                "Slack channel",
                &slack,
                &slack_receiver,
                "chat.postMessage",
                count
            ),
            reachable(
                "Telegram group",
                &telegram,
                &telegram_receiver,
                "sendMessage",
                count
            ),
        );
        println!(
            "| destination | events acked | not reachable | 429s | top-level messages | in threads / replies | until the last is reachable |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        println!("{slack_row}\n{telegram_row}");
        return;
    }
    let reports = [
        drain(
            "Slack channel",
            &slack,
            &slack_receiver,
            "chat.postMessage",
            events,
        )
        .await,
        drain(
            "Telegram group",
            &telegram,
            &telegram_receiver,
            "sendMessage",
            events,
        )
        .await,
    ];
    println!(
        "| destination | events acked | lost | 429s | until all visible | top-level messages | peak RSS |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in &reports {
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.1} MiB |",
            r.platform,
            r.acked,
            r.acked.saturating_sub(r.visible),
            r.throttled,
            r.to_visible
                .map_or("not within 120 s".to_owned(), |d| format!(
                    "{:.2} s",
                    d.as_secs_f64()
                )),
            r.top_level,
            r.peak_rss_kib as f64 / 1024.0
        );
    }
    let (p50, p99, throttled) = latency(500).await;
    println!(
        "\nend-to-end latency, webhook → fake Slack post, 500 events at 50/s, no budget bottleneck: p50 {:.1} ms, p99 {:.1} ms ({throttled} 429s)",
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0
    );
}
