//! Button tokens: every action button of a sent card carries an opaque
//! random token, never an id or an amount, stored with what it may do.

use rand::RngCore;

use crate::config::{ActionKind, Config, Receiver};
use crate::event::EventView;
use crate::render::Card;
use crate::render::states::confirmation;
use crate::store::{NewToken, Store, StoreError, now_ms};

/// A fresh opaque token: `t` and 32 hex digits (128 random bits), 33 bytes,
/// within Telegram's 64-byte `callback_data` and Discord's 100-character `custom_id`.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("t{}", hex::encode(bytes))
}

/// Gives every known action button of `card` a token (stored) and, where
/// the action asks first, a confirmation naming the amount and the redacted
/// customer.
pub async fn arm(
    config: &Config,
    store: &dyn Store,
    card: &mut Card,
    view: &EventView,
    receiver: &Receiver,
    delivery_id: i64,
    event_seq: i64,
) -> Result<(), StoreError> {
    let holder = Holder {
        receiver: &receiver.name,
        redaction: &receiver.redaction,
        delivery_id,
        event_seq,
    };
    arm_for(config, store, card, view, &holder).await
}

/// Where a card's tokens belong: the receiver (or a look-up's private
/// answer) and its redaction, the delivery and the event they act on.
pub struct Holder<'a> {
    /// The receiver name the tokens record.
    pub receiver: &'a str,
    /// The redaction of the confirmations.
    pub redaction: &'a crate::redact::RedactionPolicy,
    /// The delivery of the card (0 for a look-up).
    pub delivery_id: i64,
    /// The stored event the actions act on.
    pub event_seq: i64,
}

/// [`arm`] for any holder.
pub async fn arm_for(
    config: &Config,
    store: &dyn Store,
    card: &mut Card,
    view: &EventView,
    holder: &Holder<'_>,
) -> Result<(), StoreError> {
    let (delivery_id, event_seq) = (holder.delivery_id, holder.event_seq);
    let now = now_ms();
    let expires = now + config.interactions.token_ttl.as_millis() as i64;
    let mut tokens = Vec::new();
    for action in &mut card.actions {
        let Some(kind) = ActionKind::parse(&action.action) else {
            continue;
        };
        let token = new_token();
        tokens.push(NewToken {
            token: token.clone(),
            action: kind.name().to_owned(),
            label: action.label.clone(),
            delivery_id,
            event_seq,
            receiver: holder.receiver.to_owned(),
            object_id: view.object_id.clone(),
            created_at_ms: now,
            expires_at_ms: expires,
        });
        action.token = Some(token);
        if config.interactions.policy(kind).confirm {
            action.confirm = Some(confirmation(&action.label, view, holder.redaction));
        }
    }
    store.create_tokens(&tokens).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_opaque_and_fit_every_platform() {
        let token = new_token();
        assert_eq!(token.len(), 33);
        assert!(token.starts_with('t'));
        assert_ne!(token, new_token());
    }
}
