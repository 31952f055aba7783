//! Living cases: the first event of a case posts its card; every later one
//! edits that card in place and adds one history line in its thread.
//!
//! The card shows the case's head, the event of highest precedence
//! (`event::case`), not the last to arrive, with the facts its other events
//! add (the decline reason of a failed invoice comes from its charge). When
//! the head changes, the tokens of the earlier buttons are revoked. A state
//! that needs a person again (a refund after a payment, a dispute, its
//! outcome) posts a new card that links the old one, whose buttons go away.
//! Pending events of one case are merged into one edit. The worker holds the
//! receiver's lease, so a case is changed by one process at a time.

use std::sync::Arc;

use crate::chat::{Chat, MessageRef, Outbound, SendError};
use crate::config::{Receiver, Snapshot};
use crate::event::EventView;
use crate::event::case::{Change, Phase, Precedence, change, history_line, phase, revoked_notice};
use crate::render::card::Field;
use crate::render::{Card, states};
use crate::store::cases::merge_case_facts;
use crate::store::{CaseRow, OutboxItem, StoreError, StoredEvent, now_ms};

use super::budget::Permit;
use super::enrich::Enriched;
use super::{Budget, Deliverer, idempotency_key};

/// Pending events of one case merged into one edit, at most.
const MERGE_LIMIT: u32 = 50;

/// One event of a case, parsed once.
pub(super) struct Step {
    item: OutboxItem,
    stored: StoredEvent,
    view: EventView,
    phase: Phase,
    precedence: Precedence,
}

impl Deliverer {
    /// Sends a card that belongs to a case on a destination whose messages
    /// can be edited: post, edit, reopen or add history (see the module).
    pub(super) async fn send_case(
        &self,
        snapshot: &Snapshot,
        receiver: &Receiver,
        budget: Option<&Budget>,
        chat: &Arc<dyn Chat>,
        item: OutboxItem,
        case_key: &str,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let case = self.store.case(&receiver.name, case_key).await?;
        let posted = case.as_ref().and_then(|c| c.message_ref.clone());
        // A group changes its card at most once per `group_interval`.
        if let (Some(case), Some(_)) = (&case, &posted)
            && let Some(grouping) = item
                .route
                .as_deref()
                .and_then(|route| snapshot.config.router.grouping(route))
            && case_key.starts_with("group:")
        {
            let next = case.updated_at_ms + grouping.interval.as_millis() as i64;
            if next > now && item.first_attempt_at_ms.is_none() {
                self.store.defer(item.key, next).await?;
                return Ok(());
            }
        }
        let mut items = vec![item];
        if items[0].reply_to.is_none() {
            let first = items[0].key.id();
            items.extend(
                self.store
                    .pending_of_case(&receiver.name, case_key, first, MERGE_LIMIT)
                    .await?,
            );
        }
        let mut steps = Vec::with_capacity(items.len());
        for item in items {
            let Some(stored) = item.event.clone() else {
                continue;
            };
            match stored.view() {
                Ok(view) => steps.push(Step {
                    phase: phase(&view),
                    precedence: Precedence::of(&view, stored.seq),
                    item,
                    stored,
                    view,
                }),
                Err(error) => {
                    let error = format!("cannot read the event: {error}");
                    self.store
                        .mark_final(item.key, "dead", item.attempts, &error)
                        .await?;
                }
            }
        }
        let Some(newest) = steps.iter().max_by_key(|s| s.precedence) else {
            return Ok(());
        };
        let newest = (newest.phase, newest.precedence, newest.item.key.id());
        let (old_head, outcome) = match (&case, &posted) {
            (Some(case), Some(_)) => {
                let old = self.head_of(case).await?;
                let outcome = match &old {
                    Some((phase, precedence, _)) => {
                        change((phase, *precedence), (&newest.0, newest.1))
                    }
                    None => Change::Advanced,
                };
                (old, outcome)
            }
            _ => (None, Change::Opened),
        };
        let head_moves = outcome != Change::Kept;
        // The head the card shows after this step, and the event it shows.
        let (head_phase, head_precedence, head_delivery, head_view) = if head_moves {
            let step = steps
                .iter()
                .find(|s| s.item.key.id() == newest.2)
                .unwrap_or(&steps[0]);
            (
                step.phase,
                step.precedence,
                step.item.key.id(),
                step.view.clone(),
            )
        } else {
            let (phase, precedence, view) = old_head.clone().unwrap_or_else(|| {
                let s = &steps[0];
                (s.phase, s.precedence, s.view.clone())
            });
            let delivery = case.as_ref().map_or(0, |c| c.head_delivery_id);
            (phase, precedence, delivery, view)
        };
        let plan_view = head_view.clone();
        let (card, enriched) = match self
            .case_card(
                snapshot,
                receiver,
                case_key,
                case.as_ref(),
                head_view,
                head_delivery,
                head_moves,
                &steps,
            )
            .await
        {
            Ok(rendered) => rendered,
            Err(error) => {
                let error = format!("cannot render the card: {error}");
                for step in &steps {
                    self.store
                        .mark_final(step.item.key, "dead", step.item.attempts, &error)
                        .await?;
                }
                return Ok(());
            }
        };
        let platform = receiver.destination.platform();
        let hash = super::followup::card_hash(platform, &card);
        let first = &steps[0];
        let key = idempotency_key("d", &receiver.name, &first.stored.event.event_id);
        let payload = crate::chat::render(platform, &card);
        // The card's reference when this step posts a new one.
        let mut new_ref: Option<MessageRef> = None;
        let lines: Vec<String> = steps
            .iter()
            .filter(|s| outcome != Change::Opened || s.item.key.id() != newest.2)
            .map(|s| history_line(&s.view, outcome_of(s, &outcome, newest.2), &head_phase))
            .collect();
        // The earlier buttons stop acting before the card changes: a press
        // in between answers with the new state instead of acting on the old.
        if head_moves && outcome != Change::Opened {
            let notice = revoked_notice(&head_phase, head_precedence.created);
            self.store
                .revoke_case_tokens(&receiver.name, case_key, head_delivery, &notice)
                .await?;
        }
        let result: Result<(), SendError> = async {
            let mut permit = self.pace(budget).await;
            match (outcome, posted.as_deref().and_then(MessageRef::from_json)) {
                (Change::Opened, _) | (_, None) => {
                    let out = Outbound {
                        payload: payload.clone(),
                        card: &card,
                        idempotency_key: key,
                        // A folded card goes into its digest's thread.
                        reply_to: first
                            .item
                            .reply_to
                            .as_deref()
                            .and_then(MessageRef::from_json),
                        linked: false,
                    };
                    let posted = chat.post(&receiver.destination, &out).await?;
                    if !lines.is_empty() {
                        drop(permit);
                        permit = self.pace(budget).await;
                        self.history(chat, receiver, &posted, &lines, case_key, first)
                            .await;
                    }
                    new_ref = Some(posted);
                }
                (Change::Reopened, Some(old)) => {
                    // The old card loses its buttons and says where the case went.
                    if let Some(case) = &case {
                        self.retire(snapshot, receiver, chat, case, &old, &head_phase)
                            .await;
                    }
                    drop(permit);
                    permit = self.pace(budget).await;
                    // A new top-level card that links the old one.
                    let out = Outbound {
                        payload: payload.clone(),
                        card: &card,
                        idempotency_key: key,
                        reply_to: Some(old.clone()),
                        linked: true,
                    };
                    new_ref = Some(chat.post(&receiver.destination, &out).await?);
                }
                (_, Some(mut current)) => {
                    if case.as_ref().and_then(|c| c.card_hash.as_deref()) != Some(hash.as_str()) {
                        let mut out = Outbound {
                            payload: payload.clone(),
                            card: &card,
                            idempotency_key: format!("edit-{case_key}"),
                            reply_to: None,
                            linked: false,
                        };
                        match chat.edit(&current, &out).await {
                            Ok(()) => {}
                            Err(SendError::Permanent(reason)) => {
                                // The card is gone (deleted in chat): post it again.
                                tracing::warn!(receiver = %receiver.name, case = %case_key, reason = %reason, "delivery: a case's card cannot be edited; posting it again");
                                drop(permit);
                                permit = self.pace(budget).await;
                                out.idempotency_key = key;
                                current = chat.post(&receiver.destination, &out).await?;
                                new_ref = Some(current.clone());
                            }
                            Err(other) => return Err(other),
                        }
                        drop(permit);
                        permit = self.pace(budget).await;
                    }
                    self.history(chat, receiver, &current, &lines, case_key, first)
                        .await;
                }
            }
            drop(permit);
            Ok(())
        }
        .await;
        if let Err(error) = result {
            // Nothing of this step is recorded: the first card goes back to
            // the queue (the others follow it), and the send is retried.
            return self
                .record(snapshot, receiver, &steps[0].item, Err(error), false)
                .await;
        }
        let card_ref = new_ref
            .clone()
            .or_else(|| posted.as_deref().and_then(MessageRef::from_json));
        let card_ref_json = card_ref.as_ref().map(MessageRef::to_json);
        let mut row = case.clone().unwrap_or_else(|| CaseRow {
            receiver: receiver.name.clone(),
            case_key: case_key.to_owned(),
            state: String::new(),
            head_rank: 0,
            head_attempt: 0,
            head_created: 0,
            head_event_seq: 0,
            head_delivery_id: 0,
            message_ref: None,
            earlier_refs: Vec::new(),
            notes: Vec::new(),
            card_hash: None,
            acknowledged_by: None,
            acknowledged_at_ms: None,
            resolved_by: None,
            resolved_at_ms: None,
            events: 0,
            opened_at_ms: now,
            updated_at_ms: now,
            assignee: None,
            abandoned_at_ms: None,
        });
        if outcome == Change::Reopened
            && let Some(old) = &posted
        {
            row.earlier_refs.push(old.clone());
        }
        if head_moves {
            let head = steps.iter().find(|s| s.item.key.id() == head_delivery);
            row.state = head_phase.state.to_owned();
            row.head_rank = i64::from(head_precedence.rank);
            row.head_attempt = head_precedence.attempt;
            row.head_created = head_precedence.created;
            row.head_event_seq = head.map_or(row.head_event_seq, |s| s.stored.seq);
            row.head_delivery_id = head_delivery;
        }
        row.message_ref = card_ref_json.clone();
        row.card_hash = Some(hash);
        row.events += steps.len() as i64;
        row.updated_at_ms = now;
        for step in &steps {
            let step_change = outcome_of(step, &outcome, newest.2);
            self.store
                .save_case(&row, step.item.key.id(), step_change.name())
                .await?;
        }
        let kind = platform.name();
        for step in &steps {
            self.store
                .mark_sent(
                    step.item.key,
                    card_ref_json.as_deref().unwrap_or("{}"),
                    now,
                    false,
                )
                .await?;
        }
        self.metrics.delivery(kind, "sent", steps.len() as u64);
        self.metrics.case(outcome.name());
        // What the new state calls for on a clock: reminders, follow-ups,
        // an escalation; and what it no longer does.
        // The card is out and recorded: a store error here is logged, and
        // the case's next event plans again.
        if let Err(error) = self
            .plan_follow_ups(
                snapshot,
                receiver,
                &row,
                &plan_view,
                &head_phase,
                outcome,
                card.severity,
                case.as_ref().map(|c| c.state.as_str()),
            )
            .await
        {
            tracing::warn!(receiver = %receiver.name, case = %case_key, error = %crate::telemetry::chain(&error), "schedule: cannot schedule a case's follow-ups");
        }
        // A card posted without Stripe's details is completed when Stripe
        // answers: now (a late read) or by the sweep (after a failure or a restart).
        match enriched {
            Enriched::Late(read) => {
                self.mark_waiting(&receiver.name, case_key, true).await;
                self.complete_later(read, &receiver.name, case_key);
            }
            Enriched::Failed { transient: true } => {
                self.mark_waiting(&receiver.name, case_key, true).await;
            }
            Enriched::Done | Enriched::Failed { transient: false } => {}
        }
        tracing::debug!(receiver = %receiver.name, case = %case_key, change = outcome.name(), events = steps.len(), "delivery: case card");
        Ok(())
    }

    /// The phase, precedence and view of the event a case's card shows now.
    pub(super) async fn head_of(
        &self,
        case: &CaseRow,
    ) -> Result<Option<(Phase, Precedence, EventView)>, StoreError> {
        let Some(stored) = self.store.event_by_seq(case.head_event_seq).await? else {
            return Ok(None);
        };
        Ok(stored.view().ok().map(|view| {
            let mut precedence = Precedence::of(&view, stored.seq);
            // The stored rank wins over today's table: the card keeps what it showed.
            precedence.rank = u16::try_from(case.head_rank).unwrap_or(precedence.rank);
            (phase(&view), precedence, view)
        }))
    }

    /// The card of a case: its head's card with the facts of its other
    /// events, the buttons of the head delivery, and the lines people left.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn case_card(
        &self,
        snapshot: &Snapshot,
        receiver: &Receiver,
        case_key: &str,
        case: Option<&CaseRow>,
        mut head: EventView,
        head_delivery: i64,
        fresh_buttons: bool,
        steps: &[Step],
    ) -> Result<(Card, Enriched), String> {
        merge_case_facts(self.store.as_ref(), case_key, &mut head)
            .await
            .map_err(|e| e.to_string())?;
        let enriched = self.enrich(snapshot, &mut head).await;
        let mut card = snapshot
            .config
            .card_at(
                &snapshot.templates,
                &head,
                Some(receiver),
                self.clock.now_secs(),
            )
            .map_err(|e| e.to_string())?;
        let events = case.map_or(0, |c| c.events) + steps.len() as i64;
        if case_key.starts_with("group:") && events > 1 {
            card.fields.insert(
                0,
                Field {
                    label: "Events".to_owned(),
                    value: format!("{events} in this group"),
                },
            );
        }
        if receiver.destination.platform().takes_clicks() {
            if fresh_buttons {
                let seq = steps
                    .iter()
                    .find(|s| s.item.key.id() == head_delivery)
                    .map_or(0, |s| s.stored.seq);
                self.buttons
                    .arm(&mut card, &head, receiver, head_delivery, seq)
                    .await
                    .map_err(|e| e.to_string())?;
            } else {
                // The card keeps the buttons it has: their tokens, still open.
                let open = self
                    .store
                    .open_tokens(head_delivery)
                    .await
                    .map_err(|e| e.to_string())?;
                snapshot
                    .config
                    .keep_open_buttons(&mut card, &open, &head, receiver);
            }
        }
        if let Some(case) = case {
            for note in &case.notes {
                states::with_outcome(&mut card, note);
            }
        }
        Ok((card, enriched))
    }

    /// Posts the history lines of a step into the card's thread: a Slack
    /// thread reply, a Discord thread, a Telegram reply. It mentions nobody.
    /// A failure is logged, not retried: the card itself is out (or
    /// edited), and a retry of the step would post the card again.
    async fn history(
        &self,
        chat: &Arc<dyn Chat>,
        receiver: &Receiver,
        card: &MessageRef,
        lines: &[String],
        case_key: &str,
        first: &Step,
    ) {
        if lines.is_empty() {
            return;
        }
        let card_of_lines = states::history(lines, case_key);
        let out = Outbound {
            payload: crate::chat::render(receiver.destination.platform(), &card_of_lines),
            card: &card_of_lines,
            idempotency_key: idempotency_key("h", &receiver.name, &first.stored.event.event_id),
            reply_to: Some(card.clone()),
            linked: false,
        };
        if let Err(error) = chat.post(&receiver.destination, &out).await {
            tracing::warn!(receiver = %receiver.name, case = %case_key, error = %error, "delivery: a case's history line was not posted; the card is up to date");
            self.metrics
                .delivery(receiver.destination.platform().name(), "history_lost", 1);
        }
    }

    /// Takes the buttons off a case's old card and says the case moved on.
    async fn retire(
        &self,
        snapshot: &Snapshot,
        receiver: &Receiver,
        chat: &Arc<dyn Chat>,
        case: &CaseRow,
        old: &MessageRef,
        now: &Phase,
    ) {
        let Ok(Some((_, _, view))) = self.head_of(case).await else {
            return;
        };
        // The card as it stands (facts, Stripe's details, notes), without buttons.
        let Ok((mut card, enriched)) = self
            .case_card(
                snapshot,
                receiver,
                &case.case_key,
                Some(case),
                view,
                case.head_delivery_id,
                false,
                &[],
            )
            .await
        else {
            return;
        };
        if let Enriched::Late(read) = enriched {
            read.abort();
        }
        card.actions.clear();
        states::with_outcome(
            &mut card,
            &format!("Moved on: {} — see the newer card", now.label),
        );
        let out = Outbound {
            payload: crate::chat::render(receiver.destination.platform(), &card),
            card: &card,
            idempotency_key: format!("retire-{}", case.case_key),
            reply_to: None,
            linked: false,
        };
        if let Err(error) = chat.edit(old, &out).await {
            tracing::warn!(receiver = %receiver.name, error = %error, "cannot take the buttons off an earlier card");
        }
    }

    /// A place in the budget for the next call, held until it returned.
    pub(super) async fn pace(&self, budget: Option<&Budget>) -> Option<Permit> {
        match budget {
            Some(budget) => Some(budget.acquire().await),
            None => None,
        }
    }
}

/// What one merged step did: the newest head's own change; any other
/// step of the merge is kept (the card shows the head).
fn outcome_of(step: &Step, outcome: &Change, newest: i64) -> Change {
    if step.item.key.id() == newest {
        *outcome
    } else {
        Change::Kept
    }
}
