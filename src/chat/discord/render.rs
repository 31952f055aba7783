//! Discord: one embed plus button components, within Discord's limits.
//!
//! Limits from discord-api-docs `developers/resources/message.mdx` and
//! `developers/components/reference.mdx` (`../shared/PLATFORMS.md` §D).

use serde_json::{Value, json};

use crate::render::card::{ButtonStyle, Card};
use crate::render::text::truncate;

/// Embed title.
pub const MAX_TITLE: usize = 256;
/// Embed description.
pub const MAX_DESCRIPTION: usize = 4096;
/// Fields per embed.
pub const MAX_FIELDS: usize = 25;
/// Field name.
pub const MAX_FIELD_NAME: usize = 256;
/// Field value.
pub const MAX_FIELD_VALUE: usize = 1024;
/// Footer text.
pub const MAX_FOOTER: usize = 2048;
/// All embed text together (title, description, field names and values, footer).
pub const MAX_EMBED_TOTAL: usize = 6000;
/// Action rows per message.
pub const MAX_ROWS: usize = 5;
/// Buttons per action row.
pub const MAX_BUTTONS_PER_ROW: usize = 5;
/// Button label.
pub const MAX_LABEL: usize = 80;
/// Button `custom_id`.
pub const MAX_CUSTOM_ID: usize = 100;
/// Link button `url`.
pub const MAX_URL: usize = 512;

/// Escapes Discord markdown so customer text renders literally.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '[' | ']' | '(' | ')' | '#' | '-' | '@'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escaped text of at most `max` characters, never ending in a lone backslash.
fn fit(text: &str, max: usize) -> String {
    crate::render::text::fit_escaped(text.trim(), max, escape_markdown)
}

/// The create-message body of a card.
pub fn render(card: &Card) -> Value {
    let title = truncate(card.title.trim(), MAX_TITLE);
    let footer = truncate(card.footer.trim(), MAX_FOOTER);
    let mut description = String::new();
    if !card.badges.is_empty() {
        let badges: Vec<String> = card
            .badges
            .iter()
            .map(|b| format!("`{}`", b.replace('`', "'")))
            .collect();
        description.push_str(&badges.join(" "));
    }
    if let Some(summary) = &card.summary {
        if !description.is_empty() {
            description.push('\n');
        }
        description.push_str(&fit(summary, MAX_DESCRIPTION - description.chars().count()));
    }
    let mut budget = MAX_EMBED_TOTAL
        .saturating_sub(title.chars().count())
        .saturating_sub(footer.chars().count())
        .saturating_sub(description.chars().count());
    let mut fields = Vec::new();
    for field in card.fields.iter().take(MAX_FIELDS) {
        let name = truncate(field.label.trim(), MAX_FIELD_NAME);
        let room = budget
            .saturating_sub(name.chars().count())
            .min(MAX_FIELD_VALUE);
        if room < 2 {
            break;
        }
        let value = fit(&field.value, room);
        if value.is_empty() {
            continue;
        }
        budget -= name.chars().count() + value.chars().count();
        fields.push(json!({ "name": name, "value": value, "inline": true }));
    }
    let mut embed = json!({ "title": title, "color": card.severity.colour(), "fields": fields, "footer": { "text": footer } });
    if !description.is_empty() {
        embed["description"] = description.into();
    }
    if let Some(link) = card.links.first().filter(|l| l.url.len() <= MAX_URL) {
        embed["url"] = link.url.clone().into();
    }
    let mut buttons: Vec<Value> = card
        .actions
        .iter()
        .map(|action| {
            let style = match action.style {
                ButtonStyle::Primary => 1,
                ButtonStyle::Default => 2,
                ButtonStyle::Danger => 4,
            };
            json!({ "type": 2, "style": style, "label": truncate(&action.label, MAX_LABEL), "custom_id": truncate(action.payload(), MAX_CUSTOM_ID) })
        })
        .collect();
    buttons.extend(
        card.links
            .iter()
            .filter(|l| l.url.len() <= MAX_URL)
            .map(|link| json!({ "type": 2, "style": 5, "label": truncate(&link.label, MAX_LABEL), "url": link.url })),
    );
    buttons.truncate(MAX_ROWS * MAX_BUTTONS_PER_ROW);
    let components: Vec<Value> = buttons
        .chunks(MAX_BUTTONS_PER_ROW)
        .map(|row| json!({ "type": 1, "components": row }))
        .collect();
    json!({ "embeds": [embed], "components": components, "allowed_mentions": { "parse": [] } })
}

/// Characters that count toward the 6000 limit of an embed.
pub fn embed_length(embed: &Value) -> usize {
    let count = |v: &Value| v.as_str().map_or(0, |s| s.trim().chars().count());
    let fields = embed["fields"].as_array().map_or(0, |fields| {
        fields
            .iter()
            .map(|f| count(&f["name"]) + count(&f["value"]))
            .sum()
    });
    count(&embed["title"]) + count(&embed["description"]) + count(&embed["footer"]["text"]) + fields
}
