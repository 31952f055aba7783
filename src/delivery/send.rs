//! One message out of a queue: its card (an event's, or a digest's), the
//! send (or the Telegram fan-out), and what the outcome means for the
//! outbox row — sent, retried later, or a dead letter.

use std::sync::Arc;

use crate::chat::{Chat, MessageRef, Outbound, SendError};
use crate::config::{Destination, Receiver, Snapshot};
use crate::render::Card;
use crate::render::digest::{self, Digest, Followup, PAGE_LINES};
use crate::store::{OutboxItem, OutboxKey, StoreError, now_ms};

use super::{Budget, Deliverer, backoff, idempotency_key};

/// Folded events read per query while a digest is summed up.
const DIGEST_PAGE: u32 = 500;

impl Deliverer {
    /// Sends one message and records what happened.
    pub(super) async fn send(
        &self,
        snapshot: &Snapshot,
        receiver: &Receiver,
        budget: Option<&Budget>,
        item: OutboxItem,
    ) -> Result<(), StoreError> {
        let kind = receiver.destination.platform().name();
        let Some(chat) = self.chats.for_destination(&receiver.destination).cloned() else {
            let error = format!("no [{kind}] credentials in bot.toml");
            self.store
                .mark_final(item.key, "dead", item.attempts, &error)
                .await?;
            return Ok(());
        };
        // A card of a case on a destination that can edit: the case decides.
        if let (Some(case_key), OutboxKey::Delivery(_)) = (item.case_key.clone(), item.key)
            && chat.edits()
            && !is_fan_out(&receiver.destination)
        {
            return self
                .send_case(snapshot, receiver, budget, &chat, item, &case_key)
                .await;
        }
        // A digest on a chat without threads: every event listed, in pages.
        if let OutboxKey::Digest(digest_id) = item.key
            && !chat.threads()
        {
            return self
                .send_listed_digest(snapshot, receiver, budget, &chat, item, digest_id)
                .await;
        }
        let Some((card, idempotency_key)) =
            self.card(snapshot, receiver, budget, &chat, &item).await?
        else {
            return Ok(());
        };
        let _permit = match budget {
            Some(budget) => Some(budget.acquire().await),
            None => None,
        };
        let message = Outbound {
            payload: crate::chat::render(receiver.destination.platform(), &card),
            card: &card,
            idempotency_key,
            reply_to: item.reply_to.as_deref().and_then(MessageRef::from_json),
            linked: false,
        };
        let outcome = match (&receiver.destination, item.key) {
            (Destination::Telegram(target), OutboxKey::Delivery(delivery_id))
                if target.chat_id.is_none() =>
            {
                let topic = target.subscribers.as_deref().unwrap_or_default();
                match self
                    .fan_out(chat.as_ref(), target, topic, delivery_id, &message)
                    .await?
                {
                    Some(outcome) => outcome,
                    None => {
                        self.store
                            .mark_final(
                                item.key,
                                "skipped",
                                item.attempts,
                                &format!("topic {topic:?} has no subscribers"),
                            )
                            .await?;
                        return Ok(());
                    }
                }
            }
            _ => chat.post(&receiver.destination, &message).await,
        };
        self.record(snapshot, receiver, &item, outcome, chat.threads())
            .await
    }

    /// Sends a digest on a chat without threads: its card, then every
    /// folded event listed, [`PAGE_LINES`] per message. Each message sent
    /// is recorded, so that a retry resumes after the last one.
    async fn send_listed_digest(
        &self,
        snapshot: &Snapshot,
        receiver: &Receiver,
        budget: Option<&Budget>,
        chat: &Arc<dyn Chat>,
        item: OutboxItem,
        digest_id: i64,
    ) -> Result<(), StoreError> {
        let platform = receiver.destination.platform();
        let pages = usize::try_from(item.item_count)
            .unwrap_or(0)
            .div_ceil(PAGE_LINES)
            .max(1);
        let (mut sent, mut after) = self.store.digest_progress(digest_id).await?;
        let mut last: Option<MessageRef> = None;
        loop {
            let card = if sent == 0 {
                match self.card(snapshot, receiver, budget, chat, &item).await? {
                    Some((card, _)) => card,
                    None => return Ok(()),
                }
            } else {
                let page = self
                    .store
                    .digest_events(digest_id, after, PAGE_LINES as u32)
                    .await?;
                let Some((last_id, _)) = page.last() else {
                    break;
                };
                let lines: Vec<String> = page
                    .iter()
                    .map(|(_, stored)| match stored.view() {
                        Ok(view) => digest::line(&view, &receiver.redaction),
                        Err(_) => {
                            format!("{} · {}", stored.event.event_id, stored.event.event_type)
                        }
                    })
                    .collect();
                after = *last_id;
                digest::page_card(digest_id, sent as usize, pages, &lines)
            };
            let message = Outbound {
                payload: crate::chat::render(platform, &card),
                card: &card,
                idempotency_key: idempotency_key(
                    "g",
                    &receiver.name,
                    &format!("{digest_id}.{sent}"),
                ),
                reply_to: None,
                linked: false,
            };
            let permit = match budget {
                Some(budget) => Some(budget.acquire().await),
                None => None,
            };
            let posted = chat.post(&receiver.destination, &message).await;
            drop(permit);
            match posted {
                Ok(reference) => last = Some(reference),
                Err(error) => {
                    return self
                        .record(snapshot, receiver, &item, Err(error), false)
                        .await;
                }
            }
            sent += 1;
            self.store
                .set_digest_progress(digest_id, sent, after)
                .await?;
        }
        // Resumed after its last page: every message is out already.
        let done = last.unwrap_or_else(|| {
            MessageRef::new(
                &serde_json::json!({ "platform": platform.name(), "digest": digest_id }),
            )
        });
        self.record(snapshot, receiver, &item, Ok(done), false)
            .await
    }

    /// The card of a queue item and its idempotency key; `None` when there
    /// is nothing to send (the item is then recorded as a dead letter).
    async fn card(
        &self,
        snapshot: &Snapshot,
        receiver: &Receiver,
        budget: Option<&Budget>,
        chat: &Arc<dyn Chat>,
        item: &OutboxItem,
    ) -> Result<Option<(Card, String)>, StoreError> {
        let kind = receiver.destination.platform().name();
        match (&item.key, &item.event) {
            (OutboxKey::Digest(id), _) => {
                // Summed up page by page: a digest of any size in bounded memory.
                let mut digest = Digest::new(
                    &receiver.redaction,
                    snapshot.config.delivery.digest_top_items,
                );
                let mut after = 0;
                loop {
                    let page = self.store.digest_events(*id, after, DIGEST_PAGE).await?;
                    for (_, stored) in &page {
                        if let Ok(view) = stored.view() {
                            digest.add(&view);
                        }
                    }
                    match page.last() {
                        Some((last, _)) if page.len() == DIGEST_PAGE as usize => after = *last,
                        _ => break,
                    }
                }
                let followup = if chat.threads() {
                    Followup::Thread
                } else {
                    Followup::Listed
                };
                let pace = budget.map_or_else(String::new, Budget::describe);
                let card = digest.card(*id, &pace, followup);
                let key = idempotency_key("g", &receiver.name, &id.to_string());
                Ok(Some((card, key)))
            }
            (OutboxKey::Delivery(delivery_id), Some(stored)) => {
                // The event is parsed once here; its card and its buttons share the view.
                let rendered = match stored.view() {
                    Ok(mut view) => {
                        // A card that cannot be edited later waits for Stripe's details once.
                        if let super::enrich::Enriched::Late(read) =
                            self.enrich(snapshot, &mut view).await
                        {
                            read.abort();
                        }
                        snapshot
                            .config
                            .card_for(&snapshot.templates, &view, Some(receiver))
                            .map(|card| (card, view))
                            .map_err(|e| e.to_string())
                    }
                    Err(error) => Err(error.to_string()),
                };
                match rendered {
                    Ok((mut card, view)) => {
                        // Buttons nobody can press get no tokens (and cost no write).
                        if receiver.destination.platform().takes_clicks() {
                            self.buttons
                                .arm(&mut card, &view, receiver, *delivery_id, stored.seq)
                                .await?;
                        }
                        let key = idempotency_key("d", &receiver.name, &stored.event.event_id);
                        Ok(Some((card, key)))
                    }
                    Err(error) => {
                        let error = format!("cannot render the card: {error}");
                        tracing::error!(receiver = %receiver.name, event_id = %stored.event.event_id, error = %error, "delivery: dead letter");
                        self.store
                            .mark_final(item.key, "dead", item.attempts, &error)
                            .await?;
                        self.metrics.delivery(kind, "dead", 1);
                        Ok(None)
                    }
                }
            }
            (OutboxKey::Delivery(_), None) => Ok(None),
        }
    }

    /// Records the outcome of a send: sent (with the message reference),
    /// a 429 waited out, a retry with backoff, or a dead letter.
    pub(super) async fn record(
        &self,
        snapshot: &Snapshot,
        receiver: &Receiver,
        item: &OutboxItem,
        outcome: Result<MessageRef, SendError>,
        threads: bool,
    ) -> Result<(), StoreError> {
        let kind = receiver.destination.platform().name();
        let now = now_ms();
        let attempts = item.attempts + 1;
        let first = item.first_attempt_at_ms.unwrap_or(now);
        match outcome {
            Ok(posted) => {
                let is_digest = matches!(item.key, OutboxKey::Digest(_));
                self.store
                    .mark_sent(item.key, &posted.to_json(), now, is_digest && threads)
                    .await?;
                self.metrics
                    .delivery(kind, if is_digest { "digest" } else { "sent" }, 1);
                tracing::debug!(receiver = %receiver.name, key = ?item.key, "delivery: sent");
            }
            Err(SendError::RateLimited {
                retry_after,
                detail,
            }) => {
                // A 429 is the platform's pace, not a failure of the message: no try is counted.
                let next = now + retry_after.as_millis() as i64;
                self.store
                    .mark_retry(item.key, item.attempts, first, next, &detail)
                    .await?;
                self.metrics.delivery(kind, "rate_limited", 1);
                tracing::warn!(receiver = %receiver.name, retry_after_ms = retry_after.as_millis() as u64, "delivery: rate limited by the platform");
            }
            Err(SendError::Transient(error)) => {
                let delivery = &snapshot.config.delivery;
                let gave_up = now - first >= delivery.give_up_after.as_millis() as i64;
                if gave_up {
                    self.store
                        .mark_final(item.key, "dead", attempts, &error)
                        .await?;
                    self.metrics.delivery(kind, "dead", 1);
                    tracing::error!(receiver = %receiver.name, attempts, error = %error, "delivery: dead letter after the last try");
                } else {
                    let wait = backoff(&delivery.retry_schedule, attempts);
                    self.store
                        .mark_retry(
                            item.key,
                            attempts,
                            first,
                            now + wait.as_millis() as i64,
                            &error,
                        )
                        .await?;
                    self.metrics.delivery(kind, "retry", 1);
                    tracing::warn!(receiver = %receiver.name, attempts, retry_in_ms = wait.as_millis() as u64, error = %error, "delivery: failed; will retry");
                }
            }
            Err(SendError::Permanent(error)) => {
                self.store
                    .mark_final(item.key, "dead", attempts, &error)
                    .await?;
                self.metrics.delivery(kind, "dead", 1);
                tracing::error!(receiver = %receiver.name, error = %error, "delivery: refused by the platform; dead letter (replay it after fixing the cause)");
            }
        }
        Ok(())
    }
}

/// Whether a destination is a Telegram topic sent to each subscriber (one
/// message per subscriber: those cards are not edited as one case).
fn is_fan_out(destination: &Destination) -> bool {
    matches!(destination, Destination::Telegram(target) if target.chat_id.is_none())
}
