//! The states a sent card goes through after a press (pure): the
//! confirmation a dangerous button asks, the two-step Confirm / Cancel
//! question, the "Assign…" picker, the outcome line, and the history line
//! a case's later events add in the card's thread ([`history`]).
//!
//! The button payloads of the two-step states carry the original token
//! behind a prefix ([`CONFIRM_PREFIX`], [`CANCEL_PREFIX`], [`PICK_PREFIX`]);
//! each platform's inbound side reads them back with `chat::Press`.

use super::card::{Action, ButtonStyle, Card, Confirmation, Field, Severity};
use crate::event::EventView;
use crate::redact::RedactionPolicy;

/// The button payload prefix of a confirming click on Discord and Telegram.
pub const CONFIRM_PREFIX: &str = "c:";
/// The button payload prefix of a cancelling click.
pub const CANCEL_PREFIX: &str = "x:";
/// The button payload prefix of a pick in "Assign…": `p{index}:{token}`.
pub const PICK_PREFIX: &str = "p";

/// "Retry payment?" with the amount, the customer as `policy` allows, and the object.
pub fn confirmation(label: &str, view: &EventView, policy: &RedactionPolicy) -> Confirmation {
    let who = view
        .customer
        .name
        .as_deref()
        .and_then(|n| policy.name(n))
        .or_else(|| view.customer.email.as_deref().and_then(|e| policy.email(e)));
    let mut parts = Vec::new();
    if let Some(amount) = &view.amount {
        parts.push(amount.display.clone());
    }
    if let Some(who) = who {
        parts.push(who);
    }
    if let Some(object) = &view.object_id {
        parts.push(object.clone());
    }
    Confirmation {
        title: format!("{label}?"),
        text: format!("{label}: {}. This acts in Stripe.", parts.join(" · ")),
        confirm: label.to_owned(),
        deny: "Cancel".to_owned(),
    }
}

/// The outcome of an action, first on the card: "Done: Retried by @alice …".
pub fn with_outcome(card: &mut Card, outcome: &str) {
    card.fields.insert(
        0,
        Field {
            label: "Done".to_owned(),
            value: outcome.to_owned(),
        },
    );
}

/// The two-step confirmation of the button carrying `token`: the question
/// first, and only Confirm / Cancel. `None` when the card has no such button.
pub fn confirming(
    card: &mut Card,
    token: &str,
    view: &EventView,
    policy: &RedactionPolicy,
) -> Option<()> {
    let action = card
        .actions
        .iter()
        .find(|a| a.token.as_deref() == Some(token))
        .cloned()?;
    let question = confirmation(&action.label, view, policy);
    card.fields.insert(
        0,
        Field {
            label: question.title.clone(),
            value: question.text.clone(),
        },
    );
    card.actions = vec![
        Action {
            action: action.action.clone(),
            label: question.confirm,
            style: ButtonStyle::Danger,
            token: Some(format!("{CONFIRM_PREFIX}{token}")),
            confirm: None,
        },
        cancel(token),
    ];
    Some(())
}

/// "Assign…": one button per assignee, and Cancel.
pub fn picking(card: &mut Card, token: &str, assignees: &[String]) {
    card.fields.insert(
        0,
        Field {
            label: "Assign to".to_owned(),
            value: "Pick a person or queue.".to_owned(),
        },
    );
    card.actions = assignees
        .iter()
        .enumerate()
        .map(|(index, name)| Action {
            action: format!("pick_{index}"),
            label: name.clone(),
            style: ButtonStyle::Default,
            token: Some(format!("{PICK_PREFIX}{index}:{token}")),
            confirm: None,
        })
        .chain(std::iter::once(cancel(token)))
        .collect();
}

fn cancel(token: &str) -> Action {
    Action {
        action: "cancel".to_owned(),
        label: "Cancel".to_owned(),
        style: ButtonStyle::Default,
        token: Some(format!("{CANCEL_PREFIX}{token}")),
        confirm: None,
    }
}

/// History lines in one thread reply; more are counted, not listed.
pub const HISTORY_LINES: usize = 10;

/// The small card of a thread reply: the history lines, no buttons, no mention.
pub fn history(lines: &[String], case_key: &str) -> Card {
    let mut text: Vec<String> = lines.iter().take(HISTORY_LINES).cloned().collect();
    if lines.len() > HISTORY_LINES {
        text.push(format!(
            "…and {} more (stripe-chatops cases show {case_key})",
            lines.len() - HISTORY_LINES
        ));
    }
    Card::note(
        "↳ Update".to_owned(),
        Severity::Info,
        text.join("\n"),
        format!("case {case_key}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> Card {
        let mut card = Card::parse(
            "title: Payment failed\nbutton: retry_payment | Retry payment | primary\nbutton: assign | Assign…",
        )
        .unwrap();
        card.actions[0].token = Some("tRETRY".into());
        card.actions[1].token = Some("tASSIGN".into());
        card
    }

    #[test]
    fn confirming_keeps_only_confirm_and_cancel_with_prefixed_tokens() {
        let mut card = card();
        let view = EventView::parse(
            &serde_json::json!({"id": "evt_1", "type": "invoice.payment_failed", "data": {"object": {"object": "invoice", "id": "in_1"}}}),
            "default",
        )
        .unwrap();
        confirming(&mut card, "tRETRY", &view, &RedactionPolicy::default()).unwrap();
        let payloads: Vec<&str> = card.actions.iter().map(Action::payload).collect();
        assert_eq!(payloads, ["c:tRETRY", "x:tRETRY"]);
        assert_eq!(card.fields[0].label, "Retry payment?");
        assert!(confirming(&mut card, "tNONE", &view, &RedactionPolicy::default()).is_none());
    }

    #[test]
    fn picking_offers_each_assignee_then_cancel() {
        let mut card = card();
        picking(&mut card, "tASSIGN", &["@alice".into(), "billing".into()]);
        let payloads: Vec<&str> = card.actions.iter().map(Action::payload).collect();
        assert_eq!(payloads, ["p0:tASSIGN", "p1:tASSIGN", "x:tASSIGN"]);
    }
}
