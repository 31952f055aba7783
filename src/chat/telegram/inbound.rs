//! Telegram's inbound side: updates from long polling (the default, no
//! public URL) or a webhook at `POST /telegram/webhook` (checked against
//! `X-Telegram-Bot-Api-Secret-Token` in constant time), turned into clicks
//! and commands and answered.
//!
//! A press on a button that moves money or e-mails a customer first turns
//! the card into a question with Confirm / Cancel (the two-step
//! confirmation); Confirm runs the action. Every press is answered with
//! `answerCallbackQuery`, as Telegram requires: a short toast, or an alert
//! for a refusal. The outcome is shown by editing the card.

use serde_json::Value;
use subtle::ConstantTimeEq;
use teloxide::payloads::AnswerCallbackQuerySetters;
use teloxide::prelude::Requester;
use teloxide::types::CallbackQueryId;

use crate::chat::{
    ChatCommand, Click, ClickHandler, ClickOutcome, LookupQuery, PaymentAsk, PaymentForm,
};
use crate::config::TelegramConfig;
use crate::platform::Platform;

/// The bot that answers callback queries.
pub fn bot(config: &TelegramConfig) -> Option<teloxide::Bot> {
    let token = config.bot_token.as_ref()?;
    let url = reqwest::Url::parse(&config.api_base_url).ok()?;
    Some(teloxide::Bot::new(token.expose()).set_api_url(url))
}

/// The look-up commands: `/invoice in_…` asks for `invoice in_…`.
pub const LOOKUP_COMMANDS: [&str; 4] = ["invoice", "customer", "payment", "subscription"];

/// The commands the bot registers with `setMyCommands`.
pub const COMMANDS: [(&str, &str); 10] = [
    ("start", "What this bot does"),
    ("topics", "Topics you may subscribe to"),
    (
        "subscribe",
        "Subscribe this chat to a topic: /subscribe TOPIC",
    ),
    ("unsubscribe", "Stop a topic: /unsubscribe TOPIC"),
    ("status", "This chat's subscriptions"),
    ("invoice", "Look up an invoice: /invoice in_…"),
    (
        "customer",
        "Look up a customer: /customer cus_… or an e-mail",
    ),
    ("payment", "Look up a payment: /payment pi_… or ch_…"),
    (
        "subscription",
        "Look up a subscription: /subscription sub_…",
    ),
    (
        "pay",
        "Request a payment: /pay 49.99 EUR what for [e-mail or cus_…] [2h]",
    ),
];

/// A message's command, lower case and without its `@bot` address
/// (`/Pay@our_bot 10 EUR` → `pay`), and the rest of the text, trimmed.
fn command_of(text: &str) -> Option<(String, &str)> {
    let text = text.trim();
    let (first, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let command = first
        .strip_prefix('/')?
        .split('@')
        .next()
        .unwrap_or_default();
    Some((command.to_lowercase(), rest.trim()))
}

/// The payment request a message asks for: `/pay 49.99 EUR Support deposit`
/// (perhaps addressed: `/pay@our_bot …`), in chat `chat_id`, as message
/// `message_id` (the same message is the same request).
pub fn payment_of(
    text: &str,
    chat_id: i64,
    message_id: i64,
    user_id: i64,
    handle: &str,
) -> Option<PaymentAsk> {
    let (command, rest) = command_of(text)?;
    if command != "pay" {
        return None;
    }
    Some(PaymentAsk {
        platform: Platform::Telegram,
        user_id: user_id.to_string(),
        handle: handle.to_owned(),
        platform_roles: Vec::new(),
        channel: Some(chat_id.to_string()),
        origin: format!("{chat_id}:{message_id}"),
        form: PaymentForm::Text(rest.to_owned()),
        confirmed: false,
    })
}

/// The look-up a message asks for, when it is one of [`LOOKUP_COMMANDS`]
/// (perhaps addressed: `/invoice@our_bot in_…`).
pub fn lookup_of(text: &str, user_id: i64, private: bool) -> Option<LookupQuery> {
    let (command, rest) = command_of(text)?;
    if !LOOKUP_COMMANDS.contains(&command.as_str()) {
        return None;
    }
    let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(LookupQuery {
        platform: Platform::Telegram,
        user_id: user_id.to_string(),
        platform_roles: Vec::new(),
        text: format!("{command} {rest}").trim().to_owned(),
        private,
    })
}

/// Registers [`COMMANDS`] with Telegram.
pub async fn register_commands(bot: &teloxide::Bot) {
    let commands = COMMANDS
        .iter()
        .map(|(command, description)| teloxide::types::BotCommand::new(*command, *description));
    if let Err(error) = bot.set_my_commands(commands).await {
        tracing::warn!(error = %error, "cannot register the Telegram command list");
    }
}

/// Handles one update (as JSON): commands and button presses; others are ignored.
pub async fn handle_update(handler: &dyn ClickHandler, bot: &teloxide::Bot, update: &Value) {
    let message = &update["message"];
    if let (Some(text), Some(chat_id), Some(user_id)) = (
        message["text"].as_str(),
        message["chat"]["id"].as_i64(),
        message["from"]["id"].as_i64(),
    ) {
        let handle = message["from"]["username"]
            .as_str()
            .or(message["from"]["first_name"].as_str())
            .map_or_else(|| user_id.to_string(), str::to_owned);
        let message_id = message["message_id"].as_i64().unwrap_or_default();
        if let Some(ask) = payment_of(text, chat_id, message_id, user_id, &handle) {
            let answer = handler.request_payment(ask).await;
            let thread = message["message_thread_id"].as_i64();
            if let Err(error) = super::reply(bot, chat_id, thread, Some(message_id), &answer).await
            {
                tracing::warn!(error = %error, "cannot answer a Telegram payment request");
            }
            return;
        }
        if let Some(query) = lookup_of(text, user_id, message["chat"]["type"] == "private") {
            let answer = handler.lookup(query).await;
            let thread = message["message_thread_id"].as_i64();
            let reply_to = message["message_id"].as_i64();
            if let Err(error) = super::reply(bot, chat_id, thread, reply_to, &answer).await {
                tracing::warn!(error = %error, "cannot answer a Telegram look-up");
            }
            return;
        }
        let command = ChatCommand {
            chat_id,
            private: message["chat"]["type"] == "private",
            user_id,
            text: text.to_owned(),
        };
        if let Some(answer) = handler.command(command).await {
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
    let click = Click::new(Platform::Telegram, &user.to_string(), &handle, data);
    let answers_request = crate::chat::Press::parse(data).answers_request();
    let outcome = handler.press(click, false, None).await;
    // A payment request's link made (or the request cancelled) replaces its
    // question, buttons and all; a refusal leaves them to try again.
    if let (ClickOutcome::Reported(text), true) = (&outcome, answers_request)
        && let (Some(chat), Some(message)) = (
            query["message"]["chat"]["id"].as_i64(),
            query["message"]["message_id"].as_i64(),
        )
    {
        let edited = bot
            .edit_message_text(
                teloxide::types::ChatId(chat),
                teloxide::types::MessageId(message as i32),
                text.clone(),
            )
            .await;
        if let Err(error) = edited {
            tracing::warn!(error = %error, "cannot replace a payment request's question on Telegram");
        }
    }
    let answer = match outcome {
        ClickOutcome::Done(outcome) | ClickOutcome::Reported(outcome) => (outcome, false),
        ClickOutcome::Asked => ("Choose on the card.".to_owned(), false),
        ClickOutcome::Cancelled => ("Cancelled; nothing was done.".to_owned(), false),
        ClickOutcome::Approved(text) => (text, false),
        ClickOutcome::Refused(text) => (text, true),
        ClickOutcome::Answered | ClickOutcome::Failed => (
            "Something went wrong on our side; nothing was done.".to_owned(),
            true,
        ),
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

/// Whether a webhook request carries the configured secret token in
/// `X-Telegram-Bot-Api-Secret-Token` (compared in constant time).
pub fn verify_secret_token(expected: &str, given: Option<&[u8]>) -> bool {
    bool::from(given.unwrap_or_default().ct_eq(expected.as_bytes()))
}
