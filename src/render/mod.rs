//! From event to card: redacted context → template → [`Card`], the card's
//! states (confirm, pick, outcome), and the digest's layout. Pure apart
//! from reading template override folders.
//!
//! A card is platform-neutral; each platform's renderer (its payload,
//! escaping and limits) lives in its folder under `chat/`.

pub mod card;
pub mod chart;
pub mod context;
pub mod digest;
pub mod followup;
pub mod states;
pub mod summary;
pub mod templates;
pub mod text;
pub mod time;

use std::path::Path;

pub use card::Card;
pub use templates::{TemplateError, Templates};

use crate::event::EventView;
use crate::redact::RedactionPolicy;

/// Renders the card of `view` for a receiver: redaction, then its template.
pub fn card_for(
    templates: &Templates,
    view: &EventView,
    policy: &RedactionPolicy,
    receiver_templates: Option<&Path>,
    account_name: &str,
    now: i64,
) -> Result<Card, TemplateError> {
    let context = context::build(view, policy, account_name, now);
    templates.card(receiver_templates, &view.event_type, &context)
}
