//! Realistic sample events, shaped like Stripe's own example objects.
//!
//! `send-sample`, the load generator and the tests post these, signed exactly
//! as Stripe signs. Each type gets a plausible object: a failed invoice has
//! an attempt count, a next retry and a decline; a dispute has an evidence
//! deadline. Values are invented; the customer is the fictional Jenny Rosen
//! of Stripe's docs.

use rand::Rng;
use rand::distributions::Alphanumeric;
use serde_json::{Value, json};

/// Every event type that `send-sample` can build.
pub const SAMPLE_TYPES: &[&str] = &[
    "invoice.payment_failed",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_action_required",
    "invoice.upcoming",
    "invoice.finalized",
    "invoice.marked_uncollectible",
    "invoice.voided",
    "charge.failed",
    "charge.succeeded",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "payment_intent.payment_failed",
    "payment_intent.succeeded",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.trial_will_end",
    "checkout.session.completed",
    "checkout.session.expired",
    "customer.updated",
    "radar.early_fraud_warning.created",
    "payout.failed",
    "payout.paid",
];

/// A random Stripe-style id with the given prefix, e.g. `evt_1Qx…`.
pub fn random_id(prefix: &str) -> String {
    let tail: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("{prefix}_1{tail}")
}

/// Builds a sample event of `event_type` created at `now` (Unix seconds), or
/// `None` when the type is not in [`SAMPLE_TYPES`].
pub fn sample_event(event_type: &str, now: i64) -> Option<Value> {
    if !SAMPLE_TYPES.contains(&event_type) {
        return None;
    }
    let object = sample_object(event_type, now);
    let mut event = json!({
        "id": random_id("evt"),
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": now,
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": event_type,
    });
    if let Some(previous) = previous_attributes(event_type) {
        event["data"]["previous_attributes"] = previous;
    }
    Some(event)
}

fn sample_object(event_type: &str, now: i64) -> Value {
    const DAY: i64 = 86_400;
    match event_type {
        "invoice.payment_failed" => invoice(now, "open", 2, Some(now + 3 * DAY), 0),
        "invoice.paid" | "invoice.payment_succeeded" => invoice(now, "paid", 1, None, 4900),
        "invoice.payment_action_required" => invoice(now, "open", 1, None, 0),
        "invoice.upcoming" => {
            let mut upcoming = invoice(now, "draft", 0, Some(now + 7 * DAY), 0);
            // Stripe's upcoming invoices have no id.
            upcoming["id"] = Value::Null;
            upcoming
        }
        "invoice.finalized" => invoice(now, "open", 0, Some(now + DAY), 0),
        "invoice.marked_uncollectible" => invoice(now, "uncollectible", 4, None, 0),
        "invoice.voided" => invoice(now, "void", 0, None, 0),
        "charge.failed" => charge(now, "failed"),
        "charge.succeeded" => charge(now, "succeeded"),
        "charge.refunded" => {
            let mut refunded = charge(now, "succeeded");
            refunded["amount_refunded"] = json!(1500);
            refunded["refunded"] = json!(false);
            refunded
        }
        "charge.dispute.created" => dispute(now, "needs_response"),
        "charge.dispute.updated" => dispute(now, "under_review"),
        "charge.dispute.closed" => dispute(now, "lost"),
        "charge.dispute.funds_withdrawn" => dispute(now, "needs_response"),
        "payment_intent.payment_failed" => payment_intent(now, "requires_payment_method"),
        "payment_intent.succeeded" => payment_intent(now, "succeeded"),
        "customer.subscription.created" => subscription(now, "trialing"),
        "customer.subscription.updated" => subscription(now, "past_due"),
        "customer.subscription.deleted" => subscription(now, "canceled"),
        "customer.subscription.trial_will_end" => subscription(now, "trialing"),
        "checkout.session.completed" => checkout_session(now, "complete"),
        "checkout.session.expired" => checkout_session(now, "expired"),
        "customer.updated" => customer(now),
        "radar.early_fraud_warning.created" => json!({
            "id": random_id("issfr"),
            "object": "radar.early_fraud_warning",
            "actionable": true,
            "charge": random_id("ch"),
            "created": now,
            "fraud_type": "made_with_stolen_card",
            "livemode": false,
            "payment_intent": random_id("pi"),
        }),
        "payout.failed" => payout(now, "failed"),
        "payout.paid" => payout(now, "paid"),
        other => unreachable!("{other} is listed in SAMPLE_TYPES but has no builder"),
    }
}

fn previous_attributes(event_type: &str) -> Option<Value> {
    match event_type {
        "customer.subscription.updated" => Some(json!({ "status": "active" })),
        "charge.dispute.updated" => Some(json!({ "status": "needs_response" })),
        "customer.updated" => Some(
            json!({ "email": "jenny.old@example.com", "address": { "line1": "1 Old Street" } }),
        ),
        _ => None,
    }
}

fn invoice(now: i64, status: &str, attempts: i64, next_attempt: Option<i64>, paid: i64) -> Value {
    json!({
        "id": random_id("in"),
        "object": "invoice",
        "account_country": "US",
        "amount_due": 4900,
        "amount_paid": paid,
        "amount_remaining": 4900 - paid,
        "attempt_count": attempts,
        "attempted": attempts > 0,
        "billing_reason": "subscription_cycle",
        "collection_method": "charge_automatically",
        "created": now - 3600,
        "currency": "usd",
        "customer": random_id("cus"),
        "customer_email": "jenny.rosen@example.com",
        "customer_name": "Jenny Rosen",
        "customer_phone": "+15555550100",
        "customer_address": { "city": "San Francisco", "country": "US", "line1": "510 Townsend St", "line2": null, "postal_code": "94103", "state": "CA" },
        "due_date": null,
        "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1Example/test_YWNjdF8x",
        "lines": { "object": "list", "data": [{ "id": random_id("il"), "object": "line_item", "amount": 4900, "currency": "usd", "description": "1 × Pro plan (at $49.00 / month)" }], "has_more": false },
        "livemode": false,
        "metadata": { "order_ref": "ORD-1042" },
        "next_payment_attempt": next_attempt,
        "number": "A1B2C3D4-0007",
        "period_end": now,
        "period_start": now - 30 * 86_400,
        "status": status,
        "subscription": random_id("sub"),
        "total": 4900,
    })
}

fn charge(now: i64, status: &str) -> Value {
    let failed = status == "failed";
    json!({
        "id": random_id("ch"),
        "object": "charge",
        "amount": 4900,
        "amount_captured": if failed { 0 } else { 4900 },
        "amount_refunded": 0,
        "billing_details": { "address": { "city": "San Francisco", "country": "US", "line1": "510 Townsend St", "line2": null, "postal_code": "94103", "state": "CA" }, "email": "jenny.rosen@example.com", "name": "Jenny Rosen", "phone": "+15555550100" },
        "captured": !failed,
        "created": now,
        "currency": "usd",
        "customer": random_id("cus"),
        "description": "Pro plan renewal",
        "failure_code": if failed { json!("card_declined") } else { Value::Null },
        "failure_message": if failed { json!("Your card has insufficient funds.") } else { Value::Null },
        "livemode": false,
        "metadata": {},
        "outcome": {
            "network_status": if failed { "declined_by_network" } else { "approved_by_network" },
            "reason": if failed { json!("insufficient_funds") } else { Value::Null },
            "risk_level": "normal",
            "seller_message": if failed { "The bank returned the decline code `insufficient_funds`." } else { "Payment complete." },
            "type": if failed { "issuer_declined" } else { "authorized" },
        },
        "paid": !failed,
        "payment_intent": random_id("pi"),
        "payment_method_details": { "type": "card", "card": { "brand": "visa", "country": "US", "exp_month": 8, "exp_year": 2030, "funding": "credit", "last4": "0341" } },
        "refunded": false,
        "status": status,
    })
}

fn dispute(now: i64, status: &str) -> Value {
    json!({
        "id": random_id("dp"),
        "object": "dispute",
        "amount": 4900,
        "balance_transactions": [],
        "charge": random_id("ch"),
        "created": now,
        "currency": "usd",
        "evidence_details": { "due_by": now + 7 * 86_400, "has_evidence": false, "past_due": false, "submission_count": 0 },
        "is_charge_refundable": true,
        "livemode": false,
        "metadata": {},
        "payment_intent": random_id("pi"),
        "payment_method_details": { "type": "card", "card": { "brand": "visa", "network_reason_code": "10.4", "case_type": "chargeback" } },
        "reason": "fraudulent",
        "status": status,
    })
}

fn payment_intent(now: i64, status: &str) -> Value {
    let failed = status != "succeeded";
    json!({
        "id": random_id("pi"),
        "object": "payment_intent",
        "amount": 12500,
        "amount_received": if failed { 0 } else { 12500 },
        "created": now,
        "currency": "eur",
        "customer": random_id("cus"),
        "description": "Order ORD-1043",
        "last_payment_error": if failed {
            json!({ "code": "card_declined", "decline_code": "generic_decline", "message": "Your card was declined.", "type": "card_error" })
        } else { Value::Null },
        "livemode": false,
        "metadata": { "order_ref": "ORD-1043" },
        "payment_method_types": ["card"],
        "receipt_email": "jenny.rosen@example.com",
        "status": status,
    })
}

fn subscription(now: i64, status: &str) -> Value {
    json!({
        "id": random_id("sub"),
        "object": "subscription",
        "cancel_at_period_end": false,
        "canceled_at": if status == "canceled" { json!(now) } else { Value::Null },
        "cancellation_details": if status == "canceled" {
            json!({ "comment": "Too expensive for our team right now", "feedback": "too_expensive", "reason": "cancellation_requested" })
        } else { json!({ "comment": null, "feedback": null, "reason": null }) },
        "created": now - 40 * 86_400,
        "currency": "usd",
        "customer": random_id("cus"),
        "default_payment_method": random_id("pm"),
        "items": { "object": "list", "data": [{ "id": random_id("si"), "object": "subscription_item", "price": { "id": random_id("price"), "object": "price", "currency": "usd", "nickname": "Pro monthly", "product": random_id("prod"), "recurring": { "interval": "month", "interval_count": 1 }, "unit_amount": 4900 }, "quantity": 1 }] },
        "livemode": false,
        "metadata": {},
        "status": status,
        "trial_end": if status == "trialing" { json!(now + 3 * 86_400) } else { Value::Null },
    })
}

fn checkout_session(now: i64, status: &str) -> Value {
    let complete = status == "complete";
    json!({
        "id": random_id("cs_test"),
        "object": "checkout.session",
        "amount_subtotal": 2000,
        "amount_total": 2000,
        "created": now - 600,
        "currency": "gbp",
        "customer": random_id("cus"),
        "customer_details": { "email": "jenny.rosen@example.com", "name": "Jenny Rosen", "phone": null, "address": { "country": "GB", "postal_code": "EC1A 1BB" } },
        "expires_at": now + 86_400,
        "livemode": false,
        "metadata": {},
        "mode": "payment",
        "payment_intent": if complete { json!(random_id("pi")) } else { Value::Null },
        "payment_status": if complete { "paid" } else { "unpaid" },
        "recovery": if complete { Value::Null } else { json!({ "url": "https://buy.stripe.com/r/test_recover" }) },
        "status": status,
        "url": null,
    })
}

fn customer(now: i64) -> Value {
    json!({
        "id": random_id("cus"),
        "object": "customer",
        "address": { "city": "San Francisco", "country": "US", "line1": "510 Townsend St", "line2": null, "postal_code": "94103", "state": "CA" },
        "created": now - 90 * 86_400,
        "email": "jenny.rosen@example.com",
        "invoice_settings": { "default_payment_method": random_id("pm") },
        "livemode": false,
        "metadata": {},
        "name": "Jenny Rosen",
        "phone": "+15555550100",
    })
}

fn payout(now: i64, status: &str) -> Value {
    let failed = status == "failed";
    json!({
        "id": random_id("po"),
        "object": "payout",
        "amount": 1_250_000,
        "arrival_date": now + 2 * 86_400,
        "created": now,
        "currency": "usd",
        "destination": random_id("ba"),
        "failure_code": if failed { json!("account_closed") } else { Value::Null },
        "failure_message": if failed { json!("The bank account has been closed.") } else { Value::Null },
        "livemode": false,
        "metadata": {},
        "method": "standard",
        "status": status,
        "type": "bank_account",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::envelope;

    #[test]
    fn every_sample_is_a_valid_envelope_of_its_type() {
        for event_type in SAMPLE_TYPES {
            let event = sample_event(event_type, 1_760_000_000).unwrap();
            let bytes = serde_json::to_vec(&event).unwrap();
            let parsed = envelope::parse(&bytes).unwrap();
            assert_eq!(parsed.event_type, *event_type);
        }
    }

    #[test]
    fn unknown_types_have_no_sample() {
        assert!(sample_event("plan.created", 0).is_none());
    }
}
