//! Slack: Block Kit blocks plus a text fallback, within Slack's limits.
//!
//! Limits from Slack's Block Kit reference (`../shared/PLATFORMS.md` §C,
//! docs.slack.dev/reference/block-kit): every one is enforced by truncation.

use serde_json::{Value, json};

use crate::render::card::{ButtonStyle, Card};
use crate::render::text::{escape_html, fit_escaped, truncate};

/// Blocks per message (docs.slack.dev/reference/block-kit/blocks).
pub const MAX_BLOCKS: usize = 50;
/// Section block `text` (api.slack.com/reference/block-kit/blocks#section).
pub const MAX_SECTION_TEXT: usize = 3000;
/// Fields per section block.
pub const MAX_SECTION_FIELDS: usize = 10;
/// Characters per section field.
pub const MAX_FIELD_TEXT: usize = 2000;
/// Header block plain text (docs.slack.dev/reference/block-kit/blocks/header-block).
pub const MAX_HEADER_TEXT: usize = 150;
/// Elements per actions block.
pub const MAX_ACTIONS: usize = 25;
/// Button text (docs.slack.dev … /interfaces/Button).
pub const MAX_BUTTON_TEXT: usize = 75;
/// Confirm dialog `title`.
pub const MAX_CONFIRM_TITLE: usize = 100;
/// Confirm dialog `text`.
pub const MAX_CONFIRM_TEXT: usize = 300;
/// Confirm dialog `confirm` and `deny` labels.
pub const MAX_CONFIRM_BUTTON: usize = 30;
/// Button `action_id`.
pub const MAX_ACTION_ID: usize = 255;
/// Button `value`.
pub const MAX_BUTTON_VALUE: usize = 2000;
/// Button `url`.
pub const MAX_BUTTON_URL: usize = 3000;
/// Elements of a context block.
pub const MAX_CONTEXT_ELEMENTS: usize = 10;
/// The notification fallback `text` we send (Slack truncates at 40,000; we stay short).
pub const MAX_FALLBACK_TEXT: usize = 3000;

fn mrkdwn(text: &str, max: usize) -> Value {
    json!({ "type": "mrkdwn", "text": fit_escaped(text, max, escape_html) })
}

fn plain(text: &str, max: usize) -> Value {
    json!({ "type": "plain_text", "text": truncate(text, max), "emoji": true })
}

/// The `chat.postMessage` body of a card (without `channel`).
pub fn render(card: &Card) -> Value {
    let mut blocks = vec![json!({ "type": "header", "text": plain(&card.title, MAX_HEADER_TEXT) })];
    if !card.badges.is_empty() {
        let badges: Vec<Value> = card
            .badges
            .iter()
            .take(MAX_CONTEXT_ELEMENTS)
            .map(|b| mrkdwn(&format!("`{b}`"), MAX_SECTION_TEXT))
            .collect();
        blocks.push(json!({ "type": "context", "elements": badges }));
    }
    if let Some(summary) = &card.summary {
        blocks.push(json!({ "type": "section", "text": mrkdwn(summary, MAX_SECTION_TEXT) }));
    }
    for chunk in card.fields.chunks(MAX_SECTION_FIELDS) {
        let fields: Vec<Value> = chunk
            .iter()
            .map(|field| {
                // Label and value are escaped separately so the bold markers stay intact.
                let label = fit_escaped(&field.label, 200, escape_html);
                let budget = MAX_FIELD_TEXT - label.chars().count() - 3;
                json!({ "type": "mrkdwn", "text": format!("*{label}*\n{}", fit_escaped(&field.value, budget, escape_html)) })
            })
            .collect();
        blocks.push(json!({ "type": "section", "fields": fields }));
    }
    let mut elements: Vec<Value> = card
        .actions
        .iter()
        .map(|action| {
            let mut button = json!({
                "type": "button",
                "text": plain(&action.label, MAX_BUTTON_TEXT),
                "action_id": truncate(&action.action, MAX_ACTION_ID),
                "value": truncate(action.payload(), MAX_BUTTON_VALUE),
            });
            if let Some(confirm) = &action.confirm {
                button["confirm"] = json!({
                    "title": plain(&confirm.title, MAX_CONFIRM_TITLE),
                    "text": plain(&confirm.text, MAX_CONFIRM_TEXT),
                    "confirm": plain(&confirm.confirm, MAX_CONFIRM_BUTTON),
                    "deny": plain(&confirm.deny, MAX_CONFIRM_BUTTON),
                });
            }
            match action.style {
                ButtonStyle::Primary => button["style"] = "primary".into(),
                ButtonStyle::Danger => button["style"] = "danger".into(),
                ButtonStyle::Default => {}
            }
            button
        })
        .collect();
    for (index, link) in card
        .links
        .iter()
        .enumerate()
        .filter(|(_, l)| l.url.len() <= MAX_BUTTON_URL)
    {
        elements.push(json!({
            "type": "button",
            "text": plain(&link.label, MAX_BUTTON_TEXT),
            "action_id": format!("link_{index}"),
            "url": link.url,
        }));
    }
    elements.truncate(MAX_ACTIONS);
    if !elements.is_empty() {
        blocks.push(json!({ "type": "actions", "elements": elements }));
    }
    if !card.footer.is_empty() {
        blocks.push(
            json!({ "type": "context", "elements": [mrkdwn(&card.footer, MAX_SECTION_TEXT)] }),
        );
    }
    if blocks.len() > MAX_BLOCKS {
        // Keep the header and the last block (buttons or footer); drop from the middle.
        let last = blocks.pop().expect("more than 50 blocks");
        blocks.truncate(MAX_BLOCKS - 1);
        blocks.push(last);
    }
    let fallback = match &card.summary {
        Some(summary) => format!("{} — {summary}", card.title),
        None => card.title.clone(),
    };
    json!({ "text": fit_escaped(&fallback, MAX_FALLBACK_TEXT, escape_html), "blocks": blocks, "unfurl_links": false, "unfurl_media": false })
}
