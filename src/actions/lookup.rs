//! Look-ups from chat: `/stripe invoice in_…`, `customer cus_…` or an
//! e-mail, `payment pi_…|ch_…`, `subscription sub_…` (Slack and Discord),
//! `/invoice`, `/customer`, `/payment`, `/subscription` (Telegram).
//!
//! The asker's roles are checked before anything else: someone in no role
//! (or not in `[interactions] lookup_roles`) is told "not allowed" and no
//! Stripe request is made. The object is read from Stripe, completed like
//! a card (decline reason, card, customer), and rendered with the same
//! templates as the event of its state (an open invoice that failed to
//! charge looks like "Payment failed"), redacted with the asker's policy
//! (`[roles.NAME] redaction`, else `[redaction]`). Its buttons are those the
//! asker's roles allow, and only when the bot has stored an event of the
//! object to act on; they act exactly as a card's buttons do. Unknown ids
//! and Stripe's errors are answered with a sentence.

use serde_json::{Value, json};

use crate::chat::{LookupAnswer, LookupQuery};
use crate::config::{ActionKind, Config, Snapshot};
use crate::event::EventView;
use crate::render::Card;
use crate::store::{StoreError, StoredEvent, now_ms};
use crate::stripe::api::{Credentials, StripeError, credentials_of};

use super::Actions;
use super::tokens::{Holder, arm_for};

/// The receiver name of a look-up's tokens: no configured receiver has it
/// (`:` is not allowed in names), so a press never looks for a card to edit.
pub const LOOKUP_RECEIVER: &str = "lookup:private";

/// How to ask, shown for `help` and anything not understood.
pub const USAGE: &str = "Look up: invoice in_…, customer cus_… (or an e-mail address), payment pi_…|ch_…, subscription sub_…";

/// What a look-up asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `in_…`.
    Invoice(String),
    /// `cus_…`.
    Customer(String),
    /// A customer by e-mail address.
    CustomerEmail(String),
    /// `pi_…`.
    PaymentIntent(String),
    /// `ch_…` or `py_…`.
    Charge(String),
    /// `sub_…`.
    Subscription(String),
}

/// Reads what someone typed: a kind word (optional) and an id or e-mail.
/// The error is the sentence to answer with.
pub fn parse(text: &str) -> Result<Target, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let (kind, value) = match words.as_slice() {
        [] | ["help"] => return Err(USAGE.to_owned()),
        [value] => (None, *value),
        [kind, value] => (Some(kind.to_lowercase()), *value),
        _ => return Err(format!("One object at a time. {USAGE}")),
    };
    let valid_id = |prefix: &str| {
        value.len() <= 255
            && value.strip_prefix(prefix).is_some_and(|rest| {
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
    };
    let is_email = value.len() <= 254
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !value.contains(char::is_whitespace)
        });
    let target = match kind.as_deref() {
        Some("invoice") if valid_id("in_") => Target::Invoice(value.to_owned()),
        Some("invoice") => return Err(format!("{value:?} is not an invoice id (in_…).")),
        Some("customer") if valid_id("cus_") => Target::Customer(value.to_owned()),
        Some("customer") if is_email => Target::CustomerEmail(value.to_owned()),
        Some("customer") => {
            return Err(format!(
                "{value:?} is neither a customer id (cus_…) nor an e-mail address."
            ));
        }
        Some("payment") if valid_id("pi_") => Target::PaymentIntent(value.to_owned()),
        Some("payment") if valid_id("ch_") || valid_id("py_") => Target::Charge(value.to_owned()),
        Some("payment") => {
            return Err(format!("{value:?} is not a payment id (pi_… or ch_…)."));
        }
        Some("subscription") if valid_id("sub_") => Target::Subscription(value.to_owned()),
        Some("subscription") => {
            return Err(format!("{value:?} is not a subscription id (sub_…)."));
        }
        Some(other) => return Err(format!("I cannot look up {other:?}. {USAGE}")),
        None if valid_id("in_") => Target::Invoice(value.to_owned()),
        None if valid_id("cus_") => Target::Customer(value.to_owned()),
        None if valid_id("pi_") => Target::PaymentIntent(value.to_owned()),
        None if valid_id("ch_") || valid_id("py_") => Target::Charge(value.to_owned()),
        None if valid_id("sub_") => Target::Subscription(value.to_owned()),
        None if is_email => Target::CustomerEmail(value.to_owned()),
        None => return Err(USAGE.to_owned()),
    };
    Ok(target)
}

impl Target {
    /// What it is, in words.
    fn noun(&self) -> &'static str {
        match self {
            Self::Invoice(_) => "invoice",
            Self::Customer(_) | Self::CustomerEmail(_) => "customer",
            Self::PaymentIntent(_) | Self::Charge(_) => "payment",
            Self::Subscription(_) => "subscription",
        }
    }

    /// The API path that reads it (an e-mail is a list query).
    fn path(&self) -> String {
        match self {
            Self::Invoice(id) => format!("/v1/invoices/{id}"),
            Self::Customer(id) => format!("/v1/customers/{id}"),
            Self::CustomerEmail(_) => "/v1/customers".to_owned(),
            Self::PaymentIntent(id) => format!("/v1/payment_intents/{id}"),
            Self::Charge(id) => format!("/v1/charges/{id}"),
            Self::Subscription(id) => format!("/v1/subscriptions/{id}"),
        }
    }
}

/// The event type whose card shows an object in its present state.
pub fn state_event_type(object: &Value) -> &'static str {
    let status = object["status"].as_str().unwrap_or_default();
    match object["object"].as_str().unwrap_or_default() {
        "invoice" => match status {
            "paid" => "invoice.paid",
            "void" => "invoice.voided",
            "uncollectible" => "invoice.marked_uncollectible",
            "open" if object["attempt_count"].as_i64().unwrap_or(0) > 0 => "invoice.payment_failed",
            _ => "invoice.finalized",
        },
        "payment_intent" => match status {
            "succeeded" => "payment_intent.succeeded",
            _ if object["last_payment_error"].is_object() => "payment_intent.payment_failed",
            _ => "payment_intent.created",
        },
        "charge" => match status {
            _ if object["refunded"].as_bool() == Some(true)
                || object["amount_refunded"].as_i64().unwrap_or(0) > 0 =>
            {
                "charge.refunded"
            }
            "failed" => "charge.failed",
            _ => "charge.succeeded",
        },
        "subscription" => match status {
            "canceled" => "customer.subscription.deleted",
            _ => "customer.subscription.updated",
        },
        "customer" => "customer.updated",
        _ => "lookup",
    }
}

impl Actions {
    /// Answers a look-up: roles first, then Stripe, then the card.
    pub(super) async fn answer_lookup(&self, query: &LookupQuery) -> LookupAnswer {
        let snapshot = self.live.snapshot();
        let config = &snapshot.config;
        let platform = query.platform.name();
        if !config.interactions.may_look_up(&query.asker()) {
            self.metrics.lookup(platform, "not_allowed");
            return LookupAnswer::Text(
                "You are not allowed to look things up in Stripe; ask your admin for a role."
                    .to_owned(),
            );
        }
        let target = match parse(&query.text) {
            Ok(target) => target,
            Err(sentence) => {
                self.metrics.lookup(platform, "usage");
                return LookupAnswer::Text(sentence);
            }
        };
        let account = crate::event::DEFAULT_ACCOUNT;
        let Some(credentials) = credentials_of(&config.stripe, account, None) else {
            self.metrics.lookup(platform, "error");
            return LookupAnswer::Text(
                "Look-ups need a Stripe API key: set [stripe] api_key.".to_owned(),
            );
        };
        let object = match self.read(credentials, &target).await {
            Ok(Some(object)) => object,
            Ok(None) => {
                self.metrics.lookup(platform, "not_found");
                return LookupAnswer::Text(not_found(&target));
            }
            Err(error) if error.is_not_found() => {
                self.metrics.lookup(platform, "not_found");
                return LookupAnswer::Text(not_found(&target));
            }
            Err(error) => {
                self.metrics.lookup(platform, "error");
                tracing::warn!(status = error.status, request_id = error.request_id.as_deref().unwrap_or("-"), error = %error, "look-up: Stripe refused or failed");
                let why = if error.status == 0 || error.status >= 500 || error.status == 429 {
                    "Stripe is not answering right now; try again in a minute."
                } else if matches!(error.status, 401 | 403) {
                    "The bot's Stripe key may not read this; ask your admin to check its permissions."
                } else {
                    "Stripe refused the request."
                };
                return LookupAnswer::Text(format!(
                    "Could not look up that {}: {why}",
                    target.noun()
                ));
            }
        };
        match self.card_of(&snapshot, query, account, object).await {
            Ok(card) => {
                self.metrics.lookup(platform, "answered");
                LookupAnswer::Card(Box::new(card))
            }
            Err(error) => {
                self.metrics.lookup(platform, "error");
                tracing::error!(error = %error, "look-up: cannot render the card");
                LookupAnswer::Text(format!(
                    "Found the {}, but could not show it; the cause is logged.",
                    target.noun()
                ))
            }
        }
    }

    /// Reads the object; `None` when an e-mail matches no customer.
    async fn read(
        &self,
        credentials: Credentials<'_>,
        target: &Target,
    ) -> Result<Option<Value>, StripeError> {
        let path = target.path();
        let response = match target {
            Target::CustomerEmail(email) => {
                let response = self
                    .stripe
                    .get(
                        credentials,
                        &path,
                        &[("email", email.as_str()), ("limit", "1")],
                    )
                    .await?;
                return Ok(response.object["data"].get(0).cloned());
            }
            _ => self.stripe.get(credentials, &path, &[]).await?,
        };
        Ok(Some(response.object))
    }

    /// The card of a read object, for the asker.
    async fn card_of(
        &self,
        snapshot: &Snapshot,
        query: &LookupQuery,
        account: &str,
        object: Value,
    ) -> Result<Card, String> {
        let config = &snapshot.config;
        let event_type = state_event_type(&object);
        let event = json!({
            "id": "lookup",
            "object": "event",
            "type": event_type,
            "created": now_ms() / 1000,
            "livemode": object["livemode"].as_bool().unwrap_or(false),
            "data": { "object": object },
        });
        let mut view = EventView::parse(&event, account).map_err(|e| e.to_string())?;
        // As a card would, it waits at most `[stripe] enrich_wait` for the details.
        if let Ok(Ok(Some(enrichment))) = tokio::time::timeout(
            config.stripe.enrichment.wait,
            self.enricher.enrich(&config.stripe, &view),
        )
        .await
        {
            view.enrich(&enrichment);
        }
        let policy = redaction_for(config, query);
        let mut card = config
            .card_with_policy(&snapshot.templates, &view, policy)
            .map_err(|e| e.to_string())?;
        card.footer = format!(
            "Looked up in Stripe at {} · {}",
            chrono::Utc::now().format("%H:%M UTC"),
            view.object_id.as_deref().unwrap_or_default()
        );
        self.arm_for_asker(config, query, &view, &mut card)
            .await
            .map_err(|e| e.to_string())?;
        Ok(card)
    }

    /// Keeps the buttons the asker may press, armed against the newest
    /// stored event of the object; none when the bot has stored none.
    async fn arm_for_asker(
        &self,
        config: &Config,
        query: &LookupQuery,
        view: &EventView,
        card: &mut Card,
    ) -> Result<(), StoreError> {
        let stored = match &view.object_id {
            Some(id) => self.newest_event_of(id).await?,
            None => None,
        };
        let asker = query.asker();
        // A private answer cannot be turned into a Confirm / Cancel
        // question: an action that asks first is offered only where the
        // platform asks itself (Slack's confirm dialog).
        let native_confirm = query.platform == crate::platform::Platform::Slack;
        card.actions.retain(|action| {
            stored.is_some()
                && ActionKind::parse(&action.action).is_some_and(|kind| {
                    config.interactions.allows(kind, &asker)
                        && (native_confirm || !config.interactions.policy(kind).confirm)
                })
        });
        let Some(stored) = stored else {
            return Ok(());
        };
        let holder = Holder {
            receiver: LOOKUP_RECEIVER,
            redaction: redaction_for(config, query),
            delivery_id: 0,
            event_seq: stored.seq,
        };
        arm_for(config, self.store.as_ref(), card, view, &holder).await
    }

    /// The newest stored event whose object is `object_id`.
    async fn newest_event_of(&self, object_id: &str) -> Result<Option<StoredEvent>, StoreError> {
        let Some(case_key) = self.store.case_key_of(object_id).await? else {
            return Ok(None);
        };
        let events = self.store.case_events(&case_key, 50).await?;
        Ok(events.into_iter().find(|stored| {
            stored
                .view()
                .is_ok_and(|view| view.object_id.as_deref() == Some(object_id))
        }))
    }
}

/// The redaction of an answer: the asker's own policy when only they see
/// it, else `[redaction]` (a Telegram group).
fn redaction_for<'a>(
    config: &'a Config,
    query: &LookupQuery,
) -> &'a crate::redact::RedactionPolicy {
    query
        .private
        .then(|| config.interactions.lookup_redaction(&query.asker()))
        .flatten()
        .unwrap_or(&config.redaction)
}

fn not_found(target: &Target) -> String {
    match target {
        Target::CustomerEmail(_) => "No customer has that e-mail address in Stripe.".to_owned(),
        _ => format!(
            "There is no such {} in Stripe (or the bot's key cannot see it).",
            target.noun()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_ups_parse_kind_and_id() {
        assert_eq!(parse("invoice in_1A"), Ok(Target::Invoice("in_1A".into())));
        assert_eq!(parse("in_1A"), Ok(Target::Invoice("in_1A".into())));
        assert_eq!(
            parse("customer cus_9"),
            Ok(Target::Customer("cus_9".into()))
        );
        assert_eq!(
            parse("customer jenny@example.com"),
            Ok(Target::CustomerEmail("jenny@example.com".into()))
        );
        assert_eq!(parse("payment ch_3"), Ok(Target::Charge("ch_3".into())));
        assert_eq!(
            parse("PAYMENT pi_3"),
            Ok(Target::PaymentIntent("pi_3".into()))
        );
        assert_eq!(parse("sub_4"), Ok(Target::Subscription("sub_4".into())));
    }

    #[test]
    fn bad_look_ups_get_a_sentence() {
        assert!(parse("").unwrap_err().starts_with("Look up:"));
        assert!(
            parse("invoice cus_1")
                .unwrap_err()
                .contains("not an invoice id")
        );
        assert!(
            parse("invoice in_1/../x")
                .unwrap_err()
                .contains("not an invoice id")
        );
        assert!(parse("refund re_1").unwrap_err().contains("cannot look up"));
        assert!(parse("a b c").unwrap_err().contains("One object"));
        assert!(parse("customer nobody").unwrap_err().contains("neither"));
    }

    #[test]
    fn objects_take_the_card_of_their_state() {
        let invoice = |status: &str, attempts: i64| json!({ "object": "invoice", "status": status, "attempt_count": attempts });
        assert_eq!(
            state_event_type(&invoice("open", 2)),
            "invoice.payment_failed"
        );
        assert_eq!(state_event_type(&invoice("open", 0)), "invoice.finalized");
        assert_eq!(state_event_type(&invoice("paid", 1)), "invoice.paid");
        let charge = json!({ "object": "charge", "status": "failed" });
        assert_eq!(state_event_type(&charge), "charge.failed");
    }
}
