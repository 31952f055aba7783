//! Delivery: the outbox worker that turns pending deliveries into chat
//! messages, reliably and at the platforms' pace.
//!
//! One [`Deliverer`] runs per process. It looks for receivers whose queue
//! has something due, takes each one's lease in the store, and runs one task
//! per leased receiver. That task sends the queue's head, waits for the
//! budget before each message, and records the outcome: sent (with the
//! platform's message reference), retried later (with jitter, honouring
//! `Retry-After`), or a dead letter. The head blocks the queue while it is
//! retried, so every destination gets its messages in order. When the
//! backlog is more than the budget can deliver within `fold_after`, it is
//! folded into one digest (see [`digest`]).
//!
//! The rule is *send first, then mark as sent*. A crash between the two
//! sends that message again after the lease expires; Discord's `nonce`
//! with `enforce_nonce` turns that into a no-op, and on the other platforms
//! the window is one message wide. Two processes never send the same
//! receiver's queue at once, because only the lease holder sends.

pub mod budget;
pub mod chat;
pub mod console;
pub mod digest;
pub mod discord;
pub mod slack;
pub mod telegram;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use sha2::{Digest as _, Sha256};
use tokio::sync::{Notify, watch};

pub use budget::{Budget, Budgets};
pub use chat::{Chat, MessageRef, Outbound, SendError};

use crate::config::Config;
use crate::event::EventView;
use crate::http::metrics::Metrics;
use crate::render::{Platform, Templates};
use crate::routing::{Destination, Receiver};
use crate::store::{OutboxItem, OutboxKey, Store, StoreError, now_ms};

/// How often the worker looks for due queues when nothing woke it.
const TICK: Duration = Duration::from_millis(250);

/// The adapters of the configured platforms.
pub struct Chats {
    slack: Option<Arc<dyn Chat>>,
    discord: Option<Arc<dyn Chat>>,
    telegram: Option<Arc<dyn Chat>>,
    console: Arc<dyn Chat>,
    webhook: Arc<dyn Chat>,
}

impl Chats {
    /// An adapter for each platform that has credentials; console cards go to `console`.
    pub fn from_config(config: &Config, console: console::Console) -> anyhow::Result<Self> {
        let slack_configured =
            config.slack.bot_token.is_some() || config.slack.incoming_webhook_url.is_some();
        Ok(Self {
            slack: if slack_configured {
                Some(Arc::new(slack::Slack::new(&config.slack)?))
            } else {
                None
            },
            discord: config
                .discord
                .bot_token
                .as_ref()
                .map(|_| Arc::new(discord::Discord::new(&config.discord)) as Arc<dyn Chat>),
            telegram: match config.telegram.bot_token {
                Some(_) => Some(Arc::new(telegram::Telegram::new(&config.telegram)?)),
                None => None,
            },
            console: Arc::new(console),
            webhook: Arc::new(console::Webhook::new()),
        })
    }

    /// The adapter of a destination, if its platform is configured.
    pub fn for_destination(&self, destination: &Destination) -> Option<&Arc<dyn Chat>> {
        match destination {
            Destination::Slack(_) => self.slack.as_ref(),
            Destination::Discord(_) => self.discord.as_ref(),
            Destination::Telegram(_) => self.telegram.as_ref(),
            Destination::Console => Some(&self.console),
            Destination::Webhook(_) => Some(&self.webhook),
        }
    }
}

/// The payload format a destination takes.
pub fn platform_of(destination: &Destination) -> Platform {
    match destination {
        Destination::Slack(_) => Platform::Slack,
        Destination::Discord(_) => Platform::Discord,
        Destination::Telegram(_) => Platform::Telegram,
        Destination::Console | Destination::Webhook(_) => Platform::Console,
    }
}

/// A short name of the destination kind, for metrics and logs.
pub fn kind_of(destination: &Destination) -> &'static str {
    match destination {
        Destination::Slack(_) => "slack",
        Destination::Discord(_) => "discord",
        Destination::Telegram(_) => "telegram",
        Destination::Console => "console",
        Destination::Webhook(_) => "webhook",
    }
}

/// The outbox worker of one process.
pub struct Deliverer {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    chats: Arc<Chats>,
    budgets: Budgets,
    templates: Templates,
    metrics: Arc<Metrics>,
    owner: String,
    /// Receivers whose queue a task of this process is sending.
    running: Mutex<HashSet<String>>,
    /// Receivers with deliveries but no longer in `bot.toml` (warned once).
    unknown: Mutex<HashSet<String>>,
}

impl Deliverer {
    /// A worker with a fresh owner id for its leases.
    pub fn new(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        chats: Arc<Chats>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let owner = format!(
            "{}-{:08x}",
            std::process::id(),
            rand::thread_rng().r#gen::<u32>()
        );
        Self {
            budgets: Budgets::new(config.delivery.clone()),
            templates: Templates::new(config.templates_dir.clone()),
            config,
            store,
            chats,
            metrics,
            owner,
            running: Mutex::new(HashSet::new()),
            unknown: Mutex::new(HashSet::new()),
        }
    }

    /// Runs until `stop` turns true; `wake` is notified when new deliveries exist.
    pub async fn run(self: Arc<Self>, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            if let Err(error) = self.start_due(&mut tasks, &stop).await {
                tracing::error!(error = %crate::telemetry::chain(&error), "delivery: cannot read the outbox; retrying");
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(TICK) => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
        }
        // Queues stop between two messages; wait for them to release their leases.
        while tasks.join_next().await.is_some() {}
    }

    async fn start_due(
        self: &Arc<Self>,
        tasks: &mut tokio::task::JoinSet<()>,
        stop: &watch::Receiver<bool>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        for receiver in self.store.due_receivers(now).await? {
            if self.lock_running().contains(&receiver) {
                continue;
            }
            if !self.config.receivers.contains_key(&receiver) {
                if self.lock_unknown().insert(receiver.clone()) {
                    tracing::warn!(receiver = %receiver, "delivery: receiver is no longer in bot.toml; its deliveries wait until it is back (or replay their events)");
                }
                continue;
            }
            let until = now + self.config.delivery.lease.as_millis() as i64;
            if !self
                .store
                .lease_receiver(&receiver, &self.owner, now, until)
                .await?
            {
                continue;
            }
            self.lock_running().insert(receiver.clone());
            let this = self.clone();
            let stop = stop.clone();
            tasks.spawn(async move {
                let lost = Arc::new(AtomicBool::new(false));
                let renewer = tokio::spawn(this.clone().renew(receiver.clone(), lost.clone()));
                if let Err(error) = this.drain(&receiver, &lost, stop).await {
                    tracing::error!(receiver = %receiver, error = %crate::telemetry::chain(&error), "delivery: queue stopped on a store error; it resumes on the next tick");
                }
                renewer.abort();
                if !lost.load(Ordering::Relaxed)
                    && let Err(error) = this.store.release_receiver(&receiver, &this.owner).await
                {
                    tracing::warn!(receiver = %receiver, error = %crate::telemetry::chain(&error), "delivery: cannot release a lease; it expires on its own");
                }
                this.lock_running().remove(&receiver);
            });
        }
        Ok(())
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_unknown(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.unknown.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Renews a lease every third of its length; sets `lost` if another process took it.
    async fn renew(self: Arc<Self>, receiver: String, lost: Arc<AtomicBool>) {
        let lease = self.config.delivery.lease;
        loop {
            tokio::time::sleep(lease / 3).await;
            let now = now_ms();
            match self
                .store
                .lease_receiver(&receiver, &self.owner, now, now + lease.as_millis() as i64)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(receiver = %receiver, "delivery: lease taken over by another process; stopping this queue");
                    lost.store(true, Ordering::Relaxed);
                    return;
                }
                Err(error) => {
                    tracing::warn!(receiver = %receiver, error = %crate::telemetry::chain(&error), "delivery: cannot renew a lease");
                }
            }
        }
    }

    /// Sends a receiver's queue until it is empty, its head waits for later, or `stop`.
    async fn drain(
        &self,
        receiver_name: &str,
        lost: &AtomicBool,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), StoreError> {
        let Some(receiver) = self.config.receivers.get(receiver_name) else {
            return Ok(());
        };
        let budget = self.budgets.for_destination(&receiver.destination);
        let lease = self.config.delivery.lease;
        loop {
            if *stop.borrow() || lost.load(Ordering::Relaxed) {
                return Ok(());
            }
            let Some(item) = self.store.next_in_queue(receiver_name).await? else {
                return Ok(());
            };
            let wait = item.next_attempt_at_ms - now_ms();
            if wait > 0 {
                let wait = Duration::from_millis(wait as u64);
                if wait > lease / 3 {
                    // Let the lease go; the worker takes the queue again when it is due.
                    return Ok(());
                }
                tokio::select! {
                    () = tokio::time::sleep(wait) => continue,
                    _ = stop.changed() => return Ok(()),
                }
            }
            if let (Some(budget), OutboxKey::Delivery(_), None) =
                (&budget, item.key, &item.reply_to)
            {
                let backlog = self.store.backlog(receiver_name).await?;
                let capacity = budget.capacity_within(self.config.delivery.fold_after);
                if backlog > capacity
                    && let Some((digest_id, folded)) =
                        self.store.fold(receiver_name, now_ms()).await?
                {
                    tracing::info!(receiver = %receiver_name, digest_id, folded, capacity, "delivery: backlog folded into a digest");
                    self.metrics
                        .delivery(kind_of(&receiver.destination), "folded", folded);
                    continue;
                }
            }
            if let Some(budget) = &budget {
                tokio::select! {
                    () = budget.acquire() => {}
                    _ = stop.changed() => return Ok(()),
                }
            }
            self.send(receiver, budget.as_ref(), item).await?;
        }
    }

    /// Sends one message and records what happened.
    async fn send(
        &self,
        receiver: &Receiver,
        budget: Option<&Budget>,
        item: OutboxItem,
    ) -> Result<(), StoreError> {
        let kind = kind_of(&receiver.destination);
        let Some(chat) = self.chats.for_destination(&receiver.destination) else {
            let error = format!("no [{kind}] credentials in bot.toml");
            self.store
                .mark_final(item.key, "dead", item.attempts, &error)
                .await?;
            return Ok(());
        };
        let platform = platform_of(&receiver.destination);
        let thread = matches!(
            (&receiver.destination, self.config.slack.bot_token.is_some()),
            (Destination::Slack(_), true)
        );
        let (card, idempotency_key) = match (&item.key, &item.event) {
            (OutboxKey::Digest(id), _) => {
                let events = self.store.digest_events(*id).await?;
                let followup = if thread {
                    digest::Followup::Thread
                } else {
                    digest::Followup::Links
                };
                let pace = budget.map_or_else(String::new, Budget::describe);
                let card = digest::card(
                    *id,
                    &events,
                    &receiver.redaction,
                    self.config.delivery.digest_top_items,
                    &pace,
                    followup,
                );
                (card, idempotency_key("g", &receiver.name, &id.to_string()))
            }
            (OutboxKey::Delivery(_), Some(stored)) => {
                let rendered = EventView::from_stored(stored)
                    .map_err(|e| e.to_string())
                    .and_then(|view| {
                        let account = self
                            .config
                            .endpoint(&stored.event.account)
                            .map_or(stored.event.account.as_str(), |e| e.display_name.as_str());
                        crate::render::card_for(
                            &self.templates,
                            &view,
                            &receiver.redaction,
                            receiver.templates.as_deref(),
                            account,
                            chrono::Utc::now().timestamp(),
                        )
                        .map(|card| (card, view))
                        .map_err(|e| e.to_string())
                    });
                match rendered {
                    Ok((mut card, view)) => {
                        if let OutboxKey::Delivery(delivery_id) = item.key {
                            crate::interact::arm(
                                &self.config,
                                self.store.as_ref(),
                                &mut card,
                                &view,
                                receiver,
                                delivery_id,
                                stored.seq,
                            )
                            .await?;
                        }
                        (
                            card,
                            idempotency_key("d", &receiver.name, &stored.event.event_id),
                        )
                    }
                    Err(error) => {
                        let error = format!("cannot render the card: {error}");
                        tracing::error!(receiver = %receiver.name, event_id = %stored.event.event_id, error = %error, "delivery: dead letter");
                        self.store
                            .mark_final(item.key, "dead", item.attempts, &error)
                            .await?;
                        self.metrics.delivery(kind, "dead", 1);
                        return Ok(());
                    }
                }
            }
            (OutboxKey::Delivery(_), None) => return Ok(()),
        };
        let message = Outbound {
            payload: crate::render::payload(platform, &card),
            card: &card,
            idempotency_key,
            reply_to: item.reply_to.as_deref().and_then(MessageRef::from_json),
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
        let now = now_ms();
        let attempts = item.attempts + 1;
        let first = item.first_attempt_at_ms.unwrap_or(now);
        match outcome {
            Ok(posted) => {
                let is_digest = matches!(item.key, OutboxKey::Digest(_));
                self.store
                    .mark_sent(item.key, &posted.to_json(), now, is_digest && thread)
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
                let gave_up = now - first >= self.config.delivery.give_up_after.as_millis() as i64;
                if gave_up {
                    self.store
                        .mark_final(item.key, "dead", attempts, &error)
                        .await?;
                    self.metrics.delivery(kind, "dead", 1);
                    tracing::error!(receiver = %receiver.name, attempts, error = %error, "delivery: dead letter after the last try");
                } else {
                    let wait = backoff(&self.config.delivery.retry_schedule, attempts);
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

impl Deliverer {
    /// Sends one card to every subscriber of a Telegram topic, each chat at
    /// its own pace, skipping those a previous try already reached. A
    /// subscriber who blocked the bot is given up on; any other failure
    /// stops here, to be retried for the remaining subscribers. `None` when
    /// the topic has no subscribers.
    async fn fan_out(
        &self,
        chat: &dyn Chat,
        target: &crate::routing::TelegramTarget,
        topic: &str,
        delivery_id: i64,
        message: &Outbound<'_>,
    ) -> Result<Option<Result<MessageRef, SendError>>, StoreError> {
        let subscribers = self.store.subscribers(topic).await?;
        if subscribers.is_empty() {
            return Ok(None);
        }
        let done = self.store.fanout_done(delivery_id).await?;
        let mut sent = 0u32;
        for chat_id in subscribers.into_iter().filter(|c| !done.contains(c)) {
            let destination = Destination::Telegram(crate::routing::TelegramTarget {
                chat_id: Some(chat_id),
                message_thread_id: target.message_thread_id,
                subscribers: None,
            });
            if let Some(budget) = self.budgets.for_destination(&destination) {
                budget.acquire().await;
            }
            match chat.post(&destination, message).await {
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
        Ok(Some(Ok(MessageRef::TelegramTopic {
            topic: topic.to_owned(),
            sent,
        })))
    }
}

/// The wait before try `attempts + 1`: the schedule's step (the last one
/// repeats), with ±20 % jitter so that many queues do not retry in step.
pub fn backoff(schedule: &[Duration], attempts: i64) -> Duration {
    let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(0);
    let step = schedule
        .get(index)
        .or(schedule.last())
        .copied()
        .unwrap_or(Duration::from_secs(1));
    step.mul_f64(rand::thread_rng().gen_range(0.8..=1.2))
}

/// A key that stays the same for every try of one message (≤ 25 characters,
/// Discord's nonce limit).
fn idempotency_key(kind: &str, receiver: &str, id: &str) -> String {
    let digest = Sha256::digest(format!("{receiver}\n{id}").as_bytes());
    format!("{kind}{}", &hex::encode(digest)[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_schedule_and_repeats_its_last_step() {
        let schedule = [Duration::from_secs(1), Duration::from_secs(10)];
        for _ in 0..100 {
            let first = backoff(&schedule, 1);
            assert!(first >= Duration::from_millis(800) && first <= Duration::from_millis(1200));
            let later = backoff(&schedule, 7);
            assert!(later >= Duration::from_secs(8) && later <= Duration::from_secs(12));
        }
    }

    #[test]
    fn idempotency_keys_are_stable_and_fit_a_discord_nonce() {
        let a = idempotency_key("d", "finance", "evt_1");
        assert_eq!(a, idempotency_key("d", "finance", "evt_1"));
        assert_ne!(a, idempotency_key("d", "support", "evt_1"));
        assert!(a.len() <= discord::MAX_NONCE);
    }
}
