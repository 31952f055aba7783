//! `GET /metrics` and the middleware that times every request; the
//! registry itself is [`crate::telemetry::Metrics`].

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::telemetry::Metrics;

/// Middleware: times every request under its route template (never the raw path).
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    metrics.observe(route, response.status().as_u16(), started.elapsed());
    response
}

/// `GET /metrics`. The silences in force and the silenced deliveries are
/// read from the store, so every replica reports the same ones.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let now = crate::store::now_ms();
    if let (Ok(active), Ok(stored)) = (
        state.store.silences(false, now).await,
        state.store.silenced_counts().await,
    ) {
        let active: Vec<(i64, String)> = active
            .iter()
            .filter(|s| s.is_active(now))
            .map(|s| (s.id, s.silence.matchers.join(",")))
            .collect();
        state.metrics.silences(&active, &stored);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
