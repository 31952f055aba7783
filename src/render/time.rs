//! Dates for people: `Mar 14, 09:00 UTC (in 3 days)`, always UTC.

use chrono::{DateTime, Utc};

/// `Mar 14, 09:00 UTC (in 3 days)` for `at`, relative to `now` (Unix seconds).
pub fn when(at: i64, now: i64) -> String {
    let Some(time) = DateTime::<Utc>::from_timestamp(at, 0) else {
        return String::new();
    };
    let absolute = time.format("%b %-d, %H:%M UTC");
    format!("{absolute} ({})", relative(at - now))
}

/// `in 3 days`, `2 hours ago`, `now`.
pub fn relative(delta_secs: i64) -> String {
    let magnitude = delta_secs.unsigned_abs();
    // Rounded to the nearest unit: 2 days 23 hours reads "in 3 days".
    let rounded = |unit: u64| (magnitude + unit / 2) / unit;
    let (count, unit) = if magnitude >= 86_400 - 1_800 {
        (rounded(86_400), "day")
    } else if magnitude >= 3_600 - 30 {
        (rounded(3_600), "hour")
    } else if magnitude >= 60 {
        (rounded(60), "minute")
    } else {
        return "now".to_owned();
    };
    let plural = if count == 1 { "" } else { "s" };
    if delta_secs > 0 {
        format!("in {count} {unit}{plural}")
    } else {
        format!("{count} {unit}{plural} ago")
    }
}

/// Whole days from `now` until `at`, rounded down; negative when past.
pub fn days_left(at: i64, now: i64) -> i64 {
    (at - now).div_euclid(86_400)
}

/// `insufficient_funds` → `Insufficient funds`.
pub fn words(code: &str) -> String {
    let spaced = code.replace(['_', '-'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_and_relative() {
        let now = 1_763_251_200; // Nov 16, 2025 00:00 UTC
        assert_eq!(
            when(now + 3 * 86_400 + 9 * 3_600, now),
            "Nov 19, 09:00 UTC (in 3 days)"
        );
        assert_eq!(
            when(now - 2 * 3_600, now),
            "Nov 15, 22:00 UTC (2 hours ago)"
        );
        assert_eq!(when(now + 30, now), "Nov 16, 00:00 UTC (now)");
        assert_eq!(relative(86_400), "in 1 day");
        assert_eq!(relative(3 * 86_400 - 60), "in 3 days");
        assert_eq!(relative(-(2 * 3_600 + 1_700)), "2 hours ago");
        assert_eq!(days_left(now + 7 * 86_400 - 1, now), 6);
        assert_eq!(days_left(now - 1, now), -1);
    }

    #[test]
    fn codes_become_words() {
        assert_eq!(words("insufficient_funds"), "Insufficient funds");
        assert_eq!(words("product_not_received"), "Product not received");
        assert_eq!(words(""), "");
    }
}
