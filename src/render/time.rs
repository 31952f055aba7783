//! Dates for people: `Mar 14, 09:00 UTC (in 3 days)`, always UTC.

use chrono::{DateTime, Utc};

/// `Mar 14, 09:00 UTC (in 3 days)` for `at`, relative to `now` (Unix seconds).
pub fn when(at: i64, now: i64) -> String {
    let absolute = absolute(at);
    if absolute.is_empty() {
        return absolute;
    }
    format!("{absolute} ({})", relative(at - now))
}

/// `Mar 14, 09:00 UTC` for `at` (Unix seconds); empty when out of range.
pub fn absolute(at: i64) -> String {
    DateTime::<Utc>::from_timestamp(at, 0)
        .map(|time| time.format("%b %-d, %H:%M UTC").to_string())
        .unwrap_or_default()
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

/// A deadline's countdown in one phrase: `due in 6 days 14 h`, `due in
/// 20 h`, `due in 35 min`, `overdue by 3 h`. Whole units, rounded down, so
/// that it never promises more time than is left.
pub fn countdown(at: i64, now: i64) -> String {
    let delta = at - now;
    let span = span(delta.unsigned_abs());
    if delta > 0 {
        format!("due in {span}")
    } else if delta == 0 {
        "due now".to_owned()
    } else {
        format!("overdue by {span}")
    }
}

/// `6 days 14 h`, `1 day`, `20 h`, `35 min`, `less than a minute`: to the
/// nearest minute, then whole units (a reminder due 72 h before a deadline
/// that runs a second late still reads "3 days").
pub fn span(secs: u64) -> String {
    let secs = if secs >= 60 {
        (secs + 30) / 60 * 60
    } else {
        secs
    };
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    let day_word = if days == 1 { "day" } else { "days" };
    match (days, hours, minutes) {
        (0, 0, 0) => "less than a minute".to_owned(),
        (0, 0, m) => format!("{m} min"),
        (0, h, _) => format!("{h} h"),
        (d, 0, _) => format!("{d} {day_word}"),
        (d, h, _) => format!("{d} {day_word} {h} h"),
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
    fn countdowns_read_as_one_phrase() {
        let now = 1_763_251_200;
        let h = 3_600;
        assert_eq!(
            countdown(now + 6 * 86_400 + 14 * h + 59 * 60, now),
            "due in 6 days 14 h"
        );
        assert_eq!(countdown(now + 3 * 86_400 - 2, now), "due in 3 days");
        assert_eq!(countdown(now + 86_400, now), "due in 1 day");
        assert_eq!(countdown(now + 86_400 + h, now), "due in 1 day 1 h");
        assert_eq!(countdown(now + 20 * h + 30 * 60, now), "due in 20 h");
        assert_eq!(countdown(now + 35 * 60 + 10, now), "due in 35 min");
        assert_eq!(countdown(now + 20, now), "due in less than a minute");
        assert_eq!(countdown(now, now), "due now");
        assert_eq!(countdown(now - 3 * h - 5, now), "overdue by 3 h");
        assert_eq!(countdown(now - 2 * 86_400, now), "overdue by 2 days");
    }

    #[test]
    fn codes_become_words() {
        assert_eq!(words("insufficient_funds"), "Insufficient funds");
        assert_eq!(words("product_not_received"), "Product not received");
        assert_eq!(words(""), "");
    }
}
