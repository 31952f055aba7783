//! `render` and `simulate`: what a platform would receive for an event
//! file, and which receivers it reaches and why, without a server.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::config::{Config, Destination};
use crate::event::EventView;
use crate::platform::Platform;
use crate::render::Templates;

pub(super) fn render(
    config: &Config,
    file: &Path,
    platform: Platform,
    receiver: Option<&str>,
    account: &str,
) -> anyhow::Result<()> {
    if config.endpoint(account).is_none() {
        bail!("no account {account:?} in the config");
    }
    let event = read_json(file)?;
    let view = EventView::parse(&event, account)?;
    let receiver = match receiver {
        Some(name) => Some(
            config
                .receivers
                .get(name)
                .with_context(|| format!("no receiver {name:?} in the config"))?,
        ),
        None => None,
    };
    let templates = Templates::new(config.templates_dir.clone());
    // The same function the delivery worker renders with.
    let card = config.card_for(&templates, &view, receiver)?;
    let mut payload = crate::chat::render(platform, &card);
    match (platform, receiver.map(|r| &r.destination)) {
        (Platform::Console | Platform::Webhook, _) => {
            print!("{}", payload.as_str().unwrap_or_default());
            return Ok(());
        }
        (Platform::Slack, Some(Destination::Slack(target))) => {
            payload["channel"] = target.channel.clone().into()
        }
        (Platform::Telegram, Some(Destination::Telegram(target))) => {
            if let Some(chat) = target.chat_id {
                payload["chat_id"] = chat.into();
            }
            if let Some(thread) = target.message_thread_id {
                payload["message_thread_id"] = thread.into();
            }
        }
        _ => {}
    }
    println!("{}", serde_json::to_string_pretty(&payload)?);
    Ok(())
}

/// A JSON file, with its name in the error when it cannot be read or parsed.
fn read_json(file: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))
}

pub(super) fn simulate(
    config: &Config,
    files: &[PathBuf],
    account: &str,
    json: bool,
) -> anyhow::Result<()> {
    if config.endpoint(account).is_none() {
        bail!("no account {account:?} in the config");
    }
    for file in files {
        let events = match read_json(file)? {
            serde_json::Value::Array(events) => events,
            event => vec![event],
        };
        for event in events {
            let view = EventView::parse(&event, account)
                .with_context(|| format!("in {}", file.display()))?;
            let matches = config.router.route(&view);
            if json {
                let line = serde_json::json!({
                    "file": file.display().to_string(),
                    "id": view.id,
                    "type": view.event_type,
                    "receivers": matches,
                });
                println!("{line}");
                continue;
            }
            let amount = view
                .amount
                .as_ref()
                .map(|a| format!("{}, ", a.display))
                .unwrap_or_default();
            let mode = if view.livemode { "live" } else { "test" };
            println!(
                "{} {} ({amount}{mode}, account {account})",
                view.id, view.event_type
            );
            for found in matches {
                let destination = config
                    .receivers
                    .get(&found.receiver)
                    .map(|r| r.destination.describe())
                    .unwrap_or_default();
                println!("  → {} ({destination}) via {}", found.receiver, found.route);
            }
        }
    }
    Ok(())
}
