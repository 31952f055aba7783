//! Telegram clicks: long polling (the default, no public URL) or a webhook
//! at `POST /telegram/webhook`, checked against
//! `X-Telegram-Bot-Api-Secret-Token` in constant time.
//!
//! A press on a button that moves money or e-mails a customer first turns
//! the card into a question with Confirm / Cancel (the two-step
//! confirmation); Confirm runs the action. Every press is answered with
//! `answerCallbackQuery`, as Telegram requires: a short toast, or an alert
//! for a refusal. The outcome is shown by editing the card.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use subtle::ConstantTimeEq;
use teloxide::payloads::{AnswerCallbackQuerySetters, GetUpdatesSetters};
use teloxide::prelude::Requester;
use teloxide::types::CallbackQueryId;
use tokio::sync::watch;

use super::{Click, ClickOutcome, Interact};
use crate::config::TelegramConfig;
use crate::http::AppState;

/// Long-poll timeout of `getUpdates`.
const POLL_TIMEOUT_SECONDS: u32 = 25;
/// The shortest time between two `getUpdates` (servers that ignore `timeout` answer at once).
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Wait after a failed `getUpdates`.
const POLL_BACKOFF: Duration = Duration::from_secs(5);

/// The bot that answers callback queries.
pub fn bot(config: &TelegramConfig) -> Option<teloxide::Bot> {
    let token = config.bot_token.as_ref()?;
    let url = reqwest::Url::parse(&config.api_base_url).ok()?;
    Some(teloxide::Bot::new(token.expose()).set_api_url(url))
}

/// The commands the bot registers with `setMyCommands`.
pub const COMMANDS: [(&str, &str); 5] = [
    ("start", "What this bot does"),
    ("topics", "Topics you may subscribe to"),
    (
        "subscribe",
        "Subscribe this chat to a topic: /subscribe TOPIC",
    ),
    ("unsubscribe", "Stop a topic: /unsubscribe TOPIC"),
    ("status", "This chat's subscriptions"),
];

/// Registers [`COMMANDS`] with Telegram.
pub async fn register_commands(bot: &teloxide::Bot) {
    let commands = COMMANDS
        .iter()
        .map(|(command, description)| teloxide::types::BotCommand::new(*command, *description));
    if let Err(error) = bot.set_my_commands(commands).await {
        tracing::warn!(error = %error, "cannot register the Telegram command list");
    }
}

/// The answer to a command in a chat, or `None` when the text is no command of ours.
pub async fn command(
    interact: &Interact,
    chat_id: i64,
    private: bool,
    user_id: i64,
    text: &str,
) -> Result<Option<String>, crate::store::StoreError> {
    let mut words = text.split_whitespace();
    let Some(command) = words.next().and_then(|w| w.strip_prefix('/')) else {
        return Ok(None);
    };
    // In groups, commands may be addressed: /subscribe@our_bot.
    let command = command.split('@').next().unwrap_or_default();
    let argument = words.next().unwrap_or_default().to_lowercase();
    let topics = &interact.config.telegram.topics;
    let allowed = |name: &str| {
        topics
            .get(name)
            .is_some_and(|t| t.allowed_users.contains(&user_id))
    };
    let mine: Vec<String> = topics
        .iter()
        .filter(|(name, _)| allowed(name))
        .map(|(name, topic)| format!("• {name} — {}", topic.description))
        .collect();
    let answer = match command {
        "start" | "help" => format!(
            "I post Stripe events for your team as cards with buttons.\n{}\nUse /subscribe TOPIC in a private chat with me.",
            if mine.is_empty() {
                "There are no topics you may subscribe to; ask your admin.".to_owned()
            } else {
                format!("Topics you may subscribe to:\n{}", mine.join("\n"))
            }
        ),
        "topics" => {
            if mine.is_empty() {
                "There are no topics you may subscribe to; ask your admin.".to_owned()
            } else {
                format!("Topics you may subscribe to:\n{}", mine.join("\n"))
            }
        }
        "subscribe" if !private => {
            "Subscriptions are for private chats: message me directly.".to_owned()
        }
        "subscribe" if argument.is_empty() => {
            "Which topic? /subscribe TOPIC (see /topics).".to_owned()
        }
        "subscribe" if !topics.contains_key(&argument) => {
            format!("There is no topic {argument:?}; see /topics.")
        }
        "subscribe" if !allowed(&argument) => {
            format!("You may not subscribe to {argument}; ask your admin.")
        }
        "subscribe" => {
            if interact
                .store
                .subscribe(&argument, chat_id, user_id, crate::store::now_ms())
                .await?
            {
                format!("Subscribed to {argument}. Its cards will arrive here.")
            } else {
                format!("This chat was already subscribed to {argument}.")
            }
        }
        "unsubscribe" if argument.is_empty() => {
            "Which topic? /unsubscribe TOPIC (see /status).".to_owned()
        }
        "unsubscribe" => {
            if interact.store.unsubscribe(&argument, chat_id).await? {
                format!("Unsubscribed from {argument}.")
            } else {
                format!("This chat was not subscribed to {argument}.")
            }
        }
        "status" => {
            let subscribed = interact.store.subscriptions(chat_id).await?;
            if subscribed.is_empty() {
                "This chat has no subscriptions; see /topics.".to_owned()
            } else {
                format!("This chat is subscribed to: {}.", subscribed.join(", "))
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(answer))
}

/// Handles one update (as JSON): commands and button presses; others are ignored.
pub async fn handle_update(interact: &Interact, bot: &teloxide::Bot, update: &Value) {
    let message = &update["message"];
    if let (Some(text), Some(chat_id), Some(user_id)) = (
        message["text"].as_str(),
        message["chat"]["id"].as_i64(),
        message["from"]["id"].as_i64(),
    ) {
        let private = message["chat"]["type"] == "private";
        match command(interact, chat_id, private, user_id, text).await {
            Ok(Some(answer)) => {
                let chat = teloxide::types::ChatId(chat_id);
                let mut sent = bot.send_message(chat, answer.clone()).await;
                // People type commands faster than a chat's flood limit: wait as told, once.
                if let Err(teloxide::RequestError::RetryAfter(wait)) = &sent {
                    tokio::time::sleep(wait.duration()).await;
                    sent = bot.send_message(chat, answer).await;
                }
                if let Err(error) = sent {
                    tracing::warn!(error = %error, "cannot answer a Telegram command");
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(error = %crate::telemetry::chain(&error), "Telegram command failed on a store error");
            }
        }
        return;
    }
    let query = &update["callback_query"];
    let (Some(id), Some(data), Some(user)) = (
        query["id"].as_str(),
        query["data"].as_str(),
        query["from"]["id"].as_i64(),
    ) else {
        return;
    };
    let handle = query["from"]["username"]
        .as_str()
        .or(query["from"]["first_name"].as_str())
        .map_or_else(|| user.to_string(), str::to_owned);
    let click = Click::new("telegram", &user.to_string(), &handle, data);
    let answer = match interact.press(click, data, false).await {
        Ok(ClickOutcome::Done(outcome)) => (outcome, false),
        Ok(ClickOutcome::Asked) => ("Choose on the card.".to_owned(), false),
        Ok(ClickOutcome::Cancelled) => ("Cancelled; nothing was done.".to_owned(), false),
        Ok(ClickOutcome::Approved(text)) => (text, false),
        Ok(ClickOutcome::Refused(text)) => (text, true),
        Err(error) => {
            tracing::error!(error = %crate::telemetry::chain(&error), "Telegram click failed on a store error");
            (
                "Something went wrong on our side; nothing was done.".to_owned(),
                true,
            )
        }
    };
    let (text, alert) = answer;
    // Telegram allows 200 characters in a callback answer.
    let text: String = text.chars().take(200).collect();
    if let Err(error) = bot
        .answer_callback_query(CallbackQueryId(id.to_owned()))
        .text(text)
        .show_alert(alert)
        .await
    {
        tracing::warn!(error = %error, "cannot answer a Telegram callback query");
    }
}

/// `POST /telegram/webhook`.
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let Some(secret) = state.config.telegram.webhook_secret_token.as_ref() else {
        return (
            StatusCode::NOT_FOUND,
            "Telegram webhook is not configured: set [telegram] webhook_secret_token\n",
        );
    };
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(secret.expose().as_bytes())) {
        tracing::warn!("Telegram webhook refused: wrong or missing secret token");
        return (
            StatusCode::UNAUTHORIZED,
            "wrong or missing X-Telegram-Bot-Api-Secret-Token\n",
        );
    }
    let Ok(update) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not a JSON update\n");
    };
    let (Some(interact), Some(bot)) = (state.interact.clone(), bot(&state.config.telegram)) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "interactions are not running\n",
        );
    };
    // Answer at once; the click goes on after the acknowledgement.
    tokio::spawn(async move { handle_update(&interact, &bot, &update).await });
    (StatusCode::OK, "")
}

/// Long polling until `stop`: `getUpdates` for callback queries and messages.
pub async fn poll(interact: Arc<Interact>, bot: teloxide::Bot, mut stop: watch::Receiver<bool>) {
    let mut offset: i32 = 0;
    loop {
        let started = tokio::time::Instant::now();
        let request = bot
            .get_updates()
            .offset(offset)
            .timeout(POLL_TIMEOUT_SECONDS);
        let outcome = tokio::select! {
            outcome = request => outcome,
            _ = stop.changed() => return,
        };
        let pause = match outcome {
            Ok(updates) => {
                for update in updates {
                    offset = offset.max(update.id.0 as i32 + 1);
                    let json = serde_json::to_value(&update).unwrap_or(Value::Null);
                    let (interact, bot) = (interact.clone(), bot.clone());
                    tokio::spawn(async move { handle_update(&interact, &bot, &json).await });
                }
                MIN_POLL_INTERVAL.saturating_sub(started.elapsed())
            }
            Err(error) => {
                tracing::warn!(error = %crate::deliver::chat::scrub(&error.to_string(), ""), "Telegram getUpdates failed; retrying");
                POLL_BACKOFF
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}
