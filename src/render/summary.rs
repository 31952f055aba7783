//! A summary of a period: the numbers a finance team reads first thing in
//! the morning, as a card per account, mode and currency, compared with the
//! period before, and the chart of its days ([`chart`](super::chart)).
//!
//! Pure: the store computes the numbers in SQL; this module only lays them out.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::card::{Card, Field, Severity};
use crate::event::money::Money;

/// The lines of a summary, in the order they are shown.
pub const LINES: [&str; 7] = [
    "Payments received",
    "Failed payments",
    "Recovered after failure",
    "Refunds",
    "Disputes opened",
    "Disputes won",
    "Disputes lost",
];

/// One line of a measure as the store sums it: account, live mode,
/// currency, count, amount (minor units).
pub type Line = (String, bool, String, i64, i64);

/// What a group is per: account, live mode, currency.
pub type GroupKey = (String, bool, String);

/// A count and a sum in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// How many.
    pub count: i64,
    /// Their sum, minor units.
    pub amount: i64,
}

/// The numbers of one account, mode and currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Group {
    /// The account name (`default`, `eu`).
    pub account: String,
    /// The account's display name.
    pub account_name: String,
    /// False for test mode.
    pub livemode: bool,
    /// ISO currency, lower case.
    pub currency: String,
    /// This period, per [`LINES`].
    pub now: [Tally; 7],
    /// The period before, per [`LINES`].
    pub before: [Tally; 7],
    /// Received and failed amounts per local day, oldest first.
    pub days: Vec<Day>,
}

/// One day of the chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Day {
    /// The local date.
    pub date: NaiveDate,
    /// Received, minor units.
    pub received: i64,
    /// Failed, minor units.
    pub failed: i64,
}

/// A whole summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// `Daily summary` or `Weekly summary`.
    pub title: String,
    /// The period in words: `Nov 29, 09:00 – Nov 30, 09:00 Europe/Paris`.
    pub period: String,
    /// One group per account, mode and currency, with anything in either period.
    pub groups: Vec<Group>,
    /// Cases of the receiver that wait for a person.
    pub open_cases: i64,
}

impl Group {
    /// The group's key: account, mode, currency.
    pub fn key(&self) -> GroupKey {
        (self.account.clone(), self.livemode, self.currency.clone())
    }
}

/// Collects measures into groups: `rows[i]` are the lines of measure `i`
/// as (account, livemode, currency, count, amount).
pub fn groups_of(now: &[Vec<Line>], before: &[Vec<Line>]) -> Vec<Group> {
    let mut groups: BTreeMap<GroupKey, Group> = BTreeMap::new();
    for (period, lists) in [(0, now), (1, before)] {
        for (i, rows) in lists.iter().enumerate().take(LINES.len()) {
            for (account, livemode, currency, count, amount) in rows {
                let group = groups
                    .entry((account.clone(), *livemode, currency.clone()))
                    .or_insert_with(|| Group {
                        account: account.clone(),
                        account_name: account.clone(),
                        livemode: *livemode,
                        currency: currency.clone(),
                        ..Group::default()
                    });
                let tally = Tally {
                    count: *count,
                    amount: *amount,
                };
                if period == 0 {
                    group.now[i] = tally;
                } else {
                    group.before[i] = tally;
                }
            }
        }
    }
    // Live money first, then test mode; by account and currency.
    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.sort_by_key(|g| (!g.livemode, g.account.clone(), g.currency.clone()));
    groups
}

fn money(minor: i64, currency: &str) -> String {
    Money::new(minor, currency).map_or_else(|| format!("{minor} {currency}"), |m| m.to_string())
}

/// `▲ 12 %`, `▼ 3 %`, `= `, `new`: the change from the period before.
pub fn change(now: i64, before: i64) -> String {
    if before == 0 {
        return if now == 0 {
            "=".to_owned()
        } else {
            "new".to_owned()
        };
    }
    let percent = ((now - before) as f64 / before as f64 * 100.0).round() as i64;
    match percent {
        0 => "=".to_owned(),
        p if p > 0 => format!("▲ {p} %"),
        p => format!("▼ {} %", -p),
    }
}

/// The cards of a summary: one per group, or one that says nothing happened.
pub fn cards(summary: &Summary) -> Vec<Card> {
    if summary.groups.is_empty() {
        return vec![Card::note(
            format!("📊 {} · no payments", summary.title),
            Severity::Info,
            format!(
                "{}. No payment, refund or dispute in this period. Open cases: {}.",
                summary.period, summary.open_cases
            ),
            "stripe-chatops summary".to_owned(),
        )];
    }
    summary
        .groups
        .iter()
        .map(|group| {
            let currency = group.currency.to_uppercase();
            let mut fields: Vec<Field> = LINES
                .iter()
                .enumerate()
                .map(|(i, label)| {
                    let (now, before) = (group.now[i], group.before[i]);
                    let value = if i >= 4 {
                        // Disputes: how many matters more than how much.
                        format!(
                            "{} · {} ({} before: {})",
                            now.count,
                            money(now.amount, &group.currency),
                            change(now.count, before.count),
                            before.count
                        )
                    } else {
                        format!(
                            "{} · {} ({} before: {})",
                            now.count,
                            money(now.amount, &group.currency),
                            change(now.amount, before.amount),
                            money(before.amount, &group.currency),
                        )
                    };
                    Field {
                        label: (*label).to_owned(),
                        value,
                    }
                })
                .collect();
            fields.push(Field {
                label: "Open cases".to_owned(),
                value: summary.open_cases.to_string(),
            });
            let received = group.now[0];
            let mut badges = Vec::new();
            if !group.livemode {
                badges.push("TEST MODE".to_owned());
            }
            if group.account != crate::event::DEFAULT_ACCOUNT {
                badges.push(group.account_name.clone());
            }
            let failed = group.now[1];
            Card {
                title: format!(
                    "📊 {} · {currency} · {} received",
                    summary.title,
                    money(received.amount, &group.currency)
                ),
                severity: if failed.count > 0 {
                    Severity::Warning
                } else {
                    Severity::Success
                },
                summary: Some(format!(
                    "{}. Compared with the period before.",
                    summary.period
                )),
                badges,
                fields,
                links: Vec::new(),
                actions: Vec::new(),
                footer: "stripe-chatops summary".to_owned(),
            }
        })
        .collect()
}

/// The summary as plain text, for `stripe-chatops summary`.
pub fn text(summary: &Summary) -> String {
    let mut out = format!("{} — {}\n", summary.title, summary.period);
    if summary.groups.is_empty() {
        out.push_str("  no payment, refund or dispute in this period\n");
    }
    for group in &summary.groups {
        let mode = if group.livemode { "live" } else { "test mode" };
        out.push_str(&format!(
            "\n{} · {mode} · {}\n",
            group.account_name,
            group.currency.to_uppercase()
        ));
        for (i, label) in LINES.iter().enumerate() {
            let (now, before) = (group.now[i], group.before[i]);
            out.push_str(&format!(
                "  {label:<26}{:>6}  {:>22}   before: {:>6}  {:>22}\n",
                now.count,
                money(now.amount, &group.currency),
                before.count,
                money(before.amount, &group.currency),
            ));
        }
    }
    out.push_str(&format!("\nOpen cases: {}\n", summary.open_cases));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_as_arrows() {
        assert_eq!(change(112, 100), "▲ 12 %");
        assert_eq!(change(97, 100), "▼ 3 %");
        assert_eq!(change(5, 0), "new");
        assert_eq!(change(0, 0), "=");
        assert_eq!(change(100, 100), "=");
    }

    #[test]
    fn groups_put_live_money_first_and_keep_both_periods() {
        let now = vec![
            vec![
                ("default".to_owned(), false, "eur".to_owned(), 2, 5_000),
                ("default".to_owned(), true, "usd".to_owned(), 1, 1_000),
            ],
            vec![("default".to_owned(), true, "usd".to_owned(), 1, 300)],
        ];
        let before = vec![vec![("default".to_owned(), true, "usd".to_owned(), 4, 800)]];
        let groups = groups_of(&now, &before);
        assert_eq!(groups.len(), 2);
        assert!(groups[0].livemode);
        assert_eq!(
            groups[0].now[0],
            Tally {
                count: 1,
                amount: 1_000
            }
        );
        assert_eq!(
            groups[0].now[1],
            Tally {
                count: 1,
                amount: 300
            }
        );
        assert_eq!(
            groups[0].before[0],
            Tally {
                count: 4,
                amount: 800
            }
        );
        let summary = Summary {
            title: "Daily summary".to_owned(),
            period: "Nov 29".to_owned(),
            groups,
            open_cases: 3,
        };
        let cards = cards(&summary);
        assert_eq!(
            cards[0].title,
            "📊 Daily summary · USD · $10.00 USD received"
        );
        assert_eq!(
            cards[0].fields[0].value,
            "1 · $10.00 USD (▲ 25 % before: $8.00 USD)"
        );
        assert_eq!(cards[1].badges, ["TEST MODE"]);
        assert_eq!(cards[0].fields.last().unwrap().value, "3");
    }
}
