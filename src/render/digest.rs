//! The digest card: what a folded backlog looks like in chat (pure; the
//! delivery worker feeds it the folded events page by page, and picks the
//! follow-up).
//!
//! It gives the count, the count per event type, the totals per kind of
//! money (payments, failures, refunds, disputes, payouts, never one sum of
//! all) and per currency, and the largest items (customer redacted by the
//! receiver's policy, each linked to its Dashboard page). Nothing is
//! dropped: in Slack, Discord and Telegram every folded card follows in the
//! digest's thread (or as replies to it); a chat without threads (a Slack
//! incoming webhook, a generic webhook) gets every event listed, a page of
//! [`PAGE_LINES`] per message ([`page_card`]).

use std::collections::BTreeMap;

use super::card::{Card, Field, Link, Severity};
use crate::event::EventView;
use crate::event::links::DASHBOARD;
use crate::event::money::Money;
use crate::redact::RedactionPolicy;

/// How the folded cards stay reachable from the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followup {
    /// Every card follows in the digest's thread (Slack, Discord, Telegram).
    Thread,
    /// Every event is listed in pages that follow the digest (chats without threads).
    Listed,
}

/// Events listed per page of a digest on a chat without threads.
pub const PAGE_LINES: usize = 20;

/// What money an event moves, for the digest's totals: never one sum of
/// payments, failures and refunds together.
pub fn money_kind(view: &EventView) -> &'static str {
    let t = view.event_type.as_str();
    if t.starts_with("charge.dispute.") {
        "disputed"
    } else if t.starts_with("payout.") {
        "payouts"
    } else if t.contains("refund") {
        "refunded"
    } else if t.contains("failed") || t.contains("action_required") {
        "failed"
    } else if t.ends_with(".paid") || t.ends_with(".succeeded") || t.ends_with(".completed") {
        "paid"
    } else {
        "other"
    }
}

/// One of the largest items, kept while the digest is summed up.
#[derive(Debug, Clone)]
struct Item {
    size: i64,
    link: Link,
}

/// The digest of a folded backlog, summed up one event at a time, so that
/// a digest of any size needs memory for its totals and its largest items
/// only, never for every event at once.
#[derive(Debug)]
pub struct Digest<'a> {
    policy: &'a RedactionPolicy,
    top_items: usize,
    count: u64,
    by_type: BTreeMap<String, u64>,
    totals: BTreeMap<(&'static str, String), i64>,
    severity: Severity,
    largest: Vec<Item>,
    created: Option<(i64, i64)>,
    live: Option<bool>,
}

impl<'a> Digest<'a> {
    /// An empty digest listing the `top_items` largest items, customers as `policy` allows.
    pub fn new(policy: &'a RedactionPolicy, top_items: usize) -> Self {
        Self {
            policy,
            top_items,
            count: 0,
            by_type: BTreeMap::new(),
            totals: BTreeMap::new(),
            severity: Severity::Info,
            largest: Vec::new(),
            created: None,
            live: None,
        }
    }

    /// Adds one folded event.
    pub fn add(&mut self, view: &EventView) {
        self.count += 1;
        *self.by_type.entry(view.event_type.clone()).or_default() += 1;
        if let Some(amount) = &view.amount {
            let total = self
                .totals
                .entry((money_kind(view), amount.currency.to_lowercase()))
                .or_default();
            *total = total.saturating_add(amount.minor);
        }
        let this = severity_hint(&view.event_type);
        if rank(this) > rank(self.severity) {
            self.severity = this;
        }
        self.created = Some(match self.created {
            Some((first, last)) => (first.min(view.created), last.max(view.created)),
            None => (view.created, view.created),
        });
        self.live.get_or_insert(view.livemode);
        self.consider(view);
    }

    /// Keeps `view` among the largest items if it is one of them.
    fn consider(&mut self, view: &EventView) {
        let Some(amount) = &view.amount else {
            return;
        };
        let size = amount.minor.saturating_abs();
        let full = self.largest.len() >= self.top_items;
        if self.top_items == 0 || (full && self.largest.last().is_some_and(|l| l.size >= size)) {
            return;
        }
        let Some(url) = view
            .dashboard_url
            .clone()
            .or_else(|| view.event_url.clone())
        else {
            return;
        };
        let who = who(view, self.policy);
        let item = Item {
            size,
            link: Link {
                label: format!("{} · {}{who}", amount.display, view.event_type),
                url,
            },
        };
        // Stable: among equal amounts the earlier event stays first.
        let at = self.largest.partition_point(|l| l.size >= size);
        self.largest.insert(at, item);
        self.largest.truncate(self.top_items);
    }

    /// The digest card, which a budget of `pace` could not deliver one by
    /// one within the folding horizon.
    pub fn card(self, digest_id: i64, pace: &str, followup: Followup) -> Card {
        let mut types: Vec<(&String, &u64)> = self.by_type.iter().collect();
        types.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let types_text = types
            .iter()
            .take(8)
            .map(|(t, n)| format!("{t} × {}", group(**n)))
            .chain((types.len() > 8).then(|| format!("and {} more types", types.len() - 8)))
            .collect::<Vec<_>>()
            .join("\n");
        let mut totals: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for ((kind, currency), minor) in &self.totals {
            if let Some(money) = Money::new(*minor, currency) {
                totals.entry(kind).or_default().push(money.to_string());
            }
        }
        let mut links: Vec<Link> = self.largest.into_iter().map(|item| item.link).collect();
        let live = self.live.unwrap_or(false);
        links.push(Link {
            label: "All events in Stripe".to_owned(),
            url: format!("{DASHBOARD}{}/events", if live { "" } else { "/test" }),
        });
        let count = self.count;
        let followup_text = match followup {
            Followup::Thread => "Each card follows in this thread.",
            Followup::Listed => "Every event is listed in the messages that follow.",
        };
        let mut fields = vec![Field {
            label: "Events".to_owned(),
            value: types_text,
        }];
        for kind in ["paid", "failed", "refunded", "disputed", "payouts", "other"] {
            if let Some(amounts) = totals.get(kind) {
                fields.push(Field {
                    label: format!("Total {kind}"),
                    value: amounts.join("\n"),
                });
            }
        }
        if let Some((first, last)) = self.created {
            fields.push(Field {
                label: "Created".to_owned(),
                value: span(first, last),
            });
        }
        Card {
            title: format!("📦 Digest: {} events", group(count)),
            severity: self.severity,
            summary: Some(format!(
                "{} events arrived faster than this channel accepts messages ({pace}), so they are folded into this digest. {followup_text}",
                group(count)
            )),
            badges: vec!["digest".to_owned()],
            fields,
            links,
            actions: Vec::new(),
            footer: format!("stripe-chatops digest #{digest_id}"),
        }
    }
}

/// The digest card of `views` at once (a [`Digest`] fed each of them).
pub fn card(
    digest_id: i64,
    views: &[EventView],
    policy: &RedactionPolicy,
    top_items: usize,
    pace: &str,
    followup: Followup,
) -> Card {
    let mut digest = Digest::new(policy, top_items);
    for view in views {
        digest.add(view);
    }
    digest.card(digest_id, pace, followup)
}

/// One line of a digest's list: the event, its amount, who (as the policy
/// allows) and where to open it.
pub fn line(view: &EventView, policy: &RedactionPolicy) -> String {
    let amount = view
        .amount
        .as_ref()
        .map_or(String::new(), |a| format!(" · {}", a.display));
    let url = view
        .dashboard_url
        .as_deref()
        .or(view.event_url.as_deref())
        .map_or(String::new(), |u| format!(" · {u}"));
    format!(
        "{} · {}{amount}{}{url}",
        view.id,
        view.event_type,
        who(view, policy)
    )
}

/// Page `page` of `pages` of a digest's list, with its lines.
pub fn page_card(digest_id: i64, page: usize, pages: usize, lines: &[String]) -> Card {
    Card {
        title: format!("📦 Digest #{digest_id} · events, page {page} of {pages}"),
        severity: Severity::Info,
        summary: Some(lines.join("\n")),
        badges: vec!["digest".to_owned()],
        fields: Vec::new(),
        links: Vec::new(),
        actions: Vec::new(),
        footer: format!("stripe-chatops digest #{digest_id}"),
    }
}

/// The colour a digest takes from what it holds: the worst of its events.
fn severity_hint(event_type: &str) -> Severity {
    if event_type.starts_with("charge.dispute.")
        || event_type.starts_with("radar.")
        || event_type == "payout.failed"
    {
        Severity::Critical
    } else if event_type.contains("failed")
        || event_type.contains("action_required")
        || event_type.ends_with(".deleted")
    {
        Severity::Warning
    } else {
        Severity::Info
    }
}

fn rank(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 0,
        Severity::Success => 1,
        Severity::Warning => 2,
        Severity::Critical => 3,
    }
}

/// ` · J. D.` or nothing, as the policy allows.
fn who(view: &EventView, policy: &RedactionPolicy) -> String {
    let name = view.customer.name.as_deref().and_then(|n| policy.name(n));
    let email = view.customer.email.as_deref().and_then(|e| policy.email(e));
    match name.or(email) {
        Some(who) => format!(" · {who}"),
        None => String::new(),
    }
}

/// `12,345`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `2026-11-24 14:02–14:05 UTC`.
fn span(first: i64, last: i64) -> String {
    use chrono::{DateTime, Utc};
    let at = |t: i64| DateTime::<Utc>::from_timestamp(t, 0).unwrap_or_default();
    let (a, b) = (at(first), at(last));
    if a.date_naive() == b.date_naive() {
        format!("{}–{} UTC", a.format("%Y-%m-%d %H:%M"), b.format("%H:%M"))
    } else {
        format!(
            "{} – {} UTC",
            a.format("%Y-%m-%d %H:%M"),
            b.format("%Y-%m-%d %H:%M")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(n: i64) -> EventView {
        EventView::parse(
            &serde_json::json!({
                "id": format!("evt_{n}"), "type": "charge.succeeded", "created": 1_700_000_000 + n,
                "livemode": false,
                "data": { "object": { "object": "charge", "id": format!("ch_{n}"), "amount": n * 100, "currency": "usd" } }
            }),
            "default",
        )
        .unwrap()
    }

    #[test]
    fn totals_are_per_kind_and_currency() {
        let policy = RedactionPolicy::default();
        let mut digest = Digest::new(&policy, 3);
        digest.add(&view(1));
        let mut failed = view(2);
        failed.event_type = "charge.failed".to_owned();
        digest.add(&failed);
        let card = digest.card(1, "1/s", Followup::Thread);
        let labels: Vec<&str> = card.fields.iter().map(|f| f.label.as_str()).collect();
        assert!(
            labels.contains(&"Total paid") && labels.contains(&"Total failed"),
            "{labels:?}"
        );
        assert!(!labels.contains(&"Total"), "never one sum of all");
    }

    #[test]
    fn a_digest_sums_everything_and_keeps_only_the_largest_items() {
        let policy = RedactionPolicy::default();
        let mut digest = Digest::new(&policy, 3);
        for n in 1..=1000 {
            digest.add(&view(n));
        }
        assert_eq!(digest.largest.len(), 3, "memory for the top items only");
        let card = digest.card(7, "1/s", Followup::Listed);
        assert_eq!(card.title, "📦 Digest: 1,000 events");
        // 100 + 200 + … + 100,000 cents = $500,500.00.
        assert!(
            card.fields[1].value.contains("500,500.00"),
            "{:?}",
            card.fields
        );
        let labels: Vec<&str> = card.links.iter().map(|l| l.label.as_str()).collect();
        assert!(labels[0].starts_with("$1,000.00"), "{labels:?}");
        assert!(labels[2].starts_with("$998.00"), "{labels:?}");
        assert_eq!(
            labels.len(),
            4,
            "three items and the Dashboard's event list"
        );
    }
}
