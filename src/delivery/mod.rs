//! Delivery: the outbox worker that turns pending deliveries into chat
//! messages, reliably and at the platforms' pace (`send` one message,
//! `fanout` to Telegram subscribers, [`budget`] the pace).
//!
//! One [`Deliverer`] runs per process. It looks for receivers whose queue
//! has something due, takes each one's lease in the store, and runs one task
//! per leased receiver. That task sends the queue's head, waits for the
//! budget before each message, and records the outcome: sent (with the
//! platform's message reference), retried later (with jitter, honouring
//! `Retry-After`), or a dead letter. The head blocks the queue while it is
//! retried, so every destination gets its messages in order. When the
//! backlog is more than the budget can deliver within `fold_after`, it is
//! folded into one digest (see `render::digest`).
//!
//! The rule is *send first, then mark as sent*. A crash between the two
//! sends that message again after the lease expires; Discord's `nonce`
//! with `enforce_nonce` turns that into a no-op, and on the other platforms
//! the window is one message wide. Two processes never send the same
//! receiver's queue at once, because only the lease holder sends.

pub mod budget;
mod case;
mod enrich;
mod fanout;
mod followup;
mod send;
pub mod summary;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use sha2::{Digest as _, Sha256};
use tokio::sync::{Notify, watch};

pub use budget::{Budget, Budgets};

use crate::chat::Chats;
use crate::config::{LiveConfig, Receiver, Snapshot};
use crate::event::EventView;
use crate::render::Card;
use crate::store::{OutboxKey, Store, StoreError, now_ms};
use crate::stripe::enrich::Enricher;
use crate::telemetry::Metrics;

/// How often the worker looks for due queues when nothing woke it.
const TICK: Duration = Duration::from_millis(250);

/// Puts the action buttons of a card about to be sent to work (tokens,
/// confirmations). The actions service provides it; `lib.rs` wires it in.
#[async_trait]
pub trait Buttons: Send + Sync {
    /// Arms `card`'s buttons for delivery `delivery_id` of event `event_seq` to `receiver`.
    async fn arm(
        &self,
        card: &mut Card,
        view: &EventView,
        receiver: &Receiver,
        delivery_id: i64,
        event_seq: i64,
    ) -> Result<(), StoreError>;
}

/// The outbox worker of one process.
pub struct Deliverer {
    live: Arc<LiveConfig>,
    store: Arc<dyn Store>,
    chats: Arc<Chats>,
    buttons: Arc<dyn Buttons>,
    /// The budgets and the config generation they were checked against:
    /// rebuilt when a reload changes `[delivery]`, kept otherwise, so that a
    /// reload does not reset anyone's pace.
    budgets: Mutex<(u64, Arc<Budgets>)>,
    metrics: Arc<Metrics>,
    owner: String,
    /// Receivers whose queue a task of this process is sending.
    running: Mutex<HashSet<String>>,
    /// Receivers with deliveries but no longer in `bot.toml` (warned once).
    unknown: Mutex<HashSet<String>>,
    /// Reads what cards need from Stripe's API, when an API key is set.
    enricher: Option<Arc<Enricher>>,
    /// This worker, for the late completion of a card.
    me: std::sync::Weak<Deliverer>,
    /// The clock of scheduled jobs and of the countdowns cards show.
    clock: Arc<crate::clock::Clock>,
}

impl Deliverer {
    /// A worker with a fresh owner id for its leases; `enricher` completes
    /// cards from Stripe's API; `clock` times its scheduled jobs.
    pub fn new(
        live: Arc<LiveConfig>,
        store: Arc<dyn Store>,
        chats: Arc<Chats>,
        buttons: Arc<dyn Buttons>,
        metrics: Arc<Metrics>,
        enricher: Option<Arc<Enricher>>,
        clock: Arc<crate::clock::Clock>,
    ) -> Arc<Self> {
        let owner = format!(
            "{}-{:08x}",
            std::process::id(),
            rand::thread_rng().r#gen::<u32>()
        );
        let snapshot = live.snapshot();
        let budgets = Budgets::new(snapshot.config.delivery.clone());
        Arc::new_cyclic(|me| Self {
            clock,
            enricher,
            me: me.clone(),
            budgets: Mutex::new((snapshot.generation, Arc::new(budgets))),
            live,
            store,
            chats,
            buttons,
            metrics,
            owner,
            running: Mutex::new(HashSet::new()),
            unknown: Mutex::new(HashSet::new()),
        })
    }

    /// Runs until `stop` turns true; `wake` is notified when new deliveries exist.
    pub async fn run(self: Arc<Self>, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        let mut tasks = tokio::task::JoinSet::new();
        // The first pass, and every tick, looks at the whole outbox; a wake
        // only at the configured receivers that are not being sent already.
        let mut full = true;
        let mut next_sweep = tokio::time::Instant::now();
        // The summaries of each config in use are scheduled once.
        let mut summaries_of = None;
        loop {
            let snapshot = self.live.snapshot();
            if summaries_of != Some(snapshot.generation) {
                match self.plan_summaries(&snapshot).await {
                    Ok(()) => summaries_of = Some(snapshot.generation),
                    Err(error) => {
                        tracing::error!(error = %crate::telemetry::chain(&error), "schedule: cannot schedule the summaries; retrying");
                    }
                }
            }
            // Cards posted without Stripe's details, completed when Stripe answers.
            if tokio::time::Instant::now() >= next_sweep {
                next_sweep += enrich::SWEEP_EVERY;
                tasks.spawn(self.clone().sweep_waiting());
            }
            if let Err(error) = self.start_due(&mut tasks, &stop, full).await {
                tracing::error!(error = %crate::telemetry::chain(&error), "delivery: cannot read the outbox; retrying");
            }
            full = tokio::select! {
                () = wake.notified() => false,
                () = tokio::time::sleep(TICK) => true,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => false,
                _ = stop.changed() => false,
            };
            if *stop.borrow() {
                break;
            }
        }
        // Queues stop between two messages; wait for them to release their leases.
        while tasks.join_next().await.is_some() {}
    }

    /// The receivers with something due: every one in the outbox (`full`),
    /// or, on a wake, the configured ones not already being sent, each
    /// checked along its own index (cheap under a backlog of any size).
    /// Scheduled jobs are looked for on the tick (`full`) only: they are
    /// due by the clock, not woken by new deliveries. Returns the receivers
    /// and, of them, those with jobs due.
    async fn due(&self, now: i64, full: bool) -> Result<(Vec<String>, Vec<String>), StoreError> {
        if full {
            let jobs = self.store.due_job_receivers(self.clock.now_ms()).await?;
            let mut due = self.store.due_receivers(now).await?;
            for receiver in &jobs {
                if !due.contains(receiver) {
                    due.push(receiver.clone());
                }
            }
            return Ok((due, jobs));
        }
        let names: Vec<String> = {
            let running = self.lock_running();
            self.live
                .get()
                .receivers
                .keys()
                .filter(|name| !running.contains(*name))
                .cloned()
                .collect()
        };
        let mut due = Vec::new();
        for name in names {
            if self.store.is_due(&name, now).await? {
                due.push(name);
            }
        }
        Ok((due, Vec::new()))
    }

    async fn start_due(
        self: &Arc<Self>,
        tasks: &mut tokio::task::JoinSet<()>,
        stop: &watch::Receiver<bool>,
        full: bool,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let config = self.live.get();
        let (due, with_jobs) = self.due(now, full).await?;
        for receiver in due {
            if self.lock_running().contains(&receiver) {
                continue;
            }
            if !config.receivers.contains_key(&receiver) {
                if self.lock_unknown().insert(receiver.clone()) {
                    tracing::warn!(receiver = %receiver, "delivery: receiver is no longer in bot.toml; its deliveries wait until it is back (or replay their events)");
                }
                continue;
            }
            let until = now + config.delivery.lease.as_millis() as i64;
            if !self
                .store
                .lease_receiver(&receiver, &self.owner, now, until)
                .await?
            {
                continue;
            }
            self.lock_running().insert(receiver.clone());
            let jobs_due = with_jobs.contains(&receiver);
            let this = self.clone();
            let stop = stop.clone();
            tasks.spawn(async move {
                let lost = Arc::new(AtomicBool::new(false));
                let renewer = tokio::spawn(this.clone().renew(receiver.clone(), lost.clone()));
                if let Err(error) = this.drain(&receiver, &lost, stop, jobs_due).await {
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
        loop {
            let lease = self.live.get().delivery.lease;
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

    /// Sends a receiver's queue until it is empty, its head waits for later,
    /// or `stop`; `jobs_due`: it has scheduled jobs due, run first.
    async fn drain(
        &self,
        receiver_name: &str,
        lost: &AtomicBool,
        mut stop: watch::Receiver<bool>,
        jobs_due: bool,
    ) -> Result<(), StoreError> {
        // Due jobs run first, then, in a long queue, between messages now and then.
        let mut next_jobs = tokio::time::Instant::now();
        if !jobs_due {
            next_jobs += followup::JOB_CHECK_EVERY;
        }
        loop {
            if *stop.borrow() || lost.load(Ordering::Relaxed) {
                return Ok(());
            }
            // The config in use for this message: a reload applies to the next one.
            let snapshot = self.live.snapshot();
            let Some(receiver) = snapshot.config.receivers.get(receiver_name) else {
                return Ok(());
            };
            let budget = self
                .budgets(&snapshot)
                .for_destination(&receiver.destination);
            // A full batch may leave more due: the next one runs after one
            // message (or at once when the queue is empty).
            let mut more_jobs = false;
            if tokio::time::Instant::now() >= next_jobs {
                let ran = self.run_jobs(&snapshot, receiver, budget.as_ref()).await?;
                more_jobs = ran >= followup::JOBS_PER_PASS;
                next_jobs = tokio::time::Instant::now();
                if !more_jobs {
                    next_jobs += followup::JOB_CHECK_EVERY;
                }
            }
            let lease = snapshot.config.delivery.lease;
            let Some(item) = self.store.next_in_queue(receiver_name, now_ms()).await? else {
                if more_jobs {
                    continue;
                }
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
                let capacity = budget.capacity_within(snapshot.config.delivery.fold_after);
                if backlog > capacity
                    && let Some((digest_id, folded)) =
                        self.store.fold(receiver_name, now_ms()).await?
                {
                    tracing::info!(receiver = %receiver_name, digest_id, folded, capacity, "delivery: backlog folded into a digest");
                    self.metrics
                        .delivery(receiver.destination.platform().name(), "folded", folded);
                    continue;
                }
            }
            // The budget is taken in `send`, right before each call to the
            // platform, so that the work before a call never bunches two up.
            self.send(&snapshot, receiver, budget.as_ref(), item)
                .await?;
        }
    }

    /// The budgets of a snapshot's `[delivery]`, rebuilt only when it changed.
    fn budgets(&self, snapshot: &Snapshot) -> Arc<Budgets> {
        let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        let (generation, current) = &mut *budgets;
        if *generation != snapshot.generation {
            *generation = snapshot.generation;
            if current.config() != &snapshot.config.delivery {
                *current = Arc::new(Budgets::new(snapshot.config.delivery.clone()));
            }
        }
        current.clone()
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
        assert!(a.len() <= crate::chat::discord::MAX_NONCE);
    }
}
