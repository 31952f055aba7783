//! `POST /interactions/discord`: Discord's HTTP interactions endpoint.
//!
//! Every request is verified first: Ed25519 over `X-Signature-Timestamp` +
//! body with the application's public key (serenity's `Verifier`); a bad or
//! missing signature gets 401, as Discord requires (it sends invalid ones on
//! purpose to test the endpoint); so does a signed timestamp more than 5
//! minutes away, against replays. `PING` gets `PONG`. A button press is
//! checked at once (a refusal is an ephemeral reply); otherwise it is
//! acknowledged with `DEFERRED_UPDATE_MESSAGE` within Discord's 3 seconds,
//! and the work goes on after: a two-step Confirm / Cancel edit for actions
//! that move money, then the action, the audit, and the card edited in
//! place. Notices after the acknowledgement are ephemeral follow-ups.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use serenity::http::Http;
use serenity::interactions_endpoint::Verifier;
use serenity::model::id::ApplicationId;

use super::{Click, ClickOutcome, Press};
use crate::config::DiscordConfig;
use crate::http::AppState;

/// Interaction type `PING`.
const PING: u64 = 1;
/// Interaction type `MESSAGE_COMPONENT`.
const MESSAGE_COMPONENT: u64 = 3;
/// Replay window for `X-Signature-Timestamp`, in seconds.
const MAX_SKEW_SECONDS: i64 = 300;
/// Message flag `EPHEMERAL`.
const EPHEMERAL: u64 = 64;

/// The verifier of a hex public key, if it is a valid Ed25519 key.
pub fn verifier(public_key_hex: &str) -> Option<Verifier> {
    let bytes: [u8; 32] = hex::decode(public_key_hex.trim()).ok()?.try_into().ok()?;
    Verifier::try_new(bytes).ok()
}

fn ephemeral_body(text: &str) -> Value {
    json!({ "type": 4, "data": { "content": text, "flags": EPHEMERAL, "allowed_mentions": { "parse": [] } } })
}

fn ephemeral(text: &str) -> Response {
    Json(ephemeral_body(text)).into_response()
}

/// The handler.
pub async fn interactions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(verifier) = state
        .config
        .discord
        .public_key
        .as_ref()
        .and_then(|key| verifier(key.expose()))
    else {
        return (
            StatusCode::NOT_FOUND,
            "Discord interactions are not configured: set [discord] public_key\n",
        )
            .into_response();
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (
        header("x-signature-ed25519"),
        header("x-signature-timestamp"),
    ) else {
        return (
            StatusCode::UNAUTHORIZED,
            "missing X-Signature-Ed25519 / X-Signature-Timestamp\n",
        )
            .into_response();
    };
    if verifier.verify(signature, timestamp, &body).is_err() {
        tracing::warn!("Discord interaction refused: bad signature");
        return (StatusCode::UNAUTHORIZED, "invalid request signature\n").into_response();
    }
    // The timestamp is signed; a replayed request is refused after 5 minutes, as Slack's are.
    let fresh = timestamp
        .trim()
        .parse::<i64>()
        .is_ok_and(|at| (chrono::Utc::now().timestamp() - at).abs() <= MAX_SKEW_SECONDS);
    if !fresh {
        tracing::warn!("Discord interaction refused: stale timestamp");
        return (
            StatusCode::UNAUTHORIZED,
            "timestamp outside the 5-minute window\n",
        )
            .into_response();
    }
    let Ok(interaction) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not a JSON interaction\n").into_response();
    };
    match interaction["type"].as_u64() {
        Some(PING) => return Json(json!({ "type": 1 })).into_response(),
        Some(MESSAGE_COMPONENT) => {}
        _ => return ephemeral("This interaction is not handled by stripe-chatops."),
    }
    let Some(interact) = state.interact.clone() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "interactions are not running\n",
        )
            .into_response();
    };
    Json(component(interact, &state.config.discord, &interaction).await).into_response()
}

/// Handles a button press (from the HTTP endpoint or the gateway) and
/// returns the interaction response: an ephemeral refusal, or a deferred
/// update while the work goes on.
pub async fn component(
    interact: Arc<super::Interact>,
    config: &DiscordConfig,
    interaction: &Value,
) -> Value {
    let user = if interaction["member"].is_object() {
        &interaction["member"]["user"]
    } else {
        &interaction["user"]
    };
    let user_id = user["id"].as_str().unwrap_or_default().to_owned();
    let handle = user["username"].as_str().unwrap_or(&user_id).to_owned();
    let roles: Vec<String> = interaction["member"]["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    let data = interaction["data"]["custom_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let click = |token: &str| Click {
        discord_roles: roles.clone(),
        ..Click::new("discord", &user_id, &handle, token)
    };
    let followup = Followup {
        http: followup_http(config),
        application_id: interaction["application_id"]
            .as_str()
            .and_then(|id| id.parse().ok()),
        token: interaction["token"].as_str().unwrap_or_default().to_owned(),
    };

    // The checks are quick: a refusal is answered right away, privately.
    let token = match Press::parse(&data) {
        Press::Button(token)
        | Press::Confirm(token)
        | Press::Cancel(token)
        | Press::Pick(_, token) => token.to_owned(),
    };
    if !matches!(Press::parse(&data), Press::Cancel(_)) {
        match interact.preflight(&click(&token)).await {
            Ok(Some(notice)) => return ephemeral_body(&notice),
            Ok(None) => {}
            Err(error) => {
                tracing::error!(error = %crate::telemetry::chain(&error), "Discord click failed on a store error");
                return ephemeral_body(
                    "Something went wrong on our side; nothing was done. Try again.",
                );
            }
        }
    }
    let click = click(&data);
    tokio::spawn(async move {
        let notice = match interact.press(click, &data, false).await {
            Ok(ClickOutcome::Done(_) | ClickOutcome::Asked | ClickOutcome::Cancelled) => None,
            Ok(ClickOutcome::Approved(text) | ClickOutcome::Refused(text)) => Some(text),
            Err(error) => Some(format!("Something went wrong: {error}")),
        };
        if let Some(notice) = notice {
            followup.send(&notice).await;
        }
    });
    json!({ "type": 6 })
}

fn followup_http(config: &DiscordConfig) -> Arc<Http> {
    // The interaction token in the path authorises a follow-up; the bot token goes along.
    Arc::new(crate::deliver::discord::http_builder(config).build())
}

/// An ephemeral follow-up message to an acknowledged interaction.
struct Followup {
    http: Arc<Http>,
    application_id: Option<u64>,
    token: String,
}

impl Followup {
    async fn send(&self, text: &str) {
        let Some(application_id) = self.application_id.filter(|id| *id != 0) else {
            return;
        };
        self.http
            .set_application_id(ApplicationId::new(application_id));
        let body =
            json!({ "content": text, "flags": EPHEMERAL, "allowed_mentions": { "parse": [] } });
        if let Err(error) = self
            .http
            .create_followup_message(&self.token, &body, Vec::new())
            .await
        {
            tracing::warn!(error = %error, "cannot send a Discord follow-up");
        }
    }
}
