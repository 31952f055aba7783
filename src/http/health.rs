//! `GET /healthz` (the process answers) and `GET /readyz` (the store answers
//! too, and commits: after a failed write, only a write that commits again
//! makes it ready, so a full disk takes the instance out of a load balancer).

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use crate::store::StoreError;

/// Always 200 while the process serves HTTP.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 when the store answers a query (and commits, after a failed write), 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(error) => {
            tracing::warn!(error = %crate::telemetry::chain(&error), "readiness check failed");
            let body = match error {
                StoreError::CannotCommit(_) => "store cannot commit\n",
                _ => "store unreachable\n",
            };
            (StatusCode::SERVICE_UNAVAILABLE, body)
        }
    }
}
