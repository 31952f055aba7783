//! A generic JSON webhook (Mattermost, Teams or Zulip bridges): POSTs the
//! card's text and the card itself; no chat platform needed.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Chat, MessageRef, Outbound, SendError, status_is_transient};
use crate::config::Destination;

/// The reference of a POST to a webhook (it cannot be edited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "platform", rename_all = "snake_case")]
pub enum WebhookMessage {
    /// What the webhook answered.
    Webhook {
        /// The HTTP status it answered.
        status: u16,
    },
}

/// How long a webhook may take to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The generic webhook adapter: POSTs `{"text": …, "card": …}` as JSON.
pub struct Webhook {
    http: reqwest::Client,
}

impl Webhook {
    /// A client with a 10 s timeout.
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(WEBHOOK_TIMEOUT)
                .build()
                .unwrap_or_default(),
        }
    }
}

impl Default for Webhook {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Chat for Webhook {
    async fn post(
        &self,
        destination: &Destination,
        message: &Outbound<'_>,
    ) -> Result<MessageRef, SendError> {
        let Destination::Webhook(target) = destination else {
            return Err(SendError::Permanent("not a webhook destination".to_owned()));
        };
        let body = json!({
            "text": message.payload.as_str().unwrap_or_default(),
            "card": message.card,
            "idempotency_key": message.idempotency_key,
        });
        let response = self
            .http
            .post(&target.url)
            .header("Idempotency-Key", &message.idempotency_key)
            .json(&body)
            .send()
            .await
            // The URL can carry a token (Mattermost, Zulip): never put it in an error.
            .map_err(|e| {
                SendError::Transient(format!("webhook unreachable: {}", e.without_url()))
            })?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(MessageRef::new(&WebhookMessage::Webhook { status }));
        }
        if status == 429 {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map_or(Duration::from_secs(1), Duration::from_secs_f64);
            return Err(SendError::RateLimited {
                retry_after,
                detail: "the webhook answered 429".to_owned(),
            });
        }
        let detail = format!("the webhook answered HTTP {status}");
        Err(if status_is_transient(status) {
            SendError::Transient(detail)
        } else {
            SendError::Permanent(detail)
        })
    }

    async fn edit(&self, _: &MessageRef, _: &Outbound<'_>) -> Result<(), SendError> {
        Err(SendError::Permanent(
            "a generic webhook cannot edit what it posted".to_owned(),
        ))
    }
}
