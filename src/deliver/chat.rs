//! The one seam between the outbox and a chat platform: the [`Chat`] trait,
//! what a send returns, and how a failure is classified.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::render::Card;
use crate::routing::Destination;

/// Where a posted message lives, kept so that it can be edited later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "platform", rename_all = "snake_case")]
pub enum MessageRef {
    /// A Slack message: channel id and `ts`.
    Slack {
        /// Channel id.
        channel: String,
        /// Message timestamp.
        ts: String,
    },
    /// A message posted through a Slack incoming webhook (cannot be edited).
    SlackWebhook,
    /// A Discord message.
    Discord {
        /// Channel id.
        channel_id: String,
        /// Message id.
        message_id: String,
    },
    /// A Telegram message.
    Telegram {
        /// Chat id.
        chat_id: i64,
        /// Message id.
        message_id: i32,
    },
    /// A card fanned out to every subscriber of a Telegram topic.
    TelegramTopic {
        /// The topic.
        topic: String,
        /// How many subscribers got it in the try that finished the fan-out.
        sent: u32,
    },
    /// A line on standard output.
    Console,
    /// A POST to a generic webhook.
    Webhook {
        /// The HTTP status it answered.
        status: u16,
    },
}

impl MessageRef {
    /// The JSON kept in `message_ref`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored `message_ref`.
    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// One message on its way out.
#[derive(Debug, Clone)]
pub struct Outbound<'a> {
    /// The card, for adapters that send it as data (generic webhook).
    pub card: &'a Card,
    /// The platform payload rendered from it (Block Kit, embed, HTML, text).
    pub payload: Value,
    /// Stable across retries of the same message (Discord's `nonce`).
    pub idempotency_key: String,
    /// Post as a reply in this message's thread.
    pub reply_to: Option<MessageRef>,
}

/// Why a send failed, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// The platform throttled us and said when to come back.
    #[error("rate limited for {}: {detail}", humantime::format_duration(*retry_after))]
    RateLimited {
        /// The platform's `Retry-After` / `retry_after`.
        retry_after: Duration,
        /// What it said.
        detail: String,
    },
    /// Worth trying again later: network errors, 5xx, timeouts.
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help (bad token, unknown channel, rejected payload);
    /// the message becomes a dead letter at once, to be replayed after a fix.
    #[error("{0}")]
    Permanent(String),
}

/// A chat platform the outbox can post to.
#[async_trait]
pub trait Chat: Send + Sync {
    /// Posts a new message; returns where it lives.
    async fn post(
        &self,
        destination: &Destination,
        message: &Outbound<'_>,
    ) -> Result<MessageRef, SendError>;

    /// Replaces the content of a message this bot posted.
    async fn edit(&self, message_ref: &MessageRef, message: &Outbound<'_>)
    -> Result<(), SendError>;
}

/// Classifies an HTTP status of a failed call: 429 and 5xx and 408 are worth retrying.
pub fn status_is_transient(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// Removes a secret from an error text (reqwest puts URLs, and Telegram's
/// URLs hold the bot token).
pub fn scrub(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, "[redacted]")
    }
}
