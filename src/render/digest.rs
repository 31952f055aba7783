//! The digest card: what a folded backlog looks like in chat (pure; the
//! delivery worker reads the folded events and picks the follow-up).
//!
//! It gives the count, the count per event type, the total per currency and
//! the largest items (customer redacted by the receiver's policy, each
//! linked to its Dashboard page). Nothing is dropped: in Slack the folded
//! cards follow in the digest's thread; elsewhere the digest links the top
//! items and the Dashboard's event list, and every event stays in the store.

use std::collections::BTreeMap;

use super::card::{Card, Field, Link, Severity};
use crate::event::EventView;
use crate::event::links::DASHBOARD;
use crate::event::money::Money;
use crate::redact::RedactionPolicy;

/// How the folded cards stay reachable from the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followup {
    /// Every card follows in the digest's thread (Slack).
    Thread,
    /// The digest links them.
    Links,
}

/// Builds the digest card of the folded events (their views), which a
/// budget of `pace` could not deliver one by one within the folding horizon.
pub fn card(
    digest_id: i64,
    views: &[EventView],
    policy: &RedactionPolicy,
    top_items: usize,
    pace: &str,
    followup: Followup,
) -> Card {
    let mut by_type: BTreeMap<&str, u64> = BTreeMap::new();
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    let mut severity = Severity::Info;
    for view in views {
        *by_type.entry(view.event_type.as_str()).or_default() += 1;
        if let Some(amount) = &view.amount {
            let total = totals.entry(amount.currency.to_lowercase()).or_default();
            *total = total.saturating_add(amount.minor);
        }
        let this = severity_hint(&view.event_type);
        if rank(this) > rank(severity) {
            severity = this;
        }
    }
    let mut types: Vec<(&str, u64)> = by_type.into_iter().collect();
    types.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let types_text = types
        .iter()
        .take(8)
        .map(|(t, n)| format!("{t} × {}", group(*n)))
        .chain((types.len() > 8).then(|| format!("and {} more types", types.len() - 8)))
        .collect::<Vec<_>>()
        .join("\n");
    let totals_text = totals
        .iter()
        .filter_map(|(currency, minor)| Money::new(*minor, currency).map(|m| m.to_string()))
        .collect::<Vec<_>>()
        .join("\n");

    let mut largest: Vec<&EventView> = views.iter().filter(|v| v.amount.is_some()).collect();
    largest.sort_by_key(|v| std::cmp::Reverse(v.amount.as_ref().map_or(0, |a| a.minor.abs())));
    let mut links: Vec<Link> = largest
        .iter()
        .take(top_items)
        .filter_map(|view| {
            let url = view
                .dashboard_url
                .clone()
                .or_else(|| view.event_url.clone())?;
            let amount = view.amount.as_ref().map_or("", |a| a.display.as_str());
            let who = who(view, policy);
            Some(Link {
                label: format!("{amount} · {}{who}", view.event_type),
                url,
            })
        })
        .collect();
    let live = views.first().is_some_and(|v| v.livemode);
    links.push(Link {
        label: "All events in Stripe".to_owned(),
        url: format!("{DASHBOARD}{}/events", if live { "" } else { "/test" }),
    });

    let count = views.len() as u64;
    let followup_text = match followup {
        Followup::Thread => "Each card follows in this thread.",
        Followup::Links => {
            "The largest are linked below; every event is kept and listed by `stripe-chatops events list`."
        }
    };
    let mut fields = vec![Field {
        label: "Events".to_owned(),
        value: types_text,
    }];
    if !totals_text.is_empty() {
        fields.push(Field {
            label: "Total".to_owned(),
            value: totals_text,
        });
    }
    if let (Some(first), Some(last)) = (
        views.iter().map(|v| v.created).min(),
        views.iter().map(|v| v.created).max(),
    ) {
        fields.push(Field {
            label: "Created".to_owned(),
            value: span(first, last),
        });
    }
    Card {
        title: format!("📦 Digest: {} events", group(count)),
        severity,
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
