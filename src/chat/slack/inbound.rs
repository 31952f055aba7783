//! Slack's inbound side: interactivity requests (`POST /interactions/slack`
//! and Socket Mode) verified and parsed into clicks, and the private notices
//! sent back through `response_url`.
//!
//! An HTTP request is verified before anything reads it: `v0:{timestamp}:{body}`
//! HMAC-SHA256 with the app's signing secret, compared in constant time,
//! and a timestamp within 5 minutes of now. Slack wants an answer within
//! 3 seconds, so the handler answers 200 at once and the click runs after;
//! private notices go back through the payload's `response_url` as
//! ephemeral messages, and the outcome is shown by editing the card.
//!
//! The slash command `/stripe …` (`POST /commands/slack`, or Socket Mode)
//! is a look-up: acknowledged at once, answered privately through its
//! `response_url` with the object's card.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::chat::{Click, ClickHandler, ClickOutcome, LookupAnswer, LookupQuery};
use crate::platform::Platform;

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

/// The clicks of an interactivity payload (`block_actions`), and the
/// `response_url` private notices go to. Link buttons carry no token and
/// make no click; other payload types make none.
pub fn clicks(payload: &Value) -> (Vec<Click>, Option<String>) {
    if payload["type"] != "block_actions" {
        return (Vec::new(), None);
    }
    let user_id = payload["user"]["id"].as_str().unwrap_or_default();
    // Shown on the card as plain text ("Retried by @alice"): card text is escaped
    // for every platform, so a raw `<@U…>` mention would not render anyway.
    let handle = ["username", "name"]
        .iter()
        .find_map(|key| payload["user"][*key].as_str().filter(|n| !n.is_empty()))
        .unwrap_or(user_id);
    let response_url = payload["response_url"].as_str().map(str::to_owned);
    let clicks = payload["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|action| action["value"].as_str().filter(|_| action["url"].is_null()))
        .map(|token| Click::new(Platform::Slack, user_id, handle, token))
        .collect();
    (clicks, response_url)
}

/// Runs a click after the acknowledgement; a notice goes to `response_url`.
pub async fn run_click(handler: Arc<dyn ClickHandler>, click: Click, response_url: Option<String>) {
    // Slack's own confirm dialog already asked; "Assign…" still picks on the card.
    let notice = match handler.press(click, true, None).await {
        ClickOutcome::Done(_)
        | ClickOutcome::Asked
        | ClickOutcome::Cancelled
        | ClickOutcome::Answered => return,
        ClickOutcome::Refused(text)
        | ClickOutcome::Approved(text)
        | ClickOutcome::Reported(text) => text,
        ClickOutcome::Failed => {
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

/// The look-up of a slash command's form fields (`command`, `text`,
/// `user_id`, `response_url`), and where its answer goes.
pub fn command_lookup(form: &[(String, String)]) -> Option<(LookupQuery, Option<String>)> {
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let user_id = field("user_id").filter(|id| !id.is_empty())?;
    let query = LookupQuery {
        platform: Platform::Slack,
        user_id: user_id.to_owned(),
        platform_roles: Vec::new(),
        text: field("text").unwrap_or_default().to_owned(),
        private: true,
    };
    Some((query, field("response_url").map(str::to_owned)))
}

/// The ephemeral message of a look-up's answer, for a `response_url`.
pub fn lookup_message(answer: &LookupAnswer) -> Value {
    match answer {
        LookupAnswer::Text(text) => {
            json!({ "response_type": "ephemeral", "replace_original": false, "text": text })
        }
        LookupAnswer::Card(card) => {
            let payload = super::render::render(card);
            json!({
                "response_type": "ephemeral",
                "replace_original": false,
                "text": payload["text"],
                "blocks": payload["blocks"],
            })
        }
    }
}

/// Runs a look-up after the acknowledgement; the answer goes to `response_url`.
pub async fn run_lookup(
    handler: Arc<dyn ClickHandler>,
    query: LookupQuery,
    response_url: Option<String>,
) {
    let answer = handler.lookup(query).await;
    let Some(url) = response_url else {
        return;
    };
    let body = lookup_message(&answer);
    if let Err(error) = reqwest::Client::new().post(&url).json(&body).send().await {
        tracing::warn!(error = %error.without_url(), "cannot send a look-up's answer to Slack");
    }
}
