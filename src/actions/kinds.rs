//! The actions a button runs, behind one [`Action`] trait.
//!
//! Each gets the checked click (token, event, view, clicker) and returns the
//! line the card shows, the audit outcome and detail, and Stripe's request id.
//! The Stripe actions call `POST /v1/invoices/{id}/{verb}` with an
//! `Idempotency-Key` derived from the button's token, so Stripe is asked
//! once however often the click arrives.

use std::time::Duration;

use async_trait::async_trait;

use crate::chat::ticket::TicketAnswer;

use crate::chat::Click;
use crate::config::{ActionKind, Config};
use crate::event::EventView;
use crate::store::{ActionToken, NewSilence, Store, StoredEvent, now_ms};
use crate::stripe::api::StripeClient;

/// What an action works with.
pub struct ActionContext<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// The store (silences).
    pub store: &'a dyn Store,
    /// The Stripe API client.
    pub stripe: &'a StripeClient,
    /// The button's token.
    pub token: &'a ActionToken,
    /// The event the card is about.
    pub stored: &'a StoredEvent,
    /// Its view.
    pub view: &'a EventView,
    /// Who pressed, and (for "Assign…") what they picked.
    pub click: &'a Click,
    /// `14:02 UTC`.
    pub at: String,
    /// Wakes the pipeline (a new payment link's event is stored).
    pub wake: &'a tokio::sync::Notify,
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionOutcome {
    /// The card's "Done" line: "Retried by @alice at 14:02 UTC — paid ✅".
    pub line: String,
    /// `done` or `failed`, for the audit log.
    pub audit: &'static str,
    /// Words for the audit log.
    pub detail: String,
    /// Stripe's `Request-Id`.
    pub request_id: Option<String>,
}

impl ActionOutcome {
    fn new(line: String, audit: &'static str, detail: impl Into<String>) -> Self {
        Self {
            line,
            audit,
            detail: detail.into(),
            request_id: None,
        }
    }
}

/// One kind of button.
#[async_trait]
pub trait Action: Send + Sync {
    /// Runs it for a click that passed every check.
    async fn run(&self, ctx: &ActionContext<'_>) -> ActionOutcome;
}

/// The action of a kind.
pub fn action_for(kind: ActionKind) -> Box<dyn Action> {
    match kind {
        ActionKind::RetryPayment => Box::new(InvoiceAction {
            verb: "pay",
            done: "Retried",
        }),
        ActionKind::SendDunning => Box::new(InvoiceAction {
            verb: "send",
            done: "Reminder sent",
        }),
        ActionKind::MarkUncollectible => Box::new(InvoiceAction {
            verb: "mark_uncollectible",
            done: "Marked uncollectible",
        }),
        ActionKind::VoidInvoice => Box::new(InvoiceAction {
            verb: "void",
            done: "Voided",
        }),
        ActionKind::Assign => Box::new(Assign),
        ActionKind::Acknowledge => Box::new(Note {
            done: "Acknowledged",
            detail: "acknowledged",
            mark: "",
        }),
        ActionKind::Resolve => Box::new(Note {
            done: "Resolved",
            detail: "resolved",
            mark: " ✅",
        }),
        ActionKind::Mute => Box::new(Mute),
        ActionKind::RequestPayment => Box::new(super::payment::NewLink),
    }
}

/// How long "Mute similar" silences.
pub const MUTE_FOR: Duration = Duration::from_secs(3600);

/// "Mute similar for 1 h": a silence of the event's type on its account,
/// and of its customer where it has one, stored like `silences add`.
struct Mute;

/// The matchers "Mute similar" silences with.
pub fn similar(view: &EventView) -> Vec<String> {
    let mut matchers = vec![
        format!("type={}", view.event_type),
        format!("account={}", view.account),
    ];
    if let Some(customer) = &view.customer.id {
        matchers.push(format!("customer={customer}"));
    }
    matchers
}

#[async_trait]
impl Action for Mute {
    async fn run(&self, ctx: &ActionContext<'_>) -> ActionOutcome {
        let (who, at) = (&ctx.click.mention, &ctx.at);
        let now = now_ms();
        let silence = NewSilence {
            matchers: similar(ctx.view),
            comment: format!("muted from chat on {}", ctx.view.id),
            created_by: ctx.click.actor(),
            starts_at_ms: now,
            ends_at_ms: now + MUTE_FOR.as_millis() as i64,
        };
        match ctx.store.add_silence(&silence).await {
            Ok(id) => ActionOutcome::new(
                format!(
                    "Muted similar events for 1 h by {who} at {at} (silence {id}: {})",
                    silence.matchers.join(", ")
                ),
                "done",
                format!("silence {id}"),
            ),
            Err(error) => ActionOutcome::new(
                format!("Mute by {who} failed: the silence could not be stored"),
                "failed",
                crate::telemetry::chain(&error),
            ),
        }
    }
}

/// `POST /v1/invoices/{id}/{verb}`.
struct InvoiceAction {
    verb: &'static str,
    done: &'static str,
}

#[async_trait]
impl Action for InvoiceAction {
    async fn run(&self, ctx: &ActionContext<'_>) -> ActionOutcome {
        let (done, who, at) = (self.done, &ctx.click.mention, &ctx.at);
        let Some(invoice) = ctx
            .token
            .token
            .object_id
            .as_deref()
            .filter(|id| id.starts_with("in_"))
        else {
            return ActionOutcome::new(
                format!("{done} by {who} failed: this card is not about an invoice"),
                "failed",
                "no invoice",
            );
        };
        let Some(key) = ctx
            .config
            .endpoint(&ctx.stored.event.account)
            .and_then(|e| e.api_key.clone())
        else {
            return ActionOutcome::new(
                format!("{done} by {who} failed: no Stripe API key for this account"),
                "failed",
                "no [stripe] api_key",
            );
        };
        let idempotency_key = format!("stripe-chatops-{}", ctx.token.token.token);
        let answer = ctx
            .stripe
            .post(
                &key,
                &format!("/v1/invoices/{invoice}/{}", self.verb),
                &[],
                &idempotency_key,
                ctx.view.connect_account.as_deref(),
            )
            .await;
        match answer {
            Ok(response) => {
                let status = response.object["status"].as_str().unwrap_or("done");
                let mark = if status == "paid" { " ✅" } else { "" };
                ActionOutcome {
                    line: format!("{done} by {who} at {at} — {status}{mark}"),
                    audit: "done",
                    detail: format!("invoice {status}"),
                    request_id: response.request_id,
                }
            }
            Err(error) => ActionOutcome {
                line: format!("{done} by {who} at {at} — declined: {}", error.reason()),
                audit: "failed",
                detail: error.message.clone(),
                request_id: error.request_id.clone(),
            },
        }
    }
}

/// "Take it" (the clicker), "Assign…" (a picked name), and the optional
/// ticket webhook ("Create ticket").
struct Assign;

#[async_trait]
impl Action for Assign {
    async fn run(&self, ctx: &ActionContext<'_>) -> ActionOutcome {
        let (who, at, view, click) = (&ctx.click.mention, &ctx.at, ctx.view, ctx.click);
        let picked = click
            .pick
            .and_then(|i| ctx.config.interactions.assignees.get(i));
        let taken = match picked {
            Some(name) => format!("Assigned to {name} by {who} at {at}"),
            None => format!("Taken by {who} at {at}"),
        };
        let assignee = picked.map_or(who.as_str(), String::as_str);
        let Some(url) = &ctx.config.interactions.ticket_webhook else {
            return ActionOutcome::new(taken, "done", format!("assigned to {assignee}"));
        };
        let ticket = crate::chat::ticket::Ticket {
            view,
            assignee,
            assigned_by: who,
            platform: click.platform.name(),
            user_id: &click.user_id,
            idempotency_key: format!("stripe-chatops-{}", ctx.token.token.token),
        };
        let answer = crate::chat::ticket::post(url, &ticket).await;
        let (audit, said) = answer.summary();
        let detail = match &answer {
            TicketAnswer::Created => "assigned; ticket posted".to_owned(),
            TicketAnswer::Refused(status) => format!("ticket webhook answered HTTP {status}"),
            TicketAnswer::Unreachable(error) => format!("ticket webhook unreachable: {error}"),
        };
        ActionOutcome::new(format!("{taken} · {said}"), audit, detail)
    }
}

/// Acknowledge, resolve: the card records who and when.
struct Note {
    done: &'static str,
    detail: &'static str,
    mark: &'static str,
}

#[async_trait]
impl Action for Note {
    async fn run(&self, ctx: &ActionContext<'_>) -> ActionOutcome {
        ActionOutcome::new(
            format!(
                "{} by {} at {}{}",
                self.done, ctx.click.mention, ctx.at, self.mark
            ),
            "done",
            self.detail,
        )
    }
}
