//! `[slack]`, `[discord]`, `[telegram]` and `[delivery]`: how cards reach
//! the chat platforms, how often, and what happens when a platform refuses.
//!
//! The defaults are the platforms' documented limits (see
//! `../shared/PLATFORMS.md`): Slack about one message a second per channel,
//! Telegram one a second per chat, twenty a minute per group and thirty a
//! second overall, Discord fifty requests a second per bot (serenity reads the
//! per-route buckets from the response headers on top of that).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{Environment, Errors, KeyPath, Secret, resolve_one_secret};

/// The real Slack Web API.
pub const SLACK_API_URL: &str = "https://slack.com/api";
/// The real Discord host; serenity appends `/api/v10/…`.
pub const DISCORD_API_URL: &str = "https://discord.com";
/// The real Telegram Bot API server.
pub const TELEGRAM_API_URL: &str = "https://api.telegram.org";

/// `[slack]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SlackFile {
    /// Bot token (`xoxb-…`) for `chat.postMessage` and `chat.update`.
    pub bot_token: Option<Secret>,
    /// Name of the environment variable holding the bot token.
    pub bot_token_env: Option<String>,
    /// File holding the bot token.
    pub bot_token_file: Option<PathBuf>,
    /// Notify-only mode: an app's incoming webhook URL, used when there is no bot token.
    pub incoming_webhook_url: Option<Secret>,
    /// Name of the environment variable holding the incoming webhook URL.
    pub incoming_webhook_url_env: Option<String>,
    /// File holding the incoming webhook URL.
    pub incoming_webhook_url_file: Option<PathBuf>,
    /// Web API base URL; default `https://slack.com/api`. For tests and proxies.
    pub api_base_url: Option<String>,
    /// Signing secret (Basic Information → App Credentials): verifies button clicks.
    pub signing_secret: Option<Secret>,
    /// Name of the environment variable holding the signing secret.
    pub signing_secret_env: Option<String>,
    /// File holding the signing secret.
    pub signing_secret_file: Option<PathBuf>,
    /// Socket Mode: an app-level token (`xapp-…`, scope `connections:write`);
    /// button clicks then arrive over a WebSocket, with no public URL.
    pub app_token: Option<Secret>,
    /// Name of the environment variable holding the app token.
    pub app_token_env: Option<String>,
    /// File holding the app token.
    pub app_token_file: Option<PathBuf>,
}

/// `[discord]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DiscordFile {
    /// Bot token.
    pub bot_token: Option<Secret>,
    /// Name of the environment variable holding the bot token.
    pub bot_token_env: Option<String>,
    /// File holding the bot token.
    pub bot_token_file: Option<PathBuf>,
    /// API host; default `https://discord.com` (requests go to `/api/v10/…` under it).
    pub api_base_url: Option<String>,
    /// The application's public key (hex, General Information): verifies
    /// `POST /interactions/discord` (Ed25519).
    pub public_key: Option<Secret>,
    /// Name of the environment variable holding the public key.
    pub public_key_env: Option<String>,
    /// File holding the public key.
    pub public_key_file: Option<PathBuf>,
    /// Receive button presses over the gateway (serenity) instead of the
    /// Interactions Endpoint URL: no public URL needed. Default false.
    pub gateway: bool,
}

/// `[telegram]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TelegramFile {
    /// Bot token from @BotFather.
    pub bot_token: Option<Secret>,
    /// Name of the environment variable holding the bot token.
    pub bot_token_env: Option<String>,
    /// File holding the bot token.
    pub bot_token_file: Option<PathBuf>,
    /// Bot API server; default `https://api.telegram.org`, or a self-hosted one.
    pub api_base_url: Option<String>,
    /// Webhook mode: the secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token`
    /// to `POST /telegram/webhook` (1–256 of `A-Z a-z 0-9 _ -`). Without it, the
    /// bot long-polls `getUpdates`.
    pub webhook_secret_token: Option<Secret>,
    /// Name of the environment variable holding the webhook secret token.
    pub webhook_secret_token_env: Option<String>,
    /// File holding the webhook secret token.
    pub webhook_secret_token_file: Option<PathBuf>,
    /// `[telegram.topics.NAME]`: what people may `/subscribe` a private chat to.
    pub topics: std::collections::BTreeMap<String, TopicFile>,
}

/// `[telegram.topics.NAME]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct TopicFile {
    /// One line shown by `/topics`.
    pub description: String,
    /// Telegram user ids allowed to subscribe; empty means nobody.
    pub allowed_users: Vec<i64>,
}

/// `[delivery]`.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct DeliveryFile {
    /// Waits between tries of a failed send; the last one repeats until `give_up_after`.
    pub retry_schedule: Vec<humantime_serde::Serde<Duration>>,
    /// After this long since its first try, a failing message becomes a dead letter.
    #[serde(with = "humantime_serde")]
    pub give_up_after: Duration,
    /// How long a process owns a destination's queue before another may take it over.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// Fold a destination's backlog into a digest when its budget cannot deliver it within this time.
    #[serde(with = "humantime_serde")]
    pub fold_after: Duration,
    /// How many of the largest items a digest lists.
    pub digest_top_items: usize,
    /// Slack budgets.
    pub slack: RatesFile,
    /// Discord budgets.
    pub discord: RatesFile,
    /// Telegram budgets.
    pub telegram: RatesFile,
    /// Generic webhook budgets.
    pub webhook: RatesFile,
}

impl Default for DeliveryFile {
    fn default() -> Self {
        Self {
            retry_schedule: DEFAULT_RETRY_SCHEDULE.map(Into::into).to_vec(),
            give_up_after: Duration::from_secs(24 * 3600),
            lease: Duration::from_secs(30),
            fold_after: Duration::from_secs(10),
            digest_top_items: 5,
            slack: RatesFile::default(),
            discord: RatesFile::default(),
            telegram: RatesFile::default(),
            webhook: RatesFile::default(),
        }
    }
}

/// Default `[delivery] retry_schedule`: quick at first, then every five minutes.
pub const DEFAULT_RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(15),
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(120),
    Duration::from_secs(300),
];

/// `[delivery.slack]` and its siblings: overrides of the default budgets.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RatesFile {
    /// Messages per destination (channel, chat), e.g. `"1/s"` or `"20/m"`.
    pub per_destination: Option<String>,
    /// Messages a destination may get at once before the pace applies.
    pub burst: Option<u32>,
    /// Messages per Telegram group or supergroup (negative chat id), e.g. `"20/m"`.
    pub per_group: Option<String>,
    /// Messages per second over all destinations of the platform.
    pub global: Option<String>,
}

/// A pace: `count` messages per `per`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// How many.
    pub count: u32,
    /// In how long.
    pub per: Duration,
}

impl Rate {
    /// `count` per second.
    pub const fn per_second(count: u32) -> Self {
        Self {
            count,
            per: Duration::from_secs(1),
        }
    }

    /// `count` per minute.
    pub const fn per_minute(count: u32) -> Self {
        Self {
            count,
            per: Duration::from_secs(60),
        }
    }

    /// Messages per second, as a float.
    pub fn per_sec(self) -> f64 {
        f64::from(self.count) / self.per.as_secs_f64()
    }

    /// Parses `"N/s"`, `"N/m"`, `"N/h"` or `"N/5s"` style text.
    pub fn parse(text: &str) -> Option<Self> {
        let (count, unit) = text.trim().split_once('/')?;
        let count: u32 = count.trim().parse().ok().filter(|c| *c > 0)?;
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            other => humantime::parse_duration(other).ok()?,
        };
        (!per.is_zero()).then_some(Self { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, humantime::format_duration(self.per))
    }
}

/// The budgets of one platform.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// Per destination.
    pub per_destination: Rate,
    /// Burst per destination.
    pub burst: u32,
    /// Per Telegram group (none elsewhere).
    pub per_group: Option<Rate>,
    /// Over the whole platform.
    pub global: Rate,
}

impl Rates {
    /// Slack: about 1 message a second per channel (`chat.postMessage` special tier).
    pub const SLACK: Rates = Rates {
        per_destination: Rate::per_second(1),
        burst: 1,
        per_group: None,
        global: Rate::per_second(20),
    };
    /// Discord: 50 requests a second per bot; per-route buckets come from the headers.
    pub const DISCORD: Rates = Rates {
        per_destination: Rate::per_second(1),
        burst: 1,
        per_group: None,
        global: Rate::per_second(50),
    };
    /// Telegram: 1 a second per chat, 20 a minute per group, 30 a second overall.
    pub const TELEGRAM: Rates = Rates {
        per_destination: Rate::per_second(1),
        burst: 1,
        per_group: Some(Rate::per_minute(20)),
        global: Rate::per_second(30),
    };
    /// Generic webhooks: a polite default for bridges that document no limit.
    pub const WEBHOOK: Rates = Rates {
        per_destination: Rate::per_second(10),
        burst: 10,
        per_group: None,
        global: Rate::per_second(100),
    };
}

/// Validated `[slack]`.
#[derive(Debug, Clone, Default)]
pub struct SlackConfig {
    /// Bot token.
    pub bot_token: Option<Secret>,
    /// Incoming webhook URL (notify-only).
    pub incoming_webhook_url: Option<Secret>,
    /// Web API base URL.
    pub api_base_url: String,
    /// Verifies `POST /interactions/slack`.
    pub signing_secret: Option<Secret>,
    /// Socket Mode's app-level token.
    pub app_token: Option<Secret>,
}

/// Validated `[discord]`.
#[derive(Debug, Clone, Default)]
pub struct DiscordConfig {
    /// Bot token.
    pub bot_token: Option<Secret>,
    /// API host.
    pub api_base_url: String,
    /// Verifies `POST /interactions/discord`.
    pub public_key: Option<Secret>,
    /// Presses over the gateway.
    pub gateway: bool,
}

/// Validated `[telegram]`.
#[derive(Debug, Clone, Default)]
pub struct TelegramConfig {
    /// Bot token.
    pub bot_token: Option<Secret>,
    /// Bot API server.
    pub api_base_url: String,
    /// Webhook mode's secret token; long polling without it.
    pub webhook_secret_token: Option<Secret>,
    /// Subscription topics by name.
    pub topics: std::collections::BTreeMap<String, TopicFile>,
}

/// Validated `[delivery]`.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Waits between tries.
    pub retry_schedule: Vec<Duration>,
    /// When a failing message becomes a dead letter.
    pub give_up_after: Duration,
    /// Queue ownership lease.
    pub lease: Duration,
    /// Folding horizon.
    pub fold_after: Duration,
    /// Items listed in a digest.
    pub digest_top_items: usize,
    /// Slack budgets.
    pub slack: Rates,
    /// Discord budgets.
    pub discord: Rates,
    /// Telegram budgets.
    pub telegram: Rates,
    /// Webhook budgets.
    pub webhook: Rates,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        let file = DeliveryFile::default();
        Self {
            retry_schedule: DEFAULT_RETRY_SCHEDULE.to_vec(),
            give_up_after: file.give_up_after,
            lease: file.lease,
            fold_after: file.fold_after,
            digest_top_items: file.digest_top_items,
            slack: Rates::SLACK,
            discord: Rates::DISCORD,
            telegram: Rates::TELEGRAM,
            webhook: Rates::WEBHOOK,
        }
    }
}

/// Checks a base URL: `http://` or `https://`, no trailing slash kept.
pub(super) fn base_url(
    given: Option<&str>,
    default: &str,
    path: KeyPath,
    errors: &mut Errors<'_>,
) -> String {
    let Some(url) = given else {
        return default.to_owned();
    };
    let url = url.trim().trim_end_matches('/');
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || reqwest::Url::parse(url).is_err()
    {
        errors.push(path, format!("{url:?} is not an http:// or https:// URL"));
        return default.to_owned();
    }
    url.to_owned()
}

impl SlackFile {
    pub(super) fn validate(&self, env: &Environment, errors: &mut Errors<'_>) -> SlackConfig {
        let path = KeyPath::root().key("slack");
        let bot_token = resolve_one_secret(
            self.bot_token.as_ref(),
            self.bot_token_env.as_deref(),
            self.bot_token_file.as_deref(),
            &path,
            "bot_token",
            env,
            errors,
        );
        let incoming_webhook_url = resolve_one_secret(
            self.incoming_webhook_url.as_ref(),
            self.incoming_webhook_url_env.as_deref(),
            self.incoming_webhook_url_file.as_deref(),
            &path,
            "incoming_webhook_url",
            env,
            errors,
        );
        if let Some(url) = &incoming_webhook_url
            && reqwest::Url::parse(url.expose()).is_err()
        {
            errors.push(
                path.key("incoming_webhook_url"),
                "is not a URL (Slack shows it as https://hooks.slack.com/services/…)",
            );
        }
        let signing_secret = resolve_one_secret(
            self.signing_secret.as_ref(),
            self.signing_secret_env.as_deref(),
            self.signing_secret_file.as_deref(),
            &path,
            "signing_secret",
            env,
            errors,
        );
        let app_token = resolve_one_secret(
            self.app_token.as_ref(),
            self.app_token_env.as_deref(),
            self.app_token_file.as_deref(),
            &path,
            "app_token",
            env,
            errors,
        );
        if app_token
            .as_ref()
            .is_some_and(|t| !t.expose().starts_with("xapp-"))
        {
            errors.push(
                path.key("app_token"),
                "is not an app-level token (those start with \"xapp-\"); the value is not shown",
            );
        }
        SlackConfig {
            bot_token,
            incoming_webhook_url,
            signing_secret,
            app_token,
            api_base_url: base_url(
                self.api_base_url.as_deref(),
                SLACK_API_URL,
                path.key("api_base_url"),
                errors,
            ),
        }
    }
}

impl DiscordFile {
    pub(super) fn validate(&self, env: &Environment, errors: &mut Errors<'_>) -> DiscordConfig {
        let path = KeyPath::root().key("discord");
        let public_key = resolve_one_secret(
            self.public_key.as_ref(),
            self.public_key_env.as_deref(),
            self.public_key_file.as_deref(),
            &path,
            "public_key",
            env,
            errors,
        );
        if let Some(key) = &public_key
            && crate::interact::discord::verifier(key.expose()).is_none()
        {
            errors.push(
                path.key("public_key"),
                "is not an Ed25519 public key in hex (64 hex digits, from the Developer Portal → General Information)",
            );
        }
        DiscordConfig {
            gateway: self.gateway,
            public_key,
            bot_token: resolve_one_secret(
                self.bot_token.as_ref(),
                self.bot_token_env.as_deref(),
                self.bot_token_file.as_deref(),
                &path,
                "bot_token",
                env,
                errors,
            ),
            api_base_url: base_url(
                self.api_base_url.as_deref(),
                DISCORD_API_URL,
                path.key("api_base_url"),
                errors,
            ),
        }
    }
}

impl TelegramFile {
    pub(super) fn validate(&self, env: &Environment, errors: &mut Errors<'_>) -> TelegramConfig {
        let path = KeyPath::root().key("telegram");
        let bot_token = resolve_one_secret(
            self.bot_token.as_ref(),
            self.bot_token_env.as_deref(),
            self.bot_token_file.as_deref(),
            &path,
            "bot_token",
            env,
            errors,
        );
        if let Some(token) = &bot_token
            && !token.expose().contains(':')
        {
            errors.push(
                path.key("bot_token"),
                "does not look like a Telegram bot token (\"123456:ABC…\" from @BotFather)",
            );
        }
        let webhook_secret_token = resolve_one_secret(
            self.webhook_secret_token.as_ref(),
            self.webhook_secret_token_env.as_deref(),
            self.webhook_secret_token_file.as_deref(),
            &path,
            "webhook_secret_token",
            env,
            errors,
        );
        if let Some(secret) = &webhook_secret_token {
            let text = secret.expose();
            if text.is_empty()
                || text.len() > 256
                || !text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                errors.push(
                    path.key("webhook_secret_token"),
                    "must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule); the value is not shown",
                );
            }
        }
        for name in self.topics.keys() {
            if name.is_empty()
                || name.len() > 32
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            {
                errors.push(
                    path.key("topics").key(name.clone()),
                    "a topic name is 1-32 characters of a-z, 0-9, _ and - (people type it after /subscribe)",
                );
            }
        }
        TelegramConfig {
            topics: self.topics.clone(),
            webhook_secret_token,
            bot_token,
            api_base_url: base_url(
                self.api_base_url.as_deref(),
                TELEGRAM_API_URL,
                path.key("api_base_url"),
                errors,
            ),
        }
    }
}

impl DeliveryFile {
    pub(super) fn validate(&self, errors: &mut Errors<'_>) -> DeliveryConfig {
        let path = KeyPath::root().key("delivery");
        if self.retry_schedule.is_empty() {
            errors.push(
                path.key("retry_schedule"),
                "needs at least one wait, e.g. [\"1s\", \"30s\", \"5m\"]",
            );
        }
        let retry_schedule: Vec<Duration> = self.retry_schedule.iter().map(|d| **d).collect();
        if let Some(index) = retry_schedule.iter().position(Duration::is_zero) {
            errors.push(
                path.key("retry_schedule").index(index),
                "must be greater than 0",
            );
        }
        for (key, value) in [
            ("give_up_after", self.give_up_after),
            ("fold_after", self.fold_after),
        ] {
            if value.is_zero() {
                errors.push(path.key(key), "must be greater than 0");
            }
        }
        if self.lease < Duration::from_secs(1) {
            errors.push(
                path.key("lease"),
                "must be at least 1s: it is renewed every third of itself",
            );
        }
        let rates = |file: &RatesFile, name: &str, default: Rates, errors: &mut Errors<'_>| {
            let table = path.key(name);
            let mut parse = |key: &str, text: Option<&String>, default: Rate| match text {
                None => default,
                Some(text) => Rate::parse(text).unwrap_or_else(|| {
                    errors.push(
                        table.key(key),
                        format!("{text:?} is not a rate like \"1/s\", \"20/m\" or \"5/5s\""),
                    );
                    default
                }),
            };
            let per_destination = parse(
                "per_destination",
                file.per_destination.as_ref(),
                default.per_destination,
            );
            let global = parse("global", file.global.as_ref(), default.global);
            let per_group = match (&file.per_group, default.per_group) {
                (Some(text), fallback) => {
                    Some(parse("per_group", Some(text), fallback.unwrap_or(global)))
                }
                (None, fallback) => fallback,
            };
            let burst = file.burst.unwrap_or(default.burst);
            if burst == 0 {
                errors.push(table.key("burst"), "must be at least 1");
            }
            Rates {
                per_destination,
                burst: burst.max(1),
                per_group,
                global,
            }
        };
        DeliveryConfig {
            retry_schedule,
            give_up_after: self.give_up_after,
            lease: self.lease,
            fold_after: self.fold_after,
            digest_top_items: self.digest_top_items,
            slack: rates(&self.slack, "slack", Rates::SLACK, errors),
            discord: rates(&self.discord, "discord", Rates::DISCORD, errors),
            telegram: rates(&self.telegram, "telegram", Rates::TELEGRAM, errors),
            webhook: rates(&self.webhook, "webhook", Rates::WEBHOOK, errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_the_documented_forms() {
        assert_eq!(Rate::parse("1/s"), Some(Rate::per_second(1)));
        assert_eq!(Rate::parse("20/m"), Some(Rate::per_minute(20)));
        assert_eq!(
            Rate::parse("5/5s"),
            Some(Rate {
                count: 5,
                per: Duration::from_secs(5)
            })
        );
        assert!((Rate::parse("20/m").unwrap().per_sec() - 1.0 / 3.0).abs() < 1e-9);
        for bad in ["", "1", "0/s", "x/s", "1/", "1/0s", "-1/s"] {
            assert_eq!(Rate::parse(bad), None, "{bad:?}");
        }
    }
}
