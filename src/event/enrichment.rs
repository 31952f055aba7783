//! What Stripe's API adds to an event's view: the "why" an event does not
//! carry. An invoice holds no decline details and no card, a subscription
//! event names its customer only by `cus_…`; the charge, payment intent,
//! payment method, subscription and customer objects say the rest.
//!
//! [`Needs`] says which reads a view wants; the readers turn Stripe's
//! objects (in any API version: `payment_method_details`, the old
//! `source`, a SEPA debit) into [`Enrichment`], and [`EventView::enrich`]
//! fills only what the event itself left empty. The reads happen at the
//! edge (`stripe::enrich`); this module is pure.

use serde::Serialize;
use serde_json::Value;

use super::facts::{CardInfo, Failure, LineItems, ObjectKind, text};
use super::view::EventView;

/// What the API added to a view.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Enrichment {
    /// Why the payment failed, from its charge or payment intent.
    pub failure: Option<Failure>,
    /// The card or account that was charged.
    pub card: Option<CardInfo>,
    /// The customer's name, from the customer object.
    pub customer_name: Option<String>,
    /// The customer's e-mail, from the customer object.
    pub customer_email: Option<String>,
    /// The invoice's subscription's `status` now.
    pub subscription_status: Option<String>,
    /// The invoice's customer-facing page.
    pub hosted_invoice_url: Option<String>,
    /// A Checkout Session's line items (events do not carry them).
    pub line_items: Option<LineItems>,
}

impl Enrichment {
    /// Whether it adds nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Which reads a view wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// The id of a charge to read for the failure and the card.
    pub charge: Option<String>,
    /// A payment intent to read when no charge is known.
    pub payment_intent: Option<String>,
    /// The invoice to read when neither is known (Basil lists its payments).
    pub invoice: Option<String>,
    /// The subscription whose status the card states.
    pub subscription: Option<String>,
    /// The customer whose name and e-mail the event lacks.
    pub customer: Option<String>,
    /// The Checkout Session whose line items the card states.
    pub line_items: Option<String>,
}

impl Needs {
    /// Whether nothing is to be read.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether the payment's failure or card is to be read.
    pub fn payment(&self) -> bool {
        self.charge.is_some() || self.payment_intent.is_some() || self.invoice.is_some()
    }
}

/// The reads a view wants: a failed payment's reason and card when the
/// event lacks them, an invoice's subscription status, and the customer's
/// name and e-mail when the event names only `cus_…`.
pub fn needs(view: &EventView) -> Needs {
    let mut needs = Needs::default();
    let failed = view.event_type.ends_with("payment_failed")
        || view.event_type == "charge.failed"
        || view.event_type == "invoice.payment_action_required";
    let paid_by_card = matches!(
        view.kind,
        ObjectKind::Invoice | ObjectKind::PaymentIntent | ObjectKind::Charge
    );
    if paid_by_card && ((failed && view.failure.is_none()) || view.card.is_none()) {
        let related = |prefix: &str| {
            view.related
                .iter()
                .chain(view.object_id.iter())
                .find(|id| id.starts_with(prefix))
                .cloned()
        };
        // A paid invoice's card is worth one read only when it failed.
        if failed || view.kind != ObjectKind::Invoice {
            needs.charge = related("ch_").or_else(|| related("py_"));
            if needs.charge.is_none() {
                needs.payment_intent = related("pi_");
            }
            if needs.charge.is_none() && needs.payment_intent.is_none() {
                needs.invoice = related("in_");
            }
        }
    }
    if let Some(invoice) = &view.invoice
        && failed
    {
        needs.subscription = invoice.subscription.clone();
    }
    // What a shop's Checkout sold; a payment request's card already says what it is for.
    if let Some(checkout) = &view.checkout
        && checkout.line_items.is_none()
        && checkout.request.is_none()
        && view.event_type != super::PAYMENT_REQUESTED
    {
        needs.line_items = view.object_id.clone();
    }
    if view.customer.name.is_none()
        && view.customer.email.is_none()
        && view.kind != ObjectKind::Customer
    {
        needs.customer = view.customer.id.clone();
    }
    needs
}

/// The charge and payment intent an invoice's payments name (Basil's
/// `payments` list, expanded), or its old `charge` / `payment_intent`.
pub fn payment_of_invoice(invoice: &Value) -> (Option<String>, Option<String>) {
    let id_at =
        |pointer: &str| text(invoice, pointer).or_else(|| text(invoice, &format!("{pointer}/id")));
    let charge = id_at("/payments/data/0/payment/charge").or_else(|| id_at("/charge"));
    let intent =
        id_at("/payments/data/0/payment/payment_intent").or_else(|| id_at("/payment_intent"));
    (charge, intent)
}

/// Why a charge failed: `failure_code`, `failure_message`, the outcome's
/// reason (the issuer's decline code), seller message and network advice.
pub fn failure_of_charge(charge: &Value) -> Option<Failure> {
    let failure = Failure {
        code: text(charge, "/failure_code"),
        decline_code: text(charge, "/outcome/reason")
            .filter(|_| text(charge, "/failure_code").is_some()),
        message: text(charge, "/failure_message"),
        seller_message: text(charge, "/outcome/seller_message"),
        risk_level: text(charge, "/outcome/risk_level"),
        advice: text(charge, "/outcome/advice_code")
            .or_else(|| text(charge, "/outcome/network_advice_code")),
    };
    (failure.code.is_some() || failure.message.is_some()).then_some(failure)
}

/// Why a payment intent's last attempt failed (`last_payment_error`).
pub fn failure_of_payment_intent(intent: &Value) -> Option<Failure> {
    let error = intent.get("last_payment_error").filter(|e| e.is_object())?;
    let failure = Failure {
        code: text(error, "/code"),
        decline_code: text(error, "/decline_code"),
        message: text(error, "/message"),
        seller_message: None,
        risk_level: None,
        advice: text(error, "/advice_code").or_else(|| text(error, "/network_advice_code")),
    };
    (failure.code.is_some() || failure.message.is_some()).then_some(failure)
}

/// The card or account a charge, payment method or source names:
/// `payment_method_details.card`, a payment method's `card`, a SEPA
/// debit's or bank account's last four, or the old `source`.
pub fn card_of(object: &Value) -> Option<CardInfo> {
    let from = |value: &Value, brand: Option<String>| {
        let info = CardInfo {
            brand: text(value, "/brand").or(brand),
            last4: text(value, "/last4"),
        };
        (info.brand.is_some() || info.last4.is_some()).then_some(info)
    };
    for (pointer, kind) in [
        ("/payment_method_details/card", None),
        ("/card", None),
        ("/payment_method_details/sepa_debit", Some("SEPA Debit")),
        ("/sepa_debit", Some("SEPA Debit")),
        (
            "/payment_method_details/us_bank_account",
            Some("Bank account"),
        ),
        ("/us_bank_account", Some("Bank account")),
        ("/source", None),
        ("/payment_method", None),
        ("/last_payment_error/payment_method/card", None),
    ] {
        if let Some(value) = object.pointer(pointer).filter(|v| v.is_object())
            && let Some(info) = from(value, kind.map(str::to_owned))
        {
            return Some(info);
        }
    }
    None
}

impl EventView {
    /// Fills what the event left empty with what Stripe's API said: never
    /// overwrites a fact the event carried.
    pub fn enrich(&mut self, enrichment: &Enrichment) {
        if self.failure.is_none() {
            self.failure.clone_from(&enrichment.failure);
        }
        if self.card.is_none() {
            self.card.clone_from(&enrichment.card);
        }
        if self.customer.name.is_none() {
            self.customer.name.clone_from(&enrichment.customer_name);
        }
        if self.customer.email.is_none() {
            self.customer.email.clone_from(&enrichment.customer_email);
        }
        if let Some(checkout) = &mut self.checkout
            && checkout.line_items.is_none()
        {
            checkout.line_items.clone_from(&enrichment.line_items);
        }
        if let Some(invoice) = &mut self.invoice {
            if enrichment.subscription_status.is_some() {
                invoice
                    .subscription_status
                    .clone_from(&enrichment.subscription_status);
            }
            if invoice.hosted_invoice_url.is_none() {
                invoice
                    .hosted_invoice_url
                    .clone_from(&enrichment.hosted_invoice_url);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn failed_invoice() -> EventView {
        EventView::parse(
            &json!({
                "id": "evt_1", "type": "invoice.payment_failed", "created": 1,
                "data": { "object": {
                    "id": "in_1", "object": "invoice", "customer": "cus_1",
                    "subscription": "sub_1", "payment_intent": "pi_1",
                    "amount_due": 100, "currency": "usd", "next_payment_attempt": null
                } }
            }),
            "default",
        )
        .unwrap()
    }

    #[test]
    fn a_failed_invoice_needs_its_payment_subscription_and_customer() {
        let needs = needs(&failed_invoice());
        assert_eq!(needs.charge, None);
        assert_eq!(needs.payment_intent.as_deref(), Some("pi_1"));
        assert_eq!(needs.subscription.as_deref(), Some("sub_1"));
        assert_eq!(needs.customer.as_deref(), Some("cus_1"));
    }

    #[test]
    fn a_charge_with_its_own_failure_and_card_needs_nothing() {
        let view = EventView::parse(
            &json!({
                "id": "evt_2", "type": "charge.failed", "created": 1,
                "data": { "object": {
                    "id": "ch_1", "object": "charge", "amount": 5, "currency": "eur",
                    "failure_code": "card_declined", "billing_details": { "email": "a@b.c" },
                    "payment_method_details": { "card": { "brand": "visa", "last4": "4242" } }
                } }
            }),
            "default",
        )
        .unwrap();
        assert!(needs(&view).is_empty(), "{:?}", needs(&view));
    }

    #[test]
    fn readers_take_every_api_shape() {
        let basil =
            json!({ "payments": { "data": [ { "payment": { "payment_intent": "pi_9" } } ] } });
        assert_eq!(payment_of_invoice(&basil), (None, Some("pi_9".to_owned())));
        let old = json!({ "charge": { "id": "ch_8" }, "payment_intent": "pi_8" });
        assert_eq!(
            payment_of_invoice(&old),
            (Some("ch_8".to_owned()), Some("pi_8".to_owned()))
        );
        let sepa = json!({ "sepa_debit": { "last4": "3001" } });
        assert_eq!(card_of(&sepa).unwrap().brand.as_deref(), Some("SEPA Debit"));
        let source = json!({ "source": { "brand": "Visa", "last4": "0002" } });
        assert_eq!(card_of(&source).unwrap().last4.as_deref(), Some("0002"));
        let charge = json!({
            "failure_code": "card_declined", "failure_message": "Your card was declined.",
            "outcome": { "reason": "insufficient_funds", "seller_message": "The bank declined.", "advice_code": "try_again_later" }
        });
        let failure = failure_of_charge(&charge).unwrap();
        assert_eq!(failure.decline_code.as_deref(), Some("insufficient_funds"));
        assert_eq!(failure.advice.as_deref(), Some("try_again_later"));
        let intent = json!({ "last_payment_error": { "code": "card_declined", "decline_code": "expired_card", "message": "Expired." } });
        assert_eq!(
            failure_of_payment_intent(&intent)
                .unwrap()
                .decline_code
                .as_deref(),
            Some("expired_card")
        );
    }

    #[test]
    fn enrichment_never_overwrites_what_the_event_said() {
        let mut view = failed_invoice();
        view.customer.email = Some("own@example.com".to_owned());
        view.enrich(&Enrichment {
            customer_email: Some("api@example.com".to_owned()),
            customer_name: Some("Jenny Rosen".to_owned()),
            subscription_status: Some("past_due".to_owned()),
            ..Enrichment::default()
        });
        assert_eq!(view.customer.email.as_deref(), Some("own@example.com"));
        assert_eq!(view.customer.name.as_deref(), Some("Jenny Rosen"));
        assert_eq!(
            view.invoice.unwrap().subscription_status.as_deref(),
            Some("past_due")
        );
    }
}
