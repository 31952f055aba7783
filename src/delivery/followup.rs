//! Follow-ups on a clock: what a case's card schedules when it changes,
//! and the scheduled jobs the worker runs under a receiver's lease.
//!
//! - A dispute that needs a response gets reminders before its evidence
//!   deadline (`[reminders.dispute] before`), and its card's countdown is
//!   edited as time passes (`countdown_every`).
//! - An unpaid invoice or Checkout Session on a receiver of
//!   `[reminders.unpaid] receivers` gets follow-ups after the failure; the
//!   last one abandons the case and hands it to `hand_off_to`.
//! - A critical card nobody acknowledged within `[escalation] after` is
//!   posted again to `[escalation] receiver`, or its thread calls on the
//!   `mention`.
//! - `[[summaries]]` post a summary with a chart at their local time.
//!
//! Jobs run where the case's card is changed: in the worker that holds the
//! receiver's lease, between two messages of its queue, so a job and a
//! delivery never edit one card at once. A paid, voided or expired case
//! cancels its pending jobs at once (and each job checks again when it
//! runs). A job that runs more than five minutes after it was due (the
//! service was down) says so.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use crate::chat::{Chat, Image, MessageRef, Outbound};
use crate::config::{Receiver, Snapshot};
use crate::event::EventView;
use crate::event::case::{Change, Phase};
use crate::event::facts::ObjectKind;
use crate::render::card::Severity;
use crate::render::time::{absolute, countdown, span};
use crate::render::{Card, chart, followup as cards, summary as summary_cards};
use crate::store::{CaseMark, CaseRow, Job, JobKind, NewJob, StoreError};

use super::enrich::Enriched;
use super::{Budget, Deliverer, backoff, idempotency_key, summary};

/// A job is late when it runs this long after it was due.
const LATE_AFTER_MS: i64 = 5 * 60_000;
/// Jobs claimed per pass over a receiver.
pub(super) const JOBS_PER_PASS: usize = 20;
/// Runs of a failing job before it is given up.
const MAX_JOB_ATTEMPTS: i64 = 5;
/// Waits between runs of a failing job.
const JOB_RETRIES: [Duration; 3] = [
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
];
/// A dispute's countdown is edited until this long after its deadline.
const COUNTDOWN_AFTER_DUE_SECS: i64 = 86_400;
/// How often a draining queue looks for due jobs between its messages.
pub(super) const JOB_CHECK_EVERY: Duration = Duration::from_secs(5);

/// Kinds a settled case cancels.
const CASE_KINDS: [JobKind; 4] = [
    JobKind::DisputeReminder,
    JobKind::Countdown,
    JobKind::UnpaidReminder,
    JobKind::Escalate,
];

/// The states in which a case gets jobs: a dispute, unpaid money, a
/// critical card (an early fraud warning, a failed payout). A case that
/// settles from any other state has none to cancel.
const SCHEDULING_STATES: [&str; 6] = [
    "expired",
    "disputed",
    "payment_failed",
    "open",
    "fraud_warning",
    "failed",
];

/// What a job did.
enum Ran {
    /// Done: what it did.
    Done(String),
    /// Nothing left to do: why.
    Cancelled(String),
}

/// `3 days`, `2 days 4 h`, `30 min`: a duration for people.
fn human(duration: Duration) -> String {
    span(duration.as_secs())
}

/// Whether a dispute still waits for its evidence.
fn needs_response(view: &EventView) -> bool {
    view.dispute.as_ref().is_some_and(|d| {
        matches!(
            d.status.as_deref(),
            Some("needs_response" | "warning_needs_response") | None
        )
    })
}

/// Why a dispute no longer needs reminders.
fn dispute_moved_on(view: &EventView) -> String {
    match view.dispute.as_ref().and_then(|d| d.status.as_deref()) {
        Some("under_review" | "warning_under_review") => "evidence submitted".to_owned(),
        Some(status) => format!("the dispute is {}", status.replace('_', " ")),
        None => "the dispute moved on".to_owned(),
    }
}

/// Whether a case is unpaid money that follow-ups apply to: an open
/// invoice after a failed payment, or an open Checkout Session.
fn is_unpaid(view: &EventView, phase: &Phase) -> bool {
    match view.kind {
        ObjectKind::Invoice => {
            phase.state == "payment_failed"
                && view
                    .invoice
                    .as_ref()
                    .and_then(|i| i.status.as_deref())
                    .is_none_or(|s| s == "open")
        }
        // A payment request stays unpaid money after its link expired.
        ObjectKind::CheckoutSession if view.payment_request().is_some() => {
            matches!(phase.state, "payment_failed" | "open" | "expired")
        }
        ObjectKind::CheckoutSession => matches!(phase.state, "payment_failed" | "open"),
        _ => false,
    }
}

/// The next countdown edit after `now_secs`: on a boundary of `every`
/// counted from the deadline, so that the phrase turns when it is edited.
fn next_countdown(due: i64, now_secs: i64, every: Duration) -> Option<i64> {
    let every = (every.as_secs() as i64).max(60);
    let at = if now_secs < due {
        let steps = (due - now_secs - 1) / every;
        due - steps * every
    } else {
        due + ((now_secs - due) / every + 1) * every
    };
    (at <= due + COUNTDOWN_AFTER_DUE_SECS).then_some(at)
}

/// A store failure as a job's outcome: the whole cause chain.
fn store_error(error: StoreError) -> String {
    crate::telemetry::chain(&error).to_string()
}

/// The hash of a card as a platform gets it: an unchanged card is not edited.
pub(super) fn card_hash(platform: crate::platform::Platform, card: &Card) -> String {
    hex::encode(&Sha256::digest(crate::chat::render(platform, card).to_string().as_bytes())[..12])
}

impl Deliverer {
    /// Schedules what a case's new state calls for, and cancels what it no
    /// longer does (see the module); `previous` is the state the case's
    /// card showed before. Called after its card was saved.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn plan_follow_ups(
        &self,
        snapshot: &Snapshot,
        receiver: &Receiver,
        case: &CaseRow,
        head: &EventView,
        phase: &Phase,
        change: Change,
        severity: Severity,
        previous: Option<&str>,
    ) -> Result<(), StoreError> {
        let (name, key) = (receiver.name.as_str(), case.case_key.as_str());
        if key.starts_with("group:") {
            return Ok(());
        }
        let schedule = &snapshot.config.schedule;
        let now = self.clock.now_ms();
        // An expired shop session is over; an expired payment request is
        // still money someone asked for (its follow-ups offer a new link).
        if phase.settled || (phase.state == "expired" && head.payment_request().is_none()) {
            // Only a case that stood where jobs are made can have any.
            if previous.is_some_and(|state| SCHEDULING_STATES.contains(&state)) {
                let reason = format!("the {} is {}", phase.noun, phase.label);
                self.store
                    .cancel_jobs(name, key, &CASE_KINDS, &reason, now)
                    .await?;
            }
            return Ok(());
        }
        let mut jobs = Vec::new();
        if head.kind == ObjectKind::Dispute {
            if !needs_response(head) {
                self.store
                    .cancel_jobs(
                        name,
                        key,
                        &[JobKind::DisputeReminder, JobKind::Countdown],
                        &dispute_moved_on(head),
                        now,
                    )
                    .await?;
            } else if let Some(due) = head
                .dispute
                .as_ref()
                .and_then(|d| d.due_by)
                .filter(|&at| at > 0)
            {
                let of = schedule.dispute_before.len();
                for (i, before) in schedule.dispute_before.iter().enumerate() {
                    let at_ms = due * 1000 - before.as_millis() as i64;
                    // A reminder whose time has passed is not sent late: the card says it.
                    if at_ms <= now {
                        continue;
                    }
                    jobs.push(
                        NewJob::for_case(
                            JobKind::DisputeReminder,
                            name,
                            key,
                            format!("{due}:{}", before.as_secs()),
                            at_ms,
                        )
                        .step(i)
                        .detail(format!(
                            "reminder {} of {of}: {} before the deadline",
                            i + 1,
                            human(*before)
                        )),
                    );
                }
                if let Some(at) = next_countdown(due, now / 1000, schedule.countdown_every) {
                    jobs.push(self.countdown_job(name, key, due, at));
                }
            }
        }
        if schedule.unpaid_receivers.iter().any(|r| r == name) && is_unpaid(head, phase) {
            // The keys make a later failure of the same case keep the
            // series the first one started.
            let of = schedule.unpaid_after.len();
            let failed_at = head.created * 1000;
            for (i, after) in schedule.unpaid_after.iter().enumerate() {
                let at_ms = failed_at + after.as_millis() as i64;
                // Counted from Stripe's time of the failure; one whose time
                // passed before the case was seen (a replay) is not sent.
                if at_ms <= now {
                    continue;
                }
                jobs.push(
                    NewJob::for_case(JobKind::UnpaidReminder, name, key, i, at_ms)
                        .step(i)
                        .detail(format!(
                            "follow-up {} of {of}: {} after the failure",
                            i + 1,
                            human(*after)
                        )),
                );
            }
        }
        if let Some(escalation) = &schedule.escalation
            && severity == Severity::Critical
            && matches!(change, Change::Opened | Change::Reopened)
            && case.acknowledged_by.is_none()
            && case.assignee.is_none()
        {
            let to = escalation
                .receiver
                .clone()
                .unwrap_or_else(|| name.to_owned());
            jobs.push(
                NewJob::for_case(
                    JobKind::Escalate,
                    name,
                    key,
                    case.head_event_seq,
                    now + escalation.after.as_millis() as i64,
                )
                .posted_to(&to)
                .detail(format!(
                    "unacknowledged after {}: to {to}",
                    human(escalation.after)
                )),
            );
        }
        let new = self.store.schedule_jobs(&jobs, now).await?;
        if new > 0 {
            tracing::debug!(receiver = %name, case = %key, jobs = new, "schedule: follow-ups scheduled");
        }
        Ok(())
    }

    fn countdown_job(&self, receiver: &str, key: &str, due: i64, at: i64) -> NewJob {
        NewJob::for_case(JobKind::Countdown, receiver, key, at, at * 1000)
            .detail(format!("countdown edit, deadline {due}"))
    }

    /// Schedules the next run of every `[[summaries]]` entry (a no-op for
    /// the ones already scheduled).
    pub(super) async fn plan_summaries(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let jobs: Vec<NewJob> = snapshot
            .config
            .schedule
            .summaries
            .iter()
            .enumerate()
            .map(|(i, s)| summary_job(s, i, summary::next_run(s, now)))
            .collect();
        self.store.schedule_jobs(&jobs, now).await?;
        Ok(())
    }

    /// Runs a batch of a receiver's due jobs, under its lease (see the
    /// module); returns how many it claimed.
    pub(super) async fn run_jobs(
        &self,
        snapshot: &Snapshot,
        receiver: &Receiver,
        budget: Option<&Budget>,
    ) -> Result<usize, StoreError> {
        let now = self.clock.now_ms();
        let lease = snapshot.config.delivery.lease.as_millis() as i64;
        let jobs = self
            .store
            .claim_jobs(
                &receiver.name,
                &self.owner,
                now,
                now + lease,
                JOBS_PER_PASS as u32,
            )
            .await?;
        let claimed = jobs.len();
        let chat = self.chats.for_destination(&receiver.destination).cloned();
        for job in jobs {
            let kind = job.job.kind.name();
            let late_by = self.clock.now_ms() - job.job.due_at_ms;
            // A countdown edit is as good late as on time; the others say so.
            let late = (late_by > LATE_AFTER_MS && job.job.kind != JobKind::Countdown).then(|| {
                format!(
                    "{} late (the service was not running when it was due)",
                    human(Duration::from_millis(late_by as u64))
                )
            });
            let result = match &chat {
                Some(chat) => {
                    self.run_job(snapshot, receiver, budget, chat, &job, late.as_deref())
                        .await
                }
                None => Err(format!(
                    "no [{}] credentials in bot.toml",
                    receiver.destination.platform().name()
                )),
            };
            let now = self.clock.now_ms();
            match result {
                Ok(Ran::Done(what)) => {
                    let what = match &late {
                        Some(late) => format!("{what}, {late}"),
                        None => what,
                    };
                    tracing::info!(receiver = %receiver.name, job = %job.job.job_key, late_ms = late_by.max(0), outcome = %what, "schedule: job done");
                    self.metrics
                        .job(kind, if late.is_some() { "late" } else { "done" });
                    self.store
                        .finish_job(job.id, &self.owner, "done", &what, now)
                        .await?;
                }
                Ok(Ran::Cancelled(why)) => {
                    tracing::info!(receiver = %receiver.name, job = %job.job.job_key, reason = %why, "schedule: job no longer needed");
                    self.metrics.job(kind, "cancelled");
                    self.store
                        .finish_job(job.id, &self.owner, "cancelled", &why, now)
                        .await?;
                }
                Err(error) if job.attempts >= MAX_JOB_ATTEMPTS => {
                    tracing::warn!(receiver = %receiver.name, job = %job.job.job_key, error = %error, "schedule: job failed; giving up");
                    self.metrics.job(kind, "failed");
                    self.store
                        .finish_job(job.id, &self.owner, "failed", &error, now)
                        .await?;
                }
                Err(error) => {
                    let wait = backoff(&JOB_RETRIES, job.attempts);
                    tracing::warn!(receiver = %receiver.name, job = %job.job.job_key, error = %error, retry_in = ?wait, "schedule: job failed; retrying");
                    self.metrics.job(kind, "retried");
                    self.store
                        .retry_job(job.id, &self.owner, now + wait.as_millis() as i64, &error)
                        .await?;
                }
            }
        }
        Ok(claimed)
    }

    async fn run_job(
        &self,
        snapshot: &Snapshot,
        receiver: &Receiver,
        budget: Option<&Budget>,
        chat: &Arc<dyn Chat>,
        job: &Job,
        late: Option<&str>,
    ) -> Result<Ran, String> {
        if job.job.kind == JobKind::Summary {
            return self
                .run_summary(snapshot, receiver, budget, chat, job)
                .await;
        }
        let (Some(case_receiver), Some(case_key)) = (&job.job.case_receiver, &job.job.case_key)
        else {
            return Ok(Ran::Cancelled("the job names no case".to_owned()));
        };
        let Some(case) = self
            .store
            .case(case_receiver, case_key)
            .await
            .map_err(store_error)?
        else {
            return Ok(Ran::Cancelled("the case has no card".to_owned()));
        };
        let Some(card_ref) = case.message_ref.as_deref().and_then(MessageRef::from_json) else {
            return Ok(Ran::Cancelled(
                "the case's card was never posted".to_owned(),
            ));
        };
        if let Some(by) = &case.resolved_by {
            return Ok(Ran::Cancelled(format!("resolved by {by}")));
        }
        let Some((phase, _, view)) = self.head_of(&case).await.map_err(store_error)? else {
            return Ok(Ran::Cancelled("the case's event is gone".to_owned()));
        };
        if phase.settled {
            return Ok(Ran::Cancelled(format!(
                "the {} is {}",
                phase.noun, phase.label
            )));
        }
        let Some(case_recv) = snapshot.config.receivers.get(case_receiver) else {
            return Ok(Ran::Cancelled(format!(
                "receiver {case_receiver} is no longer in bot.toml"
            )));
        };
        match job.job.kind {
            JobKind::DisputeReminder | JobKind::Countdown => {
                if !needs_response(&view) {
                    return Ok(Ran::Cancelled(dispute_moved_on(&view)));
                }
                let Some(due) = view
                    .dispute
                    .as_ref()
                    .and_then(|d| d.due_by)
                    .filter(|&d| d > 0)
                else {
                    return Ok(Ran::Cancelled("the dispute has no deadline".to_owned()));
                };
                let now = self.clock.now_secs();
                let edited = self
                    .refresh_card(snapshot, receiver, budget, chat, &case, view.clone())
                    .await?;
                if job.job.kind == JobKind::Countdown {
                    if let Some(at) =
                        next_countdown(due, now, snapshot.config.schedule.countdown_every)
                    {
                        let next = self.countdown_job(&receiver.name, case_key, due, at);
                        self.store
                            .schedule_jobs(&[next], self.clock.now_ms())
                            .await
                            .map_err(store_error)?;
                    }
                    return Ok(Ran::Done(format!(
                        "{}: {}",
                        if edited {
                            "card edited"
                        } else {
                            "card unchanged"
                        },
                        countdown(due, now)
                    )));
                }
                let phrase = countdown(due, now);
                let due_at = absolute(due);
                let line = cards::dispute_reminder(&cards::DisputeReminder {
                    countdown: &phrase,
                    due_at: &due_at,
                    amount: view.amount.as_ref().map(|a| a.display.as_str()),
                    evidence_url: view.dashboard_url.as_deref(),
                    assignee: case.assignee.as_deref(),
                    step: job.job.step as usize + 1,
                    of: snapshot
                        .config
                        .schedule
                        .dispute_before
                        .len()
                        .max(job.job.step as usize + 1),
                    late,
                    case_key,
                });
                self.post_line(
                    receiver,
                    budget,
                    chat,
                    job,
                    &line,
                    Some(&card_ref),
                    false,
                    None,
                )
                .await?;
                Ok(Ran::Done(format!("reminded: {phrase}")))
            }
            JobKind::UnpaidReminder => {
                if !is_unpaid(&view, &phase) {
                    return Ok(Ran::Cancelled(format!(
                        "the {} is {}",
                        phase.noun, phase.label
                    )));
                }
                let schedule = &snapshot.config.schedule;
                let of = schedule.unpaid_after.len().max(job.job.step as usize + 1);
                let step = job.job.step as usize + 1;
                let last = step >= of;
                let since = human(Duration::from_millis(
                    (self.clock.now_ms() - view.created * 1000).max(0) as u64,
                ));
                let context = crate::render::context::build(
                    &view,
                    &case_recv.redaction,
                    snapshot.config.account_name(&view.account),
                    self.clock.now_secs(),
                );
                let customer = context["customer"]["label"].as_str().map(str::to_owned);
                let hand_off = schedule.hand_off_to.as_deref();
                let mut line = cards::unpaid_follow_up(&cards::UnpaidFollowUp {
                    since: &since,
                    amount: view.amount.as_ref().map(|a| a.display.as_str()),
                    customer: customer.as_deref(),
                    step,
                    of,
                    after: if view.payment_request().is_some() {
                        "the request"
                    } else {
                        "the failure"
                    },
                    offer_dunning: view.kind == ObjectKind::Invoice,
                    offer_new_link: view.payment_request().is_some()
                        && matches!(phase.state, "expired" | "payment_failed"),
                    abandoned: last.then_some(hand_off),
                    late,
                    case_key,
                });
                if !line.actions.is_empty() && receiver.destination.platform().takes_clicks() {
                    self.buttons
                        .arm(
                            &mut line,
                            &view,
                            case_recv,
                            case.head_delivery_id,
                            case.head_event_seq,
                        )
                        .await
                        .map_err(store_error)?;
                } else {
                    line.actions.clear();
                }
                self.post_line(
                    receiver,
                    budget,
                    chat,
                    job,
                    &line,
                    Some(&card_ref),
                    false,
                    None,
                )
                .await?;
                if !last {
                    return Ok(Ran::Done(format!("follow-up {step} of {of} posted")));
                }
                self.abandon(snapshot, receiver, budget, chat, &case, &view, hand_off)
                    .await?;
                Ok(Ran::Done(format!(
                    "follow-up {step} of {of} posted; abandoned{}",
                    hand_off
                        .map(|h| format!(", handed to {h}"))
                        .unwrap_or_default()
                )))
            }
            JobKind::Escalate => {
                if let Some(by) = &case.acknowledged_by {
                    return Ok(Ran::Cancelled(format!("acknowledged by {by}")));
                }
                if let Some(to) = &case.assignee {
                    return Ok(Ran::Cancelled(format!("assigned to {to}")));
                }
                let Some(escalation) = &snapshot.config.schedule.escalation else {
                    return Ok(Ran::Cancelled("[escalation] is no longer set".to_owned()));
                };
                let after = human(escalation.after);
                let mention = escalation.mention.as_deref();
                let platform = receiver.destination.platform();
                if &receiver.name == case_receiver {
                    let line = cards::escalation_line(
                        &format!(
                            "{} · {}",
                            phase.label,
                            view.amount
                                .as_ref()
                                .map_or(case_key.as_str(), |a| a.display.as_str())
                        ),
                        &after,
                        case_key,
                    );
                    self.post_line(
                        receiver,
                        budget,
                        chat,
                        job,
                        &line,
                        Some(&card_ref),
                        true,
                        mention,
                    )
                    .await?;
                    return Ok(Ran::Done(
                        "called on the mention in the case's thread".to_owned(),
                    ));
                }
                let mut card = snapshot
                    .config
                    .card_at(
                        &snapshot.templates,
                        &view,
                        Some(receiver),
                        self.clock.now_secs(),
                    )
                    .map_err(|e| format!("cannot render the card: {e}"))?;
                cards::escalated(&mut card, &after);
                if platform.takes_clicks() {
                    // Its buttons act on the case itself: Acknowledge here
                    // acknowledges the case's card.
                    self.buttons
                        .arm(
                            &mut card,
                            &view,
                            receiver,
                            case.head_delivery_id,
                            case.head_event_seq,
                        )
                        .await
                        .map_err(store_error)?;
                }
                self.post_line(receiver, budget, chat, job, &card, None, false, mention)
                    .await?;
                Ok(Ran::Done(format!("posted again to {}", receiver.name)))
            }
            JobKind::Summary => unreachable!("handled above"),
        }
    }

    /// Posts a follow-up's message: a line in the case's thread
    /// (`reply_to`; `linked`: to the channel too), or a card of its own;
    /// calling on `mention` where there is one. Its key is the job's.
    #[allow(clippy::too_many_arguments)]
    async fn post_line(
        &self,
        receiver: &Receiver,
        budget: Option<&Budget>,
        chat: &Arc<dyn Chat>,
        job: &Job,
        line: &Card,
        reply_to: Option<&MessageRef>,
        linked: bool,
        mention: Option<&str>,
    ) -> Result<(), String> {
        let platform = receiver.destination.platform();
        let mut payload = crate::chat::render(platform, line);
        if let Some(mention) = mention {
            crate::chat::with_mention(platform, &mut payload, mention);
        }
        let out = Outbound {
            payload,
            card: line,
            idempotency_key: idempotency_key("j", &receiver.name, &job.job.job_key),
            reply_to: reply_to.cloned(),
            linked,
        };
        let _permit = self.pace(budget).await;
        chat.post(&receiver.destination, &out)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Renders a case's card again from its head `view` (its countdown, a
    /// new note) and edits it when it changed. Returns whether it was edited.
    async fn refresh_card(
        &self,
        snapshot: &Snapshot,
        receiver: &Receiver,
        budget: Option<&Budget>,
        chat: &Arc<dyn Chat>,
        case: &CaseRow,
        view: EventView,
    ) -> Result<bool, String> {
        let Some(card_ref) = case.message_ref.as_deref().and_then(MessageRef::from_json) else {
            return Ok(false);
        };
        let Some(case_recv) = snapshot.config.receivers.get(&case.receiver) else {
            return Ok(false);
        };
        let (card, enriched) = self
            .case_card(
                snapshot,
                case_recv,
                &case.case_key,
                Some(case),
                view,
                case.head_delivery_id,
                false,
                &[],
            )
            .await?;
        if let Enriched::Late(read) = enriched {
            read.abort();
        }
        let platform = receiver.destination.platform();
        let hash = card_hash(platform, &card);
        if case.card_hash.as_deref() == Some(hash.as_str()) {
            return Ok(false);
        }
        let out = Outbound {
            payload: crate::chat::render(platform, &card),
            card: &card,
            idempotency_key: format!("edit-{}", case.case_key),
            reply_to: None,
            linked: false,
        };
        {
            let _permit = self.pace(budget).await;
            chat.edit(&card_ref, &out)
                .await
                .map_err(|e| e.to_string())?;
        }
        self.store
            .set_card_hash(&case.receiver, &case.case_key, &hash)
            .await
            .map_err(store_error)?;
        Ok(true)
    }

    /// Marks a case abandoned after its last follow-up: the card says so,
    /// it is assigned to `hand_off`, and the helpdesk gets a ticket as for
    /// an assignment. The audit log keeps it.
    #[allow(clippy::too_many_arguments)]
    async fn abandon(
        &self,
        snapshot: &Snapshot,
        receiver: &Receiver,
        budget: Option<&Budget>,
        chat: &Arc<dyn Chat>,
        case: &CaseRow,
        view: &EventView,
        hand_off: Option<&str>,
    ) -> Result<(), String> {
        let now = self.clock.now_ms();
        let at = absolute(now / 1000);
        let line = match hand_off {
            Some(to) => {
                format!("Abandoned at {at}: no payment after the last follow-up · handed to {to}")
            }
            None => format!("Abandoned at {at}: no payment after the last follow-up"),
        };
        self.store
            .note_case(
                &case.receiver,
                &case.case_key,
                &line,
                CaseMark::Abandoned(hand_off.map(str::to_owned)),
                now,
            )
            .await
            .map_err(store_error)?;
        let ticket = match (hand_off, &snapshot.config.interactions.ticket_webhook) {
            (Some(to), Some(url)) => {
                let ticket = crate::chat::ticket::Ticket {
                    view,
                    assignee: to,
                    assigned_by: "stripe-chatops follow-ups",
                    platform: "schedule",
                    user_id: "",
                    idempotency_key: format!(
                        "stripe-chatops-abandoned-{}-{}",
                        case.receiver, case.case_key
                    ),
                };
                Some(crate::chat::ticket::post(url, &ticket).await)
            }
            _ => None,
        };
        let (outcome, detail) = match &ticket {
            None => ("done", line.clone()),
            Some(answer) => {
                let (outcome, said) = answer.summary();
                (outcome, format!("{line} · {said}"))
            }
        };
        self.store
            .append_audit(&crate::store::AuditEntry {
                at_ms: now,
                platform: "schedule".to_owned(),
                user_id: "stripe-chatops".to_owned(),
                action: "abandon".to_owned(),
                event_id: Some(view.id.clone()),
                object_id: view.object_id.clone(),
                outcome: outcome.to_owned(),
                detail: Some(detail),
                stripe_request_id: None,
            })
            .await
            .map_err(store_error)?;
        // The card as it stands now, with the note just added.
        let case = self
            .store
            .case(&case.receiver, &case.case_key)
            .await
            .map_err(store_error)?
            .unwrap_or_else(|| case.clone());
        self.refresh_card(snapshot, receiver, budget, chat, &case, view.clone())
            .await?;
        Ok(())
    }

    /// Posts a summary: one card per account, mode and currency, each with
    /// its chart; then schedules the next one.
    async fn run_summary(
        &self,
        snapshot: &Snapshot,
        receiver: &Receiver,
        budget: Option<&Budget>,
        chat: &Arc<dyn Chat>,
        job: &Job,
    ) -> Result<Ran, String> {
        let index = usize::try_from(job.job.step).unwrap_or(usize::MAX);
        let Some(schedule) = snapshot
            .config
            .schedule
            .summaries
            .get(index)
            .filter(|s| s.receiver == receiver.name)
        else {
            return Ok(Ran::Cancelled(
                "this summary is no longer in bot.toml".to_owned(),
            ));
        };
        // A job of an earlier `at` or `every` (the config was reloaded) is
        // not this schedule's: the run at the new time replaces it.
        if summary::next_run(schedule, job.job.due_at_ms - 1) != job.job.due_at_ms {
            return Ok(Ran::Cancelled("the summary's schedule changed".to_owned()));
        }
        // A job of an earlier `at` or `every` (the config was reloaded) is
        // not this schedule's: the run at the new time replaces it.
        if summary::next_run(schedule, job.job.due_at_ms - 1) != job.job.due_at_ms {
            return Ok(Ran::Cancelled("the summary's schedule changed".to_owned()));
        }
        let days = (schedule.every.period().as_secs() / 86_400) as u32;
        let bounds = summary::period_bounds(schedule.timezone, job.job.due_at_ms, days);
        let title = summary::title_of(schedule.every);
        let numbers = summary::compute(
            self.store.as_ref(),
            &snapshot.config,
            title,
            &receiver.name,
            bounds,
            schedule.timezone,
        )
        .await
        .map_err(store_error)?;
        let platform = receiver.destination.platform();
        let mut charts = 0;
        let mut missing = Vec::new();
        for (i, card) in summary_cards::cards(&numbers).iter().enumerate() {
            let out = Outbound {
                payload: crate::chat::render(platform, card),
                card,
                idempotency_key: idempotency_key(
                    "s",
                    &receiver.name,
                    &format!("{}:{i}", job.job.job_key),
                ),
                reply_to: None,
                linked: false,
            };
            let _permit = self.pace(budget).await;
            match numbers.groups.get(i) {
                Some(group) => {
                    let png = chart::png(&card.title, group).map_err(|e| e.to_string())?;
                    let image = Image {
                        filename: format!("summary-{}-{}.png", group.currency, bounds.1),
                        title: card.title.clone(),
                        png,
                    };
                    let posted = chat
                        .post_image(&receiver.destination, &out, &image)
                        .await
                        .map_err(|e| e.to_string())?;
                    match posted.image {
                        Ok(_) => charts += 1,
                        Err(why) => missing.push(why),
                    }
                }
                None => {
                    chat.post(&receiver.destination, &out)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        let next = summary::next_run(schedule, job.job.due_at_ms.max(self.clock.now_ms()));
        self.store
            .schedule_jobs(&[summary_job(schedule, index, next)], self.clock.now_ms())
            .await
            .map_err(store_error)?;
        let mut what = format!(
            "{} card(s), {charts} chart(s): {}",
            numbers.groups.len().max(1),
            numbers.period
        );
        if let Some(why) = missing.first() {
            tracing::warn!(receiver = %receiver.name, reason = %why, "schedule: a summary's chart was not attached");
            what.push_str(&format!("; chart not attached: {why}"));
        }
        Ok(Ran::Done(what))
    }
}

/// The job of one `[[summaries]]` entry due at `at_ms`.
fn summary_job(
    schedule: &crate::config::schedule::SummarySchedule,
    index: usize,
    at_ms: i64,
) -> NewJob {
    NewJob {
        job_key: format!("summary:{}:{index}:{at_ms}", schedule.receiver),
        kind: JobKind::Summary,
        receiver: schedule.receiver.clone(),
        case_receiver: None,
        case_key: None,
        step: index as i64,
        detail: format!(
            "{} at {} {}",
            summary::title_of(schedule.every).to_lowercase(),
            schedule.at.format("%H:%M"),
            schedule.timezone.name()
        ),
        due_at_ms: at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdown_edits_fall_on_the_hours_before_the_deadline() {
        let hour = Duration::from_secs(3600);
        let due = 1_000_000;
        // 80 h before: the next edit is 79 h before, when the phrase turns.
        assert_eq!(
            next_countdown(due, due - 80 * 3600, hour),
            Some(due - 79 * 3600)
        );
        assert_eq!(
            next_countdown(due, due - 80 * 3600 + 1, hour),
            Some(due - 79 * 3600)
        );
        assert_eq!(next_countdown(due, due - 1, hour), Some(due));
        // Past the deadline: every hour of "overdue by", for a day.
        assert_eq!(next_countdown(due, due, hour), Some(due + 3600));
        assert_eq!(
            next_countdown(due, due + 23 * 3600, hour),
            Some(due + 24 * 3600)
        );
        assert_eq!(next_countdown(due, due + 24 * 3600, hour), None);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(Duration::from_secs(72 * 3600)), "3 days");
        assert_eq!(human(Duration::from_secs(4 * 3600)), "4 h");
        assert_eq!(human(Duration::from_secs(30 * 60)), "30 min");
    }
}
