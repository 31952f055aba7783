//! The commands that read or change the store without a server:
//! `check-config`, `events list`, `dead-letters list|replay`, `audit list`,
//! `replay`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::DeadLettersCommand;
use crate::config::{self, Config, LoadError};
use crate::store;

pub(super) fn check_config(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(config) => {
            let accounts: Vec<String> = config
                .stripe
                .endpoints
                .values()
                .map(|e| {
                    format!(
                        "{} ({} secret{})",
                        e.account,
                        e.secrets.len(),
                        if e.secrets.len() == 1 { "" } else { "s" }
                    )
                })
                .collect();
            println!("{}: OK", path.display());
            println!("  listen:   {}", config.server.listen);
            println!("  storage:  {}", redacted_url(&config.storage.url));
            println!("  accounts: {}", accounts.join(", "));
            let receivers: Vec<String> = config
                .receivers
                .values()
                .map(|r| format!("{} ({})", r.name, r.destination.describe()))
                .collect();
            println!("  receivers: {}", receivers.join(", "));
            ExitCode::SUCCESS
        }
        Err(LoadError::Invalid { path, errors }) => {
            eprintln!(
                "{}: {} error{}",
                path.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            for error in errors {
                eprintln!("  {error}");
            }
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// A storage URL without its password, for printing.
pub(super) fn redacted_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => {
                    format!("{}{user}:[redacted]{}", &url[..scheme_end + 3], &url[at..])
                }
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub(super) async fn list_events(config: &Config, limit: u32, json: bool) -> anyhow::Result<()> {
    let store = store::open(&config.storage.url, 1).await?;
    let events = store.recent_events(limit).await?;
    for stored in events {
        let event = &stored.event;
        // Each receiver's delivery: a silenced event is shown as such, never hidden.
        let deliveries = store.deliveries_of(stored.seq).await?;
        let silenced = deliveries.iter().any(|d| d.status == "silenced");
        let received = chrono::DateTime::from_timestamp_millis(event.received_at_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        if json {
            let line = serde_json::json!({
                "seq": stored.seq,
                "id": event.event_id,
                "type": event.event_type,
                "livemode": event.livemode,
                "account": event.account,
                "connect_account": event.connect_account,
                "api_version": event.api_version,
                "created": event.created,
                "received_at": received,
                "routed": stored.routed_at_ms.is_some(),
                "silenced": silenced,
                "deliveries": deliveries
                    .iter()
                    .map(|d| serde_json::json!({ "receiver": d.receiver, "status": d.status }))
                    .collect::<Vec<_>>(),
            });
            println!("{line}");
        } else {
            println!(
                "{received}  {:<10} {:<4} {:<40} {}{}",
                event.account,
                if event.livemode { "live" } else { "test" },
                event.event_type,
                event.event_id,
                if silenced { "  silenced" } else { "" }
            );
        }
    }
    Ok(())
}

/// Parses `delivery:12`, `digest:3` or `12`.
pub(super) fn outbox_key(text: &str) -> anyhow::Result<store::OutboxKey> {
    let (kind, id) = text.split_once(':').unwrap_or(("delivery", text));
    let id: i64 = id
        .parse()
        .with_context(|| format!("{text:?} is not delivery:ID, digest:ID or an id"))?;
    match kind {
        "delivery" | "d" => Ok(store::OutboxKey::Delivery(id)),
        "digest" | "g" => Ok(store::OutboxKey::Digest(id)),
        _ => bail!("{text:?} is not delivery:ID, digest:ID or an id"),
    }
}

fn key_text(key: store::OutboxKey) -> String {
    match key {
        store::OutboxKey::Delivery(id) => format!("delivery:{id}"),
        store::OutboxKey::Digest(id) => format!("digest:{id}"),
    }
}

pub(super) async fn dead_letters(
    config: &Config,
    command: DeadLettersCommand,
) -> anyhow::Result<()> {
    let store = store::open(&config.storage.url, 1).await?;
    match command {
        DeadLettersCommand::List { limit, json } => {
            let dead = store.dead_letters(limit).await?;
            if dead.is_empty() && !json {
                println!("no dead letters");
            }
            for letter in dead {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "key": key_text(letter.key),
                            "receiver": letter.receiver,
                            "event_id": letter.event_id,
                            "event_type": letter.event_type,
                            "attempts": letter.attempts,
                            "last_error": letter.last_error,
                        })
                    );
                } else {
                    println!(
                        "{:<16} {:<16} {:<32} {:<28} tries={} {}",
                        key_text(letter.key),
                        letter.receiver,
                        letter.event_type.as_deref().unwrap_or("digest"),
                        letter.event_id.as_deref().unwrap_or("-"),
                        letter.attempts,
                        letter.last_error.as_deref().unwrap_or("")
                    );
                }
            }
        }
        DeadLettersCommand::Replay { keys, all } => {
            if keys.is_empty() && !all {
                bail!("name the dead letters to replay (see `dead-letters list`), or pass --all");
            }
            let keys = keys
                .iter()
                .map(|k| outbox_key(k))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let replayed = store.replay_dead(&keys).await?;
            println!(
                "{replayed} dead letter(s) queued again; a running server sends them within a second"
            );
        }
    }
    Ok(())
}

pub(super) async fn audit_list(config: &Config, limit: u32, json: bool) -> anyhow::Result<()> {
    let store = store::open(&config.storage.url, 1).await?;
    let entries = store.audit(limit).await?;
    if entries.is_empty() && !json {
        println!("the audit log is empty");
    }
    for entry in entries {
        let at = chrono::DateTime::from_timestamp_millis(entry.at_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        if json {
            let mut line = serde_json::to_value(&entry)?;
            line["at"] = at.into();
            println!("{line}");
        } else {
            println!(
                "{at}  {:<8} {:<14} {:<18} {:<30} {:<16} {}{}",
                entry.platform,
                entry.user_id,
                entry.action,
                entry.object_id.as_deref().unwrap_or("-"),
                entry.outcome,
                entry.detail.as_deref().unwrap_or(""),
                entry
                    .stripe_request_id
                    .map(|id| format!(" ({id})"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

pub(super) async fn replay(config: &Config, account: &str, event_id: &str) -> anyhow::Result<()> {
    let store = store::open(&config.storage.url, 1).await?;
    let Some(stored) = store.event(account, event_id).await? else {
        bail!("no event {event_id:?} stored for account {account:?} (see `events list`)");
    };
    store.reroute_event(stored.seq).await?;
    println!(
        "{event_id} ({}) queued for routing again; a running server routes and sends it within a second",
        stored.event.event_type
    );
    Ok(())
}

/// `catch-up`: one catch-up run per account, with its report.
pub(super) async fn catch_up(
    config: &Config,
    since: Option<&str>,
    account: Option<&str>,
) -> anyhow::Result<ExitCode> {
    use crate::catch_up::{CatchUp, Source, parse_since};
    let since = since
        .map(|text| parse_since(text, store::now_ms() / 1000))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let accounts: Vec<String> = match account {
        Some(name) => vec![name.to_owned()],
        None => config
            .stripe
            .keyed_accounts()
            .map(|e| e.account.clone())
            .collect(),
    };
    if accounts.is_empty() {
        anyhow::bail!("no account has an API key: set [stripe] api_key");
    }
    let store = store::open(&config.storage.url, 2).await?;
    let metrics = std::sync::Arc::new(crate::telemetry::Metrics::default());
    let catch_up = CatchUp::new(
        std::sync::Arc::new(crate::config::LiveConfig::new(config.clone(), "")),
        store,
        crate::stripe::api::StripeClient::new(&config.stripe),
        metrics,
        std::sync::Arc::new(tokio::sync::Notify::new()),
    );
    let mut failed = false;
    for account in accounts {
        match catch_up
            .run_account(&config.stripe, &account, since, Source::CatchUp)
            .await
        {
            Ok(report) => println!(
                "{}: {} events listed since {} ({} {}), {} new",
                report.account,
                report.listed,
                chrono::DateTime::from_timestamp(report.since, 0).map_or_else(
                    || report.since.to_string(),
                    |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
                ),
                report.pages,
                if report.pages == 1 { "page" } else { "pages" },
                report.new
            ),
            Err(error) => {
                failed = true;
                eprintln!(
                    "{account}: catch-up failed: {}",
                    crate::telemetry::chain(&error)
                );
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
