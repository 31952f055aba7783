//! `POST /interactions/slack`: Slack's interactivity requests.
//!
//! The request is verified before anything reads it: `v0:{timestamp}:{body}`
//! HMAC-SHA256 with the app's signing secret, compared in constant time,
//! and a timestamp within 5 minutes of now. Slack wants an answer within
//! 3 seconds, so the handler answers 200 at once and the click runs after;
//! private notices go back through the payload's `response_url` as
//! ephemeral messages, and the outcome is shown by editing the card.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Click, ClickOutcome, Interact};
use crate::http::AppState;

/// Slack's replay window: 5 minutes either way.
pub const MAX_SKEW_SECONDS: i64 = 300;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlackRequestError {
    /// `X-Slack-Request-Timestamp` or `X-Slack-Signature` is missing or malformed.
    #[error("missing or malformed X-Slack-Request-Timestamp / X-Slack-Signature")]
    Malformed,
    /// The timestamp is more than 5 minutes from now.
    #[error("timestamp outside the 5-minute window")]
    Stale,
    /// The signature does not match.
    #[error("signature does not match")]
    BadSignature,
}

/// Verifies a Slack request signature.
pub fn verify(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SlackRequestError> {
    let timestamp = timestamp.ok_or(SlackRequestError::Malformed)?;
    let signature = signature
        .and_then(|s| s.strip_prefix("v0="))
        .and_then(|hex_digits| hex::decode(hex_digits).ok())
        .ok_or(SlackRequestError::Malformed)?;
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SlackRequestError::Malformed)?;
    if (now - at).abs() > MAX_SKEW_SECONDS {
        return Err(SlackRequestError::Stale);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| SlackRequestError::Malformed)?;
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&signature)
        .map_err(|_| SlackRequestError::BadSignature)
}

/// Signs a body as Slack does (for tests and tools): `v0=` and hex.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// The handler.
pub async fn interactions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let Some(secret) = state.config.slack.signing_secret.as_ref() else {
        return (
            StatusCode::NOT_FOUND,
            "Slack interactivity is not configured: set [slack] signing_secret\n".to_owned(),
        );
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(error) = verify(
        secret.expose(),
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        chrono::Utc::now().timestamp(),
    ) {
        tracing::warn!(error = %error, "Slack interaction refused");
        return (StatusCode::UNAUTHORIZED, format!("{error}\n"));
    }
    let payload = url::form_urlencoded::parse(&body)
        .find(|(key, _)| key == "payload")
        .and_then(|(_, value)| serde_json::from_str::<Value>(&value).ok());
    let Some(payload) = payload else {
        return (
            StatusCode::BAD_REQUEST,
            "no JSON payload parameter\n".to_owned(),
        );
    };
    let Some(interact) = state.interact.clone() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "interactions are not running\n".to_owned(),
        );
    };
    if payload["type"] != "block_actions" {
        return (StatusCode::OK, String::new());
    }
    let user_id = payload["user"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // Shown on the card as plain text ("Retried by @alice"): card text is escaped
    // for every platform, so a raw `<@U…>` mention would not render anyway.
    let handle = ["username", "name"]
        .iter()
        .find_map(|key| payload["user"][*key].as_str().filter(|n| !n.is_empty()))
        .unwrap_or(&user_id)
        .to_owned();
    let response_url = payload["response_url"].as_str().map(str::to_owned);
    for action in payload["actions"].as_array().into_iter().flatten() {
        // Link buttons send a payload too; there is nothing to do for them.
        let Some(token) = action["value"].as_str().filter(|_| action["url"].is_null()) else {
            continue;
        };
        let click = Click::new("slack", &user_id, &handle, token);
        tokio::spawn(run_click(interact.clone(), click, response_url.clone()));
    }
    (StatusCode::OK, String::new())
}

/// Runs a click after the acknowledgement; a notice goes to `response_url`.
pub(super) async fn run_click(interact: Arc<Interact>, click: Click, response_url: Option<String>) {
    // Slack's own confirm dialog already asked; "Assign…" still picks on the card.
    let data = click.token.clone();
    let notice = match interact.press(click, &data, true).await {
        Ok(ClickOutcome::Done(_) | ClickOutcome::Asked | ClickOutcome::Cancelled) => return,
        Ok(ClickOutcome::Refused(text) | ClickOutcome::Approved(text)) => text,
        Err(error) => {
            tracing::error!(error = %crate::telemetry::chain(&error), "click failed on a store error");
            "Something went wrong on our side; nothing was done. Try again.".to_owned()
        }
    };
    let Some(url) = response_url else {
        return;
    };
    let body = json!({ "response_type": "ephemeral", "replace_original": false, "text": notice });
    if let Err(error) = reqwest::Client::new().post(&url).json(&body).send().await {
        tracing::warn!(error = %error.without_url(), "cannot send a private notice to Slack");
    }
}
