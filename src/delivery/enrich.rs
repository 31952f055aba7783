//! Cards completed from Stripe's API before they are rendered (see
//! `stripe::enrich`), within `[stripe] enrich_wait` (2 s by default).
//!
//! When Stripe is slow or down the card goes out with what is known; the
//! read goes on, and when it answers, a case's card is edited in place
//! with the rest ([`Deliverer::complete_case`]). A card that cannot be
//! edited (console, webhook) is sent once, after at most the wait.

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::chat::{MessageRef, Outbound};
use crate::config::Snapshot;
use crate::event::EventView;
use crate::event::enrichment::Enrichment;
use crate::stripe::api::StripeError;
use crate::stripe::enrich::Enricher;

use super::Deliverer;

/// A read from Stripe still going on after the wait.
pub(super) type LateRead = JoinHandle<Result<Option<Enrichment>, StripeError>>;

/// How an enrichment went.
pub(super) enum Enriched {
    /// Done, or nothing to do.
    Done,
    /// Not done within the wait; the read goes on.
    Late(LateRead),
    /// Stripe failed; `transient` when asking again later may help (a
    /// timeout, a 429, a 5xx), not when the object is missing or the key refused.
    Failed {
        /// Whether to ask again later.
        transient: bool,
    },
}

/// How long a card may wait for Stripe's details before the bot stops asking.
const GIVE_UP_AFTER_MS: i64 = 3_600_000;

/// How often the worker looks for cards still waiting for Stripe.
pub(super) const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl Deliverer {
    /// Completes `view` with what Stripe's API says, waiting at most
    /// `[stripe] enrich_wait`.
    pub(super) async fn enrich(&self, snapshot: &Snapshot, view: &mut EventView) -> Enriched {
        let Some(enricher) = &self.enricher else {
            return Enriched::Done;
        };
        let stripe = &snapshot.config.stripe;
        // Nothing to read: no task, no copy of the config.
        if !Enricher::wants(stripe, view) {
            return Enriched::Done;
        }
        let mut read: LateRead = {
            let (enricher, stripe, view) = (enricher.clone(), stripe.clone(), view.clone());
            tokio::spawn(async move { enricher.enrich(&stripe, &view).await })
        };
        match tokio::time::timeout(stripe.enrichment.wait, &mut read).await {
            Ok(Ok(Ok(Some(enrichment)))) => {
                view.enrich(&enrichment);
                self.metrics.enrichment("complete");
                Enriched::Done
            }
            Ok(Ok(Ok(None))) => {
                self.metrics.enrichment("skipped");
                Enriched::Done
            }
            Ok(Ok(Err(error))) => {
                tracing::warn!(event_id = %view.id, status = error.status, request_id = error.request_id.as_deref().unwrap_or("-"), error = %error, "card posted without Stripe's details: the read failed");
                self.metrics.enrichment("failed");
                Enriched::Failed {
                    transient: error.is_transient(),
                }
            }
            Ok(Err(_)) => Enriched::Done,
            Err(_) => {
                tracing::info!(event_id = %view.id, "Stripe is slow: the card goes out with what is known and is completed when Stripe answers");
                self.metrics.enrichment("late");
                Enriched::Late(read)
            }
        }
    }

    /// After a late read: when Stripe answered, the case's card is
    /// rendered again (the answer is now cached) and edited in place. Until
    /// then the case is marked as waiting, so that a restart completes it too.
    pub(super) fn complete_later(&self, read: LateRead, receiver: &str, case_key: &str) {
        let Some(me) = self.me.upgrade() else {
            return;
        };
        let (receiver, case_key) = (receiver.to_owned(), case_key.to_owned());
        tokio::spawn(async move {
            match read.await {
                Ok(Ok(Some(_))) if me.complete_case(&receiver, &case_key).await => {
                    me.metrics.enrichment("completed_late");
                }
                Ok(Err(error)) => {
                    tracing::warn!(receiver = %receiver, case = %case_key, error = %error, "Stripe did not answer; the card is completed when it does");
                }
                _ => {}
            }
        });
    }

    /// Marks a case's card as waiting for Stripe (`Some`) or complete.
    pub(super) async fn mark_waiting(&self, receiver: &str, case_key: &str, waiting: bool) {
        let since = waiting.then(crate::store::now_ms);
        if let Err(error) = self.store.await_stripe(receiver, case_key, since).await {
            tracing::warn!(receiver, case = %case_key, error = %crate::telemetry::chain(&error), "cannot record whether a card waits for Stripe");
        }
    }

    /// Completes the cards still waiting for Stripe's details (posted while
    /// Stripe was slow or down, perhaps before a restart); gives up on
    /// those that waited an hour.
    pub(super) async fn sweep_waiting(self: Arc<Self>) {
        let waiting = match self.store.awaiting_stripe(20).await {
            Ok(waiting) => waiting,
            Err(error) => {
                tracing::warn!(error = %crate::telemetry::chain(&error), "cannot list the cards waiting for Stripe");
                return;
            }
        };
        let now = crate::store::now_ms();
        for (receiver, case_key, since) in waiting {
            if now - since > GIVE_UP_AFTER_MS {
                tracing::warn!(receiver = %receiver, case = %case_key, "Stripe's details never came within an hour; the card stays as posted");
                self.mark_waiting(&receiver, &case_key, false).await;
                continue;
            }
            if self.complete_case(&receiver, &case_key).await {
                self.metrics.enrichment("completed_late");
            }
        }
    }

    /// Renders a case's card again with Stripe's details and edits it in
    /// place; true when the card is now complete (and no longer waits).
    async fn complete_case(self: &Arc<Self>, receiver_name: &str, case_key: &str) -> bool {
        let snapshot = self.live.snapshot();
        let Some(receiver) = snapshot.config.receivers.get(receiver_name) else {
            self.mark_waiting(receiver_name, case_key, false).await;
            return false;
        };
        let Some(chat) = self.chats.for_destination(&receiver.destination).cloned() else {
            return false;
        };
        let Ok(Some(case)) = self.store.case(receiver_name, case_key).await else {
            return false;
        };
        let Some(card_ref) = case.message_ref.as_deref().and_then(MessageRef::from_json) else {
            return false;
        };
        let Ok(Some((_, _, head))) = self.head_of(&case).await else {
            return false;
        };
        let card = match self
            .case_card(
                &snapshot,
                receiver,
                case_key,
                Some(&case),
                head,
                case.head_delivery_id,
                false,
                &[],
            )
            .await
        {
            Ok((card, Enriched::Done)) => card,
            Ok((_, Enriched::Late(read))) => {
                read.abort();
                return false;
            }
            Ok((_, Enriched::Failed { transient })) => {
                if !transient {
                    self.mark_waiting(receiver_name, case_key, false).await;
                }
                return false;
            }
            Err(error) => {
                tracing::warn!(receiver = %receiver_name, case = %case_key, error = %error, "cannot render a completed card");
                return false;
            }
        };
        let platform = receiver.destination.platform();
        let out = Outbound {
            payload: crate::chat::render(platform, &card),
            card: &card,
            idempotency_key: format!("complete-{case_key}"),
            reply_to: None,
            linked: false,
        };
        let budgets = self.budgets(&snapshot);
        let budget = budgets.for_destination(&receiver.destination);
        let permit = self.pace(budget.as_ref()).await;
        let edited = chat.edit(&card_ref, &out).await;
        drop(permit);
        match edited {
            Ok(()) => {
                self.mark_waiting(receiver_name, case_key, false).await;
                true
            }
            Err(error) => {
                tracing::warn!(receiver = %receiver_name, case = %case_key, error = %error, "cannot complete a card with Stripe's details");
                false
            }
        }
    }
}
