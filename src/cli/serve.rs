//! `serve` and `send-sample`: run the service, and post it a signed sample event.

use std::process::ExitCode;

use anyhow::{Context, bail};

use std::path::Path;

use crate::config::{Config, DEFAULT_ACCOUNT, Environment};
use crate::stripe::{sample, signature};

pub(super) async fn serve(path: &Path, ingest_only: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let config = crate::config::load_str(&text, &Environment::process()).map_err(|errors| {
        crate::config::LoadError::Invalid {
            path: path.to_owned(),
            errors,
        }
    })?;
    let listen = config.server.listen;
    let accounts: Vec<String> = config.stripe.endpoints.keys().cloned().collect();
    let mut state = crate::build_state_from_file(config, path, &text, Environment::process())
        .await
        .context("cannot open the event store")?;
    state.ingest_only = ingest_only;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    // From here a SIGHUP (a reload) must never end the process, even before
    // the service takes it over: tokio's handler replaces the default action.
    #[cfg(unix)]
    let _hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
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

/// `reload`: asks the running service (at `[server] listen`) to reload its
/// config, and prints what it did. An invalid file is still sent for: the
/// service reports (and counts) it the same way, and keeps running as it was.
pub(super) async fn reload(path: &Path) -> anyhow::Result<ExitCode> {
    let (listen, token) = match crate::config::load(path) {
        Ok(config) => (config.server.listen, config.server.admin_token),
        Err(crate::config::LoadError::Invalid { .. }) => where_to_reload(path),
        Err(error) => return Err(error.into()),
    };
    let mut address = listen;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let url = format!("http://{address}/-/reload");
    let mut request = reqwest::Client::new().post(&url);
    if let Some(token) = &token {
        request = request.bearer_auth(token.expose());
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach the service at {url}; is it running?"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let Ok(report) = serde_json::from_str::<serde_json::Value>(&text) else {
        bail!("{url} answered {status}: {}", text.trim());
    };
    println!(
        "{}: config {}",
        url,
        report["result"].as_str().unwrap_or("?")
    );
    for error in report["errors"].as_array().into_iter().flatten() {
        println!("  error: {}", error.as_str().unwrap_or_default());
    }
    for setting in report["needs_restart"].as_array().into_iter().flatten() {
        println!("  {}", setting.as_str().unwrap_or_default());
    }
    println!(
        "  in use: {} (generation {})",
        report["hash"].as_str().unwrap_or("?"),
        report["generation"]
    );
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `[server] listen` and an inline `admin_token` read from a file that does
/// not validate as a whole (defaults where they cannot be read).
fn where_to_reload(path: &Path) -> (std::net::SocketAddr, Option<crate::config::Secret>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let document = text.parse::<toml_edit::ImDocument<String>>().ok();
    let server = document.as_ref().and_then(|d| d.get("server"));
    let listen = server
        .and_then(|s| s.get("listen"))
        .and_then(|l| l.as_str())
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 8080)));
    let token = server
        .and_then(|s| s.get("admin_token"))
        .and_then(|t| t.as_str())
        .map(crate::config::Secret::new);
    (listen, token)
}
