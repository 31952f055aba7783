//! Fan-out: one card to every subscriber of a Telegram topic (a receiver
//! `telegram = { subscribers = "TOPIC" }`), each chat at its own pace,
//! resuming after a failure without sending any chat the card twice.

use crate::chat::telegram::TelegramMessage;
use crate::chat::{Chat, MessageRef, Outbound, SendError};
use crate::config::{Destination, TelegramTarget};
use crate::store::StoreError;

use super::Deliverer;

impl Deliverer {
    /// Sends one card to every subscriber of a Telegram topic, each chat at
    /// its own pace, skipping those a previous try already reached. A
    /// subscriber who blocked the bot is given up on; any other failure
    /// stops here, to be retried for the remaining subscribers. `None` when
    /// the topic has no subscribers.
    pub(super) async fn fan_out(
        &self,
        chat: &dyn Chat,
        target: &TelegramTarget,
        topic: &str,
        delivery_id: i64,
        message: &Outbound<'_>,
    ) -> Result<Option<Result<MessageRef, SendError>>, StoreError> {
        let budgets = self.budgets(&self.live.snapshot());
        let subscribers = self.store.subscribers(topic).await?;
        if subscribers.is_empty() {
            return Ok(None);
        }
        let done = self.store.fanout_done(delivery_id).await?;
        let mut sent = 0u32;
        for chat_id in subscribers.into_iter().filter(|c| !done.contains(c)) {
            let destination = Destination::Telegram(TelegramTarget {
                chat_id: Some(chat_id),
                message_thread_id: target.message_thread_id,
                subscribers: None,
            });
            let budget = budgets.for_destination(&destination);
            let permit = match &budget {
                Some(budget) => Some(budget.acquire().await),
                None => None,
            };
            let posted = chat.post(&destination, message).await;
            drop(permit);
            match posted {
                Ok(_) => {
                    self.store
                        .record_fanout(delivery_id, chat_id, "sent")
                        .await?;
                    sent += 1;
                }
                Err(SendError::Permanent(error)) => {
                    tracing::warn!(topic, error = %error, "delivery: a subscriber cannot be reached; skipped");
                    self.store
                        .record_fanout(delivery_id, chat_id, &format!("refused: {error}"))
                        .await?;
                }
                Err(other) => return Ok(Some(Err(other))),
            }
        }
        Ok(Some(Ok(MessageRef::new(&TelegramMessage::TelegramTopic {
            topic: topic.to_owned(),
            sent,
        }))))
    }
}
