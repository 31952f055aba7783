//! `schedule list` and `summary`: what is due next on the clock, and a
//! summary of any period printed (and its chart written) for a preview;
//! `payments list`: the payment requests made from chat and where they stand.

use std::path::Path;

use super::cases::at;
use crate::config::Config;
use crate::delivery::summary;
use crate::render::{chart, summary as summary_cards};
use crate::store::{self, now_ms};

/// `schedule list`: the pending jobs by due time (or every job, `all`).
pub(super) async fn list(config: &Config, all: bool, limit: u32, json: bool) -> anyhow::Result<()> {
    let store = store::open(&config.storage.url, 1).await?;
    let jobs = store.jobs(all, limit).await?;
    if jobs.is_empty() && !json {
        println!("nothing scheduled{}", if all { "" } else { " (pending)" });
    }
    let now = now_ms();
    for job in jobs {
        if json {
            let mut line = serde_json::to_value(&job)?;
            line["due_at"] = at(Some(job.job.due_at_ms)).into();
            line["overdue"] = (job.status == "pending" && job.job.due_at_ms < now).into();
            println!("{line}");
        } else {
            let when = if job.status == "pending" && job.job.due_at_ms < now {
                format!("{} (overdue)", at(Some(job.job.due_at_ms)))
            } else {
                at(Some(job.job.due_at_ms))
            };
            println!(
                "{when}  {:<9} {:<16} {:<12} {:<30} {}{}",
                job.status,
                job.job.kind.name(),
                job.job.receiver,
                job.job.case_key.as_deref().unwrap_or("-"),
                job.job.detail,
                job.outcome
                    .as_deref()
                    .map(|o| format!(" — {o}"))
                    .unwrap_or_default(),
            );
        }
    }
    Ok(())
}

/// `payments list`: the newest payment requests, newest first. The
/// customer is shown as the default redaction shows it.
pub(super) async fn payments(config: &Config, limit: u32, json: bool) -> anyhow::Result<()> {
    let store = store::open(&config.storage.url, 1).await?;
    let requests = store.payment_requests(limit).await?;
    if requests.is_empty() && !json {
        println!("no payment requests");
    }
    for mut request in requests {
        request.customer = request.customer.as_deref().map(|customer| {
            if customer.contains('@') {
                config
                    .redaction
                    .email(customer)
                    .unwrap_or_else(|| "[hidden]".to_owned())
            } else {
                customer.to_owned()
            }
        });
        if json {
            let mut line = serde_json::to_value(&request)?;
            line["created_at"] = at(Some(request.created_at_ms)).into();
            println!("{line}");
        } else {
            println!(
                "{}  {:<14} {:<10} {:<22} {:<24} {:<12} links {}  {}{}",
                at(Some(request.created_at_ms)),
                request.status,
                request.asker_name,
                crate::event::money::Money::new(request.amount_minor, &request.currency)
                    .map_or_else(|| request.amount_minor.to_string(), |m| m.to_string()),
                request.description.chars().take(24).collect::<String>(),
                request.receiver,
                request.links,
                request.session_id.as_deref().unwrap_or("-"),
                request
                    .outcome
                    .as_deref()
                    .map(|o| format!(" — {o}"))
                    .unwrap_or_default(),
            );
        }
    }
    Ok(())
}

/// `summary`: the summary a receiver would get for the last `days` whole
/// days (in the time zone of its `[[summaries]]` entry, else UTC); with
/// `png`, its first chart written there.
pub(super) async fn print(
    config: &Config,
    receiver: &str,
    days: u32,
    png: Option<&Path>,
    json: bool,
) -> anyhow::Result<()> {
    if !config.receivers.contains_key(receiver) {
        anyhow::bail!("no receiver {receiver:?} in the config");
    }
    let timezone = config
        .schedule
        .summaries
        .iter()
        .find(|s| s.receiver == receiver)
        .map_or(chrono_tz::Tz::UTC, |s| s.timezone);
    let store = store::open(&config.storage.url, 1).await?;
    let bounds = summary::period_bounds(timezone, now_ms(), days);
    let title = match days {
        1 => "Daily summary".to_owned(),
        7 => "Weekly summary".to_owned(),
        n => format!("Summary of {n} days"),
    };
    let numbers =
        summary::compute(store.as_ref(), config, &title, receiver, bounds, timezone).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&numbers)?);
    } else {
        print!("{}", summary_cards::text(&numbers));
    }
    if let Some(path) = png {
        // The first group: live money first, then by account and currency.
        let Some(group) = numbers.groups.first() else {
            anyhow::bail!("no payment in this period: there is no chart to write");
        };
        let title = format!("{title} · {}", group.currency.to_uppercase());
        std::fs::write(path, chart::png(&title, group)?)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        eprintln!(
            "chart written to {} ({}×{} PNG)",
            path.display(),
            chart::WIDTH,
            chart::HEIGHT
        );
    }
    Ok(())
}

/// `7d` → 7: a period in whole days, 1 to 92.
pub(super) fn parse_days(text: &str) -> Result<u32, String> {
    let days = humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a period, e.g. \"7d\": {e}"))?
        .as_secs();
    if days % 86_400 != 0 || !(86_400..=92 * 86_400).contains(&days) {
        return Err(format!(
            "{text:?} must be whole days between 1d and 92d, e.g. \"7d\""
        ));
    }
    Ok((days / 86_400) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_whole_days() {
        assert_eq!(parse_days("7d"), Ok(7));
        assert_eq!(parse_days("1d"), Ok(1));
        assert!(parse_days("36h").is_err());
        assert!(parse_days("0d").is_err());
        assert!(parse_days("1y").is_err());
        assert!(parse_days("soon").is_err());
    }
}
