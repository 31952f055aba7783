//! Telegram: HTML text with correct escaping, plus an inline keyboard.
//!
//! Limits from the Bot API (`../shared/PLATFORMS.md` §E): `sendMessage` text
//! is 1–4096 characters after entity parsing, `callback_data` 1–64 bytes.
//! We hold the HTML source itself to 4096 characters, which is stricter.

use serde_json::{Value, json};

use crate::render::card::Card;
use crate::render::text::{escape_html, fit_escaped, truncate, truncate_bytes};

/// `sendMessage` text.
pub const MAX_TEXT: usize = 4096;
/// `callback_data`, in bytes.
pub const MAX_CALLBACK_DATA: usize = 64;
/// Inline keyboard buttons per row we use.
pub const BUTTONS_PER_ROW: usize = 2;
/// Button text we allow (Telegram sets no hard limit; long labels are cut by clients).
pub const MAX_BUTTON_TEXT: usize = 64;

/// The `sendMessage` body of a card (without `chat_id`).
pub fn render(card: &Card) -> Value {
    let mut lines = vec![format!(
        "<b>{}</b>",
        fit_escaped(&card.title, 500, escape_html)
    )];
    if !card.badges.is_empty() {
        let badges: Vec<String> = card
            .badges
            .iter()
            .map(|b| escape_html(&truncate(b, 60)))
            .collect();
        lines.push(format!("<i>{}</i>", badges.join(" · ")));
    }
    if let Some(summary) = &card.summary {
        lines.push(fit_escaped(summary, 1000, escape_html));
    }
    let footer = format!(
        "<code>{}</code>",
        fit_escaped(&card.footer, 200, escape_html)
    );
    let fixed: usize =
        lines.iter().map(|l| l.chars().count() + 1).sum::<usize>() + footer.chars().count() + 2;
    let mut budget = MAX_TEXT.saturating_sub(fixed);
    if !card.fields.is_empty() {
        lines.push(String::new());
    }
    for field in &card.fields {
        let label = format!("<b>{}:</b> ", fit_escaped(&field.label, 100, escape_html));
        let room = budget.saturating_sub(label.chars().count() + 1);
        if room < 2 {
            break;
        }
        let value = fit_escaped(&field.value, room.min(1024), escape_html);
        let line = format!("{label}{value}");
        budget -= line.chars().count() + 1;
        lines.push(line);
    }
    lines.push(String::new());
    lines.push(footer);
    let text = lines.join("\n");
    debug_assert!(text.chars().count() <= MAX_TEXT);

    let mut buttons: Vec<Value> = card
        .actions
        .iter()
        .map(|action| json!({ "text": truncate(&action.label, MAX_BUTTON_TEXT), "callback_data": truncate_bytes(action.payload(), MAX_CALLBACK_DATA) }))
        .collect();
    buttons.extend(
        card.links
            .iter()
            .map(|link| json!({ "text": truncate(&link.label, MAX_BUTTON_TEXT), "url": link.url })),
    );
    let keyboard: Vec<Value> = buttons
        .chunks(BUTTONS_PER_ROW)
        .map(|row| Value::Array(row.to_vec()))
        .collect();
    let mut body = json!({ "text": text, "parse_mode": "HTML", "link_preview_options": { "is_disabled": true } });
    if !keyboard.is_empty() {
        body["reply_markup"] = json!({ "inline_keyboard": keyboard });
    }
    body
}
