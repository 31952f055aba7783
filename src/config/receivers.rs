//! `[[receivers]]`: the named destinations routes deliver to, one platform
//! each, and their validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::KeyPath;
use crate::platform::Platform;
use crate::redact::RedactionPolicy;

pub use super::discord::DiscordTarget;
pub use super::slack::SlackTarget;
pub use super::telegram::TelegramTarget;

/// One `[[receivers]]` entry: a named destination.
#[derive(Debug, Clone, Deserialize)]

pub struct ReceiverFile {
    /// The name routes refer to.
    pub name: String,
    /// `slack = { channel = "C0123…" }`.
    pub slack: Option<SlackTarget>,
    /// `discord = { channel_id = "1234…" }`.
    pub discord: Option<DiscordTarget>,
    /// `telegram = { chat_id = -100… }` or `telegram = { subscribers = "TOPIC" }`.
    pub telegram: Option<TelegramTarget>,
    /// `console = {}`: print to standard output.
    pub console: Option<ConsoleTarget>,
    /// `webhook = { url = "https://…" }`: POST the card as JSON.
    pub webhook: Option<WebhookTarget>,
    /// This receiver's redaction policy; defaults to `[redaction]`.
    pub redaction: Option<RedactionPolicy>,
    /// A folder of templates that override the built-in ones for this receiver.
    pub templates: Option<std::path::PathBuf>,
}

/// Standard output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]

pub struct ConsoleTarget {}

/// A generic JSON webhook (Mattermost, Teams or Zulip bridges).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]

pub struct WebhookTarget {
    /// Where to POST.
    pub url: String,
}

/// Where a receiver delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    /// A Slack channel.
    Slack(SlackTarget),
    /// A Discord channel.
    Discord(DiscordTarget),
    /// A Telegram chat or topic subscribers.
    Telegram(TelegramTarget),
    /// Standard output.
    Console,
    /// A JSON webhook.
    Webhook(WebhookTarget),
}

impl Destination {
    /// The platform that delivers here.
    pub fn platform(&self) -> Platform {
        match self {
            Self::Slack(_) => Platform::Slack,
            Self::Discord(_) => Platform::Discord,
            Self::Telegram(_) => Platform::Telegram,
            Self::Console => Platform::Console,
            Self::Webhook(_) => Platform::Webhook,
        }
    }

    /// What the platform paces messages by (channel, chat, URL), and whether
    /// it is a group with a group limit of its own (Telegram groups). `None`
    /// when nothing paces it: standard output, and Telegram subscriber
    /// topics, which are paced per subscriber as they are fanned out.
    pub fn pace_key(&self) -> Option<(String, bool)> {
        match self {
            Self::Console => None,
            Self::Slack(t) => Some((t.channel.clone(), false)),
            Self::Discord(t) => Some((t.channel_id.clone(), false)),
            Self::Telegram(t) => t.chat_id.map(|chat| (chat.to_string(), chat < 0)),
            Self::Webhook(t) => Some((t.url.clone(), false)),
        }
    }

    /// The destination in a few words: `slack C0123`, `console`.
    pub fn describe(&self) -> String {
        match self {
            Self::Slack(target) => format!("slack {}", target.channel),
            Self::Discord(target) => format!("discord channel {}", target.channel_id),
            Self::Telegram(target) => match (&target.subscribers, target.chat_id) {
                (Some(topic), _) => format!("telegram subscribers of {topic:?}"),
                (None, Some(chat)) => format!("telegram chat {chat}"),
                (None, None) => "telegram".to_owned(),
            },
            Self::Console => "console".to_owned(),
            Self::Webhook(target) => format!("webhook {}", target.url),
        }
    }
}

/// A validated receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Receiver {
    /// Its name.
    pub name: String,
    /// Where it delivers.
    pub destination: Destination,
    /// What of a customer it may show.
    pub redaction: RedactionPolicy,
    /// Its template override folder.
    pub templates: Option<std::path::PathBuf>,
}

/// Validates `[[receivers]]`: one destination each, well-formed, names unique.
pub(super) fn validate_receivers(
    receivers: &[ReceiverFile],
    default_redaction: &RedactionPolicy,
    errors: &mut Vec<(KeyPath, String)>,
) -> BTreeMap<String, Receiver> {
    let mut validated = BTreeMap::new();
    for (index, receiver) in receivers.iter().enumerate() {
        let path = KeyPath::root().key("receivers").index(index);
        if receiver.name.trim().is_empty() {
            errors.push((path.key("name"), "a receiver needs a name".to_owned()));
            continue;
        }
        let destinations: Vec<Destination> = [
            receiver.slack.clone().map(Destination::Slack),
            receiver.discord.clone().map(Destination::Discord),
            receiver.telegram.clone().map(Destination::Telegram),
            receiver.console.as_ref().map(|_| Destination::Console),
            receiver.webhook.clone().map(Destination::Webhook),
        ]
        .into_iter()
        .flatten()
        .collect();
        let destination = match destinations.as_slice() {
            [one] => one.clone(),
            [] => {
                errors.push((
                    path.clone(),
                    format!(
                        "receiver {:?} needs one of slack, discord, telegram, console or webhook",
                        receiver.name
                    ),
                ));
                continue;
            }
            _ => {
                errors.push((
                    path.clone(),
                    format!(
                        "receiver {:?} has more than one destination; use one receiver each",
                        receiver.name
                    ),
                ));
                continue;
            }
        };
        match &destination {
            Destination::Telegram(target)
                if target.chat_id.is_some() == target.subscribers.is_some() =>
            {
                errors.push((
                    path.key("telegram"),
                    "give either chat_id or subscribers".to_owned(),
                ));
            }
            Destination::Discord(target)
                if target.channel_id.is_empty()
                    || !target.channel_id.bytes().all(|b| b.is_ascii_digit()) =>
            {
                errors.push((
                    path.key("discord").key("channel_id"),
                    "must be a Discord channel id (digits)".to_owned(),
                ));
            }
            Destination::Slack(target) if target.channel.trim().is_empty() => {
                errors.push((
                    path.key("slack").key("channel"),
                    "must not be empty".to_owned(),
                ));
            }
            Destination::Webhook(target)
                if !(target.url.starts_with("https://") || target.url.starts_with("http://")) =>
            {
                errors.push((
                    path.key("webhook").key("url"),
                    "must be an http:// or https:// URL".to_owned(),
                ));
            }
            _ => {}
        }
        let entry = Receiver {
            name: receiver.name.clone(),
            destination,
            redaction: receiver
                .redaction
                .clone()
                .unwrap_or_else(|| default_redaction.clone()),
            templates: receiver.templates.clone(),
        };
        if validated.insert(receiver.name.clone(), entry).is_some() {
            errors.push((
                path.key("name"),
                format!("receiver {:?} is defined twice", receiver.name),
            ));
        }
    }
    validated
}
