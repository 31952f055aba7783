//! The typed view of a stored event: what a finance or support person needs.
//!
//! Built once from the raw payload ([`EventView::parse`]). Every event
//! gets a view: known object kinds (invoice, charge, dispute, …) fill their
//! section, and an unknown type still yields the envelope, the object type
//! and id, and an amount when the object has one. Nothing here fails on a
//! missing optional field: a value that is absent is `None`, never `null` text.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

pub use super::facts::{
    Amount, CardInfo, CheckoutInfo, Customer, DisputeInfo, Failure, InvoiceInfo, LineItems,
    ObjectKind, PayoutInfo, RequestInfo, SubscriptionInfo,
};

use super::enrichment::{card_of, failure_of_charge, failure_of_payment_intent};
use super::facts::{amount, checkout_of, customer_of, int, metadata_of, text};
use super::links::dashboard_url;

/// The typed view of one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventView {
    /// `evt_…`.
    pub id: String,
    /// `invoice.payment_failed`, or any type we do not know.
    pub event_type: String,
    /// Object family.
    pub kind: ObjectKind,
    /// Live or test mode.
    pub livemode: bool,
    /// The endpoint's account name.
    pub account: String,
    /// The connected account (Connect), if any.
    pub connect_account: Option<String>,
    /// When Stripe created the event, Unix seconds.
    pub created: i64,
    /// `data.object.object`, e.g. `invoice`.
    pub object_type: String,
    /// `data.object.id` (an upcoming invoice has none).
    pub object_id: Option<String>,
    /// The headline amount of the object.
    pub amount: Option<Amount>,
    /// Who it is about.
    pub customer: Customer,
    /// `metadata`, as strings.
    pub metadata: BTreeMap<String, String>,
    /// Card used, where known.
    pub card: Option<CardInfo>,
    /// Why a payment failed, where it did.
    pub failure: Option<Failure>,
    /// Invoice facts (invoice events).
    pub invoice: Option<InvoiceInfo>,
    /// Dispute facts (dispute events).
    pub dispute: Option<DisputeInfo>,
    /// Subscription facts (subscription events).
    pub subscription: Option<SubscriptionInfo>,
    /// Payout facts (payout events).
    pub payout: Option<PayoutInfo>,
    /// Checkout Session facts, and the payment request it belongs to.
    pub checkout: Option<CheckoutInfo>,
    /// Keys of `data.previous_attributes`: what changed (`*.updated` events).
    pub changed: Vec<String>,
    /// The object's page in the Stripe Dashboard.
    pub dashboard_url: Option<String>,
    /// The event's page in the Stripe Dashboard.
    pub event_url: Option<String>,
    /// Ids of the objects this one belongs with (its invoice, payment
    /// intent, charge), which join it to their case (see [`super::case`]).
    pub related: Vec<String>,
}

/// Why a stored payload has no view.
#[derive(Debug, thiserror::Error)]
#[error("stored payload of {event_id} is not an event object: {reason}")]
pub struct ViewError {
    /// The event.
    pub event_id: String,
    /// What is missing.
    pub reason: &'static str,
}

impl EventView {
    /// The payment request from chat this event is about, when it is one
    /// (a Checkout Session the bot made, by its metadata).
    pub fn payment_request(&self) -> Option<&RequestInfo> {
        self.checkout.as_ref()?.request.as_ref()
    }

    /// The view of a stored payload (the raw event JSON) of event `event_id`,
    /// received on `account`'s endpoint.
    pub fn from_payload(payload: &str, event_id: &str, account: &str) -> Result<Self, ViewError> {
        let payload: Value = serde_json::from_str(payload).map_err(|_| ViewError {
            event_id: event_id.to_owned(),
            reason: "payload is not JSON",
        })?;
        Self::parse(&payload, account)
    }

    /// The view of an event payload received on `account`'s endpoint.
    pub fn parse(event: &Value, account: &str) -> Result<Self, ViewError> {
        let id = text(event, "/id").unwrap_or_default();
        let error = |reason| ViewError {
            event_id: id.clone(),
            reason,
        };
        let event_type = text(event, "/type").ok_or_else(|| error("no type"))?;
        let object = event
            .pointer("/data/object")
            .filter(|o| o.is_object())
            .ok_or_else(|| error("no data.object"))?;
        let livemode = event
            .get("livemode")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let connect_account = text(event, "/account");
        let kind = ObjectKind::of(&event_type);
        let object_id = text(object, "/id");

        let mut view = Self {
            dashboard_url: object_id
                .as_deref()
                .and_then(|oid| dashboard_url(oid, livemode, connect_account.as_deref())),
            // The bot's own events have no page in Stripe.
            event_url: (event_type != super::PAYMENT_REQUESTED)
                .then(|| dashboard_url(&id, livemode, connect_account.as_deref()))
                .flatten(),
            id,
            kind,
            livemode,
            account: account.to_owned(),
            created: int(event, "/created").unwrap_or(0),
            object_type: text(object, "/object").unwrap_or_else(|| "unknown".to_owned()),
            object_id,
            amount: None,
            customer: customer_of(object),
            metadata: metadata_of(object),
            card: card_of(object),
            failure: None,
            invoice: None,
            dispute: None,
            subscription: None,
            payout: None,
            checkout: None,
            changed: event
                .pointer("/data/previous_attributes")
                .and_then(Value::as_object)
                .map(|changed| changed.keys().cloned().collect())
                .unwrap_or_default(),
            related: related_ids(object),
            connect_account,
            event_type,
        };
        match kind {
            ObjectKind::Invoice => {
                view.amount = amount(object, "amount_due");
                view.invoice = Some(InvoiceInfo {
                    number: text(object, "/number"),
                    status: text(object, "/status"),
                    attempt_count: int(object, "/attempt_count"),
                    next_payment_attempt: int(object, "/next_payment_attempt"),
                    billing_reason: text(object, "/billing_reason"),
                    collection_method: text(object, "/collection_method"),
                    subscription: text(object, "/subscription")
                        .or_else(|| text(object, "/parent/subscription_details/subscription")),
                    amount_due: amount(object, "amount_due"),
                    amount_paid: amount(object, "amount_paid"),
                    due_date: int(object, "/due_date"),
                    hosted_invoice_url: text(object, "/hosted_invoice_url"),
                    subscription_status: None,
                    after_final_retry: None,
                });
                if view.event_type.ends_with("paid") || view.event_type.ends_with("succeeded") {
                    view.amount = amount(object, "amount_paid").or(view.amount);
                }
            }
            ObjectKind::Charge => {
                view.amount = if view.event_type == "charge.refunded" {
                    amount(object, "amount_refunded")
                } else {
                    amount(object, "amount")
                };
                view.failure = failure_of_charge(object);
            }
            ObjectKind::PaymentIntent => {
                view.amount = amount(object, "amount");
                view.failure = failure_of_payment_intent(object);
            }
            ObjectKind::Dispute => {
                view.amount = amount(object, "amount");
                view.dispute = Some(DisputeInfo {
                    reason: text(object, "/reason"),
                    status: text(object, "/status"),
                    due_by: int(object, "/evidence_details/due_by"),
                    charge: text(object, "/charge"),
                    network: text(object, "/payment_method_details/card/network")
                        .or_else(|| text(object, "/payment_method_details/card/brand")),
                });
            }
            ObjectKind::Subscription => {
                let item = object.pointer("/items/data/0");
                let price = item.and_then(|item| item.get("price").or_else(|| item.get("plan")));
                let unit = price.and_then(|p| {
                    Amount::new(
                        int(p, "/unit_amount").or_else(|| int(p, "/amount"))?,
                        p.get("currency")?.as_str()?,
                    )
                });
                view.amount = unit.clone();
                view.subscription = Some(SubscriptionInfo {
                    status: text(object, "/status"),
                    plan: price.and_then(|p| text(p, "/nickname").or_else(|| text(p, "/id"))),
                    price: unit,
                    interval: price.and_then(|p| {
                        text(p, "/recurring/interval").or_else(|| text(p, "/interval"))
                    }),
                    trial_end: int(object, "/trial_end"),
                    cancel_at_period_end: object
                        .get("cancel_at_period_end")
                        .and_then(Value::as_bool),
                    cancellation_reason: text(object, "/cancellation_details/reason"),
                    cancellation_feedback: text(object, "/cancellation_details/feedback"),
                    has_payment_method: text(object, "/default_payment_method").is_some()
                        || text(object, "/default_source").is_some(),
                });
            }
            ObjectKind::CheckoutSession => {
                view.amount = amount(object, "amount_total");
                view.checkout = Some(checkout_of(object, &view.metadata));
            }
            ObjectKind::Payout => {
                view.amount = amount(object, "amount");
                view.payout = Some(PayoutInfo {
                    arrival_date: int(object, "/arrival_date"),
                    failure_code: text(object, "/failure_code"),
                    failure_message: text(object, "/failure_message"),
                });
            }
            ObjectKind::EarlyFraudWarning | ObjectKind::Customer => {}
            ObjectKind::Other => view.amount = amount(object, "amount"),
        }
        Ok(view)
    }
}

/// The ids of the invoice, payment intent and charge an object names, in
/// any API version (Basil moved an invoice's payments under `payments`).
fn related_ids(object: &Value) -> Vec<String> {
    const POINTERS: [&str; 8] = [
        "/invoice",
        "/payment_intent",
        "/charge",
        "/latest_charge",
        "/payments/data/0/payment/payment_intent",
        "/payments/data/0/payment/charge",
        "/payment_intent/id",
        "/charge/id",
    ];
    let own = text(object, "/id");
    let mut ids: Vec<String> = Vec::new();
    for pointer in POINTERS {
        if let Some(id) = text(object, pointer)
            && own.as_deref() != Some(id.as_str())
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::sample::{SAMPLE_TYPES, sample_event};

    #[test]
    fn every_sample_type_has_a_view_of_its_kind() {
        for event_type in SAMPLE_TYPES {
            let event = sample_event(event_type, 1_763_251_200).unwrap();
            let view = EventView::parse(&event, "default").unwrap();
            assert_eq!(view.event_type, *event_type);
            assert_ne!(view.kind, ObjectKind::Other, "{event_type}");
            assert!(
                view.event_url
                    .as_deref()
                    .unwrap()
                    .starts_with("https://dashboard.stripe.com/test/events/evt_")
            );
        }
    }

    #[test]
    fn failed_invoice_carries_attempts_and_next_retry() {
        let event = sample_event("invoice.payment_failed", 1_763_251_200).unwrap();
        let view = EventView::parse(&event, "default").unwrap();
        let invoice = view.invoice.unwrap();
        assert_eq!(invoice.attempt_count, Some(2));
        assert_eq!(
            invoice.next_payment_attempt,
            Some(1_763_251_200 + 3 * 86_400)
        );
        assert_eq!(view.amount.unwrap().display, "$49.00 USD");
        assert_eq!(
            view.customer.email.as_deref(),
            Some("jenny.rosen@example.com")
        );
    }

    #[test]
    fn charge_failure_and_card() {
        let event = sample_event("charge.failed", 1_763_251_200).unwrap();
        let view = EventView::parse(&event, "default").unwrap();
        let failure = view.failure.unwrap();
        assert_eq!(failure.code.as_deref(), Some("card_declined"));
        assert_eq!(failure.decline_code.as_deref(), Some("insufficient_funds"));
        assert_eq!(view.card.unwrap().last4.as_deref(), Some("0341"));
    }

    #[test]
    fn dispute_deadline_and_connect_links() {
        let mut event = sample_event("charge.dispute.created", 1_763_251_200).unwrap();
        event["livemode"] = true.into();
        event["account"] = "acct_1Conn".into();
        let view = EventView::parse(&event, "eu").unwrap();
        assert_eq!(
            view.dispute.unwrap().due_by,
            Some(1_763_251_200 + 7 * 86_400)
        );
        assert!(
            view.dashboard_url
                .unwrap()
                .starts_with("https://dashboard.stripe.com/acct_1Conn/disputes/dp_")
        );
        assert_eq!(view.account, "eu");
    }

    #[test]
    fn zero_decimal_and_three_decimal_amounts() {
        let mut event = sample_event("charge.succeeded", 1_763_251_200).unwrap();
        event["data"]["object"]["currency"] = "jpy".into();
        event["data"]["object"]["amount"] = 5000.into();
        assert_eq!(
            EventView::parse(&event, "default")
                .unwrap()
                .amount
                .unwrap()
                .display,
            "¥5,000 JPY"
        );
        event["data"]["object"]["currency"] = "kwd".into();
        event["data"]["object"]["amount"] = 12_500.into();
        assert_eq!(
            EventView::parse(&event, "default")
                .unwrap()
                .amount
                .unwrap()
                .display,
            "12.500 KWD"
        );
    }

    #[test]
    fn unknown_types_and_missing_fields_still_have_a_view() {
        let event = serde_json::json!({
            "id": "evt_1", "object": "event", "type": "billing.alert.triggered", "created": 1, "livemode": false,
            "data": { "object": { "object": "billing.alert", "id": "alrt_1" } }
        });
        let view = EventView::parse(&event, "default").unwrap();
        assert_eq!(view.kind, ObjectKind::Other);
        assert_eq!(view.object_type, "billing.alert");
        assert_eq!(view.amount, None);
        assert_eq!(view.customer, Customer::default());
        assert_eq!(view.dashboard_url, None);
    }

    #[test]
    fn changed_keys_come_from_previous_attributes() {
        let event = sample_event("customer.updated", 1).unwrap();
        let view = EventView::parse(&event, "default").unwrap();
        assert_eq!(view.changed, ["address", "email"]);
    }
}
