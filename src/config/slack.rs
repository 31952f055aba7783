//! `[slack]`: the bot token or incoming webhook that posts cards, the
//! signing secret that verifies clicks, Socket Mode's app token; and the
//! receiver target `slack = { channel = "…" }`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::sources::{Environment, base_url, resolve_one_secret};
use super::{Errors, KeyPath};
use crate::secret::Secret;

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

/// Validated `[slack]`.
#[derive(Debug, Clone, Default, PartialEq)]
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

/// A Slack channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]

pub struct SlackTarget {
    /// Channel id (`C0123…`) or name (`#finance`).
    pub channel: String,
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
