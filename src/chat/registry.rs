//! The registry of platforms: for each [`Platform`], how its adapter is
//! built from `bot.toml` and how a card becomes its payload. Adding a
//! platform adds one line to each `match` here.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::Chat;
use super::{console, discord, slack, telegram, webhook};
use crate::config::{Config, Destination};
use crate::platform::Platform;
use crate::render::Card;

/// The payload of `card` for `platform`; the console payload is a JSON string.
pub fn render(platform: Platform, card: &Card) -> Value {
    match platform {
        Platform::Slack => slack::render::render(card),
        Platform::Discord => discord::render::render(card),
        Platform::Telegram => telegram::render::render(card),
        Platform::Console | Platform::Webhook => Value::String(console::render(card)),
    }
}

/// Calls on `mention` at the top of a rendered payload, written as the
/// platform writes a mention (Slack `<!subteam^S1>` or `<@U1>`, Discord
/// `<@&ROLE>`, Telegram `@username`). It comes from `bot.toml`, not from
/// Stripe, so it is passed through where cards' own text is escaped;
/// elsewhere it is plain text.
pub fn with_mention(platform: Platform, payload: &mut Value, mention: &str) {
    match platform {
        Platform::Slack => {
            let block = serde_json::json!({
                "type": "section",
                "text": { "type": "mrkdwn", "text": mention },
            });
            if let Some(blocks) = payload.get_mut("blocks").and_then(Value::as_array_mut) {
                blocks.insert(0, block);
            }
            let text = payload["text"].as_str().unwrap_or_default().to_owned();
            payload["text"] = format!("{mention} {text}").into();
        }
        Platform::Discord => {
            payload["content"] = mention.into();
        }
        Platform::Telegram => {
            let text = payload["text"].as_str().unwrap_or_default().to_owned();
            payload["text"] =
                format!("{}\n{text}", crate::render::text::escape_html(mention)).into();
        }
        Platform::Console | Platform::Webhook => {
            if let Value::String(text) = payload {
                *text = format!("{mention}\n{text}");
            }
        }
    }
}

/// The adapter of a platform, when `bot.toml` configures it.
fn adapter(
    platform: Platform,
    config: &Config,
    console: &console::Console,
) -> anyhow::Result<Option<Arc<dyn Chat>>> {
    Ok(match platform {
        Platform::Slack => slack::Slack::from_config(&config.slack)?.map(arc),
        Platform::Discord => discord::Discord::from_config(&config.discord).map(arc),
        Platform::Telegram => telegram::Telegram::from_config(&config.telegram)?.map(arc),
        Platform::Console => Some(arc(console.clone())),
        Platform::Webhook => Some(arc(webhook::Webhook::new())),
    })
}

fn arc(chat: impl Chat + 'static) -> Arc<dyn Chat> {
    Arc::new(chat)
}

/// The adapters of the configured platforms.
pub struct Chats {
    adapters: BTreeMap<Platform, Arc<dyn Chat>>,
}

impl Chats {
    /// An adapter for each platform that has credentials; console cards go to `console`.
    pub fn from_config(config: &Config, console: console::Console) -> anyhow::Result<Self> {
        let mut adapters = BTreeMap::new();
        for platform in Platform::ALL {
            if let Some(chat) = adapter(platform, config, &console)? {
                adapters.insert(platform, chat);
            }
        }
        Ok(Self { adapters })
    }

    /// The adapter of a platform, if it is configured.
    pub fn get(&self, platform: Platform) -> Option<&Arc<dyn Chat>> {
        self.adapters.get(&platform)
    }

    /// The adapter of a destination, if its platform is configured.
    pub fn for_destination(&self, destination: &Destination) -> Option<&Arc<dyn Chat>> {
        self.get(destination.platform())
    }
}
