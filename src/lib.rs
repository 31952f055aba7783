//! stripe-chatops: Stripe webhook events as rich, interactive chat messages.
//!
//! # Layout
//! - [`cli`]: the `stripe-chatops` commands (`serve`, `check-config`, `send-sample`,
//!   `events list`, `migrate`).
//! - [`demo`]: the zero set-up tour (`stripe-chatops demo`).
//! - [`config`]: `bot.toml` — typed, validated with every error and its key path; secrets.
//! - [`http`]: the axum router — Stripe webhooks, `/healthz`, `/readyz`, `/metrics`.
//! - [`stripe`]: signature verification and signing, the event envelope, sample events.
//! - [`event`]: money in real minor units, Stripe Dashboard links.
//! - [`pipeline`]: routes every stored event to pending deliveries, restart-safe.
//! - [`interact`]: button tokens, clicks, roles, approvals, Stripe actions, audit.
//! - [`deliver`]: the outbox worker and the Slack, Discord, Telegram, console and webhook adapters.
//! - [`redact`]: the redaction policy and its pure masking functions.
//! - [`render`]: redacted context, minijinja card templates, Slack/Discord/Telegram/console payloads.
//! - [`routing`]: the route tree (pure): which receivers an event reaches, and why.
//! - [`store`]: the `Store` trait with SQLite (embedded, group commit) and PostgreSQL.
//! - [`telemetry`]: structured logging.
//!
//! # Data flow
//! `POST /webhooks/stripe[/{account}]` → verify `Stripe-Signature` on the raw
//! bytes → parse the envelope → insert once per (account, event id) → commit
//! → 2xx. Nothing else runs on the request path: the [`pipeline`] then
//! routes each stored event to one pending delivery per receiver, and the
//! [`deliver`] worker sends each receiver's queue in order, at the
//! platform's pace, retrying, folding and dead-lettering as needed.

#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod deliver;
pub mod demo;
pub mod event;
pub mod http;
pub mod interact;
pub mod pipeline;
pub mod redact;
pub mod render;
pub mod routing;
pub mod store;
pub mod stripe;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use config::Config;
pub use http::AppState;

/// Opens the store (migrating it) and builds the shared state for a config.
pub async fn build_state(config: Config) -> Result<AppState, store::StoreError> {
    let store = store::open(&config.storage.url, config.storage.max_connections).await?;
    Ok(AppState::new(Arc::new(config), store))
}

/// Runs the service on `listener` until `shutdown` resolves: the HTTP server,
/// the pipeline and the delivery worker (console cards go to standard
/// output). On shutdown the server stops accepting and finishes in-flight
/// requests, then the pipeline stops between two events and the worker
/// between two messages.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let chats = deliver::Chats::from_config(&state.config, deliver::console::Console::stdout())?;
    run_with(listener, state, chats, shutdown).await
}

/// [`run`] with the chat adapters given (tests capture the console).
pub async fn run_with(
    listener: TcpListener,
    state: AppState,
    chats: deliver::Chats,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let pipeline = tokio::spawn(pipeline::run(
        state.config.clone(),
        state.store.clone(),
        state.pipeline_wake.clone(),
        state.delivery_wake.clone(),
        stopped.clone(),
    ));
    let chats = Arc::new(chats);
    let mut state = state;
    let interact = Arc::new(interact::Interact::new(
        state.config.clone(),
        state.store.clone(),
        chats.clone(),
    ));
    state.interact = Some(interact.clone());
    // Slack clicks over Socket Mode, when an app token is configured.
    let socket_mode = state.config.slack.app_token.as_ref().map(|_| {
        tokio::spawn(interact::socket_mode::run(
            state.config.slack.clone(),
            interact.clone(),
            stopped.clone(),
        ))
    });
    // Discord presses over the gateway, when asked for.
    let gateway =
        (state.config.discord.gateway && state.config.discord.bot_token.is_some()).then(|| {
            tokio::spawn(interact::gateway::run(
                state.config.discord.clone(),
                interact.clone(),
                stopped.clone(),
            ))
        });
    // Telegram clicks and commands: long polling unless a webhook secret is configured.
    let stopped_poll = stopped.clone();
    let poller = match (
        interact::telegram::bot(&state.config.telegram),
        &state.config.telegram.webhook_secret_token,
    ) {
        (Some(bot), None) => Some(tokio::spawn(async move {
            interact::telegram::register_commands(&bot).await;
            interact::telegram::poll(interact, bot, stopped_poll).await;
        })),
        (Some(bot), Some(_)) => {
            tokio::spawn(async move { interact::telegram::register_commands(&bot).await });
            None
        }
        _ => None,
    };
    let deliverer = Arc::new(deliver::Deliverer::new(
        state.config.clone(),
        state.store.clone(),
        chats,
        state.metrics.clone(),
    ));
    let delivery = tokio::spawn(deliverer.run(state.delivery_wake.clone(), stopped));
    let served = http::serve(listener, state, shutdown).await;
    let _ = stop.send(true);
    let _ = pipeline.await;
    let _ = delivery.await;
    if let Some(poller) = poller {
        let _ = poller.await;
    }
    if let Some(socket_mode) = socket_mode {
        let _ = socket_mode.await;
    }
    if let Some(gateway) = gateway {
        let _ = gateway.await;
    }
    Ok(served?)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: no new connections, finishing requests in flight");
}
