//! `GET /healthz` (the process answers) and `GET /readyz` (the store answers too).

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;

/// Always 200 while the process serves HTTP.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 when the store answers a query, 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(error) => {
            tracing::warn!(error = %crate::telemetry::chain(&error), "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n")
        }
    }
}
