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
use crate::event::enrichment::{Enrichment, needs};
use crate::stripe::api::StripeError;

use super::Deliverer;

/// A read from Stripe still going on after the wait.
pub(super) type LateRead = JoinHandle<Result<Option<Enrichment>, StripeError>>;

/// How an enrichment went.
pub(super) enum Enriched {
    /// Done, or nothing to do.
    Done,
    /// Not done within the wait; the read goes on.
    Late(LateRead),
}

impl Deliverer {
    /// Completes `view` with what Stripe's API says, waiting at most
    /// `[stripe] enrich_wait`.
    pub(super) async fn enrich(&self, snapshot: &Snapshot, view: &mut EventView) -> Enriched {
        let Some(enricher) = &self.enricher else {
            return Enriched::Done;
        };
        let stripe = &snapshot.config.stripe;
        // No key, nothing to read: no task, no copy of the config.
        let keyed = crate::stripe::api::credentials_of(
            stripe,
            &view.account,
            view.connect_account.as_deref(),
        )
        .is_some();
        if !stripe.enrichment.enabled || !keyed || needs(view).is_empty() {
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
                Enriched::Done
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
    /// rendered again (the answer is now cached) and edited in place.
    pub(super) fn complete_later(&self, read: LateRead, receiver: &str, case_key: &str) {
        let Some(me) = self.me.upgrade() else {
            return;
        };
        let (receiver, case_key) = (receiver.to_owned(), case_key.to_owned());
        tokio::spawn(async move {
            match read.await {
                Ok(Ok(Some(_))) => {
                    me.metrics.enrichment("completed_late");
                    me.complete_case(&receiver, &case_key).await;
                }
                Ok(Err(error)) => {
                    tracing::warn!(receiver = %receiver, case = %case_key, error = %error, "Stripe did not answer; the card stays as posted");
                }
                _ => {}
            }
        });
    }

    /// Renders a case's card again and edits it in place when it changed.
    async fn complete_case(self: &Arc<Self>, receiver_name: &str, case_key: &str) {
        let snapshot = self.live.snapshot();
        let Some(receiver) = snapshot.config.receivers.get(receiver_name) else {
            return;
        };
        let Some(chat) = self.chats.for_destination(&receiver.destination).cloned() else {
            return;
        };
        let Ok(Some(case)) = self.store.case(receiver_name, case_key).await else {
            return;
        };
        let Some(card_ref) = case.message_ref.as_deref().and_then(MessageRef::from_json) else {
            return;
        };
        let Ok(Some((_, _, head))) = self.head_of(&case).await else {
            return;
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
            Ok((card, _)) => card,
            Err(error) => {
                tracing::warn!(receiver = %receiver_name, case = %case_key, error = %error, "cannot render a completed card");
                return;
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
        if let Err(error) = chat.edit(&card_ref, &out).await {
            tracing::warn!(receiver = %receiver_name, case = %case_key, error = %error, "cannot complete a card with Stripe's details");
        }
        drop(permit);
    }
}
