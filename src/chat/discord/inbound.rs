//! Discord's inbound side: interactions (from `POST /interactions/discord`
//! or the gateway) verified and parsed into clicks, and their answers.
//!
//! Every HTTP request is verified first: Ed25519 over `X-Signature-Timestamp` +
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

use serde_json::{Value, json};
use serenity::http::Http;
use serenity::interactions_endpoint::Verifier;
use serenity::model::id::ApplicationId;

use crate::chat::{
    Click, ClickHandler, ClickOutcome, LookupAnswer, LookupQuery, PaymentAsk, PaymentForm, Press,
};
use crate::config::DiscordConfig;
use crate::platform::Platform;

/// Interaction type `PING`.
const PING: u64 = 1;
/// Interaction type `MESSAGE_COMPONENT`.
const APPLICATION_COMMAND: u64 = 2;
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

/// An immediate private reply (interaction response type 4, ephemeral).
pub fn ephemeral_body(text: &str) -> Value {
    json!({ "type": 4, "data": { "content": text, "flags": EPHEMERAL, "allowed_mentions": { "parse": [] } } })
}

/// Why a signed interaction request was refused (401, as Discord requires).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DiscordRequestError {
    /// A header is missing.
    #[error("missing X-Signature-Ed25519 / X-Signature-Timestamp")]
    Missing,
    /// The signature does not verify.
    #[error("invalid request signature")]
    BadSignature,
    /// The signed timestamp is more than 5 minutes from now.
    #[error("timestamp outside the 5-minute window")]
    Stale,
}

/// Verifies a request: Ed25519 over timestamp + body, then a timestamp
/// within 5 minutes of `now` (it is signed, so a replay is refused after that).
pub fn verify(
    verifier: &Verifier,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), DiscordRequestError> {
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(DiscordRequestError::Missing);
    };
    verifier
        .verify(signature, timestamp, body)
        .map_err(|_| DiscordRequestError::BadSignature)?;
    let fresh = timestamp
        .trim()
        .parse::<i64>()
        .is_ok_and(|at| (now - at).abs() <= MAX_SKEW_SECONDS);
    if !fresh {
        return Err(DiscordRequestError::Stale);
    }
    Ok(())
}

/// What a verified interaction asks for.
pub enum Interaction {
    /// `PING`: answer `PONG`.
    Ping,
    /// A button press.
    Component,
    /// The `/stripe` application command: a look-up.
    Command,
    /// Anything else: answered with a private "not handled".
    Other,
}

/// The kind of a verified interaction.
pub fn kind(interaction: &Value) -> Interaction {
    match interaction["type"].as_u64() {
        Some(PING) => Interaction::Ping,
        Some(MESSAGE_COMPONENT) => Interaction::Component,
        Some(APPLICATION_COMMAND) if interaction["data"]["name"] == COMMAND_NAME => {
            Interaction::Command
        }
        _ => Interaction::Other,
    }
}

/// Handles a button press (from the HTTP endpoint or the gateway) and
/// returns the interaction response: an ephemeral refusal, or a deferred
/// update while the work goes on.
pub async fn component(
    handler: Arc<dyn ClickHandler>,
    config: &DiscordConfig,
    interaction: &Value,
) -> Value {
    let (user_id, handle, roles) = who(interaction);
    let data = interaction["data"]["custom_id"]
        .as_str()
        .unwrap_or_default();
    let click = Click {
        platform_roles: roles,
        ..Click::new(Platform::Discord, &user_id, &handle, data)
    };
    let followup = Followup::of(config, interaction);
    // A payment request's link made (or the request cancelled) replaces
    // its private question; a refusal leaves the buttons to try again.
    let answers_request = Press::parse(data).answers_request();

    // The checks run once and are quick: a refusal is answered right away,
    // privately; otherwise the press is acknowledged and goes on after.
    let (verdict, checked) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut replace = false;
        let notice = match handler.press(click, false, Some(verdict)).await {
            ClickOutcome::Done(_)
            | ClickOutcome::Asked
            | ClickOutcome::Cancelled
            | ClickOutcome::Answered => None,
            ClickOutcome::Reported(text) => {
                replace = answers_request;
                Some(text)
            }
            ClickOutcome::Approved(text) | ClickOutcome::Refused(text) => Some(text),
            ClickOutcome::Failed => {
                Some("Something went wrong on our side; nothing was done. Try again.".to_owned())
            }
        };
        match notice {
            Some(notice) if replace => followup.answer(&LookupAnswer::Text(notice)).await,
            Some(notice) => followup.send(&notice).await,
            None => {}
        }
    });
    match checked.await {
        Ok(Some(notice)) => ephemeral_body(&notice),
        Ok(None) | Err(_) => json!({ "type": 6 }),
    }
}

/// The application command the bot registers: `/stripe`.
pub const COMMAND_NAME: &str = "stripe";

/// The `/stripe` command, as `POST /applications/{id}/commands` takes it:
/// one subcommand per kind of object.
pub fn command_definition() -> Value {
    let sub = |name: &str, description: &str, option: &str, what: &str| {
        json!({
            "type": 1, "name": name, "description": description,
            "options": [ { "type": 3, "name": option, "description": what, "required": true } ]
        })
    };
    json!({
        "name": COMMAND_NAME,
        "type": 1,
        "description": "Look up a Stripe object (only you see the answer)",
        "options": [
            sub("invoice", "An invoice", "id", "in_…"),
            sub("customer", "A customer", "id_or_email", "cus_… or an e-mail address"),
            sub("payment", "A payment", "id", "pi_… or ch_…"),
            sub("subscription", "A subscription", "id", "sub_…"),
            {
                "type": 1, "name": "pay",
                "description": "Request a payment: a Stripe Checkout link, with its card here",
                "options": [
                    { "type": 3, "name": "amount", "description": "49.99 (JPY has no decimals, KWD three)", "required": true },
                    { "type": 3, "name": "currency", "description": "EUR, USD, JPY…", "required": true, "min_length": 3, "max_length": 3 },
                    { "type": 3, "name": "description", "description": "What it is for (the customer sees it)", "required": true, "max_length": 250 },
                    { "type": 3, "name": "customer", "description": "An e-mail address or cus_…", "required": false },
                    { "type": 3, "name": "expires", "description": "How long the link is payable: 30m to 24h (default 24h)", "required": false },
                ]
            },
        ]
    })
}

/// The payment request of a `/stripe pay` command, when it is one: its
/// options as a form, the channel it was used in, the interaction's id as
/// its origin.
pub fn payment_of(interaction: &Value) -> Option<PaymentAsk> {
    let sub = interaction["data"]["options"].as_array()?.first()?;
    if sub["name"] != "pay" {
        return None;
    }
    let option = |name: &str| {
        sub["options"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["name"] == name)
            .and_then(|o| o["value"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let (user_id, handle, platform_roles) = who(interaction);
    Some(PaymentAsk {
        platform: Platform::Discord,
        user_id,
        handle,
        platform_roles,
        channel: interaction["channel_id"]
            .as_str()
            .or(interaction["channel"]["id"].as_str())
            .map(str::to_owned),
        origin: interaction["id"].as_str().unwrap_or_default().to_owned(),
        form: PaymentForm::Fields {
            amount: option("amount"),
            currency: option("currency"),
            description: option("description"),
            customer: option("customer"),
            expires: option("expires"),
        },
        confirmed: false,
    })
}

/// What a `/stripe` command asks, as a look-up's text: the subcommand's
/// name and its value (`invoice in_…`).
pub fn command_text(data: &Value) -> String {
    let mut words = Vec::new();
    let mut options = data["options"].as_array();
    while let Some(list) = options {
        let Some(option) = list.first() else {
            break;
        };
        match option["value"].as_str() {
            Some(value) => {
                words.push(value.to_owned());
                break;
            }
            None => {
                if let Some(name) = option["name"].as_str() {
                    words.push(name.to_owned());
                }
                options = option["options"].as_array();
            }
        }
    }
    words.join(" ")
}

/// A `/stripe` command: acknowledged at once with a private "thinking"
/// reply (`DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE`, ephemeral), then edited
/// into the look-up's answer.
pub async fn command(
    handler: Arc<dyn ClickHandler>,
    config: &DiscordConfig,
    interaction: &Value,
) -> Value {
    if let Some(ask) = payment_of(interaction) {
        let followup = Followup::of(config, interaction);
        tokio::spawn(async move {
            let answer = handler.request_payment(ask).await;
            followup.answer(&answer).await;
        });
        return json!({ "type": 5, "data": { "flags": EPHEMERAL } });
    }
    let (user_id, _, platform_roles) = who(interaction);
    let query = LookupQuery {
        platform: Platform::Discord,
        user_id,
        platform_roles,
        text: command_text(&interaction["data"]),
        private: true,
    };
    let followup = Followup::of(config, interaction);
    tokio::spawn(async move {
        let answer = handler.lookup(query).await;
        followup.answer(&answer).await;
    });
    json!({ "type": 5, "data": { "flags": EPHEMERAL } })
}

/// The body of a look-up's answer, for editing the deferred reply.
pub fn lookup_body(answer: &LookupAnswer) -> Value {
    match answer {
        LookupAnswer::Text(text) => {
            json!({ "content": text, "allowed_mentions": { "parse": [] } })
        }
        LookupAnswer::Card(card) => super::render::render(card),
    }
}

fn followup_http(config: &DiscordConfig) -> Arc<Http> {
    // The interaction token in the path authorises a follow-up; the bot token goes along.
    Arc::new(super::http_builder(config).build())
}

/// An ephemeral follow-up message to an acknowledged interaction.
struct Followup {
    http: Arc<Http>,
    application_id: Option<u64>,
    token: String,
}

/// Who sent an interaction: user id, handle, and the guild roles they hold
/// (`member` in a guild, `user` in a direct message).
fn who(interaction: &Value) -> (String, String, Vec<String>) {
    let user = if interaction["member"].is_object() {
        &interaction["member"]["user"]
    } else {
        &interaction["user"]
    };
    let user_id = user["id"].as_str().unwrap_or_default().to_owned();
    let handle = user["username"].as_str().unwrap_or(&user_id).to_owned();
    let roles = interaction["member"]["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    (user_id, handle, roles)
}

impl Followup {
    /// The follow-ups of an interaction: its application and token.
    fn of(config: &DiscordConfig, interaction: &Value) -> Self {
        Self {
            http: followup_http(config),
            application_id: interaction["application_id"]
                .as_str()
                .and_then(|id| id.parse().ok()),
            token: interaction["token"].as_str().unwrap_or_default().to_owned(),
        }
    }

    /// Edits the deferred reply into a look-up's answer.
    async fn answer(&self, answer: &LookupAnswer) {
        let Some(application_id) = self.application_id.filter(|id| *id != 0) else {
            return;
        };
        self.http
            .set_application_id(ApplicationId::new(application_id));
        if let Err(error) = self
            .http
            .edit_original_interaction_response(&self.token, &lookup_body(answer), Vec::new())
            .await
        {
            tracing::warn!(error = %error, "cannot send a look-up's answer to Discord");
        }
    }

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

/// Registers (or updates) the `/stripe` command with Discord, as a global
/// command of the bot's application. A failure is logged: buttons still work.
pub async fn register_command(http: &Http) {
    if http.application_id().is_none() {
        match http.get_current_application_info().await {
            Ok(application) => http.set_application_id(application.id),
            Err(error) => {
                tracing::warn!(error = %error, "Discord: cannot read the application id; /stripe is not registered");
                return;
            }
        }
    }
    if let Err(error) = http.create_global_command(&command_definition()).await {
        tracing::warn!(error = %error, "Discord: cannot register the /stripe command");
    }
}

/// Registers `/stripe` for a bot that answers interactions over HTTP.
pub async fn register_command_over_http(config: &DiscordConfig) {
    let http = super::http_builder(config).build();
    register_command(&http).await;
}
