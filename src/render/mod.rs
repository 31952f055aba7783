//! From event to platform payload: redacted context → template → [`Card`] →
//! Slack, Discord, Telegram or console payload.
//!
//! Pure apart from reading template override folders. Every platform limit
//! is a named constant in its renderer, enforced by truncation.

pub mod card;
pub mod console;
pub mod context;
pub mod discord;
pub mod slack;
pub mod telegram;
pub mod templates;
pub mod text;
pub mod time;

use std::path::Path;

use serde_json::Value;

pub use card::Card;
pub use templates::{TemplateError, Templates};

use crate::event::EventView;
use crate::redact::RedactionPolicy;

/// A chat platform's payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Platform {
    /// Block Kit.
    Slack,
    /// Embed plus components.
    Discord,
    /// HTML plus inline keyboard.
    Telegram,
    /// Plain text.
    Console,
}

impl Platform {
    /// Every platform.
    pub const ALL: [Platform; 4] = [
        Platform::Slack,
        Platform::Discord,
        Platform::Telegram,
        Platform::Console,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Discord => "discord",
            Self::Telegram => "telegram",
            Self::Console => "console",
        }
    }
}

/// The payload of `card` for `platform`; the console payload is a JSON string.
pub fn payload(platform: Platform, card: &Card) -> Value {
    match platform {
        Platform::Slack => slack::render(card),
        Platform::Discord => discord::render(card),
        Platform::Telegram => telegram::render(card),
        Platform::Console => Value::String(console::render(card)),
    }
}

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
