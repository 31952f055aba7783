//! Standard output, and a generic JSON webhook (Mattermost, Teams or Zulip
//! bridges): the two destinations that need no chat platform.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::chat::{Chat, MessageRef, Outbound, SendError, status_is_transient};
use crate::routing::Destination;

/// Where console cards are written.
pub type ConsoleOutput = Arc<Mutex<Box<dyn Write + Send>>>;

/// The console adapter: one card per block of lines, then a blank line.
pub struct Console {
    out: ConsoleOutput,
}

impl Console {
    /// Writes to standard output.
    pub fn stdout() -> Self {
        Self::new(Arc::new(Mutex::new(Box::new(std::io::stdout()))))
    }

    /// Writes to `out`.
    pub fn new(out: ConsoleOutput) -> Self {
        Self { out }
    }

    fn write(&self, text: &str) -> Result<(), SendError> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| SendError::Transient("console output is poisoned".to_owned()))?;
        writeln!(out, "{}", text.trim_end())
            .and_then(|()| writeln!(out))
            .and_then(|()| out.flush())
            .map_err(|e| SendError::Transient(format!("cannot write to standard output: {e}")))
    }
}

#[async_trait]
impl Chat for Console {
    async fn post(&self, _: &Destination, message: &Outbound<'_>) -> Result<MessageRef, SendError> {
        self.write(message.payload.as_str().unwrap_or_default())?;
        Ok(MessageRef::Console)
    }

    async fn edit(&self, _: &MessageRef, message: &Outbound<'_>) -> Result<(), SendError> {
        self.write(message.payload.as_str().unwrap_or_default())
    }
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
            return Ok(MessageRef::Webhook { status });
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
