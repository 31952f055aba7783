//! stripe-chatops: Stripe webhook events as rich, interactive chat messages.
//!
//! # Layout: floors, lowest first
//! A module imports only from a lower floor; on floors 3 to 5, modules of
//! the same floor never import each other (where one must reach another,
//! the lower side owns a trait and this file wires the implementation in).
//! `tests/it/architecture.rs` keeps this true.
//!
//! 0. leaves: [`secret`] (a value that never prints), [`telemetry`] (logging,
//!    the metrics registry), [`platform`] (the one list of chat platforms).
//! 1. pure core: [`event`] (the typed view, money and thresholds, Dashboard
//!    links, account names), [`routing`] (the route tree), [`redact`],
//!    [`render`] (card model, templates, context, card states, digest layout).
//! 2. [`config`]: `bot.toml`, typed and validated with every error's key
//!    path; the config in use, reloaded live (`config::live`).
//! 3. edges: [`store`] (SQLite, PostgreSQL), [`stripe`] (signature, envelope,
//!    API client), [`chat`] (one folder per platform: renderer, sender,
//!    inbound side; the registry).
//! 4. services: [`pipeline`] (routing stored events to deliveries),
//!    [`delivery`] (the outbox worker, budgets, fan-out, cards completed
//!    from Stripe's API), [`actions`] (checks, approvals, the actions,
//!    audit, card edits, look-ups), [`catch_up`] (missed events and poll
//!    mode, read with `GET /v1/events`).
//! 5. inbound: [`http`] (the accept loop and its limits, webhooks,
//!    interaction endpoints, health, metrics, `POST /-/reload`),
//!    [`listen`] (Slack Socket Mode, the Discord gateway, Telegram long polling).
//! 6. face: this file (wiring, [`run`], shutdown), [`cli`], [`demo`].
//!
//! # Data flow
//! `POST /webhooks/stripe[/{account}]` → verify `Stripe-Signature` on the raw
//! bytes → parse the envelope → insert once per (account, event id) → commit
//! → 2xx. Nothing else runs on the request path: the [`pipeline`] then
//! routes each stored event to one pending delivery per receiver, and the
//! [`delivery`] worker sends each receiver's queue in order, at the
//! platform's pace, retrying, folding and dead-lettering as needed. A press
//! on a card's button comes back through [`http`] or [`listen`], is turned
//! into a [`chat::Click`] by its platform, and is acted on by [`actions`].

#![forbid(unsafe_code)]

pub mod actions;
pub mod catch_up;
pub mod chat;
pub mod cli;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod event;
pub mod http;
pub mod listen;
pub mod pipeline;
pub mod platform;
pub mod redact;
pub mod render;
pub mod routing;
pub mod secret;
pub mod store;
pub mod stripe;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::net::TcpListener;

use crate::chat::ClickHandler;

pub use config::Config;
pub use http::AppState;

/// Opens the store (migrating it) and builds the shared state for a config.
pub async fn build_state(config: Config) -> Result<AppState, store::StoreError> {
    open_state(config, "").await
}

/// [`build_state`] for a config read from `path` (its text is `text`): the
/// state can then reload the file (`SIGHUP`, `POST /-/reload`).
pub async fn build_state_from_file(
    config: Config,
    path: &std::path::Path,
    text: &str,
    env: config::Environment,
) -> Result<AppState, store::StoreError> {
    let mut state = open_state(config, text).await?;
    state.reloader = Some(Arc::new(config::Reloader::new(
        path.to_owned(),
        env,
        state.live.clone(),
        state.metrics.clone(),
    )));
    Ok(state)
}

/// The store, and the state of a config whose file text is `text` (for its hash).
async fn open_state(config: Config, text: &str) -> Result<AppState, store::StoreError> {
    let store = store::open(&config.storage.url, config.storage.max_connections).await?;
    Ok(AppState::new(
        Arc::new(config::LiveConfig::new(config, text)),
        store,
    ))
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
    let chats = chat::Chats::from_config(&state.config(), chat::console::Console::stdout())?;
    run_with(listener, state, chats, shutdown).await
}

/// [`run`] with the chat adapters given (tests capture the console).
pub async fn run_with(
    listener: TcpListener,
    state: AppState,
    chats: chat::Chats,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // SIGHUP is taken over before anything else, synchronously: until then
    // its default action would end the process.
    let reloads = tokio::spawn(reload_on_sighup(
        state.reloader.clone(),
        hangups(),
        stopped.clone(),
    ));
    if state.ingest_only {
        tracing::info!(
            "ingest only: events are stored; routing and delivery are left to other replicas"
        );
        let served = http::serve(listener, state, shutdown).await;
        let _ = stop.send(true);
        let _ = reloads.await;
        return Ok(served?);
    }
    let pipeline = tokio::spawn(pipeline::run(
        state.live.clone(),
        state.store.clone(),
        state.pipeline_wake.clone(),
        state.delivery_wake.clone(),
        state.metrics.clone(),
        stopped.clone(),
    ));
    let chats = Arc::new(chats);
    let mut state = state;
    // One Stripe client (one pace per key) for actions, cards and catch-up;
    // `[stripe] api_base_url` and the client's settings apply at start.
    let stripe_client = stripe::api::StripeClient::new(&state.config().stripe);
    let enricher = Arc::new(stripe::enrich::Enricher::new(
        stripe_client.clone(),
        &state.config().stripe,
    ));
    let catch_up = Arc::new(catch_up::CatchUp::new(
        state.live.clone(),
        state.store.clone(),
        stripe_client.clone(),
        state.metrics.clone(),
        state.pipeline_wake.clone(),
    ));
    let catching_up = tokio::spawn(catch_up.run(stopped.clone()));
    let actions = Arc::new(actions::Actions::new(
        state.live.clone(),
        state.store.clone(),
        chats.clone(),
        enricher.clone(),
        state.metrics.clone(),
        state.pipeline_wake.clone(),
    ));
    let clicks: Arc<dyn ClickHandler> = actions.clone();
    state.clicks = Some(clicks.clone());
    let listeners = start_listeners(&state.config(), &clicks, &stopped);
    let deliverer = delivery::Deliverer::new(
        state.live.clone(),
        state.store.clone(),
        chats,
        Arc::new(ArmButtons {
            live: state.live.clone(),
            store: state.store.clone(),
        }),
        state.metrics.clone(),
        Some(enricher),
        state.clock.clone(),
    );
    let delivery = tokio::spawn(deliverer.run(state.delivery_wake.clone(), stopped));
    let served = http::serve(listener, state, shutdown).await;
    let _ = stop.send(true);
    let _ = pipeline.await;
    let _ = delivery.await;
    let _ = catching_up.await;
    let _ = reloads.await;
    for listener in listeners {
        let _ = listener.await;
    }
    Ok(served?)
}

/// Starts the listeners that need no public URL, as configured: Slack
/// Socket Mode (an app token), the Discord gateway (`gateway = true`), and
/// Telegram long polling (a bot token without a webhook secret; with one,
/// only the command list is registered).
fn start_listeners(
    config: &config::Config,
    clicks: &Arc<dyn ClickHandler>,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut listeners = Vec::new();
    if config.slack.app_token.is_some() {
        listeners.push(tokio::spawn(listen::socket_mode::run(
            config.slack.clone(),
            clicks.clone(),
            stopped.clone(),
        )));
    }
    if !config.discord.gateway
        && config.discord.bot_token.is_some()
        && config.discord.public_key.is_some()
    {
        // Interactions over HTTP: `/stripe` is registered once at start
        // (the gateway registers it when it connects).
        let discord = config.discord.clone();
        tokio::spawn(async move {
            chat::discord::inbound::register_command_over_http(&discord).await;
        });
    }
    if config.discord.gateway && config.discord.bot_token.is_some() {
        listeners.push(tokio::spawn(listen::gateway::run(
            config.discord.clone(),
            clicks.clone(),
            stopped.clone(),
        )));
    }
    if let Some(bot) = chat::telegram::inbound::bot(&config.telegram) {
        if config.telegram.webhook_secret_token.is_none() {
            let (clicks, stopped) = (clicks.clone(), stopped.clone());
            listeners.push(tokio::spawn(async move {
                chat::telegram::inbound::register_commands(&bot).await;
                listen::telegram::poll(clicks, bot, stopped).await;
            }));
        } else {
            tokio::spawn(async move { chat::telegram::inbound::register_commands(&bot).await });
        }
    }
    listeners
}

/// The delivery worker's [`delivery::Buttons`]: the actions' button tokens.
struct ArmButtons {
    live: Arc<config::LiveConfig>,
    store: Arc<dyn store::Store>,
}

#[async_trait]
impl delivery::Buttons for ArmButtons {
    async fn arm(
        &self,
        card: &mut render::Card,
        view: &event::EventView,
        receiver: &config::Receiver,
        delivery_id: i64,
        event_seq: i64,
    ) -> Result<(), store::StoreError> {
        actions::arm(
            &self.live.get(),
            self.store.as_ref(),
            card,
            view,
            receiver,
            delivery_id,
            event_seq,
        )
        .await
    }
}

/// The stream of `SIGHUP`s, registered now (`None` where signals are not
/// Unix's, or when it cannot be registered).
#[cfg(unix)]
fn hangups() -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(not(unix))]
fn hangups() -> Option<()> {
    None
}

/// Reloads `bot.toml` on each `SIGHUP` until `stop`. Installed even
/// without a file to reload, so that a `SIGHUP` never ends the process.
#[cfg(unix)]
async fn reload_on_sighup(
    reloader: Option<Arc<config::Reloader>>,
    hangups: Option<tokio::signal::unix::Signal>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let Some(mut hangups) = hangups else {
        tracing::warn!("cannot listen for SIGHUP; reload with POST /-/reload instead");
        return;
    };
    loop {
        tokio::select! {
            _ = hangups.recv() => {}
            _ = stop.changed() => return,
        }
        match &reloader {
            Some(reloader) => {
                let report = reloader.reload().await;
                tracing::info!(result = report.result, hash = %report.hash, errors = report.errors.len(), needs_restart = ?report.needs_restart, "SIGHUP: config reload");
            }
            None => tracing::warn!(
                "SIGHUP: this service was not started from a config file; nothing to reload"
            ),
        }
    }
}

/// Without Unix signals there is nothing to reload on; waits for `stop`.
#[cfg(not(unix))]
async fn reload_on_sighup(
    _reloader: Option<Arc<config::Reloader>>,
    _hangups: Option<()>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let _ = stop.changed().await;
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
