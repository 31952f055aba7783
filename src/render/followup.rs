//! The cards of follow-ups on a clock: a dispute's reminder, a follow-up of
//! unpaid money, an escalation. Each is a short message in the case's
//! thread (or, for an escalation, a card posted again), built from what the
//! case's card already shows; pure.

use super::card::{Action, ButtonStyle, Card, Field, Link, Severity};

/// One reminder of a dispute's evidence deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeReminder<'a> {
    /// `due in 24 h`.
    pub countdown: &'a str,
    /// `Dec 6, 09:00 UTC`.
    pub due_at: &'a str,
    /// The disputed amount, as the card shows it.
    pub amount: Option<&'a str>,
    /// The Dashboard's evidence form.
    pub evidence_url: Option<&'a str>,
    /// Who the case is assigned to: mentioned.
    pub assignee: Option<&'a str>,
    /// Which reminder (1-based) of how many.
    pub step: usize,
    /// How many reminders there are.
    pub of: usize,
    /// `3 h late (the service was not running)`, when it is.
    pub late: Option<&'a str>,
    /// The case, for the footer.
    pub case_key: &'a str,
}

/// The reminder's message.
pub fn dispute_reminder(r: &DisputeReminder<'_>) -> Card {
    let mut summary = format!(
        "Submit the evidence before {} or the dispute is lost{}.",
        r.due_at,
        r.amount
            .map(|a| format!(" with its {a}"))
            .unwrap_or_default()
    );
    if let Some(who) = r.assignee {
        summary.push_str(&format!(" {who}, this is yours."));
    }
    if let Some(late) = r.late {
        summary.push_str(&format!(" (Reminder sent {late}.)"));
    }
    let mut card = Card::note(
        format!(
            "⏰ Evidence {} · reminder {} of {}",
            r.countdown, r.step, r.of
        ),
        if r.step == r.of {
            Severity::Critical
        } else {
            Severity::Warning
        },
        summary,
        format!("case {}", r.case_key),
    );
    card.links = r
        .evidence_url
        .map(|url| Link {
            label: "Open evidence form".to_owned(),
            url: url.to_owned(),
        })
        .into_iter()
        .collect();
    card
}

/// One follow-up of unpaid money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpaidFollowUp<'a> {
    /// `2 h`, `2 days`: since the payment failed.
    pub since: &'a str,
    /// The amount due.
    pub amount: Option<&'a str>,
    /// Who owes it, as the receiver may see it.
    pub customer: Option<&'a str>,
    /// Which follow-up (1-based) of how many.
    pub step: usize,
    /// How many there are.
    pub of: usize,
    /// What the time is counted from: `the failure`, `the request`.
    pub after: &'a str,
    /// Offer the "Send reminder e-mail" button (an invoice).
    pub offer_dunning: bool,
    /// Offer the "New link" button (a payment request whose link ended unpaid).
    pub offer_new_link: bool,
    /// The last one: who the case is handed to (`Some(None)`: nobody set).
    pub abandoned: Option<Option<&'a str>>,
    /// `3 h late (…)`, when it is.
    pub late: Option<&'a str>,
    /// The case.
    pub case_key: &'a str,
}

/// The follow-up's message; the last one says the case is abandoned.
pub fn unpaid_follow_up(f: &UnpaidFollowUp<'_>) -> Card {
    let what = f.amount.unwrap_or("the amount due");
    let whom = f.customer.map(|c| format!(" by {c}")).unwrap_or_default();
    let mut summary = format!(
        "{what} is still unpaid{whom}, {} after {}.",
        f.since, f.after
    );
    match f.abandoned {
        Some(Some(to)) => summary.push_str(&format!(
            " No payment after {} follow-ups: the case is abandoned and handed to {to}.",
            f.of
        )),
        Some(None) => summary.push_str(&format!(
            " No payment after {} follow-ups: the case is abandoned.",
            f.of
        )),
        None => {}
    }
    if let Some(late) = f.late {
        summary.push_str(&format!(" (Sent {late}.)"));
    }
    let mut actions = Vec::new();
    if f.offer_dunning {
        actions.push(Action {
            action: "send_dunning".to_owned(),
            label: "Send reminder e-mail".to_owned(),
            style: ButtonStyle::Primary,
            token: None,
            confirm: None,
        });
    }
    if f.offer_new_link {
        actions.push(Action {
            action: "request_payment".to_owned(),
            label: "New link".to_owned(),
            style: ButtonStyle::Primary,
            token: None,
            confirm: None,
        });
    }
    let title = if f.abandoned.is_some() {
        format!("🪦 Abandoned · follow-up {} of {}", f.step, f.of)
    } else {
        format!("🔔 Still unpaid · follow-up {} of {}", f.step, f.of)
    };
    let mut card = Card::note(
        title,
        Severity::Warning,
        summary,
        format!("case {}", f.case_key),
    );
    card.actions = actions;
    card
}

/// Turns a case's card into its escalation: a line on top that says why
/// (the mention is added to the platform's payload, see `chat::with_mention`).
pub fn escalated(card: &mut Card, unacknowledged_for: &str) {
    card.title = format!("⏫ Escalated · {}", card.title);
    card.fields.insert(
        0,
        Field {
            label: "Escalated".to_owned(),
            value: format!("nobody acknowledged this card in {unacknowledged_for}"),
        },
    );
}

/// The line an escalation without a receiver of its own posts in the
/// case's thread (and to the channel).
pub fn escalation_line(what: &str, unacknowledged_for: &str, case_key: &str) -> Card {
    Card::note(
        format!("⏫ Nobody acknowledged this in {unacknowledged_for}"),
        Severity::Critical,
        what.to_owned(),
        format!("case {case_key}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dispute_reminder_names_the_deadline_the_money_and_the_assignee() {
        let card = dispute_reminder(&DisputeReminder {
            countdown: "due in 24 h",
            due_at: "Dec 6, 09:00 UTC",
            amount: Some("$10.00 USD"),
            evidence_url: Some("https://dashboard.stripe.com/disputes/dp_1"),
            assignee: Some("@alice"),
            step: 2,
            of: 3,
            late: None,
            case_key: "dp_1",
        });
        assert_eq!(card.title, "⏰ Evidence due in 24 h · reminder 2 of 3");
        assert_eq!(
            card.summary.as_deref(),
            Some(
                "Submit the evidence before Dec 6, 09:00 UTC or the dispute is lost with its $10.00 USD. @alice, this is yours."
            )
        );
        assert_eq!(card.links[0].label, "Open evidence form");
        assert_eq!(card.severity, Severity::Warning);
    }

    #[test]
    fn the_last_follow_up_abandons_and_hands_off() {
        let card = unpaid_follow_up(&UnpaidFollowUp {
            since: "2 days",
            amount: Some("€49.00 EUR"),
            customer: Some("j***@example.com"),
            step: 3,
            of: 3,
            after: "the failure",
            offer_dunning: true,
            offer_new_link: false,
            abandoned: Some(Some("billing-queue")),
            late: Some("3 h late (the service was not running)"),
            case_key: "in_1",
        });
        assert_eq!(card.title, "🪦 Abandoned · follow-up 3 of 3");
        assert!(
            card.summary
                .as_deref()
                .unwrap()
                .contains("handed to billing-queue")
        );
        assert!(card.summary.as_deref().unwrap().contains("Sent 3 h late"));
        assert_eq!(card.actions[0].action, "send_dunning");
    }
}
