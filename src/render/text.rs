//! Safe truncation and escaping shared by the renderers.
//!
//! Truncation counts characters (Unicode scalar values), never bytes, so it
//! cannot split a multi-byte character. When the limit applies to escaped
//! text, the plain text is shortened *before* escaping until the escaped form
//! fits, so an entity like `&amp;` is never cut.

/// The mark appended to shortened text.
pub const ELLIPSIS: char = '…';

/// At most `max` characters of `text`, ending in `…` when shortened.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push(ELLIPSIS);
    out
}

/// At most `max` bytes of `text`, cut at a character boundary (for byte limits).
pub fn truncate_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The longest prefix of `text` (plus `…` when shortened) whose escaped form
/// has at most `max` characters.
pub fn fit_escaped(text: &str, max: usize, escape: impl Fn(&str) -> String) -> String {
    let escaped = escape(text);
    if escaped.chars().count() <= max {
        return escaped;
    }
    let mut keep = text.chars().count().min(max);
    loop {
        let candidate = escape(&truncate(text, keep));
        let length = candidate.chars().count();
        if length <= max || keep == 0 {
            return if length <= max {
                candidate
            } else {
                String::new()
            };
        }
        keep = keep.saturating_sub((length - max).max(1));
    }
}

/// Escapes `&`, `<` and `>` as HTML entities (Slack mrkdwn and Telegram HTML).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_by_characters() {
        assert_eq!(truncate("héllo wörld", 5), "héll…");
        assert_eq!(truncate("short", 5), "short");
        assert_eq!(truncate("🎉🎉🎉", 2), "🎉…");
        assert_eq!(truncate_bytes("é", 1), "");
    }

    #[test]
    fn never_cuts_an_entity() {
        let text = "a&b<c>d&e";
        for max in 0..20 {
            let fitted = fit_escaped(text, max, escape_html);
            assert!(fitted.chars().count() <= max, "{max}: {fitted}");
            // Every & starts a whole entity.
            for (i, _) in fitted.match_indices('&') {
                let rest = &fitted[i..];
                assert!(
                    rest.starts_with("&amp;")
                        || rest.starts_with("&lt;")
                        || rest.starts_with("&gt;"),
                    "{max}: {fitted}"
                );
            }
        }
    }
}
