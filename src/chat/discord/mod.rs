//! Discord: its embed renderer ([`render`]), its sender through serenity's
//! HTTP client (create and edit channel messages with an embed and
//! buttons), and its inbound side ([`inbound`]: Ed25519-signed
//! interactions and gateway presses, parsed into clicks).
//!
//! Against the real API, serenity's ratelimiter reads each route's bucket
//! from the `X-RateLimit-*` headers and waits out a 429's `retry_after`
//! itself. With `api_base_url` (a proxy, or a test fake) it is off, as
//! serenity documents for proxies, and our own budget paces the calls. Every create carries
//! a `nonce` derived from the delivery with `enforce_nonce`, so a retry after
//! a lost response cannot post the card twice.

use std::sync::Arc;

use async_trait::async_trait;
use serenity::http::{Http, HttpBuilder};
use serenity::model::id::{ChannelId, MessageId};

pub mod inbound;
pub mod render;

use serde::{Deserialize, Serialize};

use super::{Chat, Image, MessageRef, Outbound, Posted, SendError, status_is_transient};
use crate::config::discord::DISCORD_API_URL;
use crate::config::{Destination, DiscordConfig};

/// Where a Discord card lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "platform", rename_all = "snake_case")]
pub enum DiscordMessage {
    /// A channel message.
    Discord {
        /// Channel id.
        channel_id: String,
        /// Message id.
        message_id: String,
    },
}

/// Discord's `nonce` limit: 25 characters.
pub const MAX_NONCE: usize = 25;

/// How long to wait after a 429 in proxy mode, where serenity hands over no `retry_after`.
const PROXY_MODE_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// The Discord adapter.
pub struct Discord {
    http: Arc<Http>,
}

/// serenity's HTTP client for `config`'s bot token and API host: the one
/// place that knows how an `api_base_url` override is applied.
pub fn http_builder(config: &DiscordConfig) -> HttpBuilder {
    let token = config
        .bot_token
        .as_ref()
        .map(|t| t.expose().to_owned())
        .unwrap_or_default();
    let builder = HttpBuilder::new(token);
    if config.api_base_url == DISCORD_API_URL {
        return builder;
    }
    // serenity swaps `https://discord.com` in each route for this base. Its
    // ratelimiter builds requests without the proxy, so serenity documents
    // proxy mode with the ratelimiter off: the proxy (e.g.
    // twilight-http-proxy) or our own budget paces the calls.
    builder
        .proxy(config.api_base_url.clone())
        .ratelimiter_disabled(true)
}

impl Discord {
    /// The adapter, when `[discord]` has a bot token.
    pub fn from_config(config: &DiscordConfig) -> Option<Self> {
        config.bot_token.as_ref().map(|_| Self::new(config))
    }

    /// A client for `config`'s API host and token.
    pub fn new(config: &DiscordConfig) -> Self {
        Self {
            http: Arc::new(http_builder(config).build()),
        }
    }
}

fn parse_id(text: &str, what: &str) -> Result<u64, SendError> {
    text.parse::<u64>()
        .ok()
        .filter(|id| *id != 0)
        .ok_or_else(|| SendError::Permanent(format!("{what} {text:?} is not a Discord id")))
}

fn classify(error: serenity::Error) -> SendError {
    use serenity::http::HttpError;
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            let status = response.status_code.as_u16();
            if status == 429 {
                // Only reached in proxy mode; serenity's ratelimiter waits out
                // 429s itself otherwise. The error carries no `retry_after`, so
                // wait one full bucket window (Discord's are at most 5 s).
                return SendError::RateLimited {
                    retry_after: PROXY_MODE_RETRY_AFTER,
                    detail: format!("Discord answered 429: {}", response.error.message),
                };
            }
            let detail = format!(
                "Discord answered HTTP {status}: {} (code {})",
                response.error.message, response.error.code
            );
            if status_is_transient(status) {
                SendError::Transient(detail)
            } else {
                SendError::Permanent(detail)
            }
        }
        serenity::Error::Http(HttpError::Request(error)) => {
            SendError::Transient(format!("Discord unreachable: {}", error.without_url()))
        }
        other => SendError::Transient(format!("Discord call failed: {other}")),
    }
}

/// The Discord error code of "Unknown Channel".
/// A message's body with its `nonce`, enforced: a retry after a lost
/// answer returns the message the first try created.
fn with_nonce(message: &Outbound<'_>) -> serde_json::Value {
    let mut body = message.payload.clone();
    let nonce: String = message.idempotency_key.chars().take(MAX_NONCE).collect();
    body["nonce"] = nonce.into();
    body["enforce_nonce"] = true.into();
    body
}

const UNKNOWN_CHANNEL: isize = 10003;
/// The Discord error code of "A thread has already been created for this message".
const THREAD_EXISTS: isize = 160_004;
/// Discord's thread name limit.
const MAX_THREAD_NAME: usize = 100;

/// The JSON error code of a failed call, when Discord gave one.
fn error_code(error: &serenity::Error) -> Option<isize> {
    match error {
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(response)) => {
            Some(response.error.code)
        }
        _ => None,
    }
}

impl Discord {
    /// Posts `body` in the thread of message `message_id` of `channel`,
    /// starting the thread if it has none. `None` when the channel allows
    /// no threads (a DM, missing permission): the caller replies instead.
    async fn post_in_thread(
        &self,
        channel: ChannelId,
        message_id: &str,
        body: &serde_json::Value,
        name: &str,
    ) -> Result<Option<serenity::model::channel::Message>, SendError> {
        // A thread started from a message has the message's id.
        let thread = ChannelId::new(parse_id(message_id, "message_id")?);
        match self.http.send_message(thread, Vec::new(), body).await {
            Ok(posted) => return Ok(Some(posted)),
            Err(error) if error_code(&error) == Some(UNKNOWN_CHANNEL) => {}
            Err(error) => return Err(classify(error)),
        }
        let name: String = name.chars().take(MAX_THREAD_NAME).collect();
        let started = self
            .http
            .create_thread_from_message(
                channel,
                MessageId::new(parse_id(message_id, "message_id")?),
                &serde_json::json!({ "name": name, "auto_archive_duration": 10080 }),
                None,
            )
            .await;
        match started {
            // A thread channel we cannot read back was still started.
            Ok(_) | Err(serenity::Error::Json(_)) => {}
            Err(error) if error_code(&error) == Some(THREAD_EXISTS) => {}
            Err(error) => {
                let classified = classify(error);
                return match classified {
                    SendError::Permanent(_) => Ok(None),
                    other => Err(other),
                };
            }
        }
        self.http
            .send_message(thread, Vec::new(), body)
            .await
            .map(Some)
            .map_err(classify)
    }
}

#[async_trait]
impl Chat for Discord {
    fn threads(&self) -> bool {
        true
    }

    async fn post(
        &self,
        destination: &Destination,
        message: &Outbound<'_>,
    ) -> Result<MessageRef, SendError> {
        let Destination::Discord(target) = destination else {
            return Err(SendError::Permanent("not a Discord destination".to_owned()));
        };
        let channel = ChannelId::new(parse_id(&target.channel_id, "channel_id")?);
        let mut body = with_nonce(message);
        let reply_to = message.reply_to.as_ref().and_then(MessageRef::decode);
        if let Some(DiscordMessage::Discord { message_id, .. }) = &reply_to {
            if !message.linked
                && let Some(posted) = self
                    .post_in_thread(channel, message_id, &body, &message.card.title)
                    .await?
            {
                return Ok(MessageRef::new(&DiscordMessage::Discord {
                    channel_id: posted.channel_id.get().to_string(),
                    message_id: posted.id.get().to_string(),
                }));
            }
            // A linked card, or no threads here: a reply, which links the message.
            body["message_reference"] =
                serde_json::json!({ "message_id": message_id, "fail_if_not_exists": false });
        }
        let posted = self
            .http
            .send_message(channel, Vec::new(), &body)
            .await
            .map_err(classify)?;
        Ok(MessageRef::new(&DiscordMessage::Discord {
            channel_id: posted.channel_id.get().to_string(),
            message_id: posted.id.get().to_string(),
        }))
    }

    /// One message: the card's embed shows the chart, sent as the
    /// message's attachment (`files[0]`, `attachment://NAME`).
    async fn post_image(
        &self,
        destination: &Destination,
        message: &Outbound<'_>,
        image: &Image,
    ) -> Result<Posted, SendError> {
        let Destination::Discord(target) = destination else {
            return Err(SendError::Permanent("not a Discord destination".to_owned()));
        };
        let channel = ChannelId::new(parse_id(&target.channel_id, "channel_id")?);
        let mut body = with_nonce(message);
        if let Some(embed) = body
            .get_mut("embeds")
            .and_then(|e| e.as_array_mut())
            .and_then(|e| e.first_mut())
        {
            embed["image"] =
                serde_json::json!({ "url": format!("attachment://{}", image.filename) });
        }
        let file =
            serenity::builder::CreateAttachment::bytes(image.png.clone(), image.filename.clone());
        let posted = self
            .http
            .send_message(channel, vec![file], &body)
            .await
            .map_err(classify)?;
        let card = MessageRef::new(&DiscordMessage::Discord {
            channel_id: posted.channel_id.get().to_string(),
            message_id: posted.id.get().to_string(),
        });
        Ok(Posted {
            image: Ok(Some(card.clone())),
            card,
        })
    }

    async fn edit(
        &self,
        message_ref: &MessageRef,
        message: &Outbound<'_>,
    ) -> Result<(), SendError> {
        let Some(DiscordMessage::Discord {
            channel_id,
            message_id,
        }) = message_ref.decode()
        else {
            return Err(SendError::Permanent("not a Discord message".to_owned()));
        };
        self.http
            .edit_message(
                ChannelId::new(parse_id(&channel_id, "channel_id")?),
                MessageId::new(parse_id(&message_id, "message_id")?),
                &message.payload,
                Vec::new(),
            )
            .await
            .map_err(classify)?;
        Ok(())
    }
}
