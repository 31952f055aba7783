//! Cases: which Stripe object an event is about, and where its state stands.
//!
//! A case is one Stripe object's life as a finance or support person follows
//! it: an invoice, a payment (its payment intent, its charges, and the
//! invoice they pay), a dispute (joined to its payment), a subscription, a
//! Checkout session, a payout, or a customer. Every event of a case edits
//! one card instead of posting a new one.
//!
//! Stripe does not order events, so the card shows the event of highest
//! [`Phase::rank`], not the latest to arrive: an invoice that was paid stays
//! paid when a late `invoice.payment_failed` of an earlier attempt arrives.
//! Between two events of the same rank, the invoice's attempt count, then
//! the event's `created`, then the order of arrival decide. Everything here
//! is pure; the store keeps the cases and the delivery worker applies them.

use super::facts::ObjectKind;
use super::view::EventView;

/// Where a case stands after one of its events: what the card says and
/// what a person may still do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    /// A short name of the state, e.g. `payment_failed`, `paid`.
    pub state: &'static str,
    /// The state in words for the card's history, e.g. "paid".
    pub label: &'static str,
    /// What the case is about in words ("invoice", "payment", "dispute").
    pub noun: &'static str,
    /// Precedence: a higher rank always wins over a lower one, whatever
    /// their order of arrival. Within a step of ten, the more telling event
    /// of the same state wins (the invoice over its charge).
    pub rank: u16,
    /// The state needs a person again when the case reaches it from another
    /// state: it is posted as a new top-level message that links the old one
    /// (a refund after a payment, a dispute, its outcome, a failed payout).
    pub reopens: bool,
    /// Nothing is left to do: the actions of earlier cards are meaningless
    /// (paid, voided, written off, a dispute closed).
    pub settled: bool,
}

impl Phase {
    const fn new(state: &'static str, label: &'static str, noun: &'static str, rank: u16) -> Self {
        Self {
            state,
            label,
            noun,
            rank,
            reopens: false,
            settled: false,
        }
    }

    const fn reopening(mut self) -> Self {
        self.reopens = true;
        self
    }

    const fn settling(mut self) -> Self {
        self.settled = true;
        self
    }
}

/// The order between two events of one case: `(rank, attempt, created, seq)`.
/// The greater one is what the card shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Precedence {
    /// [`Phase::rank`].
    pub rank: u16,
    /// An invoice's `attempt_count` (0 for other objects).
    pub attempt: i64,
    /// The event's `created`, Unix seconds.
    pub created: i64,
    /// The order in which it was stored.
    pub seq: i64,
}

impl Precedence {
    /// The precedence of `view`, stored as event `seq`.
    pub fn of(view: &EventView, seq: i64) -> Self {
        Self {
            rank: phase(view).rank,
            attempt: view
                .invoice
                .as_ref()
                .and_then(|i| i.attempt_count)
                .unwrap_or(0),
            created: view.created,
            seq,
        }
    }
}

/// The ids an event's case may be known by, the preferred key of a new case
/// first. An event joins the case of any of them that has one already
/// (`case_aliases` in the store). Empty when the object has no id (an
/// upcoming invoice): such an event is a card of its own.
pub fn case_ids(view: &EventView) -> Vec<String> {
    let Some(own) = view.object_id.clone() else {
        return Vec::new();
    };
    let mut ids = vec![own];
    match view.kind {
        ObjectKind::Invoice | ObjectKind::Charge | ObjectKind::PaymentIntent => {
            ids.extend(view.related.iter().cloned());
            // A new payment case is named after the most telling object:
            // its invoice, else its payment intent, else the charge.
            ids.sort_by_key(|id| payment_priority(id));
        }
        ObjectKind::Dispute | ObjectKind::EarlyFraudWarning => {
            // Named after itself, joined to its payment's case when there is one.
            ids.extend(view.related.iter().cloned());
            if let Some(charge) = view.dispute.as_ref().and_then(|d| d.charge.clone())
                && !ids.contains(&charge)
            {
                ids.push(charge);
            }
        }
        ObjectKind::CheckoutSession => {
            // Every link of a payment request is one case, named after the request.
            if let Some(request) = view.payment_request() {
                ids.insert(0, request.id.clone());
            }
        }
        ObjectKind::Subscription
        | ObjectKind::Payout
        | ObjectKind::Customer
        | ObjectKind::Other => {}
    }
    ids.dedup();
    ids
}

fn payment_priority(id: &str) -> u8 {
    match id.split('_').next() {
        Some("in") => 0,
        Some("pi") => 1,
        Some("ch" | "py") => 2,
        _ => 3,
    }
}

/// The phase a case reaches with `view`.
pub fn phase(view: &EventView) -> Phase {
    let t = view.event_type.as_str();
    match view.kind {
        ObjectKind::Invoice => invoice_phase(t),
        ObjectKind::Charge | ObjectKind::PaymentIntent => payment_phase(t, view.kind),
        ObjectKind::Dispute => dispute_phase(t),
        ObjectKind::EarlyFraudWarning => {
            Phase::new("fraud_warning", "early fraud warning", "payment", 70).reopening()
        }
        ObjectKind::Subscription => subscription_phase(t, view),
        ObjectKind::CheckoutSession => checkout_phase(t, view),
        ObjectKind::Payout => match t {
            "payout.paid" => Phase::new("paid", "paid", "payout", 50).settling(),
            "payout.canceled" => Phase::new("canceled", "canceled", "payout", 50).settling(),
            "payout.failed" => Phase::new("failed", "failed", "payout", 60).reopening(),
            _ => Phase::new("pending", "updated", "payout", 10),
        },
        ObjectKind::Customer => match t {
            "customer.deleted" => Phase::new("deleted", "deleted", "customer", 50).settling(),
            _ => Phase::new("updated", "updated", "customer", 10),
        },
        ObjectKind::Other => Phase::new("updated", "updated", "object", 10),
    }
}

/// The rank a newer link of a payment request adds: every event of link
/// `n + 1` outranks every event of link `n` (ranks of one link stay below 100).
pub const LINK_RANK_STEP: u16 = 100;

fn checkout_phase(event_type: &str, view: &EventView) -> Phase {
    let request = view.payment_request();
    let noun = if request.is_some() {
        "payment request"
    } else {
        "checkout"
    };
    let completed = |state, label| Phase::new(state, label, noun, 50).settling();
    let mut phase = match event_type {
        "checkout.session.completed" => match view
            .checkout
            .as_ref()
            .and_then(|c| c.payment_status.as_deref())
        {
            // A delayed payment method (SEPA, bank transfer) pays later:
            // `async_payment_succeeded` or `_failed` will tell.
            Some("unpaid") => Phase::new("processing", "completed, payment processing", noun, 30),
            _ => completed("completed", "paid"),
        },
        "checkout.session.async_payment_succeeded" => completed("completed", "paid"),
        "checkout.session.async_payment_failed" => {
            Phase::new("payment_failed", "payment failed", noun, 40).reopening()
        }
        "checkout.session.expired" => Phase::new("expired", "expired", noun, 40),
        super::PAYMENT_REQUESTED => Phase::new("open", "requested", noun, 10),
        _ => Phase::new("open", "updated", noun, 10),
    };
    if let Some(request) = request {
        let step = u16::try_from(request.link.saturating_sub(1).min(100)).unwrap_or(100);
        phase.rank += LINK_RANK_STEP * step;
    }
    phase
}

fn invoice_phase(event_type: &str) -> Phase {
    const NOUN: &str = "invoice";
    match event_type {
        // The invoice events outrank their charge's and payment intent's in
        // each step (+3): the invoice card is the more telling one.
        "invoice.paid" | "invoice.payment_succeeded" => {
            Phase::new("paid", "paid", NOUN, 53).settling()
        }
        "invoice.voided" => Phase::new("voided", "voided", NOUN, 55).settling(),
        "invoice.marked_uncollectible" => {
            Phase::new("uncollectible", "written off", NOUN, 55).settling()
        }
        "invoice.payment_failed" => Phase::new("payment_failed", "payment failed", NOUN, 33),
        "invoice.payment_action_required" => Phase::new(
            "action_required",
            "waiting for the customer to authenticate",
            NOUN,
            23,
        ),
        "invoice.deleted" => Phase::new("deleted", "deleted", NOUN, 55).settling(),
        "invoice.finalized" | "invoice.sent" | "invoice.overdue" => {
            Phase::new("open", "open", NOUN, 13)
        }
        _ => Phase::new("draft", "updated", NOUN, 10),
    }
}

fn payment_phase(event_type: &str, kind: ObjectKind) -> Phase {
    const NOUN: &str = "payment";
    // Of one step, the payment intent's event outranks its charge's.
    let own = u16::from(kind == ObjectKind::PaymentIntent) + 1;
    match event_type {
        "charge.failed" | "payment_intent.payment_failed" => {
            Phase::new("payment_failed", "payment failed", NOUN, 30 + own)
        }
        "charge.succeeded" | "payment_intent.succeeded" | "charge.captured" => {
            Phase::new("paid", "paid", NOUN, 50 + own).settling()
        }
        "charge.refunded" | "charge.refund.updated" => {
            Phase::new("refunded", "refunded", NOUN, 60 + own).reopening()
        }
        "payment_intent.canceled" | "charge.expired" => {
            Phase::new("canceled", "canceled", NOUN, 40 + own).settling()
        }
        "payment_intent.requires_action" => Phase::new(
            "action_required",
            "waiting for the customer to authenticate",
            NOUN,
            20 + own,
        ),
        _ => Phase::new("pending", "updated", NOUN, 10 + own),
    }
}

fn dispute_phase(event_type: &str) -> Phase {
    const NOUN: &str = "dispute";
    match event_type {
        "charge.dispute.closed" => Phase::new("dispute_closed", "closed", NOUN, 90)
            .reopening()
            .settling(),
        "charge.dispute.funds_reinstated" => {
            Phase::new("dispute_closed", "funds reinstated", NOUN, 91).settling()
        }
        "charge.dispute.funds_withdrawn" => Phase::new("disputed", "funds withdrawn", NOUN, 81),
        _ => Phase::new("disputed", "disputed", NOUN, 80).reopening(),
    }
}

fn subscription_phase(event_type: &str, view: &EventView) -> Phase {
    const NOUN: &str = "subscription";
    let status = view
        .subscription
        .as_ref()
        .and_then(|s| s.status.as_deref())
        .unwrap_or_default();
    match event_type {
        "customer.subscription.deleted" => Phase::new("canceled", "ended", NOUN, 90)
            .reopening()
            .settling(),
        _ if matches!(status, "past_due" | "unpaid") => {
            // A new failure after a success needs a person again.
            Phase::new("past_due", "past due", NOUN, 10).reopening()
        }
        "customer.subscription.trial_will_end" => {
            Phase::new("trial_ending", "trial ends soon", NOUN, 10)
        }
        _ => Phase::new("active", "updated", NOUN, 10),
    }
}

/// Whether [`merge_facts`] could add anything to `head`: it is a failed
/// payment without its reason, or a payment without its card. Otherwise
/// the case's other events need not be read at all.
pub fn lacks_facts(head: &EventView) -> bool {
    let payment = matches!(
        head.kind,
        ObjectKind::Invoice | ObjectKind::Charge | ObjectKind::PaymentIntent
    );
    payment
        && ((phase(head).state == "payment_failed" && head.failure.is_none())
            || head.card.is_none())
}

/// Fills in what the case's card needs from its other events: the decline
/// reason and the card of a failed payment live on the charge and the
/// payment intent, never on the invoice (`CARDS.md`). `others` are the
/// case's other events, newest first; nothing is guessed.
pub fn merge_facts(head: &mut EventView, others: &[EventView]) {
    if phase(head).state == "payment_failed" && head.failure.is_none() {
        // The charge's reason first: it has the decline code and the outcome.
        let from = |kind| {
            others
                .iter()
                .filter(|o| o.kind == kind && o.failure.is_some())
                .find(|o| phase(o).state == "payment_failed")
        };
        if let Some(other) = from(ObjectKind::Charge).or_else(|| from(ObjectKind::PaymentIntent)) {
            head.failure.clone_from(&other.failure);
        }
    }
    if head.card.is_none()
        && let Some(other) = others.iter().find(|o| o.card.is_some())
    {
        head.card.clone_from(&other.card);
    }
}

/// How one event changed its case's card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The first event: the card was posted.
    Opened,
    /// The event is the case's new state: the card was edited.
    Advanced,
    /// The event needs a person again: a new card was posted, linking the old one.
    Reopened,
    /// An older or lesser event: the card keeps its state (it may still
    /// gain a fact, such as the decline reason).
    Kept,
}

impl Change {
    /// `opened`, `advanced`, `reopened` or `kept`, as stored.
    pub fn name(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Advanced => "advanced",
            Self::Reopened => "reopened",
            Self::Kept => "kept",
        }
    }
}

/// What a later event does to a case whose card shows `head`: whether it
/// becomes the new head, and whether it reopens the case.
pub fn change(head: (&Phase, Precedence), new: (&Phase, Precedence)) -> Change {
    if new.1 <= head.1 {
        return Change::Kept;
    }
    if new.0.reopens && new.0.state != head.0.state {
        Change::Reopened
    } else {
        Change::Advanced
    }
}

/// The one short line an event adds to its case's thread: what happened,
/// the amount and when, and the event id. It carries no customer data and
/// mentions nobody.
pub fn history_line(view: &EventView, change: Change, head: &Phase) -> String {
    let phase = phase(view);
    let mut line = format!("{} · `{}`", capitalised(phase.label), view.event_type);
    if let Some(amount) = &view.amount {
        line.push_str(&format!(" · {}", amount.display));
    }
    if let Some(at) = chrono::DateTime::from_timestamp(view.created, 0) {
        line.push_str(&format!(" · {}", at.format("%b %-d, %H:%M UTC")));
    }
    line.push_str(&format!(" · {}", view.id));
    // A payment request's new link is what the thread is for: the link itself.
    if view.event_type == super::PAYMENT_REQUESTED
        && let Some(url) = view.checkout.as_ref().and_then(|c| c.url.as_deref())
    {
        let link = view.payment_request().map_or(1, |r| r.link);
        line.push_str(&format!(" · link {link}: {url}"));
    }
    if change == Change::Kept && phase.state != head.state {
        line.push_str(&format!(
            " (an earlier event; the {} stays {})",
            head.noun, head.label
        ));
    }
    line
}

/// What a click on a button of an earlier card of the case answers: the
/// case moved on, so nothing was done. `at` is the head event's `created`.
pub fn revoked_notice(head: &Phase, at: i64) -> String {
    let when = chrono::DateTime::from_timestamp(at, 0)
        .map(|t| t.format("%H:%M UTC").to_string())
        .unwrap_or_default();
    if head.settled {
        format!(
            "This {} was {} at {when}; nothing was done.",
            head.noun, head.label
        )
    } else {
        format!(
            "This {} changed at {when} ({}); nothing was done. Use the buttons on the card as it is now.",
            head.noun, head.label
        )
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::sample::sample_event;

    fn view(event_type: &str, created: i64, edit: impl Fn(&mut serde_json::Value)) -> EventView {
        let mut event = sample_event(event_type, created).unwrap();
        edit(&mut event);
        EventView::parse(&event, "default").unwrap()
    }

    fn lifecycle() -> Vec<(EventView, i64)> {
        let object = |e: &mut serde_json::Value| e["data"]["object"]["id"] = "in_case1".into();
        vec![
            (view("invoice.finalized", 100, object), 1),
            (view("invoice.payment_failed", 200, object), 2),
            (view("invoice.paid", 300, object), 3),
        ]
    }

    /// The head after applying `events` in the given order.
    fn head_after(order: &[usize]) -> (String, Vec<Change>) {
        let events = lifecycle();
        let mut head: Option<(Phase, Precedence, String)> = None;
        let mut changes = Vec::new();
        for (arrival, &i) in order.iter().enumerate() {
            let (view, _) = &events[i];
            let p = phase(view);
            let precedence = Precedence::of(view, arrival as i64);
            match &head {
                None => {
                    changes.push(Change::Opened);
                    head = Some((p, precedence, view.event_type.clone()));
                }
                Some((hp, hprec, _)) => {
                    let c = change((hp, *hprec), (&p, precedence));
                    changes.push(c);
                    if c != Change::Kept {
                        head = Some((p, precedence, view.event_type.clone()));
                    }
                }
            }
        }
        (head.unwrap().2, changes)
    }

    #[test]
    fn every_order_of_an_invoice_lifecycle_ends_paid() {
        let orders = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for order in orders {
            let (head, changes) = head_after(&order);
            assert_eq!(head, "invoice.paid", "order {order:?}");
            assert!(!changes.contains(&Change::Reopened), "order {order:?}");
        }
    }

    #[test]
    fn one_payment_is_one_case_named_after_its_invoice() {
        let charge = view("charge.failed", 1, |e| {
            e["data"]["object"]["id"] = "ch_1".into();
            e["data"]["object"]["payment_intent"] = "pi_1".into();
            e["data"]["object"]["invoice"] = "in_1".into();
        });
        assert_eq!(case_ids(&charge), ["in_1", "pi_1", "ch_1"]);
        let intent = view("payment_intent.payment_failed", 1, |e| {
            e["data"]["object"]["id"] = "pi_1".into();
            e["data"]["object"]["latest_charge"] = "ch_1".into();
        });
        assert_eq!(case_ids(&intent), ["pi_1", "ch_1"]);
        let dispute = view("charge.dispute.created", 1, |e| {
            e["data"]["object"]["id"] = "dp_1".into();
            e["data"]["object"]["charge"] = "ch_1".into();
        });
        assert_eq!(case_ids(&dispute)[0], "dp_1");
        assert!(case_ids(&dispute).contains(&"ch_1".to_owned()));
    }

    #[test]
    fn the_invoice_outranks_its_charge_in_the_same_state() {
        let invoice = view("invoice.payment_failed", 1, |_| {});
        let charge = view("charge.failed", 5, |_| {});
        let intent = view("payment_intent.payment_failed", 5, |_| {});
        assert!(phase(&invoice).rank > phase(&intent).rank);
        assert!(phase(&intent).rank > phase(&charge).rank);
        let paid = view("charge.succeeded", 1, |_| {});
        assert!(phase(&paid).rank > phase(&invoice).rank);
    }

    #[test]
    fn refund_and_dispute_reopen_a_paid_payment_and_updates_do_not() {
        let paid = view("charge.succeeded", 1, |_| {});
        let refund = view("charge.refunded", 2, |_| {});
        let paid_p = phase(&paid);
        let refund_p = phase(&refund);
        assert_eq!(
            change(
                (&paid_p, Precedence::of(&paid, 1)),
                (&refund_p, Precedence::of(&refund, 2))
            ),
            Change::Reopened
        );
        let opened = view("charge.dispute.created", 1, |_| {});
        let updated = view("charge.dispute.updated", 2, |_| {});
        let closed = view("charge.dispute.closed", 3, |_| {});
        let (o, u, c) = (phase(&opened), phase(&updated), phase(&closed));
        assert_eq!(
            change(
                (&o, Precedence::of(&opened, 1)),
                (&u, Precedence::of(&updated, 2))
            ),
            Change::Advanced
        );
        assert_eq!(
            change(
                (&u, Precedence::of(&updated, 2)),
                (&c, Precedence::of(&closed, 3))
            ),
            Change::Reopened
        );
        assert!(c.settled);
    }

    #[test]
    fn the_reason_comes_from_the_charge_never_guessed() {
        let mut invoice = view("invoice.payment_failed", 1, |_| {});
        invoice.failure = None;
        merge_facts(&mut invoice, &[]);
        assert_eq!(invoice.failure, None);
        let charge = view("charge.failed", 1, |_| {});
        merge_facts(&mut invoice, std::slice::from_ref(&charge));
        assert_eq!(
            invoice.failure.unwrap().decline_code.as_deref(),
            Some("insufficient_funds")
        );
    }

    #[test]
    fn history_lines_and_notices_carry_no_customer() {
        let paid = view("invoice.paid", 1_763_251_200, |_| {});
        let p = phase(&paid);
        let line = history_line(&paid, Change::Advanced, &p);
        assert!(line.starts_with("Paid · `invoice.paid`"), "{line}");
        assert!(!line.contains('@'), "{line}");
        assert_eq!(
            revoked_notice(&p, 1_763_251_200 + 14 * 3600 + 120),
            "This invoice was paid at 14:02 UTC; nothing was done."
        );
        let failed = view("invoice.payment_failed", 1_763_251_100, |_| {});
        let kept = history_line(&failed, Change::Kept, &p);
        assert!(
            kept.ends_with("(an earlier event; the invoice stays paid)"),
            "{kept}"
        );
    }
}
