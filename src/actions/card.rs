//! The card edited in place after a press: rendered again from its event
//! for its receiver, its still-open buttons re-armed, then put in the
//! state the press asks for (see `render::states`).

use crate::chat::{MessageRef, Outbound};
use crate::render::states;
use crate::store::cases::merge_case_facts;

use super::{Actions, Checked};

/// How often, and how far apart, a press looks for its card's recorded place.
const RECORDED_TRIES: u32 = 30;
const RECORDED_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// What the edited card shows.
pub enum CardState<'a> {
    /// The outcome of an action, first; the buttons already used gone.
    Outcome(&'a str),
    /// A question: Confirm / Cancel (the two-step confirmation of Discord and Telegram).
    Confirming,
    /// "Assign…": one button per assignee, and Cancel.
    Picking,
    /// The buttons again.
    Open,
}

impl Actions {
    /// Edits the card of a checked click in place (a failure is logged: the
    /// action itself has already been recorded).
    pub(super) async fn update_card(&self, checked: &Checked, state: CardState<'_>) {
        let token = &checked.live.token;
        let view = &checked.view;
        let (config, templates) = (&checked.snapshot.config, &checked.snapshot.templates);
        let Some(receiver) = config.receivers.get(&token.receiver) else {
            return;
        };
        // A press can arrive between the platform accepting the card and
        // the worker recording where it lives: wait for that, briefly.
        let mut reference = None;
        for _ in 0..RECORDED_TRIES {
            if let Ok(Some(text)) = self.store.delivery_message(token.delivery_id).await {
                reference = MessageRef::from_json(&text);
                break;
            }
            tokio::time::sleep(RECORDED_PAUSE).await;
        }
        let (Some(reference), Some(chat)) =
            (reference, self.chats.for_destination(&receiver.destination))
        else {
            return;
        };
        // A case's card: the facts of its other events, and the lines people left.
        let case = match self.store.case_of_delivery(token.delivery_id).await {
            Ok(Some((receiver_name, key))) => {
                self.store.case(&receiver_name, &key).await.ok().flatten()
            }
            _ => None,
        };
        let mut view = view.clone();
        if let Some(case) = &case {
            let _ = merge_case_facts(self.store.as_ref(), &case.case_key, &mut view).await;
        }
        // The card keeps what Stripe's API told it (cached since it was sent).
        if let Ok(Ok(Some(enrichment))) = tokio::time::timeout(
            config.stripe.enrichment.wait,
            self.enricher.enrich(&config.stripe, &view),
        )
        .await
        {
            view.enrich(&enrichment);
        }
        let view = &view;
        let Ok(mut card) = config.card_for(templates, view, Some(receiver)) else {
            return;
        };
        let open = self
            .store
            .open_tokens(token.delivery_id)
            .await
            .unwrap_or_default();
        config.keep_open_buttons(&mut card, &open, view, receiver);
        if let Some(case) = &case {
            for note in &case.notes {
                states::with_outcome(&mut card, note);
            }
        }
        match state {
            // A case's card has the line among its notes already.
            CardState::Outcome(_) if case.is_some() => {}
            CardState::Outcome(outcome) => states::with_outcome(&mut card, outcome),
            CardState::Confirming => {
                if states::confirming(&mut card, &token.token, view, &receiver.redaction).is_none()
                {
                    return;
                }
            }
            CardState::Picking => {
                states::picking(&mut card, &token.token, &config.interactions.assignees)
            }
            CardState::Open => {}
        }
        let message = Outbound {
            payload: crate::chat::render(receiver.destination.platform(), &card),
            card: &card,
            idempotency_key: format!("edit-{}", token.token),
            reply_to: None,
            linked: false,
        };
        if let Err(error) = chat.edit(&reference, &message).await {
            tracing::warn!(receiver = %receiver.name, error = %error, "cannot update the card");
        }
    }
}
