//! The helpdesk's ticket webhook (`[interactions] ticket_webhook`): a case
//! handed to a person, posted as JSON. "Take it", "Assign…" and the
//! hand-off of an abandoned case all post the same shape: ids and links,
//! no customer PII.

use std::time::Duration;

use serde_json::{Value, json};

use crate::event::EventView;

/// A case handed to someone.
#[derive(Debug, Clone)]
pub struct Ticket<'a> {
    /// The case's event.
    pub view: &'a EventView,
    /// Who it is assigned to (`@alice`, `billing-queue`).
    pub assignee: &'a str,
    /// Who assigned it (a mention, or `stripe-chatops follow-ups`).
    pub assigned_by: &'a str,
    /// The platform of the assigner (`slack`), or `schedule`.
    pub platform: &'a str,
    /// The assigner's user id on it, if a person.
    pub user_id: &'a str,
    /// Stable across tries of the same hand-off.
    pub idempotency_key: String,
}

impl Ticket<'_> {
    /// The JSON body the helpdesk receives.
    pub fn body(&self) -> Value {
        let view = self.view;
        json!({
            "event_id": view.id,
            "event_type": view.event_type,
            "object_id": view.object_id,
            "livemode": view.livemode,
            "amount": view.amount.as_ref().map(|a| a.display.clone()),
            "dashboard_url": view.dashboard_url,
            "assignee": self.assignee,
            "assigned_by": self.assigned_by,
            "assignee_platform": self.platform,
            "assignee_id": self.user_id,
        })
    }
}

/// What the helpdesk answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketAnswer {
    /// A 2xx.
    Created,
    /// Another status.
    Refused(u16),
    /// No answer (the error, without its URL).
    Unreachable(String),
}

impl TicketAnswer {
    /// The audit outcome (`done` or `failed`) and what a card line says of it.
    pub fn summary(&self) -> (&'static str, String) {
        match self {
            Self::Created => ("done", "ticket created".to_owned()),
            Self::Refused(status) => ("failed", format!("the ticket failed (HTTP {status})")),
            Self::Unreachable(_) => (
                "failed",
                "the ticket failed (helpdesk unreachable)".to_owned(),
            ),
        }
    }
}

/// Posts a ticket to `url`, with an `Idempotency-Key` and a 10 s timeout.
pub async fn post(url: &str, ticket: &Ticket<'_>) -> TicketAnswer {
    let answer = reqwest::Client::new()
        .post(url)
        .header("Idempotency-Key", &ticket.idempotency_key)
        .json(&ticket.body())
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => TicketAnswer::Created,
        Ok(response) => TicketAnswer::Refused(response.status().as_u16()),
        Err(error) => TicketAnswer::Unreachable(error.without_url().to_string()),
    }
}
