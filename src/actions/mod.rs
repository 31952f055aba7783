//! Buttons that act: clicks checked against roles and approvals, the action
//! run once, the audit log, and the card updated in place with what was
//! done and by whom.
//!
//! Every button of a sent card carries an opaque random token ([`tokens`]).
//! A click is refused with a private notice when the token is unknown,
//! expired or already used, or when the clicker's roles do not allow the
//! action (audited) — see [`check`]. Otherwise the token is claimed in one
//! conditional UPDATE, so a double click, a platform's retry or a second
//! replica cannot run it again; the action ([`kinds`]) runs with an
//! `Idempotency-Key` derived from the token; the outcome is audited and the
//! card is edited in place ([`card`]). [`Actions`] is the service; it is the
//! [`ClickHandler`] every platform's inbound side hands its clicks to.

pub mod card;
pub mod check;
pub mod commands;
pub mod kinds;
pub mod lookup;
pub mod payment;
pub mod tokens;

use std::sync::Arc;

use async_trait::async_trait;

use crate::chat::{
    ChatCommand, Chats, Click, ClickHandler, ClickOutcome, LookupAnswer, LookupQuery, PaymentAsk,
    Press, Verdict,
};
use crate::config::{ActionKind, LiveConfig, Snapshot};
use crate::event::{EventView, Threshold};
use crate::store::{ActionToken, CaseMark, JobKind, Store, StoreError, StoredEvent, now_ms};
use crate::stripe::api::StripeClient;
use crate::stripe::enrich::Enricher;
use crate::telemetry::Metrics;
use card::CardState;

pub use check::Subject;
pub use tokens::{arm, new_token};

/// The interaction service of a process.
pub struct Actions {
    live: Arc<LiveConfig>,
    store: Arc<dyn Store>,
    chats: Arc<Chats>,
    stripe: StripeClient,
    enricher: Arc<Enricher>,
    metrics: Arc<Metrics>,
    /// Wakes the pipeline when a payment link's event is stored.
    pipeline_wake: Arc<tokio::sync::Notify>,
}

/// A click that passed every check: the config it was checked under, its
/// action, its live token, the event and its view (parsed once, here).
pub struct Checked {
    snapshot: Arc<Snapshot>,
    kind: ActionKind,
    live: ActionToken,
    stored: StoredEvent,
    view: EventView,
}

impl Checked {
    fn subject(&self) -> Subject<'_> {
        Subject {
            action: self.kind.name(),
            token: Some(&self.live),
            event_id: Some(&self.stored.event.event_id),
        }
    }
}

/// The early verdict of a press, sent at most once.
struct Early(Option<Verdict>);

impl Early {
    /// The checks passed: the press goes on.
    fn pass(&mut self) {
        if let Some(verdict) = self.0.take() {
            let _ = verdict.send(None);
        }
    }

    /// The checks refused the press: what it ends with, [`ClickOutcome::Answered`]
    /// when the notice already went out with the verdict.
    fn refuse(&mut self, notice: String) -> ClickOutcome {
        let answered = self
            .0
            .take()
            .is_some_and(|verdict| verdict.send(Some(notice.clone())).is_ok());
        if answered {
            ClickOutcome::Answered
        } else {
            ClickOutcome::Refused(notice)
        }
    }
}

impl Actions {
    /// The service; `enricher` reads from Stripe (and its client acts on
    /// it); `pipeline_wake` routes a payment link's event at once.
    pub fn new(
        live: Arc<LiveConfig>,
        store: Arc<dyn Store>,
        chats: Arc<Chats>,
        enricher: Arc<Enricher>,
        metrics: Arc<Metrics>,
        pipeline_wake: Arc<tokio::sync::Notify>,
    ) -> Self {
        Self {
            pipeline_wake,
            stripe: enricher.client().clone(),
            enricher,
            metrics,
            live,
            store,
            chats,
        }
    }

    /// Handles a press: the token's routing (confirm, pick, cancel) read
    /// from its row, the checks run once, then the action or the question.
    async fn handle(
        &self,
        mut click: Click,
        native_confirm: bool,
        early: &mut Early,
    ) -> Result<ClickOutcome, StoreError> {
        // The config in use for this press: a reload applies to the next one.
        let snapshot = self.live.snapshot();
        let data = std::mem::take(&mut click.token);
        let press = Press::parse(&data);
        click.token = press.token().to_owned();
        if let Press::CreateLink(request) | Press::CancelRequest(request) = press {
            early.pass();
            let create = matches!(press, Press::CreateLink(_));
            return Ok(match self.press_request(&click, request, create).await {
                Ok(said) => ClickOutcome::Reported(said),
                Err(said) => ClickOutcome::Refused(said),
            });
        }
        if let Press::Cancel(token) = press {
            early.pass();
            self.cancel(snapshot, token).await?;
            return Ok(ClickOutcome::Cancelled);
        }
        if let Press::Pick(index, _) = press {
            click.pick = Some(index);
        }
        let checked = match self.check(snapshot, &click).await? {
            Ok(checked) => checked,
            Err(notice) => return Ok(early.refuse(notice)),
        };
        early.pass();
        if let Press::Button(_) = press {
            if is_picker(&checked) {
                self.update_card(&checked, CardState::Picking).await;
                return Ok(ClickOutcome::Asked);
            }
            let confirm = checked
                .snapshot
                .config
                .interactions
                .policy(checked.kind)
                .confirm;
            if !native_confirm && confirm {
                self.update_card(&checked, CardState::Confirming).await;
                return Ok(ClickOutcome::Asked);
            }
        }
        self.act(&click, checked).await
    }

    /// Approvals, the claim of the token, the action, the audit, the card.
    async fn act(&self, click: &Click, checked: Checked) -> Result<ClickOutcome, StoreError> {
        let kind = checked.kind;
        let policy = checked.snapshot.config.interactions.policy(kind);
        if policy.approvals > 1
            && above_threshold(&checked.view, policy.approval_threshold.as_ref())
        {
            match &checked.live.approved_by {
                None => {
                    if self
                        .store
                        .approve_token(&click.token, &click.actor())
                        .await?
                    {
                        self.audit(
                            click,
                            checked.subject(),
                            "approval_pending",
                            "first approval",
                            None,
                        )
                        .await;
                        return Ok(ClickOutcome::Approved(
                            "Your approval is recorded. A second authorised person must press the button too.".to_owned(),
                        ));
                    }
                    return Ok(ClickOutcome::Refused(
                        "Someone approved at the same moment; press again to confirm.".to_owned(),
                    ));
                }
                Some(first) if *first == click.actor() => {
                    self.audit(
                        click,
                        checked.subject(),
                        "refused",
                        "second approval by the first approver",
                        None,
                    )
                    .await;
                    return Ok(ClickOutcome::Refused(
                        "You already approved this; a different person must approve it.".to_owned(),
                    ));
                }
                Some(_) => {}
            }
        }
        if !self
            .store
            .claim_token(&click.token, &click.actor(), now_ms())
            .await?
        {
            return Ok(ClickOutcome::Refused(
                "Already done; nothing was done again.".to_owned(),
            ));
        }
        let context = kinds::ActionContext {
            config: &checked.snapshot.config,
            store: self.store.as_ref(),
            stripe: &self.stripe,
            token: &checked.live,
            stored: &checked.stored,
            view: &checked.view,
            click,
            at: chrono::Utc::now().format("%H:%M UTC").to_string(),
            wake: &self.pipeline_wake,
        };
        let outcome = kinds::action_for(kind).run(&context).await;
        self.audit(
            click,
            checked.subject(),
            outcome.audit,
            &outcome.detail,
            outcome.request_id,
        )
        .await;
        // A case's card keeps the line through later edits, and who
        // acknowledged or resolved it.
        let mark = match kind {
            ActionKind::Acknowledge if outcome.audit == "done" => {
                CaseMark::Acknowledged(click.actor())
            }
            ActionKind::Resolve if outcome.audit == "done" => CaseMark::Resolved(click.actor()),
            // Taken or assigned even when the helpdesk's ticket failed.
            ActionKind::Assign => CaseMark::Assigned(
                click
                    .pick
                    .and_then(|i| checked.snapshot.config.interactions.assignees.get(i))
                    .cloned()
                    .unwrap_or_else(|| click.mention.clone()),
            ),
            _ => CaseMark::Note,
        };
        // A look-up's private answer has no card to edit: the notice says it.
        if checked.live.token.receiver == lookup::LOOKUP_RECEIVER {
            return Ok(ClickOutcome::Reported(outcome.line));
        }
        if let Some((receiver, case_key)) = self
            .store
            .case_of_delivery(checked.live.token.delivery_id)
            .await?
        {
            // Someone took the case up: its escalation is off, and once it
            // is resolved nothing scheduled about it is left.
            let (cancels, why): (&[JobKind], String) = match &mark {
                CaseMark::Acknowledged(by) => {
                    (&[JobKind::Escalate], format!("acknowledged by {by}"))
                }
                CaseMark::Assigned(to) => (&[JobKind::Escalate], format!("assigned to {to}")),
                CaseMark::Resolved(by) => (&JobKind::ALL, format!("resolved by {by}")),
                _ => (&[], String::new()),
            };
            self.store
                .note_case(&receiver, &case_key, &outcome.line, mark, now_ms())
                .await?;
            self.store
                .cancel_jobs(&receiver, &case_key, cancels, &why, now_ms())
                .await?;
        }
        self.update_card(&checked, CardState::Outcome(&outcome.line))
            .await;
        Ok(ClickOutcome::Done(outcome.line))
    }

    /// Cancel of a two-step confirmation: the card gets its buttons back.
    async fn cancel(&self, snapshot: Arc<Snapshot>, token: &str) -> Result<(), StoreError> {
        let Some(live) = self.store.token(token).await? else {
            return Ok(());
        };
        let Some(stored) = self.store.event_by_seq(live.token.event_seq).await? else {
            return Ok(());
        };
        if let Ok(view) = stored.view() {
            let kind = ActionKind::parse(&live.token.action).unwrap_or(ActionKind::Acknowledge);
            let checked = Checked {
                snapshot,
                kind,
                live,
                stored,
                view,
            };
            self.update_card(&checked, CardState::Open).await;
        }
        Ok(())
    }
}

/// Whether a token's button is an "Assign…" picker (an `assign` button
/// whose label ends in `…`, with `[interactions] assignees` configured).
fn is_picker(checked: &Checked) -> bool {
    let token = &checked.live.token;
    !checked.snapshot.config.interactions.assignees.is_empty()
        && token.action == ActionKind::Assign.name()
        && (token.label.ends_with('…') || token.label.ends_with("..."))
}

/// Whether an amount needs the approvals of a threshold.
fn above_threshold(view: &EventView, threshold: Option<&Threshold>) -> bool {
    let (Some(threshold), Some(amount)) = (threshold, &view.amount) else {
        return threshold.is_none();
    };
    let Some(money) = crate::event::money::Money::new(amount.minor, &amount.currency) else {
        return true;
    };
    if money
        .currency
        .code()
        .eq_ignore_ascii_case(&threshold.currency)
    {
        return money.major().abs() >= threshold.amount;
    }
    // A threshold in another currency asks for the second approval: the safe side.
    true
}

#[async_trait]
impl ClickHandler for Actions {
    async fn press(
        &self,
        click: Click,
        native_confirm: bool,
        verdict: Option<Verdict>,
    ) -> ClickOutcome {
        let mut early = Early(verdict);
        match self.handle(click, native_confirm, &mut early).await {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::error!(error = %crate::telemetry::chain(&error), "click failed on a store error");
                ClickOutcome::Failed
            }
        }
    }

    async fn lookup(&self, query: LookupQuery) -> LookupAnswer {
        self.answer_lookup(&query).await
    }

    async fn request_payment(&self, ask: PaymentAsk) -> LookupAnswer {
        self.answer_payment(ask).await
    }

    async fn command(&self, command: ChatCommand) -> Option<String> {
        match commands::answer(&self.live.get(), self.store.as_ref(), &command).await {
            Ok(answer) => answer,
            Err(error) => {
                tracing::error!(error = %crate::telemetry::chain(&error), "chat command failed on a store error");
                None
            }
        }
    }
}
