//! Slack: its Block Kit renderer ([`render`]), its sender through
//! slack-morphism (`chat.postMessage` with thread replies by `thread_ts`,
//! `chat.update`, and the notify-only incoming-webhook mode), and its
//! inbound side ([`inbound`]: signed interactivity requests and Socket
//! Mode payloads, parsed into clicks).
//!
//! The rendered Block Kit JSON is read into slack-morphism's typed blocks,
//! so a payload the crate's model cannot express is caught here rather than
//! by Slack. Slack's `Retry-After` comes back as [`SendError::RateLimited`].

use async_trait::async_trait;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

pub mod inbound;
pub mod render;

use serde::{Deserialize, Serialize};

use super::{Chat, Image, MessageRef, Outbound, Posted, SendError, status_is_transient};
use crate::config::{Destination, SlackConfig};

pub use inbound::sign;

/// Where a Slack card lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "platform", rename_all = "snake_case")]
pub enum SlackMessage {
    /// Posted with the bot token: editable, and a thread parent.
    Slack {
        /// Channel id.
        channel: String,
        /// Message timestamp.
        ts: String,
    },
    /// Posted through an incoming webhook (cannot be edited).
    SlackWebhook,
}

type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;

/// The Slack adapter.
pub struct Slack {
    client: SlackClient<Connector>,
    token: Option<SlackApiToken>,
    incoming_webhook: Option<url::Url>,
}

impl Slack {
    /// The adapter, when `[slack]` has a bot token or an incoming webhook.
    pub fn from_config(config: &SlackConfig) -> std::io::Result<Option<Self>> {
        if config.bot_token.is_none() && config.incoming_webhook_url.is_none() {
            return Ok(None);
        }
        Self::new(config).map(Some)
    }

    /// A client for `config`'s API base URL and credentials.
    pub fn new(config: &SlackConfig) -> std::io::Result<Self> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let connector = SlackClientHyperConnector::with_connector(https)
            .with_slack_api_url(&config.api_base_url);
        let incoming_webhook = config
            .incoming_webhook_url
            .as_ref()
            .and_then(|url| url::Url::parse(url.expose()).ok());
        Ok(Self {
            client: SlackClient::new(connector),
            token: config
                .bot_token
                .as_ref()
                .map(|t| SlackApiToken::new(SlackApiTokenValue::new(t.expose().to_owned()))),
            incoming_webhook,
        })
    }

    fn content(message: &Outbound<'_>) -> Result<SlackMessageContent, SendError> {
        let text = message.payload.get("text").and_then(|t| t.as_str());
        let blocks: Option<Vec<SlackBlock>> = match message.payload.get("blocks") {
            Some(blocks) => Some(serde_json::from_value(blocks.clone()).map_err(|e| {
                SendError::Permanent(format!(
                    "the card's Block Kit does not fit Slack's model: {e}"
                ))
            })?),
            None => None,
        };
        Ok(SlackMessageContent::new()
            .opt_text(text.map(str::to_owned))
            .opt_blocks(blocks))
    }
}

impl Slack {
    /// Uploads a PNG and shares it in `channel` (see [`Chat::post_image`]).
    async fn upload(
        &self,
        token: &SlackApiToken,
        channel: &str,
        image: &Image,
    ) -> Result<MessageRef, String> {
        let session = self.client.open_session(token);
        let target = session
            .get_upload_url_external(&SlackApiFilesGetUploadUrlExternalRequest::new(
                image.filename.clone(),
                image.png.len(),
            ))
            .await
            .map_err(|e| format!("files.getUploadURLExternal: {}", classify(e)))?;
        // The upload URL takes the raw bytes (Slack answers "OK - <length>").
        let uploaded = reqwest::Client::new()
            .post(target.upload_url.value().clone())
            .header("content-type", "image/png")
            .body(image.png.clone())
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| format!("uploading the file: {}", e.without_url()))?;
        if !uploaded.status().is_success() {
            return Err(format!(
                "uploading the file: Slack answered HTTP {}",
                uploaded.status()
            ));
        }
        session
            .files_complete_upload_external(
                &SlackApiFilesCompleteUploadExternalRequest::new(vec![
                    SlackApiFilesComplete::new(target.file_id.clone())
                        .with_title(image.title.clone()),
                ])
                .with_channel_id(SlackChannelId::new(channel.to_owned())),
            )
            .await
            .map_err(|e| format!("files.completeUploadExternal: {}", classify(e)))?;
        Ok(MessageRef::new(&serde_json::json!({
            "platform": "slack_file",
            "file_id": target.file_id.to_string(),
        })))
    }
}

/// Maps a slack-morphism error to what the outbox does next.
fn classify(error: SlackClientError) -> SendError {
    match error {
        SlackClientError::RateLimitError(limit) => SendError::RateLimited {
            retry_after: limit
                .retry_after
                .unwrap_or(std::time::Duration::from_secs(1)),
            detail: "Slack answered 429".to_owned(),
        },
        SlackClientError::ApiError(api) => match api.code.as_str() {
            // Slack's own transient codes.
            "ratelimited" => SendError::RateLimited {
                retry_after: std::time::Duration::from_secs(1),
                detail: "Slack answered ratelimited".to_owned(),
            },
            "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
                SendError::Transient(format!("Slack error: {}", api.code))
            }
            code => SendError::Permanent(format!("Slack refused the message: {code}")),
        },
        SlackClientError::HttpError(http) if status_is_transient(http.status_code.as_u16()) => {
            SendError::Transient(format!("Slack answered HTTP {}", http.status_code))
        }
        SlackClientError::HttpError(http) => {
            SendError::Permanent(format!("Slack answered HTTP {}", http.status_code))
        }
        other => SendError::Transient(format!("Slack unreachable: {other}")),
    }
}

#[async_trait]
impl Chat for Slack {
    fn threads(&self) -> bool {
        self.token.is_some()
    }

    async fn post(
        &self,
        destination: &Destination,
        message: &Outbound<'_>,
    ) -> Result<MessageRef, SendError> {
        let Destination::Slack(target) = destination else {
            return Err(SendError::Permanent("not a Slack destination".to_owned()));
        };
        let content = Self::content(message)?;
        let Some(token) = &self.token else {
            let Some(url) = &self.incoming_webhook else {
                return Err(SendError::Permanent(
                    "no [slack] bot_token or incoming_webhook_url".to_owned(),
                ));
            };
            self.client
                .post_webhook_message(url, &SlackApiPostWebhookMessageRequest::new(content))
                .await
                .map_err(classify)?;
            return Ok(MessageRef::new(&SlackMessage::SlackWebhook));
        };
        let thread_ts = match message.reply_to.as_ref().and_then(MessageRef::decode) {
            Some(SlackMessage::Slack { ts, .. }) => Some(SlackTs::new(ts)),
            _ => None,
        };
        let request = SlackApiChatPostMessageRequest::new(
            SlackChannelId::new(target.channel.clone()),
            content,
        )
        .opt_thread_ts(thread_ts.clone())
        // A linked card goes to the channel too, showing the thread it answers.
        .opt_reply_broadcast(thread_ts.and(message.linked.then_some(true)))
        .with_unfurl_links(false)
        .with_unfurl_media(false);
        let response = self
            .client
            .open_session(token)
            .chat_post_message(&request)
            .await
            .map_err(classify)?;
        Ok(MessageRef::new(&SlackMessage::Slack {
            channel: response.channel.to_string(),
            ts: response.ts.to_string(),
        }))
    }

    /// The card, then the chart through Slack's upload flow:
    /// `files.getUploadURLExternal`, the bytes to the URL it gives, and
    /// `files.completeUploadExternal` to share it in the card's channel.
    async fn post_image(
        &self,
        destination: &Destination,
        message: &Outbound<'_>,
        image: &Image,
    ) -> Result<Posted, SendError> {
        let card = self.post(destination, message).await?;
        let (Some(SlackMessage::Slack { channel, .. }), Some(token)) = (card.decode(), &self.token)
        else {
            return Ok(Posted::card_only(
                card,
                "an incoming webhook takes no files",
            ));
        };
        let image = self.upload(token, &channel, image).await.map(Some);
        Ok(Posted { card, image })
    }

    async fn edit(
        &self,
        message_ref: &MessageRef,
        message: &Outbound<'_>,
    ) -> Result<(), SendError> {
        let (Some(SlackMessage::Slack { channel, ts }), Some(token)) =
            (message_ref.decode(), &self.token)
        else {
            return Err(SendError::Permanent(
                "only messages posted with the bot token can be edited".to_owned(),
            ));
        };
        let request = SlackApiChatUpdateRequest::new(
            SlackChannelId::new(channel),
            Self::content(message)?,
            SlackTs::new(ts),
        );
        self.client
            .open_session(token)
            .chat_update(&request)
            .await
            .map_err(classify)?;
        Ok(())
    }
}
