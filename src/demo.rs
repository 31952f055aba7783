//! `stripe-chatops demo`: the whole product with zero set-up.
//!
//! It starts the real server (HTTP, pipeline, outbox) on 127.0.0.1 with a
//! temporary SQLite store and the console receiver, signs a sample of every
//! supported event type with a fresh secret, POSTs each to its own webhook
//! endpoint over HTTP, and prints what the console destination received.
//! The temporary folder is removed at the end.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::Rng;

use crate::config::{Environment, Secret, load_str};
use crate::stripe::{sample, signature};

/// How long the demo waits for every card.
const DEADLINE: Duration = Duration::from_secs(30);

/// Runs the demo.
pub async fn run() -> anyhow::Result<ExitCode> {
    let folder = std::env::temp_dir().join(format!(
        "stripe-chatops-demo-{}-{:08x}",
        std::process::id(),
        rand::thread_rng().r#gen::<u32>()
    ));
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let result = run_in(&folder).await;
    let _ = std::fs::remove_dir_all(&folder);
    result
}

async fn run_in(folder: &std::path::Path) -> anyhow::Result<ExitCode> {
    let secret = format!("whsec_demo_{:032x}", rand::thread_rng().r#gen::<u128>());
    let database = folder.join("demo.sqlite3");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\nurl = \"sqlite://{}\"\n[stripe]\nwebhook_secrets = [\"{secret}\"]\n",
        database.display()
    );
    let config = load_str(&text, &Environment::fixed([]))
        .map_err(|errors| anyhow::anyhow!("demo config: {errors:?}"))?;
    let state = crate::build_state(config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/stripe", listener.local_addr()?);
    println!(
        "stripe-chatops demo: server on {url}, store {}",
        database.display()
    );
    println!(
        "posting a signed sample of each of the {} supported event types…\n",
        sample::SAMPLE_TYPES.len()
    );

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::run(listener, state.clone(), async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let secret = Secret::new(secret);
    let mut accepted = 0u64;
    for event_type in sample::SAMPLE_TYPES {
        let now = chrono::Utc::now().timestamp();
        let Some(event) = sample::sample_event(event_type, now) else {
            continue;
        };
        let body = serde_json::to_vec(&event)?;
        let response = client
            .post(&url)
            .header("content-type", "application/json")
            .header("stripe-signature", signature::sign(&body, &[&secret], now))
            .body(body)
            .send()
            .await?;
        if response.status().is_success() {
            accepted += 1;
        } else {
            eprintln!(
                "{event_type}: {} {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
    }

    let started = Instant::now();
    let counts = loop {
        let counts = state.store.outbox_counts().await?;
        if counts.sent + counts.dead >= accepted || started.elapsed() > DEADLINE {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = stop.send(());
    let _ = server.await;
    println!(
        "demo done: {accepted} events accepted over HTTP, {} cards delivered to the console receiver, {} dead letters.",
        counts.sent, counts.dead
    );
    println!(
        "next: copy bot.toml.example to bot.toml, add your Slack, Discord or Telegram tokens, and run `stripe-chatops serve`."
    );
    Ok(if counts.sent == accepted && counts.dead == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
