//! The template context: the event view after redaction, with dates and
//! codes already turned into words.
//!
//! This is the only door between event data and a template: nothing reaches
//! a card that this function did not let through under the receiver's
//! [`RedactionPolicy`]. Every free text is also passed through the Luhn mask.

use serde_json::{Value, json};

use crate::event::EventView;
use crate::redact::{RedactionPolicy, mask_card_numbers};

use super::time::{absolute, countdown, days_left, when, words};

/// Free text safe to show: card numbers masked, surrounding space trimmed.
/// (Line breaks are the template formatter's business: it flattens every value.)
fn clean(text: &str) -> String {
    mask_card_numbers(text).trim().to_owned()
}

fn opt(text: Option<&String>) -> Value {
    text.map(|t| Value::String(clean(t))).unwrap_or(Value::Null)
}

/// `billing_reason` as people say it.
fn billing_reason_words(reason: &str) -> String {
    match reason {
        "subscription_cycle" => "renewal".to_owned(),
        "subscription_create" => "first payment".to_owned(),
        "subscription_update" | "subscription" => "plan change".to_owned(),
        "subscription_threshold" => "usage threshold".to_owned(),
        "manual" => "one-off invoice".to_owned(),
        "upcoming" => "upcoming renewal".to_owned(),
        other => words(other).to_lowercase(),
    }
}

/// The card network's advice after a decline, as a person would act on it.
fn advice_words(code: &str) -> String {
    match code {
        "try_again_later" => "issuer advice: try again later".to_owned(),
        "do_not_try_again" => "issuer advice: do not retry this card".to_owned(),
        "confirm_card_data" => {
            "issuer advice: ask the customer to update the card details".to_owned()
        }
        other => format!("issuer advice: {}", words(other).to_lowercase()),
    }
}

/// Builds the context of `view` for a receiver with `policy`, at time `now`.
/// `account_name` is the display name of the endpoint's account.
pub fn build(view: &EventView, policy: &RedactionPolicy, account_name: &str, now: i64) -> Value {
    let customer = &view.customer;
    let email = customer
        .email
        .as_deref()
        .and_then(|e| policy.email(e))
        .map(|e| clean(&e));
    let name = customer
        .name
        .as_deref()
        .and_then(|n| policy.name(n))
        .map(|n| clean(&n));
    let phone = customer
        .phone
        .as_ref()
        .filter(|_| policy.phone)
        .map(|p| clean(p));
    let address = customer
        .address
        .as_ref()
        .filter(|_| policy.address)
        .map(|a| clean(a));
    // Who, in one short label (titles): the e-mail as allowed (its domain tells the
    // company), else the name as allowed, else the customer id.
    let label = email
        .clone()
        .or_else(|| name.clone())
        .or_else(|| customer.id.clone());
    // Who, in full (the Customer field): name and e-mail, each as allowed.
    let display = match (&name, &email) {
        (Some(name), Some(email)) => Some(format!("{name} · {email}")),
        (Some(one), None) | (None, Some(one)) => Some(one.clone()),
        (None, None) => customer.id.clone(),
    };
    let metadata: serde_json::Map<String, Value> = view
        .metadata
        .iter()
        .filter(|(key, _)| policy.allows_metadata(key))
        .map(|(key, value)| (key.clone(), Value::String(clean(value))))
        .collect();
    let card = view
        .card
        .as_ref()
        .filter(|_| policy.card_last4)
        .map(|card| {
            let brand = card
                .brand
                .as_deref()
                .map(words)
                .unwrap_or_else(|| "Card".to_owned());
            match &card.last4 {
                Some(last4) if last4.len() == 4 && last4.bytes().all(|b| b.is_ascii_digit()) => {
                    format!("{brand} ••{last4}")
                }
                _ => brand,
            }
        });
    let failure = view.failure.as_ref().map(|failure| {
        let code = failure.decline_code.as_ref().or(failure.code.as_ref());
        let message = failure.message.as_ref().or(failure.seller_message.as_ref());
        let mut reason = match (code, message) {
            (Some(code), Some(message)) => format!("{code}: {}", clean(message)),
            (Some(code), None) => code.clone(),
            (None, Some(message)) => clean(message),
            (None, None) => String::new(),
        };
        if let Some(advice) = failure.advice.as_deref() {
            reason.push_str(" · ");
            reason.push_str(&advice_words(advice));
        }
        json!({
            "code": opt(failure.code.as_ref()),
            "decline_code": opt(failure.decline_code.as_ref()),
            "message": opt(failure.message.as_ref()),
            "seller_message": opt(failure.seller_message.as_ref()),
            "risk_level": opt(failure.risk_level.as_ref()),
            "advice": failure.advice.as_deref().map(advice_words),
            "reason": clean(&reason),
        })
    });
    let invoice = view.invoice.as_ref().map(|invoice| {
        let next_retry = match invoice.next_payment_attempt {
            Some(at) => when(at, now),
            None => "no automatic retry".to_owned(),
        };
        json!({
            "number": opt(invoice.number.as_ref()),
            "status": opt(invoice.status.as_ref()),
            "attempt": invoice.attempt_count,
            "next_retry": next_retry,
            "has_next_retry": invoice.next_payment_attempt.is_some(),
            "billing_reason": invoice.billing_reason.as_deref().map(billing_reason_words),
            "amount_due": invoice.amount_due.as_ref().map(|a| a.display.clone()),
            "amount_paid": invoice.amount_paid.as_ref().map(|a| a.display.clone()),
            "subscription": opt(invoice.subscription.as_ref()),
            "due": invoice.due_date.map(|at| when(at, now)),
            "collection_method": opt(invoice.collection_method.as_ref()),
            "subscription_status": invoice.subscription_status.as_deref().map(|s| words(s).to_lowercase()),
            "after_final_retry": invoice.after_final_retry.as_deref().map(clean).unwrap_or_else(|| {
                "Stripe's retry settings decide: cancel, unpaid or past_due".to_owned()
            }),
            "hosted_url": invoice
                .hosted_invoice_url
                .as_ref()
                .filter(|url| policy.customer_links && url.starts_with("https://")),
        })
    });
    let dispute = view.dispute.as_ref().map(|dispute| {
        // One phrase that the countdown edits keep true: "due in 6 days 14 h (Dec 6, 09:00 UTC)".
        let (due, countdown_phrase, days) = match dispute.due_by {
            Some(0) => ("no response possible".to_owned(), None, None),
            Some(at) => {
                let phrase = countdown(at, now);
                let date = absolute(at);
                (
                    format!("{phrase} ({date})"),
                    Some(phrase),
                    Some(days_left(at, now)),
                )
            }
            None => (String::new(), None, None),
        };
        json!({
            "reason": dispute.reason.as_deref().map(words),
            "status": dispute.status.as_deref().map(words),
            "outcome": dispute.status.as_deref().map(|s| match s {
                "won" | "warning_closed" => "won",
                "lost" => "lost",
                _ => "closed",
            }),
            "due": due,
            "countdown": countdown_phrase,
            "days_left": days,
            "charge": opt(dispute.charge.as_ref()),
            "network": dispute.network.as_deref().map(words),
        })
    });
    let subscription = view.subscription.as_ref().map(|sub| {
        let price = sub.price.as_ref().map(|price| match &sub.interval {
            Some(interval) => format!("{} / {interval}", price.display),
            None => price.display.clone(),
        });
        json!({
            "status": sub.status.as_deref().map(words),
            "raw_status": opt(sub.status.as_ref()),
            "plan": opt(sub.plan.as_ref()),
            "price": price,
            "trial_end": sub.trial_end.map(|at| when(at, now)),
            "cancel_at_period_end": sub.cancel_at_period_end,
            "cancellation_reason": sub.cancellation_reason.as_deref().map(words),
            "feedback": sub.cancellation_feedback.as_deref().map(words),
            "has_payment_method": sub.has_payment_method,
        })
    });
    let payout = view.payout.as_ref().map(|payout| {
        json!({
            "arrival": payout.arrival_date.map(|at| when(at, now)),
            "failure_code": opt(payout.failure_code.as_ref()),
            "failure_message": opt(payout.failure_message.as_ref()),
        })
    });
    let checkout = view.checkout.as_ref().map(|checkout| {
        let request = checkout.request.as_ref();
        // A request's link is what its card is for; a shop's session links
        // are customer-facing, shown only where the policy allows them.
        let customer_link = |url: &Option<String>| {
            url.as_ref()
                .filter(|url| url.starts_with("https://"))
                .filter(|_| request.is_some() || policy.customer_links)
                .cloned()
        };
        let items = checkout.line_items.as_ref().map(|items| {
            let count = if items.more {
                format!("{}+", items.count)
            } else {
                items.count.to_string()
            };
            match &items.first {
                Some(first) if items.count > 1 || items.more => {
                    format!("{count} items · first: {}", clean(first))
                }
                Some(first) => clean(first),
                None => format!("{count} items"),
            }
        });
        json!({
            "status": checkout.status.as_deref().map(words),
            "payment_status": checkout.payment_status.as_deref().map(|s| words(s).to_lowercase()),
            "mode": checkout.mode.as_deref().map(|m| words(m).to_lowercase()),
            "url": customer_link(&checkout.url),
            "recovery_url": customer_link(&checkout.recovery_url),
            // A date, not "in 24 h": the card is not edited as time passes.
            "expires": checkout.expires_at.map(absolute),
            "line_items": items,
            "request": request.map(|r| json!({
                "id": r.id,
                "link": r.link,
                "asked_by": r.asked_by.as_deref().map(clean),
                "description": r.description.as_deref().map(clean),
            })),
        })
    });
    let mut badges = Vec::new();
    if !view.livemode {
        badges.push("TEST MODE".to_owned());
    }
    if view.account != crate::event::DEFAULT_ACCOUNT {
        badges.push(account_name.to_owned());
    }
    if let Some(connected) = &view.connect_account {
        badges.push(connected.clone());
    }
    json!({
        "id": view.id,
        "type": view.event_type,
        "kind": view.kind,
        "livemode": view.livemode,
        "account": view.account,
        "account_name": account_name,
        "connect_account": view.connect_account,
        "badges": badges,
        "object_type": view.object_type,
        "object_id": view.object_id,
        "amount": view.amount.as_ref().map(|a| a.display.clone()),
        "customer": {
            "id": customer.id,
            "label": label,
            "display": display,
            "email": email,
            "name": name,
            "phone": phone,
            "address": address,
        },
        "metadata": metadata,
        "card": card,
        "failure": failure,
        "invoice": invoice,
        "dispute": dispute,
        "subscription": subscription,
        "payout": payout,
        "checkout": checkout,
        "changed": view.changed.iter().map(|key| words(key).to_lowercase()).collect::<Vec<_>>(),
        "dashboard_url": view.dashboard_url,
        "event_url": view.event_url,
    })
}
