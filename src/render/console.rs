//! Console: the card as plain text, for standard output and the demo.

use super::card::Card;

/// Plain text lines of a card.
pub fn render(card: &Card) -> String {
    let mut out = format!("[{}] {}\n", card.severity.name(), card.title);
    if !card.badges.is_empty() {
        out.push_str(&format!("  {}\n", card.badges.join(" · ")));
    }
    if let Some(summary) = &card.summary {
        out.push_str(&format!("  {summary}\n"));
    }
    for field in &card.fields {
        out.push_str(&format!("  {}: {}\n", field.label, field.value));
    }
    for action in &card.actions {
        out.push_str(&format!("  [{}]", action.label));
    }
    if !card.actions.is_empty() {
        out.push('\n');
    }
    for link in &card.links {
        out.push_str(&format!("  {}: {}\n", link.label, link.url));
    }
    out.push_str(&format!("  {}\n", card.footer));
    out
}
