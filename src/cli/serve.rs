//! `serve` and `send-sample`: run the service, and post it a signed sample event.

use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::config::{Config, DEFAULT_ACCOUNT};
use crate::stripe::{sample, signature};

pub(super) async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.server.listen;
    let accounts: Vec<String> = config.stripe.endpoints.keys().cloned().collect();
    let state = crate::build_state(config)
        .await
        .context("cannot open the event store")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        store = state.store.backend(),
        accounts = ?accounts,
        "stripe-chatops ready: POST /webhooks/stripe"
    );
    crate::run(listener, state, crate::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

pub(super) async fn send_sample(
    config: &Config,
    event_type: &str,
    url: Option<String>,
    account: &str,
    live: bool,
    print: bool,
) -> anyhow::Result<ExitCode> {
    if event_type == "list" {
        for event_type in sample::SAMPLE_TYPES {
            println!("{event_type}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(endpoint) = config.endpoint(account) else {
        bail!("no account {account:?} in the config");
    };
    let Some(secret) = endpoint.secrets.first() else {
        bail!("account {account:?} has no webhook secret to sign with");
    };
    let now = chrono::Utc::now().timestamp();
    let Some(mut event) = sample::sample_event(event_type, now) else {
        bail!(
            "no sample for {event_type:?}; known types:\n  {}",
            sample::SAMPLE_TYPES.join("\n  ")
        );
    };
    event["livemode"] = serde_json::Value::Bool(live);
    if print {
        println!("{}", serde_json::to_string_pretty(&event)?);
        return Ok(ExitCode::SUCCESS);
    }
    let body = serde_json::to_vec(&event)?;
    let header = signature::sign(&body, &[secret], now);
    let url = url.unwrap_or_else(|| default_url(config, account));
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json; charset=utf-8")
        .header("stripe-signature", header)
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot POST to {url}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    println!(
        "{} {} → {status} {}",
        event["id"].as_str().unwrap_or(""),
        event_type,
        text.trim()
    );
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn default_url(config: &Config, account: &str) -> String {
    let mut address = config.server.listen;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    if account == DEFAULT_ACCOUNT {
        format!("http://{address}/webhooks/stripe")
    } else {
        format!("http://{address}/webhooks/stripe/{account}")
    }
}
