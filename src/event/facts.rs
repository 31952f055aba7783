//! The typed facts of an event's object: its family, amounts, the
//! customer, the card and a failure, and each kind's own section (invoice,
//! dispute, subscription, payout), with the readers that fill them from
//! Stripe's JSON without failing on a missing optional field.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::money::Money;

/// The object family of an event, which picks its card template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// `invoice.*`.
    Invoice,
    /// `charge.*` except disputes.
    Charge,
    /// `charge.dispute.*`.
    Dispute,
    /// `payment_intent.*`.
    PaymentIntent,
    /// `customer.subscription.*`.
    Subscription,
    /// `checkout.session.*`.
    CheckoutSession,
    /// `customer.*` other than subscriptions.
    Customer,
    /// `radar.early_fraud_warning.*`.
    EarlyFraudWarning,
    /// `payout.*`.
    Payout,
    /// Any other type: kept and shown generically.
    Other,
}

impl ObjectKind {
    /// The kind of an event type.
    pub fn of(event_type: &str) -> Self {
        let starts = |prefix: &str| event_type.starts_with(prefix);
        if starts("charge.dispute.") {
            Self::Dispute
        } else if starts("invoice.") {
            Self::Invoice
        } else if starts("charge.") {
            Self::Charge
        } else if starts("payment_intent.") {
            Self::PaymentIntent
        } else if starts("customer.subscription.") {
            Self::Subscription
        } else if starts("checkout.session.") || event_type == super::PAYMENT_REQUESTED {
            Self::CheckoutSession
        } else if starts("customer.") && !starts("customer.source.") && !starts("customer.tax_id.")
        {
            Self::Customer
        } else if starts("radar.early_fraud_warning.") {
            Self::EarlyFraudWarning
        } else if starts("payout.") {
            Self::Payout
        } else {
            Self::Other
        }
    }
}

/// An amount, with its display form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Amount {
    /// Minor units, as Stripe sends them.
    pub minor: i64,
    /// Upper-case ISO code.
    pub currency: String,
    /// `$1,250.00 USD`.
    pub display: String,
    /// Major units, for thresholds.
    pub major: f64,
}

impl Amount {
    pub(super) fn new(minor: i64, currency: &str) -> Option<Self> {
        let money = Money::new(minor, currency)?;
        Some(Self {
            minor,
            currency: money.currency.code().to_owned(),
            display: money.to_string(),
            major: money.major(),
        })
    }
}

/// Who the event is about, unredacted. [`crate::redact`] decides what of it leaves.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Customer {
    /// `cus_…`.
    pub id: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Full name.
    pub name: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Postal address, one line.
    pub address: Option<String>,
}

/// A payment card, as far as Stripe shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardInfo {
    /// `visa`, `mastercard`, …
    pub brand: Option<String>,
    /// Last four digits.
    pub last4: Option<String>,
}

/// Why a payment failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Failure {
    /// `failure_code` or `last_payment_error.code`, e.g. `card_declined`.
    pub code: Option<String>,
    /// The issuer's decline code, e.g. `insufficient_funds`.
    pub decline_code: Option<String>,
    /// The human message.
    pub message: Option<String>,
    /// `outcome.seller_message`.
    pub seller_message: Option<String>,
    /// `outcome.risk_level`: `normal`, `elevated`, `highest`.
    pub risk_level: Option<String>,
    /// The card network's advice (`advice_code`), e.g. `try_again_later`.
    pub advice: Option<String>,
}

/// Invoice facts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InvoiceInfo {
    /// `number`.
    pub number: Option<String>,
    /// `status`.
    pub status: Option<String>,
    /// `attempt_count`.
    pub attempt_count: Option<i64>,
    /// `next_payment_attempt`, Unix seconds; `None` means no automatic retry.
    pub next_payment_attempt: Option<i64>,
    /// `billing_reason`.
    pub billing_reason: Option<String>,
    /// `collection_method`.
    pub collection_method: Option<String>,
    /// `subscription` id.
    pub subscription: Option<String>,
    /// `amount_due`.
    pub amount_due: Option<Amount>,
    /// `amount_paid`.
    pub amount_paid: Option<Amount>,
    /// `due_date`, Unix seconds.
    pub due_date: Option<i64>,
    /// `hosted_invoice_url` (customer-facing).
    pub hosted_invoice_url: Option<String>,
    /// The subscription's `status` now, read from Stripe (see [`super::enrichment`]).
    pub subscription_status: Option<String>,
    /// What the account does after the final retry fails: `[cards]
    /// after_final_retry`, since Stripe's API does not say.
    pub after_final_retry: Option<String>,
}

/// Dispute facts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DisputeInfo {
    /// `reason`, e.g. `fraudulent`.
    pub reason: Option<String>,
    /// `status`, e.g. `needs_response`.
    pub status: Option<String>,
    /// `evidence_details.due_by`, Unix seconds; `Some(0)` means no response is possible.
    pub due_by: Option<i64>,
    /// The disputed charge id.
    pub charge: Option<String>,
    /// Card network.
    pub network: Option<String>,
}

/// Subscription facts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SubscriptionInfo {
    /// `status`.
    pub status: Option<String>,
    /// The first item's price nickname or id.
    pub plan: Option<String>,
    /// The first item's unit price.
    pub price: Option<Amount>,
    /// `month`, `year`, …
    pub interval: Option<String>,
    /// `trial_end`, Unix seconds.
    pub trial_end: Option<i64>,
    /// `cancel_at_period_end`.
    pub cancel_at_period_end: Option<bool>,
    /// `cancellation_details.reason`.
    pub cancellation_reason: Option<String>,
    /// `cancellation_details.feedback`.
    pub cancellation_feedback: Option<String>,
    /// Whether a default payment method is set.
    pub has_payment_method: bool,
}

/// Checkout Session facts (`checkout.session.*`, and a payment request's
/// own [`super::PAYMENT_REQUESTED`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CheckoutInfo {
    /// `status`: `open`, `complete` or `expired`.
    pub status: Option<String>,
    /// `payment_status`: `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: Option<String>,
    /// `mode`: `payment`, `subscription` or `setup`.
    pub mode: Option<String>,
    /// `url`: the customer's payment page, while the session is open.
    pub url: Option<String>,
    /// `after_expiration.recovery.url`: a new session for the same cart,
    /// when Stripe made one on expiry.
    pub recovery_url: Option<String>,
    /// `expires_at`, Unix seconds.
    pub expires_at: Option<i64>,
    /// The line items, when the event carries them (`line_items`, expanded)
    /// or the enrichment read them.
    pub line_items: Option<LineItems>,
    /// The payment request from chat this session is a link of.
    pub request: Option<RequestInfo>,
}

/// A Checkout Session's line items, in brief.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LineItems {
    /// How many were read.
    pub count: usize,
    /// Whether Stripe has more than were read.
    pub more: bool,
    /// The first item's description and quantity.
    pub first: Option<String>,
}

impl LineItems {
    /// Reads a list object (`{"data": [...], "has_more": …}`).
    pub fn of_list(list: &Value) -> Option<Self> {
        let data = list.get("data")?.as_array()?;
        let first = data.first().and_then(|item| {
            let description = text(item, "/description")
                .or_else(|| text(item, "/price/product/name"))
                .or_else(|| text(item, "/price/nickname"))?;
            Some(match int(item, "/quantity") {
                Some(quantity) if quantity != 1 => format!("{quantity} × {description}"),
                _ => description,
            })
        });
        Some(Self {
            count: data.len(),
            more: list.get("has_more").and_then(Value::as_bool) == Some(true),
            first,
        })
    }
}

/// What makes a Checkout Session a payment request from chat: the
/// `stripe_chatops_*` metadata the bot set when it created it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RequestInfo {
    /// `stripe_chatops_request`: the request's id (`req_…`).
    pub id: String,
    /// `stripe_chatops_link`: which link of the request (1 for the first,
    /// 2 after one "New link"…).
    pub link: u32,
    /// `stripe_chatops_receiver`: the receiver whose channel has the card.
    pub receiver: Option<String>,
    /// `stripe_chatops_asked_by`: who asked, as cards name people (`@alice`).
    pub asked_by: Option<String>,
    /// `stripe_chatops_for`: what the payment is for.
    pub description: Option<String>,
}

/// The metadata keys of a payment request.
pub mod request_keys {
    /// The request's id.
    pub const ID: &str = "stripe_chatops_request";
    /// The link's number.
    pub const LINK: &str = "stripe_chatops_link";
    /// The receiver of its card.
    pub const RECEIVER: &str = "stripe_chatops_receiver";
    /// Who asked.
    pub const ASKED_BY: &str = "stripe_chatops_asked_by";
    /// What it is for.
    pub const DESCRIPTION: &str = "stripe_chatops_for";
}

/// The payment request a session's metadata names, if any.
pub(super) fn request_of(metadata: &BTreeMap<String, String>) -> Option<RequestInfo> {
    let id = metadata.get(request_keys::ID).filter(|id| {
        id.starts_with("req_")
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })?;
    Some(RequestInfo {
        id: id.clone(),
        link: metadata
            .get(request_keys::LINK)
            .and_then(|n| n.parse().ok())
            .filter(|n| *n >= 1)
            .unwrap_or(1),
        receiver: metadata.get(request_keys::RECEIVER).cloned(),
        asked_by: metadata.get(request_keys::ASKED_BY).cloned(),
        description: metadata.get(request_keys::DESCRIPTION).cloned(),
    })
}

/// The facts of a Checkout Session object.
pub(super) fn checkout_of(object: &Value, metadata: &BTreeMap<String, String>) -> CheckoutInfo {
    CheckoutInfo {
        status: text(object, "/status"),
        payment_status: text(object, "/payment_status"),
        mode: text(object, "/mode"),
        url: text(object, "/url"),
        recovery_url: text(object, "/after_expiration/recovery/url"),
        expires_at: int(object, "/expires_at"),
        line_items: object.get("line_items").and_then(LineItems::of_list),
        request: request_of(metadata),
    }
}

/// Payout facts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PayoutInfo {
    /// `arrival_date`, Unix seconds.
    pub arrival_date: Option<i64>,
    /// `failure_code`.
    pub failure_code: Option<String>,
    /// `failure_message`.
    pub failure_message: Option<String>,
}

pub(super) fn text(value: &Value, pointer: &str) -> Option<String> {
    match value.pointer(pointer)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

pub(super) fn int(value: &Value, pointer: &str) -> Option<i64> {
    value.pointer(pointer)?.as_i64()
}

/// An amount from two fields of one object.
pub(super) fn amount(object: &Value, field: &str) -> Option<Amount> {
    Amount::new(
        int(object, &format!("/{field}"))?,
        object.get("currency")?.as_str()?,
    )
}

fn one_line_address(address: &Value) -> Option<String> {
    let parts: Vec<&str> = ["line1", "line2", "postal_code", "city", "state", "country"]
        .iter()
        .filter_map(|key| address.get(*key).and_then(Value::as_str))
        .filter(|part| !part.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

pub(super) fn customer_of(object: &Value) -> Customer {
    let customer_id = match object.get("object").and_then(Value::as_str) {
        Some("customer") => text(object, "/id"),
        _ => text(object, "/customer").or_else(|| text(object, "/customer/id")),
    };
    let first = |pointers: &[&str]| pointers.iter().find_map(|p| text(object, p));
    Customer {
        id: customer_id,
        email: first(&[
            "/customer_email",
            "/billing_details/email",
            "/receipt_email",
            "/customer_details/email",
            "/email",
        ]),
        name: first(&[
            "/customer_name",
            "/billing_details/name",
            "/customer_details/name",
            "/name",
        ]),
        phone: first(&[
            "/customer_phone",
            "/billing_details/phone",
            "/customer_details/phone",
            "/phone",
        ]),
        address: [
            "/customer_address",
            "/billing_details/address",
            "/customer_details/address",
            "/address",
        ]
        .iter()
        .find_map(|p| object.pointer(p).and_then(one_line_address)),
    }
}

pub(super) fn metadata_of(object: &Value) -> BTreeMap<String, String> {
    object
        .get("metadata")
        .and_then(Value::as_object)
        .map(|metadata| {
            metadata
                .iter()
                .map(|(key, value)| {
                    let value = value
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| value.to_string());
                    (key.clone(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}
