//! `cases list|show` and `silences add|list|expire`: the living cases and
//! the silences in the store, for people and scripts (`--json`).

use std::time::Duration;

use crate::config::Config;
use crate::routing::Matcher;
use crate::store::{self, NewSilence, now_ms};

/// Unix milliseconds as RFC 3339, or `-`.
pub(super) fn at(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(
            || "-".to_owned(),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
}

/// What a case is about, from its key's prefix.
fn kind_of(case_key: &str) -> &'static str {
    if case_key.starts_with("group:") {
        return "group";
    }
    match case_key.split('_').next().unwrap_or_default() {
        "in" => "invoice",
        "pi" | "ch" | "py" => "payment",
        "dp" | "du" => "dispute",
        "sub" => "subscription",
        "cs" => "checkout",
        "po" => "payout",
        "cus" => "customer",
        "issfr" => "fraud warning",
        _ => "object",
    }
}

/// `cases list`: the cases, most recently changed first.
pub(super) async fn list(
    config: &Config,
    open: bool,
    limit: u32,
    json: bool,
) -> anyhow::Result<()> {
    let store = store::open(&config.storage.url, 1).await?;
    let cases = store.list_cases(open, limit).await?;
    if cases.is_empty() && !json {
        println!("no cases{}", if open { " open" } else { "" });
    }
    for case in cases {
        let last = store
            .case_steps(&case.case_key)
            .await?
            .into_iter()
            .rev()
            .find(|s| s.receiver == case.receiver);
        if json {
            let mut line = serde_json::to_value(&case)?;
            line["kind"] = kind_of(&case.case_key).into();
            line["last_event"] = serde_json::to_value(&last)?;
            line["updated_at"] = at(Some(case.updated_at_ms)).into();
            line["message_ref"] = case
                .message_ref
                .as_deref()
                .and_then(|r| serde_json::from_str(r).ok())
                .unwrap_or_default();
            println!("{line}");
        } else {
            let mut status = match (&case.resolved_by, &case.acknowledged_by) {
                (Some(by), _) => format!("resolved by {by}"),
                (None, Some(by)) => format!("acknowledged by {by}"),
                (None, None) => "open".to_owned(),
            };
            if case.abandoned_at_ms.is_some() {
                status.push_str(", abandoned");
            }
            if let Some(to) = &case.assignee {
                status.push_str(&format!(", assigned to {to}"));
            }
            println!(
                "{}  {:<32} {:<13} {:<16} {:<12} {:<3} events  last {}  {}  {}",
                at(Some(case.updated_at_ms)),
                case.case_key,
                kind_of(&case.case_key),
                case.state,
                case.receiver,
                case.events,
                last.as_ref().map_or("-", |s| s.event_type.as_str()),
                status,
                case.message_ref.as_deref().unwrap_or("-"),
            );
        }
    }
    Ok(())
}

/// `cases show KEY`: the case's events in order, and what each did to its card.
pub(super) async fn show(config: &Config, key: &str, json: bool) -> anyhow::Result<()> {
    let store = store::open(&config.storage.url, 1).await?;
    let steps = store.case_steps(key).await?;
    if steps.is_empty() {
        anyhow::bail!("no case {key:?} (`stripe-chatops cases list` shows the keys)");
    }
    let jobs = store.jobs_of_case(key).await?;
    for step in steps {
        if json {
            println!("{}", serde_json::to_value(&step)?);
        } else {
            let created = chrono::DateTime::from_timestamp(step.created, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            println!(
                "{created}  {:<12} {:<36} {:<30} {:<9} {}",
                step.receiver,
                step.event_type,
                step.event_id,
                step.status,
                step.change.as_deref().unwrap_or("-"),
            );
        }
    }
    // What the clock holds for it: reminders, follow-ups, an escalation.
    for job in jobs {
        if json {
            println!("{}", serde_json::to_value(&job)?);
        } else {
            println!(
                "{}  {:<12} {:<36} {:<30} {:<9} {}",
                at(Some(job.job.due_at_ms)),
                job.job.receiver,
                job.job.kind.name(),
                job.job.detail,
                job.status,
                job.outcome.as_deref().unwrap_or("-"),
            );
        }
    }
    Ok(())
}

/// `silences add`: checks the matchers, stores the silence, prints its id.
pub(super) async fn add_silence(
    config: &Config,
    matchers: &[String],
    duration: Duration,
    comment: &str,
) -> anyhow::Result<()> {
    if matchers.is_empty() {
        anyhow::bail!(
            "a silence needs at least one --matcher, e.g. --matcher 'type=customer.updated'"
        );
    }
    for matcher in matchers {
        Matcher::parse(matcher).map_err(|e| anyhow::anyhow!("--matcher {matcher:?}: {e}"))?;
    }
    if duration.is_zero() {
        anyhow::bail!("--for must be longer than zero, e.g. --for 2h");
    }
    let store = store::open(&config.storage.url, 1).await?;
    let now = now_ms();
    let who = std::env::var("USER").unwrap_or_else(|_| "cli".to_owned());
    let silence = NewSilence {
        matchers: matchers.to_vec(),
        comment: comment.to_owned(),
        created_by: format!("cli:{who}"),
        starts_at_ms: now,
        ends_at_ms: now.saturating_add(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)),
    };
    let id = store.add_silence(&silence).await?;
    println!(
        "silence {id}: {} until {}",
        matchers.join(", "),
        at(Some(silence.ends_at_ms))
    );
    Ok(())
}

/// `silences list`: the active silences (all with `--all`).
pub(super) async fn list_silences(config: &Config, all: bool, json: bool) -> anyhow::Result<()> {
    let store = store::open(&config.storage.url, 1).await?;
    let now = now_ms();
    let silences = store.silences(all, now).await?;
    if silences.is_empty() && !json {
        println!("no silences{}", if all { "" } else { " in force" });
    }
    for silence in silences {
        let state = if silence.is_active(now) {
            "active"
        } else if silence.expired_at_ms.is_some() {
            "expired"
        } else if silence.silence.starts_at_ms > now {
            "pending"
        } else {
            "ended"
        };
        if json {
            let mut line = serde_json::to_value(&silence)?;
            line["state"] = state.into();
            line["ends_at"] = at(Some(silence.silence.ends_at_ms)).into();
            println!("{line}");
        } else {
            println!(
                "{:<5} {:<8} until {}  {:<60} {} ({})",
                silence.id,
                state,
                at(Some(silence.silence.ends_at_ms)),
                silence.silence.matchers.join(", "),
                silence.silence.comment,
                silence.silence.created_by,
            );
        }
    }
    Ok(())
}

/// `silences expire ID`.
pub(super) async fn expire_silence(config: &Config, id: i64) -> anyhow::Result<()> {
    let store = store::open(&config.storage.url, 1).await?;
    if !store.expire_silence(id, now_ms()).await? {
        anyhow::bail!("no silence {id} in force (`stripe-chatops silences list --all` shows them)");
    }
    println!("silence {id} expired");
    Ok(())
}
