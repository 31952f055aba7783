//! The chat platforms: the one seam between the services and a platform
//! (the [`Chat`] trait, what a send returns, how a failure is classified),
//! the [`registry`] of platforms, and what a press on a button becomes
//! ([`click`]).
//!
//! A platform is one folder (or file) here: its renderer (pure, with its
//! escaping and limits), its sender (`impl Chat`) and its inbound side
//! (verifying a click or command and parsing it into a [`Click`]).
//! `ARCHITECTURE.md` has the recipe for adding one.

pub mod click;
pub mod console;
pub mod discord;
pub mod registry;
pub mod slack;
pub mod telegram;
pub mod ticket;
pub mod webhook;

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use click::{
    ChatCommand, Click, ClickHandler, ClickOutcome, LookupAnswer, LookupQuery, PaymentAsk,
    PaymentForm, Press, Verdict,
};
pub use registry::{Chats, render, with_mention};

use crate::config::Destination;
use crate::render::Card;

/// Where a posted message lives, kept (as JSON, in the store) so that it can
/// be edited or replied to later. Opaque to everything but its platform:
/// each platform folder reads and writes its own typed reference, tagged
/// with `"platform"` (e.g. `{"platform":"slack","channel":"C1","ts":"1.2"}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef(Value);

impl MessageRef {
    /// Wraps a platform's typed reference.
    pub fn new(reference: &impl Serialize) -> Self {
        Self(serde_json::to_value(reference).unwrap_or(Value::Null))
    }

    /// The JSON kept in `message_ref`.
    pub fn to_json(&self) -> String {
        self.0.to_string()
    }

    /// Reads a stored `message_ref`: a JSON object with a `"platform"` tag.
    pub fn from_json(text: &str) -> Option<Self> {
        let value: Value = serde_json::from_str(text).ok()?;
        value.get("platform")?.as_str()?;
        Some(Self(value))
    }

    /// The platform's typed reference, if this is one of its references.
    pub fn decode<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_value(self.0.clone()).ok()
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
    /// Post in this message's thread (a Slack thread, a Discord thread on
    /// the message, a Telegram reply); with `linked`, post at the top level
    /// instead, linking that message.
    pub reply_to: Option<MessageRef>,
    /// With `reply_to`: a new top-level message that links the old one (a
    /// Slack thread reply also sent to the channel, a Discord or Telegram
    /// reply), not a line in its thread.
    pub linked: bool,
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
    /// Whether a post with `reply_to` lands in that message's thread or as
    /// a reply to it (Slack with a bot token, Discord, Telegram); elsewhere
    /// a digest lists its items instead.
    fn threads(&self) -> bool {
        false
    }

    /// Whether messages it posts can be edited later (living cases need it).
    fn edits(&self) -> bool {
        self.threads()
    }

    /// Posts a new message; returns where it lives.
    async fn post(
        &self,
        destination: &Destination,
        message: &Outbound<'_>,
    ) -> Result<MessageRef, SendError>;

    /// Replaces the content of a message this bot posted.
    async fn edit(&self, message_ref: &MessageRef, message: &Outbound<'_>)
    -> Result<(), SendError>;

    /// Posts a card with an image (a summary's chart) through the
    /// platform's own file flow. Where the platform carries no files (an
    /// incoming webhook, the console), the card alone is posted and the
    /// answer says so. A card that is out is never posted again for a
    /// failed image: the image's failure is in [`Posted::image`].
    async fn post_image(
        &self,
        destination: &Destination,
        message: &Outbound<'_>,
        image: &Image,
    ) -> Result<Posted, SendError> {
        let _ = image;
        let card = self.post(destination, message).await?;
        Ok(Posted::card_only(card, "this destination takes no files"))
    }
}

/// An image to attach: a PNG chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Its file name, e.g. `summary-2026-11-30.png`.
    pub filename: String,
    /// Its title (Slack's file title, Telegram's caption).
    pub title: String,
    /// The PNG bytes.
    pub png: Vec<u8>,
}

/// What [`Chat::post_image`] posted.
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    /// The card.
    pub card: MessageRef,
    /// The image: where it is, or why it is not there.
    pub image: Result<Option<MessageRef>, String>,
}

impl Posted {
    /// The card went out, the image did not: `why`.
    pub fn card_only(card: MessageRef, why: &str) -> Self {
        Self {
            card,
            image: Err(why.to_owned()),
        }
    }
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
