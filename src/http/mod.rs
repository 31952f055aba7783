//! The HTTP surface: Stripe webhooks, the interaction endpoints, health,
//! readiness and metrics.
//!
//! [`router`] builds the axum app from an [`AppState`]; [`serve()`] runs it on
//! a listener the caller bound (port 0 in tests) until the caller's shutdown
//! future resolves, then stops accepting and lets in-flight requests finish.

pub mod admin;
pub mod health;
pub mod interactions;
pub mod metrics;
pub mod serve;
pub mod webhook;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::chat::ClickHandler;
use crate::config::{Config, LiveConfig, Reloader};
use crate::store::Store;
use crate::telemetry::Metrics;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The configuration in use (swapped whole by a reload).
    pub live: Arc<LiveConfig>,
    /// Reloads `bot.toml`; `None` when the service was not started from a file.
    pub reloader: Option<Arc<Reloader>>,
    /// `serve --ingest-only`: store events, route and deliver nothing (a
    /// replica behind the load balancer; others deliver from the shared store).
    pub ingest_only: bool,
    /// The event store.
    pub store: Arc<dyn Store>,
    /// Counters and histograms.
    pub metrics: Arc<Metrics>,
    /// Wakes the pipeline when a new event is committed.
    pub pipeline_wake: Arc<tokio::sync::Notify>,
    /// Wakes the delivery worker when the pipeline queued new deliveries.
    pub delivery_wake: Arc<tokio::sync::Notify>,
    /// Acts on button clicks; set by [`crate::run_with`] once the chat adapters exist.
    pub clicks: Option<Arc<dyn ClickHandler>>,
    /// The clock of reminders, countdowns, escalations and summaries.
    pub clock: Arc<crate::clock::Clock>,
}

impl AppState {
    /// Bundles the parts.
    pub fn new(live: Arc<LiveConfig>, store: Arc<dyn Store>) -> Self {
        Self {
            live,
            reloader: None,
            ingest_only: false,
            store,
            metrics: Arc::new(Metrics::default()),
            pipeline_wake: Arc::new(tokio::sync::Notify::new()),
            delivery_wake: Arc::new(tokio::sync::Notify::new()),
            clicks: None,
            clock: Arc::new(crate::clock::Clock::system()),
        }
    }

    /// The config in use now.
    pub fn config(&self) -> Arc<Config> {
        self.live.get()
    }
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    let body_timeout = state.config().server.request_body_timeout;
    Router::new()
        .route("/webhooks/stripe", post(webhook::default_account))
        .route("/interactions/slack", post(interactions::slack))
        .route("/commands/slack", post(interactions::slack_command))
        .route("/webhooks/stripe/{account}", post(webhook::named_account))
        .route("/telegram/webhook", post(interactions::telegram))
        .route("/interactions/discord", post(interactions::discord))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/-/reload", post(admin::reload))
        .layer(axum::middleware::from_fn(move |request, next| {
            serve::body_deadline(body_timeout, request, next)
        }))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then
/// drains, under the `[server]` limits (see the [`mod@serve`] module).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = state.config();
    let server = &config.server;
    let limits = serve::Limits {
        request_head_timeout: server.request_head_timeout,
        keep_alive_timeout: server.keep_alive_timeout,
        max_connections: server.max_connections,
    };
    serve::serve(listener, router(state), limits, shutdown).await
}
