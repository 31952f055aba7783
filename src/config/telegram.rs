//! `[telegram]`: the bot token, the webhook secret token (long polling
//! without it), the subscription topics; and the receiver target
//! `telegram = { chat_id = … }` or `{ subscribers = "TOPIC" }`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::sources::{Environment, base_url, resolve_one_secret};
use super::{Errors, KeyPath};
use crate::secret::Secret;

/// The real Slack Web API.
pub const SLACK_API_URL: &str = "https://slack.com/api";
/// The real Discord host; serenity appends `/api/v10/…`.
pub const DISCORD_API_URL: &str = "https://discord.com";
/// The real Telegram Bot API server.
pub const TELEGRAM_API_URL: &str = "https://api.telegram.org";

/// `[telegram]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TelegramFile {
    /// Bot token from @BotFather.
    pub bot_token: Option<Secret>,
    /// Name of the environment variable holding the bot token.
    pub bot_token_env: Option<String>,
    /// File holding the bot token.
    pub bot_token_file: Option<PathBuf>,
    /// Bot API server; default `https://api.telegram.org`, or a self-hosted one.
    pub api_base_url: Option<String>,
    /// Webhook mode: the secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token`
    /// to `POST /telegram/webhook` (1–256 of `A-Z a-z 0-9 _ -`). Without it, the
    /// bot long-polls `getUpdates`.
    pub webhook_secret_token: Option<Secret>,
    /// Name of the environment variable holding the webhook secret token.
    pub webhook_secret_token_env: Option<String>,
    /// File holding the webhook secret token.
    pub webhook_secret_token_file: Option<PathBuf>,
    /// `[telegram.topics.NAME]`: what people may `/subscribe` a private chat to.
    pub topics: std::collections::BTreeMap<String, TopicFile>,
}

/// `[telegram.topics.NAME]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct TopicFile {
    /// One line shown by `/topics`.
    pub description: String,
    /// Telegram user ids allowed to subscribe; empty means nobody.
    pub allowed_users: Vec<i64>,
}

/// Validated `[telegram]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TelegramConfig {
    /// Bot token.
    pub bot_token: Option<Secret>,
    /// Bot API server.
    pub api_base_url: String,
    /// Webhook mode's secret token; long polling without it.
    pub webhook_secret_token: Option<Secret>,
    /// Subscription topics by name.
    pub topics: std::collections::BTreeMap<String, TopicFile>,
}

/// A Telegram chat, or every subscriber of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]

pub struct TelegramTarget {
    /// Chat id (groups are negative).
    pub chat_id: Option<i64>,
    /// Forum topic of that chat.
    pub message_thread_id: Option<i64>,
    /// Fan out to every subscriber of this topic instead.
    pub subscribers: Option<String>,
}

impl TelegramFile {
    pub(super) fn validate(&self, env: &Environment, errors: &mut Errors<'_>) -> TelegramConfig {
        let path = KeyPath::root().key("telegram");
        let bot_token = resolve_one_secret(
            self.bot_token.as_ref(),
            self.bot_token_env.as_deref(),
            self.bot_token_file.as_deref(),
            &path,
            "bot_token",
            env,
            errors,
        );
        if let Some(token) = &bot_token
            && !token.expose().contains(':')
        {
            errors.push(
                path.key("bot_token"),
                "does not look like a Telegram bot token (\"123456:ABC…\" from @BotFather)",
            );
        }
        let webhook_secret_token = resolve_one_secret(
            self.webhook_secret_token.as_ref(),
            self.webhook_secret_token_env.as_deref(),
            self.webhook_secret_token_file.as_deref(),
            &path,
            "webhook_secret_token",
            env,
            errors,
        );
        if let Some(secret) = &webhook_secret_token {
            let text = secret.expose();
            if text.is_empty()
                || text.len() > 256
                || !text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                errors.push(
                    path.key("webhook_secret_token"),
                    "must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule); the value is not shown",
                );
            }
        }
        for name in self.topics.keys() {
            if name.is_empty()
                || name.len() > 32
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            {
                errors.push(
                    path.key("topics").key(name.clone()),
                    "a topic name is 1-32 characters of a-z, 0-9, _ and - (people type it after /subscribe)",
                );
            }
        }
        TelegramConfig {
            topics: self.topics.clone(),
            webhook_secret_token,
            bot_token,
            api_base_url: base_url(
                self.api_base_url.as_deref(),
                TELEGRAM_API_URL,
                path.key("api_base_url"),
                errors,
            ),
        }
    }
}
