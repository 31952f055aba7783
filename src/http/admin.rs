//! `POST /-/reload`: re-read `bot.toml` and the template folders, as
//! `SIGHUP` and `stripe-chatops reload` do. Only from this host (loopback),
//! or with `Authorization: Bearer` and `[server] admin_token`.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::AppState;
use crate::secret::Secret;

/// The handler: 200 with the report when the config was applied or
/// unchanged, 422 when it is invalid (the running config stays).
pub async fn reload(State(state): State<AppState>, request: Request) -> Response {
    let config = state.config();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .cloned();
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let peer = peer.map(|ConnectInfo(addr)| addr.ip());
    if !allowed(config.server.admin_token.as_ref(), bearer, peer) {
        tracing::warn!("reload refused: not from loopback and no valid admin token");
        return (
            StatusCode::FORBIDDEN,
            "reload is allowed from this host only, or with Authorization: Bearer [server] admin_token\n",
        )
            .into_response();
    }
    let Some(reloader) = state.reloader.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "this service was not started from a config file; nothing to reload\n",
        )
            .into_response();
    };
    let report = reloader.reload().await;
    let status = if report.result == "invalid" {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (status, Json(report)).into_response()
}

/// Whether a reload may run: from a loopback address, or with the admin token.
fn allowed(admin_token: Option<&Secret>, bearer: Option<&str>, peer: Option<IpAddr>) -> bool {
    let by_token = match (admin_token, bearer) {
        (Some(expected), Some(given)) => {
            bool::from(given.as_bytes().ct_eq(expected.expose().as_bytes()))
        }
        _ => false,
    };
    by_token || peer.is_some_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_or_the_admin_token_may_reload() {
        let token = Secret::new("0123456789abcdef0123");
        let remote: IpAddr = "203.0.113.7".parse().unwrap();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(allowed(None, None, Some(local)));
        assert!(allowed(Some(&token), None, Some(local)));
        assert!(!allowed(None, None, Some(remote)));
        assert!(!allowed(None, Some("0123456789abcdef0123"), Some(remote)));
        assert!(!allowed(Some(&token), Some("wrong"), Some(remote)));
        assert!(allowed(
            Some(&token),
            Some("0123456789abcdef0123"),
            Some(remote)
        ));
        assert!(!allowed(Some(&token), None, None));
    }
}
