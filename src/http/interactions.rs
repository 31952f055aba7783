//! The interaction endpoints: `POST /interactions/slack`,
//! `POST /interactions/discord` and `POST /telegram/webhook`.
//!
//! Each verifies the request with its platform's inbound side (in
//! `chat/<platform>/inbound.rs`), answers within the platform's deadline,
//! and hands the click or command to the [`crate::chat::ClickHandler`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use crate::chat::{discord, slack, telegram};

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks a Slack request's signature (v0 HMAC, 5-minute window); the
/// refusal to answer when it fails. `what` names the feature in messages.
fn verify_slack(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    what: &str,
) -> Result<(), (StatusCode, String)> {
    let config = state.config();
    let Some(secret) = config.slack.signing_secret.as_ref() else {
        return Err((
            StatusCode::NOT_FOUND,
            format!("Slack {what} is not configured: set [slack] signing_secret\n"),
        ));
    };
    slack::inbound::verify(
        secret.expose(),
        header(headers, "x-slack-request-timestamp"),
        header(headers, "x-slack-signature"),
        body,
        chrono::Utc::now().timestamp(),
    )
    .map_err(|error| {
        tracing::warn!(error = %error, what, "Slack request refused");
        (StatusCode::UNAUTHORIZED, format!("{error}\n"))
    })
}

/// `POST /interactions/slack`: verified (v0 HMAC, 5-minute window), answered
/// 200 at once; each click runs after, with notices to `response_url`.
pub async fn slack(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = verify_slack(&state, &headers, &body, "interactivity") {
        return refused.into_response();
    }
    let payload = url::form_urlencoded::parse(&body)
        .find(|(key, _)| key == "payload")
        .and_then(|(_, value)| serde_json::from_str::<Value>(&value).ok());
    let Some(payload) = payload else {
        return (StatusCode::BAD_REQUEST, "no JSON payload parameter\n").into_response();
    };
    let Some(handler) = state.clicks.clone() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "interactions are not running\n",
        )
            .into_response();
    };
    // The App's shortcut opens the payment request form.
    if payload["type"] == "shortcut"
        && payload["callback_id"] == slack::inbound::REQUEST_PAYMENT_CALLBACK
    {
        if let Some(trigger_id) = payload["trigger_id"].as_str() {
            open_form(&state, trigger_id.to_owned(), None);
        }
        return (StatusCode::OK, String::new()).into_response();
    }
    // The form's Submit: a bad field is marked in the form at once.
    if let Some((ask, response_url)) = slack::inbound::form_submission(&payload) {
        if let Some(errors) = slack::inbound::form_errors(&ask) {
            return Json(errors).into_response();
        }
        tokio::spawn(slack::inbound::run_payment(handler, ask, response_url));
        return (StatusCode::OK, String::new()).into_response();
    }
    let (clicks, response_url) = slack::inbound::clicks(&payload);
    for click in clicks {
        tokio::spawn(slack::inbound::run_click(
            handler.clone(),
            click,
            response_url.clone(),
        ));
    }
    (StatusCode::OK, String::new()).into_response()
}

/// Opens the payment request form after the acknowledgement (its
/// `trigger_id` is valid for 3 seconds).
fn open_form(state: &AppState, trigger_id: String, channel: Option<String>) {
    let config = state.config();
    let Some(token) = config.slack.bot_token.clone() else {
        tracing::warn!("the payment request form needs [slack] bot_token");
        return;
    };
    let ttl = humantime::format_duration(config.payments.link_ttl).to_string();
    let view = slack::inbound::payment_form(channel.as_deref(), &ttl);
    let base = config.slack.api_base_url.clone();
    tokio::spawn(async move {
        if let Err(error) =
            slack::inbound::open_payment_form(&base, token.expose(), &trigger_id, &view).await
        {
            tracing::warn!(error = %error, "cannot open the Slack payment request form");
        }
    });
}

/// `POST /commands/slack`: the `/stripe …` slash command, verified as an
/// interaction is, acknowledged at once; the look-up's private answer goes
/// to the command's `response_url`.
pub async fn slack_command(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    if let Err(refused) = verify_slack(&state, &headers, &body, "commands") {
        return refused;
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let Some(command) = slack::inbound::slash_command(&form) else {
        return (StatusCode::BAD_REQUEST, "no user_id field\n".to_owned());
    };
    let Some(handler) = state.clicks.clone() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "interactions are not running\n".to_owned(),
        );
    };
    match command {
        slack::inbound::SlashCommand::Lookup(query, response_url) => {
            tokio::spawn(slack::inbound::run_lookup(handler, query, response_url));
        }
        slack::inbound::SlashCommand::Pay(ask, response_url) => {
            tokio::spawn(slack::inbound::run_payment(handler, ask, response_url));
        }
        slack::inbound::SlashCommand::PayForm {
            trigger_id,
            channel,
        } => open_form(&state, trigger_id, channel),
    }
    (StatusCode::OK, String::new())
}

/// `POST /interactions/discord`: verified (Ed25519, 5-minute window), `PING`
/// answered `PONG`, a press checked and answered within Discord's 3 seconds.
pub async fn discord(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(verifier) = state
        .config()
        .discord
        .public_key
        .as_ref()
        .and_then(|key| discord::inbound::verifier(key.expose()))
    else {
        return (
            StatusCode::NOT_FOUND,
            "Discord interactions are not configured: set [discord] public_key\n",
        )
            .into_response();
    };
    if let Err(error) = discord::inbound::verify(
        &verifier,
        header(&headers, "x-signature-ed25519"),
        header(&headers, "x-signature-timestamp"),
        &body,
        chrono::Utc::now().timestamp(),
    ) {
        tracing::warn!(error = %error, "Discord interaction refused");
        return (StatusCode::UNAUTHORIZED, format!("{error}\n")).into_response();
    }
    let Ok(interaction) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not a JSON interaction\n").into_response();
    };
    match discord::inbound::kind(&interaction) {
        discord::inbound::Interaction::Ping => return Json(json!({ "type": 1 })).into_response(),
        discord::inbound::Interaction::Component => {}
        discord::inbound::Interaction::Command => {
            let Some(handler) = state.clicks.clone() else {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "interactions are not running\n",
                )
                    .into_response();
            };
            return Json(
                discord::inbound::command(handler, &state.config().discord, &interaction).await,
            )
            .into_response();
        }
        discord::inbound::Interaction::Other => {
            return Json(discord::inbound::ephemeral_body(
                "This interaction is not handled by stripe-chatops.",
            ))
            .into_response();
        }
    }
    let Some(handler) = state.clicks.clone() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "interactions are not running\n",
        )
            .into_response();
    };
    Json(discord::inbound::component(handler, &state.config().discord, &interaction).await)
        .into_response()
}

/// `POST /telegram/webhook`: the secret token checked in constant time,
/// answered at once; the update is handled after.
pub async fn telegram(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let config = state.config();
    let Some(secret) = config.telegram.webhook_secret_token.as_ref() else {
        return (
            StatusCode::NOT_FOUND,
            "Telegram webhook is not configured: set [telegram] webhook_secret_token\n",
        );
    };
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes());
    if !telegram::inbound::verify_secret_token(secret.expose(), given) {
        tracing::warn!("Telegram webhook refused: wrong or missing secret token");
        return (
            StatusCode::UNAUTHORIZED,
            "wrong or missing X-Telegram-Bot-Api-Secret-Token\n",
        );
    }
    let Ok(update) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not a JSON update\n");
    };
    let (Some(handler), Some(bot)) = (
        state.clicks.clone(),
        telegram::inbound::bot(&config.telegram),
    ) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "interactions are not running\n",
        );
    };
    // Answer at once; the click goes on after the acknowledgement.
    tokio::spawn(
        async move { telegram::inbound::handle_update(handler.as_ref(), &bot, &update).await },
    );
    (StatusCode::OK, "")
}
