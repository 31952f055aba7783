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
//! `response_url` with the object's card. `/stripe pay …` is a payment
//! request, answered the same way; `/stripe pay` alone and the App's
//! shortcut open the payment request form (`views.open`), whose
//! `view_submission` is checked at once (a bad field is marked in the form)
//! and answered through the `response_url` of its channel field.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::chat::{
    Click, ClickHandler, ClickOutcome, LookupAnswer, LookupQuery, PaymentAsk, PaymentForm, Press,
};
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
    // A payment request's link made (or the request cancelled) replaces
    // its private question; a refusal leaves the buttons to try again.
    let answers_request = Press::parse(&click.token).answers_request();
    let mut replace = false;
    // Slack's own confirm dialog already asked; "Assign…" still picks on the card.
    let notice = match handler.press(click, true, None).await {
        ClickOutcome::Done(_)
        | ClickOutcome::Asked
        | ClickOutcome::Cancelled
        | ClickOutcome::Answered => return,
        ClickOutcome::Reported(text) => {
            replace = answers_request;
            text
        }
        ClickOutcome::Refused(text) | ClickOutcome::Approved(text) => text,
        ClickOutcome::Failed => {
            "Something went wrong on our side; nothing was done. Try again.".to_owned()
        }
    };
    let Some(url) = response_url else {
        return;
    };
    let body = json!({ "response_type": "ephemeral", "replace_original": replace, "text": notice });
    if let Err(error) = reqwest::Client::new().post(&url).json(&body).send().await {
        tracing::warn!(error = %error.without_url(), "cannot send a private notice to Slack");
    }
}

/// The `callback_id` of the payment request form and of the App's shortcut.
pub const REQUEST_PAYMENT_CALLBACK: &str = "request_payment";

/// What a `/stripe …` slash command asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlashCommand {
    /// A look-up, answered at `response_url`.
    Lookup(LookupQuery, Option<String>),
    /// `/stripe pay 49.99 EUR …`: a payment request, answered at `response_url`.
    Pay(PaymentAsk, Option<String>),
    /// `/stripe pay` alone: the form opens (`views.open` with `trigger_id`).
    PayForm {
        /// The command's `trigger_id` (valid 3 s, once).
        trigger_id: String,
        /// The channel it was typed in: the form's default.
        channel: Option<String>,
    },
}

/// The payment request of `/stripe pay …` words (`None` when the text is
/// not `pay …`), asked by `user_id` in `channel`; `origin` is the command's
/// `trigger_id`.
pub fn pay_of(
    text: &str,
    user_id: &str,
    handle: &str,
    channel: Option<&str>,
    origin: &str,
) -> Option<PaymentAsk> {
    let rest = text.trim().strip_prefix("pay")?;
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None;
    }
    Some(PaymentAsk {
        platform: Platform::Slack,
        user_id: user_id.to_owned(),
        handle: handle.to_owned(),
        platform_roles: Vec::new(),
        channel: channel.filter(|c| !c.is_empty()).map(str::to_owned),
        origin: origin.to_owned(),
        form: PaymentForm::Text(rest.trim().to_owned()),
        confirmed: false,
    })
}

/// What a slash command's form fields (`command`, `text`, `user_id`,
/// `user_name`, `channel_id`, `trigger_id`, `response_url`) ask.
pub fn slash_command(form: &[(String, String)]) -> Option<SlashCommand> {
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let user_id = field("user_id").filter(|id| !id.is_empty())?;
    let text = field("text").unwrap_or_default();
    let trigger_id = field("trigger_id").unwrap_or_default();
    let handle = field("user_name")
        .filter(|n| !n.is_empty())
        .unwrap_or(user_id);
    if let Some(ask) = pay_of(text, user_id, handle, field("channel_id"), trigger_id) {
        let response_url = field("response_url").map(str::to_owned);
        if matches!(&ask.form, PaymentForm::Text(words) if words.is_empty())
            && !trigger_id.is_empty()
        {
            return Some(SlashCommand::PayForm {
                trigger_id: trigger_id.to_owned(),
                channel: ask.channel,
            });
        }
        return Some(SlashCommand::Pay(ask, response_url));
    }
    command_lookup(form).map(|(query, url)| SlashCommand::Lookup(query, url))
}

/// The payment request form, as `views.open` takes it: amount, currency,
/// what for, customer, lifetime, and the channel of the card (its
/// `response_url` carries the private answer).
pub fn payment_form(channel: Option<&str>, default_ttl: &str) -> Value {
    let text_input =
        |block: &str, label: &str, placeholder: &str, optional: bool, hint: Option<&str>| {
            let mut block = json!({
                "type": "input",
                "block_id": block,
                "optional": optional,
                "label": { "type": "plain_text", "text": label },
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "placeholder": { "type": "plain_text", "text": placeholder },
                },
            });
            if let Some(hint) = hint {
                block["hint"] = json!({ "type": "plain_text", "text": hint });
            }
            block
        };
    let mut select = json!({
        "type": "conversations_select",
        "action_id": "value",
        "response_url_enabled": true,
        "default_to_current_conversation": true,
        "filter": { "include": ["public", "private"], "exclude_bot_users": true },
    });
    if let Some(channel) = channel {
        select["initial_conversation"] = json!(channel);
    }
    json!({
        "type": "modal",
        "callback_id": REQUEST_PAYMENT_CALLBACK,
        "title": { "type": "plain_text", "text": "Request a payment" },
        "submit": { "type": "plain_text", "text": "Create link" },
        "close": { "type": "plain_text", "text": "Cancel" },
        "private_metadata": channel.unwrap_or_default(),
        "blocks": [
            text_input("amount", "Amount", "49.99", false, Some("In the currency's own units: JPY has no decimals, KWD three.")),
            text_input("currency", "Currency", "EUR", false, None),
            text_input("description", "What it is for", "Support deposit", false, Some("The customer sees this on the payment page.")),
            text_input("customer", "Customer", "jenny@example.com or cus_…", true, None),
            text_input("expires", "Link payable for", default_ttl, true, Some("From 30m to 24h.")),
            {
                "type": "input",
                "block_id": "channel",
                "optional": true,
                "label": { "type": "plain_text", "text": "Post the card in" },
                "element": select,
            },
        ],
    })
}

/// A `view_submission` of the payment request form: the request and where
/// its private answer goes. `None` for other views.
pub fn form_submission(payload: &Value) -> Option<(PaymentAsk, Option<String>)> {
    if payload["type"] != "view_submission"
        || payload["view"]["callback_id"] != REQUEST_PAYMENT_CALLBACK
    {
        return None;
    }
    let values = &payload["view"]["state"]["values"];
    let value = |block: &str| {
        values[block]["value"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let user_id = payload["user"]["id"].as_str().filter(|id| !id.is_empty())?;
    let handle = ["username", "name"]
        .iter()
        .find_map(|key| payload["user"][*key].as_str().filter(|n| !n.is_empty()))
        .unwrap_or(user_id);
    let channel = values["channel"]["value"]["selected_conversation"]
        .as_str()
        .or(payload["view"]["private_metadata"].as_str())
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let response_url = payload["response_urls"]
        .as_array()
        .and_then(|urls| urls.first())
        .and_then(|url| url["response_url"].as_str())
        .map(str::to_owned);
    let ask = PaymentAsk {
        platform: Platform::Slack,
        user_id: user_id.to_owned(),
        handle: handle.to_owned(),
        platform_roles: Vec::new(),
        channel,
        // The same form submitted twice is the same request.
        origin: payload["view"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        form: PaymentForm::Fields {
            amount: value("amount"),
            currency: value("currency"),
            description: value("description"),
            customer: value("customer"),
            expires: value("expires"),
        },
        confirmed: true,
    };
    Some((ask, response_url))
}

/// The form's own error answer (`response_action: errors`) for a field
/// that cannot be right whatever Stripe says, so the person fixes it in
/// place; `None` when the fields read well.
pub fn form_errors(ask: &PaymentAsk) -> Option<Value> {
    let PaymentForm::Fields {
        amount,
        currency,
        description,
        customer,
        expires,
    } = &ask.form
    else {
        return None;
    };
    let (field, error) =
        crate::event::request::parse_fields(amount, currency, description, customer, expires)
            .err()?;
    Some(json!({ "response_action": "errors", "errors": { field.name(): error } }))
}

/// Opens the payment request form with `views.open` (the `trigger_id` is
/// valid for 3 seconds, once).
pub async fn open_payment_form(
    api_base_url: &str,
    bot_token: &str,
    trigger_id: &str,
    view: &Value,
) -> Result<(), String> {
    let url = format!("{}/views.open", api_base_url.trim_end_matches('/'));
    let answer = reqwest::Client::new()
        .post(&url)
        .bearer_auth(bot_token)
        .json(&json!({ "trigger_id": trigger_id, "view": view }))
        .send()
        .await
        .map_err(|error| crate::chat::scrub(&error.without_url().to_string(), bot_token))?;
    let body: Value = answer
        .json()
        .await
        .map_err(|error| error.without_url().to_string())?;
    if body["ok"] == true {
        Ok(())
    } else {
        Err(body["error"]
            .as_str()
            .unwrap_or("views.open failed")
            .to_owned())
    }
}

/// Runs a payment request after the acknowledgement; the answer (the
/// question, the link, or why not) goes to `response_url`.
pub async fn run_payment(
    handler: Arc<dyn ClickHandler>,
    ask: PaymentAsk,
    response_url: Option<String>,
) {
    let answer = handler.request_payment(ask).await;
    let Some(url) = response_url else {
        tracing::warn!("a Slack payment request's answer has no response_url to go to");
        return;
    };
    let body = lookup_message(&answer);
    if let Err(error) = reqwest::Client::new().post(&url).json(&body).send().await {
        tracing::warn!(error = %error.without_url(), "cannot send a payment request's answer to Slack");
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
