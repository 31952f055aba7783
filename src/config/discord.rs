//! `[discord]`: the bot token that posts cards, the public key that
//! verifies `POST /interactions/discord`, the gateway switch; and the
//! receiver target `discord = { channel_id = "…" }`.

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

/// Validated `[discord]`.
#[derive(Debug, Clone, Default, PartialEq)]
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

/// A Discord channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]

pub struct DiscordTarget {
    /// Channel id (a snowflake, digits).
    pub channel_id: String,
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
            && !is_public_key(key.expose())
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

/// Whether `hex` is an Ed25519 public key as the Developer Portal shows it
/// (what serenity's interactions `Verifier` accepts).
pub fn is_public_key(hex: &str) -> bool {
    hex::decode(hex.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .is_some_and(|bytes| serenity::interactions_endpoint::Verifier::try_new(bytes).is_ok())
}
