//! Telegram: its HTML renderer ([`render`]), its sender through teloxide
//! (`sendMessage` with HTML and an inline keyboard, `message_thread_id` for
//! forum topics, a reply for digest members; `editMessageText`), and its
//! inbound side ([`inbound`]: updates from the webhook or long polling,
//! parsed into clicks and commands).
//!
//! Telegram's flood wait (`parameters.retry_after`) arrives as teloxide's
//! `RetryAfter` and becomes [`SendError::RateLimited`]. Error texts are
//! scrubbed of the bot token, which Telegram's URLs carry.

use async_trait::async_trait;
use teloxide::ApiError;
use teloxide::RequestError;
use teloxide::payloads::{EditMessageTextSetters, SendMessageSetters, SendPhotoSetters};
use teloxide::prelude::Requester;
use teloxide::types::{
    ChatId, InlineKeyboardMarkup, LinkPreviewOptions, MessageId, ParseMode, ReplyParameters,
    ThreadId,
};

pub mod inbound;
pub mod render;

use serde::{Deserialize, Serialize};

use super::{Chat, Image, MessageRef, Outbound, Posted, SendError, scrub};
use crate::config::{Destination, TelegramConfig};

/// Longest photo caption, characters (Bot API `sendPhoto`).
pub const MAX_CAPTION: usize = 1024;

/// Where a Telegram card lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "platform", rename_all = "snake_case")]
pub enum TelegramMessage {
    /// A message in one chat.
    Telegram {
        /// Chat id.
        chat_id: i64,
        /// Message id.
        message_id: i32,
    },
    /// A card fanned out to every subscriber of a topic.
    TelegramTopic {
        /// The topic.
        topic: String,
        /// How many subscribers got it in the try that finished the fan-out.
        sent: u32,
    },
}

/// The Telegram adapter.
pub struct Telegram {
    bot: teloxide::Bot,
    token: String,
}

impl Telegram {
    /// The adapter, when `[telegram]` has a bot token.
    pub fn from_config(config: &TelegramConfig) -> Result<Option<Self>, url::ParseError> {
        match config.bot_token {
            Some(_) => Self::new(config).map(Some),
            None => Ok(None),
        }
    }

    /// A bot for `config`'s API server and token.
    pub fn new(config: &TelegramConfig) -> Result<Self, url::ParseError> {
        let token = config
            .bot_token
            .as_ref()
            .map(|t| t.expose().to_owned())
            .unwrap_or_default();
        let api_url = reqwest::Url::parse(&config.api_base_url)?;
        Ok(Self {
            bot: teloxide::Bot::new(token.clone()).set_api_url(api_url),
            token,
        })
    }

    fn classify(&self, error: RequestError) -> SendError {
        match error {
            RequestError::RetryAfter(seconds) => SendError::RateLimited {
                retry_after: seconds.duration(),
                detail: "Telegram asked to wait (flood control)".to_owned(),
            },
            RequestError::MigrateToChatId(chat) => SendError::Permanent(format!(
                "the group became supergroup {}; set chat_id = {} in bot.toml",
                chat.0, chat.0
            )),
            RequestError::Api(ApiError::Unknown(text)) => {
                let text = scrub(&text, &self.token);
                if text.starts_with("Bad Request") || text.starts_with("Forbidden") {
                    SendError::Permanent(format!("Telegram refused the message: {text}"))
                } else {
                    SendError::Transient(format!("Telegram error: {text}"))
                }
            }
            RequestError::Api(api) => SendError::Permanent(format!(
                "Telegram refused the message: {}",
                scrub(&api.to_string(), &self.token)
            )),
            other => SendError::Transient(format!(
                "Telegram unreachable: {}",
                scrub(&other.to_string(), &self.token)
            )),
        }
    }
}

/// Answers a look-up in the chat it was asked in, as a reply to the
/// command: the card with its buttons, or a sentence. Waits out one flood
/// limit, as a person typing faster than the chat allows would.
pub(crate) async fn reply(
    bot: &teloxide::Bot,
    chat_id: i64,
    thread: Option<i64>,
    reply_to: Option<i64>,
    answer: &crate::chat::LookupAnswer,
) -> Result<(), RequestError> {
    let (text, keyboard, preview) = match answer {
        crate::chat::LookupAnswer::Text(text) => {
            (crate::render::text::escape_html(text), None, None)
        }
        crate::chat::LookupAnswer::Card(card) => {
            let payload = render::render(card);
            let out = Outbound {
                payload,
                card,
                idempotency_key: String::new(),
                reply_to: None,
                linked: false,
            };
            let parts = parts(&out).map_err(|e| {
                RequestError::Api(ApiError::Unknown(format!("the card does not fit: {e}")))
            })?;
            (parts.text, parts.keyboard, parts.preview)
        }
    };
    let parts = Parts {
        text,
        keyboard,
        preview,
    };
    let reply_to = reply_to.and_then(|m| i32::try_from(m).ok());
    let send = || send_message(bot, chat_id, &parts, thread, reply_to);
    match send().await {
        Err(RequestError::RetryAfter(wait)) => {
            tokio::time::sleep(wait.duration()).await;
            send().await.map(|_| ())
        }
        other => other.map(|_| ()),
    }
}

/// The `sendMessage` of a card's parts in a chat, in a forum topic
/// (`thread`) and as a reply to a message, when given.
fn send_message(
    bot: &teloxide::Bot,
    chat_id: i64,
    parts: &Parts,
    thread: Option<i64>,
    reply_to: Option<i32>,
) -> teloxide::requests::JsonRequest<teloxide::payloads::SendMessage> {
    let mut request = bot
        .send_message(ChatId(chat_id), parts.text.clone())
        .parse_mode(ParseMode::Html);
    if let Some(keyboard) = parts.keyboard.clone() {
        request = request.reply_markup(keyboard);
    }
    if let Some(preview) = parts.preview.clone() {
        request = request.link_preview_options(preview);
    }
    if let Some(thread) = thread.and_then(|t| i32::try_from(t).ok()) {
        request = request.message_thread_id(ThreadId(MessageId(thread)));
    }
    if let Some(message_id) = reply_to {
        let mut reply = ReplyParameters::new(MessageId(message_id));
        reply.allow_sending_without_reply = Some(true);
        request = request.reply_parameters(reply);
    }
    request
}

/// The parts of a rendered Telegram payload.
struct Parts {
    text: String,
    keyboard: Option<InlineKeyboardMarkup>,
    preview: Option<LinkPreviewOptions>,
}

fn parts(message: &Outbound<'_>) -> Result<Parts, SendError> {
    let payload = &message.payload;
    let text = payload
        .get("text")
        .and_then(|t| t.as_str())
        .unwrap_or_default()
        .to_owned();
    let keyboard = match payload.get("reply_markup") {
        Some(markup) => Some(serde_json::from_value(markup.clone()).map_err(|e| {
            SendError::Permanent(format!(
                "the card's keyboard does not fit Telegram's model: {e}"
            ))
        })?),
        None => None,
    };
    let preview = payload
        .get("link_preview_options")
        .and_then(|p| serde_json::from_value(p.clone()).ok());
    Ok(Parts {
        text,
        keyboard,
        preview,
    })
}

#[async_trait]
impl Chat for Telegram {
    fn threads(&self) -> bool {
        true
    }

    async fn post(
        &self,
        destination: &Destination,
        message: &Outbound<'_>,
    ) -> Result<MessageRef, SendError> {
        let Destination::Telegram(target) = destination else {
            return Err(SendError::Permanent(
                "not a Telegram destination".to_owned(),
            ));
        };
        let Some(chat_id) = target.chat_id else {
            return Err(SendError::Permanent(
                "subscriber topics are sent per subscriber".to_owned(),
            ));
        };
        let parts = parts(message)?;
        let reply_to = match message.reply_to.as_ref().and_then(MessageRef::decode) {
            Some(TelegramMessage::Telegram { message_id, .. }) => Some(message_id),
            _ => None,
        };
        let sent = send_message(
            &self.bot,
            chat_id,
            &parts,
            target.message_thread_id,
            reply_to,
        )
        .await
        .map_err(|e| self.classify(e))?;
        Ok(MessageRef::new(&TelegramMessage::Telegram {
            chat_id: sent.chat.id.0,
            message_id: sent.id.0,
        }))
    }

    /// The card, then the chart with `sendPhoto` as a reply to it (a
    /// photo's caption is limited to 1,024 characters; the card is not).
    async fn post_image(
        &self,
        destination: &Destination,
        message: &Outbound<'_>,
        image: &Image,
    ) -> Result<Posted, SendError> {
        let card = self.post(destination, message).await?;
        let Some(TelegramMessage::Telegram {
            chat_id,
            message_id,
        }) = card.decode()
        else {
            return Ok(Posted::card_only(card, "not a chat message"));
        };
        let mut reply = ReplyParameters::new(MessageId(message_id));
        reply.allow_sending_without_reply = Some(true);
        let caption: String = image.title.chars().take(MAX_CAPTION).collect();
        let sent = self
            .bot
            .send_photo(
                ChatId(chat_id),
                teloxide::types::InputFile::memory(image.png.clone())
                    .file_name(image.filename.clone()),
            )
            .caption(caption)
            .reply_parameters(reply)
            .await;
        let image = match sent {
            Ok(sent) => Ok(Some(MessageRef::new(&TelegramMessage::Telegram {
                chat_id: sent.chat.id.0,
                message_id: sent.id.0,
            }))),
            Err(error) => Err(format!("sendPhoto: {}", self.classify(error))),
        };
        Ok(Posted { card, image })
    }

    async fn edit(
        &self,
        message_ref: &MessageRef,
        message: &Outbound<'_>,
    ) -> Result<(), SendError> {
        let Some(TelegramMessage::Telegram {
            chat_id,
            message_id,
        }) = message_ref.decode()
        else {
            return Err(SendError::Permanent("not a Telegram message".to_owned()));
        };
        let parts = parts(message)?;
        let mut request = self
            .bot
            .edit_message_text(ChatId(chat_id), MessageId(message_id), parts.text)
            .parse_mode(ParseMode::Html);
        if let Some(keyboard) = parts.keyboard {
            request = request.reply_markup(keyboard);
        }
        if let Some(preview) = parts.preview {
            request = request.link_preview_options(preview);
        }
        match request.await {
            // The card already shows this: nothing to change is not a failure.
            Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
            Err(error) => Err(self.classify(error)),
        }
    }
}
